-- Bulk migration (全量迁移, issue 9): one row per run of a system's migration job and one per
-- committed chunk. A chunk's cases, its rejects and its row here are committed in one transaction,
-- so the run's watermark never passes a case that is not stored. Keep in step with
-- migrations/postgres/0014_migration.sql.
CREATE TABLE migration_runs (
    id              TEXT PRIMARY KEY,
    system_id       TEXT NOT NULL REFERENCES systems (id),
    -- The job file the run was started with (resume reads it again).
    job_path        TEXT NOT NULL,
    mapping_version TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('running', 'stopped', 'failed', 'complete', 'incomplete')),
    -- Why the run is stopped or failed, or what reconciliation found.
    message         TEXT,
    -- The adapter's checkpoint after the last committed chunk; NULL: from the first record.
    watermark       TEXT,
    rows_read       INTEGER NOT NULL DEFAULT 0,
    rows_written    INTEGER NOT NULL DEFAULT 0,
    rows_rejected   INTEGER NOT NULL DEFAULT 0,
    chunks          INTEGER NOT NULL DEFAULT 0,
    -- Rows the source reported when the run started, for progress; NULL when unknown.
    source_rows     INTEGER,
    differences     INTEGER,
    report          TEXT,
    report_json_path TEXT,
    report_md_path  TEXT,
    started_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    finished_at     TEXT
);
CREATE INDEX migration_runs_system ON migration_runs (system_id, started_at);

CREATE TABLE migration_chunks (
    run_id          TEXT NOT NULL REFERENCES migration_runs (id),
    seq             INTEGER NOT NULL,
    -- Where the chunk's reading started (the previous chunk's end) and ended.
    from_watermark  TEXT,
    to_watermark    TEXT,
    rows_read       INTEGER NOT NULL,
    rows_written    INTEGER NOT NULL,
    rows_rejected   INTEGER NOT NULL,
    -- SHA-256 over the chunk's mapped cases (case number, version, content hash) in source order.
    source_hash     TEXT NOT NULL,
    -- The same over the store's versions of those cases, filled by reconciliation.
    target_hash     TEXT,
    committed_at    TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

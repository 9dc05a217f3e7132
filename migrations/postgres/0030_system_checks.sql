-- System checks (系统检查, Art. 15; issue 21). Keep in step with migrations/sqlite/0030_system_checks.sql.

-- One row per check of a departmental system through its adapter: reachable or not and how
-- fast, and the schema drift a fresh probe shows against the stored profile (JSON, each change
-- with the mapping rules it breaks). `unannounced`: drift with no interface-change notice
-- (Art. 30) effective since the stored profile was taken. An accepted drift names who accepted
-- it and why; the fresh profile then replaced the stored one. New table: nothing to carry forward.
CREATE TABLE system_checks (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id     TEXT NOT NULL,
    checked_at    TIMESTAMPTZ NOT NULL,
    reachable     BOOLEAN NOT NULL,
    latency_ms    BIGINT,
    error         TEXT,
    drifts        JSONB NOT NULL,
    breaking      BOOLEAN NOT NULL,
    unannounced   BOOLEAN NOT NULL,
    accepted_by   TEXT,
    accept_reason TEXT,
    checked_by    TEXT NOT NULL
);
CREATE INDEX system_checks_system ON system_checks (system_id, id);

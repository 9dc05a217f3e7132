-- The organisations registry (部门库, issue 16). Keep in step with migrations/sqlite/0028_organisations.sql.

-- One row per agency, keyed by its unified social credit code. `aliases` and `codes` are JSON
-- arrays of the other names and departmental codes legacy systems write for it. Nothing to
-- carry forward: the registry starts empty and is filled by `ronghe orgs import`.
CREATE TABLE organisations (
    credit_code TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    division    TEXT NOT NULL,
    parent      TEXT,
    aliases     JSONB NOT NULL DEFAULT '[]',
    codes       JSONB NOT NULL DEFAULT '[]',
    synthetic   BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at  TIMESTAMPTZ NOT NULL,
    updated_by  TEXT NOT NULL
);
CREATE INDEX organisations_division ON organisations (division);

-- The registry's revision: every import adds one, in its transaction. Nodes that cache the
-- registry for mappings' lookups compare it, one row, before each use.
CREATE TABLE organisations_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO organisations_revision (id, revision) VALUES (1, 0);

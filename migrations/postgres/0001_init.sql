-- Platform store, PostgreSQL dialect. Keep in step with migrations/sqlite/0001_init.sql.
CREATE TABLE systems (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    department      TEXT NOT NULL,
    region_code     TEXT NOT NULL,
    protocol        TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    credentials_ref TEXT,
    secret          BOOLEAN NOT NULL,
    status          TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE cases (
    system_id    TEXT NOT NULL REFERENCES systems (id),
    case_no      TEXT NOT NULL,
    version      BIGINT NOT NULL,
    content_hash TEXT NOT NULL,
    stage        TEXT NOT NULL,
    item_name    TEXT NOT NULL,
    region_code  TEXT NOT NULL,
    applied_at   TIMESTAMPTZ NOT NULL,
    body         JSONB NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (system_id, case_no)
);

CREATE TABLE case_versions (
    system_id    TEXT NOT NULL REFERENCES systems (id),
    case_no      TEXT NOT NULL,
    version      BIGINT NOT NULL,
    content_hash TEXT NOT NULL,
    stage        TEXT NOT NULL,
    body         JSONB NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (system_id, case_no, version)
);

CREATE TABLE audit_events (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     TIMESTAMPTZ NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail JSONB NOT NULL
);
CREATE INDEX audit_events_target ON audit_events (target, id);

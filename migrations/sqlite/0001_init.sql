-- Platform store, SQLite dialect. Keep in step with migrations/postgres/0001_init.sql.
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
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE cases (
    system_id    TEXT NOT NULL REFERENCES systems (id),
    case_no      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    stage        TEXT NOT NULL,
    item_name    TEXT NOT NULL,
    region_code  TEXT NOT NULL,
    applied_at   TEXT NOT NULL,
    body         TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (system_id, case_no)
);

CREATE TABLE case_versions (
    system_id    TEXT NOT NULL,
    case_no      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    stage        TEXT NOT NULL,
    body         TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (system_id, case_no, version),
    FOREIGN KEY (system_id) REFERENCES systems (id)
);

CREATE TABLE audit_events (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_events_target ON audit_events (target, id);

-- Corrections (Art. 28 校核纠错) and the front-end migration hand-off (Art. 22).
-- Keep in step with migrations/postgres/0008_corrections.sql.

-- A correction request to the providing department, from a data-quality item or a disputed
-- stored case; answered within 10 working days of the day it is raised (that day not counted).
CREATE TABLE corrections (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    system_id       TEXT NOT NULL REFERENCES systems (id),
    quality_item_id INTEGER REFERENCES quality_items (id),
    case_no         TEXT,
    department      TEXT NOT NULL,
    reason          TEXT NOT NULL,
    raised_by       TEXT NOT NULL,
    raised_at       TEXT NOT NULL,
    due_on          TEXT NOT NULL,
    status          TEXT NOT NULL,
    answer          TEXT,
    answered_at     TEXT,
    answered_by     TEXT,
    closed_at       TEXT,
    closed_by       TEXT,
    CHECK (quality_item_id IS NOT NULL OR case_no IS NOT NULL)
);
CREATE INDEX corrections_status ON corrections (status, due_on);
CREATE INDEX corrections_system ON corrections (system_id, id);

-- Applications accepted on the platform, handed to the department's system through its adapter.
-- Queued until delivered; never refused because the system is down. One per (system, case).
CREATE TABLE handoffs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    system_id       TEXT NOT NULL REFERENCES systems (id),
    case_no         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    receipt         TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    UNIQUE (system_id, case_no)
);
CREATE INDEX handoffs_due ON handoffs (state, next_attempt_at);

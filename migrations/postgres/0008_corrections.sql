-- Corrections (Art. 28 校核纠错) and the front-end migration hand-off (Art. 22).
-- Keep in step with migrations/sqlite/0008_corrections.sql.

-- A correction request to the providing department, from a data-quality item or a disputed
-- stored case; answered within 10 working days of the day it is raised (that day not counted).
CREATE TABLE corrections (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id       TEXT NOT NULL REFERENCES systems (id),
    quality_item_id BIGINT REFERENCES quality_items (id),
    case_no         TEXT,
    department      TEXT NOT NULL,
    reason          TEXT NOT NULL,
    raised_by       TEXT NOT NULL,
    raised_at       TIMESTAMPTZ NOT NULL,
    due_on          DATE NOT NULL,
    status          TEXT NOT NULL,
    answer          TEXT,
    answered_at     TIMESTAMPTZ,
    answered_by     TEXT,
    closed_at       TIMESTAMPTZ,
    closed_by       TEXT,
    CHECK (quality_item_id IS NOT NULL OR case_no IS NOT NULL)
);
CREATE INDEX corrections_status ON corrections (status, due_on);
CREATE INDEX corrections_system ON corrections (system_id, id);

-- Applications accepted on the platform, handed to the department's system through its adapter.
-- Queued until delivered; never refused because the system is down. One per (system, case).
CREATE TABLE handoffs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id       TEXT NOT NULL REFERENCES systems (id),
    case_no         TEXT NOT NULL,
    payload         JSONB NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    receipt         JSONB,
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    UNIQUE (system_id, case_no)
);
CREATE INDEX handoffs_due ON handoffs (state, next_attempt_at);

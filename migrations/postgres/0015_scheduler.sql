-- The scheduler inside `ronghe serve` (issue 7): job runs claimed once per tick across nodes,
-- notifications with their webhook delivery, and the stored per-day reconciliations.
-- Keep in step with migrations/sqlite/0015_scheduler.sql.

-- One row per (job, tick): the node whose insert wins runs the tick. A run without finished_at
-- is in progress, or its node died while running it.
CREATE TABLE job_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job         TEXT NOT NULL,
    tick        TIMESTAMPTZ NOT NULL,
    node        TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    -- ok | failed
    outcome     TEXT,
    detail      TEXT,
    UNIQUE (job, tick)
);
CREATE INDEX job_runs_job ON job_runs (job, id);

-- Reminders and escalations (Art. 33). `dedup_key` makes a tick idempotent: one reminder per
-- item per day, one escalation per item.
CREATE TABLE notifications (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedup_key       TEXT NOT NULL UNIQUE,
    subject_kind    TEXT NOT NULL,
    subject_id      TEXT NOT NULL,
    topic           TEXT NOT NULL,
    -- reminder | escalation
    level           TEXT NOT NULL,
    message         TEXT NOT NULL,
    -- Overdue reminders of this subject so far, this one included.
    reminder_count  BIGINT NOT NULL,
    day             DATE NOT NULL,
    job_run_id      BIGINT REFERENCES job_runs (id),
    created_at      TIMESTAMPTZ NOT NULL,
    -- queued | delivered
    delivery_state  TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    delivered_at    TIMESTAMPTZ
);
CREATE INDEX notifications_subject ON notifications (subject_kind, subject_id, topic);
CREATE INDEX notifications_queue ON notifications (delivery_state, next_attempt_at);

-- The reconciliation of a system's day (Art. 15) as the daily job saved it (latest run).
CREATE TABLE reconciliations (
    system_id  TEXT NOT NULL REFERENCES systems (id),
    day        DATE NOT NULL,
    clean      BOOLEAN NOT NULL,
    report     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (system_id, day)
);

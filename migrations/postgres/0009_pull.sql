-- Pull mode: systems that cannot push have their cases read through their adapter on the schedule
-- of their write-back config. Keep in step with migrations/sqlite/0009_pull.sql.
CREATE TABLE pull_state (
    system_id    TEXT PRIMARY KEY REFERENCES systems (id),
    -- The adapter's checkpoint after the last committed batch; NULL: from the first record.
    checkpoint   TEXT,
    next_run_at  TIMESTAMPTZ NOT NULL,
    -- The node running the pull now, until when (a crashed node's lease expires).
    lease_owner  TEXT,
    lease_until  TIMESTAMPTZ,
    last_run_at  TIMESTAMPTZ,
    last_error   TEXT,
    records_read BIGINT NOT NULL DEFAULT 0
);

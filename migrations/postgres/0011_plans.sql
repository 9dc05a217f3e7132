-- Migration plans (one per system), their recorded progress and baselines. Keep in step with
-- migrations/sqlite/0011_plans.sql.
CREATE TABLE plans (
    system_id   TEXT PRIMARY KEY REFERENCES systems (id),
    source      TEXT NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL,
    imported_by TEXT NOT NULL
);

-- Progress survives re-imports of the file; a milestone no longer in the plan is ignored.
CREATE TABLE plan_progress (
    system_id    TEXT NOT NULL REFERENCES plans (system_id),
    milestone_id TEXT NOT NULL,
    started_on   DATE,
    finished_on  DATE,
    note         TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    updated_by   TEXT NOT NULL,
    PRIMARY KEY (system_id, milestone_id)
);

-- Each baseline: the due dates then forecast, with who approved it and why (re-baselines).
CREATE TABLE plan_baselines (
    system_id   TEXT NOT NULL REFERENCES plans (system_id),
    version     BIGINT NOT NULL,
    dues        JSONB NOT NULL,
    approved_by TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (system_id, version)
);

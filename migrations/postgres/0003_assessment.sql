-- Expert-panel assessment (Art. 25), PostgreSQL dialect. Keep in step with
-- migrations/sqlite/0003_assessment.sql.

-- Rubrics by id and version; a version used by an assessment never changes.
CREATE TABLE rubrics (
    id            TEXT NOT NULL,
    version       BIGINT NOT NULL,
    content_hash  TEXT NOT NULL,
    title         TEXT NOT NULL,
    source        TEXT NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL,
    registered_by TEXT NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE assessments (
    id             TEXT PRIMARY KEY,
    system_id      TEXT NOT NULL REFERENCES systems (id),
    seq            BIGINT NOT NULL,
    rubric_id      TEXT NOT NULL,
    rubric_version BIGINT NOT NULL,
    chair          TEXT NOT NULL,
    state          TEXT NOT NULL,
    round          BIGINT NOT NULL,
    opened_at      TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (system_id, seq),
    FOREIGN KEY (rubric_id, rubric_version) REFERENCES rubrics (id, version)
);
-- At most one assessment in progress per system.
CREATE UNIQUE INDEX assessments_in_progress ON assessments (system_id) WHERE state <> 'decided';

CREATE TABLE assessment_experts (
    assessment_id TEXT NOT NULL REFERENCES assessments (id),
    expert_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    department    TEXT NOT NULL,
    conflicts     JSONB,          -- JSON list; NULL until the expert declares
    declared_at   TIMESTAMPTZ,
    recusal       TEXT,           -- why the expert stands aside; NULL when not recused
    added_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (assessment_id, expert_id)
);

CREATE TABLE assessment_rounds (
    assessment_id TEXT NOT NULL REFERENCES assessments (id),
    round         BIGINT NOT NULL,
    criteria      JSONB NOT NULL, -- JSON list of the criteria scored in this round
    opened_at     TIMESTAMPTZ NOT NULL,
    closed_at     TIMESTAMPTZ,
    closed_by     TEXT,
    PRIMARY KEY (assessment_id, round)
);

-- Sealed while their round is open: read only through the panel, never returned by a read.
CREATE TABLE assessment_scores (
    assessment_id TEXT NOT NULL,
    round         BIGINT NOT NULL,
    expert_id     TEXT NOT NULL,
    criterion     TEXT NOT NULL,
    score         BIGINT,         -- 1..5; NULL when the expert abstained
    reason        TEXT,
    submitted_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (assessment_id, round, expert_id, criterion),
    FOREIGN KEY (assessment_id, round) REFERENCES assessment_rounds (assessment_id, round),
    FOREIGN KEY (assessment_id, expert_id) REFERENCES assessment_experts (assessment_id, expert_id)
);

CREATE TABLE assessment_verdicts (
    assessment_id TEXT PRIMARY KEY REFERENCES assessments (id),
    mode          TEXT NOT NULL,
    confidence    TEXT,
    report        JSONB NOT NULL, -- JSON: ronghe_assessment::report::Report
    decided_at    TIMESTAMPTZ NOT NULL,
    decided_by    TEXT NOT NULL
);

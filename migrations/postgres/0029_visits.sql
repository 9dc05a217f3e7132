-- Return visits (办件回访, Art. 15, issue 21). Keep in step with migrations/sqlite/0029_visits.sql.

-- One row per finished case a month's seeded sample drew (stratified by system and item), and,
-- once the applicant has been called, the outcome. A finding opens a correction request
-- (Art. 28), linked here. No personal value is copied: the applicant is read from the case.
CREATE TABLE visits (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    month               TEXT NOT NULL,
    system_id           TEXT NOT NULL REFERENCES systems (id),
    case_no             TEXT NOT NULL,
    implementation_code TEXT NOT NULL,
    item_name           TEXT NOT NULL,
    seed                TEXT NOT NULL,
    planned_by          TEXT NOT NULL,
    planned_at          TIMESTAMPTZ NOT NULL,
    reached             BOOLEAN,
    attempts            BIGINT,
    handled_as_recorded BOOLEAN,
    satisfaction        TEXT,
    note                TEXT,
    finding             TEXT,
    recorded_by         TEXT,
    recorded_at         TIMESTAMPTZ,
    correction_id       BIGINT REFERENCES corrections (id),
    UNIQUE (month, system_id, case_no)
);
CREATE INDEX visits_system ON visits (system_id, month);

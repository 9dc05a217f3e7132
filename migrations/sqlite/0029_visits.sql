-- Return visits (办件回访, Art. 15, issue 21). Keep in step with migrations/postgres/0029_visits.sql.

-- One row per finished case a month's seeded sample drew (stratified by system and item), and,
-- once the applicant has been called, the outcome. A finding opens a correction request
-- (Art. 28), linked here. No personal value is copied: the applicant is read from the case.
CREATE TABLE visits (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    month               TEXT NOT NULL,
    system_id           TEXT NOT NULL REFERENCES systems (id),
    case_no             TEXT NOT NULL,
    implementation_code TEXT NOT NULL,
    item_name           TEXT NOT NULL,
    seed                TEXT NOT NULL,
    planned_by          TEXT NOT NULL,
    planned_at          TEXT NOT NULL,
    reached             BOOLEAN,
    attempts            INTEGER,
    handled_as_recorded BOOLEAN,
    satisfaction        TEXT,
    note                TEXT,
    finding             TEXT,
    recorded_by         TEXT,
    recorded_at         TEXT,
    correction_id       INTEGER REFERENCES corrections (id),
    UNIQUE (month, system_id, case_no)
);
CREATE INDEX visits_system ON visits (system_id, month);

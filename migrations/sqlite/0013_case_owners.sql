-- Which platform user a written-back case belongs to: its applicant's departmental account,
-- resolved through the bridge's links (Art. 25(三)). Keep in step with the other dialect.
CREATE TABLE case_owners (
    system_id   TEXT NOT NULL,
    case_no     TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES bridge_identities (user_id),
    link_id     TEXT NOT NULL,
    resolved_at TEXT NOT NULL,
    PRIMARY KEY (system_id, case_no),
    FOREIGN KEY (system_id, case_no) REFERENCES cases (system_id, case_no)
);
CREATE INDEX case_owners_user ON case_owners (user_id);

-- Published data-collection items and validation rules (Art. 29). Keep in step with postgres.
CREATE TABLE published_rules (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    item_code    TEXT NOT NULL,
    field        TEXT NOT NULL,
    check_spec   TEXT NOT NULL,
    description  TEXT NOT NULL,
    published_on TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX published_rules_item ON published_rules (item_code);

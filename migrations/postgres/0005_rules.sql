-- Published data-collection items and validation rules (Art. 29). Keep in step with sqlite.
CREATE TABLE published_rules (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_code    TEXT NOT NULL,
    field        TEXT NOT NULL,
    check_spec   JSONB NOT NULL,
    description  TEXT NOT NULL,
    published_on DATE NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX published_rules_item ON published_rules (item_code);

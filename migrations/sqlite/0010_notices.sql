-- Change notices (Art. 16, 29, 30): listed publicly. Keep in step with migrations/postgres/0010_notices.sql.
CREATE TABLE notices (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    system_id           TEXT NOT NULL REFERENCES systems (id),
    kind                TEXT NOT NULL,
    title               TEXT NOT NULL,
    body                TEXT NOT NULL,
    published_on        TEXT NOT NULL,
    effective_on        TEXT NOT NULL,
    earliest_allowed_on TEXT NOT NULL,
    emergency_reason    TEXT,
    announced_by        TEXT NOT NULL,
    created_at          TEXT NOT NULL
);
CREATE INDEX notices_effective ON notices (effective_on, id);
CREATE INDEX notices_system ON notices (system_id, id);

-- Change notices (Art. 16, 29, 30): listed publicly. Keep in step with migrations/sqlite/0010_notices.sql.
CREATE TABLE notices (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id           TEXT NOT NULL REFERENCES systems (id),
    kind                TEXT NOT NULL,
    title               TEXT NOT NULL,
    body                TEXT NOT NULL,
    published_on        DATE NOT NULL,
    effective_on        DATE NOT NULL,
    earliest_allowed_on DATE NOT NULL,
    emergency_reason    TEXT,
    announced_by        TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX notices_effective ON notices (effective_on, id);
CREATE INDEX notices_system ON notices (system_id, id);

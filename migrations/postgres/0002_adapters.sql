-- Adapter configs and probe profiles per system. Keep in step with migrations/sqlite/0002_adapters.sql.
CREATE TABLE adapter_configs (
    system_id  TEXT PRIMARY KEY REFERENCES systems (id),
    config     TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE probe_profiles (
    system_id TEXT PRIMARY KEY REFERENCES systems (id),
    profile   JSONB NOT NULL,
    probed_at TIMESTAMPTZ NOT NULL
);

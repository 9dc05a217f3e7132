-- Adapter configs and probe profiles per system. Keep in step with migrations/postgres/0002_adapters.sql.
CREATE TABLE adapter_configs (
    system_id  TEXT PRIMARY KEY REFERENCES systems (id),
    config     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE probe_profiles (
    system_id TEXT PRIMARY KEY REFERENCES systems (id),
    profile   TEXT NOT NULL,
    probed_at TEXT NOT NULL
);

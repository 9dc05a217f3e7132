-- Case write-back (办件回传) intake. Keep in step with migrations/postgres/0006_writeback.sql.

-- Each system's write-back settings (keys by reference, batch size, SOAP record element, pull
-- schedule), kept verbatim as attached.
CREATE TABLE writeback_configs (
    system_id  TEXT PRIMARY KEY REFERENCES systems (id),
    config     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Nonces seen inside the timestamp window: a signed request is taken once, on every node.
CREATE TABLE writeback_nonces (
    system_id TEXT NOT NULL REFERENCES systems (id),
    nonce     TEXT NOT NULL,
    seen_at   TEXT NOT NULL,
    PRIMARY KEY (system_id, nonce)
);
CREATE INDEX writeback_nonces_seen ON writeback_nonces (seen_at);

-- The data-quality queue: every record refused at intake (mapping, validation, published rules or
-- the store), with its reasons, never dropped. A record is queued once per (system, content).
CREATE TABLE quality_items (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    system_id   TEXT NOT NULL REFERENCES systems (id),
    case_no     TEXT,
    version     INTEGER,
    channel     TEXT NOT NULL,
    record_hash TEXT NOT NULL,
    record      TEXT NOT NULL,
    reasons     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    -- The version (content hash) of the mapping that judged the record.
    mapping_version TEXT,
    -- open, then dismissed or resolved.
    status      TEXT NOT NULL,
    resolved_at TEXT,
    -- Why it was dismissed or how it was resolved.
    note        TEXT,
    UNIQUE (system_id, record_hash)
);
CREATE INDEX quality_items_status ON quality_items (status, system_id, id);

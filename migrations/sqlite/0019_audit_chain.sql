-- The audit log becomes a hash chain (Art. 21, 32: account logs kept at least one year, no
-- tampering): each event has its position `seq`, the hash of its predecessor and its own hash
-- (hex SHA-256, store/audit.rs), plus the request context it was written in. Rows of an older
-- store are chained on open (NULL hash, in id order). `audit_anchor` holds the seq and hash of
-- the last pruned event, so a pruned chain still verifies. 0018 is left to the accounts
-- migration. Keep in step with migrations/postgres/0019_audit_chain.sql.
ALTER TABLE audit_events ADD COLUMN seq INTEGER;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
ALTER TABLE audit_events ADD COLUMN role TEXT;
ALTER TABLE audit_events ADD COLUMN scope TEXT;
ALTER TABLE audit_events ADD COLUMN client_addr TEXT;
ALTER TABLE audit_events ADD COLUMN user_agent TEXT;
ALTER TABLE audit_events ADD COLUMN request_id TEXT;
CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq);
CREATE INDEX audit_events_at ON audit_events (at);

CREATE TABLE audit_anchor (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL,
    pruned_at TEXT NOT NULL
);

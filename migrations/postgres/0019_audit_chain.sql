-- The audit log becomes a hash chain (Art. 21, 32: account logs kept at least one year, no
-- tampering): each event has its position `seq`, the hash of its predecessor and its own hash
-- (hex SHA-256, store/audit.rs), plus the request context it was written in. Rows of an older
-- store are chained on open (NULL hash, in id order). `audit_anchor` holds the seq and hash of
-- the last pruned event, so a pruned chain still verifies. 0018 is left to the accounts
-- migration. Keep in step with migrations/sqlite/0019_audit_chain.sql.
ALTER TABLE audit_events
    ADD COLUMN seq BIGINT,
    ADD COLUMN prev_hash TEXT,
    ADD COLUMN hash TEXT,
    ADD COLUMN role TEXT,
    ADD COLUMN scope TEXT,
    ADD COLUMN client_addr TEXT,
    ADD COLUMN user_agent TEXT,
    ADD COLUMN request_id TEXT;
CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq);
CREATE INDEX audit_events_at ON audit_events (at);

CREATE TABLE audit_anchor (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    seq       BIGINT NOT NULL,
    hash      TEXT NOT NULL,
    pruned_at TIMESTAMPTZ NOT NULL
);

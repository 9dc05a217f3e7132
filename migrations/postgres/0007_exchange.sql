-- Delivery to the provincial data-sharing exchange (Art. 27): the transactional outbox.
-- Keep in step with migrations/sqlite/0007_exchange.sql.

-- One row per case version that became current, written in the case's own transaction. Stale
-- versions (older than the current one when they arrive) are kept in case_versions only: the
-- exchange already holds a newer fact. A worker claims due rows with a lease; only the head of a
-- case (no earlier row of it that is not delivered) is claimable, so versions go out in order and
-- a dead row holds back the later versions of its case until it is replayed.
CREATE TABLE exchange_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id       TEXT NOT NULL REFERENCES systems (id),
    case_no         TEXT NOT NULL,
    version         BIGINT NOT NULL,
    content_hash    TEXT NOT NULL,
    enqueued_at     TIMESTAMPTZ NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ,
    last_error      TEXT,
    delivered_at    TIMESTAMPTZ,
    UNIQUE (system_id, case_no, version)
);
-- The claim: due pending rows in id order.
CREATE INDEX exchange_outbox_due ON exchange_outbox (state, next_attempt_at, id);
-- The head check: earlier rows of the same case that are not delivered yet.
CREATE INDEX exchange_outbox_open ON exchange_outbox (system_id, case_no, version) WHERE state <> 'delivered';

-- Backfill: the current version of every case already stored.
INSERT INTO exchange_outbox (system_id, case_no, version, content_hash, enqueued_at, state, attempts, next_attempt_at)
SELECT system_id, case_no, version, content_hash, received_at, 'pending', 0, received_at
FROM cases ORDER BY received_at, system_id, case_no;

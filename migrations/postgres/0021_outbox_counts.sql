-- The exchange status without counting the outbox (issue 23). Delivered items are counted as
-- they are settled, in the settle's transaction, spread over a few slots so that nodes settling
-- at once on PostgreSQL rarely wait on one row; the status sums the slots.
CREATE TABLE exchange_outbox_counts (
    slot      BIGINT PRIMARY KEY,
    delivered BIGINT NOT NULL
);
INSERT INTO exchange_outbox_counts (slot, delivered)
SELECT 0, COUNT(*) FROM exchange_outbox WHERE state = 'delivered';
-- Open and dead items are counted through indexes holding only them, and the oldest pending one
-- is found without sorting the backlog.
CREATE INDEX exchange_outbox_pending_age ON exchange_outbox (enqueued_at) WHERE state = 'pending';
CREATE INDEX exchange_outbox_dead ON exchange_outbox (id) WHERE state = 'dead';

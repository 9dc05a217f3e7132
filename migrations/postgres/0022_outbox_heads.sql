-- Claims whose cost follows the batch, not the backlog, and retries until a horizon (issue 22). Keep in step with
-- migrations/sqlite/0022_outbox_heads.sql.
--
-- `head` marks the lowest undelivered version of each case: set when a version is enqueued for a
-- case with nothing open, moved to the next open version when the head is delivered (both in the
-- transaction that writes the row, under the case's lock), kept by a dead head so that it still
-- holds back its case. The claim reads only due pending heads, in due order, through the partial
-- index below: no search for earlier versions per candidate, whatever the statistics say.
ALTER TABLE exchange_outbox ADD COLUMN head BOOLEAN NOT NULL DEFAULT FALSE;

-- Carry the open outbox forward: the lowest open version of every case is its head.
UPDATE exchange_outbox SET head = TRUE
WHERE state <> 'delivered'
  AND NOT EXISTS (
      SELECT 1 FROM exchange_outbox e
      WHERE e.system_id = exchange_outbox.system_id AND e.case_no = exchange_outbox.case_no
        AND e.state <> 'delivered' AND e.version < exchange_outbox.version);

-- A claim now also moves `next_attempt_at` to the end of its lease, so "due" alone says whether
-- an item may be claimed; items leased when the store was upgraded keep their lease.
UPDATE exchange_outbox SET next_attempt_at = lease_until
WHERE state = 'pending' AND lease_until IS NOT NULL AND lease_until > next_attempt_at;

DROP INDEX exchange_outbox_due;
CREATE INDEX exchange_outbox_heads ON exchange_outbox (next_attempt_at, id) WHERE state = 'pending' AND head;

-- Since when an item has been failing (set at its first retriable failure, cleared when it is
-- delivered or replayed): retries end at the retry horizon counted from it, and the oldest one
-- says how long the exchange has been unreachable. Items already retrying start counting at their
-- next failure, so an upgrade never gives one up early.
ALTER TABLE exchange_outbox ADD COLUMN failing_since TIMESTAMPTZ;
CREATE INDEX exchange_outbox_failing ON exchange_outbox (failing_since) WHERE state = 'pending' AND failing_since IS NOT NULL;

-- The exchange outbox on the store's one job queue (issue 18). Keep in step with
-- migrations/sqlite/0031_outbox_lease.sql.
--
-- A claim has moved `next_attempt_at` to the end of its lease since 0022, so the due time alone
-- says how long a lease lasts and `lease_owner` says who holds it; `lease_until` repeated the
-- due time and nothing reads it. Every item keeps its state, attempts, due time and holder.
ALTER TABLE exchange_outbox DROP COLUMN lease_until;

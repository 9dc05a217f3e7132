-- One index fewer on every enqueue (issue 17). Keep in step with
-- migrations/postgres/0032_outbox_open_index.sql.
--
-- `exchange_outbox_open` indexed (system_id, case_no, version) of the items not delivered: the
-- same columns, in the same order, as the outbox's unique constraint, whose index already finds a
-- case's items by its key (a case has a few versions; the state is read from each row). Every
-- version enqueued wrote both; now it writes one. No row changes.
DROP INDEX exchange_outbox_open;

-- Housekeeping of what grows with traffic (issue 23). Keep in step with
-- migrations/postgres/0023_steady_state.sql.

-- Delivered outbox items are purged a retention after delivery (`[housekeeping]
-- delivered_outbox_retention_days`), oldest first: the purge reads only delivered rows, by
-- delivery time. Pending and dead items are never in this index, so never purged.
CREATE INDEX exchange_outbox_delivered ON exchange_outbox (delivered_at) WHERE state = 'delivered';

-- Finished scheduler runs are purged a retention after they finished (`job_runs_retention_days`),
-- oldest first.
CREATE INDEX job_runs_finished ON job_runs (finished_at);

-- A run that queued a notification is kept (the notification names it): the purge asks, per
-- run, whether one does. Without this index each question read the whole notifications table.
CREATE INDEX notifications_job_run ON notifications (job_run_id);

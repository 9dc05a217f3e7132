-- The process carrying a migration run (`host:pid:nonce`), NULL when none does: a chunk or the
-- run's end is written only by its holder, so two processes never carry one run. Keep in step
-- with migrations/sqlite/0016_migration_lease.sql.
ALTER TABLE migration_runs ADD COLUMN owner TEXT;

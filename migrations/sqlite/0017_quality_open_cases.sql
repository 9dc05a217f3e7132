-- Open quality items by case: a stored version of a case resolves the open items it supersedes
-- (store/cases.rs, resolve_superseded). Keep in step with migrations/postgres/0017_quality_open_cases.sql.
CREATE INDEX quality_items_open_case ON quality_items (system_id, case_no) WHERE status = 'open';

-- A day's cases read from the index alone (issue 17). Keep in step with
-- migrations/sqlite/0033_changed_on_covering.sql.
--
-- A day's reconciliation and spot check ask `cases_changed_on` for the system's cases of the day
-- (case number, version, content hash). With the index on (changed_on, system_id) alone, each of
-- those cases was then read from the table at its own row, a page apiece across a large store.
-- The index now carries those columns (`INCLUDE`: the key stays the day and the system), so the
-- day's cases come from a few contiguous index pages. The same rows; the index is built again.
DROP INDEX cases_changed_on;
CREATE INDEX cases_changed_on ON cases (changed_on, system_id) INCLUDE (case_no, version, content_hash);

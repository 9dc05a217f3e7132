-- The day a current case last changed (issue 17). Keep in step with migrations/postgres/0026_case_changed_on.sql.

-- A day's reconciliation (Art. 15) reads the platform's cases of that day through this column
-- and its index, not every case body of the system: the Beijing date of the current version's
-- `updated_at` (`reconciliation::beijing_day`), written with the current row. Carried forward
-- from each current version's body. The index leads with the day: led by the system, a planner
-- with stale statistics takes it for the writes' lookups of a system's cases by number.
ALTER TABLE cases ADD COLUMN changed_on TEXT;

UPDATE cases SET changed_on = (
    SELECT date(json_extract(v.body, '$.updated_at'), '+8 hours') FROM case_versions v
    WHERE v.system_id = cases.system_id AND v.case_no = cases.case_no AND v.version = cases.version
);

CREATE INDEX cases_changed_on ON cases (changed_on, system_id);

-- Each case body stored once (issue 17). Keep in step with migrations/sqlite/0025_case_body_once.sql.

-- A case's current row no longer holds its body: the body lives in the case's version row, and
-- reads of the current case join `case_versions` on (system, case, version). Every intake wrote
-- both in one transaction, so the version row exists; a current row without one (none is known)
-- is carried into the history first, so no body is lost.
INSERT INTO case_versions (system_id, case_no, version, content_hash, stage, body, received_at, mapping_version)
SELECT c.system_id, c.case_no, c.version, c.content_hash, c.stage, c.body, c.received_at, c.mapping_version
FROM cases c
WHERE NOT EXISTS (SELECT 1 FROM case_versions v
                  WHERE v.system_id = c.system_id AND v.case_no = c.case_no AND v.version = c.version);

ALTER TABLE cases DROP COLUMN body;

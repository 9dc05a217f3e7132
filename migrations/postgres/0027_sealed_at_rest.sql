-- Applicants' personal values sealed at rest (issue 20). Keep in step with migrations/sqlite/0027_sealed_at_rest.sql.

-- Which key sealed a row's personal values: a case version's and a hand-off's personal fields,
-- a refused record and a probe profile (its sample records) whole. NULL: written in clear
-- (before this migration, or by a node without keys). SQL cannot seal: `ronghe keys rotate`
-- brings every row under the active key, an existing store's clear rows included.
ALTER TABLE case_versions ADD COLUMN sealed_by TEXT;
ALTER TABLE quality_items ADD COLUMN sealed_by TEXT;
ALTER TABLE handoffs ADD COLUMN sealed_by TEXT;
ALTER TABLE probe_profiles ADD COLUMN sealed_by TEXT;

-- A case is found by its applicant's certificate number only through a keyed blind index
-- (HMAC-SHA256 under the node's key, `KEYID:hex`), never the number itself: written with the
-- current row; NULL until `ronghe keys rotate` computes it for rows written before.
ALTER TABLE cases ADD COLUMN applicant_index TEXT;
CREATE INDEX cases_applicant ON cases (applicant_index);

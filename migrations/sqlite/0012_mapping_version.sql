-- The version (hash) of the mapping that produced each stored case version; NULL for cases that
-- did not pass a mapping (imported canonical cases). Same in both dialects.
ALTER TABLE cases ADD COLUMN mapping_version TEXT;
ALTER TABLE case_versions ADD COLUMN mapping_version TEXT;

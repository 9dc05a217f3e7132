-- Housekeeping (issue 23): each purge is served by an index on the column its horizon compares.
-- writeback_nonces (seen_at) and account_sessions (expires_at) exist; a session purge also
-- looks at revoked_at, an enrolment purge at expires_at and used_at.
CREATE INDEX account_sessions_revoked ON account_sessions (revoked_at);
CREATE INDEX account_enrolments_expiry ON account_enrolments (expires_at);
CREATE INDEX account_enrolments_used ON account_enrolments (used_at);

-- User bridge hardening (issue 24). Keep in step with migrations/postgres/0024_bridge_hardening.sql.

-- The platform user a token was issued for: a link proof is only good for linking that user
-- (the department vouches for one login, on one user's behalf), a ticket names the user it lets
-- in (the audit trail of a release). Tokens issued before this migration have none: their
-- proofs link no one (they expire within five minutes anyway), their tickets still redeem.
ALTER TABLE bridge_tokens ADD COLUMN user_id TEXT;

-- The user bridge (用户互认). Keep in step with migrations/sqlite/0004_bridge.sql.
-- Names, certificate numbers and legacy account ids are stored sealed ("KEYID:base64", AES-256-GCM
-- or SM4-GCM) and looked up through keyed blind indexes ("KEYID:hex", HMAC-SHA256): nothing
-- personal is stored in clear.
CREATE TABLE bridge_configs (
    system_id  TEXT PRIMARY KEY REFERENCES systems (id),
    config     TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE bridge_identities (
    user_id           TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    certificate_type  TEXT NOT NULL,
    certificate_index TEXT NOT NULL,
    certificate_no    TEXT NOT NULL,
    name              TEXT NOT NULL,
    level             BIGINT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX bridge_identities_certificate ON bridge_identities (certificate_index);

-- Accounts of departmental systems: imported by the department, or first named by a write-back
-- (then counted as unresolved until linked).
CREATE TABLE bridge_accounts (
    id                 TEXT PRIMARY KEY,
    system_id          TEXT NOT NULL REFERENCES systems (id),
    account_index      TEXT NOT NULL,
    account_id         TEXT NOT NULL,
    certificate_index  TEXT,
    certificate_no     TEXT,
    unresolved_count   BIGINT NOT NULL DEFAULT 0,
    unresolved_first   TIMESTAMPTZ,
    unresolved_last    TIMESTAMPTZ,
    unresolved_context TEXT,
    updated_at         TIMESTAMPTZ NOT NULL,
    UNIQUE (system_id, account_index)
);
CREATE INDEX bridge_accounts_certificate ON bridge_accounts (certificate_index);

CREATE TABLE bridge_links (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES bridge_identities (user_id),
    system_id     TEXT NOT NULL REFERENCES systems (id),
    account_ref   TEXT NOT NULL REFERENCES bridge_accounts (id),
    method        TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    created_by    TEXT NOT NULL,
    revoked_at    TIMESTAMPTZ,
    revoked_by    TEXT,
    revoke_reason TEXT
);
CREATE UNIQUE INDEX bridge_links_user ON bridge_links (user_id, system_id) WHERE revoked_at IS NULL;
CREATE UNIQUE INDEX bridge_links_account ON bridge_links (account_ref) WHERE revoked_at IS NULL;

-- Auto-linking that found no single answer; open until a link settles it.
CREATE TABLE bridge_conflicts (
    system_id    TEXT NOT NULL REFERENCES systems (id),
    user_id      TEXT NOT NULL REFERENCES bridge_identities (user_id),
    reason       TEXT NOT NULL,
    account_refs TEXT NOT NULL,
    detected_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (system_id, user_id)
);

-- Issued tickets and link proofs, for single use; `subject` is a link id or an account ref.
CREATE TABLE bridge_tokens (
    jti        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    system_id  TEXT NOT NULL REFERENCES systems (id),
    subject    TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX bridge_tokens_expiry ON bridge_tokens (expires_at);

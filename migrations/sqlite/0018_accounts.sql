-- Staff accounts, roles by duty, sign-in (Art. 20, 21, 23). Keep in step with
-- migrations/postgres/0018_accounts.sql. Names, resident ID numbers, mobiles and TOTP secrets are
-- stored sealed ("KEYID:base64"); the resident ID is found through a keyed blind index. Passwords
-- are argon2id hashes; enrolment links, sessions and API tokens are kept only as SHA-256 hashes.
CREATE TABLE accounts (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    name_masked        TEXT NOT NULL,
    resident_id        TEXT NOT NULL,
    resident_id_index  TEXT NOT NULL,
    resident_id_masked TEXT NOT NULL,
    mobile             TEXT NOT NULL,
    mobile_masked      TEXT NOT NULL,
    agency             TEXT NOT NULL,
    region             TEXT NOT NULL,
    status             TEXT NOT NULL,
    password_hash      TEXT,
    totp_secret        TEXT,
    totp_last_step     INTEGER,
    failed_sign_ins    INTEGER NOT NULL DEFAULT 0,
    locked_until       TEXT,
    created_by         TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX accounts_resident_id ON accounts (resident_id_index);

-- Each role held in a scope; revoked grants stay for the record.
CREATE TABLE account_grants (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    role        TEXT NOT NULL,
    scope       TEXT NOT NULL,
    granted_by  TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    reason      TEXT NOT NULL,
    granted_at  TEXT NOT NULL,
    revoked_by  TEXT,
    revoked_at  TEXT
);
CREATE INDEX account_grants_account ON account_grants (account_id) WHERE revoked_at IS NULL;

CREATE TABLE account_enrolments (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX account_enrolments_account ON account_enrolments (account_id);

CREATE TABLE account_sessions (
    id_hash      TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    client_addr  TEXT,
    user_agent   TEXT
);
CREATE INDEX account_sessions_account ON account_sessions (account_id);
CREATE INDEX account_sessions_expiry ON account_sessions (expires_at);

CREATE TABLE account_tokens (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    secret_hash  TEXT NOT NULL,
    name         TEXT NOT NULL,
    roles        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX account_tokens_account ON account_tokens (account_id);

-- Passkeys (WebAuthn): the public key and counter as webauthn-rs stores them; nothing secret.
CREATE TABLE account_passkeys (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    name         TEXT NOT NULL,
    passkey      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    removed_at   TEXT
);
CREATE INDEX account_passkeys_account ON account_passkeys (account_id);

-- WebAuthn ceremonies between start and finish (five minutes), so any node finishes them.
CREATE TABLE account_challenges (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX account_challenges_expiry ON account_challenges (expires_at);

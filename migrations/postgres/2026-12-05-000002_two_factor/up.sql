-- Accounts that hold: a second factor (TOTP), recovery codes, passkeys, and sessions a person
-- can see and end.

-- The authenticator app's secret, sealed (XChaCha20-Poly1305 under a key derived from the
-- site key): never in plain text. `totp_pending` is a secret shown but not yet confirmed by a
-- first code; `totp_secret` one that counts. `totp_last_step` is the last 30 s step whose code
-- was taken, so a code works once. `webauthn_handle`: the account's WebAuthn user handle
-- (random, made with its first passkey), never the id.
ALTER TABLE users
    ADD COLUMN totp_secret TEXT NULL,
    ADD COLUMN totp_pending TEXT NULL,
    ADD COLUMN totp_pending_at BIGINT NULL,
    ADD COLUMN totp_last_step BIGINT NULL,
    ADD COLUMN webauthn_handle TEXT NULL UNIQUE;

-- Single-use recovery codes: only a SHA-256 of each (80 random bits) is kept.
CREATE TABLE recovery_codes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT NULL
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- Passkeys: the credential as webauthn-rs keeps it (JSON), its id, the name its owner gave it.
CREATE TABLE passkeys (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    credential TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NULL
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- WebAuthn ceremonies in progress: server-side and single use (taken by DELETE … RETURNING),
-- so any instance can finish what another began.
CREATE TABLE webauthn_challenges (
    id TEXT PRIMARY KEY,
    user_id BIGINT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('register', 'login')),
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_challenges_expires_at ON webauthn_challenges (expires_at);

-- What the sessions list shows: the browser, the client address, and the last use (written
-- with the idle expiry's own update, at most once a minute: no write of its own).
ALTER TABLE sessions
    ADD COLUMN user_agent TEXT NULL,
    ADD COLUMN client TEXT NULL,
    ADD COLUMN last_used_at BIGINT NULL,
    -- the session's name on the sessions list (random): its id is the cookie's secret and
    -- never appears on a page
    ADD COLUMN handle TEXT NULL;

-- The outbox learns the notices of a change to how someone signs in (the detail names it).
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('reset', 'confirm', 'address_changed', 'moderation', 'security'));

DELETE FROM outbox WHERE kind = 'security';
CREATE TABLE outbox_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('reset', 'confirm', 'address_changed', 'moderation')),
    recipient TEXT NOT NULL,
    user_id BIGINT NULL,
    link_hash TEXT NULL,
    detail TEXT NULL,
    created_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT NULL
);
INSERT INTO outbox_old SELECT id, kind, recipient, user_id, link_hash, detail, created_at, attempts, next_attempt_at, last_error FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_old RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (next_attempt_at);
ALTER TABLE sessions DROP COLUMN handle;
ALTER TABLE sessions DROP COLUMN last_used_at;
ALTER TABLE sessions DROP COLUMN client;
ALTER TABLE sessions DROP COLUMN user_agent;
DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
DROP TABLE recovery_codes;
DROP INDEX users_webauthn_handle;
ALTER TABLE users DROP COLUMN webauthn_handle;
ALTER TABLE users DROP COLUMN totp_last_step;
ALTER TABLE users DROP COLUMN totp_pending_at;
ALTER TABLE users DROP COLUMN totp_pending;
ALTER TABLE users DROP COLUMN totp_secret;

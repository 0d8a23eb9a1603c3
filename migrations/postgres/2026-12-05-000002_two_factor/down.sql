DELETE FROM outbox WHERE kind = 'security';
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('reset', 'confirm', 'address_changed', 'moderation'));
ALTER TABLE sessions DROP COLUMN handle, DROP COLUMN last_used_at, DROP COLUMN client, DROP COLUMN user_agent;
DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
DROP TABLE recovery_codes;
ALTER TABLE users DROP COLUMN webauthn_handle, DROP COLUMN totp_last_step,
    DROP COLUMN totp_pending_at, DROP COLUMN totp_pending, DROP COLUMN totp_secret;

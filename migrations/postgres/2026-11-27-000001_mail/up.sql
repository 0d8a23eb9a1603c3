-- Mail: confirmed addresses, one-time links, sending throttles and the outbox.
-- Accounts made before mail existed have never confirmed their address.
ALTER TABLE users ADD COLUMN email_confirmed BOOLEAN NOT NULL DEFAULT FALSE;

-- One live link per account and purpose: a newer request replaces (voids) the older. Only a
-- SHA-256 of the token in the link is kept (the outbox holds none either), so a copy of the
-- database opens no account.
CREATE TABLE email_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('reset', 'confirm')),
    token_hash TEXT NOT NULL,
    -- the address the link was sent to (reset: void once the account's address changes;
    -- confirm: the address it confirms, the account's own or a new one)
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX email_tokens_hash ON email_tokens (token_hash);
CREATE UNIQUE INDEX email_tokens_user_purpose ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_at ON email_tokens (expires_at);

-- Mails asked for, per recipient address and per client, for the throttles.
CREATE TABLE mail_requests (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address TEXT NOT NULL,
    client TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX mail_requests_address ON mail_requests (address, created_at);
CREATE INDEX mail_requests_client ON mail_requests (client, created_at);

-- Mails waiting to be sent. A row says what to write, not the mail itself: a mail that
-- carries a link is written when it is sent, with a link made then, so no link's secret ever
-- waits in the database. A sender claims a row by moving next_attempt_at past the time a send
-- can take (attempts, bumped by each claim, fences a late sender out), and deletes it once the
-- server has taken the mail.
CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('reset', 'confirm', 'address_changed')),
    recipient TEXT NOT NULL,
    -- confirm, address_changed: the account
    user_id BIGINT NULL,
    -- confirm: the hash the account's confirmation link has now (replaced at each send)
    link_hash TEXT NULL,
    -- address_changed: the new address, partly hidden
    detail TEXT NULL,
    created_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at);

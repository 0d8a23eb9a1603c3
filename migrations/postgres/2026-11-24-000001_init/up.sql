-- The same tables as migrations/sqlite, in PostgreSQL's terms.
-- Identity columns are never reused, so a stale cookie of a deleted account can never name a
-- new user. Usernames and emails (both ASCII by rule) are unique ignoring case through the
-- indexes on lower(...), which the lookups use.
CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    -- file name in profile_pics/, NULL for the default avatar
    picture TEXT NULL,
    -- bumped by a password change: sessions carrying an older value are logged out
    session_epoch BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE login_failures (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account TEXT NOT NULL,
    client TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX login_failures_account ON login_failures (account, failed_at);
CREATE INDEX login_failures_client ON login_failures (client, failed_at);

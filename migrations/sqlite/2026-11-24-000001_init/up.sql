-- AUTOINCREMENT: ids are never reused, so a stale cookie of a deleted account can never
-- name a new user. NOCASE: usernames and emails (both ASCII by rule) are unique ignoring case.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    -- file name in $FOLIO_MEDIA_DIR/profile_pics, NULL for the default avatar
    picture TEXT NULL,
    -- bumped by a password change: sessions carrying an older value are logged out
    session_epoch BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

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
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    account TEXT NOT NULL,
    client TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX login_failures_account ON login_failures (account, failed_at);
CREATE INDEX login_failures_client ON login_failures (client, failed_at);

DELETE FROM outbox WHERE kind = 'moderation';
CREATE TABLE outbox_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('reset', 'confirm', 'address_changed')),
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
DROP TABLE moderation_log;
DROP TABLE reports;
DROP INDEX users_held_pictures;
DROP INDEX users_username_key;
DROP INDEX users_display_name_key;
DROP INDEX users_username_first1;
DROP INDEX users_username_first2;
DROP INDEX users_display_name_first1;
DROP INDEX users_display_name_first2;
CREATE INDEX users_username_key ON users (username_key);
CREATE INDEX users_display_name_key ON users (display_name_key);
CREATE INDEX users_username_first1 ON users (substr(username_key, 1, 1), id, username_key);
CREATE INDEX users_username_first2 ON users (substr(username_key, 1, 2), id, username_key);
CREATE INDEX users_display_name_first1 ON users (substr(display_name_key, 1, 1), id, display_name_key);
CREATE INDEX users_display_name_first2 ON users (substr(display_name_key, 1, 2), id, display_name_key);
ALTER TABLE users DROP COLUMN suspension_reason;
ALTER TABLE users DROP COLUMN suspended_at;
ALTER TABLE users DROP COLUMN moderator;

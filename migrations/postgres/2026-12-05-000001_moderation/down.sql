DELETE FROM outbox WHERE kind = 'moderation';
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('reset', 'confirm', 'address_changed'));
DROP TABLE moderation_log;
DROP FUNCTION moderation_log_append_only();
DROP TABLE reports;
DROP INDEX users_held_pictures, users_username_key, users_display_name_key, users_username_first1,
    users_username_first2, users_display_name_first1, users_display_name_first2;
CREATE INDEX users_username_key ON users (username_key, id);
CREATE INDEX users_display_name_key ON users (display_name_key, id);
CREATE INDEX users_username_first1 ON users (substr(username_key, 1, 1), id, username_key);
CREATE INDEX users_username_first2 ON users (substr(username_key, 1, 2), id, username_key);
CREATE INDEX users_display_name_first1 ON users (substr(display_name_key, 1, 1), id, display_name_key);
CREATE INDEX users_display_name_first2 ON users (substr(display_name_key, 1, 2), id, display_name_key);
ALTER TABLE users DROP COLUMN suspension_reason, DROP COLUMN suspended_at, DROP COLUMN moderator;

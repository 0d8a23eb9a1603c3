-- Moderation: moderators, suspensions, members' reports and the log of what was done.
-- Named from the shell (`folio moderators add`), never from a page.
ALTER TABLE users ADD COLUMN moderator BOOLEAN NOT NULL DEFAULT 0;
-- Set while the account is suspended, with the reason the member was told.
ALTER TABLE users ADD COLUMN suspended_at BIGINT NULL;
ALTER TABLE users ADD COLUMN suspension_reason TEXT NULL;

-- The directory's search reads only members who are not suspended: its indexes hold only
-- those (partial indexes), so hiding the suspended costs no search a row read, and a wave of
-- suspended accounts under one prefix costs nothing at all. Each ends with suspended_at
-- (always NULL in it): SQLite reads a partial index as covering only when it holds the
-- columns of its own condition.
DROP INDEX users_username_key;
DROP INDEX users_display_name_key;
DROP INDEX users_username_first1;
DROP INDEX users_username_first2;
DROP INDEX users_display_name_first1;
DROP INDEX users_display_name_first2;
CREATE INDEX users_username_key ON users (username_key, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_key ON users (display_name_key, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_username_first1 ON users (substr(username_key, 1, 1), id, username_key, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_username_first2 ON users (substr(username_key, 1, 2), id, username_key, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first1 ON users (substr(display_name_key, 1, 1), id, display_name_key, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first2 ON users (substr(display_name_key, 1, 2), id, display_name_key, suspended_at) WHERE suspended_at IS NULL;
-- The pictures /media must not serve: those of suspended members (a handful).
CREATE INDEX users_held_pictures ON users (picture) WHERE suspended_at IS NOT NULL;

-- What members report. The reporter is kept from the member, never shown to them; a
-- reporter's deleted account leaves the report (reporter_id NULL).
CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    member_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reporter_id BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    reason TEXT NOT NULL CHECK (reason IN ('spam', 'abuse', 'picture', 'impersonation', 'other')),
    comment TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- set by the action that closed it (the log entry's id)
    closed_at BIGINT NULL,
    closed_by BIGINT NULL
);
-- One open report per reporter and member.
CREATE UNIQUE INDEX reports_one_open ON reports (reporter_id, member_id) WHERE closed_at IS NULL;
-- The queue, oldest first.
CREATE INDEX reports_open ON reports (created_at) WHERE closed_at IS NULL;
CREATE INDEX reports_member ON reports (member_id, id);
-- The hourly limit per reporter.
CREATE INDEX reports_reporter ON reports (reporter_id, created_at);

-- Every action taken, with the names as they were. Append-only: no route edits or deletes a
-- row, and the database refuses to (only the links to a deleted account may become NULL).
CREATE TABLE moderation_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    created_at BIGINT NOT NULL,
    moderator_id BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    moderator_name TEXT NOT NULL,
    member_id BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    member_name TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('remove_picture', 'clear_profile', 'suspend', 'unsuspend', 'dismiss')),
    reason TEXT NOT NULL
);
CREATE INDEX moderation_log_member ON moderation_log (member_id, id);
CREATE TRIGGER moderation_log_no_delete BEFORE DELETE ON moderation_log BEGIN
    SELECT RAISE(ABORT, 'the moderation log is append-only');
END;
CREATE TRIGGER moderation_log_no_update BEFORE UPDATE ON moderation_log
WHEN NEW.id IS NOT OLD.id OR NEW.created_at IS NOT OLD.created_at
    OR NEW.moderator_name IS NOT OLD.moderator_name OR NEW.member_name IS NOT OLD.member_name
    OR NEW.action IS NOT OLD.action OR NEW.reason IS NOT OLD.reason
    OR (NEW.moderator_id IS NOT OLD.moderator_id AND NEW.moderator_id IS NOT NULL)
    OR (NEW.member_id IS NOT OLD.member_id AND NEW.member_id IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'the moderation log is append-only');
END;

-- The outbox learns the mail that tells a member what a moderator did (SQLite cannot change
-- a CHECK in place: the table is rebuilt, rows and ids kept).
CREATE TABLE outbox_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('reset', 'confirm', 'address_changed', 'moderation')),
    recipient TEXT NOT NULL,
    user_id BIGINT NULL,
    link_hash TEXT NULL,
    -- address_changed: the new address, partly hidden; moderation: the action, a line
    -- break, and the reason
    detail TEXT NULL,
    created_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT NULL
);
INSERT INTO outbox_new (id, kind, recipient, user_id, link_hash, detail, created_at, attempts, next_attempt_at, last_error)
    SELECT id, kind, recipient, user_id, link_hash, detail, created_at, attempts, next_attempt_at, last_error FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (next_attempt_at);

-- Moderation: moderators, suspensions, members' reports and the log of what was done.
ALTER TABLE users
    -- named from the shell (`folio moderators add`), never from a page
    ADD COLUMN moderator BOOLEAN NOT NULL DEFAULT FALSE,
    -- set while the account is suspended, with the reason the member was told
    ADD COLUMN suspended_at BIGINT NULL,
    ADD COLUMN suspension_reason TEXT NULL;

-- The directory's search reads only members who are not suspended: its indexes hold only
-- those (partial indexes, still read index-only), so a wave of suspended accounts under one
-- prefix costs the search nothing.
DROP INDEX users_username_key, users_display_name_key, users_username_first1,
    users_username_first2, users_display_name_first1, users_display_name_first2;
CREATE INDEX users_username_key ON users (username_key, id) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_key ON users (display_name_key, id) WHERE suspended_at IS NULL;
CREATE INDEX users_username_first1 ON users (substr(username_key, 1, 1), id, username_key) WHERE suspended_at IS NULL;
CREATE INDEX users_username_first2 ON users (substr(username_key, 1, 2), id, username_key) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first1 ON users (substr(display_name_key, 1, 1), id, display_name_key) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first2 ON users (substr(display_name_key, 1, 2), id, display_name_key) WHERE suspended_at IS NULL;
-- The pictures /media must not serve: those of suspended members (a handful).
CREATE INDEX users_held_pictures ON users (picture) WHERE suspended_at IS NOT NULL;

-- What members report. The reporter is kept from the member, never shown to them; a
-- reporter's deleted account leaves the report (reporter_id NULL).
CREATE TABLE reports (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reporter_id BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    reason TEXT NOT NULL CHECK (reason IN ('spam', 'abuse', 'picture', 'impersonation', 'other')),
    comment TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- set by the action that closed it (the log entry's id)
    closed_at BIGINT NULL,
    closed_by BIGINT NULL
);
CREATE UNIQUE INDEX reports_one_open ON reports (reporter_id, member_id) WHERE closed_at IS NULL;
CREATE INDEX reports_open ON reports (created_at) WHERE closed_at IS NULL;
CREATE INDEX reports_member ON reports (member_id, id);
CREATE INDEX reports_reporter ON reports (reporter_id, created_at);

-- Every action taken, with the names as they were. Append-only: no route edits or deletes a
-- row, and the database refuses to (only the links to a deleted account may become NULL).
CREATE TABLE moderation_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at BIGINT NOT NULL,
    moderator_id BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    moderator_name TEXT NOT NULL,
    member_id BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    member_name TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('remove_picture', 'clear_profile', 'suspend', 'unsuspend', 'dismiss')),
    reason TEXT NOT NULL
);
CREATE INDEX moderation_log_member ON moderation_log (member_id, id);
CREATE FUNCTION moderation_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
        RAISE EXCEPTION 'the moderation log is append-only';
    END IF;
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.created_at IS DISTINCT FROM OLD.created_at
        OR NEW.moderator_name IS DISTINCT FROM OLD.moderator_name
        OR NEW.member_name IS DISTINCT FROM OLD.member_name
        OR NEW.action IS DISTINCT FROM OLD.action OR NEW.reason IS DISTINCT FROM OLD.reason
        OR (NEW.moderator_id IS DISTINCT FROM OLD.moderator_id AND NEW.moderator_id IS NOT NULL)
        OR (NEW.member_id IS DISTINCT FROM OLD.member_id AND NEW.member_id IS NOT NULL)
    THEN
        RAISE EXCEPTION 'the moderation log is append-only';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER moderation_log_append_only BEFORE UPDATE OR DELETE ON moderation_log
    FOR EACH ROW EXECUTE FUNCTION moderation_log_append_only();
-- TRUNCATE fires no row trigger: refused by a statement trigger of its own.
CREATE TRIGGER moderation_log_no_truncate BEFORE TRUNCATE ON moderation_log
    FOR EACH STATEMENT EXECUTE FUNCTION moderation_log_append_only();

-- The outbox learns the mail that tells a member what a moderator did. Its detail holds the
-- action, a line break and the reason.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('reset', 'confirm', 'address_changed', 'moderation'));

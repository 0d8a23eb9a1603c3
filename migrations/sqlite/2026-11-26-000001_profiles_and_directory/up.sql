-- What people say about themselves, and the member directory's search.
ALTER TABLE users ADD COLUMN display_name TEXT NULL;
ALTER TABLE users ADD COLUMN bio TEXT NULL;
ALTER TABLE users ADD COLUMN website TEXT NULL;
-- The display name composed and lower-cased by Folio (SQLite's lower() only knows ASCII),
-- so a prefix search is a range on this index in every script.
ALTER TABLE users ADD COLUMN display_name_key TEXT NULL;
-- Usernames are ASCII, so the database lowers them itself and no write can forget to. A real
-- column kept by triggers rather than a generated one: SQLite reads an index of a virtual
-- column as not covering, and the search steps through thousands of its entries.
ALTER TABLE users ADD COLUMN username_key TEXT NOT NULL DEFAULT '';
UPDATE users SET username_key = lower(username);
CREATE TRIGGER users_username_key_on_insert AFTER INSERT ON users BEGIN
    UPDATE users SET username_key = lower(NEW.username) WHERE id = NEW.id;
END;
CREATE TRIGGER users_username_key_on_update AFTER UPDATE OF username ON users BEGIN
    UPDATE users SET username_key = lower(NEW.username) WHERE id = NEW.id;
END;
CREATE INDEX users_username_key ON users (username_key);
CREATE INDEX users_display_name_key ON users (display_name_key);
-- Each name's first one and first two characters, then the id: a search for one or two
-- characters reads its bucket newest first and stops after a page, and a longer, common one
-- walks the bucket of its first two (the name itself is in the index, so no row is read
-- until it matches).
CREATE INDEX users_username_first1 ON users (substr(username_key, 1, 1), id, username_key);
CREATE INDEX users_username_first2 ON users (substr(username_key, 1, 2), id, username_key);
CREATE INDEX users_display_name_first1 ON users (substr(display_name_key, 1, 1), id, display_name_key);
CREATE INDEX users_display_name_first2 ON users (substr(display_name_key, 1, 2), id, display_name_key);
-- The directory pages newest first by id, the primary key: no index needed.

-- Accounts created per client address, for FOLIO_SIGNUPS_PER_HOUR. Kept when the account is
-- deleted, so creating and deleting does not reset the count.
CREATE TABLE signups (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    client TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX signups_client ON signups (client, created_at);

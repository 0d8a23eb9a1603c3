-- What people say about themselves, and the member directory's search.
-- The search keys compare byte by byte (COLLATE "C"), so that a prefix is a range of the
-- index whatever the database's locale, as on SQLite.
ALTER TABLE users
    ADD COLUMN display_name TEXT NULL,
    ADD COLUMN bio TEXT NULL,
    ADD COLUMN website TEXT NULL,
    -- the display name composed and lower-cased by Folio, the same way on both backends
    ADD COLUMN display_name_key TEXT COLLATE "C" NULL,
    -- usernames are ASCII, so the database lowers them itself and no write can forget to
    -- ("C": ASCII rules whatever the locale, as Folio's own lowering of the search)
    ADD COLUMN username_key TEXT COLLATE "C" GENERATED ALWAYS AS (lower(username COLLATE "C")) STORED;
-- With the id, so the search reads only the index.
CREATE INDEX users_username_key ON users (username_key, id);
CREATE INDEX users_display_name_key ON users (display_name_key, id);
-- Each name's first one and first two characters, then the id: a search for one or two
-- characters reads its bucket newest first and stops after a page, and a longer, common one
-- walks the bucket of its first two.
CREATE INDEX users_username_first1 ON users (substr(username_key, 1, 1), id, username_key);
CREATE INDEX users_username_first2 ON users (substr(username_key, 1, 2), id, username_key);
CREATE INDEX users_display_name_first1 ON users (substr(display_name_key, 1, 1), id, display_name_key);
CREATE INDEX users_display_name_first2 ON users (substr(display_name_key, 1, 2), id, display_name_key);
-- The directory pages newest first by id, the primary key: no index needed.

-- Accounts created per client address, for FOLIO_SIGNUPS_PER_HOUR. Kept when the account is
-- deleted, so creating and deleting does not reset the count.
CREATE TABLE signups (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX signups_client ON signups (client, created_at);

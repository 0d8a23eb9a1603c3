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
-- The directory pages newest first by id, the primary key: no index needed.

-- Accounts created per client address, for FOLIO_SIGNUPS_PER_HOUR. Kept when the account is
-- deleted, so creating and deleting does not reset the count.
CREATE TABLE signups (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX signups_client ON signups (client, created_at);

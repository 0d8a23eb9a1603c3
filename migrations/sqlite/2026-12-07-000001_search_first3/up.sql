-- The directory's search walks a bucket of the prefix's first three characters for a prefix
-- of three or more (src/db/members.rs): a three-letter prefix is its own bucket and needs no
-- probe, and a longer one broad enough to walk steps over fewer others (`mar` rather than `ma`).
CREATE INDEX users_username_first3 ON users (substr(username_key, 1, 3), id, username_key, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first3 ON users (substr(display_name_key, 1, 3), id, display_name_key, suspended_at) WHERE suspended_at IS NULL;

-- Every prefix of up to twelve characters is a bucket of its own (src/db/members.rs): its
-- members are read newest first from one index, 21 entries for a page, however many share it.
-- Before this a prefix of four to twelve characters walked its three-letter bucket or sorted
-- its key's range, about 1,200 index entries at worst for a site of a million members. The
-- twelve-letter buckets also hold the key, which a longer prefix's walk tests.
CREATE INDEX users_username_first4 ON users (substr(username_key, 1, 4), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_username_first5 ON users (substr(username_key, 1, 5), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_username_first6 ON users (substr(username_key, 1, 6), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_username_first7 ON users (substr(username_key, 1, 7), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_username_first8 ON users (substr(username_key, 1, 8), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_username_first9 ON users (substr(username_key, 1, 9), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_username_first10 ON users (substr(username_key, 1, 10), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_username_first11 ON users (substr(username_key, 1, 11), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_username_first12 ON users (substr(username_key, 1, 12), id, username_key, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first4 ON users (substr(display_name_key, 1, 4), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first5 ON users (substr(display_name_key, 1, 5), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first6 ON users (substr(display_name_key, 1, 6), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first7 ON users (substr(display_name_key, 1, 7), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first8 ON users (substr(display_name_key, 1, 8), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first9 ON users (substr(display_name_key, 1, 9), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first10 ON users (substr(display_name_key, 1, 10), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first11 ON users (substr(display_name_key, 1, 11), id, suspended_at) WHERE suspended_at IS NULL;
CREATE INDEX users_display_name_first12 ON users (substr(display_name_key, 1, 12), id, display_name_key, suspended_at) WHERE suspended_at IS NULL;

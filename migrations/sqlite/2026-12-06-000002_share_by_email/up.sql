-- Libravatar / Gravatar (`GET /avatar/{hash}`): a member may let other sites show their
-- picture by their email address. Off by default.
ALTER TABLE users ADD COLUMN share_by_email BOOLEAN NOT NULL DEFAULT 0;
-- The hex MD5 and SHA-256 of the trimmed, lowercased address, kept by src/db/users.rs: set
-- exactly while share_by_email is on and the address is confirmed, NULL otherwise. So an
-- address that is not shared has no row to find, and is answered as an unknown one is, by
-- the same one-row index lookup.
ALTER TABLE users ADD COLUMN email_md5 TEXT NULL;
ALTER TABLE users ADD COLUMN email_sha256 TEXT NULL;
-- Partial: only the members who share are in them. Not named users_email_…: that prefix is how
-- src/db/mod.rs tells a taken address.
CREATE UNIQUE INDEX users_shared_md5 ON users (email_md5) WHERE email_md5 IS NOT NULL;
CREATE UNIQUE INDEX users_shared_sha256 ON users (email_sha256) WHERE email_sha256 IS NOT NULL;

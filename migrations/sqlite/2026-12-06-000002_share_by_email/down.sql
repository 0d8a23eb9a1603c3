DROP INDEX users_shared_sha256;
DROP INDEX users_shared_md5;
ALTER TABLE users DROP COLUMN email_sha256;
ALTER TABLE users DROP COLUMN email_md5;
ALTER TABLE users DROP COLUMN share_by_email;

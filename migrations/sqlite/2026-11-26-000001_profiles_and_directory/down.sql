DROP TABLE signups;
DROP INDEX users_display_name_key;
DROP INDEX users_username_key;
ALTER TABLE users DROP COLUMN username_key;
ALTER TABLE users DROP COLUMN display_name_key;
ALTER TABLE users DROP COLUMN website;
ALTER TABLE users DROP COLUMN bio;
ALTER TABLE users DROP COLUMN display_name;

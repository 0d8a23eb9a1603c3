DROP TABLE signups;
ALTER TABLE users
    DROP COLUMN username_key,
    DROP COLUMN display_name_key,
    DROP COLUMN website,
    DROP COLUMN bio,
    DROP COLUMN display_name;

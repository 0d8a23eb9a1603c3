ALTER TABLE users DROP COLUMN picture_renditions;

-- The smaller and larger files made beside each picture's 300×300 JPEG (src/avatar/renditions.rs):
-- 0 for a picture stored before they existed (pages show the master alone until `folio gc`
-- makes them), 300 for the list sizes and WebP up to 300, 600 when a 600×600 was made too.
ALTER TABLE users ADD COLUMN picture_renditions INTEGER NOT NULL DEFAULT 0;

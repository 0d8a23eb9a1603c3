-- Pictures sent per account, through the form and the API together, for
-- FOLIO_UPLOADS_PER_HOUR: in the database, so the limit holds across instances.
CREATE TABLE picture_uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX picture_uploads_user ON picture_uploads (user_id, created_at);

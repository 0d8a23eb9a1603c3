-- Personal access tokens for the JSON API. Only a SHA-256 of each token is kept, so a copy of
-- the database authenticates nothing. Deleting the account deletes its tokens.
CREATE TABLE access_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    -- NULL: works until revoked
    expires_at BIGINT NULL,
    last_used_at BIGINT NULL
);
CREATE INDEX access_tokens_user_id ON access_tokens (user_id);

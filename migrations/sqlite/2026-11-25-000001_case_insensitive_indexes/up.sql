-- Lookups compare lower(username) and lower(email), the one form both backends index (the
-- PostgreSQL schema has the same unique indexes). The NOCASE columns of the first migration
-- stay: they already enforce the same rule, since both fields are ASCII by rule.
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));

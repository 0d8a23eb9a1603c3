//! Black-box tests: each starts the real app on a free port with its own database, media
//! folder and key, and drives it over HTTP as a browser form would.

mod helpers;

/// This binary runs the suite on SQLite; `tests/postgres` runs it again on PostgreSQL.
pub const STORE: helpers::Store = helpers::Store::Folder;
pub const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

mod account;
mod auth;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod binary;
mod crop;
mod directory;
mod formats;
mod json_api;
mod libravatar;
mod mail;
mod moderation;
mod modern_formats;
mod operations;
mod pages;
mod passkeys;
mod picture;
mod profiles;
mod renditions;
mod sessions;
mod tokens;
mod transfer;
mod two_factor;

//! The black-box suite of `tests/api` again, on PostgreSQL: each test gets a database of its
//! own in a throwaway cluster that this binary starts (`tests/common/postgres.rs`). Then what
//! only several instances on one PostgreSQL can show: shared sessions, throttling and
//! pictures across instances, races between them, an outage and its recovery.

#[path = "../api/helpers.rs"]
mod helpers;

pub const STORE: helpers::Store = helpers::Store::Folder;
pub const BACKEND: helpers::Backend = helpers::Backend::Postgres;

#[path = "../api/account.rs"]
mod account;
#[path = "../api/auth.rs"]
mod auth;
#[path = "../api/directory.rs"]
mod directory;
#[path = "../api/json_api.rs"]
mod json_api;
#[path = "../api/libravatar.rs"]
mod libravatar;
#[path = "../api/mail.rs"]
mod mail;
#[path = "../api/moderation.rs"]
mod moderation;
#[path = "../api/operations.rs"]
mod operations;
#[path = "../api/pages.rs"]
mod pages;
#[path = "../api/passkeys.rs"]
mod passkeys;
#[path = "../api/picture.rs"]
mod picture;
#[path = "../api/profiles.rs"]
mod profiles;
#[path = "../api/renditions.rs"]
mod renditions;
#[path = "../api/sessions.rs"]
mod sessions;
#[path = "../api/tokens.rs"]
mod tokens;
#[path = "../api/two_factor.rs"]
mod two_factor;

mod instances;
mod objects;

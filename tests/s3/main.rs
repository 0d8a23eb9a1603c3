//! The picture tests of `tests/api` (and moderation's, which remove and hold pictures, and
//! Libravatar's, which read and resize them) again, with pictures in an S3 bucket: a real S3
//! server (`s3s-fs`, which checks every request's signature) that this binary starts on
//! loopback, a bucket per test. The database is SQLite here; `tests/postgres/objects.rs` has
//! several instances on PostgreSQL sharing a bucket.

#[path = "../api/helpers.rs"]
mod helpers;

pub const STORE: helpers::Store = helpers::Store::S3;
pub const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

#[path = "../api/libravatar.rs"]
mod libravatar;
#[path = "../api/moderation.rs"]
mod moderation;
#[path = "../api/operations.rs"]
mod operations;
#[path = "../api/picture.rs"]
mod picture;
#[path = "../api/renditions.rs"]
mod renditions;

mod store;

//! The member directory: newest first, optionally only the members whose username or display
//! name starts with a prefix. Pages are keyset ("older than this id"), so a page deep in the
//! list costs what the first one costs. Suspended members are never listed: every query says
//! `suspended_at IS NULL`, which the search's partial indexes require (they hold no one else).

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text};

use super::DbConn;
use super::schema::users;
use crate::directory::Prefix;

/// A member as the directory lists them.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct Member {
    pub id: i64,
    pub username: String,
    pub display_name: Option<String>,
    pub picture: Option<String>,
    pub picture_renditions: i32,
    pub bio: Option<String>,
    pub website: Option<String>,
    pub created_at: i64,
}

define_sql_function!(fn substr(text: Nullable<Text>, start: Integer, length: Integer) -> Nullable<Text>);

/// A whole number written into the SQL itself: an index on `substr(key, 1, 2)` serves only a
/// query that says `substr(key, 1, 2)`, not `substr(key, ?, ?)`.
fn literal(n: u8) -> diesel::expression::SqlLiteral<Integer> {
    diesel::dsl::sql::<Integer>(&n.to_string())
}

/// A prefix of three or more characters shared by more members than this (by username or by
/// display name) walks the bucket of its first two characters newest first; a rarer one is
/// read from the name indexes, where the database keeps the newest of at most this many
/// entries. Telling the two apart steps over at most this many index entries, inside the
/// database. Prefixes of one or two characters always read their bucket.
pub const BROAD: i64 = 1024;

/// Members older than `before` whose `$key` column starts with the prefix: a range of that
/// column's index. A macro rather than a boxed query, so each shape is a prepared statement
/// the connection keeps.
macro_rules! matching {
    ($key:expr, $prefix:expr, $before:expr) => {
        users::table
            .filter($key.ge(&$prefix.from))
            .filter($key.lt(&$prefix.until))
            .filter(users::id.lt($before))
            .filter(users::suspended_at.is_null())
            .select(users::id)
    };
}

/// Whether more than [`BROAD`] members older than `before` have a `$key` with the prefix: a
/// row past the first BROAD of them exists.
macro_rules! broad {
    ($conn:expr, $key:expr, $prefix:expr, $before:expr) => {
        matching!($key, $prefix, $before)
            .offset(BROAD)
            .limit(1)
            .get_result::<i64>($conn)
            .optional()
            .map(|past| past.is_some())
    };
}

/// The ids of the newest `limit` members older than `before` with the prefix in `$key`, from
/// its index. `id + 0` is not the primary key, so the database reads the name's index and
/// keeps the newest itself, rather than walk every member looking for a rare name.
macro_rules! newest_in_range {
    ($conn:expr, $key:expr, $prefix:expr, $before:expr, $limit:expr) => {
        matching!($key, $prefix, $before)
            .order((users::id + 0).desc())
            .limit($limit)
            .load::<i64>($conn)
    };
}

/// The ids of the newest `limit` members older than `before` whose `$key` starts with the
/// prefix, walking the bucket of its first `$bucket` (1 or 2) characters newest first. The
/// prefix itself is compared by `substr` too, which no index serves, so the database cannot
/// choose the name's range instead of the bucket.
macro_rules! newest_in_bucket {
    ($conn:expr, $key:expr, $prefix:expr, $bucket:expr, $before:expr, $limit:expr) => {{
        let head: String = $prefix.from.chars().take(usize::from($bucket)).collect();
        let length = i32::try_from($prefix.chars()).unwrap_or(i32::MAX);
        users::table
            .filter(substr($key.nullable(), literal(1), literal($bucket)).eq(head))
            .filter(substr($key.nullable(), literal(1), length).eq(&$prefix.from))
            .filter(users::id.lt($before))
            .filter(users::suspended_at.is_null())
            .select(users::id)
            .order(users::id.desc())
            .limit($limit)
            .load::<i64>($conn)
    }};
}

/// Up to `limit` members older than `before` (all when `None`), newest first.
pub fn newest(
    conn: &mut DbConn,
    before: Option<i64>,
    limit: i64,
    prefix: Option<&Prefix>,
) -> QueryResult<Vec<Member>> {
    let before = before.unwrap_or(i64::MAX);
    let Some(prefix) = prefix else {
        return users::table
            .filter(users::id.lt(before))
            .filter(users::suspended_at.is_null())
            .order(users::id.desc())
            .limit(limit)
            .select(Member::as_select())
            .load(conn);
    };
    let bucket = match prefix.chars() {
        1 => Some(1),
        2 => Some(2),
        _ if broad!(conn, users::username_key, prefix, before)?
            || broad!(conn, users::display_name_key, prefix, before)? =>
        {
            Some(2)
        }
        _ => None,
    };
    let (by_username, by_name) = match bucket {
        Some(bucket) => (
            newest_in_bucket!(conn, users::username_key, prefix, bucket, before, limit)?,
            newest_in_bucket!(conn, users::display_name_key, prefix, bucket, before, limit)?,
        ),
        None => (
            newest_in_range!(conn, users::username_key, prefix, before, limit)?,
            newest_in_range!(conn, users::display_name_key, prefix, before, limit)?,
        ),
    };
    let ids: BTreeSet<i64> = by_username.into_iter().chain(by_name).collect();
    let ids: Vec<i64> = ids
        .into_iter()
        .rev()
        .take(usize::try_from(limit).unwrap_or(0))
        .collect();
    users::table
        .filter(users::id.eq_any(ids))
        // Again: a member suspended between the two statements is not listed either.
        .filter(users::suspended_at.is_null())
        .order(users::id.desc())
        .select(Member::as_select())
        .load(conn)
}

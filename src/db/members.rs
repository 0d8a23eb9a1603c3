//! The member directory: newest first, optionally only the members whose username or display
//! name starts with a prefix. Pages are keyset ("older than this id"), so a page deep in the
//! list costs what the first one costs.

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
}

// Not an index's expression, so the planner cannot take it for a range of one: see `BROAD`.
define_sql_function!(fn substr(text: Nullable<Text>, start: Integer, length: Integer) -> Nullable<Text>);

/// A prefix shared by more members than this (by username or by display name) is searched by
/// walking the members newest first, where at least one in a few hundred matches at a million
/// members and a page fills after a few thousand rows at worst; a rarer one is read from the
/// name indexes, where the database keeps the newest of at most this many entries. Telling
/// the two apart steps over at most this many index entries, inside the database.
const BROAD: i64 = 4096;

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
            .order(users::id.desc())
            .limit(limit)
            .select(Member::as_select())
            .load(conn);
    };
    let mut broad = false;
    for key in [Key::Username, Key::DisplayName] {
        // A row exists past the first BROAD matches: the index holds more than that.
        let past: Option<i64> = matching(key, prefix, before)
            .select(users::id)
            .offset(BROAD)
            .limit(1)
            .first(conn)
            .optional()?;
        broad |= past.is_some();
    }
    if broad {
        let length = i32::try_from(prefix.chars()).unwrap_or(i32::MAX);
        return users::table
            .filter(users::id.lt(before))
            .filter(
                substr(users::username_key.nullable(), 1, length)
                    .eq(&prefix.from)
                    .or(substr(users::display_name_key, 1, length).eq(&prefix.from)),
            )
            .order(users::id.desc())
            .limit(limit)
            .select(Member::as_select())
            .load(conn);
    }
    let mut ids = BTreeSet::new();
    for key in [Key::Username, Key::DisplayName] {
        // `id + 0` is not the primary key, so the database reads the name's index and keeps
        // the newest `limit` itself, rather than walk every member for a rare name.
        let newest: Vec<i64> = matching(key, prefix, before)
            .select(users::id)
            .order((users::id + 0).desc())
            .limit(limit)
            .load(conn)?;
        ids.extend(newest);
    }
    let ids: Vec<i64> = ids
        .into_iter()
        .rev()
        .take(usize::try_from(limit).unwrap_or(0))
        .collect();
    users::table
        .filter(users::id.eq_any(ids))
        .order(users::id.desc())
        .select(Member::as_select())
        .load(conn)
}

#[derive(Debug, Clone, Copy)]
enum Key {
    Username,
    DisplayName,
}

type Boxed<'a> = users::BoxedQuery<'a, <DbConn as diesel::Connection>::Backend>;

/// Members older than `before` whose `key` starts with the prefix: a range of that key's
/// index.
fn matching(key: Key, prefix: &Prefix, before: i64) -> Boxed<'_> {
    let query = users::table.filter(users::id.lt(before)).into_boxed();
    match (key, &prefix.until) {
        (Key::Username, until) => {
            let query = query.filter(users::username_key.ge(&prefix.from));
            match until {
                Some(until) => query.filter(users::username_key.lt(until)),
                None => query,
            }
        }
        (Key::DisplayName, until) => {
            let query = query.filter(users::display_name_key.ge(&prefix.from));
            match until {
                Some(until) => query.filter(users::display_name_key.lt(until)),
                None => query,
            }
        }
    }
}

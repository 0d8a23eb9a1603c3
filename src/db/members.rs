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

/// A prefix with more matches than this (in either name) is searched by walking the members
/// newest first, where one in every few hundred matches and a page fills fast; a rarer one
/// by reading its matches from the name indexes and sorting them. Either way a page reads at
/// most a few thousand index entries: the two costs meet near sqrt(20 × members) at a
/// million members.
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
    match matching_ids(conn, before, prefix)? {
        Some(mut ids) => {
            ids.sort_unstable_by(|a, b| b.cmp(a));
            ids.truncate(usize::try_from(limit).unwrap_or(0));
            users::table
                .filter(users::id.eq_any(ids))
                .order(users::id.desc())
                .select(Member::as_select())
                .load(conn)
        }
        None => {
            let length = i32::try_from(prefix.chars()).unwrap_or(i32::MAX);
            users::table
                .filter(users::id.lt(before))
                .filter(
                    substr(users::username_key.nullable(), 1, length)
                        .eq(&prefix.from)
                        .or(substr(users::display_name_key, 1, length).eq(&prefix.from)),
                )
                .order(users::id.desc())
                .limit(limit)
                .select(Member::as_select())
                .load(conn)
        }
    }
}

/// The ids of every member older than `before` whose username or display name starts with
/// the prefix, read from the two name indexes; `None` when either holds more than [`BROAD`].
fn matching_ids(conn: &mut DbConn, before: i64, prefix: &Prefix) -> QueryResult<Option<Vec<i64>>> {
    let mut by_username = users::table
        .filter(users::username_key.ge(&prefix.from))
        .filter(users::id.lt(before))
        .select(users::id)
        .limit(BROAD + 1)
        .into_boxed();
    let mut by_name = users::table
        .filter(users::display_name_key.ge(&prefix.from))
        .filter(users::id.lt(before))
        .select(users::id)
        .limit(BROAD + 1)
        .into_boxed();
    if let Some(until) = &prefix.until {
        by_username = by_username.filter(users::username_key.lt(until));
        by_name = by_name.filter(users::display_name_key.lt(until));
    }
    let mut ids = BTreeSet::new();
    for query in [by_username, by_name] {
        let found: Vec<i64> = query.load(conn)?;
        if found.len() as i64 > BROAD {
            return Ok(None);
        }
        ids.extend(found);
    }
    Ok(Some(ids.into_iter().collect()))
}

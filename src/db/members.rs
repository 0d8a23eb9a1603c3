//! The member directory: newest first, optionally only the members whose username or display
//! name starts with a prefix. Pages are keyset ("older than this id"), so a page deep in the
//! list costs what the first one costs. Suspended members are never listed: every query says
//! `suspended_at IS NULL`, which the search's partial indexes require (they hold no one else).

use diesel::backend::Backend;
use diesel::expression::{
    AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate,
};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::{Integer, Nullable, Text};
use diesel::sqlite::Sqlite;

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

/// The columns a [`Member`] is read from, in its fields' order: one selection for both
/// backends (a derived `as_select()` is typed by its backend).
const COLUMNS: (
    users::id,
    users::username,
    users::display_name,
    users::picture,
    users::picture_renditions,
    users::bio,
    users::website,
    users::created_at,
) = (
    users::id,
    users::username,
    users::display_name,
    users::picture,
    users::picture_renditions,
    users::bio,
    users::website,
    users::created_at,
);

// The members a search matched, in a subquery of the statement that reads their rows: diesel
// wants a table read twice in one statement to go by two names.
diesel::alias!(users as matched: Matched);

define_sql_function!(fn substr(text: Nullable<Text>, start: Integer, length: Integer) -> Nullable<Text>);

/// A whole number written into the SQL itself: an index on `substr(key, 1, 2)` serves only a
/// query that says `substr(key, 1, 2)`, not `substr(key, ?, ?)`. A type of its own rather than
/// `diesel::dsl::sql`, whose text diesel cannot know in advance: with it, every search that
/// walked a bucket was parsed and planned anew, never prepared once per connection.
#[derive(Debug, Clone, Copy)]
pub struct Literal<const N: u8>;

impl<const N: u8> Expression for Literal<N> {
    type SqlType = Integer;
}

impl<const N: u8, DB: Backend> QueryFragment<DB> for Literal<N> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(&N.to_string());
        Ok(())
    }
}

impl<const N: u8> QueryId for Literal<N> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const N: u8, QS> AppearsOnTable<QS> for Literal<N> {}

impl<const N: u8, QS> SelectableExpression<QS> for Literal<N> {}

impl<const N: u8, GB> ValidGrouping<GB> for Literal<N> {
    type IsAggregate = is_aggregate::Never;
}

/// A prefix of three or more characters shared by more members than this (by username or by
/// display name) walks the bucket of its first two characters newest first; a rarer one is
/// read from the name indexes, where the database keeps the newest of at most this many
/// entries. Telling the two apart steps over at most this many index entries, inside the
/// database. Prefixes of one or two characters always read their bucket.
pub const BROAD: i64 = 1024;

/// A query either backend runs, loading `T`s. Searches are written with diesel's `UNION`,
/// which `MultiConnection` lacks, so each is built once here and run on the variant's own
/// connection (see [`load`]); the directory benchmark shows the plans of these very queries.
pub trait Statement<'q, T>:
    QueryFragment<Sqlite>
    + QueryFragment<Pg>
    + QueryId
    + RunQueryDsl<SqliteConnection>
    + RunQueryDsl<PgConnection>
    + LoadQuery<'q, SqliteConnection, T>
    + LoadQuery<'q, PgConnection, T>
{
}

impl<'q, T, Q> Statement<'q, T> for Q where
    Q: QueryFragment<Sqlite>
        + QueryFragment<Pg>
        + QueryId
        + RunQueryDsl<SqliteConnection>
        + RunQueryDsl<PgConnection>
        + LoadQuery<'q, SqliteConnection, T>
        + LoadQuery<'q, PgConnection, T>
{
}

fn load<'q, T>(conn: &mut DbConn, query: impl Statement<'q, T>) -> QueryResult<Vec<T>> {
    match conn {
        DbConn::Sqlite(c) => RunQueryDsl::<SqliteConnection>::load(query, c),
        DbConn::Postgres(c) => RunQueryDsl::<PgConnection>::load(query, c),
    }
}

/// Members older than `before` whose `$key` column starts with the prefix: a range of that
/// column's index.
macro_rules! matching {
    ($key:expr, $prefix:expr, $before:expr) => {
        matched
            .filter(matched.field($key).ge(&$prefix.from))
            .filter(matched.field($key).lt(&$prefix.until))
            .filter(matched.field(users::id).lt($before))
            .filter(matched.field(users::suspended_at).is_null())
            .select(matched.field(users::id))
    };
}

/// Up to `limit` members whose ids the subquery `$ids` gives, newest first: the walks of both
/// keys and the rows they found, in one statement (one round trip, one snapshot).
macro_rules! members_among {
    ($ids:expr, $limit:expr) => {
        users::table
            .filter(users::id.eq_any($ids))
            .order(users::id.desc())
            .limit($limit)
            .select(COLUMNS)
    };
}

/// How a search of three or more characters finds its members (shorter ones always walk the
/// bucket of their one or two characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Read the name indexes' ranges, where the database keeps the newest of at most
    /// [`BROAD`] entries.
    Range,
    /// Walk the members whose key starts with the prefix's first 1 or 2 characters, newest
    /// first, until a page is found.
    Bucket(u8),
}

/// A row when more than [`BROAD`] members older than `before` have the prefix in their
/// username or in their display name (the first BROAD of either range stepped over inside the
/// database): one statement for both keys, which stops at the first row (a prefix broad by
/// username never steps through the names).
pub fn broad<'q>(prefix: &'q Prefix, before: i64) -> impl Statement<'q, i64> + 'q {
    matching!(users::username_key, prefix, before)
        .offset(BROAD)
        .limit(1)
        .union_all(
            matching!(users::display_name_key, prefix, before)
                .offset(BROAD)
                .limit(1),
        )
        .limit(1)
}

/// The newest `limit` members older than `before` with the prefix in either key, from the
/// name indexes' ranges. `id + 0` is not the primary key, so the database reads each name's
/// index and keeps the newest itself, rather than walk every member looking for a rare name.
pub fn in_ranges<'q>(
    prefix: &'q Prefix,
    before: i64,
    limit: i64,
) -> impl Statement<'q, Member> + 'q {
    members_among!(
        matching!(users::username_key, prefix, before)
            .order((matched.field(users::id) + 0).desc())
            .limit(limit)
            .union(
                matching!(users::display_name_key, prefix, before)
                    .order((matched.field(users::id) + 0).desc())
                    .limit(limit)
            ),
        limit
    )
}

/// The newest `limit` members older than `before` whose key (either) starts with the prefix,
/// walking the bucket of its first `B` (1 or 2) characters newest first. The prefix itself is
/// compared by `substr` too, which no index serves, so the database cannot choose the name's
/// range instead of the bucket.
pub fn in_buckets<'q, const B: u8>(
    prefix: &'q Prefix,
    before: i64,
    limit: i64,
) -> impl Statement<'q, Member> + 'q {
    let head: String = prefix.from.chars().take(usize::from(B)).collect();
    let length = i32::try_from(prefix.chars()).unwrap_or(i32::MAX);
    macro_rules! walk {
        ($key:expr) => {
            matched
                .filter(
                    substr(matched.field($key).nullable(), Literal::<1>, Literal::<B>)
                        .eq(head.clone()),
                )
                .filter(
                    substr(matched.field($key).nullable(), Literal::<1>, length).eq(&prefix.from),
                )
                .filter(matched.field(users::id).lt(before))
                .filter(matched.field(users::suspended_at).is_null())
                .select(matched.field(users::id))
                .order(matched.field(users::id).desc())
                .limit(limit)
        };
    }
    members_among!(
        walk!(users::username_key).union(walk!(users::display_name_key)),
        limit
    )
}

/// The newest `limit` members older than `before`, without a prefix.
pub fn page(before: i64, limit: i64) -> impl Statement<'static, Member> {
    users::table
        .filter(users::id.lt(before))
        .filter(users::suspended_at.is_null())
        .order(users::id.desc())
        .limit(limit)
        .select(COLUMNS)
}

/// How a search for `prefix` reads its matches: one statement for three characters or more,
/// none for fewer.
pub fn walk(conn: &mut DbConn, prefix: &Prefix, before: i64) -> QueryResult<Walk> {
    Ok(match prefix.chars() {
        1 => Walk::Bucket(1),
        2 => Walk::Bucket(2),
        _ if !load(conn, broad(prefix, before))?.is_empty() => Walk::Bucket(2),
        _ => Walk::Range,
    })
}

/// Up to `limit` members older than `before` (all when `None`), newest first: one statement,
/// two for a search of three characters or more.
pub fn newest(
    conn: &mut DbConn,
    before: Option<i64>,
    limit: i64,
    prefix: Option<&Prefix>,
) -> QueryResult<Vec<Member>> {
    let before = before.unwrap_or(i64::MAX);
    let Some(prefix) = prefix else {
        return load(conn, page(before, limit));
    };
    match walk(conn, prefix, before)? {
        Walk::Range => load(conn, in_ranges(prefix, before, limit)),
        Walk::Bucket(1) => load(conn, in_buckets::<1>(prefix, before, limit)),
        Walk::Bucket(_) => load(conn, in_buckets::<2>(prefix, before, limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether diesel prepares `query` once per connection and keeps it, on both backends.
    fn kept<'q, T>(query: impl Statement<'q, T>) -> bool {
        fn is_static<Q: QueryId>(_: &Q) -> bool {
            Q::HAS_STATIC_QUERY_ID
        }
        is_static(&query)
            && QueryFragment::<Sqlite>::is_safe_to_cache_prepared(&query, &Sqlite)
                .is_ok_and(|safe| safe)
            && QueryFragment::<Pg>::is_safe_to_cache_prepared(&query, &Pg).is_ok_and(|safe| safe)
    }

    #[test]
    fn every_statement_of_the_directory_is_prepared_once() {
        let prefix = Prefix::parse(Some("maria")).expect("a prefix");
        assert!(kept(page(5, 21)));
        assert!(kept(broad(&prefix, 5)));
        assert!(kept(in_ranges(&prefix, 5, 21)));
        assert!(kept(in_buckets::<1>(&prefix, 5, 21)));
        assert!(kept(in_buckets::<2>(&prefix, 5, 21)));
    }

    #[test]
    fn a_literal_is_written_into_the_sql() {
        let prefix = Prefix::parse(Some("ma")).expect("a prefix");
        let sql = diesel::debug_query::<Sqlite, _>(&in_buckets::<2>(&prefix, 5, 21)).to_string();
        assert!(
            sql.contains("substr(`matched`.`username_key`, 1, 2) = ?"),
            "{sql}"
        );
    }
}

//! The member directory: newest first, optionally only the members whose username or display
//! name starts with a prefix. Pages are keyset ("older than this id"), so a page deep in the
//! list costs what the first one costs. Suspended members are never listed: every query says
//! `suspended_at IS NULL`, which the search's partial indexes require (they hold no one else).

use std::time::{Duration, Instant};

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
/// backends (a derived `as_select()` is typed by its backend). Written once, as the constant's
/// type and its value alike.
macro_rules! member_columns {
    () => {
        (
            users::id,
            users::username,
            users::display_name,
            users::picture,
            users::picture_renditions,
            users::bio,
            users::website,
            users::created_at,
        )
    };
}
const COLUMNS: member_columns!() = member_columns!();

/// `key` starts with the prefix, written so that no index of `key` serves the test: a bucket
/// walk must go down its bucket's index in id order, not read the key's range and sort it.
/// SQLite compares `+key` with the range's bounds (a unary `+` keeps a column from its
/// indexes) rather than call `substr` on every entry the walk passes (8% off the costliest
/// walk); PostgreSQL, which has no unary `+` for text, compares `substr(key, 1, length)` with
/// the prefix.
#[derive(Debug, Clone, Copy)]
pub struct StartsUnindexed<'q, K> {
    key: K,
    prefix: &'q Prefix,
    length: i32,
}

impl<'q, K> StartsUnindexed<'q, K> {
    fn new(key: K, prefix: &'q Prefix) -> Self {
        let length = i32::try_from(prefix.chars()).unwrap_or(i32::MAX);
        Self {
            key,
            prefix,
            length,
        }
    }
}

impl<K> Expression for StartsUnindexed<'_, K> {
    type SqlType = diesel::sql_types::Bool;
}

impl<K: QueryFragment<Sqlite>> QueryFragment<Sqlite> for StartsUnindexed<'_, K> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("(+");
        self.key.walk_ast(out.reborrow())?;
        out.push_sql(" >= ");
        out.push_bind_param::<Text, _>(&self.prefix.from)?;
        out.push_sql(" AND +");
        self.key.walk_ast(out.reborrow())?;
        out.push_sql(" < ");
        out.push_bind_param::<Text, _>(&self.prefix.until)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<K: QueryFragment<Pg>> QueryFragment<Pg> for StartsUnindexed<'_, K> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("(substr(");
        self.key.walk_ast(out.reborrow())?;
        out.push_sql(", 1, ");
        out.push_bind_param::<Integer, _>(&self.length)?;
        out.push_sql(") = ");
        out.push_bind_param::<Text, _>(&self.prefix.from)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<K: QueryId> QueryId for StartsUnindexed<'_, K> {
    type QueryId = StartsUnindexed<'static, K::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = K::HAS_STATIC_QUERY_ID;
}

impl<K: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for StartsUnindexed<'_, K> {}

impl<K: SelectableExpression<QS>, QS> SelectableExpression<QS> for StartsUnindexed<'_, K> {}

impl<K, GB> ValidGrouping<GB> for StartsUnindexed<'_, K> {
    type IsAggregate = is_aggregate::Never;
}

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

/// The longest prefix that is a bucket of its own: the members whose key starts with a prefix
/// of one to this many characters are read newest first from one index of those first
/// characters (migrations: `users_{username,display_name}_first1` … `first12`), 21 entries for a
/// page however many members share it.
pub const HEAD: usize = 12;

/// A longer prefix that more members than this share by a key (their username, or their
/// display name) walks that key's bucket of its first [`HEAD`] characters newest first; by a
/// key fewer share it, it is read from that key's index, where the database keeps the newest of
/// at most this many entries. Telling the two apart steps over at most this many index entries
/// per key, inside the database. About the crossover for the largest twelve-letter buckets of
/// the benchmark's million members (`mohammed.sch`, about 350 members: √(21 × 350) ≈ 86): the
/// costliest rare prefix reads about 2 × BROAD entries, the costliest broad one BROAD + 21 ×
/// bucket ÷ BROAD.
pub const BROAD: i64 = 128;

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
macro_rules! within {
    ($key:expr, $prefix:expr, $before:expr) => {
        matched
            .filter(matched.field($key).ge(&$prefix.from))
            .filter(matched.field($key).lt(&$prefix.until))
            .filter(matched.field(users::id).lt($before))
            .filter(matched.field(users::suspended_at).is_null())
    };
}

/// How a search reads the members whose key starts with its prefix, key by key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Read the key's index range, where the database keeps the newest of at most [`BROAD`]
    /// entries.
    Range,
    /// Walk the members whose key starts with the prefix's first [`HEAD`] characters, newest
    /// first, until a page is found: for a prefix more than BROAD members share.
    Bucket,
}

/// The walk of each key. A prefix broad by one key is often rare by the other (`mohammed.schm`,
/// with a username's dot, is in no display name), and a bucket walk for a key with few matches
/// would step through its whole bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walks {
    pub by_username: Walk,
    pub by_name: Walk,
}

/// The walks recent first pages of a search took, by prefix, so that a search asked again
/// skips the probe ([`broad`]). Whether a prefix is broad changes only as hundreds of members
/// join, leave or rename under it, and a stale answer costs time, never a wrong page (either
/// walk finds the same members), so each instance keeps an answer for [`RecentWalks::KEPT`].
/// Only first pages: deeper down fewer members are older than the cursor, so a prefix broad
/// at the top can be rare there.
pub struct RecentWalks {
    cache: quick_cache::sync::Cache<String, (Walks, Instant)>,
}

impl RecentWalks {
    /// How long an answer is trusted.
    pub const KEPT: Duration = Duration::from_secs(60);

    /// Keeps the answers for about `prefixes` prefixes (a few dozen bytes each).
    pub fn new(prefixes: usize) -> Self {
        Self {
            cache: quick_cache::sync::Cache::new(prefixes),
        }
    }

    fn get(&self, prefix: &Prefix) -> Option<Walks> {
        self.cache
            .get(&prefix.from)
            .filter(|(_, since)| since.elapsed() < Self::KEPT)
            .map(|(walks, _)| walks)
    }

    fn put(&self, prefix: &Prefix, walks: Walks) {
        self.cache
            .insert(prefix.from.clone(), (walks, Instant::now()));
    }
}

/// 1 when more than [`BROAD`] members older than `before` have the prefix in their username,
/// 2 when in their display name (the first BROAD of each range stepped over inside the
/// database): one statement for both keys.
pub fn broad<'q>(prefix: &'q Prefix, before: i64) -> impl Statement<'q, i32> + 'q {
    within!(users::username_key, prefix, before)
        .select(Literal::<1>)
        .offset(BROAD)
        .limit(1)
        .union_all(
            within!(users::display_name_key, prefix, before)
                .select(Literal::<2>)
                .offset(BROAD)
                .limit(1),
        )
}

/// How a search for `prefix` (longer than [`HEAD`]) reads each key.
pub fn walks(conn: &mut DbConn, prefix: &Prefix, before: i64) -> QueryResult<Walks> {
    let broad = load(conn, broad(prefix, before))?;
    let walk = |key| {
        if broad.contains(&key) {
            Walk::Bucket
        } else {
            Walk::Range
        }
    };
    Ok(Walks {
        by_username: walk(1),
        by_name: walk(2),
    })
}

/// A key's range walk: the newest `limit` of the members whose `$key` starts with the prefix,
/// kept by the database itself (`id + 0` is not the primary key, so it reads the key's index
/// rather than walk every member looking for a rare name).
macro_rules! range {
    ($key:expr, $prefix:expr, $before:expr, $limit:expr, $bucket:expr) => {
        within!($key, $prefix, $before)
            .select(matched.field(users::id))
            .order((matched.field(users::id) + 0).desc())
            .limit($limit)
    };
}

/// The members older than `before` whose `$key` starts with `$head`, of `$bucket` characters:
/// a bucket's index, newest first.
macro_rules! heads {
    ($key:expr, $head:expr, $before:expr, $bucket:expr) => {
        matched
            .filter(
                substr(
                    matched.field($key).nullable(),
                    Literal::<1>,
                    Literal::<$bucket>,
                )
                .eq($head),
            )
            .filter(matched.field(users::id).lt($before))
            .filter(matched.field(users::suspended_at).is_null())
    };
}

/// A key's bucket: the newest `limit` of the members whose `$key` starts with a prefix of
/// `$bucket` characters, the bucket's own.
macro_rules! head {
    ($key:expr, $prefix:expr, $before:expr, $limit:expr, $bucket:expr) => {
        heads!($key, &$prefix.from, $before, $bucket)
            .select(matched.field(users::id))
            .order(matched.field(users::id).desc())
            .limit($limit)
    };
}

/// A key's bucket walk: the members whose `$key` starts with the prefix's first `$bucket`
/// characters, newest first, until `limit` have the whole prefix. The prefix itself is
/// compared so that no index serves it ([`StartsUnindexed`]), or the database could choose the
/// key's range instead.
macro_rules! bucket {
    ($key:expr, $prefix:expr, $before:expr, $limit:expr, $bucket:expr) => {{
        let head: String = $prefix.from.chars().take(usize::from($bucket)).collect();
        heads!($key, head, $before, $bucket)
            .filter(StartsUnindexed::new(matched.field($key), $prefix))
            .select(matched.field(users::id))
            .order(matched.field(users::id).desc())
            .limit($limit)
    }};
}

/// One search statement per choice of walks: the newest `limit` members older than `before`
/// with the prefix in either key, and their rows. `B` is the bucket's length: the prefix's own
/// for [`in_heads`], [`HEAD`] for the walks of a longer prefix.
macro_rules! search {
    ($(#[$doc:meta])* $name:ident, $by_username:ident, $by_name:ident) => {
        $(#[$doc])*
        pub fn $name<'q, const B: u8>(
            prefix: &'q Prefix,
            before: i64,
            limit: i64,
        ) -> impl Statement<'q, Member> + 'q {
            let ids = $by_username!(users::username_key, prefix, before, limit, B)
                .union($by_name!(users::display_name_key, prefix, before, limit, B));
            users::table
                .filter(users::id.eq_any(ids))
                .order(users::id.desc())
                .limit(limit)
                .select(COLUMNS)
        }
    };
}

search!(
    /// Both keys' buckets of the prefix itself: a prefix of one to [`HEAD`] characters.
    in_heads, head, head
);
search!(
    /// Both keys' ranges: a prefix at most [`BROAD`] members share by either.
    in_ranges, range, range
);
search!(
    /// Both keys' buckets: a prefix broad by both keys.
    in_buckets, bucket, bucket
);
search!(
    /// The username's bucket and the name's range (`maria.`: every Maria's username, no name).
    username_bucket, bucket, range
);
search!(
    /// The name's bucket and the username's range.
    name_bucket, range, bucket
);

/// The newest `limit` members older than `before`, without a prefix.
pub fn page(before: i64, limit: i64) -> impl Statement<'static, Member> {
    users::table
        .filter(users::id.lt(before))
        .filter(users::suspended_at.is_null())
        .order(users::id.desc())
        .limit(limit)
        .select(COLUMNS)
}

/// Up to `limit` members older than `before` (all when `None`), newest first: one statement,
/// two for a search longer than [`HEAD`] unless `recent` knows the prefix's walks.
pub fn newest(
    conn: &mut DbConn,
    before: Option<i64>,
    limit: i64,
    prefix: Option<&Prefix>,
    recent: Option<&RecentWalks>,
) -> QueryResult<Vec<Member>> {
    let first_page = before.is_none();
    let before = before.unwrap_or(i64::MAX);
    let Some(prefix) = prefix else {
        return load(conn, page(before, limit));
    };
    match prefix.chars() {
        1 => return load(conn, in_heads::<1>(prefix, before, limit)),
        2 => return load(conn, in_heads::<2>(prefix, before, limit)),
        3 => return load(conn, in_heads::<3>(prefix, before, limit)),
        4 => return load(conn, in_heads::<4>(prefix, before, limit)),
        5 => return load(conn, in_heads::<5>(prefix, before, limit)),
        6 => return load(conn, in_heads::<6>(prefix, before, limit)),
        7 => return load(conn, in_heads::<7>(prefix, before, limit)),
        8 => return load(conn, in_heads::<8>(prefix, before, limit)),
        9 => return load(conn, in_heads::<9>(prefix, before, limit)),
        10 => return load(conn, in_heads::<10>(prefix, before, limit)),
        11 => return load(conn, in_heads::<11>(prefix, before, limit)),
        12 => return load(conn, in_heads::<12>(prefix, before, limit)),
        _ => {}
    }
    const _: () = assert!(
        HEAD == 12,
        "a prefix of up to HEAD characters reads its own bucket"
    );
    let recent = recent.filter(|_| first_page);
    let walks = match recent.and_then(|r| r.get(prefix)) {
        Some(walks) => walks,
        None => {
            let walks = walks(conn, prefix, before)?;
            if let Some(recent) = recent {
                recent.put(prefix, walks);
            }
            walks
        }
    };
    match (walks.by_username, walks.by_name) {
        (Walk::Range, Walk::Range) => load(conn, in_ranges::<12>(prefix, before, limit)),
        (Walk::Bucket, Walk::Bucket) => load(conn, in_buckets::<12>(prefix, before, limit)),
        (Walk::Bucket, Walk::Range) => load(conn, username_bucket::<12>(prefix, before, limit)),
        (Walk::Range, Walk::Bucket) => load(conn, name_bucket::<12>(prefix, before, limit)),
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
        assert!(kept(in_ranges::<2>(&prefix, 5, 21)));
        assert!(kept(in_heads::<1>(&prefix, 5, 21)));
        assert!(kept(in_heads::<5>(&prefix, 5, 21)));
        assert!(kept(in_heads::<12>(&prefix, 5, 21)));
        assert!(kept(in_buckets::<12>(&prefix, 5, 21)));
        assert!(kept(in_ranges::<12>(&prefix, 5, 21)));
        assert!(kept(username_bucket::<12>(&prefix, 5, 21)));
        assert!(kept(name_bucket::<12>(&prefix, 5, 21)));
    }

    #[test]
    fn a_literal_is_written_into_the_sql() {
        let prefix = Prefix::parse(Some("ma")).expect("a prefix");
        let sql = diesel::debug_query::<Sqlite, _>(&in_heads::<2>(&prefix, 5, 21)).to_string();
        assert!(
            sql.contains("substr(`matched`.`username_key`, 1, 2) = ?"),
            "{sql}"
        );
    }

    #[test]
    fn a_bucket_walk_tests_the_whole_prefix_where_no_index_serves_it() {
        let prefix = Prefix::parse(Some("maria.garcia12")).expect("a prefix");
        let query = username_bucket::<12>(&prefix, 5, 21);
        let sqlite = diesel::debug_query::<Sqlite, _>(&query).to_string();
        assert!(
            sqlite.contains("substr(`matched`.`username_key`, 1, 12) = ?")
                && sqlite
                    .contains("(+`matched`.`username_key` >= ? AND +`matched`.`username_key` < ?)"),
            "{sqlite}"
        );
        let pg = diesel::debug_query::<Pg, _>(&query).to_string();
        assert!(
            pg.contains(r#"(substr("matched"."username_key", 1, $3) = $4)"#),
            "{pg}"
        );
    }
}

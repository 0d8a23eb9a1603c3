//! The `access_tokens` table: personal access tokens for the JSON API, kept as hashes.
//!
//! Live means not expired (`expires_at` NULL or later than now). A revoked token's row is
//! deleted, so revoked and unknown tokens are the same to [`authenticate`].

use diesel::prelude::*;

use super::schema::access_tokens as t;
use super::{DbConn, users, write_transaction};
use crate::domain::{Scope, TokenName};

/// Live tokens one account may hold; past it, one must be revoked before another is made.
pub const MAX_LIVE_PER_USER: i64 = 50;

/// A token's use is written at most this often, so API reads are not each a write.
pub const TOUCH_EVERY_SECS: i64 = 60;

/// A token as its owner's account page lists it (never the token itself: only its hash is
/// stored, and that is not read back).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = t)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// A live token's owner and scope, as the API needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub token_id: i64,
    pub user_id: i64,
    pub scope: Scope,
    pub last_used_at: Option<i64>,
}

impl Grant {
    /// Whether [`touch`] would write now: callers skip the call (and its connection) when not.
    pub fn needs_touch(&self, now: i64) -> bool {
        self.last_used_at
            .is_none_or(|last| last < now - TOUCH_EVERY_SECS)
    }
}

/// Stores a new token's hash; returns its id. No limit is checked (see [`create_within_limit`]).
pub fn create(
    conn: &mut DbConn,
    user_id: i64,
    name: &TokenName,
    scope: Scope,
    expires_at: Option<i64>,
    hash: &str,
    now: i64,
) -> QueryResult<i64> {
    diesel::insert_into(t::table)
        .values((
            t::user_id.eq(user_id),
            t::name.eq(name.as_str()),
            t::scope.eq(scope.as_str()),
            t::token_hash.eq(hash),
            t::created_at.eq(now),
            t::expires_at.eq(expires_at),
        ))
        .returning(t::id)
        .get_result(conn)
}

/// What [`create_within_limit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Token(i64),
    /// The account already has [`MAX_LIVE_PER_USER`] live tokens; nothing was stored.
    TooMany,
}

/// Stores a new token unless the account has used up its live tokens. Counting and storing
/// are one transaction, with the user's row locked on PostgreSQL (SQLite's write transaction
/// holds its one lock), so two requests at once cannot both pass the count.
pub fn create_within_limit(
    conn: &mut DbConn,
    user_id: i64,
    name: &TokenName,
    scope: Scope,
    expires_at: Option<i64>,
    hash: &str,
    now: i64,
) -> QueryResult<Created> {
    write_transaction(conn, |conn| {
        users::find_locked(conn, user_id)?;
        if count_live(conn, user_id, now)? >= MAX_LIVE_PER_USER {
            return Ok(Created::TooMany);
        }
        create(conn, user_id, name, scope, expires_at, hash, now).map(Created::Token)
    })
}

/// The account's live tokens.
pub fn count_live(conn: &mut DbConn, user_id: i64, now: i64) -> QueryResult<i64> {
    t::table
        .filter(t::user_id.eq(user_id))
        .filter(t::expires_at.is_null().or(t::expires_at.gt(now)))
        .count()
        .get_result(conn)
}

/// The account's tokens, newest first; expired ones too, until `folio gc` purges them, so the
/// page can say they expired.
pub fn list(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<TokenRow>> {
    t::table
        .filter(t::user_id.eq(user_id))
        .order((t::created_at.desc(), t::id.desc()))
        .select(TokenRow::as_select())
        .load(conn)
}

/// Revokes one of the user's own tokens (another user's id changes nothing): whether one went.
pub fn revoke(conn: &mut DbConn, user_id: i64, token_id: i64) -> QueryResult<bool> {
    let n = diesel::delete(
        t::table
            .filter(t::id.eq(token_id))
            .filter(t::user_id.eq(user_id)),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// Revokes every token of the account (a password reset, a suspension).
pub fn revoke_all(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(t::table.filter(t::user_id.eq(user_id))).execute(conn)
}

/// The live token with this hash.
pub fn authenticate(conn: &mut DbConn, hash: &str, now: i64) -> QueryResult<Option<Grant>> {
    let row: Option<(i64, i64, String, Option<i64>)> = t::table
        .filter(t::token_hash.eq(hash))
        .filter(t::expires_at.is_null().or(t::expires_at.gt(now)))
        .select((t::id, t::user_id, t::scope, t::last_used_at))
        .get_result(conn)
        .optional()?;
    // The CHECK constraint allows only the two scopes; anything else grants nothing.
    Ok(row.and_then(|(token_id, user_id, scope, last_used_at)| {
        Some(Grant {
            token_id,
            user_id,
            scope: Scope::parse(&scope)?,
            last_used_at,
        })
    }))
}

/// Records a use, but writes only when the recorded one is older than [`TOUCH_EVERY_SECS`]
/// (so API reads are not each a database write); callers skip the call when
/// [`Grant::needs_touch`] says so.
pub fn touch(conn: &mut DbConn, token_id: i64, now: i64) -> QueryResult<()> {
    diesel::update(
        t::table.filter(t::id.eq(token_id)).filter(
            t::last_used_at
                .is_null()
                .or(t::last_used_at.lt(now - TOUCH_EVERY_SECS)),
        ),
    )
    .set(t::last_used_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Expired tokens work no more: their rows go (for `folio gc`).
pub fn purge_expired(conn: &mut DbConn, now: i64) -> QueryResult<usize> {
    diesel::delete(t::table.filter(t::expires_at.le(now))).execute(conn)
}

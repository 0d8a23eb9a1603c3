//! The `email_tokens` table: the live one-time links, one per account and purpose.

use diesel::prelude::*;

use super::DbConn;
use super::lower;
use super::schema::email_tokens as t;
use crate::domain::{LINK_LIFETIME_SECS, Purpose, TokenHash};

/// Whom a link is for, and the address it was sent to.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = t)]
pub struct Link {
    pub user_id: i64,
    pub email: String,
}

/// Stores the link just sent to `email`; the account's older link of this purpose, if any,
/// stops working.
pub fn issue(
    conn: &mut DbConn,
    user_id: i64,
    purpose: Purpose,
    hash: &TokenHash,
    email: &str,
    now: i64,
) -> QueryResult<()> {
    let values = (
        t::user_id.eq(user_id),
        t::purpose.eq(purpose.as_str()),
        t::token_hash.eq(hash.as_ref()),
        t::email.eq(email),
        t::created_at.eq(now),
        t::expires_at.eq(now + LINK_LIFETIME_SECS),
    );
    let replace = (
        t::token_hash.eq(hash.as_ref()),
        t::email.eq(email),
        t::created_at.eq(now),
        t::expires_at.eq(now + LINK_LIFETIME_SECS),
    );
    // An upsert, so two requests at once each leave one live link and neither fails; each
    // backend runs its own (diesel's `MultiConnection` has no upsert of its own).
    macro_rules! upsert {
        ($conn:expr) => {
            diesel::insert_into(t::table)
                .values(values)
                .on_conflict((t::user_id, t::purpose))
                .do_update()
                .set(replace)
                .execute($conn)
        };
    }
    match conn {
        DbConn::Postgres(pg) => upsert!(pg)?,
        DbConn::Sqlite(sqlite) => upsert!(sqlite)?,
    };
    Ok(())
}

/// Gives the account's confirmation link whose hash is `current` a new secret (`new`), an hour
/// from now: done as its mail is written, so the secret exists only in the mail. False when
/// that link is gone (used, withdrawn, or replaced by a newer request): the mail is moot.
pub fn renew(
    conn: &mut DbConn,
    user_id: i64,
    current: &TokenHash,
    new: &TokenHash,
    now: i64,
) -> QueryResult<bool> {
    let n = diesel::update(
        t::table
            .filter(t::token_hash.eq(current.as_ref()))
            .filter(t::user_id.eq(user_id))
            .filter(t::purpose.eq(Purpose::Confirm.as_str())),
    )
    .set((
        t::token_hash.eq(new.as_ref()),
        t::created_at.eq(now),
        t::expires_at.eq(now + LINK_LIFETIME_SECS),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Withdraws a change of address waiting for its link (a password changed or reset: whoever
/// asked for the change may not be the owner).
pub fn revoke_changes(conn: &mut DbConn, user_id: i64, current_email: &str) -> QueryResult<()> {
    diesel::delete(
        t::table
            .filter(t::user_id.eq(user_id))
            .filter(t::purpose.eq(Purpose::Confirm.as_str()))
            // ASCII by rule, so lowering is exact: a change of case is no change of address.
            .filter(lower(t::email).ne(current_email.to_ascii_lowercase())),
    )
    .execute(conn)?;
    Ok(())
}

/// The live link with this hash, without using it up (a page that shows a form).
pub fn find(
    conn: &mut DbConn,
    purpose: Purpose,
    hash: &TokenHash,
    now: i64,
) -> QueryResult<Option<Link>> {
    t::table
        .filter(t::token_hash.eq(hash.as_ref()))
        .filter(t::purpose.eq(purpose.as_str()))
        .filter(t::expires_at.gt(now))
        .select(Link::as_select())
        .get_result(conn)
        .optional()
}

/// Uses the link up: of two requests with one link, exactly one gets it.
pub fn consume(
    conn: &mut DbConn,
    purpose: Purpose,
    hash: &TokenHash,
    now: i64,
) -> QueryResult<Option<Link>> {
    diesel::delete(
        t::table
            .filter(t::token_hash.eq(hash.as_ref()))
            .filter(t::purpose.eq(purpose.as_str()))
            .filter(t::expires_at.gt(now)),
    )
    .returning(<Link as Selectable<diesel::sqlite::Sqlite>>::construct_selection())
    .get_result(conn)
    .optional()
}

pub fn purge_expired(conn: &mut DbConn, now: i64) -> QueryResult<usize> {
    diesel::delete(t::table.filter(t::expires_at.le(now))).execute(conn)
}

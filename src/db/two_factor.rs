//! The second factor's rows: the sealed TOTP secret (pending, then confirmed), the last step
//! whose code was taken, and the recovery codes' hashes. Each change to how an account signs
//! in is one transaction with the notice mailed about it.

use diesel::prelude::*;

use super::outbox;
use super::schema::{recovery_codes as rc, users};
use super::{DbConn, write_transaction};
use crate::domain::Notice;

/// The account's second factor as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct TwoFactor {
    /// Sealed; `Some` while two-factor sign-in is on.
    pub totp_secret: Option<String>,
    /// Sealed; a secret shown but not yet confirmed.
    pub totp_pending: Option<String>,
    pub totp_pending_at: Option<i64>,
}

pub fn state(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<TwoFactor>> {
    users::table
        .find(user_id)
        .select(TwoFactor::as_select())
        .get_result(conn)
        .optional()
}

/// Whether two-factor sign-in is on for the account.
pub fn is_on(conn: &mut DbConn, user_id: i64) -> QueryResult<bool> {
    Ok(state(conn, user_id)?.is_some_and(|s| s.totp_secret.is_some()))
}

/// Stores a new secret waiting for its first code (replacing any other waiting one).
pub fn set_pending(conn: &mut DbConn, user_id: i64, sealed: &str, now: i64) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::totp_pending.eq(sealed),
            users::totp_pending_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Turns two-factor sign-in on with the waiting secret `sealed` (still the waiting one: a
/// newer start in another tab makes this a no-op), whose code of `step` was just given; stores
/// the recovery codes' hashes and queues the notice. `false` if the secret was no longer the
/// waiting one.
pub fn enable(
    conn: &mut DbConn,
    user_id: i64,
    sealed: &str,
    step: i64,
    code_hashes: &[String],
    now: i64,
) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let n = diesel::update(
            users::table
                .find(user_id)
                .filter(users::totp_pending.eq(sealed)),
        )
        .set((
            users::totp_secret.eq(sealed),
            users::totp_pending.eq(None::<String>),
            users::totp_pending_at.eq(None::<i64>),
            users::totp_last_step.eq(step),
        ))
        .execute(conn)?;
        if n != 1 {
            return Ok(false);
        }
        store_codes(conn, user_id, code_hashes)?;
        outbox::notify(conn, user_id, Notice::TwoFactorOn, now)?;
        Ok(true)
    })
}

/// Turns two-factor sign-in off: the secret and the recovery codes go.
pub fn disable(conn: &mut DbConn, user_id: i64, now: i64) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        diesel::update(users::table.find(user_id))
            .set((
                users::totp_secret.eq(None::<String>),
                users::totp_pending.eq(None::<String>),
                users::totp_pending_at.eq(None::<i64>),
                users::totp_last_step.eq(None::<i64>),
            ))
            .execute(conn)?;
        diesel::delete(rc::table.filter(rc::user_id.eq(user_id))).execute(conn)?;
        outbox::notify(conn, user_id, Notice::TwoFactorOff, now)
    })
}

/// A new set of recovery codes; the old set is void.
pub fn replace_codes(
    conn: &mut DbConn,
    user_id: i64,
    code_hashes: &[String],
    now: i64,
) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        store_codes(conn, user_id, code_hashes)?;
        outbox::notify(conn, user_id, Notice::RecoveryCodes, now)
    })
}

fn store_codes(conn: &mut DbConn, user_id: i64, code_hashes: &[String]) -> QueryResult<()> {
    diesel::delete(rc::table.filter(rc::user_id.eq(user_id))).execute(conn)?;
    // One row at a time: a batch insert does not cross `DbConn`'s two backends (ten rows).
    for hash in code_hashes {
        diesel::insert_into(rc::table)
            .values((rc::user_id.eq(user_id), rc::code_hash.eq(hash)))
            .execute(conn)?;
    }
    Ok(())
}

/// Takes the code of `step`: `true` only if no code of this step or a later one was taken
/// before (one conditional update, so two instances cannot both take it).
pub fn take_step(conn: &mut DbConn, user_id: i64, step: i64) -> QueryResult<bool> {
    let n = diesel::update(
        users::table
            .find(user_id)
            .filter(users::totp_secret.is_not_null())
            .filter(
                users::totp_last_step
                    .is_null()
                    .or(users::totp_last_step.lt(step)),
            ),
    )
    .set(users::totp_last_step.eq(step))
    .execute(conn)?;
    Ok(n == 1)
}

/// Uses up the recovery code with this hash: `true` once, `false` ever after.
pub fn use_code(conn: &mut DbConn, user_id: i64, code_hash: &str, now: i64) -> QueryResult<bool> {
    let n = diesel::update(
        rc::table
            .filter(rc::user_id.eq(user_id))
            .filter(rc::code_hash.eq(code_hash))
            .filter(rc::used_at.is_null()),
    )
    .set(rc::used_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// Recovery codes not yet used.
pub fn codes_left(conn: &mut DbConn, user_id: i64) -> QueryResult<i64> {
    rc::table
        .filter(rc::user_id.eq(user_id))
        .filter(rc::used_at.is_null())
        .count()
        .get_result(conn)
}

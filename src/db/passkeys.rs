//! Passkeys and the WebAuthn ceremonies in progress. A ceremony's state lives in
//! `webauthn_challenges` (nothing in memory, so any instance can finish what another began)
//! and is taken once: the `DELETE … RETURNING` that reads it also removes it. Adding or
//! removing a passkey is one transaction with the notice mailed about it.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::outbox;
use super::schema::{passkeys as p, users, webauthn_challenges as c};
use super::{DbConn, write_transaction};
use crate::domain::Notice;

/// What a ceremony is for; stored as the row's `purpose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Register,
    Login,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Login => "login",
        }
    }
}

/// A passkey as stored: `credential` is webauthn-rs's `Passkey` as JSON, `credential_id`
/// its id in unpadded base64url.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = p)]
pub struct PasskeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub credential_id: String,
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A ceremony's state, as taken back.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub user_id: Option<i64>,
    pub state: String,
}

/// The user's passkeys, oldest first.
pub fn for_user(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<PasskeyRow>> {
    p::table
        .filter(p::user_id.eq(user_id))
        .order(p::id.asc())
        .select(PasskeyRow::as_select())
        .load(conn)
}

/// The account's WebAuthn user handle, if it has had a passkey.
pub fn handle(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<String>> {
    Ok(users::table
        .find(user_id)
        .select(users::webauthn_handle)
        .get_result::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Stores a ceremony's state until `expires_at`.
pub fn insert_challenge(
    conn: &mut DbConn,
    id: &str,
    user_id: Option<i64>,
    purpose: Purpose,
    state: &str,
    expires_at: i64,
) -> QueryResult<()> {
    diesel::insert_into(c::table)
        .values((
            c::id.eq(id),
            c::user_id.eq(user_id),
            c::purpose.eq(purpose.as_str()),
            c::state.eq(state),
            c::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Takes the ceremony `id` of `purpose`: it is gone after this whether or not it was still
/// good, so it can be finished once at most. `None` if there was none, or it had expired.
pub fn take_challenge(
    conn: &mut DbConn,
    id: &str,
    purpose: Purpose,
    now: i64,
) -> QueryResult<Option<Challenge>> {
    let taken: Option<(Option<i64>, String, i64)> = diesel::delete(
        c::table
            .filter(c::id.eq(id))
            .filter(c::purpose.eq(purpose.as_str())),
    )
    .returning((c::user_id, c::state, c::expires_at))
    .get_result(conn)
    .optional()?;
    Ok(taken
        .filter(|(_, _, expires_at)| *expires_at > now)
        .map(|(user_id, state, _)| Challenge { user_id, state }))
}

/// Removes the ceremonies that were never finished.
pub fn purge_expired_challenges(conn: &mut DbConn, now: i64) -> QueryResult<usize> {
    diesel::delete(c::table.filter(c::expires_at.le(now))).execute(conn)
}

/// Why a passkey was not added.
#[derive(Debug, PartialEq, Eq)]
pub enum AddRefused {
    /// That credential is registered already (to this account or another).
    Duplicate,
    /// The account's user handle is not the one the ceremony used (another ceremony gave
    /// the account its handle meanwhile).
    HandleChanged,
    /// The account is gone.
    NoAccount,
}

/// Adds a passkey to the account, giving the account the user handle `handle` if it has
/// none yet, and queues the notice: one transaction.
pub fn add(
    conn: &mut DbConn,
    user_id: i64,
    handle: &str,
    name: &str,
    credential_id: &str,
    credential: &str,
    now: i64,
) -> QueryResult<Result<i64, AddRefused>> {
    let result = write_transaction(conn, |conn| {
        diesel::update(
            users::table
                .find(user_id)
                .filter(users::webauthn_handle.is_null()),
        )
        .set(users::webauthn_handle.eq(handle))
        .execute(conn)?;
        let Some(current) = users::table
            .find(user_id)
            .select(users::webauthn_handle)
            .get_result::<Option<String>>(conn)
            .optional()?
        else {
            return Ok(Err(AddRefused::NoAccount));
        };
        if current.as_deref() != Some(handle) {
            return Ok(Err(AddRefused::HandleChanged));
        }
        let id = diesel::insert_into(p::table)
            .values((
                p::user_id.eq(user_id),
                p::name.eq(name),
                p::credential_id.eq(credential_id),
                p::credential.eq(credential),
                p::created_at.eq(now),
            ))
            .returning(p::id)
            .get_result::<i64>(conn)?;
        outbox::notify(conn, user_id, Notice::PasskeyAdded, now)?;
        Ok(Ok(id))
    });
    match result {
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            Ok(Err(AddRefused::Duplicate))
        }
        other => other,
    }
}

/// What a sign-in needs of a passkey and its account.
#[derive(Debug, Clone)]
pub struct ForLogin {
    pub passkey: PasskeyRow,
    pub handle: Option<String>,
    pub session_epoch: i64,
    pub suspended_at: Option<i64>,
    pub suspension_reason: Option<String>,
}

/// An account's handle, session epoch and suspension.
type Account = (Option<String>, i64, Option<i64>, Option<String>);

/// The passkey with this credential id, and its account.
pub fn for_login(conn: &mut DbConn, credential_id: &str) -> QueryResult<Option<ForLogin>> {
    let Some(passkey) = p::table
        .filter(p::credential_id.eq(credential_id))
        .select(PasskeyRow::as_select())
        .get_result(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let account: Option<Account> = users::table
        .find(passkey.user_id)
        .select((
            users::webauthn_handle,
            users::session_epoch,
            users::suspended_at,
            users::suspension_reason,
        ))
        .get_result(conn)
        .optional()?;
    Ok(account.map(
        |(handle, session_epoch, suspended_at, suspension_reason)| ForLogin {
            passkey,
            handle,
            session_epoch,
            suspended_at,
            suspension_reason,
        },
    ))
}

/// Records a sign-in with the passkey: its credential as updated (the signature counter),
/// and when. `false` if the passkey was removed meanwhile.
pub fn record_use(
    conn: &mut DbConn,
    id: i64,
    credential: Option<&str>,
    now: i64,
) -> QueryResult<bool> {
    let target = p::table.find(id);
    let n = match credential {
        Some(credential) => diesel::update(target)
            .set((p::credential.eq(credential), p::last_used_at.eq(now)))
            .execute(conn)?,
        None => diesel::update(target)
            .set(p::last_used_at.eq(now))
            .execute(conn)?,
    };
    Ok(n == 1)
}

/// Removes one of the user's passkeys and queues the notice. `false` if the user has no
/// passkey of that id.
pub fn remove(conn: &mut DbConn, user_id: i64, id: i64, now: i64) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let n = diesel::delete(p::table.find(id).filter(p::user_id.eq(user_id))).execute(conn)?;
        if n != 1 {
            return Ok(false);
        }
        outbox::notify(conn, user_id, Notice::PasskeyRemoved, now)?;
        Ok(true)
    })
}

//! What each mailed link does, each in one transaction with the mail it queues: a link is
//! stored if and only if its mail is queued, and a change is made if and only if its notice is.

use crate::db::users::{self, User};
use crate::db::{DbConn, DbError, outbox, tokens, write_transaction};
use crate::domain::{Email, LinkToken, Purpose, TokenHash};

use super::letters::{Kind, Letters, partly_hidden};

/// Queues a reset link for the account that uses `email`, if one does; nothing otherwise.
/// The caller answers the same either way.
pub fn send_reset(conn: &mut DbConn, letters: &Letters, email: &Email) -> Result<(), DbError> {
    write_transaction(conn, |conn| {
        let Some(user) = users::find_by_email(conn, email)? else {
            return Ok(());
        };
        issue(
            conn,
            letters,
            &user,
            Purpose::Reset,
            &Kind::Reset,
            &user.email,
        )
    })
}

/// Queues a link that confirms `address` for `user`: the account's own address (`Welcome`, or
/// a resend) or the one it wants to move to (`ConfirmChange`). A newer link voids the older.
pub fn send_confirmation(
    conn: &mut DbConn,
    letters: &Letters,
    user: &User,
    address: &str,
) -> Result<(), DbError> {
    let kind = if address == user.email {
        Kind::Welcome
    } else {
        Kind::ConfirmChange
    };
    write_transaction(conn, |conn| {
        issue(conn, letters, user, Purpose::Confirm, &kind, address)
    })
}

fn issue(
    conn: &mut DbConn,
    letters: &Letters,
    user: &User,
    purpose: Purpose,
    kind: &Kind,
    address: &str,
) -> Result<(), DbError> {
    let token = LinkToken::generate();
    let now = crate::db::now();
    tokens::issue(conn, user.id, purpose, &token.hash(), address, now)?;
    let path = match purpose {
        Purpose::Reset => format!("/password/reset/{}", token.as_str()),
        Purpose::Confirm => format!("/email/confirm/{}", token.as_str()),
    };
    let mail = letters.write(kind, user, address, Some(&path))?;
    outbox::enqueue(conn, &mail, now)?;
    Ok(())
}

/// Whether a reset link still works (for the page that shows its form): live, and sent to the
/// address the account still has.
pub fn reset_link_works(conn: &mut DbConn, hash: &TokenHash) -> Result<bool, DbError> {
    let Some(link) = tokens::find(conn, Purpose::Reset, hash, crate::db::now())? else {
        return Ok(false);
    };
    Ok(users::find(conn, link.user_id)?.is_some_and(|u| u.email == link.email))
}

/// Uses a reset link: the new password is stored, every session of the account ends, and the
/// address the link went to is confirmed. Returns (user id, new session epoch), or `None` when
/// the link is used, expired, unknown, or went to an address the account no longer has.
pub fn reset_password(
    conn: &mut DbConn,
    hash: &TokenHash,
    password_hash: &str,
) -> Result<Option<(i64, i64)>, DbError> {
    write_transaction(conn, |conn| {
        let Some(link) = tokens::consume(conn, Purpose::Reset, hash, crate::db::now())? else {
            return Ok(None);
        };
        let user = users::find(conn, link.user_id)?;
        if user.is_none_or(|u| u.email != link.email) {
            return Ok(None);
        }
        let epoch = users::set_password(conn, link.user_id, password_hash)?;
        users::confirm_email(conn, link.user_id, &link.email)?;
        Ok(Some((link.user_id, epoch)))
    })
}

/// What a confirmation link did.
#[derive(Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// The account's own address is confirmed.
    Address { user_id: i64 },
    /// The account's address is now the new one; the old one has been told.
    Changed { user_id: i64 },
    /// The link is used, expired or unknown.
    Invalid,
}

/// Uses a confirmation link. A new address that another account has taken meanwhile is
/// `DbError::EmailTaken`, and the link stays unused.
pub fn confirm(
    conn: &mut DbConn,
    letters: &Letters,
    hash: &TokenHash,
) -> Result<Confirmed, DbError> {
    write_transaction(conn, |conn| {
        let Some(link) = tokens::consume(conn, Purpose::Confirm, hash, crate::db::now())? else {
            return Ok(Confirmed::Invalid);
        };
        let Some(old) = users::confirm_email(conn, link.user_id, &link.email)? else {
            return Ok(Confirmed::Invalid);
        };
        if old == link.email {
            return Ok(Confirmed::Address {
                user_id: link.user_id,
            });
        }
        // A reset link mailed to the old address no longer works (it names that address).
        let Some(user) = users::find(conn, link.user_id)? else {
            return Ok(Confirmed::Invalid);
        };
        let notice = Kind::AddressChanged {
            new_address: partly_hidden(&link.email),
        };
        let mail = letters.write(&notice, &user, &old, None)?;
        outbox::enqueue(conn, &mail, crate::db::now())?;
        tracing::info!(user_id = user.id, "email address changed");
        Ok(Confirmed::Changed {
            user_id: link.user_id,
        })
    })
}

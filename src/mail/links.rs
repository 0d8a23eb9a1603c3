//! What each mailed link does, and the mails that carry them. Each step is one transaction
//! with the mail it queues: a link is stored if and only if its mail is queued, and a change is
//! made if and only if its notice is. The mail itself (and the link's secret) is written only
//! when it is sent ([`write`]).

use crate::db::outbox::{self, Claimed, Job};
use crate::db::users::{self, User};
use crate::db::{DbConn, DbError, access_tokens, throttle, tokens, write_transaction};
use crate::domain::{Action, Email, LinkToken, Purpose, TokenHash, Username, same_mailbox};

use super::letters::{Kind, Letters, partly_hidden};

/// Queues a reset link for whichever account uses `email` when the mail is sent: the same
/// work now whether or not one does, so neither the answer nor its timing tells.
pub fn request_reset(conn: &mut DbConn, email: &Email) -> Result<(), DbError> {
    let job = Job::Reset {
        address: email.as_ref().to_owned(),
    };
    outbox::enqueue(conn, &job, crate::db::now())?;
    Ok(())
}

/// Queues a link that confirms `address` for the account: its own address (after
/// registering, or sent again) or the one it wants to move to. A newer link voids the older,
/// from now: the link's row is made now (so the account page can say what is waiting), with a
/// secret that nobody has; its mail gives it a real one.
pub fn request_confirmation(conn: &mut DbConn, user_id: i64, address: &str) -> Result<(), DbError> {
    write_transaction(conn, |conn| queue_confirmation(conn, user_id, address))
}

fn queue_confirmation(conn: &mut DbConn, user_id: i64, address: &str) -> Result<(), DbError> {
    let now = crate::db::now();
    let link = LinkToken::generate().hash();
    tokens::issue(conn, user_id, Purpose::Confirm, &link, address, now)?;
    let job = Job::Confirm {
        user_id,
        address: address.to_owned(),
        link,
    };
    outbox::enqueue(conn, &job, now)?;
    Ok(())
}

/// What the username-and-email form changes.
pub enum DetailsChange<'a> {
    /// The same address (or only its case changed): saved as typed; a change waiting for its
    /// link is withdrawn.
    SameAddress(&'a Email),
    /// A new address: it waits for the link mailed to it; the account keeps its address.
    NewAddress(&'a Email),
}

/// Saves the username and, for a new address, queues its link: one transaction.
pub fn change_details(
    conn: &mut DbConn,
    user: &User,
    username: &Username,
    change: &DetailsChange,
) -> Result<(), DbError> {
    write_transaction(conn, |conn| match change {
        DetailsChange::SameAddress(email) => {
            users::update_profile(conn, user.id, username, email.as_ref())?;
            tokens::revoke_changes(conn, user.id, email.as_ref())?;
            Ok(())
        }
        DetailsChange::NewAddress(email) => {
            users::update_profile(conn, user.id, username, &user.email)?;
            queue_confirmation(conn, user.id, email.as_ref())
        }
    })
}

/// Whom a reset link is for, while it still works (for the page that shows its form): live,
/// and sent to the address the account still has.
pub fn reset_link_user(conn: &mut DbConn, hash: &TokenHash) -> Result<Option<User>, DbError> {
    let Some(link) = tokens::find(conn, Purpose::Reset, hash, crate::db::now())? else {
        return Ok(None);
    };
    Ok(users::find(conn, link.user_id)?.filter(|u| u.email == link.email))
}

/// Uses a reset link: the new password is stored, every session and access token of the
/// account ends (and a change of address waiting for its link is withdrawn), the address the
/// link went to is confirmed, and the account's failed logins are forgiven. Returns (user id, new session
/// epoch), or `None` when the link is used, expired, unknown, or went to an address the
/// account no longer has.
pub fn reset_password(
    conn: &mut DbConn,
    hash: &TokenHash,
    password_hash: &str,
) -> Result<Option<(i64, i64)>, DbError> {
    write_transaction(conn, |conn| {
        let Some(link) = tokens::consume(conn, Purpose::Reset, hash, crate::db::now())? else {
            return Ok(None);
        };
        // Locked, so a change of address confirmed at this moment waits for this decision.
        let user = users::find_locked(conn, link.user_id)?;
        if user.is_none_or(|u| u.email != link.email) {
            return Ok(None);
        }
        let epoch = users::set_password(conn, link.user_id, password_hash)?;
        outbox::notify(
            conn,
            link.user_id,
            crate::domain::Notice::PasswordReset,
            crate::db::now(),
        )?;
        // Whoever made the reset necessary may have made tokens too.
        access_tokens::revoke_all(conn, link.user_id)?;
        users::mark_confirmed(conn, link.user_id)?;
        // With two-factor sign-in on, the code is still to come: its wrong guesses stay counted.
        if !crate::db::two_factor::is_on(conn, link.user_id)? {
            throttle::clear_account(conn, &format!("user:{}", link.user_id))?;
        }
        Ok(Some((link.user_id, epoch)))
    })
}

/// Whether a confirmation link would work, without using it up.
pub fn confirmation_link_works(conn: &mut DbConn, hash: &TokenHash) -> Result<bool, DbError> {
    Ok(tokens::find(conn, Purpose::Confirm, hash, crate::db::now())?.is_some())
}

/// What a confirmation link did.
#[derive(Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// The account's own address is confirmed.
    Address,
    /// The account's address is now the new one; the old one will be told.
    Changed,
    /// The link is used, expired or unknown.
    Invalid,
}

/// Uses a confirmation link. A new address that another account has taken meanwhile is
/// `DbError::EmailTaken`, and the link stays unused.
pub fn confirm(conn: &mut DbConn, hash: &TokenHash) -> Result<Confirmed, DbError> {
    write_transaction(conn, |conn| {
        let now = crate::db::now();
        let Some(link) = tokens::consume(conn, Purpose::Confirm, hash, now)? else {
            return Ok(Confirmed::Invalid);
        };
        let Some(user) = users::find_locked(conn, link.user_id)? else {
            return Ok(Confirmed::Invalid);
        };
        // The same mailbox, whatever the case of its letters.
        if same_mailbox(&user.email, &link.email) {
            users::mark_confirmed(conn, user.id)?;
            return Ok(Confirmed::Address);
        }
        users::change_email(conn, user.id, &link.email)?;
        let notice = Job::AddressChanged {
            user_id: user.id,
            old_address: user.email.clone(),
            new_address: partly_hidden(&link.email),
        };
        outbox::enqueue(conn, &notice, now)?;
        tracing::info!(user_id = user.id, "email address changed");
        Ok(Confirmed::Changed)
    })
}

/// A mail ready to go: its recipient and the formatted message.
pub struct Written {
    pub recipient: String,
    pub message: Vec<u8>,
}

/// Writes the claimed mail, making its link now; `None` when it is no longer wanted (the
/// account is gone or no longer uses the address, or a newer link replaced this one). Each
/// attempt makes a new link, which voids the one an earlier, failed attempt made.
pub fn write(
    conn: &mut DbConn,
    letters: &Letters,
    claimed: &Claimed,
) -> Result<Option<Written>, DbError> {
    let Some(job) = &claimed.job else {
        return Ok(None);
    };
    write_transaction(conn, |conn| {
        let now = crate::db::now();
        let (user, recipient, kind, link) = match job {
            Job::Reset { address } => {
                let Some(email) = Email::parse(address).ok() else {
                    return Ok(None);
                };
                // A suspended account is not sent a way back in.
                let Some(user) =
                    users::find_by_email(conn, &email)?.filter(|u| u.suspended_at.is_none())
                else {
                    return Ok(None);
                };
                let token = LinkToken::generate();
                tokens::issue(
                    conn,
                    user.id,
                    Purpose::Reset,
                    &token.hash(),
                    &user.email,
                    now,
                )?;
                let path = format!("/password/reset/{}", token.as_str());
                let recipient = user.email.clone();
                (user, recipient, Kind::Reset, Some(path))
            }
            Job::Confirm {
                user_id,
                address,
                link,
            } => {
                let Some(user) = users::find(conn, *user_id)? else {
                    return Ok(None);
                };
                let token = LinkToken::generate();
                if !tokens::renew(conn, *user_id, link, &token.hash(), now)? {
                    return Ok(None);
                }
                outbox::relink(conn, claimed, &token.hash())?;
                let kind = if same_mailbox(&user.email, address) {
                    Kind::Welcome
                } else {
                    Kind::ConfirmChange
                };
                let path = format!("/email/confirm/{}", token.as_str());
                (user, address.clone(), kind, Some(path))
            }
            Job::AddressChanged {
                user_id,
                old_address,
                new_address,
            } => {
                let Some(user) = users::find(conn, *user_id)? else {
                    return Ok(None);
                };
                let kind = Kind::AddressChanged {
                    new_address: new_address.clone(),
                };
                (user, old_address.clone(), kind, None)
            }
            Job::Security {
                user_id,
                address,
                notice,
            } => {
                let Some(user) = users::find(conn, *user_id)? else {
                    return Ok(None);
                };
                (user, address.clone(), Kind::Security(*notice), None)
            }
            Job::Moderation {
                user_id,
                address,
                action,
                reason,
            } => {
                let (Some(user), Some(action)) =
                    (users::find(conn, *user_id)?, Action::parse(action))
                else {
                    return Ok(None);
                };
                let kind = Kind::Moderation {
                    action,
                    reason: reason.clone(),
                };
                (user, address.clone(), kind, None)
            }
        };
        let message = letters.write(&kind, &user, &recipient, link.as_deref())?;
        Ok(Some(Written { recipient, message }))
    })
}

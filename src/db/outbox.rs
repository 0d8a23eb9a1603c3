//! The `outbox` table: mails waiting to be sent. A mail is queued in the same transaction as
//! what it tells of, so it is sent if and only if that happened; a restart loses none, and a
//! claim keeps two senders (two instances) from sending one mail twice.
//!
//! A row says what to write, not the mail: a mail with a link is written when it is sent,
//! with a link made then, so no link's secret ever waits here.

use diesel::prelude::*;

use super::schema::outbox as o;
use super::{DbConn, write_transaction};
use crate::domain::{Notice, TokenHash};

/// What a queued mail is to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// A reset link for the account that uses `address`, if one still does when it is sent.
    Reset { address: String },
    /// The account's confirmation link for `address`, whose row has the hash `link` now.
    Confirm {
        user_id: i64,
        address: String,
        link: TokenHash,
    },
    /// To the old address: the account's address is now `new_address` (partly hidden).
    AddressChanged {
        user_id: i64,
        old_address: String,
        new_address: String,
    },
    /// To the account's address: how it signs in changed.
    Security {
        user_id: i64,
        address: String,
        notice: Notice,
    },
    /// To the member: what a moderator did (`action`, as stored) and why.
    Moderation {
        user_id: i64,
        address: String,
        action: String,
        reason: String,
    },
}

/// A queued mail that one sender has claimed; `attempts` fences the claim.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub attempts: i32,
    /// `None`: a row this version cannot read (it is dropped).
    pub job: Option<Job>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = o)]
struct Row {
    id: i64,
    kind: String,
    recipient: String,
    user_id: Option<i64>,
    link_hash: Option<String>,
    detail: Option<String>,
    attempts: i32,
}

impl Row {
    fn job(self) -> Option<Job> {
        Some(match self.kind.as_str() {
            "reset" => Job::Reset {
                address: self.recipient,
            },
            "confirm" => Job::Confirm {
                user_id: self.user_id?,
                address: self.recipient,
                link: TokenHash::from_stored(self.link_hash?),
            },
            "address_changed" => Job::AddressChanged {
                user_id: self.user_id?,
                old_address: self.recipient,
                new_address: self.detail?,
            },
            "security" => Job::Security {
                user_id: self.user_id?,
                address: self.recipient,
                notice: Notice::parse(&self.detail?)?,
            },
            "moderation" => {
                let (action, reason) = self
                    .detail?
                    .split_once('\n')
                    .map(|(a, r)| (a.to_owned(), r.to_owned()))?;
                Job::Moderation {
                    user_id: self.user_id?,
                    address: self.recipient,
                    action,
                    reason,
                }
            }
            _ => return None,
        })
    }
}

/// Queues the notice of a change to how `user_id` signs in, to the account's address now.
pub fn notify(conn: &mut DbConn, user_id: i64, notice: Notice, now: i64) -> QueryResult<()> {
    use super::schema::users;
    let address: Option<String> = users::table
        .find(user_id)
        .select(users::email)
        .get_result(conn)
        .optional()?;
    match address {
        Some(address) => enqueue(
            conn,
            &Job::Security {
                user_id,
                address,
                notice,
            },
            now,
        ),
        None => Ok(()),
    }
}

pub fn enqueue(conn: &mut DbConn, job: &Job, now: i64) -> QueryResult<()> {
    // The action's name has no line break, so the first one in the detail ends it.
    let moderation_detail;
    let (kind, recipient, user_id, link_hash, detail) = match job {
        Job::Reset { address } => ("reset", address, None, None, None),
        Job::Security {
            user_id,
            address,
            notice,
        } => (
            "security",
            address,
            Some(*user_id),
            None,
            Some(notice.as_str()),
        ),
        Job::Moderation {
            user_id,
            address,
            action,
            reason,
        } => {
            moderation_detail = format!("{action}\n{reason}");
            (
                "moderation",
                address,
                Some(*user_id),
                None,
                Some(moderation_detail.as_str()),
            )
        }
        Job::Confirm {
            user_id,
            address,
            link,
        } => (
            "confirm",
            address,
            Some(*user_id),
            Some(link.as_ref()),
            None,
        ),
        Job::AddressChanged {
            user_id,
            old_address,
            new_address,
        } => (
            "address_changed",
            old_address,
            Some(*user_id),
            None,
            Some(new_address.as_str()),
        ),
    };
    diesel::insert_into(o::table)
        .values((
            o::kind.eq(kind),
            o::recipient.eq(recipient),
            o::user_id.eq(user_id),
            o::link_hash.eq(link_hash),
            o::detail.eq(detail),
            o::created_at.eq(now),
            o::next_attempt_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Claims the oldest mail that is due, for `lease` seconds: no other sender takes it before
/// then, and if this one dies the mail becomes due again when the lease runs out.
pub fn claim(conn: &mut DbConn, now: i64, lease: i64) -> QueryResult<Option<Claimed>> {
    write_transaction(conn, |conn| {
        let due = o::table
            .filter(o::next_attempt_at.le(now))
            .order(o::id)
            .select(o::id);
        // SQLite's write transaction is the claim's lock; PostgreSQL skips rows that another
        // sender is claiming at this moment instead of waiting for them.
        let id: Option<i64> = match conn {
            DbConn::Postgres(pg) => due.for_update().skip_locked().first(pg).optional()?,
            DbConn::Sqlite(sqlite) => due.first(sqlite).optional()?,
        };
        let Some(id) = id else { return Ok(None) };
        let row: Row = diesel::update(o::table.find(id))
            .set((
                o::next_attempt_at.eq(now + lease),
                o::attempts.eq(o::attempts + 1),
            ))
            .returning(<Row as Selectable<diesel::sqlite::Sqlite>>::construct_selection())
            .get_result(conn)?;
        Ok(Some(Claimed {
            id: row.id,
            attempts: row.attempts,
            job: row.job(),
        }))
    })
}

/// Whether there is nothing due: a cheap read, so an idle sender takes no write lock.
pub fn nothing_due(conn: &mut DbConn, now: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::not(diesel::dsl::exists(
        o::table.filter(o::next_attempt_at.le(now)),
    )))
    .get_result(conn)
}

/// A confirmation mail's link was made anew for this send: the next attempt replaces it.
pub fn relink(conn: &mut DbConn, claimed: &Claimed, link: &TokenHash) -> QueryResult<()> {
    diesel::update(
        o::table
            .find(claimed.id)
            .filter(o::attempts.eq(claimed.attempts)),
    )
    .set(o::link_hash.eq(link.as_ref()))
    .execute(conn)?;
    Ok(())
}

/// The server has taken the mail (or it is no longer wanted). A sender whose claim has run
/// out and been taken over changes nothing.
pub fn done(conn: &mut DbConn, claimed: &Claimed) -> QueryResult<()> {
    diesel::delete(
        o::table
            .find(claimed.id)
            .filter(o::attempts.eq(claimed.attempts)),
    )
    .execute(conn)?;
    Ok(())
}

/// The mail could not be sent now: try again at `next_attempt_at`.
pub fn retry_at(
    conn: &mut DbConn,
    claimed: &Claimed,
    next_attempt_at: i64,
    error: &str,
) -> QueryResult<()> {
    diesel::update(
        o::table
            .find(claimed.id)
            .filter(o::attempts.eq(claimed.attempts)),
    )
    .set((
        o::next_attempt_at.eq(next_attempt_at),
        o::last_error.eq(error),
    ))
    .execute(conn)?;
    Ok(())
}

/// Mails waiting, for the tests.
pub fn waiting(conn: &mut DbConn) -> QueryResult<i64> {
    o::table.count().get_result(conn)
}

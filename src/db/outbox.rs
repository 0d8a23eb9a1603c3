//! The `outbox` table: mails waiting to be sent. A mail is queued in the same transaction as
//! what it tells of, so it is sent if and only if that happened; a restart loses none, and
//! a claim keeps two senders (two instances) from sending one mail twice.

use diesel::prelude::*;

use super::schema::outbox as o;
use super::{DbConn, write_transaction};

/// A mail ready to be queued: its recipient and the whole formatted message.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub recipient: String,
    pub message: String,
}

/// A queued mail that one sender has claimed.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = o)]
pub struct Claimed {
    pub id: i64,
    pub recipient: String,
    pub message: String,
    pub attempts: i32,
}

pub fn enqueue(conn: &mut DbConn, mail: &Outgoing, now: i64) -> QueryResult<()> {
    diesel::insert_into(o::table)
        .values((
            o::recipient.eq(&mail.recipient),
            o::message.eq(&mail.message),
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
        diesel::update(o::table.find(id))
            .set((
                o::next_attempt_at.eq(now + lease),
                o::attempts.eq(o::attempts + 1),
            ))
            .returning(<Claimed as Selectable<diesel::sqlite::Sqlite>>::construct_selection())
            .get_result(conn)
            .optional()
    })
}

/// The server has taken the mail (or refused it for good).
pub fn done(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::delete(o::table.find(id)).execute(conn)?;
    Ok(())
}

/// The mail could not be sent now: try again at `next_attempt_at`.
pub fn retry_at(conn: &mut DbConn, id: i64, next_attempt_at: i64, error: &str) -> QueryResult<()> {
    diesel::update(o::table.find(id))
        .set((
            o::next_attempt_at.eq(next_attempt_at),
            o::last_error.eq(error),
        ))
        .execute(conn)?;
    Ok(())
}

/// Mails waiting, for the metrics and the tests.
pub fn waiting(conn: &mut DbConn) -> QueryResult<i64> {
    o::table.count().get_result(conn)
}

//! Failed-login bookkeeping: per account and per client address, in a sliding window.

use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;

use super::schema::login_failures as lf;

/// Failures that lock an account for the rest of the window.
pub const MAX_PER_ACCOUNT: i64 = 10;
/// Failures from one address, over all accounts: higher, so one address cannot lock everyone
/// out, yet cannot guess freely either.
pub const MAX_PER_CLIENT: i64 = 100;
pub const WINDOW_SECS: i64 = 15 * 60;

/// Seconds until the next attempt may be made, if it may not be made now.
pub fn blocked_for(
    conn: &mut SqliteConnection,
    account: &str,
    client: &str,
    now: i64,
) -> QueryResult<Option<i64>> {
    let since = now - WINDOW_SECS;
    for (filter_account, max) in [(true, MAX_PER_ACCOUNT), (false, MAX_PER_CLIENT)] {
        let mut query = lf::table.filter(lf::failed_at.gt(since)).into_boxed();
        query = if filter_account {
            query.filter(lf::account.eq(account))
        } else {
            query.filter(lf::client.eq(client))
        };
        let times: Vec<i64> = query
            .select(lf::failed_at)
            .order(lf::failed_at.desc())
            .limit(max)
            .load(conn)?;
        if times.len() as i64 >= max {
            // The oldest of the last `max` failures leaves the window first.
            let oldest = times.last().copied().unwrap_or(now);
            return Ok(Some((oldest + WINDOW_SECS - now).max(1)));
        }
    }
    Ok(None)
}

pub fn record_failure(
    conn: &mut SqliteConnection,
    account: &str,
    client: &str,
    now: i64,
) -> QueryResult<()> {
    diesel::insert_into(lf::table)
        .values((
            lf::account.eq(account),
            lf::client.eq(client),
            lf::failed_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A successful login forgives the account's earlier failures (not the address's).
pub fn clear_account(conn: &mut SqliteConnection, account: &str) -> QueryResult<()> {
    diesel::delete(lf::table.filter(lf::account.eq(account))).execute(conn)?;
    Ok(())
}

pub fn purge_older_than(conn: &mut SqliteConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(lf::table.filter(lf::failed_at.le(before))).execute(conn)
}

//! Failed-login bookkeeping: per account and per client address, in a sliding window.
//!
//! An attempt is counted before its password is checked and forgiven if it succeeds, so that
//! a burst of guesses sent at once (to one instance or spread over several) cannot all pass
//! the check before any of them is recorded.

use diesel::prelude::*;

use diesel::sql_types::Text;

use super::{DbConn, write_transaction};

use super::schema::login_failures as lf;
use super::schema::signups;

/// Failures that lock an account for the rest of the window.
pub const MAX_PER_ACCOUNT: i64 = 10;
/// Failures from one address, over all accounts: higher, so one address cannot lock everyone
/// out, yet cannot guess freely either.
pub const MAX_PER_CLIENT: i64 = 100;
pub const WINDOW_SECS: i64 = 15 * 60;

/// An attempt that has been counted as a failure until it is forgiven.
#[derive(Debug, Clone, Copy)]
pub struct Attempt(i64);

/// Counts an attempt for `account` from `client`, or returns the seconds to wait when either
/// has used up its failures. Attempts on one account or from one address are serialised: on
/// SQLite by the write lock, on PostgreSQL by advisory locks on both keys (account first,
/// then address, in every transaction, so two can never wait on each other).
pub fn begin_attempt(
    conn: &mut DbConn,
    account: &str,
    client: &str,
    now: i64,
) -> QueryResult<Result<Attempt, i64>> {
    write_transaction(conn, |conn| {
        if let DbConn::Postgres(pg) = conn {
            for (space, key) in [(1, account), (2, client)] {
                diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                    .bind::<diesel::sql_types::Integer, _>(space)
                    .bind::<Text, _>(key)
                    .execute(pg)?;
            }
        }
        if let Some(wait) = blocked_for(conn, account, client, now)? {
            return Ok(Err(wait));
        }
        let id = diesel::insert_into(lf::table)
            .values((
                lf::account.eq(account),
                lf::client.eq(client),
                lf::failed_at.eq(now),
            ))
            .returning(lf::id)
            .get_result(conn)?;
        Ok(Ok(Attempt(id)))
    })
}

/// The attempt succeeded: it no longer counts.
pub fn forgive(conn: &mut DbConn, attempt: Attempt) -> QueryResult<()> {
    diesel::delete(lf::table.find(attempt.0)).execute(conn)?;
    Ok(())
}

/// Given the newest (at most `max`) event times in a window of `window` seconds, newest first:
/// the seconds until one more is allowed, if `max` of them are still inside it. The oldest of
/// them leaves the window first. The one rule of every throttle here.
pub(super) fn wait_for_window(times: &[i64], max: i64, window: i64, now: i64) -> Option<i64> {
    if (times.len() as i64) < max {
        return None;
    }
    let oldest = times.last().copied().unwrap_or(now);
    Some((oldest + window - now).max(1))
}

/// Seconds until the next attempt may be made, if it may not be made now.
fn blocked_for(
    conn: &mut DbConn,
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
        if let Some(wait) = wait_for_window(&times, max, WINDOW_SECS, now) {
            return Ok(Some(wait));
        }
    }
    Ok(None)
}

/// A successful login forgives the account's earlier failures (not the address's).
pub fn clear_account(conn: &mut DbConn, account: &str) -> QueryResult<()> {
    diesel::delete(lf::table.filter(lf::account.eq(account))).execute(conn)?;
    Ok(())
}

pub fn purge_older_than(conn: &mut DbConn, before: i64) -> QueryResult<usize> {
    diesel::delete(lf::table.filter(lf::failed_at.le(before))).execute(conn)
}

const SIGNUP_WINDOW_SECS: i64 = 60 * 60;

/// Seconds until `client` may create another account, if it has created `per_hour` in the
/// last hour; never when `per_hour` is 0 (no limit). Called inside the transaction that creates the account; on PostgreSQL the
/// client's advisory lock serialises sign-ups from one address.
pub fn signup_wait(
    conn: &mut DbConn,
    client: &str,
    per_hour: u32,
    now: i64,
) -> QueryResult<Option<i64>> {
    if per_hour == 0 {
        return Ok(None);
    }
    if let DbConn::Postgres(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(3, hashtext($1))")
            .bind::<Text, _>(client)
            .execute(pg)?;
    }
    let times: Vec<i64> = signups::table
        .filter(signups::client.eq(client))
        .filter(signups::created_at.gt(now - SIGNUP_WINDOW_SECS))
        .select(signups::created_at)
        .order(signups::created_at.desc())
        .limit(i64::from(per_hour))
        .load(conn)?;
    Ok(wait_for_window(
        &times,
        i64::from(per_hour),
        SIGNUP_WINDOW_SECS,
        now,
    ))
}

pub fn record_signup(conn: &mut DbConn, client: &str, now: i64) -> QueryResult<()> {
    diesel::insert_into(signups::table)
        .values((signups::client.eq(client), signups::created_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Sign-ups older than the window no longer count (for `folio gc`).
pub fn purge_signups(conn: &mut DbConn, now: i64) -> QueryResult<usize> {
    diesel::delete(signups::table.filter(signups::created_at.le(now - SIGNUP_WINDOW_SECS)))
        .execute(conn)
}

/// Mails one address may be sent on request (reset or confirmation links) in the window, so
/// Folio cannot be used to flood a mailbox.
pub const MAILS_PER_ADDRESS: i64 = 5;
/// Mail requests one client address may make in the window, over all recipients.
pub const MAIL_REQUESTS_PER_CLIENT: i64 = 20;
pub const MAIL_WINDOW_SECS: i64 = 60 * 60;

/// Counts a request for a mail to `address` (lower-cased) from `client`, or returns the
/// seconds to wait when either has used up its requests. Counted whether or not an account
/// uses the address, so the answer tells nothing about which addresses do.
pub fn mail_request(
    conn: &mut DbConn,
    address: &str,
    client: &str,
    now: i64,
) -> QueryResult<Option<i64>> {
    use super::schema::mail_requests as mr;
    write_transaction(conn, |conn| {
        if let DbConn::Postgres(pg) = conn {
            for (space, key) in [(4, address), (5, client)] {
                diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                    .bind::<diesel::sql_types::Integer, _>(space)
                    .bind::<Text, _>(key)
                    .execute(pg)?;
            }
        }
        let since = now - MAIL_WINDOW_SECS;
        for (by_address, max) in [(true, MAILS_PER_ADDRESS), (false, MAIL_REQUESTS_PER_CLIENT)] {
            let mut query = mr::table.filter(mr::created_at.gt(since)).into_boxed();
            query = if by_address {
                query.filter(mr::address.eq(address))
            } else {
                query.filter(mr::client.eq(client))
            };
            let times: Vec<i64> = query
                .select(mr::created_at)
                .order(mr::created_at.desc())
                .limit(max)
                .load(conn)?;
            if let Some(wait) = wait_for_window(&times, max, MAIL_WINDOW_SECS, now) {
                return Ok(Some(wait));
            }
        }
        diesel::insert_into(mr::table)
            .values((
                mr::address.eq(address),
                mr::client.eq(client),
                mr::created_at.eq(now),
            ))
            .execute(conn)?;
        Ok(None)
    })
}

/// Mail requests older than the window no longer count (for `folio gc`).
pub fn purge_mail_requests(conn: &mut DbConn, now: i64) -> QueryResult<usize> {
    use super::schema::mail_requests as mr;
    diesel::delete(mr::table.filter(mr::created_at.le(now - MAIL_WINDOW_SECS))).execute(conn)
}

const UPLOAD_WINDOW_SECS: i64 = 60 * 60;

/// Counts a picture sent by `user_id` (stored or refused alike), or returns the seconds to
/// wait when the account has sent `per_hour` in the last hour; 0 is no limit. Counting and
/// checking are one transaction, serialised per account (the write lock; on PostgreSQL an
/// advisory lock), so a burst through several instances cannot all pass the count.
pub fn picture_upload(
    conn: &mut DbConn,
    user_id: i64,
    per_hour: u32,
    now: i64,
) -> QueryResult<Option<i64>> {
    use super::schema::picture_uploads as pu;
    if per_hour == 0 {
        return Ok(None);
    }
    write_transaction(conn, |conn| {
        if let DbConn::Postgres(pg) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock(6, hashtext($1))")
                .bind::<Text, _>(user_id.to_string())
                .execute(pg)?;
        }
        let max = i64::from(per_hour);
        let times: Vec<i64> = pu::table
            .filter(pu::user_id.eq(user_id))
            .filter(pu::created_at.gt(now - UPLOAD_WINDOW_SECS))
            .select(pu::created_at)
            .order(pu::created_at.desc())
            .limit(max)
            .load(conn)?;
        if let Some(wait) = wait_for_window(&times, max, UPLOAD_WINDOW_SECS, now) {
            return Ok(Some(wait));
        }
        diesel::insert_into(pu::table)
            .values((pu::user_id.eq(user_id), pu::created_at.eq(now)))
            .execute(conn)?;
        Ok(None)
    })
}

/// Uploads older than the window no longer count (for `folio gc`).
pub fn purge_picture_uploads(conn: &mut DbConn, now: i64) -> QueryResult<usize> {
    use super::schema::picture_uploads as pu;
    diesel::delete(pu::table.filter(pu::created_at.le(now - UPLOAD_WINDOW_SECS))).execute(conn)
}

#[cfg(test)]
mod tests {
    use super::wait_for_window;

    #[test]
    fn the_oldest_of_the_last_max_events_sets_the_wait() {
        // Newest first, a 100 s window, at most 3.
        assert_eq!(wait_for_window(&[90, 50], 3, 100, 100), None);
        assert_eq!(wait_for_window(&[90, 50, 20], 3, 100, 100), Some(20));
        assert_eq!(wait_for_window(&[100, 100, 100], 3, 100, 100), Some(100));
        // Never "wait 0 seconds": at the edge it is one more second.
        assert_eq!(wait_for_window(&[90, 50, 0], 3, 100, 100), Some(1));
    }
}

//! Moderation's tables: moderators (a flag on `users`), reports, suspensions and the
//! append-only `moderation_log`. Each action, its log entry, the reports it closes and the
//! member's mail are one transaction.

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::outbox::{self, Job};
use super::schema::{moderation_log as log, reports, sessions, users};
use super::{DbConn, DbError, access_tokens, write_transaction};
use crate::domain::{Action, ActionReason, ReportComment, ReportReason};

/// Whom a moderator acts as (their id and name now, which the log keeps).
#[derive(Debug, Clone)]
pub struct Moderator {
    pub id: i64,
    pub username: String,
}

// ----- Moderators, from the shell -----

/// What `folio moderators add|remove` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Named {
    Done,
    /// Already so: nothing changed.
    Already,
    NoSuchMember,
    /// A suspended account cannot be made a moderator.
    Suspended,
}

/// Makes the member a moderator (`on`) or not.
pub fn set_moderator(conn: &mut DbConn, username: &str, on: bool) -> QueryResult<Named> {
    write_transaction(conn, |conn| {
        let found: Option<(i64, bool, Option<i64>)> = users::table
            .filter(super::lower(users::username).eq(username.to_ascii_lowercase()))
            .select((users::id, users::moderator, users::suspended_at))
            .get_result(conn)
            .optional()?;
        let Some((id, moderator, suspended_at)) = found else {
            return Ok(Named::NoSuchMember);
        };
        if moderator == on {
            return Ok(Named::Already);
        }
        if on && suspended_at.is_some() {
            return Ok(Named::Suspended);
        }
        diesel::update(users::table.find(id))
            .set(users::moderator.eq(on))
            .execute(conn)?;
        Ok(Named::Done)
    })
}

/// Every moderator's username and address, by username.
pub fn moderators(conn: &mut DbConn) -> QueryResult<Vec<(String, String)>> {
    users::table
        .filter(users::moderator.eq(true))
        .select((users::username, users::email))
        .order(users::username_key)
        .load(conn)
}

// ----- Reports -----

const REPORT_WINDOW_SECS: i64 = 60 * 60;

/// What became of a report.
#[derive(Debug, PartialEq, Eq)]
pub enum Reported {
    Sent,
    /// The reporter's earlier report on this member is still open.
    AlreadyOpen,
    /// The reporter has sent `per_hour` reports in the last hour: the seconds to wait.
    Throttled {
        wait_secs: i64,
    },
}

/// Files a report, unless the reporter already has one open on this member or has sent
/// `per_hour` in the last hour. Counting and filing are one transaction (on PostgreSQL under
/// an advisory lock per reporter), so a burst through several instances cannot all pass.
pub fn report(
    conn: &mut DbConn,
    member_id: i64,
    reporter_id: i64,
    reason: ReportReason,
    comment: &ReportComment,
    per_hour: u32,
    now: i64,
) -> QueryResult<Reported> {
    write_transaction(conn, |conn| {
        if let DbConn::Postgres(pg) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock(7, hashtext($1))")
                .bind::<Text, _>(reporter_id.to_string())
                .execute(pg)?;
        }
        let open: i64 = reports::table
            .filter(reports::reporter_id.eq(reporter_id))
            .filter(reports::member_id.eq(member_id))
            .filter(reports::closed_at.is_null())
            .count()
            .get_result(conn)?;
        if open > 0 {
            return Ok(Reported::AlreadyOpen);
        }
        let max = i64::from(per_hour);
        let times: Vec<i64> = reports::table
            .filter(reports::reporter_id.eq(reporter_id))
            .filter(reports::created_at.gt(now - REPORT_WINDOW_SECS))
            .select(reports::created_at)
            .order(reports::created_at.desc())
            .limit(max)
            .load(conn)?;
        if let Some(wait_secs) =
            super::throttle::wait_for_window(&times, max, REPORT_WINDOW_SECS, now)
        {
            return Ok(Reported::Throttled { wait_secs });
        }
        diesel::insert_into(reports::table)
            .values((
                reports::member_id.eq(member_id),
                reports::reporter_id.eq(reporter_id),
                reports::reason.eq(reason.as_str()),
                reports::comment.eq(comment.as_ref()),
                reports::created_at.eq(now),
            ))
            .execute(conn)?;
        Ok(Reported::Sent)
    })
}

/// A report as moderators read it.
#[derive(Debug, Clone, Queryable)]
pub struct Report {
    pub id: i64,
    pub member_id: i64,
    pub reason: String,
    pub comment: String,
    pub created_at: i64,
    pub closed_at: Option<i64>,
    /// `None` once the reporter's account is deleted.
    pub reporter: Option<String>,
}

macro_rules! reports_with_reporter {
    () => {
        reports::table
            .left_join(users::table.on(users::id.nullable().eq(reports::reporter_id)))
            .select((
                reports::id,
                reports::member_id,
                reports::reason,
                reports::comment,
                reports::created_at,
                reports::closed_at,
                users::username.nullable(),
            ))
    };
}

/// The oldest `limit` open reports, oldest first (the queue groups them per member).
pub fn open_reports(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<Report>> {
    reports_with_reporter!()
        .filter(reports::closed_at.is_null())
        .order((reports::created_at, reports::id))
        .limit(limit)
        .load(conn)
}

/// How many reports are open, on how many members.
pub fn open_counts(conn: &mut DbConn) -> QueryResult<(i64, i64)> {
    let open = reports::table.filter(reports::closed_at.is_null());
    let reports: i64 = open.count().get_result(conn)?;
    let members: i64 = open
        .select(diesel::dsl::count(reports::member_id).aggregate_distinct())
        .get_result(conn)?;
    Ok((reports, members))
}

/// The newest `limit` reports on a member, open and closed.
pub fn reports_on(conn: &mut DbConn, member_id: i64, limit: i64) -> QueryResult<Vec<Report>> {
    reports_with_reporter!()
        .filter(reports::member_id.eq(member_id))
        .order(reports::id.desc())
        .limit(limit)
        .load(conn)
}

// ----- The members moderators look at -----

/// A member as moderators see them: everything the pages show, and their standing.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct Member {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub website: Option<String>,
    pub picture: Option<String>,
    pub picture_renditions: i32,
    pub created_at: i64,
    pub moderator: bool,
    pub suspended_at: Option<i64>,
    pub suspension_reason: Option<String>,
}

pub fn member_by_name(conn: &mut DbConn, username: &str) -> QueryResult<Option<Member>> {
    users::table
        .filter(super::lower(users::username).eq(username.to_ascii_lowercase()))
        .select(Member::as_select())
        .get_result(conn)
        .optional()
}

pub fn members_by_id(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<Member>> {
    users::table
        .filter(users::id.eq_any(ids))
        .select(Member::as_select())
        .load(conn)
}

pub fn usernames(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::username))
        .load(conn)
}

/// Whether a stored picture is a suspended member's (so not to be served).
pub fn picture_is_held(conn: &mut DbConn, file_name: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table
            .filter(users::picture.eq(file_name))
            .filter(users::suspended_at.is_not_null()),
    ))
    .get_result(conn)
}

/// Why an account is suspended, if it is.
pub fn suspension(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<String>> {
    let row: Option<(Option<i64>, Option<String>)> = users::table
        .find(user_id)
        .select((users::suspended_at, users::suspension_reason))
        .get_result(conn)
        .optional()?;
    Ok(row.and_then(|(at, why)| at.map(|_| why.unwrap_or_default())))
}

// ----- Actions -----

/// Why an action was not taken (nothing changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("no such member")]
    NoSuchMember,
    #[error("You cannot act on your own account.")]
    OnSelf,
    #[error("Moderators do not act on each other: the site's operator decides about moderators.")]
    OnModerator,
    #[error("This member has no picture to remove.")]
    NoPicture,
    #[error("This member has no display name, bio or website to clear.")]
    NothingToClear,
    #[error("This account is already suspended.")]
    AlreadySuspended,
    #[error("This account is not suspended.")]
    NotSuspended,
    #[error("There are no open reports on this member to dismiss.")]
    NoOpenReports,
}

/// What an action did.
#[derive(Debug)]
pub struct Acted {
    pub log_id: i64,
    /// The picture file it took off the member, to delete now that the change is committed.
    pub removed_picture: Option<String>,
    pub closed_reports: usize,
}

/// Takes `action` on the member, writes its log entry, closes the member's open reports and
/// queues the mail that tells them: one transaction, with the member's row locked.
pub fn act(
    conn: &mut DbConn,
    moderator: &Moderator,
    member_id: i64,
    action: Action,
    reason: &ActionReason,
    now: i64,
) -> Result<Result<Acted, Refused>, DbError> {
    write_transaction(conn, |conn| {
        // Locked on PostgreSQL (SQLite's write transaction holds its one lock already), so
        // two moderators acting at once take turns and the second sees the first's outcome.
        let query = users::table.find(member_id);
        let member = match conn {
            DbConn::Postgres(pg) => query
                .select(Member::as_select())
                .for_update()
                .get_result(pg)
                .optional()?,
            DbConn::Sqlite(sqlite) => query
                .select(Member::as_select())
                .get_result(sqlite)
                .optional()?,
        };
        let Some(member) = member else {
            return Ok(Err(Refused::NoSuchMember));
        };
        if member.id == moderator.id {
            return Ok(Err(Refused::OnSelf));
        }
        if member.moderator {
            return Ok(Err(Refused::OnModerator));
        }
        let mut removed_picture = None;
        let target = users::table.find(member.id);
        match action {
            Action::RemovePicture => {
                if member.picture.is_none() {
                    return Ok(Err(Refused::NoPicture));
                }
                diesel::update(target)
                    .set((
                        users::picture.eq(None::<String>),
                        users::picture_renditions.eq(0),
                    ))
                    .execute(conn)?;
                removed_picture = member.picture.clone();
            }
            Action::ClearProfile => {
                if member.display_name.is_none() && member.bio.is_none() && member.website.is_none()
                {
                    return Ok(Err(Refused::NothingToClear));
                }
                diesel::update(target)
                    .set((
                        users::display_name.eq(None::<String>),
                        users::display_name_key.eq(None::<String>),
                        users::bio.eq(None::<String>),
                        users::website.eq(None::<String>),
                    ))
                    .execute(conn)?;
            }
            Action::Suspend => {
                if member.suspended_at.is_some() {
                    return Ok(Err(Refused::AlreadySuspended));
                }
                // A new epoch ends every session on every instance even before its row is
                // gone; the rows go too, and every access token.
                diesel::update(target)
                    .set((
                        users::suspended_at.eq(now),
                        users::suspension_reason.eq(reason.as_ref()),
                        users::session_epoch.eq(users::session_epoch + 1),
                    ))
                    .execute(conn)?;
                diesel::delete(sessions::table.filter(sessions::user_id.eq(member.id)))
                    .execute(conn)?;
                access_tokens::revoke_all(conn, member.id)?;
            }
            Action::Unsuspend => {
                if member.suspended_at.is_none() {
                    return Ok(Err(Refused::NotSuspended));
                }
                diesel::update(target)
                    .set((
                        users::suspended_at.eq(None::<i64>),
                        users::suspension_reason.eq(None::<String>),
                    ))
                    .execute(conn)?;
            }
            Action::Dismiss => {
                let open: i64 = reports::table
                    .filter(reports::member_id.eq(member.id))
                    .filter(reports::closed_at.is_null())
                    .count()
                    .get_result(conn)?;
                if open == 0 {
                    return Ok(Err(Refused::NoOpenReports));
                }
            }
        }
        let log_id: i64 = diesel::insert_into(log::table)
            .values((
                log::created_at.eq(now),
                log::moderator_id.eq(moderator.id),
                log::moderator_name.eq(&moderator.username),
                log::member_id.eq(member.id),
                log::member_name.eq(&member.username),
                log::action.eq(action.as_str()),
                log::reason.eq(reason.as_ref()),
            ))
            .returning(log::id)
            .get_result(conn)?;
        let closed_reports = diesel::update(
            reports::table
                .filter(reports::member_id.eq(member.id))
                .filter(reports::closed_at.is_null()),
        )
        .set((reports::closed_at.eq(now), reports::closed_by.eq(log_id)))
        .execute(conn)?;
        let job = Job::Moderation {
            user_id: member.id,
            address: member.email.clone(),
            action: action.as_str().to_owned(),
            reason: reason.as_ref().to_owned(),
        };
        outbox::enqueue(conn, &job, now)?;
        Ok(Ok(Acted {
            log_id,
            removed_picture,
            closed_reports,
        }))
    })
}

// ----- The log -----

/// One entry of the log, with the names as they were.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = log)]
pub struct Entry {
    pub id: i64,
    pub created_at: i64,
    pub moderator_name: String,
    /// `None` once the member's account is deleted.
    pub member_id: Option<i64>,
    pub member_name: String,
    pub action: String,
    pub reason: String,
}

/// Up to `limit` entries older than `before` (all when `None`), newest first: a keyset page.
pub fn log_page(conn: &mut DbConn, before: Option<i64>, limit: i64) -> QueryResult<Vec<Entry>> {
    log::table
        .filter(log::id.lt(before.unwrap_or(i64::MAX)))
        .order(log::id.desc())
        .limit(limit)
        .select(Entry::as_select())
        .load(conn)
}

/// The newest `limit` entries about one member.
pub fn history(conn: &mut DbConn, member_id: i64, limit: i64) -> QueryResult<Vec<Entry>> {
    log::table
        .filter(log::member_id.eq(member_id))
        .order(log::id.desc())
        .limit(limit)
        .select(Entry::as_select())
        .load(conn)
}

//! Moderation: members report, moderators read the queue and act. Each action is one
//! transaction with its log entry and the member's mail (`db::moderation::act`); a picture an
//! action takes off is deleted only after that commit, as any replaced picture is.

use super::Context;
use crate::db::moderation::{self, Acted, Entry, Member, Moderator, Refused, Report, Reported};
use crate::db::users::User;
use crate::domain::{Action, ActionReason, ReportComment, ReportReason};

/// Reports one member may send in an hour (the contract's limit).
pub const REPORTS_PER_HOUR: u32 = 10;

/// Why a report was not filed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no such member")]
    NoSuchMember,
    #[error("this account is suspended")]
    Suspended,
    #[error("You cannot report yourself.")]
    OwnAccount,
    #[error("You have already reported this member; the moderators have not yet decided.")]
    AlreadyOpen,
    #[error("You have sent many reports in the last hour.")]
    Throttled { wait_secs: i64 },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Files `reporter`'s report on the member named `username`.
pub async fn report(
    ctx: &Context,
    reporter: &User,
    username: String,
    reason: ReportReason,
    comment: ReportComment,
) -> Result<(), ReportError> {
    let reporter_id = reporter.id;
    let outcome = ctx
        .db
        .run(
            move |conn| -> anyhow::Result<Result<Reported, ReportError>> {
                let Some(member) = moderation::member_by_name(conn, &username)? else {
                    return Ok(Err(ReportError::NoSuchMember));
                };
                if member.suspended_at.is_some() {
                    return Ok(Err(ReportError::Suspended));
                }
                if member.id == reporter_id {
                    return Ok(Err(ReportError::OwnAccount));
                }
                let now = crate::db::now();
                Ok(Ok(moderation::report(
                    conn,
                    member.id,
                    reporter_id,
                    reason,
                    &comment,
                    REPORTS_PER_HOUR,
                    now,
                )?))
            },
        )
        .await??;
    match outcome {
        Reported::Sent => {
            tracing::info!(reporter_id, reason = reason.as_str(), "report filed");
            Ok(())
        }
        Reported::AlreadyOpen => Err(ReportError::AlreadyOpen),
        Reported::Throttled { wait_secs } => Err(ReportError::Throttled { wait_secs }),
    }
}

/// The member `username`, if one is so named.
pub async fn member(ctx: &Context, username: String) -> anyhow::Result<Option<Member>> {
    ctx.db
        .run(move |conn| Ok(moderation::member_by_name(conn, &username)?))
        .await
}

/// Why an action was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Takes `action` on `member` as `moderator`, then deletes the picture it took off.
pub async fn act(
    ctx: &Context,
    moderator: Moderator,
    member_id: i64,
    action: Action,
    reason: ActionReason,
) -> Result<Acted, ActError> {
    let moderator_id = moderator.id;
    let acted = ctx
        .db
        .run(move |conn| {
            moderation::act(
                conn,
                &moderator,
                member_id,
                action,
                &reason,
                crate::db::now(),
            )
            .map_err(anyhow::Error::from)
        })
        .await??;
    tracing::info!(
        moderator_id,
        member_id,
        action = action.as_str(),
        log_id = acted.log_id,
        "moderation action"
    );
    if let Some(old) = &acted.removed_picture {
        ctx.avatars.remove_replaced(old.clone()).await;
    }
    Ok(acted)
}

/// How many open reports the queue reads at most (the members they name, oldest first).
const QUEUE_REPORTS: i64 = 500;

/// One member in the queue: as they are now, and their open reports, oldest first.
pub struct Queued {
    pub member: Member,
    pub reports: Vec<Report>,
}

/// The queue: members with open reports, the longest-waiting first; and the totals (open
/// reports, members).
pub async fn queue(ctx: &Context) -> anyhow::Result<(Vec<Queued>, (i64, i64))> {
    ctx.db
        .run(|conn| {
            let reports = moderation::open_reports(conn, QUEUE_REPORTS)?;
            let mut order: Vec<i64> = Vec::new();
            for r in &reports {
                if !order.contains(&r.member_id) {
                    order.push(r.member_id);
                }
            }
            let members = moderation::members_by_id(conn, &order)?;
            let counts = moderation::open_counts(conn)?;
            let queued = order
                .iter()
                .filter_map(|id| members.iter().find(|m| m.id == *id).cloned())
                .map(|member| Queued {
                    reports: reports
                        .iter()
                        .filter(|r| r.member_id == member.id)
                        .cloned()
                        .collect(),
                    member,
                })
                .collect();
            Ok((queued, counts))
        })
        .await
}

/// How many reports and log entries the member's page shows, newest first.
const MEMBER_HISTORY: i64 = 100;

/// A member's reports and the actions taken on them, newest first.
pub async fn record(ctx: &Context, member_id: i64) -> anyhow::Result<(Vec<Report>, Vec<Entry>)> {
    ctx.db
        .run(move |conn| {
            Ok((
                moderation::reports_on(conn, member_id, MEMBER_HISTORY)?,
                moderation::history(conn, member_id, MEMBER_HISTORY)?,
            ))
        })
        .await
}

/// Entries the log shows per page.
pub const LOG_PAGE: i64 = 50;

/// A page of the log older than `before`, and the id the next page starts below.
pub async fn log(ctx: &Context, before: Option<i64>) -> anyhow::Result<(Vec<Entry>, Option<i64>)> {
    let mut entries = ctx
        .db
        .run(move |conn| Ok::<_, anyhow::Error>(moderation::log_page(conn, before, LOG_PAGE + 1)?))
        .await?;
    let next = if entries.len() as i64 > LOG_PAGE {
        entries.truncate(LOG_PAGE as usize);
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok((entries, next))
}

/// The usernames now of those of `ids` whose accounts exist.
pub async fn usernames(ctx: &Context, ids: Vec<i64>) -> anyhow::Result<Vec<(i64, String)>> {
    ctx.db
        .run(move |conn| Ok(moderation::usernames(conn, &ids)?))
        .await
}

/// Whether `/media` may serve this stored picture (not a suspended member's).
pub async fn picture_is_served(ctx: &Context, file_name: String) -> anyhow::Result<bool> {
    ctx.db
        .run(move |conn| Ok(!moderation::picture_is_held(conn, &file_name)?))
        .await
}

//! The moderators' pages: the queue, a member's page with the action form, and the log. To
//! anyone but a moderator every one of them is a 404, as if it did not exist.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::time::OffsetDateTime;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::{CsrfForm, CurrentUser, MaybeUser, TypedSession};
use crate::avatar::{PictureUrls, Renditions};
use crate::db::moderation::{self as store, Entry, Member, Refused, Report};
use crate::domain::{Action, ActionReason, ReportReason};
use crate::error::{AppError, see_other};
use crate::mail::Outbox;
use crate::ops;
use crate::ops::moderation::{ActError, Queued};
use crate::templates::{Avatar, Layout, avatar, percent_encode, profile_path, render};

/// A logged-in moderator; anyone else gets a 404.
pub struct Moderator(CurrentUser);

impl FromRequest for Moderator {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = MaybeUser::from_request(req, payload);
        Box::pin(async move {
            match user.await?.0 {
                Some(user) if user.moderator => Ok(Moderator(user)),
                _ => Err(AppError::NotFound),
            }
        })
    }
}

impl Moderator {
    fn acting(&self) -> store::Moderator {
        store::Moderator {
            id: self.0.id,
            username: self.0.username.clone(),
        }
    }
}

/// "2026-12-04 21:07 UTC", and its `<time datetime>`.
fn when(secs: i64) -> (String, String) {
    let t = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let date = format!("{}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day());
    let time = format!("{:02}:{:02}", t.hour(), t.minute());
    (format!("{date} {time} UTC"), format!("{date}T{time}Z"))
}

fn moderation_path(username: &str) -> String {
    format!("/moderation/users/{}", percent_encode(username, b""))
}

/// A member as the moderators' pages show them.
pub struct MemberView {
    pub username: String,
    pub name: String,
    pub heading_id: String,
    pub href: String,
    pub avatar: Avatar,
    pub bio: Option<String>,
    pub website: Option<String>,
    pub moderator: bool,
    /// When the suspension began.
    pub suspended: Option<String>,
}

impl MemberView {
    fn new(m: &Member, urls: &PictureUrls) -> Self {
        Self {
            heading_id: format!("member-{}", m.id),
            href: moderation_path(&m.username),
            avatar: avatar(
                urls,
                &m.username,
                m.picture.as_deref(),
                Renditions::from_db(m.picture_renditions),
            ),
            name: m.display_name.clone().unwrap_or_else(|| m.username.clone()),
            username: m.username.clone(),
            bio: m.bio.clone(),
            website: m.website.clone(),
            moderator: m.moderator,
            suspended: m.suspended_at.map(|at| when(at).0),
        }
    }
}

pub struct ReportView {
    pub reason: String,
    pub comment: String,
    pub when: String,
    pub reporter: Option<String>,
    pub open: bool,
}

impl From<&Report> for ReportView {
    fn from(r: &Report) -> Self {
        Self {
            reason: ReportReason::label_of(&r.reason).to_owned(),
            comment: r.comment.clone(),
            when: when(r.created_at).0,
            reporter: r.reporter.clone(),
            open: r.closed_at.is_none(),
        }
    }
}

pub struct EntryView {
    pub when: String,
    pub iso: String,
    pub moderator: String,
    pub done: String,
    pub member: String,
    /// The member's moderation page while the account exists.
    pub member_href: Option<String>,
    /// Whether to name the member (not on their own page).
    pub show_member: bool,
    pub reason: String,
}

impl EntryView {
    /// `current`: the member's username now, while the account exists.
    fn new(e: &Entry, current: Option<&str>, show_member: bool) -> Self {
        let (when, iso) = when(e.created_at);
        Self {
            when,
            iso,
            moderator: e.moderator_name.clone(),
            done: Action::done_of(&e.action).to_owned(),
            member: e.member_name.clone(),
            member_href: current.map(moderation_path),
            show_member,
            reason: e.reason.clone(),
        }
    }
}

/// The action form for one member.
pub struct ActionForm {
    pub action: String,
    pub username: String,
    /// Unique per page, for the fields' ids.
    pub id: String,
    /// Where to come back to: `queue` or `member`.
    pub back: &'static str,
    pub choices: Vec<(&'static str, &'static str)>,
    pub selected: String,
    pub reason: String,
    pub reason_error: bool,
    pub action_error: bool,
    pub error: Option<String>,
}

impl ActionForm {
    /// The form, offering only what applies to the member as they are; `None` for a
    /// moderator, on whom no one acts.
    fn for_member(m: &Member, open_reports: bool, back: &'static str) -> Option<Self> {
        if m.moderator {
            return None;
        }
        let applies = |a: &Action| match a {
            Action::RemovePicture => m.picture.is_some(),
            Action::ClearProfile => {
                m.display_name.is_some() || m.bio.is_some() || m.website.is_some()
            }
            Action::Suspend => m.suspended_at.is_none(),
            Action::Unsuspend => m.suspended_at.is_some(),
            Action::Dismiss => open_reports,
        };
        Some(Self {
            action: format!("{}/action", moderation_path(&m.username)),
            username: m.username.clone(),
            id: format!("act-{}", m.id),
            back,
            choices: Action::ALL
                .iter()
                .filter(|a| applies(a))
                .map(|a| (a.as_str(), a.label()))
                .collect(),
            selected: String::new(),
            reason: String::new(),
            reason_error: false,
            action_error: false,
            error: None,
        })
    }
}

#[derive(Template)]
#[template(path = "moderation_queue.html")]
pub struct QueuePage {
    pub layout: Layout,
    pub groups: Vec<QueueGroup>,
    pub open_reports: i64,
    pub open_members: i64,
}

pub struct QueueGroup {
    pub member: MemberView,
    pub reports: Vec<ReportView>,
    pub form: Option<ActionForm>,
}

#[derive(Template)]
#[template(path = "moderation_member.html")]
pub struct MemberPage {
    pub layout: Layout,
    pub member: MemberView,
    pub status: String,
    pub suspension_reason: Option<String>,
    pub email: String,
    pub joined: String,
    pub profile_href: String,
    pub reports: Vec<ReportView>,
    pub history: Vec<EntryView>,
    pub form: Option<ActionForm>,
    /// Said where the form would be, when there is none.
    pub no_form: String,
}

#[derive(Template)]
#[template(path = "moderation_log.html")]
pub struct LogPage {
    pub layout: Layout,
    pub entries: Vec<EntryView>,
    pub first_page: bool,
    pub next: Option<String>,
}

/// `GET /moderation`: members with open reports, the longest-waiting first.
pub async fn queue(
    moderator: Moderator,
    session: TypedSession,
    ctx: web::Data<ops::Context>,
    urls: web::Data<PictureUrls>,
) -> Result<HttpResponse, AppError> {
    let (queued, (open_reports, open_members)) = ops::moderation::queue(&ctx).await?;
    let page = QueuePage {
        layout: Layout::new(Some(&moderator.0), &session, true)?,
        groups: queued
            .iter()
            .map(|Queued { member, reports }| QueueGroup {
                member: MemberView::new(member, &urls),
                reports: reports.iter().map(ReportView::from).collect(),
                form: ActionForm::for_member(member, true, "queue"),
            })
            .collect(),
        open_reports,
        open_members,
    };
    render(StatusCode::OK, &page)
}

/// `GET /moderation/users/{username}`.
pub async fn member(
    moderator: Moderator,
    path: web::Path<String>,
    session: TypedSession,
    ctx: web::Data<ops::Context>,
    urls: web::Data<PictureUrls>,
) -> Result<HttpResponse, AppError> {
    let member = ops::moderation::member(&ctx, path.into_inner())
        .await?
        .ok_or(AppError::NotFound)?;
    let page = member_page(&moderator, member, &session, &ctx, &urls, |_| {}).await?;
    render(StatusCode::OK, &page)
}

/// The member's page; `adjust` fills in a form being sent back.
async fn member_page(
    moderator: &Moderator,
    member: Member,
    session: &TypedSession,
    ctx: &ops::Context,
    urls: &PictureUrls,
    adjust: impl FnOnce(&mut ActionForm),
) -> Result<MemberPage, AppError> {
    let (reports, history) = ops::moderation::record(ctx, member.id).await?;
    let open = reports.iter().any(|r| r.closed_at.is_none());
    let mut form = ActionForm::for_member(&member, open, "member");
    if member.id == moderator.0.id {
        form = None;
    }
    if let Some(form) = form.as_mut() {
        adjust(form);
    }
    let status = match (member.suspended_at, member.moderator) {
        (Some(at), _) => format!("Suspended since {}", when(at).0),
        (None, true) => "Active; a moderator".to_owned(),
        (None, false) => "Active".to_owned(),
    };
    let no_form = if member.id == moderator.0.id {
        "This is you: no one acts on their own account."
    } else {
        "A moderator: moderators do not act on each other, the site's operator decides."
    };
    Ok(MemberPage {
        layout: Layout::new(Some(&moderator.0), session, true)?,
        member: MemberView::new(&member, urls),
        status,
        suspension_reason: member.suspension_reason.clone(),
        email: member.email.clone(),
        joined: when(member.created_at).0,
        profile_href: profile_path(&member.username),
        reports: reports.iter().map(ReportView::from).collect(),
        history: history
            .iter()
            .map(|e| EntryView::new(e, Some(&member.username), false))
            .collect(),
        form,
        no_form: no_form.to_owned(),
    })
}

#[derive(Deserialize)]
pub struct ActionFields {
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    back: String,
}

/// `POST /moderation/users/{username}/action`.
pub async fn act(
    moderator: Moderator,
    path: web::Path<String>,
    session: TypedSession,
    CsrfForm(form): CsrfForm<ActionFields>,
    ctx: web::Data<ops::Context>,
    urls: web::Data<PictureUrls>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, AppError> {
    let member = ops::moderation::member(&ctx, path.into_inner())
        .await?
        .ok_or(AppError::NotFound)?;
    let action = Action::parse(&form.action);
    let reason = ActionReason::parse(&form.reason);
    // `on`: the field at fault, if the refusal is about one.
    let refused = |status: StatusCode, message: String, on: Option<&'static str>| {
        let (selected, typed) = (form.action.clone(), form.reason.clone());
        let member = member.clone();
        let (moderator, session, ctx, urls) = (&moderator, &session, &ctx, &urls);
        async move {
            let page = member_page(moderator, member, session, ctx, urls, |f| {
                f.selected = selected;
                f.reason = typed;
                f.reason_error = on == Some("reason");
                f.action_error = on == Some("action");
                f.error = Some(message);
            })
            .await?;
            render(status, &page)
        }
    };
    let (Some(action), Ok(reason)) = (action, reason.clone()) else {
        let (message, on) = match (action, reason) {
            (None, _) => ("Choose an action.".to_owned(), "action"),
            (_, Err(e)) => (e, "reason"),
            _ => (String::new(), "action"),
        };
        return refused(StatusCode::UNPROCESSABLE_ENTITY, message, Some(on)).await;
    };
    match ops::moderation::act(&ctx, moderator.acting(), member.id, action, reason).await {
        Ok(acted) => {
            outbox.wake();
            let closed = match acted.closed_reports {
                0 => String::new(),
                1 => " One report is closed.".to_owned(),
                n => format!(" {n} reports are closed."),
            };
            session.flash(&format!(
                "Done: {} of @{}.{closed} They are told by mail, with your reason.",
                action.done(),
                member.username
            ))?;
            let back = if form.back == "queue" {
                "/moderation".to_owned()
            } else {
                moderation_path(&member.username)
            };
            Ok(see_other(&back))
        }
        Err(ActError::Refused(Refused::NoSuchMember)) => Err(AppError::NotFound),
        Err(ActError::Refused(why)) => {
            let status = match why {
                Refused::OnSelf | Refused::OnModerator => StatusCode::FORBIDDEN,
                _ => StatusCode::CONFLICT,
            };
            refused(status, why.to_string(), None).await
        }
        Err(ActError::Unexpected(e)) => Err(AppError::Unexpected(e)),
    }
}

#[derive(Deserialize)]
pub struct LogQuery {
    before: Option<String>,
}

/// `GET /moderation/log`: newest first, pages by keyset (`?before=` an entry's id).
pub async fn log(
    moderator: Moderator,
    query: web::Query<LogQuery>,
    session: TypedSession,
    ctx: web::Data<ops::Context>,
) -> Result<HttpResponse, AppError> {
    let before = match query.before.as_deref() {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or(AppError::BadRequest)?,
        ),
    };
    let (entries, next) = ops::moderation::log(&ctx, before).await?;
    let ids: Vec<i64> = entries.iter().filter_map(|e| e.member_id).collect();
    let current = ops::moderation::usernames(&ctx, ids).await?;
    let page = LogPage {
        layout: Layout::new(Some(&moderator.0), &session, false)?,
        entries: entries
            .iter()
            .map(|e| {
                let now = e
                    .member_id
                    .and_then(|id| current.iter().find(|(i, _)| *i == id))
                    .map(|(_, name)| name.as_str());
                EntryView::new(e, now, true)
            })
            .collect(),
        first_page: before.is_none(),
        next: next.map(|id| format!("/moderation/log?before={id}")),
    };
    render(StatusCode::OK, &page)
}

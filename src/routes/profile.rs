use actix_web::cookie::time::OffsetDateTime;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::{CsrfForm, CurrentUser, MaybeUser, TypedSession};
use crate::avatar::{PictureUrls, Renditions};
use crate::db::users::User;
use crate::domain::{ReportComment, ReportReason, Website};
use crate::error::{AppError, see_other};
use crate::ops;
use crate::ops::moderation::ReportError;
use crate::templates::{Layout, NoticePage, ProfilePage, ReportForm, avatar, profile_path, render};

use super::Site;

pub async fn show(
    path: web::Path<String>,
    viewer: MaybeUser,
    session: TypedSession,
    ctx: web::Data<ops::Context>,
    urls: web::Data<PictureUrls>,
    site: web::Data<Site>,
) -> Result<HttpResponse, AppError> {
    let user = visible_member(&ctx, path.into_inner()).await?;
    let page = profile_page(user, viewer.0.as_ref(), &session, &urls, &site, None)?;
    render(StatusCode::OK, &page)
}

/// The member named `name`: 404 when there is none, 410 while they are suspended.
async fn visible_member(ctx: &ops::Context, name: String) -> Result<User, AppError> {
    let user = ops::members::find(ctx, name)
        .await?
        .ok_or(AppError::NotFound)?;
    if user.suspended_at.is_some() {
        return Err(AppError::Suspended);
    }
    Ok(user)
}

/// The profile page; `report` is the report form as sent back to be corrected.
fn profile_page(
    user: User,
    viewer: Option<&CurrentUser>,
    session: &TypedSession,
    urls: &PictureUrls,
    site: &Site,
    report: Option<ReportForm>,
) -> Result<ProfilePage, AppError> {
    let avatar = avatar(
        urls,
        &user.username,
        user.picture.as_deref(),
        Renditions::from_db(user.picture_renditions),
    );
    let name = user.display_name.unwrap_or_else(|| user.username.clone());
    let joined =
        OffsetDateTime::from_unix_timestamp(user.created_at).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let is_own = viewer.is_some_and(|v| v.id == user.id);
    let report = match (viewer, is_own) {
        (Some(_), false) => Some(report.unwrap_or_else(|| ReportForm::new(&user.username))),
        _ => None,
    };
    Ok(ProfilePage {
        layout: Layout::new(viewer, session, false)?,
        is_own,
        page_url: site.absolute(&profile_path(&user.username)),
        image_url: site.absolute(&avatar.src),
        description: description(&name, &user.username, user.bio.as_deref()),
        since: format!("{} {}", joined.month(), joined.year()),
        since_iso: format!("{}-{:02}", joined.year(), u8::from(joined.month())),
        website: user.website.as_deref().and_then(Website::from_stored),
        bio: user.bio,
        avatar,
        username: user.username,
        name,
        report,
    })
}

#[derive(Deserialize)]
pub struct ReportFields {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    comment: String,
}

/// `POST /users/{username}/report`: a logged-in member reports another. The reporter gets a
/// plain confirmation; the member is never told who.
pub async fn report(
    path: web::Path<String>,
    reporter: CurrentUser,
    session: TypedSession,
    CsrfForm(form): CsrfForm<ReportFields>,
    ctx: web::Data<ops::Context>,
    urls: web::Data<PictureUrls>,
    site: web::Data<Site>,
) -> Result<HttpResponse, AppError> {
    let member = visible_member(&ctx, path.into_inner()).await?;
    let back = profile_path(&member.username);
    let refuse = |status: StatusCode, title: &str, message: String| {
        let page = NoticePage {
            layout: Layout::new(Some(&reporter), &session, false)?,
            title: title.into(),
            paragraphs: vec![message],
            quote: None,
            href: back.clone(),
            label: format!("Back to @{}", member.username),
        };
        render(status, &page)
    };
    if member.id == reporter.id {
        return refuse(
            StatusCode::FORBIDDEN,
            "Not your own profile",
            "You cannot report yourself. To change what your profile shows, use your account page."
                .into(),
        );
    }
    let reason = ReportReason::parse(&form.reason);
    let comment = ReportComment::parse(&form.comment);
    let (Some(reason), Ok(comment)) = (reason, comment.clone()) else {
        let mut again = ReportForm::new(&member.username);
        again.open = true;
        again.reason_error = reason.is_none();
        again.comment_error = !again.reason_error;
        again.error = Some(match (reason, comment) {
            (None, _) => "Choose what is wrong with this profile.".into(),
            (_, Err(e)) => e,
            _ => String::new(),
        });
        again.reason = form.reason;
        again.comment = form.comment;
        let page = profile_page(member, Some(&reporter), &session, &urls, &site, Some(again))?;
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    match ops::moderation::report(&ctx, &reporter, member.username.clone(), reason, comment).await {
        Ok(()) => {
            session
                .flash("Thank you. Your report was sent to the moderators, who will look at it.")?;
            Ok(see_other(&back))
        }
        Err(ReportError::AlreadyOpen) => refuse(
            StatusCode::CONFLICT,
            "Already reported",
            format!(
                "You have already reported @{}, and the moderators have not yet decided about it. There is no need to send it again.",
                member.username
            ),
        ),
        Err(ReportError::Throttled { wait_secs }) => {
            let mut response = refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many reports",
                format!(
                    "You have sent {} reports in the last hour, as many as one member may. Try again in {}.",
                    ops::moderation::REPORTS_PER_HOUR,
                    ops::minutes(wait_secs)
                ),
            )?;
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(wait_secs.max(1)),
            );
            Ok(response)
        }
        Err(ReportError::OwnAccount) => Err(AppError::Forbidden),
        Err(ReportError::NoSuchMember) => Err(AppError::NotFound),
        Err(ReportError::Suspended) => Err(AppError::Suspended),
        Err(ReportError::Unexpected(e)) => Err(AppError::Unexpected(e)),
    }
}

/// A link preview's summary: the bio on one line, shortened at a word, or who this is.
fn description(name: &str, username: &str, bio: Option<&str>) -> String {
    const MAX: usize = 160;
    let Some(bio) = bio.filter(|b| !b.trim().is_empty()) else {
        return format!("{name} (@{username}) on Folio.");
    };
    let line = bio.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= MAX {
        return line;
    }
    let cut: String = line.chars().take(MAX - 1).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::description;

    #[test]
    fn descriptions_are_one_short_line() {
        assert_eq!(description("Ada", "ada", None), "Ada (@ada) on Folio.");
        assert_eq!(
            description("Ada", "ada", Some(" \n ")),
            "Ada (@ada) on Folio."
        );
        assert_eq!(
            description("Ada", "ada", Some("Maths.\n\nEngines.")),
            "Maths. Engines."
        );
        let long = "word ".repeat(60);
        let d = description("Ada", "ada", Some(&long));
        assert!(d.chars().count() <= 160, "{d}");
        assert!(d.ends_with("word…"), "{d}");
    }
}

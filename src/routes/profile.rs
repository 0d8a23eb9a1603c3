use actix_web::cookie::time::OffsetDateTime;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::auth::{MaybeUser, TypedSession};
use crate::avatar::PictureUrls;
use crate::domain::Website;
use crate::error::AppError;
use crate::ops;
use crate::templates::{Layout, ProfilePage, avatar_url, profile_path, render};

use super::Site;

pub async fn show(
    path: web::Path<String>,
    viewer: MaybeUser,
    session: TypedSession,
    ctx: web::Data<ops::Context>,
    urls: web::Data<PictureUrls>,
    site: web::Data<Site>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let user = ops::members::find(&ctx, name)
        .await?
        .ok_or(AppError::NotFound)?;
    let avatar_url = avatar_url(&urls, &user.username, user.picture.as_deref());
    let name = user.display_name.unwrap_or_else(|| user.username.clone());
    let joined =
        OffsetDateTime::from_unix_timestamp(user.created_at).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let page = ProfilePage {
        layout: Layout::new(viewer.0.as_ref(), &session, false)?,
        is_own: viewer.0.as_ref().is_some_and(|v| v.id == user.id),
        page_url: site.absolute(&profile_path(&user.username)),
        image_url: site.absolute(&avatar_url),
        description: description(&name, &user.username, user.bio.as_deref()),
        since: format!("{} {}", joined.month(), joined.year()),
        since_iso: format!("{}-{:02}", joined.year(), u8::from(joined.month())),
        website: user.website.as_deref().and_then(Website::from_stored),
        bio: user.bio,
        avatar_url,
        username: user.username,
        name,
    };
    render(StatusCode::OK, &page)
}

/// A link preview's summary: the bio on one line, shortened at a word, or who this is.
fn description(name: &str, username: &str, bio: Option<&str>) -> String {
    const MAX: usize = 160;
    let Some(bio) = bio else {
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
            description("Ada", "ada", Some("Maths.\n\nEngines.")),
            "Maths. Engines."
        );
        let long = "word ".repeat(60);
        let d = description("Ada", "ada", Some(&long));
        assert!(d.chars().count() <= 160, "{d}");
        assert!(d.ends_with("word…"), "{d}");
    }
}

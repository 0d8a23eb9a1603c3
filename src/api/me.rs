//! `/api/v1/me` and `/api/v1/me/picture`: the token owner's own account.

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::{Reader, Writer};
use super::problem::{InsufficientScope, Unauthorized, Unavailable};
use super::{Account, Links, Problem, json, unexpected};
use crate::db::users::{self, User};
use crate::multipart::{self, UploadConfig};
use crate::ops::picture::PictureError;
use crate::ops::profile::{AboutInput, ProfileError};
use crate::ops::{self, FieldErrors};

/// Your account.
#[utoipa::path(
    operation_id = "get_me",
    tag = "Your account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your account.", body = Account),
        (status = 401, response = inline(Unauthorized)),
        (status = 503, response = inline(Unavailable)),
    )
)]
#[get("/me")]
pub async fn show(Reader(user): Reader, links: web::Data<Links>) -> HttpResponse {
    json(&links.account(user))
}

/// A change to your public profile: send only the members to change; `null` or `""` clears
/// one. The picture changes through `PATCH /api/v1/me/picture`; username and email on the
/// account page. Any other member is refused (422) and nothing changes.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    /// 1–50 visible characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 50, example = "Ada Lovelace")]
    pub display_name: Option<Option<String>>,
    /// Up to 300 characters; line breaks are kept.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 300)]
    pub bio: Option<Option<String>>,
    /// An `http` or `https` address.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 200, example = "https://example.org")]
    pub website: Option<Option<String>>,
    /// Let other sites show your picture by your email address (`GET /avatar/{hash}`, as
    /// Libravatar and Gravatar do); in force only while the address is confirmed.
    #[serde(default)]
    pub share_by_email: Option<bool>,
}

impl ProfileChange {
    const TEXTS: [&'static str; 3] = ["display_name", "bio", "website"];
    const MEMBERS: [&'static str; 4] = ["display_name", "bio", "website", "share_by_email"];
}

/// A member that is there, `null` or not: `Some(None)` for `null` (absent stays `None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl From<ProfileChange> for AboutInput {
    /// `null` clears, as an empty text does.
    fn from(change: ProfileChange) -> Self {
        let text = |member: Option<Option<String>>| member.map(Option::unwrap_or_default);
        AboutInput {
            display_name: text(change.display_name),
            bio: text(change.bio),
            website: text(change.website),
            share_by_email: change.share_by_email,
        }
    }
}

/// Change your public profile.
#[utoipa::path(
    operation_id = "update_me",
    tag = "Your account",
    security(("bearer" = [])),
    request_body(content = ProfileChange, content_type = "application/json"),
    responses(
        (status = 200, description = "Saved; your account as it is now.", body = Account),
        (status = 400, description = "The body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = inline(Unauthorized)),
        (status = 403, response = inline(InsufficientScope)),
        (status = 413, description = "The body is over 64 KiB.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A member is unknown, of the wrong type or not valid; `errors` names each. Nothing changed.", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    )
)]
#[patch("/me")]
pub async fn update(
    Writer(user): Writer,
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<ops::Context>,
    links: web::Data<Links>,
) -> Result<HttpResponse, Problem> {
    if !is_json(&req) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the change as JSON, with 'Content-Type: application/json'.",
        ));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            format!("The body is not valid JSON ({e})."),
        )
    })?;
    let input = about_input(value).map_err(|errors| Problem::invalid(&errors))?;
    match ops::profile::update_about(&ctx, user.id, input).await {
        Ok(user) => Ok(json(&links.account(user))),
        Err(ProfileError::Invalid(errors)) => Err(Problem::invalid(&errors)),
        Err(ProfileError::Unexpected(e)) => Err(unexpected(e)),
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v.ends_with("+json"))
}

/// The members of a JSON object as the profile operation takes them; every member it does not
/// take, or of the wrong type, is named.
fn about_input(value: Value) -> Result<AboutInput, FieldErrors> {
    let mut errors = FieldErrors::default();
    let Value::Object(members) = value else {
        errors.add(
            "body",
            "The body must be a JSON object of the members to change.",
        );
        return Err(errors);
    };
    // At most a screenful named: a body may hold thousands.
    let unknown = members
        .keys()
        .filter(|name| !ProfileChange::MEMBERS.contains(&name.as_str()));
    for name in unknown.take(20) {
        {
            // Named as sent, cut short: the name is the client's own.
            let shown: String = name.chars().take(64).collect();
            errors.add(shown, refused_member(name));
        }
    }
    for name in ProfileChange::TEXTS {
        if members
            .get(name)
            .is_some_and(|v| !(v.is_string() || v.is_null()))
        {
            errors.add(name, "Must be a string, or null to clear it.");
        }
    }
    if members
        .get("share_by_email")
        .is_some_and(|v| !v.is_boolean())
    {
        errors.add("share_by_email", "Must be true or false.");
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    match serde_json::from_value::<ProfileChange>(Value::Object(members)) {
        Ok(change) => Ok(change.into()),
        Err(e) => {
            errors.add(
                "body",
                format!("The body could not be read as a change: {e}."),
            );
            Err(errors)
        }
    }
}

/// Why a member of a change is refused, in the words of what to do instead.
fn refused_member(name: &str) -> String {
    match name {
        "picture" | "image_file" | "avatar" => {
            "The picture changes only through PATCH /api/v1/me/picture.".to_owned()
        }
        "username" | "email" => format!("The {name} can be changed only on the account page."),
        _ => "Not a member that can be changed here: send only display_name, bio, website and \
              share_by_email."
            .to_owned(),
    }
}

/// A picture and the square to keep, as the account page's form sends them.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PictureUpload {
    /// The picture file: JPEG, PNG, GIF, WebP, BMP, TIFF, ICO, JPEG XL, AVIF or HEIC.
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    picture: Vec<u8>,
    /// The chosen square's left edge, in pixels of the upright picture (all three or none).
    #[schema(required = false, minimum = 0)]
    crop_x: u32,
    /// The chosen square's top edge.
    #[schema(required = false, minimum = 0)]
    crop_y: u32,
    /// The chosen square's side.
    #[schema(required = false, minimum = 1)]
    crop_size: u32,
}

/// Replace your picture.
///
/// Judged by its content, stood upright, flattened onto white, cropped to the square given
/// (or the centred one) and stored as a 300×300 JPEG, exactly as from the account page.
#[utoipa::path(
    operation_id = "replace_picture",
    tag = "Your account",
    security(("bearer" = [])),
    request_body(content = PictureUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Stored; your account with its new picture.", body = Account),
        (status = 400, description = "The multipart body could not be read.", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = inline(Unauthorized)),
        (status = 403, response = inline(InsufficientScope)),
        (status = 408, description = "The body came too slowly.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is over the site's limit (5 MiB unless the operator set another).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `multipart/form-data`, or the file is of a kind not accepted.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No file, not a picture, damaged, too many pixels, or a square outside it; `errors.picture` says which.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many pictures this hour.", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "seconds"))),
        (status = 503, description = "Pictures or the database cannot be reached for a moment; nothing changed.", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "seconds"))),
    )
)]
#[patch("/me/picture")]
pub async fn replace_picture(
    Writer(user): Writer,
    req: HttpRequest,
    body: Multipart,
    ctx: web::Data<ops::Context>,
    config: web::Data<UploadConfig>,
    links: web::Data<Links>,
) -> Result<HttpResponse, Problem> {
    if !is_multipart(&req) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the picture as multipart/form-data, the file in the field 'picture'.",
        ));
    }
    let form = multipart::read_picture(&req, body, &config)
        .await
        .map_err(|refusal| Problem::field(refusal.status(), "picture", refusal.message(&config)))?;
    let stored = match form.upload() {
        Ok(upload) => ops::picture::replace(&ctx, user.id, upload).await,
        Err(refusal) => Err(refusal),
    };
    match stored {
        Ok(_) => {
            let user = reload(&ctx, user.id).await?;
            Ok(json(&links.account(user)))
        }
        Err(PictureError::Unexpected(e)) => Err(unexpected(e)),
        Err(refusal) => {
            let mut problem = Problem::field(refusal.status(), "picture", refusal.to_string());
            if let Some(secs) = refusal.retry_after() {
                problem = problem.retry_after(secs);
            }
            Err(problem)
        }
    }
}

fn is_multipart(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// Back to the default picture.
#[utoipa::path(
    operation_id = "remove_picture",
    tag = "Your account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Done; your account with the default picture.", body = Account),
        (status = 401, response = inline(Unauthorized)),
        (status = 403, response = inline(InsufficientScope)),
        (status = 503, response = inline(Unavailable)),
    )
)]
#[delete("/me/picture")]
pub async fn remove_picture(
    Writer(user): Writer,
    ctx: web::Data<ops::Context>,
    links: web::Data<Links>,
) -> Result<HttpResponse, Problem> {
    ops::picture::remove(&ctx, user.id)
        .await
        .map_err(unexpected)?;
    let user = reload(&ctx, user.id).await?;
    Ok(json(&links.account(user)))
}

/// The account as it is after an operation.
async fn reload(ctx: &ops::Context, id: i64) -> Result<User, Problem> {
    ctx.db
        .run(move |conn| users::find(conn, id).map_err(anyhow::Error::from))
        .await
        .map_err(unexpected)?
        .ok_or_else(|| Problem::for_status(StatusCode::NOT_FOUND))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_not_taken_are_named_and_types_checked() {
        let errors = about_input(serde_json::json!({
            "bio": "hi", "image_file": "../x.jpg", "username": "eve", "display_name": 5
        }))
        .expect_err("refused");
        assert!(
            errors
                .get("image_file")
                .is_some_and(|m| m.contains("/api/v1/me/picture"))
        );
        assert!(errors.get("username").is_some());
        assert!(errors.get("display_name").is_some());
        assert_eq!(errors.get("bio"), None);
    }

    #[test]
    fn null_clears_and_absent_keeps() {
        let input = about_input(serde_json::json!({"bio": null, "website": "https://a.example"}))
            .expect("taken");
        assert_eq!(input.bio.as_deref(), Some(""));
        assert_eq!(input.website.as_deref(), Some("https://a.example"));
        assert_eq!(input.display_name, None);
        assert_eq!(input.share_by_email, None);
        assert!(about_input(serde_json::json!([1, 2])).is_err());
    }

    #[test]
    fn sharing_by_email_is_a_boolean() {
        let input = about_input(serde_json::json!({"share_by_email": true})).expect("taken");
        assert_eq!(input.share_by_email, Some(true));
        for wrong in [
            serde_json::json!("yes"),
            serde_json::json!(null),
            serde_json::json!(1),
        ] {
            let errors =
                about_input(serde_json::json!({ "share_by_email": wrong })).expect_err("refused");
            assert!(errors.get("share_by_email").is_some());
        }
    }
}

//! `/api/v1/users` and `/api/v1/users/{username}`: public profiles, no token needed.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problem::Unavailable;
use super::{Links, Problem, Profile, unexpected};
use crate::directory::{CursorKey, Page};
use crate::ops;

/// A member's public profile.
#[utoipa::path(
    operation_id = "get_user",
    tag = "Members",
    params(("username" = String, Path, description = "The member's username (any case).")),
    responses(
        (status = 200, description = "The member's public profile.", body = Profile),
        (status = 404, description = "No member has that username.", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The member's account is suspended.", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    )
)]
#[get("/users/{username}")]
pub async fn show(
    path: web::Path<String>,
    ctx: web::Data<ops::Context>,
    links: web::Data<Links>,
) -> Result<HttpResponse, Problem> {
    let name = path.into_inner();
    let user = ops::members::find(&ctx, name)
        .await
        .map_err(unexpected)?
        .ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "No member has that username."))?;
    if user.suspended_at.is_some() {
        return Err(Problem::new(
            StatusCode::GONE,
            "This member's account is suspended.",
        ));
    }
    Ok(public(&links.profile(user)))
}

/// A page of the directory.
#[derive(Debug, Serialize, ToSchema)]
pub struct Directory {
    /// Newest first.
    pub users: Vec<Profile>,
    /// The `after` of the next page; `null` on the last.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryQuery {
    /// Members whose username or display name starts with this, ignoring case.
    q: Option<String>,
    /// Where a page starts: the `next` of the page before (opaque).
    #[param(min_length = 1)]
    after: Option<String>,
    /// Members per page.
    #[param(value_type = Option<u8>, minimum = 1, maximum = 50, default = 20)]
    limit: Option<String>,
}

/// The member directory, newest first.
///
/// Pages continue from `after`; a `Link: <…>; rel="next"` header gives the next page's
/// address while there is one.
#[utoipa::path(
    operation_id = "list_users",
    tag = "Members",
    params(DirectoryQuery),
    responses(
        (status = 200, description = "A page of members.", body = Directory,
            headers(("Link" = String, description = "`<…>; rel=\"next\"` while another page follows"))),
        (status = 400, description = "A damaged `after` or a `limit` outside 1–50.", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    )
)]
#[get("/users")]
pub async fn list(
    query: web::Query<DirectoryQuery>,
    ctx: web::Data<ops::Context>,
    links: web::Data<Links>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, Problem> {
    let page = Page::parse(
        query.q.as_deref(),
        query.after.as_deref(),
        query.limit.as_deref(),
        &cursors,
    )
    .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.message()))?;
    let (found, next) = ops::members::page(&ctx, &page, &cursors)
        .await
        .map_err(unexpected)?;
    let directory = Directory {
        users: found.into_iter().map(|m| links.public(m)).collect(),
        next: next.clone(),
    };
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-cache"));
    if let Some(next) = next {
        let url = links.site.absolute(&page.url("/api/v1/users", Some(&next)));
        response.insert_header((header::LINK, format!("<{url}>; rel=\"next\"")));
    }
    Ok(response.json(directory))
}

/// 200 with a public document, which caches may keep only while they check it again.
fn public(body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(body)
}

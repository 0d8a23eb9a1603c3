//! The member directory, `GET /users`: newest first, searchable, paged by sealed cursors.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::{MaybeUser, TypedSession};
use crate::avatar::PictureUrls;
use crate::directory::{CursorKey, Page};
use crate::error::AppError;
use crate::ops;
use crate::templates::{DirectoryFragment, DirectoryPage, ErrorPage, Layout, MemberCard, render};

#[derive(Deserialize)]
pub struct DirectoryQuery {
    q: Option<String>,
    after: Option<String>,
    limit: Option<String>,
    /// `1`: only the members, for the "Load more" button.
    fragment: Option<String>,
}

pub async fn list(
    query: web::Query<DirectoryQuery>,
    viewer: MaybeUser,
    session: TypedSession,
    ctx: web::Data<ops::Context>,
    urls: web::Data<PictureUrls>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let layout = || Layout::new(viewer.0.as_ref(), &session, false);
    let page = match Page::parse(
        query.q.as_deref(),
        query.after.as_deref(),
        query.limit.as_deref(),
        &cursors,
    ) {
        Ok(page) => page,
        Err(e) => {
            let page = ErrorPage {
                layout: layout()?,
                status: 400,
                title: "Bad page link",
                message: e.message(),
                request_id: None,
            };
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };

    let (found, next) = ops::members::page(&ctx, &page, &cursors).await?;
    let next = next.map(|after| page.url("/users", Some(&after)));
    let members: Vec<MemberCard> = found
        .into_iter()
        .map(|m| MemberCard::new(&urls, m))
        .collect();

    if query.fragment.as_deref() == Some("1") {
        return render(StatusCode::OK, &DirectoryFragment { members, next });
    }
    let directory = DirectoryPage {
        layout: layout()?,
        members,
        query: page
            .prefix
            .as_ref()
            .map(|p| p.text.clone())
            .unwrap_or_default(),
        newest: page.after.is_some().then(|| page.url("/users", None)),
        next,
    };
    render(StatusCode::OK, &directory)
}

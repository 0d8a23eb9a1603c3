//! The member directory, `GET /users`: newest first, searchable, paged by sealed cursors.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::{MaybeUser, TypedSession};
use crate::avatar::PictureUrls;
use crate::db::{Db, members};
use crate::directory::{Cursor, CursorKey, Limit, PageError, Prefix};
use crate::error::AppError;
use crate::templates::{
    DirectoryFragment, DirectoryPage, ErrorPage, Layout, MemberCard, percent_encode, render,
};

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
    db: web::Data<Db>,
    urls: web::Data<PictureUrls>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let layout = || Layout::new(viewer.0.as_ref(), &session, false);
    let page = match Request::parse(&query, &cursors) {
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

    let (before, prefix) = (page.after.map(|c| c.before_id), page.prefix.clone());
    // One more than the page shows, to know whether another page follows.
    let wanted = page.limit.get() + 1;
    let mut found = db
        .run(move |conn| Ok::<_, AppError>(members::newest(conn, before, wanted, prefix.as_ref())?))
        .await?;
    let next = if found.len() as i64 >= wanted {
        found.truncate(found.len() - 1);
        found
            .last()
            .map(|last| page.url(Some(&cursors.seal(Cursor { before_id: last.id }))))
    } else {
        None
    };
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
        newest: page.after.is_some().then(|| page.url(None)),
        next,
    };
    render(StatusCode::OK, &directory)
}

/// A directory request, parsed.
struct Request {
    prefix: Option<Prefix>,
    after: Option<Cursor>,
    limit: Limit,
}

impl Request {
    fn parse(query: &DirectoryQuery, cursors: &CursorKey) -> Result<Self, PageError> {
        Ok(Self {
            prefix: Prefix::parse(query.q.as_deref()),
            after: query
                .after
                .as_deref()
                .map(|a| cursors.open(a))
                .transpose()?,
            limit: Limit::parse(query.limit.as_deref())?,
        })
    }

    /// This search with this limit, from `after` (from the first member when `None`).
    fn url(&self, after: Option<&str>) -> String {
        let mut params = Vec::new();
        if let Some(prefix) = &self.prefix {
            params.push(format!("q={}", percent_encode(&prefix.text, b"")));
        }
        if let Some(after) = after {
            params.push(format!("after={after}"));
        }
        if !self.limit.is_default() {
            params.push(format!("limit={}", self.limit.get()));
        }
        if params.is_empty() {
            "/users".to_owned()
        } else {
            format!("/users?{}", params.join("&"))
        }
    }
}

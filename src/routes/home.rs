use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::auth::{MaybeUser, TypedSession};
use crate::avatar::PictureUrls;
use crate::db::{Db, members};
use crate::error::AppError;
use crate::templates::{HomePage, Layout, MemberCard, render};

/// How many of the newest members the home page shows.
const NEWEST: i64 = 6;

pub async fn home(
    user: MaybeUser,
    session: TypedSession,
    db: web::Data<Db>,
    urls: web::Data<PictureUrls>,
) -> Result<HttpResponse, AppError> {
    let newest = db
        .run(|conn| Ok::<_, AppError>(members::newest(conn, None, NEWEST, None, None)?))
        .await?;
    let page = HomePage {
        layout: Layout::new(user.0.as_ref(), &session, false)?,
        members: newest
            .into_iter()
            .map(|m| MemberCard::new(&urls, m))
            .collect(),
    };
    render(StatusCode::OK, &page)
}

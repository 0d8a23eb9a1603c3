use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::auth::{MaybeUser, TypedSession};
use crate::avatar::PictureUrls;
use crate::db::{Db, users};
use crate::error::AppError;
use crate::templates::{Layout, ProfilePage, avatar_url, render};

pub async fn show(
    path: web::Path<String>,
    viewer: MaybeUser,
    session: TypedSession,
    db: web::Data<Db>,
    urls: web::Data<PictureUrls>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let user = db
        .run(move |conn| Ok::<_, AppError>(users::find_by_username(conn, &name)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let page = ProfilePage {
        layout: Layout::new(viewer.0.as_ref(), &session, false)?,
        is_own: viewer.0.as_ref().is_some_and(|v| v.id == user.id),
        avatar_url: avatar_url(&urls, &user.username, user.picture.as_deref()),
        username: user.username,
    };
    render(StatusCode::OK, &page)
}

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use crate::auth::{MaybeUser, TypedSession};
use crate::error::AppError;
use crate::templates::{HomePage, Layout, render};

pub async fn home(user: MaybeUser, session: TypedSession) -> Result<HttpResponse, AppError> {
    let page = HomePage {
        layout: Layout::new(user.0.as_ref(), &session, false)?,
    };
    render(StatusCode::OK, &page)
}

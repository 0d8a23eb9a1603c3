//! `POST /account/picture` and `POST /account/picture/delete`: the form's door to
//! [`ops::picture`](crate::ops::picture).
//!
//! The shape: log-in check (extractor) → stream the body with a byte limit and timeouts →
//! CSRF (the one form that checks it by hand: the token is inside the body) → the operation →
//! a 303 with a message, or the account page again with the refusal beside the field.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::{CsrfForm, CurrentUser, NoFields, TypedSession};
use crate::error::{AppError, see_other};
use crate::multipart::{self, BodyRefusal, UploadConfig};
use crate::ops::{self, picture::PictureError};
use crate::templates::{AccountErrors, Typed};

use super::account::account_page;

pub async fn upload(
    req: HttpRequest,
    user: CurrentUser,
    session: TypedSession,
    body: Multipart,
    ctx: web::Data<ops::Context>,
    config: web::Data<UploadConfig>,
) -> Result<HttpResponse, AppError> {
    let refuse = async |status, message: String| {
        let errors = AccountErrors {
            picture: Some(message),
            ..AccountErrors::default()
        };
        let typed = Typed::default();
        account_page(&user, &session, &config, &ctx.db, status, typed, errors).await
    };
    let form = match multipart::read_picture(&req, body, &config).await {
        Ok(form) => form,
        Err(refusal @ BodyRefusal::TooLarge(_)) => {
            if let BodyRefusal::TooLarge(Some(token)) = &refusal {
                session.check_csrf(Some(token))?;
            }
            return refuse(refusal.status(), refusal.message(&config)).await;
        }
        // Nothing a person can fix in the form: the status's own page.
        Err(refusal) => return Ok(HttpResponse::new(refusal.status())),
    };
    if let Err(e) = session.check_csrf(form.csrf_token.as_deref()) {
        ops::picture::count_upload("forbidden");
        return Err(e);
    }
    let stored = match form.upload() {
        Ok(upload) => ops::picture::replace(&ctx, user.id, upload).await,
        Err(refusal) => Err(refusal),
    };
    match stored {
        Ok(_) => {
            session.flash("Profile picture updated")?;
            Ok(see_other("/account"))
        }
        Err(PictureError::Unexpected(e)) => Err(e.into()),
        Err(refusal) => {
            let mut page = refuse(refusal.status(), refusal.to_string()).await?;
            if let Some(secs) = refusal.retry_after() {
                page.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(secs.max(1)));
            }
            Ok(page)
        }
    }
}

pub async fn remove(
    user: CurrentUser,
    session: TypedSession,
    _: CsrfForm<NoFields>,
    ctx: web::Data<ops::Context>,
) -> Result<HttpResponse, AppError> {
    ops::picture::remove(&ctx, user.id).await?;
    session.flash("Profile picture removed")?;
    Ok(see_other("/account"))
}

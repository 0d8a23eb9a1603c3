//! `POST /account/picture` and `POST /account/picture/delete`: the form's door to
//! [`ops::picture`](crate::ops::picture).
//!
//! The shape: log-in check (extractor) → stream the body with a byte limit and timeouts →
//! CSRF (the one form that checks it by hand: the token is inside the body) → the operation →
//! a 303 with a message, or the account page again with the refusal beside the field.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::{CsrfForm, CurrentUser, NoFields, TypedSession};
use crate::error::{AppError, see_other};
use crate::multipart::{self, FormError, UploadConfig};
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
    let too_large =
        async || refuse(StatusCode::PAYLOAD_TOO_LARGE, config.too_large_message()).await;

    let declared = multipart::declared_length(&req);
    if multipart::hopelessly_large(declared, &config) {
        ops::picture::count_upload("too_large");
        return too_large().await;
    }
    let form = match multipart::read_form(body, &config, declared.unwrap_or(0)).await {
        Ok(form) => form,
        Err(FormError::TooLarge(token)) => {
            ops::picture::count_upload("too_large");
            if token.is_some() {
                session.check_csrf(token.as_deref())?;
            }
            return too_large().await;
        }
        Err(FormError::TimedOut) => {
            ops::picture::count_upload("timed_out");
            return Ok(HttpResponse::RequestTimeout().finish());
        }
        Err(FormError::Malformed) => {
            ops::picture::count_upload("malformed");
            return Ok(HttpResponse::BadRequest().finish());
        }
    };
    if let Err(e) = session.check_csrf(form.csrf_token.as_deref()) {
        ops::picture::count_upload("forbidden");
        return Err(e);
    }
    let upload = match form.upload() {
        Ok(upload) => upload,
        Err(refusal) => {
            ops::picture::count_upload(refusal.kind());
            return refuse(refusal.status(), refusal.to_string()).await;
        }
    };
    match ops::picture::replace(&ctx, user.id, upload).await {
        Ok(_) => {
            session.flash("Profile picture updated")?;
            Ok(see_other("/account"))
        }
        Err(PictureError::Unexpected(e)) => Err(e.into()),
        Err(refusal) => refuse(refusal.status(), refusal.to_string()).await,
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

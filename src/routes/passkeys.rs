//! Passkeys: adding one on `/account/security` (after the password), removing one, and
//! signing in with one from the login page. The ceremonies are driven by `static/passkeys.js`
//! with JSON (the session's token in the `X-CSRF-Token` header); their refusals are problem
//! documents whose `detail` the page shows. Removing is a plain form.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;
use serde_json::json;

use super::account::confirm_password;
use super::auth::safe_next;
use crate::api::Problem;
use crate::auth::{CsrfForm, CsrfJson, MaybeUser, NoFields, Passwords, TypedSession};
use crate::db::Db;
use crate::error::{AppError, see_other};
use crate::mail::Outbox;
use crate::ops::{
    self,
    passkeys::{PasskeyError, Relying},
};

const PAGE: &str = "/account/security";

fn problem(problem: Problem) -> HttpResponse {
    problem.error_response()
}

/// A refusal as the page shows it (a problem document); an unexpected failure is the 500.
fn refusal(e: PasskeyError, signing_in: bool) -> Result<HttpResponse, AppError> {
    let detail = e.to_string();
    let answer = match e {
        PasskeyError::Unexpected(e) => return Err(AppError::Unexpected(e)),
        PasskeyError::BadName(message) => {
            Problem::field(StatusCode::UNPROCESSABLE_ENTITY, "name", message)
        }
        PasskeyError::Suspended { reason } => {
            let detail = match reason.as_deref().filter(|r| !r.is_empty()) {
                Some(reason) => format!("{detail} They gave this reason: {reason}"),
                None => detail,
            };
            Problem::new(StatusCode::FORBIDDEN, detail)
        }
        PasskeyError::Off(_) | PasskeyError::Duplicate => {
            Problem::new(StatusCode::CONFLICT, detail)
        }
        PasskeyError::Expired => Problem::new(StatusCode::BAD_REQUEST, detail),
        PasskeyError::Refused | PasskeyError::Unknown if signing_in => {
            Problem::new(StatusCode::UNAUTHORIZED, detail)
        }
        PasskeyError::Refused | PasskeyError::Unknown => {
            Problem::new(StatusCode::BAD_REQUEST, detail)
        }
    };
    Ok(problem(answer))
}

fn logged_out() -> HttpResponse {
    problem(Problem::new(
        StatusCode::UNAUTHORIZED,
        "You are no longer logged in: log in again, then add the passkey.",
    ))
}

#[derive(Deserialize)]
pub struct AddOptionsRequest {
    #[serde(default)]
    password: String,
    #[serde(default)]
    name: String,
}

/// `POST /account/passkeys/options`: after the password (counted like a login), the options
/// for `navigator.credentials.create` and the ceremony's id.
pub async fn add_options(
    req: HttpRequest,
    user: MaybeUser,
    CsrfJson(body): CsrfJson<AddOptionsRequest>,
    ctx: web::Data<ops::Context>,
    rp: web::Data<Relying>,
    db: web::Data<Db>,
    passwords: web::Data<Passwords>,
) -> Result<HttpResponse, AppError> {
    let Some(user) = user.0 else {
        return Ok(logged_out());
    };
    if let Some(reason) = rp.off_reason() {
        return Ok(problem(Problem::new(StatusCode::CONFLICT, reason)));
    }
    if let Err(e) = ops::passkeys::parse_name(&body.name) {
        return refusal(e, false);
    }
    if let Err((status, message)) =
        confirm_password(&req, &user, body.password, &db, &passwords).await?
    {
        return Ok(problem(Problem::field(status, "password", message)));
    }
    match ops::passkeys::start_registration(&ctx, &rp, user.id, &user.username).await {
        Ok(started) => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({ "challenge": started.challenge, "options": started.options }))),
        Err(e) => refusal(e, false),
    }
}

#[derive(Deserialize)]
pub struct Finish {
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    credential: serde_json::Value,
}

/// `POST /account/passkeys`: the browser's new credential for the ceremony `challenge`; the
/// passkey is stored and its notice mailed.
pub async fn add(
    user: MaybeUser,
    session: TypedSession,
    CsrfJson(body): CsrfJson<Finish>,
    ctx: web::Data<ops::Context>,
    rp: web::Data<Relying>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, AppError> {
    let Some(user) = user.0 else {
        return Ok(logged_out());
    };
    let added = ops::passkeys::finish_registration(
        &ctx,
        &rp,
        user.id,
        &body.challenge,
        &body.name,
        body.credential,
    )
    .await;
    match added {
        Ok(passkey) => {
            outbox.wake();
            tracing::info!(user_id = user.id, passkey = passkey.id, "passkey added");
            session.flash(&format!(
                "Passkey “{}” added: it signs you in without your password.",
                passkey.name
            ))?;
            Ok(HttpResponse::Ok().json(json!({ "redirect": format!("{PAGE}#passkeys") })))
        }
        Err(e) => refusal(e, false),
    }
}

/// `POST /account/passkeys/{id}/delete`: the passkey signs in no more; its notice is mailed.
pub async fn remove(
    path: web::Path<i64>,
    user: crate::auth::CurrentUser,
    session: TypedSession,
    _: CsrfForm<NoFields>,
    ctx: web::Data<ops::Context>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    if !ops::passkeys::remove(&ctx, user.id, id).await? {
        return Err(AppError::NotFound);
    }
    outbox.wake();
    tracing::info!(user_id = user.id, passkey = id, "passkey removed");
    session.flash("The passkey is removed: it no longer signs you in.")?;
    Ok(see_other(&format!("{PAGE}#passkeys")))
}

/// `POST /login/passkey/options`: a sign-in challenge for a passkey the browser picks.
pub async fn login_options(
    _: CsrfJson<serde_json::Value>,
    ctx: web::Data<ops::Context>,
    rp: web::Data<Relying>,
) -> Result<HttpResponse, AppError> {
    match ops::passkeys::start_login(&ctx, &rp).await {
        Ok(started) => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({ "challenge": started.challenge, "options": started.options }))),
        Err(e) => refusal(e, true),
    }
}

/// `POST /login/passkey`: the browser's signed challenge. A user-verified passkey is two
/// factors: no password and no code follow. Answers where to go next.
pub async fn login(
    session: TypedSession,
    CsrfJson(body): CsrfJson<Finish>,
    ctx: web::Data<ops::Context>,
    rp: web::Data<Relying>,
) -> Result<HttpResponse, AppError> {
    match ops::passkeys::finish_login(&ctx, &rp, &body.challenge, body.credential).await {
        Ok(signed_in) => {
            session.log_in(signed_in.user_id, signed_in.session_epoch)?;
            tracing::info!(user_id = signed_in.user_id, "logged in with a passkey");
            let next = safe_next(Some(&body.next));
            Ok(HttpResponse::Ok().json(json!({ "redirect": next })))
        }
        Err(PasskeyError::Suspended { reason }) => {
            tracing::info!("passkey sign-in refused: suspended");
            refusal(PasskeyError::Suspended { reason }, true)
        }
        Err(e) => {
            if !matches!(e, PasskeyError::Unexpected(_)) {
                tracing::info!(reason = %e, "passkey sign-in refused");
            }
            refusal(e, true)
        }
    }
}

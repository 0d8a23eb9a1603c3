//! Forgotten passwords: ask for a link, then choose a new password through it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::auth::{CsrfForm, MaybeUser, Passwords, TypedSession};
use crate::db::{Db, users};
use crate::domain::{Email, TokenHash};

use super::{mail_requests, new_password};
use crate::db::users::User;
use crate::error::{AppError, see_other};
use crate::mail::{Outbox, links};
use crate::templates::{ForgotPage, Layout, LinkPage, RegisterErrors, ResetPage, render};

pub async fn forgot_form(session: TypedSession) -> Result<HttpResponse, AppError> {
    let page = ForgotPage {
        layout: Layout::new(None, &session, true)?,
        email: String::new(),
        error: None,
        throttled: None,
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// The same answer, after the same work, whether or not an account uses the address: a mail
/// is queued for the address, and the account is looked up only when it is written.
pub async fn forgot(
    req: HttpRequest,
    session: TypedSession,
    CsrfForm(form): CsrfForm<ForgotForm>,
    db: web::Data<Db>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, AppError> {
    let again = |status, error, throttled| {
        let page = ForgotPage {
            layout: Layout::new(None, &session, true)?,
            email: form.email.trim().to_owned(),
            error,
            throttled,
        };
        render(status, &page)
    };
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => return again(StatusCode::UNPROCESSABLE_ENTITY, Some(e.to_string()), None),
    };
    if let Some(wait) = mail_requests::count_request(&req, &db, email.as_ref()).await? {
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            Some(mail_requests::too_many(wait)),
        );
    }
    db.run(move |conn| links::request_reset(conn, &email))
        .await?;
    outbox.wake_after_answer();
    session.flash(
        "If an account uses that address, a link to choose a new password is on its way. \
         It works for an hour.",
    )?;
    Ok(see_other("/login"))
}

/// A reset link that is used, expired, unknown or superseded: a 400 page that says what to do.
fn dead_link(user: &MaybeUser, session: &TypedSession) -> Result<HttpResponse, AppError> {
    let page = LinkPage {
        layout: Layout::new(user.0.as_ref(), session, false)?,
        title: "This link no longer works",
        message: "A link to choose a new password works once, within an hour of being sent, \
                  and only the newest one works. Ask for a new link.",
        href: "/password/forgot",
        label: "Ask for a new link",
    };
    render(StatusCode::BAD_REQUEST, &page)
}

/// The account a reset link is for, while the link works.
async fn link_user(db: &Db, token: &str) -> Result<Option<User>, AppError> {
    let Some(hash) = TokenHash::of_link(token) else {
        return Ok(None);
    };
    Ok(db
        .run(move |conn| links::reset_link_user(conn, &hash))
        .await?)
}

fn reset_page(
    user: &MaybeUser,
    session: &TypedSession,
    token: &str,
    account: &User,
    errors: RegisterErrors,
) -> Result<ResetPage, AppError> {
    Ok(ResetPage {
        layout: Layout::new(user.0.as_ref(), session, true)?,
        action: format!("/password/reset/{token}"),
        username: account.username.clone(),
        errors,
    })
}

pub async fn reset_form(
    token: web::Path<String>,
    user: MaybeUser,
    session: TypedSession,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let Some(account) = link_user(&db, &token).await? else {
        return dead_link(&user, &session);
    };
    let page = reset_page(&user, &session, &token, &account, RegisterErrors::default())?;
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn reset(
    token: web::Path<String>,
    user: MaybeUser,
    session: TypedSession,
    CsrfForm(form): CsrfForm<ResetForm>,
    db: web::Data<Db>,
    passwords: web::Data<Passwords>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, AppError> {
    // A dead link costs a lookup, never a password hash.
    let (Some(hash), Some(account)) = (TokenHash::of_link(&token), link_user(&db, &token).await?)
    else {
        return dead_link(&user, &session);
    };
    let password = match new_password(form.password, &form.password_confirm) {
        Ok(password) => password,
        Err((password, password_confirm)) => {
            let errors = RegisterErrors {
                password,
                password_confirm,
                ..RegisterErrors::default()
            };
            let page = reset_page(&user, &session, &token, &account, errors)?;
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let password_hash = passwords.hash(password.into_secret()).await?;
    let reset = db
        .run(move |conn| links::reset_password(conn, &hash, &password_hash))
        .await?;
    let Some((id, epoch)) = reset else {
        return dead_link(&user, &session);
    };
    outbox.wake();
    // A mailed link proves the mailbox, not the second factor: with two-factor sign-in on,
    // the code is still asked for.
    let two_factor = db
        .run(move |conn| Ok::<_, AppError>(users::credentials(conn, id)?))
        .await?
        .is_some_and(|c| c.totp_secret.is_some());
    if two_factor {
        session.begin_two_factor(id, epoch, "/account")?;
        session.flash(
            "Your new password is saved, and every session of your account has ended. Enter a code from your authenticator app to log in.",
        )?;
        tracing::info!(user_id = id, "password reset; waiting for the code");
        return Ok(see_other("/login/two-factor"));
    }
    // Every session of the account is gone; this one starts afresh under a new id.
    session.log_in(id, epoch)?;
    session.flash(
        "Your new password is saved and you are logged in. Every other session of your account has ended.",
    )?;
    tracing::info!(user_id = id, "password reset");
    Ok(see_other("/account"))
}

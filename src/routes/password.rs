//! Forgotten passwords: ask for a link, then choose a new password through it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::auth::{MaybeUser, Passwords, TypedSession};
use crate::db::{self, Db, throttle};
use crate::domain::{Email, TokenHash};

use super::new_password;
use crate::error::{AppError, see_other};
use crate::mail::{Mailer, links};
use crate::proxy;
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
    csrf_token: String,
    #[serde(default)]
    email: String,
}

/// The same answer, after the same work, whether or not an account uses the address: the
/// account is looked up and its mail queued after the answer has gone.
pub async fn forgot(
    req: HttpRequest,
    session: TypedSession,
    form: web::Form<ForgotForm>,
    db: web::Data<Db>,
    mailer: web::Data<Mailer>,
) -> Result<HttpResponse, AppError> {
    session.check_csrf(Some(&form.csrf_token))?;
    let form = form.into_inner();
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
    if let Some(wait) = count_mail_request(&req, &db, email.as_ref()).await? {
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            Some(too_many_links(wait)),
        );
    }
    let (db, mailer) = (db.into_inner(), mailer.into_inner());
    actix_web::rt::spawn(async move {
        let letters = mailer.clone();
        match db
            .run(move |conn| links::send_reset(conn, &letters.letters, &email))
            .await
        {
            Ok(()) => mailer.outbox.wake(),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "cannot queue a reset link"),
        }
    });
    session.flash(
        "If an account uses that address, a link to choose a new password is on its way. \
         It works for an hour.",
    )?;
    Ok(see_other("/login"))
}

/// Counts a request for a mail to `address` from this client; the seconds to wait when one
/// of them has had its share.
pub async fn count_mail_request(
    req: &HttpRequest,
    db: &Db,
    address: &str,
) -> Result<Option<i64>, AppError> {
    let client = proxy::client_of(req).network();
    let address = address.to_ascii_lowercase();
    db.run(move |conn| {
        Ok::<_, AppError>(throttle::mail_request(conn, &address, &client, db::now())?)
    })
    .await
}

pub fn too_many_links(wait_secs: i64) -> String {
    let minutes = (wait_secs + 59) / 60;
    format!(
        "Too many links were asked for in the last hour. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
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

pub async fn reset_form(
    token: web::Path<String>,
    user: MaybeUser,
    session: TypedSession,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let Some(hash) = TokenHash::of_link(&token) else {
        return dead_link(&user, &session);
    };
    let works = db
        .run(move |conn| links::reset_link_works(conn, &hash))
        .await
        .map_err(AppError::from)?;
    if !works {
        return dead_link(&user, &session);
    }
    let page = ResetPage {
        layout: Layout::new(user.0.as_ref(), &session, true)?,
        action: format!("/password/reset/{token}"),
        errors: RegisterErrors::default(),
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn reset(
    token: web::Path<String>,
    user: MaybeUser,
    session: TypedSession,
    form: web::Form<ResetForm>,
    db: web::Data<Db>,
    passwords: web::Data<Passwords>,
) -> Result<HttpResponse, AppError> {
    session.check_csrf(Some(&form.csrf_token))?;
    let Some(hash) = TokenHash::of_link(&token) else {
        return dead_link(&user, &session);
    };
    let form = form.into_inner();
    let password = match new_password(form.password, &form.password_confirm) {
        Ok(password) => password,
        Err((password, password_confirm)) => {
            let page = ResetPage {
                layout: Layout::new(user.0.as_ref(), &session, true)?,
                action: format!("/password/reset/{token}"),
                errors: RegisterErrors {
                    password,
                    password_confirm,
                    ..RegisterErrors::default()
                },
            };
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let password_hash = passwords.hash(password.into_secret()).await?;
    let reset = db
        .run(move |conn| links::reset_password(conn, &hash, &password_hash))
        .await
        .map_err(AppError::from)?;
    let Some((id, epoch)) = reset else {
        return dead_link(&user, &session);
    };
    // Every session of the account is gone; this one starts afresh under a new id.
    session.log_in(id, epoch)?;
    session.flash(
        "Your new password is saved and you are logged in. Every other session of your account has ended.",
    )?;
    tracing::info!(user_id = id, "password reset");
    Ok(see_other("/account"))
}

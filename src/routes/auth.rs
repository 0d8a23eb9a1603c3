//! Register, log in, log out.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;

use crate::auth::{CsrfForm, MaybeUser, NoFields, Passwords, TypedSession};
use crate::db::{self, Db, DbError, throttle, users};
use crate::domain::{Email, Username};
use crate::error::{AppError, see_other};
use crate::proxy;
use crate::templates::{
    Layout, LoginPage, NoticePage, RegisterErrors, RegisterPage, TwoFactorPage, render,
};

use super::{Site, mail_requests, new_password};
use crate::db::users::{Registered, SignupLimit};
use crate::mail::Outbox;
use crate::ops::passkeys::Relying;

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn register_form(
    user: MaybeUser,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    if user.0.is_some() {
        return Ok(see_other("/account"));
    }
    let page = RegisterPage {
        layout: Layout::new(None, &session, true)?,
        username: String::new(),
        email: String::new(),
        errors: RegisterErrors::default(),
    };
    render(StatusCode::OK, &page)
}

pub async fn register(
    req: HttpRequest,
    session: TypedSession,
    CsrfForm(form): CsrfForm<RegisterForm>,
    db: web::Data<Db>,
    passwords: web::Data<Passwords>,
    site: web::Data<Site>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, AppError> {
    let mut errors = RegisterErrors::default();
    let username = Username::parse(&form.username)
        .map_err(|e| errors.username = Some(e.to_string()))
        .ok();
    let email = Email::parse(&form.email)
        .map_err(|e| errors.email = Some(e.to_string()))
        .ok();
    let password = new_password(form.password, &form.password_confirm)
        .map_err(|(password, confirm)| {
            errors.password = password;
            errors.password_confirm = confirm;
        })
        .ok();
    let again = |errors, status| -> Result<HttpResponse, AppError> {
        let page = RegisterPage {
            layout: Layout::new(None, &session, true)?,
            username: form.username.trim().to_owned(),
            email: form.email.trim().to_owned(),
            errors,
        };
        render(status, &page)
    };
    let (Some(username), Some(email), Some(password), false) =
        (username, email, password, errors.any())
    else {
        return again(errors, StatusCode::UNPROCESSABLE_ENTITY);
    };

    let limit = SignupLimit {
        client: proxy::client_of(&req).network(),
        per_hour: site.signups_per_hour,
    };
    // Checked before the password is hashed, so a client past its limit costs little; the
    // insert checks again, in its transaction.
    {
        let early = limit.clone();
        let wait = db
            .run(move |conn| {
                Ok::<_, AppError>(throttle::signup_wait(
                    conn,
                    &early.client,
                    early.per_hour,
                    db::now(),
                )?)
            })
            .await?;
        if let Some(wait) = wait {
            return again(throttled(wait), StatusCode::TOO_MANY_REQUESTS);
        }
    }

    // Checked first so both fields can be reported; the unique indexes decide races.
    let (name, mail) = (username.clone(), email.clone());
    let (name_taken, email_taken) = db
        .run(move |conn| Ok::<_, AppError>(users::taken(conn, &name, &mail, None)?))
        .await?;
    if name_taken || email_taken {
        return again(taken_errors(name_taken, email_taken), StatusCode::CONFLICT);
    }

    let hash = passwords.hash(password.into_secret()).await?;
    let created = db
        .run(move |conn| users::insert(conn, &username, &email, &hash, &limit))
        .await;
    let user = match created {
        Ok(Registered::Created(user)) => user,
        Ok(Registered::Throttled { wait_secs }) => {
            return again(throttled(wait_secs), StatusCode::TOO_MANY_REQUESTS);
        }
        Err(DbError::UsernameTaken) => {
            return again(taken_errors(true, false), StatusCode::CONFLICT);
        }
        Err(DbError::EmailTaken) => return again(taken_errors(false, true), StatusCode::CONFLICT),
        Err(DbError::Unexpected(e)) => return Err(e.into()),
    };
    tracing::info!(user_id = user.id, "registered");
    // The account exists whether or not its link could be queued; the account page can send
    // it again, and says the address is not confirmed.
    let link = match mail_requests::request_confirmation(&db, &outbox, user.id, &user.email).await {
        Ok(()) => format!(
            " A link to confirm your address is on its way to {}.",
            user.email
        ),
        Err(e) => {
            tracing::error!(user_id = user.id, error = %e, "cannot queue the confirmation link");
            String::new()
        }
    };
    session.log_in(user.id, user.session_epoch)?;
    session.flash(&format!(
        "Welcome to Folio, {}! Add a profile picture below.{link}",
        user.username
    ))?;
    Ok(see_other("/account"))
}

fn throttled(wait_secs: i64) -> RegisterErrors {
    let minutes = (wait_secs + 59) / 60;
    RegisterErrors {
        throttled: Some(format!(
            "Too many new accounts from your network in the last hour. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        )),
        ..RegisterErrors::default()
    }
}

fn taken_errors(username: bool, email: bool) -> RegisterErrors {
    RegisterErrors {
        username: username.then(|| "That username is already taken.".into()),
        email: email.then(|| "An account with that email already exists.".into()),
        ..RegisterErrors::default()
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_form(
    query: web::Query<NextQuery>,
    user: MaybeUser,
    session: TypedSession,
    rp: web::Data<Relying>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    if user.0.is_some() {
        return Ok(see_other(&next));
    }
    let page = LoginPage {
        layout: Layout::new(None, &session, true)?,
        username: String::new(),
        next,
        error: None,
        passkeys_off: rp.off_reason().map(str::to_owned),
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

const LOGIN_REFUSED: &str = "That username or email and password do not match an account.";

pub async fn login(
    req: HttpRequest,
    session: TypedSession,
    CsrfForm(form): CsrfForm<LoginForm>,
    db: web::Data<Db>,
    passwords: web::Data<Passwords>,
    rp: web::Data<Relying>,
) -> Result<HttpResponse, AppError> {
    let login = form.username.trim().to_owned();
    let next = safe_next(Some(&form.next));
    let again = |error: String, status| -> Result<HttpResponse, AppError> {
        let page = LoginPage {
            layout: Layout::new(None, &session, true)?,
            username: login.clone(),
            next: next.clone(),
            error: Some(error),
            passkeys_off: rp.off_reason().map(str::to_owned),
        };
        render(status, &page)
    };
    if login.is_empty() || form.password.is_empty() {
        return again(
            "Enter your username or email and your password.".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }

    let client = proxy::client_of(&req).address();
    let name = login.clone();
    let credentials = db
        .run(move |conn| Ok::<_, AppError>(users::credentials_for_login(conn, &name)?))
        .await?;
    // Failures count against the account when it exists, else against the name tried.
    let account = credentials.as_ref().map_or_else(
        || format!("name:{}", login.to_ascii_lowercase()),
        |c| format!("user:{}", c.id),
    );
    let attempt = match begin_attempt(&db, &account, &client).await? {
        Ok(attempt) => attempt,
        Err(wait) => return again(too_many(wait), StatusCode::TOO_MANY_REQUESTS),
    };

    let hash = credentials.as_ref().map(|c| c.password_hash.clone());
    let ok = passwords
        .verify(hash, SecretString::from(form.password))
        .await?;
    let Some(credentials) = credentials.filter(|_| ok) else {
        // The attempt stays counted.
        tracing::info!("login refused");
        return again(LOGIN_REFUSED.into(), StatusCode::UNAUTHORIZED);
    };

    if credentials.totp_secret.is_some() {
        // Only this attempt is forgiven: wrong codes stay counted until a code is right, so
        // giving the password again does not buy more guesses at the code.
        forgive(&db, attempt).await?;
    } else {
        // Forgives this attempt and the account's earlier failures.
        db.run(move |conn| Ok::<_, AppError>(throttle::clear_account(conn, &account)?))
            .await?;
    }
    if credentials.suspended_at.is_some() {
        // The right password only: a wrong one got the usual refusal above.
        tracing::info!(user_id = credentials.id, "login refused: suspended");
        let page = NoticePage {
            layout: Layout::new(None, &session, false)?,
            title: "Your account is suspended".into(),
            paragraphs: vec![
                "The site's moderators suspended this account, so it cannot be used to log in, and its profile and picture are shown to no one. They gave this reason:".into(),
            ],
            quote: Some(credentials.suspension_reason.clone().unwrap_or_default()),
            href: "/".into(),
            label: "Go to the home page".into(),
        };
        return render(StatusCode::FORBIDDEN, &page);
    }
    if credentials.totp_secret.is_some() {
        // Logged in to nothing until the code is given.
        session.begin_two_factor(credentials.id, credentials.session_epoch, &next)?;
        tracing::info!(
            user_id = credentials.id,
            "password accepted; waiting for the code"
        );
        return Ok(see_other("/login/two-factor"));
    }
    session.log_in(credentials.id, credentials.session_epoch)?;
    tracing::info!(user_id = credentials.id, "logged in");
    Ok(see_other(&next))
}

const TWO_FACTOR_EXPIRED: &str =
    "The sign-in waited too long for its code. Log in again with your password.";

/// `GET /login/two-factor`: the code's form, while a login waits for it.
pub async fn two_factor_form(
    session: TypedSession,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let Some((user_id, _, _)) = session.pending_two_factor() else {
        session.flash(TWO_FACTOR_EXPIRED)?;
        return Ok(see_other("/login"));
    };
    let username = pending_username(&db, user_id).await?;
    let page = TwoFactorPage {
        layout: Layout::new(None, &session, true)?,
        username,
        error: None,
    };
    render(StatusCode::OK, &page)
}

async fn pending_username(db: &Db, user_id: i64) -> Result<String, AppError> {
    Ok(db
        .run(move |conn| Ok::<_, AppError>(users::find(conn, user_id)?))
        .await?
        .map(|u| u.username)
        .unwrap_or_default())
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// `POST /login/two-factor`: a current TOTP code (once) or an unused recovery code finishes
/// the login; a wrong one counts like a wrong password.
pub async fn two_factor(
    req: HttpRequest,
    session: TypedSession,
    CsrfForm(form): CsrfForm<CodeForm>,
    db: web::Data<Db>,
    ctx: web::Data<crate::ops::Context>,
) -> Result<HttpResponse, AppError> {
    let Some((user_id, epoch, next)) = session.pending_two_factor() else {
        session.flash(TWO_FACTOR_EXPIRED)?;
        return Ok(see_other("/login"));
    };
    if let Err((status, message)) =
        super::security::check_code(&req, user_id, &form.code, &ctx, &db).await?
    {
        tracing::info!(user_id, "two-factor code refused");
        let page = TwoFactorPage {
            layout: Layout::new(None, &session, true)?,
            username: pending_username(&db, user_id).await?,
            error: Some(message),
        };
        return render(status, &page);
    }
    let account = format!("user:{user_id}");
    db.run(move |conn| Ok::<_, AppError>(throttle::clear_account(conn, &account)?))
        .await?;
    session.log_in(user_id, epoch)?;
    tracing::info!(user_id, "logged in with two factors");
    Ok(see_other(&next))
}

pub async fn logout(
    session: TypedSession,
    _: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    session.log_out();
    session.flash("You have been logged out.")?;
    Ok(see_other("/"))
}

/// Counts a password attempt before the password is checked, or gives the seconds to wait.
/// The attempt counts as a failure unless it is forgiven.
pub async fn begin_attempt(
    db: &Db,
    account: &str,
    client: &str,
) -> Result<Result<throttle::Attempt, i64>, AppError> {
    let (account, client) = (account.to_owned(), client.to_owned());
    db.run(move |conn| {
        Ok::<_, AppError>(throttle::begin_attempt(conn, &account, &client, db::now())?)
    })
    .await
}

pub async fn forgive(db: &Db, attempt: throttle::Attempt) -> Result<(), AppError> {
    db.run(move |conn| Ok::<_, AppError>(throttle::forgive(conn, attempt)?))
        .await
}

pub fn too_many(wait_secs: i64) -> String {
    let minutes = (wait_secs + 59) / 60;
    format!(
        "Too many failed attempts. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

/// Only a local path may follow a login: "/x" yes; "//evil", "/\evil", "https://evil" no.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_never_leaves_the_site() {
        assert_eq!(safe_next(Some("/account")), "/account");
        assert_eq!(safe_next(Some("/users/bob?x=1")), "/users/bob?x=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "\\\\evil",
            "evil",
            "",
            "/\t/evil",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn waits_are_rounded_up_to_minutes() {
        assert_eq!(
            too_many(1),
            "Too many failed attempts. Try again in 1 minute."
        );
        assert_eq!(
            too_many(61),
            "Too many failed attempts. Try again in 2 minutes."
        );
    }
}

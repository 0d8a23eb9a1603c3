//! `/account/security`: the second factor (an authenticator app and its recovery codes), the
//! passkeys' card (its ceremonies are in `passkeys.rs`) and the sessions. Turning the second factor on or off and new recovery codes ask for the
//! password again (and, once it is on, a code), counted like logins.

use actix_web::cookie::Cookie;
use actix_web::cookie::time::{Duration, OffsetDateTime};
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::account::confirm_password;
use super::auth::{begin_attempt, forgive, too_many};
use crate::auth::{
    ABSOLUTE_LIFETIME_SECS, CsrfForm, CurrentUser, NoFields, Passwords, PrivateCookies,
    TypedSession,
};
use crate::db::{self, Db, sessions};
use crate::error::{AppError, see_other};
use crate::head::AskedWithHead;
use crate::mail::Outbox;
use crate::ops::{self, passkeys::Relying, two_factor::CodeError};
use crate::proxy;
use crate::templates::{Layout, render};

use super::Site;

const PAGE: &str = "/account/security";
/// Recovery codes travel to the page that shows them once in a private cookie, so neither
/// the database nor the session ever holds them in plain text.
const CODES_COOKIE: &str = "folio_recovery_codes";
const CODES_MAX_AGE: Duration = Duration::minutes(5);

/// The authenticator app's secret, while it waits for its first code.
pub struct PendingView {
    /// Base32, in groups of four.
    pub secret: String,
    pub link: String,
    /// The link as a QR code: inline SVG drawn here (no outside service).
    pub qr_svg: String,
}

/// One session as the list shows it.
pub struct SessionRow {
    /// `None` for a session from before sessions had names: only "every other" ends it.
    pub handle: Option<String>,
    pub browser: String,
    pub client: String,
    pub started: String,
    pub last_used: String,
    pub current: bool,
}

/// One passkey as the list shows it.
pub struct PasskeyItem {
    pub id: i64,
    pub name: String,
    pub added: String,
    pub last_used: String,
}

/// Messages beside the fields, by form.
#[derive(Default)]
pub struct SecurityErrors {
    pub start_password: Option<String>,
    pub confirm_code: Option<String>,
    pub disable_password: Option<String>,
    pub disable_code: Option<String>,
    pub codes_password: Option<String>,
    pub codes_code: Option<String>,
}

#[derive(Template)]
#[template(path = "security.html")]
pub struct SecurityPage {
    pub layout: Layout,
    pub two_factor_on: bool,
    pub codes_left: i64,
    pub pending: Option<PendingView>,
    /// Recovery codes made just before: shown this once.
    pub new_codes: Option<Vec<String>>,
    pub errors: SecurityErrors,
    pub sessions: Vec<SessionRow>,
    pub passkeys: Vec<PasskeyItem>,
    /// Why passkeys cannot be added here (the site is reached by an IP address).
    pub passkeys_off: Option<String>,
}

/// "2026-12-04 21:07 UTC".
fn when(secs: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// "Firefox on Linux": enough for a person to recognise their own browsers.
pub fn browser_name(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("HeadlessChrome/", "Chrome (headless)"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(token, _)| user_agent.contains(token))
    .map(|(_, name)| *name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(token, _)| user_agent.contains(token))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) if user_agent.is_empty() => "An unknown browser".to_owned(),
        (None, None) => "Another program".to_owned(),
    }
}

/// The page, with `errors` beside their fields and `new_codes` shown once.
async fn page(
    at: &Again<'_>,
    errors: SecurityErrors,
    new_codes: Option<Vec<String>>,
) -> Result<SecurityPage, AppError> {
    let Again {
        user,
        session,
        ctx,
        db,
        site,
        rp,
    } = *at;
    let status = ops::two_factor::status(ctx, user.id).await?;
    let host = url::Url::parse(&site.public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let pending = match status.pending {
        Some(secret) if !status.on => {
            let link = secret.otpauth_url(&host, &user.username);
            let qr_svg = qrcode::QrCode::new(link.as_bytes())
                .map(|code| {
                    code.render::<qrcode::render::svg::Color>()
                        .min_dimensions(200, 200)
                        .quiet_zone(true)
                        .build()
                })
                .map_err(|e| AppError::Unexpected(anyhow::anyhow!("QR code: {e}")))?;
            // Inline: the XML declaration has no place inside HTML.
            let qr_svg = qr_svg
                .find("<svg")
                .map_or(qr_svg.clone(), |at| qr_svg[at..].to_owned());
            Some(PendingView {
                secret: secret.base32(),
                link,
                qr_svg,
            })
        }
        _ => None,
    };
    let current = session.handle();
    let id = user.id;
    let listed = db
        .run(move |conn| {
            Ok::<_, AppError>(sessions::for_user(
                conn,
                id,
                db::now(),
                ABSOLUTE_LIFETIME_SECS,
            )?)
        })
        .await?;
    let sessions = listed
        .into_iter()
        .map(|s| SessionRow {
            current: current.is_some() && current == s.handle,
            browser: browser_name(s.user_agent.as_deref().unwrap_or_default()),
            client: s.client.unwrap_or_else(|| "unknown".to_owned()),
            started: when(s.created_at),
            last_used: when(s.last_used_at.unwrap_or(s.created_at)),
            handle: s.handle,
        })
        .collect();
    let passkeys = ops::passkeys::list(ctx, user.id)
        .await?
        .into_iter()
        .map(|p| PasskeyItem {
            id: p.id,
            name: p.name,
            added: when(p.created_at),
            last_used: p.last_used_at.map_or_else(|| "never".to_owned(), when),
        })
        .collect();
    Ok(SecurityPage {
        layout: Layout::new(Some(user), session, true)?,
        passkeys,
        passkeys_off: rp.off_reason().map(str::to_owned),
        two_factor_on: status.on,
        codes_left: status.codes_left,
        pending,
        new_codes,
        errors,
        sessions,
    })
}

/// `GET /account/security`.
#[allow(clippy::too_many_arguments)]
pub async fn show(
    req: HttpRequest,
    user: CurrentUser,
    session: TypedSession,
    ctx: web::Data<ops::Context>,
    db: web::Data<Db>,
    site: web::Data<Site>,
    rp: web::Data<Relying>,
    cookies: web::Data<PrivateCookies>,
) -> Result<HttpResponse, AppError> {
    session.ensure_handle()?;
    let (codes, removal) = take_new_codes(&req, &cookies, user.id);
    let at = Again {
        user: &user,
        session: &session,
        ctx: &ctx,
        db: &db,
        site: &site,
        rp: &rp,
    };
    let page = page(&at, SecurityErrors::default(), codes).await?;
    let mut response = render(StatusCode::OK, &page)?;
    if let Some(removal) = removal {
        response
            .add_cookie(&removal)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    }
    Ok(response)
}

/// The recovery codes made just before, and the cookie that drops them from the browser. A
/// `HEAD` neither shows nor drops them.
fn take_new_codes(
    req: &HttpRequest,
    cookies: &PrivateCookies,
    user_id: i64,
) -> (Option<Vec<String>>, Option<Cookie<'static>>) {
    if req.extensions().get::<AskedWithHead>().is_some()
        || req.cookie(&cookies.name(CODES_COOKIE)).is_none()
    {
        return (None, None);
    }
    let codes = cookies.open(req, CODES_COOKIE).and_then(|carried| {
        let (owner, codes) = carried.split_once(':')?;
        (owner.parse::<i64>().ok()? == user_id)
            .then(|| codes.split(' ').map(str::to_owned).collect())
    });
    (codes, Some(cookies.removal(CODES_COOKIE, PAGE)))
}

/// 303 to the page, carrying the new recovery codes to it.
fn show_codes(
    cookies: &PrivateCookies,
    user_id: i64,
    codes: &[crate::domain::RecoveryCode],
) -> Result<HttpResponse, AppError> {
    let shown: Vec<String> = codes.iter().map(|c| c.display()).collect();
    let carried = format!("{user_id}:{}", shown.join(" "));
    let cookie = cookies.seal(CODES_COOKIE, carried, PAGE, CODES_MAX_AGE);
    let mut response = see_other(PAGE);
    response
        .add_cookie(&cookie)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    Ok(response)
}

/// The handler's shared extractors, to render the page (again, with errors).
#[derive(Clone, Copy)]
struct Again<'a> {
    user: &'a CurrentUser,
    session: &'a TypedSession,
    ctx: &'a ops::Context,
    db: &'a Db,
    site: &'a Site,
    rp: &'a Relying,
}

impl Again<'_> {
    async fn with(
        &self,
        status: StatusCode,
        errors: SecurityErrors,
    ) -> Result<HttpResponse, AppError> {
        let page = page(self, errors, None).await?;
        render(status, &page)
    }
}

#[derive(Deserialize)]
pub struct PasswordField {
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
pub struct CodeField {
    #[serde(default)]
    code: String,
}

#[derive(Deserialize)]
pub struct PasswordAndCode {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// `POST /account/totp/start`: after the password, a new secret to set up an app with.
#[allow(clippy::too_many_arguments)]
pub async fn start(
    req: HttpRequest,
    user: CurrentUser,
    session: TypedSession,
    CsrfForm(form): CsrfForm<PasswordField>,
    ctx: web::Data<ops::Context>,
    db: web::Data<Db>,
    site: web::Data<Site>,
    rp: web::Data<Relying>,
    passwords: web::Data<Passwords>,
) -> Result<HttpResponse, AppError> {
    let again = Again {
        user: &user,
        session: &session,
        ctx: &ctx,
        db: &db,
        site: &site,
        rp: &rp,
    };
    if let Err((status, message)) =
        confirm_password(&req, &user, form.password, &db, &passwords).await?
    {
        let errors = SecurityErrors {
            start_password: Some(message),
            ..Default::default()
        };
        return again.with(status, errors).await;
    }
    if ops::two_factor::status(&ctx, user.id).await?.on {
        return Ok(see_other(PAGE));
    }
    ops::two_factor::start(&ctx, user.id).await?;
    tracing::info!(user_id = user.id, "two-factor set-up started");
    Ok(see_other(&format!("{PAGE}#two-factor")))
}

/// `POST /account/totp/confirm`: the app's first code turns two-factor sign-in on.
#[allow(clippy::too_many_arguments)]
pub async fn confirm(
    user: CurrentUser,
    session: TypedSession,
    CsrfForm(form): CsrfForm<CodeField>,
    ctx: web::Data<ops::Context>,
    db: web::Data<Db>,
    site: web::Data<Site>,
    rp: web::Data<Relying>,
    cookies: web::Data<PrivateCookies>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, AppError> {
    let again = Again {
        user: &user,
        session: &session,
        ctx: &ctx,
        db: &db,
        site: &site,
        rp: &rp,
    };
    match ops::two_factor::confirm(&ctx, user.id, &form.code).await {
        Ok(codes) => {
            outbox.wake();
            tracing::info!(user_id = user.id, "two-factor sign-in turned on");
            session.flash("Two-factor sign-in is on. Keep your recovery codes somewhere safe.")?;
            show_codes(&cookies, user.id, &codes)
        }
        Err(CodeError::Unexpected(e)) => Err(AppError::Unexpected(e)),
        Err(e) => {
            let errors = SecurityErrors {
                confirm_code: Some(e.to_string()),
                ..Default::default()
            };
            again.with(StatusCode::UNPROCESSABLE_ENTITY, errors).await
        }
    }
}

/// Checks the password and then a second factor, both counted like logins. `Err` is the
/// field at fault (`"password"` or `"code"`), its status and message.
async fn confirm_both(
    req: &HttpRequest,
    user: &CurrentUser,
    form: PasswordAndCode,
    ctx: &ops::Context,
    db: &Db,
    passwords: &Passwords,
) -> Result<Result<(), (&'static str, StatusCode, String)>, AppError> {
    if let Err((status, message)) =
        confirm_password(req, user, form.password, db, passwords).await?
    {
        return Ok(Err(("password", status, message)));
    }
    Ok(check_code(req, user.id, &form.code, ctx, db)
        .await?
        .map_err(|(status, message)| ("code", status, message)))
}

/// Checks a second factor (a TOTP code once, or an unused recovery code), counting a wrong
/// one like a wrong password.
pub async fn check_code(
    req: &HttpRequest,
    user_id: i64,
    code: &str,
    ctx: &ops::Context,
    db: &Db,
) -> Result<Result<(), (StatusCode, String)>, AppError> {
    let account = format!("user:{user_id}");
    let client = proxy::client_of(req).address();
    let attempt = match begin_attempt(db, &account, &client).await? {
        Ok(attempt) => attempt,
        Err(wait) => return Ok(Err((StatusCode::TOO_MANY_REQUESTS, too_many(wait)))),
    };
    if !ops::two_factor::verify(ctx, user_id, code).await? {
        return Ok(Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "That code is not right or was already used. Enter the code your app shows now, or an unused recovery code.".into(),
        )));
    }
    forgive(db, attempt).await?;
    Ok(Ok(()))
}

/// The first half of a form that needs two-factor sign-in on, the password and a code:
/// `Some(answer)` when it stops here (two-factor is off, or the page again with the message
/// beside the field `fields` picks), `None` to go on.
async fn password_and_code(
    again: &Again<'_>,
    req: &HttpRequest,
    form: PasswordAndCode,
    passwords: &Passwords,
    fields: impl FnOnce(&mut SecurityErrors) -> (&mut Option<String>, &mut Option<String>),
) -> Result<Option<HttpResponse>, AppError> {
    if !ops::two_factor::status(again.ctx, again.user.id).await?.on {
        return Ok(Some(see_other(PAGE)));
    }
    let Err((field, status, message)) =
        confirm_both(req, again.user, form, again.ctx, again.db, passwords).await?
    else {
        return Ok(None);
    };
    let mut errors = SecurityErrors::default();
    let (password, code) = fields(&mut errors);
    match field {
        "password" => *password = Some(message),
        _ => *code = Some(message),
    }
    again.with(status, errors).await.map(Some)
}

/// `POST /account/totp/disable`.
#[allow(clippy::too_many_arguments)]
pub async fn disable(
    req: HttpRequest,
    user: CurrentUser,
    session: TypedSession,
    CsrfForm(form): CsrfForm<PasswordAndCode>,
    ctx: web::Data<ops::Context>,
    db: web::Data<Db>,
    site: web::Data<Site>,
    rp: web::Data<Relying>,
    passwords: web::Data<Passwords>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, AppError> {
    let again = Again {
        user: &user,
        session: &session,
        ctx: &ctx,
        db: &db,
        site: &site,
        rp: &rp,
    };
    if let Some(answer) = password_and_code(&again, &req, form, &passwords, |e| {
        (&mut e.disable_password, &mut e.disable_code)
    })
    .await?
    {
        return Ok(answer);
    }
    ops::two_factor::disable(&ctx, user.id).await?;
    outbox.wake();
    tracing::info!(user_id = user.id, "two-factor sign-in turned off");
    session.flash("Two-factor sign-in is off. Logging in asks for your password only.")?;
    Ok(see_other(PAGE))
}

/// `POST /account/recovery-codes`: ten new codes, the old ones void.
#[allow(clippy::too_many_arguments)]
pub async fn new_codes(
    req: HttpRequest,
    user: CurrentUser,
    session: TypedSession,
    CsrfForm(form): CsrfForm<PasswordAndCode>,
    ctx: web::Data<ops::Context>,
    db: web::Data<Db>,
    site: web::Data<Site>,
    rp: web::Data<Relying>,
    passwords: web::Data<Passwords>,
    cookies: web::Data<PrivateCookies>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, AppError> {
    let again = Again {
        user: &user,
        session: &session,
        ctx: &ctx,
        db: &db,
        site: &site,
        rp: &rp,
    };
    if let Some(answer) = password_and_code(&again, &req, form, &passwords, |e| {
        (&mut e.codes_password, &mut e.codes_code)
    })
    .await?
    {
        return Ok(answer);
    }
    let codes = ops::two_factor::new_codes(&ctx, user.id).await?;
    outbox.wake();
    tracing::info!(user_id = user.id, "new recovery codes");
    session.flash("New recovery codes made: the old ones no longer work.")?;
    show_codes(&cookies, user.id, &codes)
}

/// `POST /account/sessions/{handle}/delete`: ends one of the user's sessions (this one too:
/// that is logging out).
pub async fn end_session(
    path: web::Path<String>,
    user: CurrentUser,
    session: TypedSession,
    _: CsrfForm<NoFields>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let handle = path.into_inner();
    let this = session.handle().as_deref() == Some(handle.as_str());
    let id = user.id;
    let ended = db
        .run(move |conn| Ok::<_, AppError>(sessions::end(conn, id, &handle)?))
        .await?;
    if !ended {
        return Err(AppError::NotFound);
    }
    tracing::info!(user_id = id, "session ended");
    if this {
        session.log_out();
        return Ok(see_other("/"));
    }
    session.flash("That session is ended: it is logged out.")?;
    Ok(see_other(PAGE))
}

/// `POST /account/sessions/delete-others`.
pub async fn end_others(
    user: CurrentUser,
    session: TypedSession,
    _: CsrfForm<NoFields>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    // A session from before handles existed has none: it is logged in again under a handle
    // first, so that "every other" can spare it.
    let handle = match session.handle() {
        Some(handle) => handle,
        None => {
            session.log_in(user.id, user.session_epoch)?;
            session.handle().unwrap_or_default()
        }
    };
    let id = user.id;
    let ended = db
        .run(move |conn| Ok::<_, AppError>(sessions::end_others(conn, id, &handle)?))
        .await?;
    tracing::info!(user_id = id, ended, "other sessions ended");
    session.flash(&match ended {
        0 => "There were no other sessions.".to_owned(),
        1 => "The other session is ended.".to_owned(),
        n => format!("The {n} other sessions are ended."),
    })?;
    Ok(see_other(PAGE))
}

#[cfg(test)]
mod tests {
    use super::browser_name;

    #[test]
    fn browsers_are_named_as_people_know_them() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            ("curl/8.5.0", "curl"),
            ("", "An unknown browser"),
            ("python-requests/2.32", "Another program"),
        ];
        for (ua, name) in cases {
            assert_eq!(browser_name(ua), name, "{ua}");
        }
    }
}

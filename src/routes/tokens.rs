//! The "Access tokens" card of the account page: making a personal access token (shown once)
//! and revoking one.

use actix_web::cookie::Cookie;
use actix_web::cookie::time::Duration;
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::auth::{CsrfForm, CurrentUser, NoFields, PrivateCookies, TypedSession};
use crate::db::access_tokens::{self, Created, MAX_LIVE_PER_USER, TokenRow};
use crate::db::{self, Db};
use crate::domain::{AccessToken, Scope, TokenLifetime, TokenName};
use crate::error::{AppError, see_other};
use crate::head::AskedWithHead;
use crate::ops;
use crate::templates::{
    AccountErrors, DateText, SelectOption, TokenFields, TokenItem, TokensCard, Typed,
};

use super::UploadConfig;
use super::account::account_page;

/// The private cookie that carries a new token from its form to the page that shows it: the
/// token is stored nowhere on the server, not even in the session.
const NEW_TOKEN_COOKIE: &str = "folio_new_token";
/// Only the account page reads it.
const NEW_TOKEN_PATH: &str = "/account";
/// Long enough to follow the redirect, short enough not to linger.
const NEW_TOKEN_MAX_AGE: Duration = Duration::minutes(5);

/// The expiry the form offers, in days (any 1–366 posted is taken), and the one it proposes.
const EXPIRY_CHOICES: [u16; 4] = [7, 30, 90, 366];
const DEFAULT_EXPIRY: &str = "30";

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    expires_days: String,
    /// With two-factor sign-in on: a code.
    #[serde(default)]
    code: String,
}

/// `POST /account/tokens`. Tokens are for programs, which two-factor sign-in does not
/// concern; but with it on, making one asks for a code, so a stolen session alone cannot.
#[allow(clippy::too_many_arguments)]
pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    session: TypedSession,
    CsrfForm(form): CsrfForm<CreateForm>,
    db: web::Data<Db>,
    upload: web::Data<UploadConfig>,
    cookies: web::Data<PrivateCookies>,
    ctx: web::Data<ops::Context>,
) -> Result<HttpResponse, AppError> {
    let mut errors = AccountErrors::default();
    let name = TokenName::parse(&form.name)
        .map_err(|e| errors.token_name = Some(e))
        .ok();
    let scope = Scope::parse(&form.scope);
    if scope.is_none() {
        errors.token_scope = Some("Choose what the token may do: read, or read and write.".into());
    }
    let lifetime = TokenLifetime::parse(&form.expires_days)
        .map_err(|e| errors.token_expires = Some(e))
        .ok();
    let typed = Typed {
        token: Some(TokenFields {
            name: form.name,
            scope: form.scope,
            expires_days: form.expires_days,
        }),
        ..Typed::default()
    };
    let (Some(name), Some(scope), Some(lifetime)) = (name, scope, lifetime) else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return account_page(&user, &session, &upload, &db, status, typed, errors).await;
    };
    if ops::two_factor::status(&ctx, user.id).await?.on
        && let Err((status, message)) =
            super::security::check_code(&req, user.id, &form.code, &ctx, &db).await?
    {
        let errors = AccountErrors {
            token_code: Some(message),
            ..AccountErrors::default()
        };
        return account_page(&user, &session, &upload, &db, status, typed, errors).await;
    }

    let token = AccessToken::generate();
    let hash = token.hash();
    let user_id = user.id;
    let created = db
        .run(move |conn| {
            let now = db::now();
            let expires_at = lifetime.expires_at(now);
            Ok::<_, AppError>(access_tokens::create_within_limit(
                conn, user_id, &name, scope, expires_at, &hash, now,
            )?)
        })
        .await?;
    let token_id = match created {
        Created::Token(id) => id,
        Created::TooMany => {
            let errors = AccountErrors {
                tokens: Some(format!(
                    "You have {MAX_LIVE_PER_USER} tokens, as many as an account may have. \
                     Revoke one you no longer use, then create this one."
                )),
                ..AccountErrors::default()
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return account_page(&user, &session, &upload, &db, status, typed, errors).await;
        }
    };
    tracing::info!(
        user_id,
        token_id,
        scope = scope.as_str(),
        "access token created"
    );
    session.flash("Access token created")?;
    // Bound to the account, so another person logging in on this browser never sees it.
    let carried = format!("{user_id}:{}", token.expose());
    let cookie = cookies.seal(NEW_TOKEN_COOKIE, carried, NEW_TOKEN_PATH, NEW_TOKEN_MAX_AGE);
    let mut response = see_other("/account");
    response
        .add_cookie(&cookie)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    Ok(response)
}

/// `POST /account/tokens/{id}/delete`: one of the user's own tokens; any other id is a 404.
pub async fn revoke(
    path: web::Path<i64>,
    user: CurrentUser,
    session: TypedSession,
    _: CsrfForm<NoFields>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let token_id = path.into_inner();
    let user_id = user.id;
    let revoked = db
        .run(move |conn| Ok::<_, AppError>(access_tokens::revoke(conn, user_id, token_id)?))
        .await?;
    if !revoked {
        return Err(AppError::NotFound);
    }
    tracing::info!(user_id, token_id, "access token revoked");
    session.flash("Access token revoked")?;
    Ok(see_other("/account"))
}

/// The token just made, for the account page to show once, and the cookie that drops it
/// from the browser (whenever one came, even one that does not open or is another
/// account's). A `HEAD` neither shows nor drops it: only a page someone sees uses it up.
pub fn take_new_token(
    req: &HttpRequest,
    cookies: &PrivateCookies,
    user_id: i64,
) -> (Option<String>, Option<Cookie<'static>>) {
    if req.extensions().get::<AskedWithHead>().is_some()
        || req.cookie(&cookies.name(NEW_TOKEN_COOKIE)).is_none()
    {
        return (None, None);
    }
    let token = cookies
        .open(req, NEW_TOKEN_COOKIE)
        .and_then(|carried| {
            let (owner, token) = carried.split_once(':')?;
            (owner.parse::<i64>().ok()? == user_id).then(|| token.to_owned())
        })
        .filter(|token| AccessToken::parse(token).is_some());
    let removal = cookies.removal(NEW_TOKEN_COOKIE, NEW_TOKEN_PATH);
    (token, Some(removal))
}

/// The card's contents: the form with `typed` values (or the proposed ones), and `rows`.
pub fn card(
    rows: Vec<TokenRow>,
    typed: Option<TokenFields>,
    new_token: Option<String>,
    now: i64,
    ask_code: bool,
) -> TokensCard {
    let typed = typed.unwrap_or_else(|| TokenFields {
        name: String::new(),
        scope: Scope::Read.as_str().to_owned(),
        expires_days: DEFAULT_EXPIRY.to_owned(),
    });
    TokensCard {
        ask_code,
        new_token,
        expiry_options: expiry_options(&typed.expires_days),
        name: typed.name,
        scope: typed.scope,
        items: rows
            .into_iter()
            .map(|row| TokenItem {
                id: row.id,
                scope: row.scope,
                created: DateText::of(row.created_at),
                expired: row.expires_at.is_some_and(|at| at <= now),
                expires: row.expires_at.map(DateText::of),
                last_used: row.last_used_at.map(DateText::of),
                name: row.name,
            })
            .collect(),
    }
}

/// The expiry choices, with `chosen` selected; a valid number of days the list lacks (posted
/// by hand) is added, so that a form shown again keeps it. Nothing is selected for a value
/// that is not valid.
fn expiry_options(chosen: &str) -> Vec<SelectOption> {
    let chosen = TokenLifetime::parse(chosen).ok().map(TokenLifetime::days);
    let mut days: Vec<u16> = EXPIRY_CHOICES.to_vec();
    if let Some(Some(d)) = chosen
        && !days.contains(&d)
    {
        days.push(d);
        days.sort_unstable();
    }
    let mut options: Vec<SelectOption> = days
        .into_iter()
        .map(|d| SelectOption {
            value: d.to_string(),
            label: if d == 1 {
                "1 day".to_owned()
            } else {
                format!("{d} days")
            },
            selected: chosen == Some(Some(d)),
        })
        .collect();
    options.push(SelectOption {
        value: String::new(),
        label: "Never".to_owned(),
        selected: chosen == Some(None),
    });
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expiry_choices_keep_what_was_chosen() {
        let selected = |chosen: &str| -> Vec<String> {
            expiry_options(chosen)
                .into_iter()
                .filter(|o| o.selected)
                .map(|o| o.value)
                .collect()
        };
        assert_eq!(selected("30"), ["30"]);
        assert_eq!(selected(" 030 "), ["30"]);
        assert_eq!(selected(""), [""]);
        assert_eq!(selected("45"), ["45"]);
        assert_eq!(selected("0"), Vec::<String>::new());
        let values: Vec<String> = expiry_options("45").into_iter().map(|o| o.value).collect();
        assert_eq!(values, ["7", "30", "45", "90", "366", ""]);
        let values: Vec<String> = expiry_options("abc").into_iter().map(|o| o.value).collect();
        assert_eq!(values, ["7", "30", "90", "366", ""]);
    }
}

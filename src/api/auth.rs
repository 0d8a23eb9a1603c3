//! `Authorization: Bearer <token>`: the only way into the API's own data. The session cookie
//! is never read here (the API sits outside the session middleware), so the API has no CSRF
//! surface; and a token is never read by a page.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, web};

use super::problem::Problem;
use crate::db::users::{self, User};
use crate::db::{self, access_tokens};
use crate::domain::{AccessToken, Scope};
use crate::ops;

/// A request made with a live token of at least `read` scope, and the account it speaks for.
pub struct Reader(pub User);

/// A request made with a live `write` token.
pub struct Writer(pub User);

/// The answer to a request without a usable token (RFC 6750 §3).
fn unauthorized(token_sent: bool) -> Problem {
    if token_sent {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "The access token is unknown, expired or revoked. Make a new one on your account page.",
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            r#"Bearer realm="folio", error="invalid_token""#,
        )
    } else {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "This operation needs an access token, sent as 'Authorization: Bearer <token>'. \
             Make one on your account page.",
        )
        .with_header(header::WWW_AUTHENTICATE, r#"Bearer realm="folio""#)
    }
}

fn insufficient_scope() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "This operation changes your account: it needs a token with the write scope.",
    )
    .with_header(
        header::WWW_AUTHENTICATE,
        r#"Bearer realm="folio", error="insufficient_scope", scope="write""#,
    )
}

/// The token the request carries: `None` when it sends none, `Some(None)` when what it sends
/// cannot be a token.
fn presented(req: &HttpRequest) -> Option<Option<AccessToken>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let text = value.to_str().ok().map(str::trim);
    let token = text.and_then(|t| {
        let (scheme, token) = t.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| AccessToken::parse(token.trim()))
            .flatten()
    });
    Some(token)
}

/// The account behind the request's token, if the token is live and allows `needed`.
async fn authorize(req: HttpRequest, needed: Scope) -> Result<User, Problem> {
    let token = match presented(&req) {
        None => return Err(unauthorized(false)),
        Some(None) => return Err(unauthorized(true)),
        Some(Some(token)) => token,
    };
    let ctx = req
        .app_data::<web::Data<ops::Context>>()
        .ok_or_else(|| Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR))?
        .clone();
    let hash = token.hash();
    let found = ctx
        .db
        .run(move |conn| {
            let now = db::now();
            let Some(grant) = access_tokens::authenticate(conn, &hash, now)? else {
                return Ok::<_, anyhow::Error>(None);
            };
            // A token's last use is written at most once a minute: a read is not a write.
            // Best effort: a busy database must not fail the request for a bookkeeping write.
            if grant.needs_touch(now)
                && let Err(e) = access_tokens::touch(conn, grant.token_id, now)
            {
                tracing::warn!(error = %e, "a token's last use could not be recorded");
            }
            Ok(users::find(conn, grant.user_id)?.map(|user| (user, grant.scope)))
        })
        .await
        .map_err(super::unexpected)?;
    let Some((user, scope)) = found else {
        return Err(unauthorized(true));
    };
    if !scope.allows(needed) {
        return Err(insufficient_scope());
    }
    Ok(user)
}

impl FromRequest for Reader {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authorize(req, Scope::Read).await.map(Reader) })
    }
}

impl FromRequest for Writer {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authorize(req, Scope::Write).await.map(Writer) })
    }
}

//! Confirming addresses: the mailed link, and sending it again.

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use crate::auth::{CsrfForm, CurrentUser, MaybeUser, NoFields, TypedSession};
use crate::db::{Db, DbError};
use crate::domain::TokenHash;
use crate::error::{AppError, see_other};
use crate::head::AskedWithHead;
use crate::mail::Outbox;
use crate::mail::links::{self, Confirmed};
use crate::templates::{AccountErrors, Layout, LinkPage, Typed, render};

use super::account::account_page;
use super::{UploadConfig, mail_requests};

pub async fn confirm(
    req: HttpRequest,
    token: web::Path<String>,
    user: MaybeUser,
    session: TypedSession,
    db: web::Data<Db>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, AppError> {
    let link_page = |status, title, message| {
        let page = LinkPage {
            layout: Layout::new(user.0.as_ref(), &session, false)?,
            title,
            message,
            href: "/account",
            label: "Go to your account",
        };
        render(status, &page)
    };
    let Some(hash) = TokenHash::of_link(&token) else {
        return link_page(StatusCode::BAD_REQUEST, DEAD_TITLE, DEAD_MESSAGE);
    };
    // A HEAD answers as the GET would, without using the link up.
    if req.extensions().contains::<AskedWithHead>() {
        let live = db
            .run(move |conn| links::confirmation_link_works(conn, &hash))
            .await?;
        return if live {
            Ok(see_other("/account"))
        } else {
            link_page(StatusCode::BAD_REQUEST, DEAD_TITLE, DEAD_MESSAGE)
        };
    }
    let confirmed = db.run(move |conn| links::confirm(conn, &hash)).await;
    match confirmed {
        Ok(Confirmed::Address) => session.flash("Your email address is confirmed.")?,
        Ok(Confirmed::Changed) => {
            outbox.wake();
            session.flash("Your email address is changed and confirmed.")?;
        }
        Ok(Confirmed::Invalid) => {
            return link_page(StatusCode::BAD_REQUEST, DEAD_TITLE, DEAD_MESSAGE);
        }
        Err(DbError::EmailTaken) => {
            return link_page(
                StatusCode::CONFLICT,
                "That address is taken",
                "Another account has started using this address since the link was sent, so \
                 your address has not changed. You can choose another one on your account page.",
            );
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other("/account"))
}

const DEAD_TITLE: &str = "This link no longer works";
const DEAD_MESSAGE: &str = "A confirmation link works once, within an hour of being sent, and \
     only the newest one works. Your account page can send a new one.";

/// Sends the confirmation link again: to the address waiting to be confirmed, else to the
/// account's own unconfirmed address.
pub async fn resend(
    req: HttpRequest,
    user: CurrentUser,
    session: TypedSession,
    _: CsrfForm<NoFields>,
    db: web::Data<Db>,
    outbox: web::Data<Outbox>,
    upload: web::Data<UploadConfig>,
) -> Result<HttpResponse, AppError> {
    let address = match &user.pending_email {
        Some(pending) => pending.clone(),
        None if !user.email_confirmed => user.email.clone(),
        None => {
            session.flash("Your email address is already confirmed.")?;
            return Ok(see_other("/account"));
        }
    };
    if let Some(wait) = mail_requests::count_request(&req, &db, &address).await? {
        let errors = AccountErrors {
            confirm: Some(mail_requests::too_many(wait)),
            ..AccountErrors::default()
        };
        return account_page(
            &user,
            &session,
            &upload,
            &db,
            StatusCode::TOO_MANY_REQUESTS,
            Typed::default(),
            errors,
        )
        .await;
    }
    mail_requests::request_confirmation(&db, &outbox, user.id, &address).await?;
    session.flash(&format!(
        "A new link is on its way to {address}. It works for an hour."
    ))?;
    Ok(see_other("/account"))
}

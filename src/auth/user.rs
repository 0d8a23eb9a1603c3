//! Extractors for the logged-in user.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};

use super::TypedSession;
use crate::avatar::PictureUrls;
use crate::avatar::Renditions;
use crate::db::{Db, users, users::User};
use crate::error::AppError;
use crate::links::{Avatar, avatar};

/// The logged-in user, with their picture's addresses; anonymous visitors are sent to the
/// login page (303), which brings them back afterwards.
pub struct CurrentUser {
    pub user: User,
    pub avatar: Avatar,
    /// A new address the user asked to move to, waiting for its link to be used.
    pub pending_email: Option<String>,
}

/// The logged-in user, if any.
pub struct MaybeUser(pub Option<CurrentUser>);

impl Deref for CurrentUser {
    type Target = User;
    fn deref(&self) -> &User {
        &self.user
    }
}

/// A session names a user only while that user exists and its epoch matches: a password
/// change elsewhere ends this session even if its row survived.
async fn load(req: &HttpRequest) -> Result<Option<CurrentUser>, AppError> {
    let session = TypedSession::extract(req)
        .await
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("session: {e}")))?;
    let Some((id, epoch)) = session.user() else {
        return Ok(None);
    };
    let db = req
        .app_data::<web::Data<Db>>()
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no database configured")))?
        .clone();
    let user = db
        .run(move |conn| {
            Ok::<_, AppError>(users::find_with_pending_email(conn, id, crate::db::now())?)
        })
        .await?;
    let urls = req
        .app_data::<web::Data<PictureUrls>>()
        .map_or_else(|| PictureUrls::new(None), |u| u.get_ref().clone());
    Ok(user
        // A suspension ends sessions by their epoch already; this also covers any session
        // that could still name the account.
        .filter(|(u, _)| u.session_epoch == epoch && u.suspended_at.is_none())
        .map(|(user, pending)| CurrentUser {
            avatar: avatar(
                &urls,
                &user.username,
                user.picture.as_deref(),
                Renditions::from_db(user.picture_renditions),
            ),
            pending_email: pending.filter(|p| !crate::domain::same_mailbox(p, &user.email)),
            user,
        }))
}

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeUser(load(&req).await?)) })
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match load(&req).await? {
                Some(user) => Ok(user),
                None => Err(AppError::LoginRequired {
                    next: return_path(&req),
                }),
            }
        })
    }
}

/// Where to come back to after logging in: the page asked for, or for a form post the
/// account page it came from.
fn return_path(req: &HttpRequest) -> String {
    if *req.method() == Method::GET {
        req.uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned())
    } else if req.path().starts_with("/account") {
        "/account".to_owned()
    } else {
        "/".to_owned()
    }
}

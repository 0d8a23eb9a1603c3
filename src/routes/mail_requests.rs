//! What the handlers that queue mailed links share: the throttle's count and its words, and
//! queuing a confirmation link.

use actix_web::{HttpRequest, web};

use crate::db::{self, Db, throttle};
use crate::error::AppError;
use crate::mail::{Outbox, links};
use crate::proxy;

/// Counts a request for a mail to `address` from this client; the seconds to wait when one
/// of them has had its share.
pub async fn count_request(
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

pub fn too_many(wait_secs: i64) -> String {
    let minutes = (wait_secs + 59) / 60;
    format!(
        "Too many links were asked for in the last hour. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

/// Queues a link confirming `address` for the user, and wakes the sender.
pub async fn request_confirmation(
    db: &Db,
    outbox: &web::Data<Outbox>,
    user_id: i64,
    address: &str,
) -> Result<(), AppError> {
    let address = address.to_owned();
    db.run(move |conn| links::request_confirmation(conn, user_id, &address))
        .await?;
    outbox.wake();
    Ok(())
}

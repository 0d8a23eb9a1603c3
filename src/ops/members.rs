//! Finding members: one by name, or a page of the directory.

use super::Context;
use crate::db::members::{self, Member};
use crate::db::users::{self, User};
use crate::directory::{Cursor, CursorKey, Page};

/// The member with this username (ignoring case).
pub async fn find(ctx: &Context, username: String) -> anyhow::Result<Option<User>> {
    ctx.db
        .run(move |conn| users::find_by_username(conn, &username).map_err(anyhow::Error::from))
        .await
}

/// A page of the directory, newest first, and the sealed cursor of the next one when more
/// members follow.
pub async fn page(
    ctx: &Context,
    page: &Page,
    cursors: &CursorKey,
) -> anyhow::Result<(Vec<Member>, Option<String>)> {
    let (before, prefix) = (page.after.map(|c| c.before_id), page.prefix.clone());
    let walks = ctx.walks.clone();
    // One more than the page shows, to know whether another page follows.
    let wanted = page.limit.get() + 1;
    let mut found = ctx
        .db
        .run(move |conn| {
            members::newest(conn, before, wanted, prefix.as_ref(), Some(&walks))
                .map_err(anyhow::Error::from)
        })
        .await?;
    let next = if found.len() as i64 >= wanted {
        found.truncate(found.len() - 1);
        found
            .last()
            .map(|last| cursors.seal(Cursor { before_id: last.id }))
    } else {
        None
    };
    Ok((found, next))
}

//! The `sessions` table behind actix-session's store.

use diesel::prelude::*;

use super::DbConn;

use super::schema::sessions as s;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = s)]
pub struct SessionRow {
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn load(conn: &mut DbConn, id: &str) -> QueryResult<Option<SessionRow>> {
    s::table
        .find(id)
        .select(SessionRow::as_select())
        .get_result(conn)
        .optional()
}

/// Who a session is, as its row says it beside the state: the user, and for the sessions
/// list its handle, browser and client address (taken from the state when it is saved).
#[derive(Debug, Clone, Default)]
pub struct Owner {
    pub user_id: Option<i64>,
    pub handle: Option<String>,
    pub user_agent: Option<String>,
    pub client: Option<String>,
}

pub fn insert(
    conn: &mut DbConn,
    id: &str,
    owner: &Owner,
    state: &str,
    now: i64,
    expires_at: i64,
) -> QueryResult<()> {
    diesel::insert_into(s::table)
        .values((
            s::id.eq(id),
            s::user_id.eq(owner.user_id),
            s::handle.eq(&owner.handle),
            s::user_agent.eq(&owner.user_agent),
            s::client.eq(&owner.client),
            s::state.eq(state),
            s::created_at.eq(now),
            s::expires_at.eq(expires_at),
            s::last_used_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Returns false when the session no longer exists.
pub fn update(
    conn: &mut DbConn,
    id: &str,
    owner: &Owner,
    state: &str,
    now: i64,
    expires_at: i64,
) -> QueryResult<bool> {
    let n = diesel::update(s::table.find(id))
        .set((
            s::user_id.eq(owner.user_id),
            s::handle.eq(&owner.handle),
            s::user_agent.eq(&owner.user_agent),
            s::client.eq(&owner.client),
            s::state.eq(state),
            s::expires_at.eq(expires_at),
            s::last_used_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Pushes the idle expiry out and records the last use, writing only when the expiry moved by
/// more than `slack` seconds so that page views do not each cost a write (the last use is
/// then right to within `slack`).
pub fn touch(
    conn: &mut DbConn,
    id: &str,
    now: i64,
    expires_at: i64,
    slack: i64,
) -> QueryResult<()> {
    diesel::update(
        s::table
            .find(id)
            .filter(s::expires_at.lt(expires_at - slack)),
    )
    .set((s::expires_at.eq(expires_at), s::last_used_at.eq(now)))
    .execute(conn)?;
    Ok(())
}

/// A session as the sessions list shows it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = s)]
pub struct Listed {
    pub handle: Option<String>,
    pub user_agent: Option<String>,
    pub client: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The user's live sessions, the most recently used first.
pub fn for_user(
    conn: &mut DbConn,
    user_id: i64,
    now: i64,
    absolute_lifetime: i64,
) -> QueryResult<Vec<Listed>> {
    s::table
        .filter(s::user_id.eq(user_id))
        .filter(s::expires_at.gt(now))
        .filter(s::created_at.gt(now - absolute_lifetime))
        .order((s::last_used_at.desc(), s::created_at.desc()))
        .select(Listed::as_select())
        .load(conn)
}

/// Ends the user's session with this handle; `false` if there is none.
pub fn end(conn: &mut DbConn, user_id: i64, handle: &str) -> QueryResult<bool> {
    let n = diesel::delete(
        s::table
            .filter(s::user_id.eq(user_id))
            .filter(s::handle.eq(handle)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Ends every session of the user but the one with handle `keep`; how many ended.
pub fn end_others(conn: &mut DbConn, user_id: i64, keep: &str) -> QueryResult<usize> {
    diesel::delete(
        s::table
            .filter(s::user_id.eq(user_id))
            .filter(s::handle.is_null().or(s::handle.ne(keep))),
    )
    .execute(conn)
}

pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    diesel::delete(s::table.find(id)).execute(conn)?;
    Ok(())
}

/// Removes sessions past their idle expiry or their absolute lifetime.
pub fn purge_expired(conn: &mut DbConn, now: i64, absolute_lifetime: i64) -> QueryResult<usize> {
    diesel::delete(
        s::table.filter(
            s::expires_at
                .le(now)
                .or(s::created_at.le(now - absolute_lifetime)),
        ),
    )
    .execute(conn)
}

pub fn count_for_user(conn: &mut DbConn, user_id: i64) -> QueryResult<i64> {
    s::table
        .filter(s::user_id.eq(user_id))
        .count()
        .get_result(conn)
}

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

pub fn insert(
    conn: &mut DbConn,
    id: &str,
    user_id: Option<i64>,
    state: &str,
    now: i64,
    expires_at: i64,
) -> QueryResult<()> {
    diesel::insert_into(s::table)
        .values((
            s::id.eq(id),
            s::user_id.eq(user_id),
            s::state.eq(state),
            s::created_at.eq(now),
            s::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Returns false when the session no longer exists.
pub fn update(
    conn: &mut DbConn,
    id: &str,
    user_id: Option<i64>,
    state: &str,
    expires_at: i64,
) -> QueryResult<bool> {
    let n = diesel::update(s::table.find(id))
        .set((
            s::user_id.eq(user_id),
            s::state.eq(state),
            s::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Pushes the idle expiry out, writing only when it moved by more than `slack` seconds so
/// that page views do not each cost a write.
pub fn touch(conn: &mut DbConn, id: &str, expires_at: i64, slack: i64) -> QueryResult<()> {
    diesel::update(
        s::table
            .find(id)
            .filter(s::expires_at.lt(expires_at - slack)),
    )
    .set(s::expires_at.eq(expires_at))
    .execute(conn)?;
    Ok(())
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

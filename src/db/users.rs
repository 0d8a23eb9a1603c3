//! The `users` table.

use diesel::prelude::*;

use super::schema::{sessions, users};
use super::{DbConn, DbError, now, throttle, write_transaction};
use crate::avatar::Renditions;
use crate::domain::{AboutChange, AddressHashes, DisplayName, Email, EmailHash, Username};

// Usernames and emails are unique ignoring case: every lookup compares lower(column), which
// both backends index (a unique index on each, see migrations/), with the wanted value
// lowered the same way. Both are ASCII by rule, so ASCII lowering is exact on both sides.
use super::lower;

type UsernameIs = diesel::dsl::Eq<lower<users::username>, String>;
type EmailIs = diesel::dsl::Eq<lower<users::email>, String>;

fn username_is(name: &str) -> UsernameIs {
    lower(users::username).eq(name.to_ascii_lowercase())
}

fn email_is(email: &str) -> EmailIs {
    lower(users::email).eq(email.to_ascii_lowercase())
}

/// A user as pages show them.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub picture: Option<String>,
    pub session_epoch: i64,
    pub created_at: i64,
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub website: Option<String>,
    pub email_confirmed: bool,
    pub moderator: bool,
    /// Set while the account is suspended: it opens nothing and shows nowhere.
    pub suspended_at: Option<i64>,
    pub picture_renditions: i32,
    /// The member's wish to let other sites show their picture by their address; in force
    /// only while the address is confirmed (see [`keep_shared_hashes`]).
    pub share_by_email: bool,
}

/// What a login needs to check a password.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
    pub session_epoch: i64,
    pub suspended_at: Option<i64>,
    pub suspension_reason: Option<String>,
    /// Sealed; `Some` while two-factor sign-in is on.
    pub totp_secret: Option<String>,
}

/// How many accounts one client address may create in an hour; `per_hour == 0` is no limit.
#[derive(Debug, Clone)]
pub struct SignupLimit {
    pub client: String,
    pub per_hour: u32,
}

pub enum Registered {
    Created(User),
    /// The client has created its accounts for the hour: the seconds until it may again.
    Throttled {
        wait_secs: i64,
    },
}

/// Creates the account, unless the client address has used up its sign-ups. Counting and
/// creating are one transaction (and on PostgreSQL one advisory lock per address), so a burst
/// of sign-ups through several instances cannot all pass the count.
pub fn insert(
    conn: &mut DbConn,
    username: &Username,
    email: &Email,
    password_hash: &str,
    limit: &SignupLimit,
) -> Result<Registered, DbError> {
    write_transaction(conn, |conn| {
        let now = now();
        if let Some(wait_secs) = throttle::signup_wait(conn, &limit.client, limit.per_hour, now)? {
            return Ok(Registered::Throttled { wait_secs });
        }
        let user = diesel::insert_into(users::table)
            .values((
                users::username.eq(username.as_ref()),
                users::email.eq(email.as_ref()),
                users::password_hash.eq(password_hash),
                users::created_at.eq(now),
                // share_by_email, email_md5 and email_sha256 keep their defaults (off, NULL):
                // a new address is unconfirmed, so nothing is shared yet.
            ))
            // The columns themselves: `User::as_returning()` cannot cross `DbConn`'s two
            // backends.
            .returning(<User as Selectable<diesel::sqlite::Sqlite>>::construct_selection())
            .get_result(conn)?;
        throttle::record_signup(conn, &limit.client, now)?;
        Ok(Registered::Created(user))
    })
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .get_result(conn)
        .optional()
}

/// The user, with the address a live confirmation link would confirm (their own while it is
/// unconfirmed, or the one they asked to move to): one query, as every page of a logged-in
/// user makes it.
pub fn find_with_pending_email(
    conn: &mut DbConn,
    id: i64,
    now: i64,
) -> QueryResult<Option<(User, Option<String>)>> {
    use super::schema::email_tokens as t;
    users::table
        .find(id)
        .left_join(
            t::table.on(t::user_id
                .eq(users::id)
                .and(t::purpose.eq(crate::domain::Purpose::Confirm.as_str()))
                .and(t::expires_at.gt(now))),
        )
        .select((User::as_select(), t::email.nullable()))
        .get_result(conn)
        .optional()
}

/// Ignoring case.
pub fn find_by_username(conn: &mut DbConn, name: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(username_is(name))
        .select(User::as_select())
        .get_result(conn)
        .optional()
}

/// Ignoring case.
pub fn find_by_email(conn: &mut DbConn, email: &Email) -> QueryResult<Option<User>> {
    users::table
        .filter(email_is(email.as_ref()))
        .select(User::as_select())
        .get_result(conn)
        .optional()
}

/// The user, locked until the transaction ends (on PostgreSQL; SQLite's write transaction
/// holds its one lock already), for a decision that rests on their current address.
pub fn find_locked(conn: &mut DbConn, id: i64) -> QueryResult<Option<User>> {
    // Built in each arm: `as_select` is typed by its backend.
    match conn {
        DbConn::Postgres(pg) => users::table
            .find(id)
            .select(User::as_select())
            .for_update()
            .first(pg)
            .optional(),
        DbConn::Sqlite(sqlite) => users::table
            .find(id)
            .select(User::as_select())
            .first(sqlite)
            .optional(),
    }
}

/// The address the account has is confirmed.
pub fn mark_confirmed(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::email_confirmed.eq(true))
        .execute(conn)?;
    keep_shared_hashes(conn, id)
}

/// The one place that keeps `email_md5` and `email_sha256`: the hashes of the address while
/// the member shares it and it is confirmed, NULL otherwise, so that `/avatar/{hash}` finds
/// exactly the members who share a confirmed address. Every write to `email`,
/// `email_confirmed` or `share_by_email` calls it after, in the same transaction.
fn keep_shared_hashes(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    let Some((email, confirmed, share)) = users::table
        .find(id)
        .select((users::email, users::email_confirmed, users::share_by_email))
        .get_result::<(String, bool, bool)>(conn)
        .optional()?
    else {
        return Ok(());
    };
    let hashes = (confirmed && share).then(|| AddressHashes::of(&email));
    diesel::update(users::table.find(id))
        .set((
            users::email_md5.eq(hashes.as_ref().map(|h| h.md5.as_str())),
            users::email_sha256.eq(hashes.as_ref().map(|h| h.sha256.as_str())),
        ))
        .execute(conn)?;
    Ok(())
}

/// The picture of the member who shares the address `hash` names, if that member is not
/// suspended and has a picture: one lookup in a unique index. An address nobody uses and one
/// whose member does not share it both find no row, the same way. With the picture, which
/// renditions it has.
pub fn shared_picture(conn: &mut DbConn, hash: &EmailHash) -> QueryResult<Option<(String, i32)>> {
    let found = users::table
        .filter(users::suspended_at.is_null())
        .filter(users::picture.is_not_null())
        .select((users::picture.assume_not_null(), users::picture_renditions));
    match hash {
        EmailHash::Md5(hex) => found
            .filter(users::email_md5.eq(hex))
            .get_result(conn)
            .optional(),
        EmailHash::Sha256(hex) => found
            .filter(users::email_sha256.eq(hex))
            .get_result(conn)
            .optional(),
    }
}

/// What is taken of a wished-for username and email, ignoring the user `except`.
pub fn taken(
    conn: &mut DbConn,
    username: &Username,
    email: &Email,
    except: Option<i64>,
) -> QueryResult<(bool, bool)> {
    let except = except.unwrap_or(0);
    let name_taken = diesel::select(diesel::dsl::exists(
        users::table
            .filter(username_is(username.as_ref()))
            .filter(users::id.ne(except)),
    ))
    .get_result(conn)?;
    let email_taken = diesel::select(diesel::dsl::exists(
        users::table
            .filter(email_is(email.as_ref()))
            .filter(users::id.ne(except)),
    ))
    .get_result(conn)?;
    Ok((name_taken, email_taken))
}

/// A login names a user by username or by email; usernames cannot contain '@'.
pub fn credentials_for_login(conn: &mut DbConn, login: &str) -> QueryResult<Option<Credentials>> {
    let query = users::table.select(Credentials::as_select());
    if login.contains('@') {
        query.filter(email_is(login)).get_result(conn).optional()
    } else {
        query.filter(username_is(login)).get_result(conn).optional()
    }
}

pub fn credentials(conn: &mut DbConn, id: i64) -> QueryResult<Option<Credentials>> {
    users::table
        .find(id)
        .select(Credentials::as_select())
        .get_result(conn)
        .optional()
}

/// Sets the username, and the address as written (a new address is set only through its
/// confirmation link, see [`change_email`]; here only a change of case).
pub fn update_profile(
    conn: &mut DbConn,
    id: i64,
    username: &Username,
    email: &str,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((
            users::username.eq(username.as_ref()),
            users::email.eq(email),
        ))
        .execute(conn)?;
    // The same address, perhaps in another case: the hashes do not change, but are kept here
    // all the same rather than rest on that.
    keep_shared_hashes(conn, id)?;
    Ok(())
}

/// Makes a confirmed new address the account's address (the caller holds the row locked).
pub fn change_email(conn: &mut DbConn, id: i64, email: &str) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((users::email.eq(email), users::email_confirmed.eq(true)))
        .execute(conn)?;
    keep_shared_hashes(conn, id)?;
    Ok(())
}

/// Stores a new password hash and ends every session of the account, in the caller's
/// transaction; returns the new session epoch. A change of address still waiting for its
/// link is withdrawn: whoever asked for it may have been using a stolen session.
pub fn set_password(conn: &mut DbConn, id: i64, password_hash: &str) -> QueryResult<i64> {
    if let Some(user) = find_locked(conn, id)? {
        super::tokens::revoke_changes(conn, id, &user.email)?;
    }
    let epoch = diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::session_epoch.eq(users::session_epoch + 1),
        ))
        .returning(users::session_epoch)
        .get_result(conn)?;
    diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(conn)?;
    Ok(epoch)
}

/// Sets or clears the parts of what the user says about themselves that `change` names, and
/// returns the user as they are then (`None`: no such user).
pub fn update_about(conn: &mut DbConn, id: i64, change: &AboutChange) -> QueryResult<Option<User>> {
    write_transaction(conn, |conn| {
        let row = users::table.find(id);
        if let Some(name) = &change.display_name {
            diesel::update(row)
                .set((
                    users::display_name.eq(name.as_ref().map(AsRef::as_ref)),
                    users::display_name_key.eq(name.as_ref().map(DisplayName::search_key)),
                ))
                .execute(conn)?;
        }
        if let Some(bio) = &change.bio {
            diesel::update(row)
                .set(users::bio.eq(bio.as_ref().map(AsRef::as_ref)))
                .execute(conn)?;
        }
        if let Some(website) = &change.website {
            diesel::update(row)
                .set(users::website.eq(website.as_ref().map(AsRef::as_ref)))
                .execute(conn)?;
        }
        if let Some(share) = change.share_by_email {
            diesel::update(row)
                .set(users::share_by_email.eq(share))
                .execute(conn)?;
            keep_shared_hashes(conn, id)?;
        }
        find(conn, id)
    })
}

/// Stores a new password hash and ends every session of the account; returns the new
/// session epoch for the session that made the change.
pub fn change_password(conn: &mut DbConn, id: i64, password_hash: &str) -> QueryResult<i64> {
    write_transaction(conn, |conn| {
        let epoch = set_password(conn, id, password_hash)?;
        super::outbox::notify(conn, id, crate::domain::Notice::PasswordChanged, now())?;
        Ok(epoch)
    })
}

/// Points the user at a new picture and the renditions made beside it (or at none) and
/// returns the file it pointed at before, so the caller can delete that picture's files once
/// this has committed.
pub fn swap_picture(
    conn: &mut DbConn,
    id: i64,
    picture: Option<(&str, Renditions)>,
) -> QueryResult<Option<String>> {
    write_transaction(conn, |conn| {
        let old = locked_picture(conn, id)?;
        let renditions = picture.map_or(Renditions::MasterOnly, |(_, r)| r);
        diesel::update(users::table.find(id))
            .set((
                users::picture.eq(picture.map(|(name, _)| name)),
                users::picture_renditions.eq(renditions.to_db()),
            ))
            .execute(conn)?;
        Ok(old)
    })
}

/// Records the renditions made for a picture stored before they existed, if the user still
/// has that picture; `false` when it was replaced or removed meanwhile (its new files are then
/// the caller's to delete). A picture's name is never reused, so recording the same set twice
/// (two `folio gc` at once) is harmless.
pub fn record_renditions(
    conn: &mut DbConn,
    id: i64,
    picture: &str,
    renditions: Renditions,
) -> QueryResult<bool> {
    let updated = diesel::update(users::table.find(id).filter(users::picture.eq(picture)))
        .set(users::picture_renditions.eq(renditions.to_db()))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Users whose picture has no renditions yet (stored before they existed), after `after_id`,
/// a batch at a time.
pub fn pictures_without_renditions(
    conn: &mut DbConn,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<(i64, String)>> {
    users::table
        .filter(users::id.gt(after_id))
        .filter(users::picture.is_not_null())
        .filter(users::picture_renditions.eq(Renditions::MasterOnly.to_db()))
        .order(users::id)
        .limit(limit)
        .select((users::id, users::picture.assume_not_null()))
        .load(conn)
}

/// Removes the account and all its sessions (its links and access tokens go by their foreign
/// keys' cascade); returns its picture file for the caller to delete after the commit.
pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<Option<String>> {
    write_transaction(conn, |conn| {
        let picture = locked_picture(conn, id)?;
        diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(conn)?;
        diesel::delete(users::table.find(id)).execute(conn)?;
        Ok(picture)
    })
}

/// The user's picture, with the row locked until the transaction ends, so that two swaps of
/// one user's picture (through two instances) cannot both read the same old file and leave
/// one new file pointed at by nobody. SQLite's write transaction already holds its one lock.
fn locked_picture(conn: &mut DbConn, id: i64) -> QueryResult<Option<String>> {
    let query = users::table.find(id).select(users::picture);
    match conn {
        DbConn::Postgres(pg) => query.for_update().first(pg),
        DbConn::Sqlite(sqlite) => query.first(sqlite),
    }
}

/// Every picture file a user points at (for `folio gc`).
pub fn all_pictures(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    users::table
        .filter(users::picture.is_not_null())
        .select(users::picture.assume_not_null())
        .load(conn)
}

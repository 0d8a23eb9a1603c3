//! Server-side sessions: a typed wrapper over actix-session, and its store in SQLite.

use std::collections::HashMap;
use std::future::{Ready, ready};

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_session::{Session, SessionExt};
use actix_web::cookie::time::Duration;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::db::{self, Db, sessions};
use crate::error::AppError;

pub const IDLE_TIMEOUT_SECS: i64 = 7 * 24 * 3600;
pub const ABSOLUTE_LIFETIME_SECS: i64 = 30 * 24 * 3600;

const USER_ID: &str = "user_id";
const EPOCH: &str = "epoch";
const CSRF: &str = "csrf";
const FLASH: &str = "flash";
/// The session's public name (the sessions list's), its browser and client address.
const HANDLE: &str = "handle";
const USER_AGENT: &str = "user_agent";
const CLIENT: &str = "client";
/// A login waiting for its second factor: who, their session epoch, since when, and where to
/// go after.
const PENDING_USER: &str = "pending_user";
const PENDING_EPOCH: &str = "pending_epoch";
const PENDING_SINCE: &str = "pending_since";
const PENDING_NEXT: &str = "pending_next";

/// How long the password step of a two-factor login waits for its code.
pub const PENDING_SECS: i64 = 5 * 60;

/// What a login records about the browser that made it, for the sessions list.
#[derive(Debug, Clone)]
struct Device {
    user_agent: String,
    client: String,
}

/// The session as the app uses it: who is logged in, the CSRF token, a one-time message.
pub struct TypedSession(Session, Device);

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        let device = Device {
            user_agent,
            client: crate::proxy::client_of(req).address(),
        };
        ready(Ok(Self(req.get_session(), device)))
    }
}

impl TypedSession {
    /// Starts a logged-in session under a fresh id (no session fixation), with a fresh token.
    pub fn log_in(&self, user_id: i64, epoch: i64) -> Result<(), AppError> {
        let flash = self.take_flash();
        self.0.clear();
        self.0.renew();
        self.insert(USER_ID, user_id)?;
        self.insert(EPOCH, epoch)?;
        self.insert(CSRF, super::random_hex(32))?;
        self.insert(HANDLE, super::random_hex(12))?;
        self.insert(USER_AGENT, &self.1.user_agent)?;
        self.insert(CLIENT, &self.1.client)?;
        if let Some(flash) = flash {
            self.flash(&flash)?;
        }
        Ok(())
    }

    /// Ends the session: the store forgets its id, and the browser gets a new, anonymous one
    /// (which carries the goodbye message).
    pub fn log_out(&self) {
        self.0.clear();
        self.0.renew();
    }

    /// The password step of a two-factor login is done: the session waits for the code, under
    /// a fresh id, logged in to nothing.
    pub fn begin_two_factor(&self, user_id: i64, epoch: i64, next: &str) -> Result<(), AppError> {
        let flash = self.take_flash();
        self.0.clear();
        self.0.renew();
        self.insert(PENDING_USER, user_id)?;
        self.insert(PENDING_EPOCH, epoch)?;
        self.insert(PENDING_SINCE, crate::db::now())?;
        self.insert(PENDING_NEXT, next)?;
        self.insert(CSRF, super::random_hex(32))?;
        if let Some(flash) = flash {
            self.flash(&flash)?;
        }
        Ok(())
    }

    /// (user id, session epoch, where to go after) of a login waiting for its code, while it
    /// may still be given.
    pub fn pending_two_factor(&self) -> Option<(i64, i64, String)> {
        let id = self.0.get::<i64>(PENDING_USER).ok().flatten()?;
        let epoch = self.0.get::<i64>(PENDING_EPOCH).ok().flatten()?;
        let since = self.0.get::<i64>(PENDING_SINCE).ok().flatten()?;
        let next = self.0.get::<String>(PENDING_NEXT).ok().flatten()?;
        (since + PENDING_SECS > crate::db::now()).then_some((id, epoch, next))
    }

    /// Names a logged-in session that began before sessions had handles (and its browser), so
    /// the sessions list can show it; saved with this request.
    pub fn ensure_handle(&self) -> Result<(), AppError> {
        if self.user().is_some() && self.handle().is_none() {
            self.insert(HANDLE, super::random_hex(12))?;
            self.insert(USER_AGENT, &self.1.user_agent)?;
            self.insert(CLIENT, &self.1.client)?;
        }
        Ok(())
    }

    /// This session's public name on the sessions list.
    pub fn handle(&self) -> Option<String> {
        self.0.get::<String>(HANDLE).ok().flatten()
    }

    /// (user id, session epoch) of a logged-in session.
    pub fn user(&self) -> Option<(i64, i64)> {
        let id = self.0.get::<i64>(USER_ID).ok().flatten()?;
        let epoch = self.0.get::<i64>(EPOCH).ok().flatten()?;
        Some((id, epoch))
    }

    /// The token the forms of this session carry; made on first use.
    pub fn csrf_token(&self) -> Result<String, AppError> {
        if let Some(token) = self.0.get::<String>(CSRF).ok().flatten() {
            return Ok(token);
        }
        let token = super::random_hex(32);
        self.insert(CSRF, &token)?;
        Ok(token)
    }

    /// 403 unless `submitted` is this session's token.
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), AppError> {
        let expected = self.0.get::<String>(CSRF).ok().flatten();
        match (expected, submitted) {
            (Some(expected), Some(submitted)) if constant_time_eq(&expected, submitted) => Ok(()),
            _ => Err(AppError::Forbidden),
        }
    }

    pub fn flash(&self, message: &str) -> Result<(), AppError> {
        self.insert(FLASH, message)
    }

    pub fn take_flash(&self) -> Option<String> {
        // `remove` marks the session changed even for a missing key, which would cost a
        // database write on every page view: look first.
        if !self.0.contains_key(FLASH) {
            return None;
        }
        self.0.remove_as::<String>(FLASH).and_then(Result::ok)
    }

    fn insert(&self, key: &str, value: impl serde::Serialize) -> Result<(), AppError> {
        self.0
            .insert(key, value)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("session insert failed: {e}")))
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

type State = HashMap<String, String>;

/// Sessions in the `sessions` table. The idle expiry is pushed out as the session is used; the
/// absolute lifetime counts from the login that created it.
#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    async fn save_state(&self, state: State, ttl: &Duration) -> anyhow::Result<SessionKey> {
        let key = super::random_hex(32);
        let owner = owner_of(&state);
        let json = serde_json::to_string(&state)?;
        let ttl = ttl.whole_seconds();
        let id = key.clone();
        self.db
            .run(move |conn| {
                let now = db::now();
                sessions::insert(conn, &id, &owner, &json, now, now + ttl)
                    .map_err(anyhow::Error::from)
            })
            .await?;
        SessionKey::try_from(key).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// The row's columns beside the state (actix-session keeps each value as JSON text).
fn owner_of(state: &State) -> sessions::Owner {
    fn get<T: serde::de::DeserializeOwned>(state: &State, key: &str) -> Option<T> {
        state.get(key).and_then(|v| serde_json::from_str(v).ok())
    }
    sessions::Owner {
        user_id: get(state, USER_ID),
        handle: get(state, HANDLE),
        user_agent: get(state, USER_AGENT),
        client: get(state, CLIENT),
    }
}

impl SessionStore for DbSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        let id = key.as_ref().to_owned();
        let row = self
            .db
            .run(move |conn| sessions::load(conn, &id).map_err(anyhow::Error::from))
            .await
            .map_err(LoadError::Other)?;
        let now = db::now();
        match row {
            Some(row) if row.expires_at > now && row.created_at + ABSOLUTE_LIFETIME_SECS > now => {
                serde_json::from_str(&row.state)
                    .map(Some)
                    .map_err(|e| LoadError::Deserialization(e.into()))
            }
            _ => Ok(None),
        }
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        self.save_state(state, ttl).await.map_err(SaveError::Other)
    }

    async fn update(
        &self,
        key: SessionKey,
        mut state: State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let owner = owner_of(&state);
        let json =
            serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let id = key.as_ref().to_owned();
        let ttl_secs = ttl.whole_seconds();
        let updated = self
            .db
            .run(move |conn| {
                let now = db::now();
                sessions::update(conn, &id, &owner, &json, now, now + ttl_secs)
                    .map_err(anyhow::Error::from)
            })
            .await
            .map_err(UpdateError::Other)?;
        if updated {
            return Ok(key);
        }
        // The session was ended (logout, password change) while this request ran: keep what
        // the request wrote, but never bring the login back.
        for key in [USER_ID, EPOCH, HANDLE, USER_AGENT, CLIENT] {
            state.remove(key);
        }
        self.save_state(state, ttl)
            .await
            .map_err(UpdateError::Other)
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        let id = key.as_ref().to_owned();
        let ttl = ttl.whole_seconds();
        self.db
            .run(move |conn| {
                let now = db::now();
                sessions::touch(conn, &id, now, now + ttl, 60).map_err(anyhow::Error::from)
            })
            .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        let id = key.as_ref().to_owned();
        self.db
            .run(move |conn| sessions::delete(conn, &id).map_err(anyhow::Error::from))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert!(!constant_time_eq("", "a"));
    }
}

//! Storage: SQLite or PostgreSQL behind one pool, embedded migrations and query functions.
//!
//! Query functions take `&mut DbConn` and know nothing of HTTP. Handlers reach them through
//! [`Db::run`], which runs them on the blocking pool: no diesel call, nor waiting for a pooled
//! connection, ever happens on an async worker. Where the two backends need different SQL
//! (locks, write transactions, the name of a violated index) the difference is one small
//! `match` on [`DbConn`] in this module's files, never in a handler.
//!
//! A lookup by a unique key reads with `get_result`, not `first`: `first` binds `LIMIT 1`, and
//! SQLite prepares a statement with a bound `LIMIT` again on every run (measured: 29–34% of the
//! server's CPU on profile reads went to re-preparing).

pub mod access_tokens;
pub mod members;
pub mod moderation;
pub mod outbox;
pub mod passkeys;
pub mod schema;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod two_factor;
pub mod url;
pub mod users;

use std::time::Duration;

use anyhow::Context;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::telemetry::spawn_blocking_with_tracing;

pub use url::DatabaseUrl;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever database `DATABASE_URL` names. Queries written with diesel's DSL
/// run on either; backend-specific ones match on the variant.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = Pool<Manager>;

// SQL's lower(), for the columns that compare ignoring case (usernames and emails, ASCII by
// rule, so lowering is exact).
diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Errors of the storage layer that a caller may want to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("that username is already taken")]
    UsernameTaken,
    #[error("that email is already taken")]
    EmailTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<DieselError> for DbError {
    fn from(e: DieselError) -> Self {
        // The one place that reads which unique index a write ran into. PostgreSQL names the
        // index; SQLite names the column ("users.username") or the index in its message.
        if let DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = &e {
            let names = [info.constraint_name().unwrap_or_default(), info.message()];
            // Only the users table's own: "users_email_lower" or "users.email".
            let on = |column: &str| {
                names.iter().any(|n| {
                    n.contains(&format!("users_{column}")) || n.contains(&format!("users.{column}"))
                })
            };
            if on("username") {
                return DbError::UsernameTaken;
            }
            if on("email") {
                return DbError::EmailTaken;
            }
        }
        DbError::Unexpected(e.into())
    }
}

/// SQLite, per connection: a busy timeout so writers queue instead of failing with "database
/// is locked" (first: the pool opens connections in parallel, and even a no-op change of the
/// journal mode takes a lock), WAL so readers never wait for the writer, and enforced foreign
/// keys.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";

/// PostgreSQL, per connection: a prepared statement keeps its generic plan. Folio's statements
/// are keyed lookups and keyset walks whose plan does not depend on the values, and with the
/// default PostgreSQL re-planned the directory's searches on every run (a range of bound keys
/// is estimated at thousands of rows without its values, so the generic plan never looked
/// cheaper than a fresh one): 0.2-0.5 ms of planning for 0.02-0.05 ms of execution.
const POSTGRES_SETTINGS: &str = "SET plan_cache_mode = force_generic_plan";

/// Opens connections of the kind the URL names, and only that kind: diesel's own
/// `MultiConnection::establish` tries each backend in turn, which hides PostgreSQL's real
/// error behind SQLite's and would turn a typo into a new SQLite file.
pub struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    fn establish(&self) -> Result<DbConn, diesel::ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(_) => {
                let mut conn = PgConnection::establish(&self.url.connection_string())?;
                conn.batch_execute(POSTGRES_SETTINGS).map_err(|e| {
                    diesel::ConnectionError::BadConnection(format!("cannot set it up: {e}"))
                })?;
                Ok(DbConn::Postgres(conn))
            }
            DatabaseUrl::Sqlite(_) => {
                let mut conn = SqliteConnection::establish(&self.url.connection_string())?;
                conn.batch_execute(SQLITE_PRAGMAS).map_err(|e| {
                    diesel::ConnectionError::BadConnection(format!("cannot use it as SQLite: {e}"))
                })?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        self.establish()
            .map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        // A panic mid-transaction leaves the connection in an unknown state.
        std::thread::panicking() || conn.is_broken()
    }
}

/// Pool settings; the defaults suit the server, tests shorten the wait.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_size: u32,
    /// How long a request waits for a connection: with the database unreachable, this long,
    /// then a 503 (the contract gives a page 2 s in all).
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 16,
            connection_timeout: Duration::from_millis(1500),
        }
    }
}

/// How long a request waits for a connection while the database is known to be down.
const DOWN_WAIT: Duration = Duration::from_millis(300);

/// The database could not do the work: a 503 with `Retry-After`, never a 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// No connection could be had (the database is down or unreachable, or every connection
    /// stayed busy for the whole wait): nothing ran.
    #[error("no database connection could be had")]
    NoConnection,
    /// The connection stopped answering during the work: whether it took effect is unknown.
    #[error("the database connection was lost")]
    Interrupted,
}

/// The [`Unavailable`] anywhere in an error's chain.
pub fn unavailable(e: &anyhow::Error) -> Option<Unavailable> {
    e.chain()
        .find_map(|cause| cause.downcast_ref::<Unavailable>().copied())
}

/// Whether an error (anywhere in its chain) is [`Unavailable`].
pub fn is_unavailable(e: &anyhow::Error) -> bool {
    unavailable(e).is_some()
}

/// Whether the database answers, as requests last found it: an outage is logged once when it
/// begins and once when it ends, not once per failed connection or request.
#[derive(Default)]
struct Health {
    /// Read on every request; the state behind the lock changes only at an outage's edges.
    down: std::sync::atomic::AtomicBool,
    state: std::sync::Mutex<HealthState>,
}

#[derive(Default)]
struct HealthState {
    /// When a connection was last had: a request that began before it and failed only now
    /// (it waited through the outage) says nothing new, and must not start another.
    last_answer: Option<std::time::Instant>,
    /// When the pool last failed to open a connection. A request that waited in vain
    /// without one since it began found a pool that was busy, not a database that was down.
    last_connect_error: Option<std::time::Instant>,
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        // Two plain values, valid whatever a panicking holder left.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn is_down(&self) -> bool {
        self.down.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A request that began at `started` found the database unusable; `certain`: it saw a
    /// connection stop answering, rather than only waiting in vain for one.
    fn failed(&self, started: std::time::Instant, certain: bool, cause: &dyn std::fmt::Display) {
        if self.is_down() {
            return;
        }
        let state = self.lock();
        let stale = state.last_answer.is_some_and(|t| t > started);
        let refused = state.last_connect_error.is_some_and(|t| t >= started);
        if stale || !(certain || refused) {
            return;
        }
        self.down.store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::error!(error = %cause, "the database cannot be reached: answering 503 until it can");
    }

    fn answered(&self) {
        let now = std::time::Instant::now();
        let was_down = self.down.swap(false, std::sync::atomic::Ordering::Relaxed);
        let mut state = self.lock();
        state.last_answer = Some(now);
        if was_down {
            tracing::info!("the database answers again");
        }
    }

    fn connect_failed(&self) {
        self.lock().last_connect_error = Some(std::time::Instant::now());
    }
}

/// r2d2's reports of failed connection attempts, which it would otherwise log one by one
/// (about ten a second while the database is down): noted, for [`Health::failed`] to tell an
/// outage from a busy pool.
struct ConnectErrors(std::sync::Arc<Health>);

impl std::fmt::Debug for ConnectErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectErrors")
    }
}

impl diesel::r2d2::HandleError<diesel::r2d2::Error> for ConnectErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        tracing::debug!(%error, "a database connection could not be made");
        self.0.connect_failed();
    }
}

/// The handle handlers hold: a pool whose work always runs on the blocking pool.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    health: std::sync::Arc<Health>,
}

impl Db {
    /// Opens the database, runs pending migrations and builds the pool.
    pub fn open(url: &DatabaseUrl) -> anyhow::Result<Self> {
        Self::open_with(url, PoolOptions::default())
    }

    /// Opening one connection first gives an immediate, clear error ("connection refused",
    /// "password authentication failed") instead of r2d2's retries.
    pub fn open_with(url: &DatabaseUrl, options: PoolOptions) -> anyhow::Result<Self> {
        let manager = Manager { url: url.clone() };
        let mut conn = manager
            .establish()
            .with_context(|| format!("cannot connect to {}", url.describe()))?;
        migrate(&mut conn).with_context(|| format!("cannot migrate {}", url.describe()))?;

        // SQLite connections cost nothing to keep; PostgreSQL ones are server processes, so
        // only a few are held open while idle.
        let min_idle = match url {
            DatabaseUrl::Sqlite(_) => None,
            DatabaseUrl::Postgres(_) => Some(2),
        };
        let health = std::sync::Arc::new(Health::default());
        let pool = Pool::builder()
            .max_size(options.max_size)
            .min_idle(min_idle)
            .connection_timeout(options.connection_timeout)
            .error_handler(Box::new(ConnectErrors(health.clone())))
            .build_unchecked(manager);
        // The connection made above joins the pool's work instead of being thrown away.
        drop(conn);
        Ok(Self { pool, health })
    }

    /// A pooled connection, or [`Unavailable`] after the pool's wait.
    fn connection(
        pool: &DbPool,
        health: &Health,
        wait: Option<Duration>,
    ) -> anyhow::Result<PooledConnection<Manager>> {
        let started = std::time::Instant::now();
        let got = match wait {
            Some(wait) => pool.get_timeout(wait),
            None => pool.get(),
        };
        match got {
            Ok(conn) => {
                health.answered();
                Ok(conn)
            }
            Err(e) => {
                health.failed(started, false, &e);
                Err(anyhow::Error::new(Unavailable::NoConnection).context(e.to_string()))
            }
        }
    }

    /// Whether the last attempt to reach the database failed.
    pub fn is_down(&self) -> bool {
        self.health.is_down()
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<anyhow::Error> + Send + 'static,
    {
        let (pool, health) = (self.pool.clone(), self.health.clone());
        spawn_blocking_with_tracing(move || {
            // While the database is known to be down, a short look is enough to tell.
            let wait = health.is_down().then_some(DOWN_WAIT);
            let mut conn = Self::connection(&pool, &health, wait)?;
            let started = std::time::Instant::now();
            f(&mut conn).map_err(|e| {
                // A query cut off by the database going away (its connection no longer
                // answers) is the outage, not the query's own failure.
                if conn.ping().is_err() {
                    health.failed(started, true, &"a query's connection stopped answering");
                    return E::from(anyhow::Error::new(Unavailable::Interrupted));
                }
                e
            })
        })
        .await
        .map_err(E::from)?
    }

    /// Whether the database answers within `wait` (for `/healthz`).
    pub async fn ping(&self, wait: Duration) -> anyhow::Result<()> {
        let (pool, health) = (self.pool.clone(), self.health.clone());
        spawn_blocking_with_tracing(move || {
            let mut conn = Self::connection(&pool, &health, Some(wait))?;
            diesel::sql_query("SELECT 1")
                .execute(&mut *conn)
                .context("the database does not answer")?;
            Ok(())
        })
        .await?
    }

    /// A connection for synchronous callers (CLI commands, tests).
    pub fn conn(&self) -> anyhow::Result<PooledConnection<Manager>> {
        let wait = self.health.is_down().then_some(DOWN_WAIT);
        Self::connection(&self.pool, &self.health, wait)
    }

    /// (connections open, of which idle), for the metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }
}

/// Runs the pending migrations of the connection's backend while holding a lock that every
/// instance takes first, so instances started at the same moment on an empty database migrate
/// it once: the others wait, then find nothing left to do.
fn migrate(conn: &mut DbConn) -> anyhow::Result<()> {
    match conn {
        DbConn::Postgres(pg) => {
            diesel::sql_query("SELECT pg_advisory_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
                .execute(pg)
                .context("cannot take the migration lock")?;
            let migrated = pg
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(drop)
                .map_err(|e| anyhow::anyhow!("{e}"));
            // The migration's own error comes first; the lock also goes with the connection.
            let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)")
                .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
                .execute(pg)
                .map(drop)
                .context("cannot release the migration lock");
            migrated.and(unlocked)
        }
        // An exclusive transaction is SQLite's lock; each migration's own transaction nests
        // inside it as a savepoint.
        DbConn::Sqlite(sqlite) => sqlite.exclusive_transaction(|c| {
            c.run_pending_migrations(SQLITE_MIGRATIONS)
                .map(drop)
                .map_err(|e| anyhow::anyhow!("{e}"))
        }),
    }
}

/// Folio's key in PostgreSQL's advisory-lock space ("folio" in ASCII).
const MIGRATION_LOCK: i64 = 0x0066_6f6c_696f;

/// Runs `f` in a transaction in which a read may be followed by a write without another
/// connection's write coming between. SQLite: `BEGIN IMMEDIATE` takes the one write lock up
/// front. PostgreSQL: a plain transaction; the reads that decide a write lock their rows
/// (`FOR UPDATE`, see [`users`]) or take an advisory lock (see [`throttle`]).
pub fn write_transaction<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<DieselError>,
{
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    // As diesel's own `immediate_transaction` does: commit on Ok, roll back on Err.
    match f(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            // The caller's error is the one that matters; a failed rollback leaves the
            // connection marked broken, and the pool drops it.
            if let Err(rollback) =
                <DbConn as Connection>::TransactionManager::rollback_transaction(conn)
            {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

/// Seconds since the Unix epoch: the one clock the storage layer uses.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::Health;

    #[test]
    fn a_busy_pool_is_not_an_outage_but_refused_connections_are() {
        let health = Health::default();
        let started = Instant::now();
        health.failed(started, false, &"timed out waiting for connection");
        assert!(
            !health.is_down(),
            "no connection attempt failed: the pool was only busy"
        );

        health.connect_failed();
        health.failed(started, false, &"timed out: connection refused");
        assert!(health.is_down());
        health.answered();
        assert!(!health.is_down());
    }

    #[test]
    fn a_request_that_waited_through_the_outage_does_not_start_another() {
        let health = Health::default();
        let started = Instant::now() - Duration::from_secs(1);
        health.connect_failed();
        health.answered();
        health.failed(started, true, &"stale");
        assert!(!health.is_down(), "began before the last good connection");
        health.failed(Instant::now(), true, &"a connection stopped answering");
        assert!(health.is_down(), "a connection seen to fail is an outage");
    }
}

//! Storage: the SQLite pool, embedded migrations and query functions.
//!
//! Query functions take `&mut SqliteConnection` and know nothing of HTTP. Handlers reach them
//! through [`Db::run`], which runs them on the blocking pool: no diesel call, nor waiting for a
//! pooled connection, ever happens on an async worker.

pub mod schema;
pub mod sessions;
pub mod throttle;
pub mod users;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::telemetry::spawn_blocking_with_tracing;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<ConnectionManager<SqliteConnection>>;

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
        // SQLite names the column in the message; this is the one place that reads it.
        if let DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = &e {
            if info.message().contains("users.username") {
                return DbError::UsernameTaken;
            }
            if info.message().contains("users.email") {
                return DbError::EmailTaken;
            }
        }
        DbError::Unexpected(e.into())
    }
}

/// Per-connection settings: WAL so readers never wait for the writer, a busy timeout so
/// writers queue instead of failing with "database is locked", and enforced foreign keys.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(PRAGMAS)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";

/// The handle handlers hold: a pool whose work always runs on the blocking pool.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
}

impl Db {
    /// Opens (creating if needed) the database, runs pending migrations and builds the pool.
    /// Opening one connection first gives an immediate, clear error instead of r2d2's retries.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let url = path
            .to_str()
            .context("the path is not valid UTF-8")?
            .to_owned();
        let mut conn = SqliteConnection::establish(&url)
            .with_context(|| format!("cannot open '{}'", path.display()))?;
        conn.batch_execute(PRAGMAS)
            .with_context(|| format!("cannot use '{}' as a SQLite database", path.display()))?;
        conn.run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("cannot migrate '{}': {e}", path.display()))?;
        drop(conn);

        let pool = Pool::builder()
            .max_size(16)
            .connection_timeout(Duration::from_secs(10))
            .connection_customizer(Box::new(SqlitePragmas))
            .build(ConnectionManager::<SqliteConnection>::new(url))
            .context("cannot build the connection pool")?;
        Ok(Self { pool })
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut SqliteConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<anyhow::Error> + Send + 'static,
    {
        let pool = self.pool.clone();
        spawn_blocking_with_tracing(move || {
            let mut conn = pool.get().context("no database connection available")?;
            f(&mut conn)
        })
        .await
        .map_err(E::from)?
    }

    /// A connection for synchronous callers (CLI commands, tests).
    pub fn conn(
        &self,
    ) -> anyhow::Result<diesel::r2d2::PooledConnection<ConnectionManager<SqliteConnection>>> {
        self.pool.get().context("no database connection available")
    }
}

/// Seconds since the Unix epoch: the one clock the storage layer uses.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

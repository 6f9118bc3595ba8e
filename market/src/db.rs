//! Connecting to the database and running migrations, the same way for SQLite and PostgreSQL.

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::Result;

/// Open a pool for `url` (`sqlite://path?mode=rwc`, `sqlite::memory:` or `postgres://…`).
///
/// SQLite runs in WAL mode with foreign keys on and a 10 s busy timeout, so a CLI command and a
/// running server can write to the same file; writes open `BEGIN IMMEDIATE` transactions (see
/// [`begin_write`]) so two writers queue on the busy timeout instead of failing with
/// "database is locked" when a read lock would need upgrading.
pub async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        // An in-memory database exists once per connection: keep exactly one.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        options.max_connections(if in_memory { 1 } else { 8 });
        options.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true)
        });
    } else {
        options.max_connections(16);
    }
    Ok(Database::connect(options).await?)
}

/// Apply every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Start a transaction that will write. On SQLite it takes the write lock at `BEGIN`.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction> {
    Ok(db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?)
}

/// A write transaction that changes a listing. On PostgreSQL it first takes one advisory lock
/// for the whole catalog, held until commit, so listing changes commit in the order they are
/// stamped (`updated_at` is read from the database clock inside the lock): the catalog feed,
/// ordered by that stamp, never shows a change after one that commits before it. On SQLite,
/// `BEGIN IMMEDIATE` already serialises every writer.
pub async fn begin_catalog_write(db: &DatabaseConnection) -> Result<DatabaseTransaction> {
    let txn = begin_write(db).await?;
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7372001)")
            .await?;
    }
    Ok(txn)
}

/// Check that the database answers (for `/health`).
pub async fn ping(db: &DatabaseConnection) -> Result<()> {
    db.execute_unprepared("SELECT 1").await?;
    Ok(())
}

/// The time by the database's clock on PostgreSQL (several node processes, perhaps on several
/// machines, share its leases and heartbeats, so they must share a clock), by this machine's on
/// SQLite (one machine).
pub async fn now<C: ConnectionTrait>(conn: &C) -> Result<chrono::DateTime<chrono::Utc>> {
    if conn.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(chrono::Utc::now());
    }
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT clock_timestamp() AS now",
        ))
        .await?
        .ok_or_else(|| crate::Error::not_found("the database clock"))?;
    Ok(row.try_get::<chrono::DateTime<chrono::Utc>>("", "now")?)
}

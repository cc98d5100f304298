//! PostgreSQL storage: several server instances share one database.
//!
//! tokio-postgres (async, no blocking thread per call) with a
//! deadpool-postgres pool. Statements are prepared once per connection
//! (`prepare_cached`). Everything that must happen once is one transaction
//! at PostgreSQL's default isolation (READ COMMITTED) with the lock that
//! makes it so:
//! - rotation: a conditional `UPDATE … WHERE spent_at IS NULL`; the row lock
//!   makes a second presentation wait, then find the token spent (reuse);
//! - appends with a `clientId` and folds: a transaction-scoped advisory lock
//!   per conversation (a fold takes the anonymous one, then the customer's:
//!   always in that order, so no deadlock);
//! - metadata: `INSERT … ON CONFLICT DO NOTHING`, then read what won;
//! - login attempts and migrations: one advisory lock each.

use super::migrations::{self, Migration};
use super::{StoreError, StoreResult};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::NoTls;

mod queries;

/// Connections per instance. PostgreSQL's default `max_connections` is 100:
/// room for several instances and an operator.
pub const POOL_SIZE: usize = 16;

/// How long a request waits for a connection, or for one to be made, before
/// it fails (a wait always has a bound).
pub const POOL_WAIT: Duration = Duration::from_secs(5);

/// Advisory lock keys (arbitrary, fixed). Per-conversation locks hash the
/// conversation's name instead.
const MIGRATION_LOCK: i64 = 0x6368_6174_0001;
const LOGIN_LOCK: i64 = 0x6368_6174_0002;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> StoreError {
        StoreError(e.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> StoreError {
        StoreError(format!("PostgreSQL connection pool: {e}"))
    }
}

/// PostgreSQL storage behind a connection pool.
pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// Connects to the `postgres://` URL `url` and migrates the database.
    pub async fn open(url: &str) -> StoreResult<PgStore> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError(format!(
                "CHAT_DB is not a PostgreSQL URL ({e}): {}",
                super::redacted(url)
            ))
        })?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .recycle_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| StoreError(format!("PostgreSQL connection pool: {e}")))?;
        let store = PgStore { pool };
        store
            .migrate(migrations::POSTGRES)
            .await
            .map_err(|e| StoreError(format!("PostgreSQL at {}: {}", super::redacted(url), e.0)))?;
        Ok(store)
    }

    async fn migrate(&self, all: &[Migration]) -> StoreResult<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // Instances starting together: one migrates, the others wait here
        // and then find nothing left to do.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(migrations::CREATE_TABLE).await?;
        let applied: Vec<i64> = tx
            .query("SELECT version FROM schema_migrations", &[])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for m in migrations::pending(all, &applied)? {
            tx.batch_execute(m.sql)
                .await
                .map_err(|e| StoreError(format!("migration {} {}: {e}", m.version, m.name)))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[&m.version, &m.name, &migrations::applied_at()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

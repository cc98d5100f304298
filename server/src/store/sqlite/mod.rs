//! SQLite storage: one file (several processes may share it, through
//! SQLite's own file locks) or `:memory:` (one process, tests).
//!
//! rusqlite is synchronous: every call runs on tokio's blocking threads
//! ([`tokio::task::spawn_blocking`]), never on the async workers. Writes are
//! `BEGIN IMMEDIATE` transactions, which SQLite serialises across processes;
//! that is what makes rotation, folding and `clientId` happen once.

use super::migrations::{self, Migration};
use super::{
    AttemptId, Author, Channel, Family, Message, Millis, Owner, ProfileCheck, QueueEntry, Rotation,
    Store, StoreError, StoreResult,
};
use crate::limits::LoginLimit;
use async_trait::async_trait;
use rusqlite::{params, Connection};
use std::sync::{Arc, Mutex};

mod queries;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError(e.to_string())
    }
}

/// SQLite storage: a file (`path`) or `:memory:`.
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it;
    /// `:memory:` keeps everything in memory (tests).
    pub async fn open(path: &str) -> StoreResult<SqliteStore> {
        let path = path.to_owned();
        let conn = tokio::task::spawn_blocking(move || open_connection(&path))
            .await
            .map_err(|e| StoreError(format!("opening the database: {e}")))??;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on a blocking thread.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave SQLite half-written
            // (transactions roll back on drop), so a poisoned lock is usable.
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError(format!("storage task: {e}")))?
    }
}

fn open_connection(path: &str) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    // First, so that everything below waits for another process's lock
    // instead of failing at once.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    if path != ":memory:" {
        // WAL: readers do not block the writer; NORMAL is durable across
        // a process crash (a power loss may drop the last transaction).
        switch_to_wal(&conn)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let mut conn = conn;
    migrate(&mut conn, migrations::SQLITE)?;
    Ok(conn)
}

/// How long opening waits for another process that is switching the same
/// file to WAL at the same moment.
const WAL_SWITCH_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `PRAGMA journal_mode=WAL`, waiting out a concurrent switch. Changing the
/// journal mode needs the file to itself, and SQLite answers a conflict
/// with SQLITE_BUSY at once, without the busy handler: two instances
/// starting together on a new file (a deploy) would otherwise fail one of
/// them. Bounded: after [`WAL_SWITCH_LIMIT`] the error is returned.
fn switch_to_wal(conn: &Connection) -> StoreResult<()> {
    let deadline = std::time::Instant::now() + WAL_SWITCH_LIMIT;
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() + pause < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(100));
            }
            other => return Ok(other?),
        }
    }
}

/// Applies the missing migrations in one immediate transaction (another
/// process starting on the same file waits for it).
fn migrate(conn: &mut Connection, all: &[Migration]) -> StoreResult<()> {
    let tx = queries::immediate(conn)?;
    tx.execute_batch(migrations::CREATE_TABLE)?;
    let applied = tx
        .prepare("SELECT version FROM schema_migrations")?
        .query_map([], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for m in migrations::pending(all, &applied)? {
        tx.execute_batch(m.sql)
            .map_err(|e| StoreError(format!("migration {} {}: {e}", m.version, m.name)))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![m.version, m.name, migrations::applied_at()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn meta_or_insert(&self, key: &str, candidate: Vec<u8>) -> StoreResult<Vec<u8>> {
        let key = key.to_owned();
        self.run(move |c| queries::meta_or_insert(c, &key, &candidate))
            .await
    }

    async fn append_on(
        &self,
        owner: &Owner,
        author: Author,
        text: &str,
        client_id: Option<&str>,
        channel: Channel,
        now: Millis,
    ) -> StoreResult<(Message, bool)> {
        let (owner, text, client_id) =
            (owner.clone(), text.to_owned(), client_id.map(str::to_owned));
        self.run(move |c| {
            queries::append(c, &owner, author, &text, client_id.as_deref(), channel, now)
        })
        .await
    }

    async fn queue(&self, limit: usize) -> StoreResult<Vec<QueueEntry>> {
        self.run(move |c| queries::queue(c, limit)).await
    }

    async fn mark_read(&self, owner: &Owner, up_to: i64) -> StoreResult<()> {
        let owner = owner.clone();
        self.run(move |c| queries::mark_read(c, &owner, up_to))
            .await
    }

    async fn put_profile_check(&self, check: &ProfileCheck) -> StoreResult<()> {
        let check = check.clone();
        self.run(move |c| queries::put_profile_check(c, &check))
            .await
    }

    async fn profile_check(&self, customer_id: &str) -> StoreResult<Option<ProfileCheck>> {
        let id = customer_id.to_owned();
        self.run(move |c| queries::profile_check(c, &id)).await
    }

    async fn agent_seen(&self, agent: &str, now: Millis) -> StoreResult<()> {
        let agent = agent.to_owned();
        self.run(move |c| queries::agent_seen(c, &agent, now)).await
    }

    async fn agents_seen_since(&self, since: Millis) -> StoreResult<i64> {
        self.run(move |c| queries::agents_seen_since(c, since))
            .await
    }

    async fn list(&self, owner: &Owner, limit: usize) -> StoreResult<Vec<Message>> {
        let owner = owner.clone();
        self.run(move |c| queries::list(c, &owner, limit)).await
    }

    async fn fold_anonymous(&self, anonymous_id: &str, customer_id: &str) -> StoreResult<usize> {
        let (anonymous_id, customer_id) = (anonymous_id.to_owned(), customer_id.to_owned());
        self.run(move |c| queries::fold_anonymous(c, &anonymous_id, &customer_id))
            .await
    }

    async fn create_family(
        &self,
        family: &Family,
        token_hash: &[u8],
        now: Millis,
    ) -> StoreResult<()> {
        let (family, token_hash) = (family.clone(), token_hash.to_vec());
        self.run(move |c| queries::create_family(c, &family, &token_hash, now))
            .await
    }

    async fn rotate(
        &self,
        token_hash: &[u8],
        new_hash: &[u8],
        now: Millis,
    ) -> StoreResult<Rotation> {
        let (token_hash, new_hash) = (token_hash.to_vec(), new_hash.to_vec());
        self.run(move |c| queries::rotate(c, &token_hash, &new_hash, now))
            .await
    }

    async fn refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<(Family, bool)>> {
        let token_hash = token_hash.to_vec();
        self.run(move |c| queries::refresh_token(c, &token_hash))
            .await
    }

    async fn family(&self, id: &str) -> StoreResult<Option<Family>> {
        let id = id.to_owned();
        self.run(move |c| queries::family(c, &id)).await
    }

    async fn revoke_family(&self, id: &str, now: Millis) -> StoreResult<bool> {
        let id = id.to_owned();
        self.run(move |c| queries::revoke_family(c, &id, now)).await
    }

    async fn login_attempt(
        &self,
        name: &str,
        limit: LoginLimit,
        now: Millis,
    ) -> StoreResult<Result<AttemptId, u64>> {
        let name = name.to_owned();
        self.run(move |c| queries::login_attempt(c, &name, limit, now))
            .await
    }

    async fn login_succeeded(&self, attempt: AttemptId) -> StoreResult<()> {
        self.run(move |c| queries::login_succeeded(c, attempt))
            .await
    }

    async fn first_proof_use(&self, id: &str, until: Millis, now: Millis) -> StoreResult<bool> {
        let id = id.to_owned();
        self.run(move |c| queries::first_proof_use(c, &id, until, now))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_database_adopts_the_migrations_and_a_second_start_applies_nothing() {
        let mut c = Connection::open_in_memory().unwrap();
        // What the server made before migrations were versioned.
        c.execute_batch(migrations::SQLITE[0].sql).unwrap();
        c.execute("INSERT INTO meta (key, value) VALUES ('k', x'01')", [])
            .unwrap();
        migrate(&mut c, migrations::SQLITE).unwrap();
        migrate(&mut c, migrations::SQLITE).unwrap();
        let versions: Vec<i64> = c
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(versions, [1, 2, 3, 4]);
        assert_eq!(queries::meta_or_insert(&mut c, "k", &[2]).unwrap(), [1]);
        // A newer server's database is refused.
        c.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)",
            [],
        )
        .unwrap();
        assert!(migrate(&mut c, migrations::SQLITE).is_err());
    }

    /// A call that has to wait for SQLite (another process holds the write
    /// lock) waits on a blocking thread: the async runtime, even a
    /// single-threaded one, keeps running other tasks meanwhile.
    #[tokio::test(flavor = "current_thread")]
    async fn a_call_waiting_for_the_database_leaves_the_runtime_free() {
        use std::time::{Duration, Instant};
        let dir = std::env::temp_dir().join(format!("chat-auth-busy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("busy.sqlite").to_str().unwrap().to_owned();
        let store = SqliteStore::open(&path).await.unwrap();
        let (locked_tx, locked) = std::sync::mpsc::channel();
        let other_process = {
            let path = path.clone();
            std::thread::spawn(move || {
                let c = Connection::open(&path).unwrap();
                c.execute_batch("BEGIN IMMEDIATE").unwrap();
                locked_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(400));
                c.execute_batch("COMMIT").unwrap();
            })
        };
        locked.recv().unwrap();
        let started = Instant::now();
        let write = store.meta_or_insert("k", vec![1]);
        let tick = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            started.elapsed()
        };
        let (written, ticked_after) = tokio::join!(write, tick);
        assert_eq!(written.unwrap(), [1]);
        assert!(
            ticked_after < Duration::from_millis(300),
            "the runtime was blocked for {ticked_after:?}"
        );
        other_process.join().unwrap();
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

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
use crate::limits::{AttemptCounts, LoginLimit};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::sync::{Arc, Mutex};

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
    let tx = immediate(conn)?;
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

fn immediate(c: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    c.transaction_with_behavior(TransactionBehavior::Immediate)
}

fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(0)?,
        author: Author::parse(&row.get::<_, String>(1)?),
        text: row.get(2)?,
        created_at: row.get(3)?,
        client_id: row.get(4)?,
        channel: Channel::parse(&row.get::<_, String>(5)?),
    })
}

fn family_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Family> {
    Ok(Family {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        user_id: row.get(2)?,
        expires_at: row.get(3)?,
        revoked_at: row.get(4)?,
        client_id: row.get(5)?,
        jkt: row.get("jkt")?,
    })
}

const FAMILY_COLUMNS: &str =
    "f.id, f.customer_id, f.user_id, f.expires_at, f.revoked_at, f.client_id, f.jkt";
const MESSAGE_COLUMNS: &str = "id, author, text, created_at, client_id, channel";

fn meta_or_insert(c: &mut Connection, key: &str, candidate: &[u8]) -> StoreResult<Vec<u8>> {
    let tx = immediate(c)?;
    tx.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
        params![key, candidate],
    )?;
    let value = tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))?;
    tx.commit()?;
    Ok(value)
}

fn append(
    c: &mut Connection,
    owner: &Owner,
    author: Author,
    text: &str,
    client_id: Option<&str>,
    channel: Channel,
    now: Millis,
) -> StoreResult<(Message, bool)> {
    let tx = immediate(c)?;
    if let Some(cid) = client_id {
        let existing = tx
            .query_row(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages
                     WHERE owner_kind = ?1 AND owner = ?2 AND client_id = ?3"
                ),
                params![owner.kind(), owner.key(), cid],
                message_from_row,
            )
            .optional()?;
        if let Some(m) = existing {
            return Ok((m, false));
        }
    }
    tx.execute(
        "INSERT INTO messages (owner_kind, owner, author, text, created_at, client_id, channel)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            owner.kind(),
            owner.key(),
            author.as_str(),
            text,
            now,
            client_id,
            channel.as_str()
        ],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    Ok((
        Message {
            id,
            author,
            text: text.to_owned(),
            created_at: now,
            client_id: client_id.map(str::to_owned),
            channel,
        },
        true,
    ))
}

fn list(c: &mut Connection, owner: &Owner, limit: usize) -> StoreResult<Vec<Message>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, author, text, created_at, client_id, channel FROM (
           SELECT * FROM messages WHERE owner_kind = ?1 AND owner = ?2
           ORDER BY created_at DESC, id DESC LIMIT ?3)
         ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map(
        params![owner.kind(), owner.key(), limit as i64],
        message_from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn fold_anonymous(c: &mut Connection, anonymous_id: &str, customer_id: &str) -> StoreResult<usize> {
    let tx = immediate(c)?;
    // A send retried across login may already be in the customer's
    // history: keep that copy, drop the anonymous one.
    tx.execute(
        "DELETE FROM messages
         WHERE owner_kind = 'anonymous' AND owner = ?1 AND client_id IN (
           SELECT client_id FROM messages
           WHERE owner_kind = 'customer' AND owner = ?2 AND client_id IS NOT NULL)",
        params![anonymous_id, customer_id],
    )?;
    let moved = tx.execute(
        "UPDATE messages SET owner_kind = 'customer', owner = ?2
         WHERE owner_kind = 'anonymous' AND owner = ?1",
        params![anonymous_id, customer_id],
    )?;
    tx.commit()?;
    Ok(moved)
}

fn create_family(
    c: &mut Connection,
    family: &Family,
    token_hash: &[u8],
    now: Millis,
) -> StoreResult<()> {
    let tx = immediate(c)?;
    tx.execute(
        "INSERT INTO families (id, customer_id, user_id, created_at, expires_at, client_id, jkt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            family.id,
            family.customer_id,
            family.user_id,
            now,
            family.expires_at,
            family.client_id,
            family.jkt
        ],
    )?;
    tx.execute(
        "INSERT INTO refresh_tokens (hash, family, issued_at) VALUES (?1, ?2, ?3)",
        params![token_hash, family.id, now],
    )?;
    tx.commit()?;
    Ok(())
}

fn rotate(
    c: &mut Connection,
    token_hash: &[u8],
    new_hash: &[u8],
    now: Millis,
) -> StoreResult<Rotation> {
    // Immediate: the read and the write below are one step for every other
    // connection and process, so two presentations cannot both see the
    // token unspent.
    let tx = immediate(c)?;
    let found = tx
        .query_row(
            &format!(
                "SELECT {FAMILY_COLUMNS}, r.spent_at FROM refresh_tokens r
                 JOIN families f ON f.id = r.family WHERE r.hash = ?1"
            ),
            [token_hash],
            |row| Ok((family_from_row(row)?, row.get::<_, Option<Millis>>(7)?)),
        )
        .optional()?;
    let Some((family, spent_at)) = found else {
        return Ok(Rotation::Refused);
    };
    if family.revoked_at.is_some() || now >= family.expires_at {
        return Ok(Rotation::Refused);
    }
    if spent_at.is_some() {
        // A rotated token came back: someone holds a copy. Revoke the
        // whole family, so neither copy works any more.
        tx.execute(
            "UPDATE families SET revoked_at = ?2 WHERE id = ?1",
            params![family.id, now],
        )?;
        tx.commit()?;
        return Ok(Rotation::Reused(Family {
            revoked_at: Some(now),
            ..family
        }));
    }
    tx.execute(
        "UPDATE refresh_tokens SET spent_at = ?2 WHERE hash = ?1",
        params![token_hash, now],
    )?;
    tx.execute(
        "INSERT INTO refresh_tokens (hash, family, issued_at) VALUES (?1, ?2, ?3)",
        params![new_hash, family.id, now],
    )?;
    tx.commit()?;
    Ok(Rotation::Rotated(family))
}

fn refresh_token(c: &mut Connection, token_hash: &[u8]) -> StoreResult<Option<(Family, bool)>> {
    Ok(c.query_row(
        &format!(
            "SELECT {FAMILY_COLUMNS}, r.spent_at IS NOT NULL FROM refresh_tokens r
             JOIN families f ON f.id = r.family WHERE r.hash = ?1"
        ),
        [token_hash],
        |row| Ok((family_from_row(row)?, row.get::<_, bool>(7)?)),
    )
    .optional()?)
}

fn family(c: &mut Connection, id: &str) -> StoreResult<Option<Family>> {
    Ok(c.query_row(
        &format!("SELECT {FAMILY_COLUMNS} FROM families f WHERE f.id = ?1"),
        [id],
        family_from_row,
    )
    .optional()?)
}

fn revoke_family(c: &mut Connection, id: &str, now: Millis) -> StoreResult<bool> {
    let n = c.execute(
        "UPDATE families SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now],
    )?;
    Ok(n > 0)
}

fn login_attempt(
    c: &mut Connection,
    name: &str,
    limit: LoginLimit,
    now: Millis,
) -> StoreResult<Result<AttemptId, u64>> {
    let tx = immediate(c)?;
    tx.execute(
        "DELETE FROM login_attempts WHERE at <= ?1",
        [LoginLimit::forgotten_before(now)],
    )?;
    let counts = tx.query_row(
        "SELECT count(*) FILTER (WHERE name = ?1), min(at) FILTER (WHERE name = ?1),
                count(*), min(at)
         FROM login_attempts",
        [name],
        |r| {
            Ok(AttemptCounts {
                own: r.get::<_, i64>(0)? as u64,
                own_oldest: r.get(1)?,
                total: r.get::<_, i64>(2)? as u64,
                oldest: r.get(3)?,
            })
        },
    )?;
    if let Err(wait) = limit.check(&counts, now) {
        tx.commit()?;
        return Ok(Err(wait));
    }
    tx.execute(
        "INSERT INTO login_attempts (name, at) VALUES (?1, ?2)",
        params![name, now],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    Ok(Ok(AttemptId(id)))
}

fn login_succeeded(c: &mut Connection, attempt: AttemptId) -> StoreResult<()> {
    c.execute("DELETE FROM login_attempts WHERE id = ?1", [attempt.0])?;
    Ok(())
}

fn queue(c: &mut Connection, limit: usize) -> StoreResult<Vec<QueueEntry>> {
    let mut stmt = c.prepare_cached(super::QUEUE_SQL)?;
    let rows = stmt.query_map([limit as i64], |row| {
        let kind: String = row.get(6)?;
        let key: String = row.get(7)?;
        Ok(QueueEntry {
            owner: Owner::from_parts(&kind, &key).unwrap_or(Owner::Anonymous(key)),
            last: message_from_row(row)?,
            unread: row.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn mark_read(c: &mut Connection, owner: &Owner, up_to: i64) -> StoreResult<()> {
    c.execute(
        "INSERT INTO conversation_reads (owner_kind, owner, read_up_to) VALUES (?1, ?2, ?3)
         ON CONFLICT (owner_kind, owner)
         DO UPDATE SET read_up_to = max(read_up_to, excluded.read_up_to)",
        params![owner.kind(), owner.key(), up_to],
    )?;
    Ok(())
}

fn put_profile_check(c: &mut Connection, p: &ProfileCheck) -> StoreResult<()> {
    c.execute(
        "INSERT INTO profiles (customer_id, sdk_customer_id, verified, reason, data, checked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (customer_id) DO UPDATE SET sdk_customer_id = excluded.sdk_customer_id,
           verified = excluded.verified, reason = excluded.reason, data = excluded.data,
           checked_at = excluded.checked_at",
        params![
            p.customer_id,
            p.sdk_customer_id,
            p.verified,
            p.reason,
            p.data,
            p.checked_at
        ],
    )?;
    Ok(())
}

fn profile_check(c: &mut Connection, customer_id: &str) -> StoreResult<Option<ProfileCheck>> {
    Ok(c.query_row(
        "SELECT customer_id, sdk_customer_id, verified, reason, data, checked_at
         FROM profiles WHERE customer_id = ?1",
        [customer_id],
        |r| {
            Ok(ProfileCheck {
                customer_id: r.get(0)?,
                sdk_customer_id: r.get(1)?,
                verified: r.get(2)?,
                reason: r.get(3)?,
                data: r.get(4)?,
                checked_at: r.get(5)?,
            })
        },
    )
    .optional()?)
}

fn agent_seen(c: &mut Connection, agent: &str, now: Millis) -> StoreResult<()> {
    c.execute(
        "INSERT INTO desk_presence (agent, seen_at) VALUES (?1, ?2)
         ON CONFLICT (agent) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)",
        params![agent, now],
    )?;
    Ok(())
}

fn agents_seen_since(c: &mut Connection, since: Millis) -> StoreResult<i64> {
    Ok(c.query_row(
        "SELECT count(*) FROM desk_presence WHERE seen_at >= ?1",
        [since],
        |r| r.get(0),
    )?)
}

#[async_trait]
impl Store for SqliteStore {
    async fn meta_or_insert(&self, key: &str, candidate: Vec<u8>) -> StoreResult<Vec<u8>> {
        let key = key.to_owned();
        self.run(move |c| meta_or_insert(c, &key, &candidate)).await
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
        self.run(move |c| append(c, &owner, author, &text, client_id.as_deref(), channel, now))
            .await
    }

    async fn queue(&self, limit: usize) -> StoreResult<Vec<QueueEntry>> {
        self.run(move |c| queue(c, limit)).await
    }

    async fn mark_read(&self, owner: &Owner, up_to: i64) -> StoreResult<()> {
        let owner = owner.clone();
        self.run(move |c| mark_read(c, &owner, up_to)).await
    }

    async fn put_profile_check(&self, check: &ProfileCheck) -> StoreResult<()> {
        let check = check.clone();
        self.run(move |c| put_profile_check(c, &check)).await
    }

    async fn profile_check(&self, customer_id: &str) -> StoreResult<Option<ProfileCheck>> {
        let id = customer_id.to_owned();
        self.run(move |c| profile_check(c, &id)).await
    }

    async fn agent_seen(&self, agent: &str, now: Millis) -> StoreResult<()> {
        let agent = agent.to_owned();
        self.run(move |c| agent_seen(c, &agent, now)).await
    }

    async fn agents_seen_since(&self, since: Millis) -> StoreResult<i64> {
        self.run(move |c| agents_seen_since(c, since)).await
    }

    async fn list(&self, owner: &Owner, limit: usize) -> StoreResult<Vec<Message>> {
        let owner = owner.clone();
        self.run(move |c| list(c, &owner, limit)).await
    }

    async fn fold_anonymous(&self, anonymous_id: &str, customer_id: &str) -> StoreResult<usize> {
        let (anonymous_id, customer_id) = (anonymous_id.to_owned(), customer_id.to_owned());
        self.run(move |c| fold_anonymous(c, &anonymous_id, &customer_id))
            .await
    }

    async fn create_family(
        &self,
        family: &Family,
        token_hash: &[u8],
        now: Millis,
    ) -> StoreResult<()> {
        let (family, token_hash) = (family.clone(), token_hash.to_vec());
        self.run(move |c| create_family(c, &family, &token_hash, now))
            .await
    }

    async fn rotate(
        &self,
        token_hash: &[u8],
        new_hash: &[u8],
        now: Millis,
    ) -> StoreResult<Rotation> {
        let (token_hash, new_hash) = (token_hash.to_vec(), new_hash.to_vec());
        self.run(move |c| rotate(c, &token_hash, &new_hash, now))
            .await
    }

    async fn refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<(Family, bool)>> {
        let token_hash = token_hash.to_vec();
        self.run(move |c| refresh_token(c, &token_hash)).await
    }

    async fn family(&self, id: &str) -> StoreResult<Option<Family>> {
        let id = id.to_owned();
        self.run(move |c| family(c, &id)).await
    }

    async fn revoke_family(&self, id: &str, now: Millis) -> StoreResult<bool> {
        let id = id.to_owned();
        self.run(move |c| revoke_family(c, &id, now)).await
    }

    async fn login_attempt(
        &self,
        name: &str,
        limit: LoginLimit,
        now: Millis,
    ) -> StoreResult<Result<AttemptId, u64>> {
        let name = name.to_owned();
        self.run(move |c| login_attempt(c, &name, limit, now)).await
    }

    async fn login_succeeded(&self, attempt: AttemptId) -> StoreResult<()> {
        self.run(move |c| login_succeeded(c, attempt)).await
    }

    async fn first_proof_use(&self, id: &str, until: Millis, now: Millis) -> StoreResult<bool> {
        let id = id.to_owned();
        self.run(move |c| first_proof_use(c, &id, until, now)).await
    }
}

fn first_proof_use(c: &mut Connection, id: &str, until: Millis, now: Millis) -> StoreResult<bool> {
    let tx = immediate(c)?;
    tx.execute("DELETE FROM dpop_proofs WHERE until_ms <= ?1", [now])?;
    let added = tx.execute(
        "INSERT OR IGNORE INTO dpop_proofs (id, until_ms) VALUES (?1, ?2)",
        params![id, until],
    )?;
    tx.commit()?;
    Ok(added == 1)
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
        assert_eq!(meta_or_insert(&mut c, "k", &[2]).unwrap(), [1]);
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

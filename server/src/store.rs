//! Storage: conversations, refresh-token families and server metadata behind
//! one small trait, with SQLite ([`SqliteStore`]) as the implementation.
//!
//! Refresh tokens are stored as SHA-256 hashes, never as text: a copy of the
//! database does not hand out sessions.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::sync::Mutex;

/// Milliseconds since the epoch.
pub type Millis = i64;

/// A storage failure (SQLite error text; never holds a token).
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "storage: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError(e.to_string())
    }
}

/// Result of a storage call.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// Whose conversation: an anonymous visitor's (by `Chat-Anonymous-Id`) or a
/// customer's (by opaque customer id, the token's `sub`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A visitor before login.
    Anonymous(String),
    /// A logged-in customer: one history across sessions, tabs and devices.
    Customer(String),
}

impl Owner {
    fn kind(&self) -> &'static str {
        match self {
            Owner::Anonymous(_) => "anonymous",
            Owner::Customer(_) => "customer",
        }
    }

    fn key(&self) -> &str {
        match self {
            Owner::Anonymous(k) | Owner::Customer(k) => k,
        }
    }
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Author {
    /// The visitor or customer.
    Visitor,
    /// The (demo) agent.
    Agent,
}

impl Author {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Visitor => "visitor",
            Author::Agent => "agent",
        }
    }

    fn parse(s: &str) -> Author {
        if s == "agent" {
            Author::Agent
        } else {
            Author::Visitor
        }
    }
}

/// A stored chat message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Server id, increasing.
    pub id: i64,
    /// Who wrote it.
    pub author: Author,
    /// The text.
    pub text: String,
    /// When the server stored it.
    pub created_at: Millis,
    /// The sender's idempotency key, if it sent one.
    pub client_id: Option<String>,
}

/// A refresh-token family: one login, all refresh tokens rotated from it.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    /// Random id (not a credential; carried as `sid` in access tokens).
    pub id: String,
    /// The customer id (`sub`).
    pub customer_id: String,
    /// The site's user id.
    pub user_id: String,
    /// Absolute end of the family: no refresh after this.
    pub expires_at: Millis,
    /// Set once revoked (logout, or reuse detected).
    pub revoked_at: Option<Millis>,
}

/// What presenting a refresh token did.
#[derive(Clone, Debug, PartialEq)]
pub enum Rotation {
    /// The token was current: it is now spent and `new_hash` is current.
    Rotated(Family),
    /// The token had already been rotated: its family is now revoked.
    Reused(Family),
    /// Unknown token, or its family is revoked or past its end.
    Refused,
}

/// The storage the server needs. Calls are short and synchronous.
pub trait Store: Send + Sync {
    /// A metadata value, creating it with `make` when absent (keys and
    /// secrets that must survive restarts).
    fn meta_or_insert(&self, key: &str, make: &dyn Fn() -> Vec<u8>) -> StoreResult<Vec<u8>>;

    /// Appends a message. With a `client_id` already stored for this owner,
    /// returns that message instead (`false`): a retried send is stored once.
    fn append(
        &self,
        owner: &Owner,
        author: Author,
        text: &str,
        client_id: Option<&str>,
        now: Millis,
    ) -> StoreResult<(Message, bool)>;

    /// The last `limit` messages of `owner`, oldest first.
    fn list(&self, owner: &Owner, limit: usize) -> StoreResult<Vec<Message>>;

    /// Moves the anonymous conversation `anonymous_id` into `customer_id`'s
    /// history (skipping messages whose `client_id` the customer already
    /// has). Returns how many messages moved; 0 when there is nothing (again).
    fn fold_anonymous(&self, anonymous_id: &str, customer_id: &str) -> StoreResult<usize>;

    /// Starts a family with its first refresh token.
    fn create_family(&self, family: &Family, token_hash: &[u8], now: Millis) -> StoreResult<()>;

    /// Presents a refresh token (by hash) for rotation to `new_hash`.
    fn rotate(&self, token_hash: &[u8], new_hash: &[u8], now: Millis) -> StoreResult<Rotation>;

    /// A refresh token's family and whether the token is spent (rotated).
    fn refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<(Family, bool)>>;

    /// A family by id.
    fn family(&self, id: &str) -> StoreResult<Option<Family>>;

    /// Revokes a family; `false` when it was unknown or already revoked.
    fn revoke_family(&self, id: &str, now: Millis) -> StoreResult<bool>;
}

/// SQLite storage: a file (`path`) or `:memory:`.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_kind TEXT NOT NULL,
  owner TEXT NOT NULL,
  author TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  client_id TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_owner ON messages (owner_kind, owner, id);
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_id
  ON messages (owner_kind, owner, client_id) WHERE client_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS families (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  hash BLOB PRIMARY KEY,
  family TEXT NOT NULL REFERENCES families (id),
  issued_at INTEGER NOT NULL,
  spent_at INTEGER
);
CREATE INDEX IF NOT EXISTS refresh_by_family ON refresh_tokens (family);
";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`; `:memory:` keeps
    /// everything in memory (tests).
    pub fn open(path: &str) -> StoreResult<SqliteStore> {
        let conn = Connection::open(path)?;
        if path != ":memory:" {
            // WAL: readers do not block the writer; NORMAL is durable across
            // a process crash (a power loss may drop the last transaction).
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        // A panic while holding the lock cannot leave SQLite half-written
        // (transactions roll back on drop), so a poisoned lock is usable.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }
}

fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(0)?,
        author: Author::parse(&row.get::<_, String>(1)?),
        text: row.get(2)?,
        created_at: row.get(3)?,
        client_id: row.get(4)?,
    })
}

fn family_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Family> {
    Ok(Family {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        user_id: row.get(2)?,
        expires_at: row.get(3)?,
        revoked_at: row.get(4)?,
    })
}

const FAMILY_COLUMNS: &str = "f.id, f.customer_id, f.user_id, f.expires_at, f.revoked_at";

impl Store for SqliteStore {
    fn meta_or_insert(&self, key: &str, make: &dyn Fn() -> Vec<u8>) -> StoreResult<Vec<u8>> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let found: Option<Vec<u8>> = tx
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?;
            let value = match found {
                Some(v) => v,
                None => {
                    let v = make();
                    tx.execute(
                        "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                        params![key, v],
                    )?;
                    v
                }
            };
            tx.commit()?;
            Ok(value)
        })
    }

    fn append(
        &self,
        owner: &Owner,
        author: Author,
        text: &str,
        client_id: Option<&str>,
        now: Millis,
    ) -> StoreResult<(Message, bool)> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(cid) = client_id {
                let existing = tx
                    .query_row(
                        "SELECT id, author, text, created_at, client_id FROM messages
                         WHERE owner_kind = ?1 AND owner = ?2 AND client_id = ?3",
                        params![owner.kind(), owner.key(), cid],
                        message_from_row,
                    )
                    .optional()?;
                if let Some(m) = existing {
                    return Ok((m, false));
                }
            }
            tx.execute(
                "INSERT INTO messages (owner_kind, owner, author, text, created_at, client_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    owner.kind(),
                    owner.key(),
                    author.as_str(),
                    text,
                    now,
                    client_id
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
                },
                true,
            ))
        })
    }

    fn list(&self, owner: &Owner, limit: usize) -> StoreResult<Vec<Message>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, author, text, created_at, client_id FROM (
                   SELECT * FROM messages WHERE owner_kind = ?1 AND owner = ?2
                   ORDER BY created_at DESC, id DESC LIMIT ?3)
                 ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map(
                params![owner.kind(), owner.key(), limit as i64],
                message_from_row,
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn fold_anonymous(&self, anonymous_id: &str, customer_id: &str) -> StoreResult<usize> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        })
    }

    fn create_family(&self, family: &Family, token_hash: &[u8], now: Millis) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO families (id, customer_id, user_id, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    family.id,
                    family.customer_id,
                    family.user_id,
                    now,
                    family.expires_at
                ],
            )?;
            tx.execute(
                "INSERT INTO refresh_tokens (hash, family, issued_at) VALUES (?1, ?2, ?3)",
                params![token_hash, family.id, now],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn rotate(&self, token_hash: &[u8], new_hash: &[u8], now: Millis) -> StoreResult<Rotation> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let found = tx
                .query_row(
                    &format!(
                        "SELECT {FAMILY_COLUMNS}, r.spent_at FROM refresh_tokens r
                         JOIN families f ON f.id = r.family WHERE r.hash = ?1"
                    ),
                    [token_hash],
                    |row| Ok((family_from_row(row)?, row.get::<_, Option<Millis>>(5)?)),
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
        })
    }

    fn refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<(Family, bool)>> {
        self.with(|c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {FAMILY_COLUMNS}, r.spent_at IS NOT NULL FROM refresh_tokens r
                     JOIN families f ON f.id = r.family WHERE r.hash = ?1"
                ),
                [token_hash],
                |row| Ok((family_from_row(row)?, row.get::<_, bool>(5)?)),
            )
            .optional()?)
        })
    }

    fn family(&self, id: &str) -> StoreResult<Option<Family>> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {FAMILY_COLUMNS} FROM families f WHERE f.id = ?1"),
                [id],
                family_from_row,
            )
            .optional()?)
        })
    }

    fn revoke_family(&self, id: &str, now: Millis) -> StoreResult<bool> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE families SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now],
            )?;
            Ok(n > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(id: &str) -> Family {
        Family {
            id: id.into(),
            customer_id: "c1".into(),
            user_id: "alice".into(),
            expires_at: 10_000,
            revoked_at: None,
        }
    }

    #[test]
    fn append_is_idempotent_per_client_id() {
        let s = SqliteStore::open(":memory:").unwrap();
        let o = Owner::Anonymous("a".into());
        let (m1, new1) = s.append(&o, Author::Visitor, "hi", Some("k1"), 1).unwrap();
        let (m2, new2) = s.append(&o, Author::Visitor, "hi", Some("k1"), 2).unwrap();
        assert!(new1 && !new2);
        assert_eq!(m1, m2);
        assert_eq!(s.list(&o, 10).unwrap().len(), 1);
    }

    #[test]
    fn fold_moves_once_and_skips_duplicates() {
        let s = SqliteStore::open(":memory:").unwrap();
        let anon = Owner::Anonymous("a".into());
        let cust = Owner::Customer("c".into());
        s.append(&anon, Author::Visitor, "one", Some("k1"), 1)
            .unwrap();
        s.append(&anon, Author::Agent, "reply", None, 2).unwrap();
        s.append(&anon, Author::Visitor, "two", Some("k2"), 3)
            .unwrap();
        s.append(&cust, Author::Visitor, "two", Some("k2"), 4)
            .unwrap();
        assert_eq!(s.fold_anonymous("a", "c").unwrap(), 2);
        assert_eq!(s.fold_anonymous("a", "c").unwrap(), 0);
        let texts: Vec<_> = s
            .list(&cust, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(texts, ["one", "reply", "two"]);
        assert!(s.list(&anon, 10).unwrap().is_empty());
    }

    #[test]
    fn list_keeps_the_newest_in_order() {
        let s = SqliteStore::open(":memory:").unwrap();
        let o = Owner::Customer("c".into());
        for i in 0..5 {
            s.append(&o, Author::Visitor, &i.to_string(), None, i)
                .unwrap();
        }
        let texts: Vec<_> = s.list(&o, 3).unwrap().into_iter().map(|m| m.text).collect();
        assert_eq!(texts, ["2", "3", "4"]);
    }

    #[test]
    fn rotation_and_reuse_revokes_the_family() {
        let s = SqliteStore::open(":memory:").unwrap();
        s.create_family(&family("f"), b"t1", 0).unwrap();
        assert!(matches!(
            s.rotate(b"t1", b"t2", 1).unwrap(),
            Rotation::Rotated(_)
        ));
        assert!(matches!(
            s.rotate(b"t1", b"t3", 2).unwrap(),
            Rotation::Reused(_)
        ));
        // The current token died with its family.
        assert_eq!(s.rotate(b"t2", b"t4", 3).unwrap(), Rotation::Refused);
        assert!(s.family("f").unwrap().unwrap().revoked_at.is_some());
        assert_eq!(s.rotate(b"nope", b"t5", 3).unwrap(), Rotation::Refused);
    }

    #[test]
    fn a_family_ends() {
        let s = SqliteStore::open(":memory:").unwrap();
        s.create_family(&family("f"), b"t1", 0).unwrap();
        assert_eq!(s.rotate(b"t1", b"t2", 10_000).unwrap(), Rotation::Refused);
        assert!(s.revoke_family("f", 1).unwrap());
        assert!(!s.revoke_family("f", 2).unwrap());
    }

    #[test]
    fn meta_is_created_once() {
        let s = SqliteStore::open(":memory:").unwrap();
        assert_eq!(s.meta_or_insert("k", &|| vec![1]).unwrap(), vec![1]);
        assert_eq!(s.meta_or_insert("k", &|| vec![2]).unwrap(), vec![1]);
    }
}

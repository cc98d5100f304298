//! Storage: conversations, refresh-token families, login attempts and server
//! metadata behind one async trait, [`Store`], with two implementations:
//! SQLite ([`sqlite::SqliteStore`], the embedded default: one file or
//! `:memory:`) and PostgreSQL ([`postgres::PgStore`], for several instances
//! sharing one database). [`open`] picks one from `CHAT_DB`.
//!
//! Every operation that must happen once (rotating a refresh token, folding
//! an anonymous conversation, storing a `clientId`, creating a key, recording
//! a login attempt) is one database transaction, so it holds across
//! processes, not only across the tasks of one.
//!
//! Refresh tokens are stored as SHA-256 hashes, never as text: a copy of the
//! database does not hand out sessions.

pub mod migrations;
pub mod postgres;
pub mod sqlite;

use crate::limits::LoginLimit;
use async_trait::async_trait;
use std::sync::Arc;

/// Milliseconds since the epoch.
pub type Millis = i64;

/// A storage failure (the database's error text; never holds a token).
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "storage: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

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
    /// The wire kind: `anonymous` or `customer`.
    pub fn kind(&self) -> &'static str {
        match self {
            Owner::Anonymous(_) => "anonymous",
            Owner::Customer(_) => "customer",
        }
    }

    /// The anonymous id or customer id.
    pub fn key(&self) -> &str {
        match self {
            Owner::Anonymous(k) | Owner::Customer(k) => k,
        }
    }

    /// Parses a conversation's wire kind and key (`anonymous` / `customer`).
    pub fn from_parts(kind: &str, key: &str) -> Option<Owner> {
        match kind {
            "anonymous" => Some(Owner::Anonymous(key.to_owned())),
            "customer" => Some(Owner::Customer(key.to_owned())),
            _ => None,
        }
    }
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Author {
    /// The visitor or customer.
    Visitor,
    /// A representative, from the desk.
    Agent,
    /// The canned auto-reply (when no representative is online).
    Bot,
}

impl Author {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Visitor => "visitor",
            Author::Agent => "agent",
            Author::Bot => "bot",
        }
    }

    pub(crate) fn parse(s: &str) -> Author {
        match s {
            "agent" => Author::Agent,
            "bot" => Author::Bot,
            _ => Author::Visitor,
        }
    }
}

/// The channel a message was written on. One history spans all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// The web chat widget (`www/index.html`, client `chat-demo`).
    Web,
    /// The messaging channel (`www/messenger.html`, client `chat-messenger`).
    Messenger,
}

impl Channel {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Messenger => "messenger",
        }
    }

    pub(crate) fn parse(s: &str) -> Channel {
        if s == "messenger" {
            Channel::Messenger
        } else {
            Channel::Web
        }
    }
}

/// One conversation in the representatives' queue.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueEntry {
    /// Whose conversation.
    pub owner: Owner,
    /// Its newest message.
    pub last: Message,
    /// Customer messages newer than the representatives' read marker.
    pub unread: i64,
}

/// The outcome of the last UserProfile API check for a customer, made while
/// the customer was active (no token is kept).
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileCheck {
    /// The customer (the token's `sub`, whose conversation this is).
    pub customer_id: String,
    /// The customer id the SDK sent with that request.
    pub sdk_customer_id: String,
    /// Whether token, SDK id and profile named the same customer.
    pub verified: bool,
    /// Why not (a stable code), when not verified.
    pub reason: Option<String>,
    /// The profile (JSON text), only when verified.
    pub data: Option<String>,
    /// When the check was made.
    pub checked_at: Millis,
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
    /// Where it was written.
    pub channel: Channel,
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
    /// The OAuth client the login was made for (web, messenger or desk).
    pub client_id: String,
    /// The RFC 7638 thumbprint of the DPoP key the session is bound to
    /// (its refresh tokens need a proof by that key); `None`: bearer.
    pub jkt: Option<String>,
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

/// A login attempt being checked (see [`Store::login_attempt`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptId(pub i64);

/// The storage the server needs. No call blocks the async runtime: SQLite
/// runs on tokio's blocking threads, PostgreSQL through an async driver.
#[async_trait]
pub trait Store: Send + Sync {
    /// The metadata value of `key`; when absent, stores `candidate` and
    /// returns it. Every caller, in every process, gets the value that was
    /// stored first (keys and secrets that all instances share).
    async fn meta_or_insert(&self, key: &str, candidate: Vec<u8>) -> StoreResult<Vec<u8>>;

    /// Appends a message written on the web channel (see [`Store::append_on`]).
    async fn append(
        &self,
        owner: &Owner,
        author: Author,
        text: &str,
        client_id: Option<&str>,
        now: Millis,
    ) -> StoreResult<(Message, bool)> {
        self.append_on(owner, author, text, client_id, Channel::Web, now)
            .await
    }

    /// Appends a message written on `channel`. With a `client_id` already
    /// stored for this owner, returns that message instead (`false`): a
    /// retried send is stored once.
    async fn append_on(
        &self,
        owner: &Owner,
        author: Author,
        text: &str,
        client_id: Option<&str>,
        channel: Channel,
        now: Millis,
    ) -> StoreResult<(Message, bool)>;

    /// The `limit` conversations with the newest activity, newest first,
    /// each with its last message and unread count.
    async fn queue(&self, limit: usize) -> StoreResult<Vec<QueueEntry>>;

    /// Moves the representatives' read marker of `owner` up to message
    /// `up_to` (never back).
    async fn mark_read(&self, owner: &Owner, up_to: i64) -> StoreResult<()>;

    /// Replaces a customer's last profile check.
    async fn put_profile_check(&self, check: &ProfileCheck) -> StoreResult<()>;

    /// A customer's last profile check.
    async fn profile_check(&self, customer_id: &str) -> StoreResult<Option<ProfileCheck>>;

    /// Records that representative `agent` used the desk at `now`.
    async fn agent_seen(&self, agent: &str, now: Millis) -> StoreResult<()>;

    /// How many representatives used the desk at or after `since`.
    async fn agents_seen_since(&self, since: Millis) -> StoreResult<i64>;

    /// The last `limit` messages of `owner`, oldest first.
    async fn list(&self, owner: &Owner, limit: usize) -> StoreResult<Vec<Message>>;

    /// Moves the anonymous conversation `anonymous_id` into `customer_id`'s
    /// history (skipping messages whose `client_id` the customer already
    /// has). Returns how many messages moved; 0 when there is nothing (again).
    async fn fold_anonymous(&self, anonymous_id: &str, customer_id: &str) -> StoreResult<usize>;

    /// Starts a family with its first refresh token.
    async fn create_family(
        &self,
        family: &Family,
        token_hash: &[u8],
        now: Millis,
    ) -> StoreResult<()>;

    /// Presents a refresh token (by hash) for rotation to `new_hash`. Of
    /// several presentations of one token, however concurrent, exactly one
    /// is `Rotated`; the others are `Reused` (and revoke the family).
    async fn rotate(
        &self,
        token_hash: &[u8],
        new_hash: &[u8],
        now: Millis,
    ) -> StoreResult<Rotation>;

    /// A refresh token's family and whether the token is spent (rotated).
    async fn refresh_token(&self, token_hash: &[u8]) -> StoreResult<Option<(Family, bool)>>;

    /// A family by id.
    async fn family(&self, id: &str) -> StoreResult<Option<Family>>;

    /// Revokes a family; `false` when it was unknown or already revoked.
    async fn revoke_family(&self, id: &str, now: Millis) -> StoreResult<bool>;

    /// Starts a login attempt for user name `name`: `Ok(Err(retry_after_s))`
    /// when `limit` refuses it, else records it (it counts against the limit
    /// until [`Store::login_succeeded`] forgets it). Counting and recording
    /// are one transaction, so concurrent attempts on several instances
    /// cannot pass the limit together.
    async fn login_attempt(
        &self,
        name: &str,
        limit: LoginLimit,
        now: Millis,
    ) -> StoreResult<Result<AttemptId, u64>>;

    /// Forgets a successful login attempt.
    async fn login_succeeded(&self, attempt: AttemptId) -> StoreResult<()>;

    /// Records the DPoP proof `id` (its key's thumbprint and its `jti`)
    /// until `until`: `false` when it is recorded already and not past (a
    /// replay, on this instance or another). Proofs past their end are
    /// deleted on the way.
    async fn first_proof_use(&self, id: &str, until: Millis, now: Millis) -> StoreResult<bool>;
}

/// The queue's query, the same on both engines (`$1`: the limit): each
/// conversation's newest message and its unread count.
pub(crate) const QUEUE_SQL: &str = "WITH latest AS (
    SELECT owner_kind, owner, max(id) AS last_id FROM messages
    GROUP BY owner_kind, owner ORDER BY last_id DESC LIMIT $1)
  SELECT m.id, m.author, m.text, m.created_at, m.client_id, m.channel,
    l.owner_kind, l.owner,
    (SELECT count(*) FROM messages v
      WHERE v.owner_kind = l.owner_kind AND v.owner = l.owner AND v.author = 'visitor'
        AND v.id > coalesce((SELECT r.read_up_to FROM conversation_reads r
          WHERE r.owner_kind = l.owner_kind AND r.owner = l.owner), 0)) AS unread
  FROM latest l JOIN messages m ON m.id = l.last_id
  ORDER BY l.last_id DESC";

/// Opens the store `CHAT_DB` names: a `postgres://` or `postgresql://` URL
/// is PostgreSQL, anything else a SQLite file (or `:memory:`). Applies the
/// schema migrations the database lacks.
pub async fn open(db: &str) -> StoreResult<Arc<dyn Store>> {
    if is_postgres_url(db) {
        Ok(Arc::new(postgres::PgStore::open(db).await?))
    } else {
        Ok(Arc::new(sqlite::SqliteStore::open(db).await?))
    }
}

/// Is `db` a PostgreSQL connection URL?
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// `db` fit for a log line: a URL's password replaced by `***`.
pub fn redacted(db: &str) -> String {
    let Some((scheme, rest)) = db.split_once("://") else {
        return db.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or("");
            let hidden = if user_info.contains(':') { ":***" } else { "" };
            let tail = redact_password_parameter(tail);
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => format!("{scheme}://{authority}{}", redact_password_parameter(tail)),
    }
}

fn redact_password_parameter(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_engine_and_logs_never_see_a_password() {
        assert!(is_postgres_url("postgres://u@h/db") && is_postgres_url("postgresql://h/db"));
        assert!(!is_postgres_url("chat.sqlite") && !is_postgres_url(":memory:"));
        assert_eq!(
            redacted("postgres://chat:s3cret@127.0.0.1:5432/chat"),
            "postgres://chat:***@127.0.0.1:5432/chat"
        );
        assert_eq!(
            redacted("postgresql://db.internal/chat?password=s3cret&sslmode=disable"),
            "postgresql://db.internal/chat?password=***&sslmode=disable"
        );
        assert_eq!(redacted("postgres://chat@h/db"), "postgres://chat@h/db");
        assert_eq!(
            redacted("target/demo/chat.sqlite"),
            "target/demo/chat.sqlite"
        );
    }
}

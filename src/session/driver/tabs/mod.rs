//! Tabs of one origin share one refresh, its token and logouts (`crossTab`),
//! among instances with the same credential source only.
//!
//! - A BroadcastChannel carries tokens (`token`), rotated refresh tokens
//!   (`refresh`, sent the moment the token endpoint answers, before its
//!   access token is judged), logouts (`logout`) and a small request/answer
//!   round (`want` → `have`) in which a tab asks the others for their token.
//!   Every message with a token also carries the sender's newest refresh
//!   token, which may be newer than the one that came with that token.
//! - Web Locks elect the refresher: a tab about to call first takes the
//!   exclusive lock `chat-auth:refresh:<source>:<customer>`, then asks the
//!   others for their token, and calls only if none satisfies its refresh
//!   ([`crate::session::machine::Session::adopt`]). It keeps the lock for its whole
//!   cycle, retries included, and announces the token before releasing it;
//!   the browser releases the locks of a tab that closes or crashes.
//! - Each instance holds a shared presence lock
//!   `chat-auth:tab:<source>:<id>` so a tab knows whose answers to wait for
//!   (at most [`ROUND_TIMEOUT_MS`], for a frozen tab): every `have` names
//!   its sender, and only those of the tabs counted end the round. The lock
//!   may pass on before its last holder's token arrives; that tab answers
//!   after it, on the same channel.
//!
//! `<source>` names where credentials come from — `clientId`, the token
//! endpoint, the issuer, the validated issuer and audience — hashed: two
//! `ChatAuth`s on one page for different OAuth clients (the demo's widget
//! and messenger) never adopt each other's tokens, refresh tokens or
//! logouts, and do not wait for each other's lock. The channel is per
//! source too ([`channel_name`]).
//!
//! Without BroadcastChannel each tab refreshes on its own; without Web Locks
//! tabs still share tokens and logouts, and adopt an announced token. Web
//! Locks that fail count as missing from then on: a call waiting for the
//! lock goes ahead in this tab alone.

use super::LockId;
use crate::jose::keys::{KeyMaterial, KeySource, VerifyingKey};
use crate::jose::verify::DEFAULT_LEEWAY_SECONDS;
use crate::options::Config;
use crate::session::machine::Credential;
use crate::time::Millis;
use crate::wire::cat;

mod message;
use message::{end, field, number, start};
pub use message::{have, logout, refresh, refresh_fields, token, token_fields, Message};

const REFRESH_LOCK: &str = "chat-auth:refresh:";
const PRESENCE_LOCK: &str = "chat-auth:tab:";

/// How long a tab waits for the others' answers before calling.
pub const ROUND_TIMEOUT_MS: Millis = 500;

/// How long a lock request may go ungranted, while no other tab holds the
/// lock, before Web Locks count as broken; also the bound on `query()`.
pub const LOCK_WAIT_MS: u32 = 500;

/// FNV-1a 64: a stable hash for names shared by the tabs of an origin (not
/// a defence against anyone: same-origin script can read everything).
struct Fnv(u64);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

impl Fnv {
    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// A field: its bytes and a terminator; a missing one hashes apart from
    /// every string (0xff is no UTF-8).
    fn field(&mut self, field: Option<&str>) {
        self.bytes(field.map_or(&[0xff][..], str::as_bytes));
        self.bytes(&[0]);
    }

    /// A verification key: everything that decides which tokens it
    /// verifies — its type (curve included), `kid`, JWK `alg` and `use`
    /// ([`VerifyingKey::fits`]) and its components.
    fn key(&mut self, key: &VerifyingKey) {
        self.field(Some(key.material.kind()));
        self.field(key.kid.as_deref());
        self.field(key.alg.as_deref());
        self.field(key.key_use.as_deref());
        let parts: [&[u8]; 2] = match &key.material {
            KeyMaterial::Rsa { n, e } => [n, e],
            KeyMaterial::Ec { x, y, .. } => [x, y],
            KeyMaterial::Ed25519 { x } => [x, &[]],
            KeyMaterial::Secret(secret) => [secret.expose(), &[]],
        };
        for part in parts {
            self.bytes(&(part.len() as u32).to_le_bytes());
            self.bytes(part);
        }
    }

    /// A list whose order does not matter: the sum of its items' hashes
    /// (no sort: it would add 3 KB of wasm).
    fn set(&mut self, items: &[String]) {
        let mut sum: u64 = 0;
        for item in items {
            let mut h = Fnv(FNV_OFFSET);
            h.field(Some(item));
            sum = sum.wrapping_add(h.0);
        }
        self.bytes(&sum.to_le_bytes());
        self.bytes(&[0xfe]);
    }
}

/// The credential source's key, in hex: a hash of every option that decides
/// which tokens an instance accepts, where it refreshes them and where it
/// sends them. Instances that share it share the channel, the refresh lock
/// and the stored token, and adopt each other's tokens without judging them
/// again, so two instances that would judge or send a token differently
/// (other `apiOrigins`, keys, claims) must never share it.
fn source_key(config: &Config) -> String {
    let v = &config.validation;
    let mut h = Fnv(FNV_OFFSET);
    h.set(&config.api_origins);
    for field in [
        config.grant.client_id.as_deref(),
        config.token_endpoint.as_deref(),
        config.issuer.as_deref(),
        config.introspection_endpoint.as_deref(),
        v.issuer.as_deref(),
        v.customer_id_claim.as_deref(),
    ] {
        h.field(field);
    }
    match &v.audience {
        Some(audience) => h.set(audience),
        None => h.field(None),
    }
    let algorithms: Vec<String> = v.algorithms.iter().map(|a| a.as_str().into()).collect();
    h.set(&algorithms);
    // A single key verifies whatever the `kid`; a set's key only its own:
    // the same key as `publicKey` and in a `jwks` is another source. (A URL
    // is http(s): it never starts with these tags.)
    match &v.key {
        Some(KeySource::JwksUrl(url)) => h.field(Some(url)),
        Some(KeySource::Key(key)) => {
            h.field(Some("key"));
            h.key(key);
        }
        Some(KeySource::Jwks(keys)) => {
            h.field(Some("jwks"));
            keys.iter().for_each(|k| h.key(k));
        }
        None => h.field(None),
    }
    // Another leeway judges `exp` / `nbf` / `iat` otherwise (hashed only
    // when not the default, so the names of default instances stay).
    if v.leeway_seconds != DEFAULT_LEEWAY_SECONDS {
        h.field(Some("leeway"));
        h.bytes(&v.leeway_seconds.to_bits().to_le_bytes());
    }
    // A DPoP instance sends tokens only with proofs and takes bound ones
    // only: it shares nothing with a bearer one (hashed only when on, so
    // the names of bearer instances stay as they were).
    if config.dpop {
        h.field(Some("dpop"));
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(16);
    for i in (0..16).rev() {
        out.push(HEX[((h.0 >> (4 * i)) & 15) as usize] as char);
    }
    out
}

/// `sessionStorage`'s key for the token of `config`'s credential source.
pub fn token_storage_name(config: &Config) -> String {
    cat(&["chat-auth:token:", &source_key(config)])
}

/// The BroadcastChannel's name for `config`'s credential source.
pub fn channel_name(config: &Config) -> String {
    cat(&["chat-auth:", &source_key(config)])
}

/// A `want` round: counting the peers, then waiting for their answers.
#[derive(Debug)]
struct Round {
    customer: String,
    /// `None` while the peers are counted.
    waiting: Option<Waiting>,
}

#[derive(Debug)]
struct Waiting {
    nonce: u32,
    /// The peers counted whose answer has not come: only theirs end the
    /// round. A tab without a presence lock (its Web Locks stubbed) answers
    /// too, but the lock's last holder may be another one whose token is
    /// still on its way, sent before its answer.
    missing: Vec<String>,
    offers: Vec<Credential>,
    deadline: Millis,
}

/// The cross-tab state of one instance.
#[derive(Debug)]
pub struct Tabs {
    id: String,
    source: String,
    /// Web Locks exist and have not failed.
    locks: bool,
    /// Lock requests not granted yet, by id, with their customer.
    requested: Vec<(LockId, String)>,
    held: Option<(LockId, String)>,
    round: Option<Round>,
    next_lock: LockId,
    next_nonce: u32,
}

impl Tabs {
    /// The state of an instance with tab id `id` (a random UUID) whose
    /// channel is open; `locks`: Web Locks exist.
    pub fn new(config: &Config, id: String, locks: bool) -> Tabs {
        Tabs {
            id,
            source: source_key(config),
            locks,
            requested: Vec::new(),
            held: None,
            round: None,
            next_lock: 1,
            next_nonce: 1,
        }
    }

    fn presence_prefix(&self) -> String {
        cat(&[PRESENCE_LOCK, &self.source, ":"])
    }

    /// The presence lock to hold, `None` without Web Locks.
    pub fn presence_name(&self) -> Option<String> {
        self.locks
            .then(|| cat(&[&self.presence_prefix(), &self.id]))
    }

    /// Whether calls go through the refresh lock.
    pub fn elects(&self) -> bool {
        self.locks
    }

    /// Whether this tab holds the refresh lock for `customer`.
    pub fn holds(&self, customer: &str) -> bool {
        self.held.as_ref().is_some_and(|(_, c)| c == customer)
    }

    /// A new request for the refresh lock of `customer`: its id and name.
    pub fn acquire(&mut self, customer: &str) -> (LockId, String) {
        let lock = self.next_lock;
        self.next_lock += 1;
        self.requested.push((lock, customer.to_owned()));
        let name = cat(&[REFRESH_LOCK, &self.source, ":", customer]);
        (lock, name)
    }

    /// Lock `lock` was granted: whether it is now the one held (else let
    /// it go: one is held already, or the request is unknown).
    pub fn granted(&mut self, lock: LockId) -> bool {
        let Some(i) = self.requested.iter().position(|(l, _)| *l == lock) else {
            return false;
        };
        let Some((_, customer)) = crate::session::take_at(&mut self.requested, i) else {
            return false;
        };
        if self.held.is_some() {
            return false;
        }
        self.held = Some((lock, customer));
        true
    }

    /// Lock request `lock` (or the presence lock, `None`) failed: Web
    /// Locks count as broken from now on.
    pub fn locks_failed(&mut self, lock: Option<LockId>) {
        crate::session::remove_all(&mut self.requested, |(l, _)| Some(*l) == lock);
        self.locks = false;
    }

    /// Releases the held lock unless this tab still refreshes for its
    /// customer: the lock to release.
    pub fn release_unless(&mut self, refreshing_for: Option<&str>) -> Option<LockId> {
        let keep = self
            .held
            .as_ref()
            .is_some_and(|(_, c)| Some(c.as_str()) == refreshing_for);
        if keep {
            return None;
        }
        self.held.take().map(|(lock, _)| lock)
    }

    /// Destroyed: the held lock to release; the round is dropped.
    pub fn let_go(&mut self) -> Option<LockId> {
        self.round = None;
        self.release_unless(None)
    }

    /// Starts a round for `customer`: the `CountPeers` arguments.
    pub fn start_round(&mut self, customer: String) -> (String, String) {
        self.round = Some(Round {
            customer,
            waiting: None,
        });
        let prefix = self.presence_prefix();
        let own = cat(&[&prefix, &self.id]);
        (prefix, own)
    }

    /// The peers were counted (their tab ids): `Some(Some(want))` to post
    /// and wait for, `Some(None)` when the round is over (no peers), `None`
    /// without a round counting.
    pub fn peers_counted(&mut self, peers: Vec<String>, now: Millis) -> Option<Option<String>> {
        let round = self.round.as_mut().filter(|r| r.waiting.is_none())?;
        if peers.is_empty() || !self.locks {
            return Some(None);
        }
        let nonce = self.next_nonce;
        self.next_nonce = nonce.wrapping_add(1);
        round.waiting = Some(Waiting {
            nonce,
            missing: peers,
            offers: Vec::new(),
            deadline: now.saturating_add(ROUND_TIMEOUT_MS),
        });
        let mut msg = start("want");
        field(&mut msg, "from", &self.id);
        number(&mut msg, "nonce", i64::from(nonce));
        field(&mut msg, "customerId", &round.customer);
        Some(Some(end(msg)))
    }

    /// When the round waiting for answers times out.
    pub fn round_deadline(&self) -> Option<Millis> {
        self.round
            .as_ref()
            .and_then(|r| r.waiting.as_ref())
            .map(|w| w.deadline)
    }

    /// Whether a round waits and its deadline passed.
    pub fn round_over(&self, now: Millis) -> bool {
        self.round_deadline().is_some_and(|d| now >= d)
    }

    /// The answer to `want`, from this tab.
    pub fn have(&self, want: &Message, offer_fields: Option<String>) -> String {
        have(want, &self.id, offer_fields)
    }

    /// A `have` for this tab's round: takes its offer; whether the round
    /// is over (every peer counted answered).
    pub fn take_offer(&mut self, msg: &Message, offer: Option<Credential>) -> bool {
        if msg.to.as_deref() != Some(self.id.as_str()) {
            return false;
        }
        let Some(w) = self.round.as_mut().and_then(|r| r.waiting.as_mut()) else {
            return false;
        };
        if msg.nonce != Some(f64::from(w.nonce)) {
            return false;
        }
        w.offers.extend(offer);
        let from = msg.from();
        crate::session::remove_all(&mut w.missing, |peer| Some(peer.as_str()) == from);
        w.missing.is_empty()
    }

    /// Ends the round: its customer and the offers received.
    pub fn end_round(&mut self) -> (Option<String>, Vec<Credential>) {
        match self.round.take() {
            Some(r) => (
                Some(r.customer),
                r.waiting.map(|w| w.offers).unwrap_or_default(),
            ),
            None => (None, Vec::new()),
        }
    }
}

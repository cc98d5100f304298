//! The session driver: everything the browser shell decides, sans I/O.
//!
//! A host (the wasm shell in the browser, `tests/simulation.rs` natively)
//! feeds [`Input`]s with the page clock's `now` to [`Driver::handle`] and
//! carries out the [`Effect`]s that [`Driver::poll`] hands back, in order,
//! until it returns `None`. The driver holds the [`Session`], the customer
//! id, the tokens and every decision: when to call the provider or the token
//! endpoint, how an answer is judged (the host only checks signatures and
//! introspects when asked, [`Effect::CheckToken`]), the cross-tab lock /
//! want / have protocol, the next timer wake (capped at [`WAKE_CHECK_MS`]),
//! which waiting request gets what, the 401 → one refresh → one replay
//! decision, which headers go to which origin, what goes into
//! `sessionStorage` and which events fire with what detail.
//!
//! Re-entrancy: a host may feed an input while it carries out an effect (a
//! provider that answers synchronously, an event handler that calls
//! `getToken`). Effects of that input queue behind the ones not yet polled;
//! the timer and the lock release are computed when the queue runs empty, so
//! they always reflect the latest state.
//!
//! Randomness (anonymous ids, the tab id, refresh jitter) comes from an
//! injected [`Entropy`], like the clock.

mod proofs;
mod tabs;
#[cfg(test)]
mod tests;

use crate::error::{Error, ErrorCode, Result};
use crate::jose::verify::VerifyOptions;
use crate::options::{Config, Storage};
use crate::secret::SecretString;
use crate::session::admit::{self, Candidate, Introspection, Rules};
use crate::session::machine::{
    Access, Call, CallId, Credential, Effects, Event, Session, SessionConfig, Source, State, Via,
};
use crate::session::schedule::{self, ClockEvidence, MAX_TIMER_MS};
use crate::time::Millis;
use crate::wire::cat;
use tabs::Tabs;

pub use proofs::{is_nonce_challenge, DpopAnswer, ProofId, ProofTarget};
use proofs::{Key, Proofs, Purpose};
pub use tabs::{channel_name, LOCK_WAIT_MS, ROUND_TIMEOUT_MS};

/// Identifies one request of the host (`setCustomer`, `getToken`, …); the
/// host picks it, unique among its pending requests.
pub type RequestId = u64;

impl Input {
    /// The host's request id when this is one of the app's requests.
    fn app_request(&self) -> Option<RequestId> {
        match self {
            Input::SetCustomer { request, .. }
            | Input::ClearCustomer { request }
            | Input::GetToken { request, .. }
            | Input::AuthHeaders { request, .. }
            | Input::Fetch { request, .. } => Some(*request),
            _ => None,
        }
    }
}

/// Identifies one exclusive lock request ([`Effect::AcquireLock`]).
pub type LockId = u64;

/// Event names of `auth.on`.
pub const EVENTS: [&str; 6] = [
    "state",
    "authenticated",
    "refreshed",
    "refresh-failed",
    "auth-lost",
    "logged-out",
];

/// The longest a timer sleeps before the deadline is checked again: a
/// computer waking from sleep (whose timers may not have counted the sleep)
/// re-checks within a minute.
pub const WAKE_CHECK_MS: Millis = 60_000;

/// How often one request may wait for a refresh before it fails with
/// `refresh_failed` (each wait is itself bounded by the cycle's deadlines).
pub const MAX_WAITS: u32 = 16;

/// How many aborted or superseded refresh grants are still listened to.
const STALE_GRANTS: usize = 4;

/// How long a refresh grant's POST may take, answer body included: the host
/// aborts it then (and feeds [`Input::TokenEndpointFailed`] with
/// `provider_timeout`), and the driver gives up on a grant still unanswered
/// by then on its own. Its refresh token counts as spent either way: the
/// token endpoint may have rotated it, and presenting it again would read
/// as theft (RFC 9700 §4.14).
pub const GRANT_TIMEOUT_MS: Millis = 60_000;

/// Randomness for the driver: anonymous ids and the tab id (version 4 UUIDs,
/// unguessable: `crypto.getRandomValues` in a browser) and the refresh
/// jitter. `Send`: a host may share the driver between threads (`ffi/`).
pub trait Entropy: Send {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// What the host found when it opened (the constructor's environment).
#[derive(Clone, Debug, Default)]
pub struct Environment {
    /// A context provider was given in the options.
    pub has_provider: bool,
    /// `sessionStorage['chat-auth:anonymous-id']` as read (`None`: absent,
    /// or storage unreadable); kept when it is a version 4 UUID.
    pub stored_anonymous_id: Option<String>,
    /// `navigator.onLine !== false`.
    pub online: bool,
    /// The host opened the BroadcastChannel [`channel_name`] names (only
    /// with `crossTab`).
    pub channel: bool,
    /// `navigator.locks.request` exists.
    pub locks: bool,
}

/// The `sessionStorage` entries the driver writes; [`Driver::storage_name`]
/// names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageKey {
    /// [`ANONYMOUS_ID_KEY`]: the tab's anonymous id (always kept).
    AnonymousId,
    /// `chat-auth:token:<source>`: the credential, with `storage: 'session'`
    /// only, one entry per credential source (as the channel's name), so
    /// two instances of a page that take tokens from different sources
    /// never resume from each other's token.
    Token,
}

/// `sessionStorage`'s key for the tab's anonymous id, shared by every
/// instance of the tab (the host reads it before the driver exists).
pub const ANONYMOUS_ID_KEY: &str = "chat-auth:anonymous-id";

/// How the context provider failed (its own error is never reported: it
/// may hold a secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderFailure {
    /// It threw synchronously.
    Threw,
    /// Its promise rejected (or its error callback ran).
    Rejected,
    /// No provider function is known to the host.
    Missing,
}

/// The token endpoint's HTTP answer, as received.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// The `Date` header, if readable (CORS must expose it).
    pub date: Option<String>,
    /// The `Retry-After` header, if readable.
    pub retry_after: Option<String>,
    /// The body text (read for every status; unused unless 2xx): a token
    /// response holds the access and refresh tokens.
    pub body: SecretString,
    /// The `DPoP-Nonce` header, if readable.
    pub dpop_nonce: Option<String>,
}

/// Something that happened, fed to [`Driver::handle`].
#[derive(Debug)]
pub enum Input {
    /// `setCustomer(customerId, contextProvider?)`. Answered with
    /// [`Reply::Done`] once authenticated, or [`Reply::Reject`].
    SetCustomer {
        /// The host's id for this request.
        request: RequestId,
        /// The customer id (the host rejects a non-string itself).
        customer_id: String,
        /// A provider function came with this call (the host keeps it).
        provider: bool,
        /// The token's `sessionStorage` entry ([`Driver::storage_name`]) as read now (`None`: absent
        /// or unreadable); used only with `storage: 'session'`.
        stored: Option<String>,
    },
    /// `clearCustomer()`. Answered with [`Reply::Done`].
    ClearCustomer {
        /// The host's id for this request.
        request: RequestId,
    },
    /// `getToken({ forceRefresh })`. Answered with [`Reply::Token`].
    GetToken {
        /// The host's id for this request.
        request: RequestId,
        /// `forceRefresh: true`.
        force: bool,
    },
    /// `authHeaders(url)`. Answered with [`Reply::Headers`].
    AuthHeaders {
        /// The host's id for this request.
        request: RequestId,
        /// `new URL(url, location.href).origin`, `None` when `url` is no
        /// URL (or no string).
        origin: Option<String>,
        /// The method (option `method`, default `GET`) and absolute URL
        /// the headers are for: a DPoP proof names them.
        target: Option<ProofTarget>,
    },
    /// `fetch(input, init)`. Answered with [`Reply::Plain`] or
    /// [`Reply::Send`]; after [`Input::FetchAnswered`] with
    /// [`Reply::Response`], [`Reply::Replay`] or [`Reply::Reject`].
    Fetch {
        /// The host's id for this request.
        request: RequestId,
        /// The request URL's origin (`None`: no URL).
        origin: Option<String>,
        /// The request's `redirect` mode is `follow` (the default).
        follows_redirects: bool,
        /// The host can send the request a second time (its body is a
        /// string, `URLSearchParams`, `Blob`, `ArrayBuffer`, `FormData` or
        /// none, or the host kept a clone).
        replayable: bool,
        /// The request's method and absolute URL (a DPoP proof names them).
        target: Option<ProofTarget>,
    },
    /// A request sent after [`Reply::Send`] or [`Reply::Replay`] answered.
    FetchAnswered {
        /// The request.
        request: RequestId,
        /// The HTTP status (0 for an opaque redirect).
        status: u16,
        /// `response.type === 'opaqueredirect'`.
        opaque_redirect: bool,
        /// Its `DPoP-Nonce` and `WWW-Authenticate` headers.
        dpop: DpopAnswer,
    },
    /// `fetch` itself rejected for request `request` (any phase, also a
    /// plain one).
    FetchFailed {
        /// The request.
        request: RequestId,
        /// The rejection was an `AbortError` (the caller's own signal).
        aborted: bool,
    },
    /// `destroy()`.
    Destroy,
    /// The timer of the last [`Effect::ArmTimer`] fired.
    TimerFired,
    /// `focus`, `pageshow` or `visibilitychange`: re-check the deadlines.
    Wake,
    /// `online` (`true`) or `offline` (`false`).
    Online(bool),
    /// The provider answered call `call` (through its callback or its
    /// promise; an `undefined` promise value is no answer and not fed).
    ProviderAnswered {
        /// The call ([`Call::id`]).
        call: CallId,
        /// `JSON.stringify(context)`, `None` when it is not JSON.
        context: Option<String>,
    },
    /// The provider failed call `call`.
    ProviderFailed {
        /// The call.
        call: CallId,
        /// How it failed.
        failure: ProviderFailure,
    },
    /// The token endpoint answered [`Effect::PostRefreshGrant`].
    TokenEndpointAnswered {
        /// The call.
        call: CallId,
        /// The answer.
        answer: HttpAnswer,
    },
    /// The refresh grant could not be posted: `network` (fetch rejected, a
    /// redirect, an unreadable body), or `refresh_failed` when no token
    /// endpoint is known (the issuer's metadata names none).
    TokenEndpointFailed {
        /// The call.
        call: CallId,
        /// Why.
        error: Error,
    },
    /// The checks of [`Effect::CheckToken`] finished: `Ok` with the
    /// introspection answer (`None` when none was asked), or the failure
    /// (`bad_signature`, `unknown_key`, `network`, …).
    TokenChecked {
        /// The call.
        call: CallId,
        /// The outcome.
        result: Result<Option<Introspection>>,
    },
    /// The exclusive lock of [`Effect::AcquireLock`] is held.
    LockGranted {
        /// The lock request.
        lock: LockId,
    },
    /// The lock request failed (Web Locks do not work here, or it went
    /// ungranted for [`LOCK_WAIT_MS`] while no tab held the lock).
    LockFailed {
        /// The lock request.
        lock: LockId,
    },
    /// Web Locks refused the presence lock of [`Effect::HoldPresence`].
    PresenceFailed,
    /// The answer to [`Effect::CountPeers`] (0 when `query()` failed).
    PeersCounted {
        /// How many other instances hold a presence lock.
        count: usize,
    },
    /// A BroadcastChannel message arrived (the text another driver's
    /// [`Effect::Post`] sent).
    Message(SecretString),
    /// A `sessionStorage` write of [`Effect::Store`] threw (quota, a
    /// sandboxed frame's SecurityError).
    StorageFailed {
        /// The key written.
        key: StorageKey,
    },
    /// The DPoP key of [`Effect::LoadProofKey`] is ready: the base64url `x`
    /// and `y` of its public half (P-256).
    ProofKeyReady {
        /// `x`.
        x: String,
        /// `y`.
        y: String,
    },
    /// No DPoP key could be loaded or made (no WebCrypto ECDSA P-256, or
    /// IndexedDB refused).
    ProofKeyFailed,
    /// [`Effect::SignProof`] finished: the raw P-256 signature (R ‖ S), or
    /// `None` when signing failed.
    ProofSigned {
        /// The proof.
        proof: ProofId,
        /// The signature.
        signature: Option<Vec<u8>>,
    },
}

/// A header to set: its name, and its value (`Authorization: Bearer …`,
/// the context's extra headers), which never prints.
pub type Header = (String, SecretString);

/// The answer to one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `setCustomer` / `clearCustomer` resolve with `undefined`.
    Done,
    /// `getToken` resolves with the token, `null` when anonymous.
    Token(Option<SecretString>),
    /// `authHeaders` resolves with these headers (none for other origins).
    Headers(Vec<Header>),
    /// `fetch`: not an allowed origin; send the caller's request untouched,
    /// then feed [`Input::FetchAnswered`] (answered with
    /// [`Reply::Response`]) or [`Input::FetchFailed`].
    Plain,
    /// `fetch`: send the request with these headers set; with
    /// `manual_redirect`, as `redirect: 'manual'` (a followed redirect
    /// would carry them to another origin). Then feed
    /// [`Input::FetchAnswered`] or [`Input::FetchFailed`].
    Send {
        /// Headers to set.
        headers: Vec<Header>,
        /// Send with `redirect: 'manual'`.
        manual_redirect: bool,
    },
    /// `fetch`: send the kept copy again with these headers (after a 401
    /// and a refresh); then feed the answer again.
    Replay {
        /// Headers to set.
        headers: Vec<Header>,
    },
    /// `fetch` resolves with the last response received.
    Response,
    /// Reject with this error.
    Reject(Error),
    /// `fetch` rejects with the caller's own `AbortError`, as thrown.
    Rethrow,
}

/// What the host must do, in the order [`Driver::poll`] gives them.
#[derive(Debug)]
pub enum Effect {
    /// Answer request `request`.
    Reply {
        /// The request.
        request: RequestId,
        /// The answer.
        reply: Reply,
    },
    /// Call the context provider for `call`: `provider(callback,
    /// call.needs_refresh, { reason, signal, deadline })` with a new
    /// `AbortController` (aborting the previous call's); feed
    /// [`Input::ProviderAnswered`] or [`Input::ProviderFailed`].
    CallProvider(Call),
    /// POST `body` (`application/x-www-form-urlencoded`, `Accept:
    /// application/json`, `redirect: 'error'`) to the token endpoint
    /// (`tokenEndpoint`, else the issuer's metadata); feed
    /// [`Input::TokenEndpointAnswered`] or [`Input::TokenEndpointFailed`].
    PostRefreshGrant {
        /// The call.
        call: CallId,
        /// The refresh grant's body (holds the refresh token).
        body: SecretString,
        /// The `DPoP` header to send (option `dpop`).
        proof: Option<SecretString>,
    },
    /// Check the answer's token: its signature under `signature` (keys
    /// from `validation`, else the JWKS URL or the issuer's `jwks_uri`,
    /// re-fetched once on an unknown `kid`), then, with `introspect`, ask
    /// the introspection endpoint. Feed [`Input::TokenChecked`].
    CheckToken {
        /// The call.
        call: CallId,
        /// The token.
        token: SecretString,
        /// The verification options (algorithms, claims, clock), `None`
        /// when no signature is checked.
        signature: Option<Box<VerifyOptions>>,
        /// Introspect the token (RFC 7662).
        introspect: bool,
    },
    /// Abort call `call`'s `AbortSignal` if it is the provider call under
    /// way (its answer will be ignored).
    AbortCall(CallId),
    /// (Re-)arm the one timer to fire in `delay_ms`, replacing any other;
    /// feed [`Input::TimerFired`].
    ArmTimer {
        /// Milliseconds, at most [`WAKE_CHECK_MS`].
        delay_ms: u32,
    },
    /// Cancel the timer.
    ClearTimer,
    /// Dispatch an `auth.on` event: [`event_name`] and [`event_detail`].
    Emit(Event),
    /// Call `userLoginHandler({ code, reason })`.
    LoginNeeded {
        /// The code.
        code: ErrorCode,
        /// `unauthorized` or `auth_lost`.
        reason: &'static str,
    },
    /// Write (`Some`) or remove (`None`) a `sessionStorage` entry; feed
    /// [`Input::StorageFailed`] if it throws.
    Store {
        /// The entry.
        key: StorageKey,
        /// The text to write.
        value: Option<SecretString>,
    },
    /// Post this text on the BroadcastChannel.
    Post(SecretString),
    /// Request the exclusive Web Lock `name`, bounded by [`LOCK_WAIT_MS`]
    /// as `js/locks.js` `acquireLock` does; feed [`Input::LockGranted`] or
    /// [`Input::LockFailed`].
    AcquireLock {
        /// The request.
        lock: LockId,
        /// The lock's name.
        name: String,
    },
    /// Release the lock (or, if not granted yet, release it as soon as it is).
    ReleaseLock(LockId),
    /// Hold the shared presence lock `name` for the instance's lifetime;
    /// feed [`Input::PresenceFailed`] if Web Locks refuse it.
    HoldPresence {
        /// The lock's name.
        name: String,
    },
    /// Count the held locks whose name starts with `prefix`, except `own`,
    /// within [`LOCK_WAIT_MS`]; feed [`Input::PeersCounted`].
    CountPeers {
        /// The presence locks' prefix.
        prefix: String,
        /// This instance's presence lock.
        own: String,
    },
    /// `destroy()`: close the channel, release the presence lock, remove
    /// the wake listeners, drop the event handlers.
    Close,
    /// Option `dpop`: load the ES256 key pair named `name` (shared by every
    /// tab of this configuration), or make one with WebCrypto
    /// (`extractable: false`) and keep it, in IndexedDB; feed
    /// [`Input::ProofKeyReady`] or [`Input::ProofKeyFailed`].
    LoadProofKey {
        /// The key's name.
        name: String,
        /// After a logout: the `x` of the key to replace by a new one (the
        /// next customer must not share the last one's thumbprint). The
        /// host replaces the stored pair only if it is still that key, so
        /// tabs replacing at once end up with one new key.
        replace: Option<String>,
    },
    /// Sign `signing_input` (ASCII) with the DPoP key (ECDSA P-256,
    /// SHA-256); feed [`Input::ProofSigned`].
    SignProof {
        /// The proof.
        proof: ProofId,
        /// What to sign.
        signing_input: String,
    },
}

/// The `auth.on` name of `event`.
pub fn event_name(event: &Event) -> &'static str {
    match event {
        Event::State { .. } => EVENTS[0],
        Event::Authenticated { .. } => EVENTS[1],
        Event::Refreshed { .. } => EVENTS[2],
        Event::RefreshFailed { .. } => EVENTS[3],
        Event::AuthLost { .. } => EVENTS[4],
        Event::LoggedOut { .. } => EVENTS[5],
    }
}

/// The detail object of `event` for `auth.on` handlers, as JSON text:
/// `state` `{ state, previous }`, `authenticated` `{ customerId,
/// anonymousId, expiresAt }`, `refreshed` `{ expiresAt, source }`,
/// `refresh-failed` `{ code, attempt, retryInMs }`, `auth-lost` `{ code }`,
/// `logged-out` `{ customerId }` (absent values are `null`).
pub fn event_detail(event: &Event) -> String {
    let mut out = String::from("{");
    let mut put = |name: &str, value: Option<&str>, number: Option<i64>| {
        if out.len() > 1 {
            out.push(',');
        }
        crate::wire::json::write_string(&mut out, name);
        out.push(':');
        match (value, number) {
            (Some(v), _) => crate::wire::json::write_string(&mut out, v),
            (None, Some(n)) => crate::wire::json::write_int(&mut out, n),
            (None, None) => out.push_str("null"),
        }
    };
    match event {
        Event::State { state, previous } => {
            put("state", Some(state.as_str()), None);
            put("previous", Some(previous.as_str()), None);
        }
        Event::Authenticated {
            customer_id,
            anonymous_id,
            expires_at,
        } => {
            put("customerId", Some(customer_id), None);
            put("anonymousId", Some(anonymous_id), None);
            put("expiresAt", None, *expires_at);
        }
        Event::Refreshed { expires_at, source } => {
            put("expiresAt", None, *expires_at);
            put("source", Some(source.as_str()), None);
        }
        Event::RefreshFailed {
            code,
            attempt,
            retry_in_ms,
        } => {
            put("code", Some(code.as_str()), None);
            put("attempt", None, Some(i64::from(*attempt)));
            put("retryInMs", None, *retry_in_ms);
        }
        Event::AuthLost { code } => put("code", Some(code.as_str()), None),
        Event::LoggedOut { customer_id } => put("customerId", customer_id.as_deref(), None),
    }
    out.push('}');
    out
}

/// What a waiting request wants once a token is settled.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    /// `setCustomer`.
    Customer,
    /// `getToken`.
    Token,
    /// `authHeaders`.
    Headers,
    /// `fetch`, before its first send.
    Send,
    /// `fetch` after a 401: the token to replay with.
    Replay,
}

#[derive(Debug)]
struct Pending {
    request: RequestId,
    want: Want,
    force: bool,
    waits: u32,
    /// [`Session::customer_generation`] when it was made: it is answered
    /// for that customer only.
    generation: u64,
}

/// A `fetch` sent with the SDK's headers.
#[derive(Debug)]
struct Sent {
    request: RequestId,
    follows_redirects: bool,
    replayable: bool,
    /// The token it went out with (`None`: anonymously).
    token_used: Option<SecretString>,
    /// [`Session::customer_generation`] when it was made: a 401 after the
    /// customer changed stands (no refresh, no replay as someone else).
    generation: u64,
    /// Sent a second time already.
    replayed: bool,
    /// Its method and URL, for a DPoP proof.
    target: Option<ProofTarget>,
    /// Sent again once already after a `use_dpop_nonce` challenge.
    nonce_retried: bool,
}

/// A refresh grant on the wire whose call is over.
#[derive(Debug)]
struct StaleGrant {
    call: CallId,
    /// The refresh token it presented.
    presented: SecretString,
    /// When it was posted (page clock): given up on at
    /// [`GRANT_TIMEOUT_MS`] after.
    posted_at: Millis,
    /// Given up on already (still listened to: a late rotation counts).
    given_up: bool,
}

/// The judging rules of a call, kept from when its answer arrived.
#[derive(Debug)]
struct Judging {
    call: Call,
    candidate: Candidate,
    received_at: Millis,
    customer_id: String,
    refused: Option<SecretString>,
    clock: ClockEvidence,
}

/// The session driver (see the module docs).
pub struct Driver {
    config: Config,
    session: Session,
    entropy: Box<dyn Entropy>,
    /// Effects not polled yet, oldest first (a handful at most).
    outbox: Vec<Effect>,
    /// Something changed since the timer and the lock were last settled.
    dirty: bool,
    waiting: Vec<Pending>,
    sent: Vec<Sent>,
    judging: Option<Judging>,
    /// The refresh grant under way and the refresh token it presents.
    grant: Option<(Call, SecretString)>,
    /// Grants still on the wire whose call was aborted or superseded: their
    /// answers are not judged, but a rotated refresh token they bring is
    /// the only one that still works and a refusal still spends the
    /// presented one. Until one settles, its refresh token is not presented
    /// again ([`Session::grant_unanswered`]). Bounded, oldest out.
    stale_grants: Vec<StaleGrant>,
    /// The armed timer's wake and when it fires (page clock).
    armed: Option<(Millis, Millis)>,
    tabs: Option<Tabs>,
    /// [`StorageKey::Token`]'s name.
    token_key: String,
    /// `sessionStorage` writes work (none threw yet).
    storage_ok: bool,
    /// Bumped whenever the session's token or state may have changed (a
    /// host caching `claims` drops its copy then).
    generation: u64,
    /// Option `dpop`: the key, the nonces, the proofs being signed.
    proofs: Option<Proofs>,
    /// The grant call already posted again after `use_dpop_nonce`.
    grant_nonce_retried: Option<CallId>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// A version 4 UUID from 16 random bytes.
pub fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[(byte >> 4) as usize] as char);
        s.push(HEX[(byte & 15) as usize] as char);
    }
    s
}

/// Whether `s` has the shape of a version 4 UUID (lower-case hex).
pub fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            14 => *c == b'4',
            _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
        })
}

/// The headers for a request with `credential` (or anonymously).
pub fn headers_for(credential: Option<&Credential>, anonymous_id: &str) -> Vec<Header> {
    let mut out = Vec::with_capacity(4);
    if let Some(c) = credential {
        out.push((
            "Authorization".to_owned(),
            SecretString::new(cat(&[&c.scheme, " ", c.token.secret()])),
        ));
        out.extend(
            c.headers
                .iter()
                .map(|(name, value)| (name.clone(), SecretString::new(value.clone()))),
        );
    }
    out.push((
        "Chat-Anonymous-Id".to_owned(),
        SecretString::new(anonymous_id),
    ));
    out
}

impl Driver {
    /// A driver for `config`, anonymous, opened at `now`. The effects of
    /// opening (the anonymous id written, the presence lock) are ready to
    /// [`poll`]. `invalid_config` for a `customerId` option without a
    /// provider (the host then feeds
    /// [`Input::SetCustomer`] for it).
    ///
    /// [`poll`]: Driver::poll
    pub fn new(
        config: Config,
        env: Environment,
        entropy: Box<dyn Entropy>,
        now: Millis,
    ) -> Result<Driver> {
        if let Some(id) = &config.customer_id {
            crate::identifier::check_customer_id(id)?;
            if !env.has_provider {
                return Err(Error::new(
                    ErrorCode::InvalidConfig,
                    "option 'customerId' needs a contextProvider",
                ));
            }
        }
        let session_config = SessionConfig {
            policy: config.policy,
            has_provider: env.has_provider,
            has_token_endpoint: config.has_token_endpoint(),
        };
        let token_key = tabs::token_storage_name(&config);
        let mut driver = Driver {
            session: Session::new(String::new(), session_config.clone()),
            config,
            entropy,
            outbox: Vec::new(),
            dirty: true,
            waiting: Vec::new(),
            sent: Vec::new(),
            judging: None,
            grant: None,
            stale_grants: Vec::new(),
            armed: None,
            tabs: None,
            token_key,
            storage_ok: true,
            generation: 0,
            proofs: None,
            grant_nonce_retried: None,
        };
        if driver.config.dpop {
            driver.proofs = Some(Proofs::new(now));
            driver.outbox.push(Effect::LoadProofKey {
                name: cat(&[&channel_name(&driver.config), ":dpop"]),
                replace: None,
            });
        }
        let anonymous_id = match env.stored_anonymous_id {
            Some(id) if is_uuid_v4(&id) => id,
            _ => driver.new_anonymous_id(),
        };
        driver.session = Session::new(anonymous_id, session_config);
        if driver.config.cross_tab && env.channel {
            let id = uuid_v4(driver.random_bytes());
            let tabs = Tabs::new(&driver.config, id, env.locks);
            if let Some(name) = tabs.presence_name() {
                driver.outbox.push(Effect::HoldPresence { name });
            }
            driver.tabs = Some(tabs);
        }
        if !env.online {
            let fx = driver.session.set_online(false, now);
            driver.apply(fx, now);
        }
        Ok(driver)
    }

    // ---- what the host reads ----------------------------------------

    /// The `sessionStorage` key of `key`, for [`Effect::Store`] and for
    /// reading [`Input::SetCustomer`]'s `stored`.
    pub fn storage_name(&self, key: StorageKey) -> &str {
        match key {
            StorageKey::AnonymousId => ANONYMOUS_ID_KEY,
            StorageKey::Token => &self.token_key,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `auth.state`.
    pub fn state(&self) -> State {
        self.session.state()
    }

    /// `auth.customerId`.
    pub fn customer_id(&self) -> Option<&str> {
        self.session.customer_id()
    }

    /// `auth.anonymousId`.
    pub fn anonymous_id(&self) -> &str {
        self.session.anonymous_id()
    }

    /// `auth.expiresAt` (page clock).
    pub fn expires_at(&self) -> Option<Millis> {
        self.session.credential().and_then(|c| c.expires_at)
    }

    /// `auth.claims` as JSON text (`None`: opaque token or anonymous).
    pub fn claims_json(&self) -> Option<&str> {
        self.session
            .credential()
            .and_then(|c| c.claims_json.as_deref())
    }

    /// Changes whenever [`Driver::claims_json`] may have.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The session (read-only), for hosts and tests that inspect it.
    pub fn session(&self) -> &Session {
        &self.session
    }

    // ---- the loop ----------------------------------------------------

    /// Feeds one input at `now` (page clock); then [`Driver::poll`].
    pub fn handle(&mut self, now: Millis, input: Input) {
        self.dirty = true;
        // After `destroy()` every request of the app rejects (API.md), for
        // any origin, and changes nothing (not the tab's anonymous id).
        if self.session.state() == State::Destroyed {
            if let Some(request) = input.app_request() {
                self.reply(request, Reply::Reject(destroyed()));
                return;
            }
        }
        match input {
            Input::SetCustomer {
                request,
                customer_id,
                provider,
                stored,
            } => self.set_customer(now, request, &customer_id, provider, stored),
            Input::ClearCustomer { request } => self.clear_customer(now, request),
            Input::GetToken { request, force } => {
                let mut p = self.pending(request, Want::Token);
                p.force = force;
                self.ask(now, p);
            }
            Input::AuthHeaders {
                request,
                origin,
                target,
            } => {
                if self.allows(origin.as_deref()) {
                    self.sent.retain(|s| s.request != request);
                    if self.proofs.is_some() {
                        // Kept only for its target (a proof names it).
                        let generation = self.session.customer_generation();
                        self.sent
                            .push(Sent::new(request, false, false, target, generation));
                    }
                    self.ask(now, self.pending(request, Want::Headers));
                } else {
                    self.reply(request, Reply::Headers(Vec::new()));
                }
            }
            Input::Fetch {
                request,
                origin,
                follows_redirects,
                replayable,
                target,
            } => {
                if self.allows(origin.as_deref()) {
                    self.sent.retain(|s| s.request != request);
                    let generation = self.session.customer_generation();
                    self.sent.push(Sent::new(
                        request,
                        follows_redirects,
                        replayable,
                        target,
                        generation,
                    ));
                    self.ask(now, self.pending(request, Want::Send));
                } else {
                    self.reply(request, Reply::Plain);
                }
            }
            Input::FetchAnswered {
                request,
                status,
                opaque_redirect,
                dpop,
            } => self.fetch_answered(now, request, status, opaque_redirect, dpop),
            Input::FetchFailed { request, aborted } => {
                self.sent.retain(|s| s.request != request);
                let reply = if aborted {
                    Reply::Rethrow
                } else {
                    Reply::Reject(Error::new(ErrorCode::Network, "the network request failed"))
                };
                self.reply(request, reply);
            }
            Input::Destroy => self.destroy(now),
            Input::TimerFired => {
                // A timer armed for the whole of the round's remaining wait
                // ends the round even if `now` (the `now` option) stood
                // still: the host's timer measured the wait.
                let round = self.tabs.as_ref().and_then(Tabs::round_deadline);
                if let Some((wake, fires)) = self.armed.take() {
                    if wake == fires && round == Some(wake) {
                        self.finish_round(now);
                    }
                }
                self.tick(now);
            }
            Input::Wake => self.tick(now),
            Input::Online(online) => {
                let fx = self.session.set_online(online, now);
                self.apply(fx, now);
            }
            Input::ProviderAnswered { call, context } => {
                let Some(current) = self.session.current_call().filter(|c| c.id == call) else {
                    return;
                };
                if self.judging.as_ref().is_some_and(|j| j.call.id == call) {
                    // The first answer is being checked: it decides, and a
                    // second one must not ride on its check.
                    return;
                }
                match context {
                    Some(text) => self.received(now, current, &text, None),
                    None => self.finish(
                        now,
                        current,
                        Err(Error::malformed("the context is not a JSON object")),
                    ),
                }
            }
            Input::ProviderFailed { call, failure } => {
                let message = match failure {
                    ProviderFailure::Threw => "the context provider threw",
                    ProviderFailure::Rejected => "the context provider failed",
                    ProviderFailure::Missing => "no contextProvider",
                };
                self.fail_call(now, call, Error::new(ErrorCode::ProviderFailed, message));
            }
            Input::TokenEndpointAnswered { call, answer } => {
                self.token_endpoint_answered(now, call, answer)
            }
            Input::TokenEndpointFailed { call, error } => self.grant_failed(now, call, error),
            Input::TokenChecked { call, result } => {
                if let Some(j) = self.judging.take_if(|j| j.call.id == call) {
                    self.admit(now, j, result);
                }
            }
            Input::LockGranted { lock } => self.lock_granted(now, lock),
            Input::LockFailed { lock } => self.locks_broken(now, Some(lock)),
            Input::PresenceFailed => self.locks_broken(now, None),
            Input::PeersCounted { count } => self.peers_counted(now, count),
            Input::Message(text) => self.receive(now, text.secret()),
            Input::StorageFailed { .. } => {
                // Any failed write (the anonymous id's too) stops the token's
                // writes, so the stored token (whose refresh token may be
                // spent by now) must not outlive it: a reload would resume
                // from it.
                if self.storage_ok && self.config.storage == Storage::Session {
                    self.outbox.push(Effect::Store {
                        key: StorageKey::Token,
                        value: None,
                    });
                }
                self.storage_ok = false;
            }
            Input::ProofKeyReady { x, y } => self.proof_key_ready(now, &x, &y),
            Input::ProofKeyFailed => self.proof_key_failed(now),
            Input::ProofSigned { proof, signature } => self.proof_signed(now, proof, signature),
        }
    }

    /// The next effect to carry out at `now`, `None` when there is none.
    pub fn poll(&mut self, now: Millis) -> Option<Effect> {
        if self.outbox.is_empty() && self.dirty {
            self.dirty = false;
            self.settle_timer(now);
            self.release_lock_when_done();
        }
        (!self.outbox.is_empty()).then(|| self.outbox.remove(0))
    }

    // ---- requests ------------------------------------------------------

    fn allows(&self, origin: Option<&str>) -> bool {
        origin.is_some_and(|o| self.config.allows_origin(o))
    }

    fn reply(&mut self, request: RequestId, reply: Reply) {
        self.outbox.push(Effect::Reply { request, reply });
    }

    fn set_customer(
        &mut self,
        now: Millis,
        request: RequestId,
        customer_id: &str,
        provider: bool,
        stored: Option<String>,
    ) {
        if self.session.state() == State::Destroyed {
            self.reply(request, Reply::Reject(destroyed()));
            return;
        }
        if provider {
            self.session.set_has_provider(true);
        }
        let stored = stored
            .filter(|_| self.config.storage == Storage::Session && self.storage_ok)
            .and_then(|text| admit::restore(&text, customer_id))
            // With `dpop`, a stored token that is not bound to this key is
            // not resumed (it was judged by another configuration).
            .filter(|c| self.unbound(c).is_none());
        let jitter = self.jitter();
        let fx = match stored {
            Some(c) => self.session.resume(customer_id, c, now, jitter),
            None => self.session.set_customer(customer_id, now),
        };
        match fx {
            Ok(fx) => {
                self.apply(fx, now);
                self.ask(now, self.pending(request, Want::Customer));
            }
            Err(e) => self.reply(request, Reply::Reject(e)),
        }
    }

    fn clear_customer(&mut self, now: Millis, request: RequestId) {
        let customer = self.session.customer_id().map(str::to_owned);
        let anonymous_id = self.new_anonymous_id();
        match self.session.clear_customer(anonymous_id) {
            Ok(fx) => {
                self.apply(fx, now);
                self.new_proof_key(now);
                if let (Some(customer), true) = (customer, self.tabs.is_some()) {
                    self.outbox
                        .push(Effect::Post(SecretString::new(tabs::logout(&customer))));
                }
                self.reply(request, Reply::Done);
            }
            Err(e) => self.reply(request, Reply::Reject(e)),
        }
    }

    /// Asks the session for `p`'s token: answers, or waits for the next
    /// release.
    fn ask(&mut self, now: Millis, mut p: Pending) {
        let (access, fx) = self.session.access(now, p.force);
        p.force = false;
        self.settle(now, p, access, fx);
    }

    /// Carries out `fx`, then answers `p` as `access` says (or parks it
    /// until the next release).
    fn settle(&mut self, now: Millis, mut p: Pending, access: Access, fx: Effects) {
        match access {
            Access::Wait => {
                p.waits += 1;
                if p.waits > MAX_WAITS {
                    self.apply(fx, now);
                    let e = Error::new(
                        ErrorCode::RefreshFailed,
                        "no token after repeated refreshes",
                    );
                    return self.reject(p, e);
                }
                self.waiting.push(p);
                self.apply(fx, now);
            }
            Access::Anonymous => {
                self.apply(fx, now);
                self.ready(now, p, false);
            }
            Access::Ready => {
                self.apply(fx, now);
                self.ready(now, p, true);
            }
            Access::Fail(e) => {
                self.apply(fx, now);
                self.reject(p, e);
            }
        }
    }

    /// `p` was made for a customer who is gone: a `setCustomer` that never
    /// authenticated, a token or headers wanted for them, a request not
    /// sent yet (its body was written for them) reject with
    /// `not_authenticated`; a request refused with 401 and waiting for a
    /// token to replay with gets that response.
    fn orphaned(&mut self, p: Pending) {
        if p.want == Want::Replay {
            self.sent.retain(|s| s.request != p.request);
            return self.reply(p.request, Reply::Response);
        }
        self.reject(p, customer_changed());
    }

    fn reject(&mut self, p: Pending, e: Error) {
        // `Headers` has an entry too with `dpop` (its proof's target).
        if matches!(p.want, Want::Send | Want::Replay | Want::Headers) {
            self.sent.retain(|s| s.request != p.request);
        }
        self.reply(p.request, Reply::Reject(e));
    }

    /// `p` gets its answer: with the session's token when `with_token`,
    /// else anonymously; a request of a customer who is gone never gets
    /// the current one's token ([`Driver::orphaned`]).
    fn ready(&mut self, now: Millis, p: Pending, with_token: bool) {
        if p.generation != self.session.customer_generation() {
            return self.orphaned(p);
        }
        let credential = self.session.credential().filter(|_| with_token);
        let token = credential.map(|c| c.token.clone());
        let anonymous_id = self.session.anonymous_id();
        let sent = self.sent.iter().position(|s| s.request == p.request);
        let reply = match (p.want, sent) {
            (Want::Customer, _) => Reply::Done,
            (Want::Token, _) => Reply::Token(credential.map(|c| c.token.clone())),
            (Want::Headers, _) => Reply::Headers(headers_for(credential, anonymous_id)),
            (Want::Send, Some(i)) => {
                let sent = &mut self.sent[i];
                sent.token_used = credential.map(|c| c.token.clone());
                Reply::Send {
                    headers: headers_for(credential, anonymous_id),
                    manual_redirect: sent.follows_redirects,
                }
            }
            (Want::Replay, Some(i)) => {
                let sent = &mut self.sent[i];
                match credential {
                    // Anonymous (the login handler was told), not
                    // replayable, or the same token again: the 401 stands.
                    Some(c) if sent.replayable && sent.token_used.as_ref() != Some(&c.token) => {
                        sent.replayed = true;
                        sent.token_used = Some(c.token.clone());
                        Reply::Replay {
                            headers: headers_for(Some(c), anonymous_id),
                        }
                    }
                    _ => {
                        self.sent.remove(i);
                        Reply::Response
                    }
                }
            }
            // Its entry is gone (the host reused the id): it still gets
            // an answer, never a promise that does not settle.
            (Want::Send | Want::Replay, None) => Reply::Reject(Error::new(
                ErrorCode::Network,
                "the request was superseded by another with its id",
            )),
        };
        let carries_headers = matches!(
            reply,
            Reply::Send { .. } | Reply::Replay { .. } | Reply::Headers(_)
        );
        if self.proofs.is_some() && carries_headers {
            // DPoP: the headers go out with a proof for this request.
            let target = match sent {
                Some(i) if p.want == Want::Headers => self.sent.remove(i).target,
                Some(i) => self.sent[i].target.clone(),
                None => None,
            };
            let Some(target) = target else {
                self.sent.retain(|s| s.request != p.request);
                let e = Error::new(
                    ErrorCode::DpopInvalid,
                    "a DPoP proof needs the request's URL",
                )
                .with_detail("htu");
                return self.reply(p.request, Reply::Reject(e));
            };
            let purpose = Purpose::Reply {
                request: p.request,
                reply,
                target,
                token,
            };
            return self.prove(now, purpose);
        }
        self.reply(p.request, reply);
    }

    // ---- DPoP ------------------------------------------------------------

    /// Makes the proof `purpose` needs: its claims now, signed by the host
    /// (or once the key is ready).
    fn prove(&mut self, now: Millis, purpose: Purpose) {
        let Some(htu) = crate::jose::dpop::htu(purpose.url()) else {
            let e = Error::new(
                ErrorCode::DpopInvalid,
                "the request URL is not an http(s) URL a DPoP proof can name",
            )
            .with_detail("htu");
            return self.proof_failed(now, purpose, e);
        };
        let (htm, ath) = match &purpose {
            Purpose::Reply { target, token, .. } => (
                target.method.clone(),
                token
                    .as_ref()
                    .map(|t| crate::jose::dpop::access_token_hash(t.secret())),
            ),
            // Refresh grants carry no access token (RFC 9449 §5).
            Purpose::Grant { .. } => ("POST".to_owned(), None),
        };
        let jti = crate::wire::base64url::encode(&self.random_bytes());
        let Some(proofs) = &mut self.proofs else {
            return;
        };
        let key = match &proofs.key {
            Key::Loading => return proofs.wait_for_key(purpose),
            Key::Failed => return self.proof_failed(now, purpose, no_key()),
            Key::Ready(key, _) => key,
        };
        let claims = crate::jose::dpop::ProofClaims {
            htm,
            htu,
            // The issuer's clock as the session estimates it (the one
            // it corrects expiry by): a page clock minutes off would
            // otherwise put `iat` out of the server's window.
            iat: now
                .saturating_add(self.session.credential().map_or(0, |c| c.clock_offset))
                .div_euclid(1000),
            jti,
            ath,
            nonce: proofs.nonce_for(purpose.url()).map(str::to_owned),
        };
        let signing_input = crate::jose::dpop::signing_input(key, &claims);
        let proof = proofs.signing(purpose, signing_input.clone(), now);
        self.outbox.push(Effect::SignProof {
            proof,
            signing_input,
        });
    }

    /// `purpose` gets no proof: its request rejects, its grant fails.
    fn proof_failed(&mut self, now: Millis, purpose: Purpose, e: Error) {
        match purpose {
            Purpose::Reply { request, .. } => {
                self.sent.retain(|s| s.request != request);
                self.reply(request, Reply::Reject(e));
            }
            Purpose::Grant { call, .. } => {
                if self.take_grant(call).is_some() {
                    self.fail_call(now, call, e);
                }
            }
        }
    }

    fn proof_key_ready(&mut self, now: Millis, x: &str, y: &str) {
        let Some(proofs) = &mut self.proofs else {
            return;
        };
        // A key after the load timed out (Failed) is still taken.
        if matches!(proofs.key, Key::Ready(..)) {
            return;
        }
        proofs.key = match crate::jose::dpop::ProofKey::from_coordinates(x, y) {
            Ok(key) => {
                let jkt = key.thumbprint();
                Key::Ready(key, jkt)
            }
            Err(_) => Key::Failed,
        };
        for purpose in proofs.take_waiting() {
            self.prove(now, purpose);
        }
    }

    fn proof_key_failed(&mut self, now: Millis) {
        let Some(proofs) = &mut self.proofs else {
            return;
        };
        if !matches!(proofs.key, Key::Loading) {
            return;
        }
        proofs.key = Key::Failed;
        for purpose in proofs.take_waiting() {
            self.proof_failed(now, purpose, no_key());
        }
    }

    /// After a logout: a new DPoP key, so the next customer of this browser
    /// is not linked to the last one by the key's thumbprint.
    fn new_proof_key(&mut self, now: Millis) {
        let Some(proofs) = &mut self.proofs else {
            return;
        };
        let replace = match &proofs.key {
            Key::Ready(key, _) => Some(key.x().to_owned()),
            Key::Failed => None,
            // The load under way gives the key the next proofs use.
            Key::Loading => return,
        };
        proofs.reload(now);
        self.outbox.push(Effect::LoadProofKey {
            name: cat(&[&channel_name(&self.config), ":dpop"]),
            replace,
        });
    }

    /// No wait without a bound: a key still loading, or a proof still
    /// unsigned, after [`proofs::PROOF_WAIT_MS`] rejects what waits for it.
    /// A key that comes later is still taken.
    fn proofs_overdue(&mut self, now: Millis) {
        let Some(proofs) = &mut self.proofs else {
            return;
        };
        if proofs.key_overdue(now) {
            self.proof_key_failed(now);
        }
        let late = self
            .proofs
            .as_mut()
            .map(|p| p.take_overdue(now))
            .unwrap_or_default();
        for purpose in late {
            let e = Error::new(
                ErrorCode::DpopUnbound,
                "the DPoP proof was not signed in time (WebCrypto did not answer)",
            );
            self.proof_failed(now, purpose, e);
        }
    }

    fn proof_signed(&mut self, now: Millis, proof: ProofId, signature: Option<Vec<u8>>) {
        let Some((purpose, input)) = self.proofs.as_mut().and_then(|p| p.take_signing(proof))
        else {
            return;
        };
        let assembled = signature
            .ok_or_else(|| {
                Error::new(ErrorCode::DpopInvalid, "the DPoP proof could not be signed")
                    .with_detail("signature")
            })
            .and_then(|sig| crate::jose::dpop::assemble(&input, &sig));
        let proof = match assembled {
            Ok(p) => SecretString::new(p),
            Err(e) => return self.proof_failed(now, purpose, e),
        };
        match purpose {
            Purpose::Reply {
                request, mut reply, ..
            } => {
                if let Reply::Send { headers, .. }
                | Reply::Replay { headers }
                | Reply::Headers(headers) = &mut reply
                {
                    headers.push((crate::jose::dpop::SCHEME.to_owned(), proof));
                }
                self.reply(request, reply);
            }
            Purpose::Grant { call, body, .. } => {
                // Superseded or aborted while it was signed: not posted.
                if self.grant.as_ref().is_some_and(|(c, _)| c.id == call) {
                    self.outbox.push(Effect::PostRefreshGrant {
                        call,
                        body,
                        proof: Some(proof),
                    });
                }
            }
        }
    }

    /// With option `dpop`, why `credential` cannot be used: not issued as
    /// a DPoP token, or bound to another key than this instance's.
    fn unbound(&self, credential: &Credential) -> Option<Error> {
        let proofs = self.proofs.as_ref()?;
        if !credential
            .scheme
            .eq_ignore_ascii_case(crate::jose::dpop::SCHEME)
        {
            return Some(Error::new(
                ErrorCode::DpopUnbound,
                "the token is not DPoP-bound (its token_type is not DPoP)",
            ));
        }
        let bound = credential
            .claims
            .as_ref()
            .and_then(|c| crate::jose::dpop::bound_thumbprint(&c.members));
        match (bound, proofs.jkt()) {
            (Some(bound), Some(own)) if bound != own => Some(Error::new(
                ErrorCode::DpopUnbound,
                "the token is bound to another DPoP key (cnf.jkt)",
            )),
            _ => None,
        }
    }

    /// A `use_dpop_nonce` refusal of grant `call`, with a nonce to use:
    /// the grant goes once more with a new proof (RFC 9449 §8). The refresh
    /// token was not spent: the server checks the proof first.
    fn retry_grant_with_nonce(&mut self, now: Millis, call: CallId, answer: &HttpAnswer) -> bool {
        if self.proofs.is_none()
            || answer.status != 400
            || answer.dpop_nonce.is_none()
            || self.grant_nonce_retried == Some(call)
            || !proofs::is_nonce_error(answer.body.secret())
        {
            return false;
        }
        let (Some((_, presented)), Some(url)) = (
            self.grant.as_ref().filter(|(c, _)| c.id == call),
            self.config.token_endpoint.clone(),
        ) else {
            return false;
        };
        let body = self.config.grant.refresh_body(presented);
        self.grant_nonce_retried = Some(call);
        self.prove(now, Purpose::Grant { call, body, url });
        true
    }

    fn fetch_answered(
        &mut self,
        now: Millis,
        request: RequestId,
        status: u16,
        opaque: bool,
        dpop: DpopAnswer,
    ) {
        let Some(i) = self.sent.iter().position(|s| s.request == request) else {
            // A plain request (another origin): its response as it is.
            return self.reply(request, Reply::Response);
        };
        if let (Some(proofs), Some(nonce), Some(target)) =
            (&mut self.proofs, &dpop.nonce, &self.sent[i].target)
        {
            proofs.nonce_seen(&target.url, nonce);
        }
        let sent = &self.sent[i];
        let challenged = dpop
            .www_authenticate
            .as_deref()
            .is_some_and(is_nonce_challenge);
        // Sent as a customer who is gone: the 401 stands (no refresh, no
        // nonce retry, and never a replay with the next customer's token).
        let current = sent.generation == self.session.customer_generation();
        if self.proofs.is_some()
            && current
            && status == 401
            && challenged
            && dpop.nonce.is_some()
            && sent.replayable
            && !sent.nonce_retried
        {
            // RFC 9449 §9: once more with the server's nonce and the same
            // token; no refresh (the token was not refused).
            let credential = self
                .session
                .credential()
                .filter(|_| sent.token_used.is_some());
            let headers = headers_for(credential, self.session.anonymous_id());
            let token = credential.map(|c| c.token.clone());
            let sent = &mut self.sent[i];
            sent.nonce_retried = true;
            sent.token_used = token.clone();
            let target = sent.target.clone().unwrap_or_default();
            let purpose = Purpose::Reply {
                request,
                reply: Reply::Replay { headers },
                target,
                token,
            };
            return self.prove(now, purpose);
        }
        let sent = &self.sent[i];
        // A nonce challenge not retried (not replayable, or the second one)
        // is no refusal of the token: a refresh would spend a refresh token
        // for nothing. The caller gets the 401 (review 18 finding 6).
        if status == 401 && !sent.replayed && current && !(self.proofs.is_some() && challenged) {
            let token_used = sent.token_used.clone();
            let (access, fx) = self
                .session
                .unauthorized(token_used.as_ref().map(SecretString::secret), now);
            let p = Pending {
                generation: sent.generation,
                ..self.pending(request, Want::Replay)
            };
            return self.settle(now, p, access, fx);
        }
        let sent = self.sent.remove(i);
        let reply = if sent.follows_redirects && opaque {
            Reply::Reject(Error::new(
                ErrorCode::Network,
                "the API answered with a redirect: requests that carry credentials do not follow redirects",
            ))
        } else {
            Reply::Response
        };
        self.reply(request, reply);
    }

    /// Wakes every waiting request: `Ok` asks again, `Err` rejects; those of
    /// a customer who is gone get [`Driver::orphaned`]'s answer.
    fn release(&mut self, now: Millis, result: Result<()>) {
        let waiting = std::mem::take(&mut self.waiting);
        let generation = self.session.customer_generation();
        for p in waiting {
            match &result {
                _ if p.generation != generation => self.orphaned(p),
                Ok(()) => self.ask(now, p),
                Err(e) => self.reject(p, e.clone()),
            }
        }
    }

    /// A request `request` wanting `want`, for the current customer.
    fn pending(&self, request: RequestId, want: Want) -> Pending {
        Pending {
            request,
            want,
            force: false,
            waits: 0,
            generation: self.session.customer_generation(),
        }
    }

    // ---- the session's effects ---------------------------------------

    /// Carries out the session's `fx`: events, the call, waking waiters,
    /// the login handler (in that order).
    fn apply(&mut self, fx: Effects, now: Millis) {
        self.dirty = true;
        let events = self.session.drain_events();
        if !events.is_empty() {
            self.generation += 1;
            self.persist();
        }
        if let Some(id) = fx.abort {
            self.outbox.push(Effect::AbortCall(id));
            if let Some((call, presented)) = self.grant.take_if(|(c, _)| c.id == id) {
                self.keep_stale_grant(call, presented, now);
            }
        }
        self.outbox.extend(events.into_iter().map(Effect::Emit));
        if let Some(call) = fx.call {
            self.start_call(now, call);
        }
        if let Some(result) = fx.release {
            self.release(now, result);
        }
        if let Some(code) = fx.login_needed {
            let reason = if code == ErrorCode::NotAuthenticated {
                "unauthorized"
            } else {
                "auth_lost"
            };
            self.outbox.push(Effect::LoginNeeded { code, reason });
        }
    }

    fn tick(&mut self, now: Millis) {
        if self.tabs.as_ref().is_some_and(|t| t.round_over(now)) {
            self.finish_round(now);
        }
        self.give_up_late_grants(now);
        self.proofs_overdue(now);
        let fx = self.session.tick(now);
        self.apply(fx, now);
    }

    fn destroy(&mut self, now: Millis) {
        if self.session.state() == State::Destroyed {
            return;
        }
        let fx = self.session.destroy();
        self.apply(fx, now);
        self.judging = None;
        self.grant = None;
        self.stale_grants.clear();
        let unsigned = self.proofs.as_mut().map(Proofs::take_all);
        for purpose in unsigned.unwrap_or_default() {
            if let Purpose::Reply { request, .. } = purpose {
                self.reply(request, Reply::Reject(destroyed()));
            }
        }
        if let Some(mut tabs) = self.tabs.take() {
            if let Some(lock) = tabs.let_go() {
                self.outbox.push(Effect::ReleaseLock(lock));
            }
        }
        self.armed = None;
        self.outbox.push(Effect::ClearTimer);
        self.outbox.push(Effect::Close);
    }

    /// Arms the timer for the session's next wake (and a round's end),
    /// capped at [`WAKE_CHECK_MS`]; keeps a pending timer that fires no
    /// later for the same wake.
    fn settle_timer(&mut self, now: Millis) {
        if self.session.state() == State::Destroyed {
            return;
        }
        let round = self.tabs.as_ref().and_then(Tabs::round_deadline);
        let proofs = self.proofs.as_ref().and_then(Proofs::next_deadline);
        let wake = min_of(
            min_of(self.session.next_wake(), round),
            min_of(self.next_grant_give_up(), proofs),
        );
        let Some(wake) = wake else {
            if self.armed.take().is_some() {
                self.outbox.push(Effect::ClearTimer);
            }
            return;
        };
        let delay = wake
            .saturating_sub(now)
            .clamp(0, MAX_TIMER_MS.min(WAKE_CHECK_MS));
        let fires = now.saturating_add(delay);
        if let Some((armed_wake, armed_fires)) = self.armed {
            if armed_wake == wake && armed_fires <= fires {
                return;
            }
        }
        self.armed = Some((wake, fires));
        self.outbox.push(Effect::ArmTimer {
            delay_ms: delay as u32,
        });
    }

    /// Keeps the token in `sessionStorage` when `storage: 'session'`.
    fn persist(&mut self) {
        // `destroy()` ends this instance, not the customer's session: the
        // token stays for the next instance of the tab (a remount, a
        // reload); `clearCustomer()` is what forgets it.
        if self.config.storage != Storage::Session
            || !self.storage_ok
            || self.session.state() == State::Destroyed
        {
            return;
        }
        let s = &self.session;
        let value =
            match (s.customer_id(), s.credential()) {
                // With the session's refresh token only: it may have come after
                // the access token (an answer whose access token was refused),
                // and it is gone once the endpoint refused it, while the
                // credential still holds that refused one (review finding 8).
                (Some(customer), Some(c)) => Some(SecretString::new(
                    admit::store_with_refresh_token(customer, c, s.refresh_token()),
                )),
                _ => None,
            };
        self.outbox.push(Effect::Store {
            key: StorageKey::Token,
            value,
        });
    }

    // ---- calls ---------------------------------------------------------

    /// Starts `call`, first taking the cross-tab refresh lock unless this
    /// tab holds it already.
    fn start_call(&mut self, now: Millis, call: Call) {
        let customer = self.session.customer_id().map(str::to_owned);
        if let (Some(tabs), Some(customer)) = (&mut self.tabs, customer) {
            if tabs.elects() && !tabs.holds(&customer) {
                self.session.await_grant(call.id);
                let (lock, name) = tabs.acquire(&customer);
                self.outbox.push(Effect::AcquireLock { lock, name });
                return;
            }
        }
        self.grant(now, call.id);
    }

    /// Starts call `id` now, unless the session no longer wants it.
    fn grant(&mut self, now: Millis, id: CallId) {
        let Some(call) = self.session.call_granted(id, now) else {
            return;
        };
        match call.via {
            Via::Provider => self.outbox.push(Effect::CallProvider(call)),
            Via::TokenEndpoint => match self.session.refresh_token().cloned() {
                Some(refresh_token) => {
                    let body = self.config.grant.refresh_body(&refresh_token);
                    if let Some((earlier, presented)) = self.grant.replace((call, refresh_token)) {
                        self.keep_stale_grant(earlier, presented, now);
                    }
                    if self.proofs.is_none() {
                        self.outbox.push(Effect::PostRefreshGrant {
                            call: call.id,
                            body,
                            proof: None,
                        });
                        return;
                    }
                    // The config check makes `tokenEndpoint` known with `dpop`.
                    let url = self.config.token_endpoint.clone().unwrap_or_default();
                    self.prove(
                        now,
                        Purpose::Grant {
                            call: call.id,
                            body,
                            url,
                        },
                    );
                }
                None => self.fail_call(
                    now,
                    call.id,
                    Error::new(ErrorCode::RefreshFailed, "no refresh token"),
                ),
            },
        }
    }

    fn take_grant(&mut self, call: CallId) -> Option<(Call, SecretString)> {
        self.grant.take_if(|(c, _)| c.id == call)
    }

    fn keep_stale_grant(&mut self, call: Call, presented: SecretString, now: Millis) {
        if self.stale_grants.len() == STALE_GRANTS {
            // No longer listened to: what became of its refresh token will
            // never be known.
            let oldest = self.stale_grants.remove(0);
            if !oldest.given_up {
                self.give_up_grant(&oldest.presented, now);
            }
        }
        self.session.grant_unanswered(presented.clone());
        self.stale_grants.push(StaleGrant {
            call: call.id,
            presented,
            posted_at: call.started_at,
            given_up: false,
        });
    }

    /// A grant whose answer never came (or will never be heard): its
    /// refresh token may have been rotated, so it is never presented again.
    fn give_up_grant(&mut self, presented: &SecretString, now: Millis) {
        self.session.forget_refresh_token(presented);
        self.session.grant_settled(presented, now);
        self.share_refresh_token();
    }

    /// The session's refresh token changed: stored, and told to the other
    /// tabs before the refresh lock is let go (they hold the old one).
    fn share_refresh_token(&mut self) {
        self.persist();
        if let Some(msg) = self
            .tabs
            .as_ref()
            .and_then(|_| tabs::refresh(&self.session))
        {
            self.outbox.push(Effect::Post(SecretString::new(msg)));
        }
    }

    /// The stale grant of `call` settled, whatever its outcome.
    fn take_stale_grant(&mut self, now: Millis, call: CallId) -> Option<SecretString> {
        let at = self.stale_grants.iter().position(|g| g.call == call)?;
        let grant = self.stale_grants.remove(at);
        self.session.grant_settled(&grant.presented, now);
        Some(grant.presented)
    }

    /// Gives up on the stale grants unanswered for [`GRANT_TIMEOUT_MS`].
    fn give_up_late_grants(&mut self, now: Millis) {
        for i in 0..self.stale_grants.len() {
            let g = &mut self.stale_grants[i];
            if !g.given_up && now >= g.posted_at.saturating_add(GRANT_TIMEOUT_MS) {
                g.given_up = true;
                let presented = g.presented.clone();
                self.give_up_grant(&presented, now);
            }
        }
    }

    /// When the next stale grant is given up on, if any waits.
    fn next_grant_give_up(&self) -> Option<Millis> {
        self.stale_grants
            .iter()
            .filter(|g| !g.given_up)
            .map(|g| g.posted_at.saturating_add(GRANT_TIMEOUT_MS))
            .min()
    }

    /// The answer to a grant whose call is over: only its refresh token
    /// counts (kept when rotated, forgotten when refused). A cycle that
    /// waited for it goes on at once.
    fn stale_grant_answered(&mut self, now: Millis, call: CallId, answer: &HttpAnswer) {
        let Some(presented) = self.take_stale_grant(now, call) else {
            return;
        };
        if answer.status == 400 || answer.status == 401 {
            self.session.forget_refresh_token(&presented);
        } else if (200..300).contains(&answer.status) {
            self.keep_issued_refresh_token(now, call, answer.body.secret());
        }
        self.tick(now);
    }

    /// A grant's POST failed without an answer: `refresh_failed` (no token
    /// endpoint known) and `provider_timeout` (the host's
    /// [`GRANT_TIMEOUT_MS`] bound: the endpoint may have rotated it) spend
    /// the refresh token presented; after a plain `network` failure it is
    /// presented again.
    fn grant_failed(&mut self, now: Millis, call: CallId, error: Error) {
        let spends = matches!(
            error.code(),
            ErrorCode::RefreshFailed | ErrorCode::ProviderTimeout
        );
        let Some((grant, presented)) = self.take_grant(call) else {
            if let Some(presented) = self.take_stale_grant(now, call) {
                if spends {
                    self.session.forget_refresh_token(&presented);
                }
                self.tick(now);
            }
            return;
        };
        if spends {
            // Forgotten, so the next attempt asks the provider.
            self.session.forget_refresh_token(&presented);
        }
        self.fail_call(now, grant.id, error);
    }

    /// The token endpoint's answer: refused (`refresh_failed`), failed
    /// (`network`, with `Retry-After` on 429 / 503), or a token response.
    fn token_endpoint_answered(&mut self, now: Millis, call: CallId, answer: HttpAnswer) {
        if let (Some(proofs), Some(nonce), Some(url)) = (
            &mut self.proofs,
            &answer.dpop_nonce,
            &self.config.token_endpoint,
        ) {
            proofs.nonce_seen(url, nonce);
        }
        if self.retry_grant_with_nonce(now, call, &answer) {
            return;
        }
        let Some((call, presented)) = self.take_grant(call) else {
            return self.stale_grant_answered(now, call, &answer);
        };
        let status = answer.status;
        if (status == 400 || status == 401) && proofs::is_proof_error(answer.body.secret()) {
            // The proof was refused, not the refresh token: the server
            // checks the proof before it spends anything, so the token is
            // kept for the next attempt (RFC 9449 §5, review 18 finding 1).
            let e = Error::new(
                ErrorCode::DpopInvalid,
                "the token endpoint refused the DPoP proof (the refresh token is kept)",
            );
            self.fail_call(now, call.id, e);
            return;
        }
        if status == 400 || status == 401 {
            // invalid_grant: the refresh token is spent or revoked;
            // forgotten, so the next attempt asks the provider.
            self.session.forget_refresh_token(&presented);
            let e = Error::new(
                ErrorCode::RefreshFailed,
                "the token endpoint refused the refresh token",
            );
            self.fail_call(now, call.id, e);
            return;
        }
        if !(200..300).contains(&status) {
            let mut e = Error::new(ErrorCode::Network, "the token endpoint failed");
            if status == 429 || status == 503 {
                let wait = answer
                    .retry_after
                    .as_deref()
                    .and_then(|v| schedule::parse_retry_after(v, now));
                if let Some(ms) = wait {
                    e = e.with_retry_after(ms);
                }
            }
            self.fail_call(now, call.id, e);
            return;
        }
        let server_date = answer
            .date
            .as_deref()
            .and_then(|v| schedule::parse_http_date(v, now));
        self.keep_issued_refresh_token(now, call.id, answer.body.secret());
        self.received(now, call, answer.body.secret(), server_date);
    }

    /// The token endpoint rotated the refresh token: keep the new one (and
    /// hand it to the other tabs and `sessionStorage`) before the access
    /// token is judged, since whatever that judgement says the old one is
    /// spent ([`Session::refresh_token_issued`]).
    fn keep_issued_refresh_token(&mut self, now: Millis, call: CallId, answer: &str) {
        let Some(refresh_token) = crate::session::grant::issued_refresh_token(answer) else {
            return;
        };
        if self.session.refresh_token_issued(call, refresh_token, now) {
            self.share_refresh_token();
        }
    }

    /// An answer to `call` arrived at `now`: judge it, asking the host for
    /// the signature check and introspection when they are needed.
    fn received(&mut self, now: Millis, call: Call, text: &str, server_date: Option<Millis>) {
        let candidate = match Candidate::read(text) {
            Ok(c) => c.with_server_date(server_date),
            Err(e) => return self.finish(now, call, Err(e)),
        };
        let checks = self.config.checks_signatures();
        if checks && !candidate.is_jwt() {
            let e = Error::malformed("a signed JWT is required (validation has a key)");
            return self.finish(now, call, Err(e));
        }
        let introspect =
            candidate.needs_introspection() && self.config.introspection_endpoint.is_some();
        let judging = Judging {
            call,
            candidate,
            received_at: now,
            customer_id: self
                .session
                .customer_id()
                .map(str::to_owned)
                .unwrap_or_default(),
            refused: self.session.refused_token().cloned(),
            clock: self.session.clock_evidence(),
        };
        if !checks && !introspect {
            return self.admit(now, judging, Ok(None));
        }
        let signature = if checks {
            match self.verify_options(&judging) {
                Ok(o) => Some(Box::new(o)),
                Err(e) => return self.finish(now, call, Err(e)),
            }
        } else {
            None
        };
        let token = SecretString::new(judging.candidate.token());
        self.judging = Some(judging);
        self.outbox.push(Effect::CheckToken {
            call: call.id,
            token,
            signature,
            introspect,
        });
    }

    fn verify_options(&self, j: &Judging) -> Result<VerifyOptions> {
        let rules = Rules {
            validation: &self.config.validation,
            customer_id: &j.customer_id,
            refused: j.refused.as_ref(),
            needs_refresh: j.call.needs_refresh,
            asked_at: Some(j.call.started_at),
            clock: j.clock,
        };
        Ok(admit::session_verify_options(&rules))
    }

    /// The host's checks of `j`'s token ended with `checked`: admit it.
    fn admit(&mut self, now: Millis, j: Judging, checked: Result<Option<Introspection>>) {
        let Judging {
            call,
            candidate,
            received_at,
            customer_id,
            refused,
            clock,
        } = j;
        let judged = checked.and_then(|introspection| {
            let rules = Rules {
                validation: &self.config.validation,
                customer_id: &customer_id,
                refused: refused.as_ref(),
                needs_refresh: call.needs_refresh,
                asked_at: Some(call.started_at),
                clock,
            };
            candidate.admit(&rules, received_at, introspection)
        });
        self.finish(now, call, judged);
    }

    /// Call `call` was judged.
    fn finish(&mut self, now: Millis, call: Call, judged: Result<Credential>) {
        let source = match call.via {
            Via::Provider => Source::Provider,
            Via::TokenEndpoint => Source::TokenEndpoint,
        };
        let judged = judged.and_then(|c| match self.unbound(&c) {
            Some(e) => Err(e),
            None => Ok(c),
        });
        match judged {
            Ok(credential) => {
                let jitter = self.jitter();
                let fx = self
                    .session
                    .call_succeeded(call.id, credential, source, jitter);
                // Announced before the refresh lock is let go, once the
                // session took (or, spent, refused) the answer's refresh
                // token: the one it holds is what is shared.
                let announced = match (&self.tabs, fx.release.is_some()) {
                    (Some(_), true) => self
                        .session
                        .credential()
                        .and_then(|c| tabs::token(&self.session, c)),
                    _ => None,
                };
                if let Some(msg) = announced {
                    self.outbox.push(Effect::Post(SecretString::new(msg)));
                }
                self.apply(fx, now);
            }
            Err(e) => self.fail_call(now, call.id, e),
        }
    }

    fn fail_call(&mut self, now: Millis, id: CallId, error: Error) {
        let fx = self.session.call_failed(id, error, now);
        self.apply(fx, now);
    }

    // ---- tabs ----------------------------------------------------------

    /// The refresh lock is held: ask the other tabs for their token before
    /// the call waiting for it goes out.
    fn lock_granted(&mut self, now: Millis, lock: LockId) {
        let customer = self
            .session
            .call_awaiting_grant()
            .and(self.session.customer_id().map(str::to_owned));
        let Some(tabs) = &mut self.tabs else {
            self.outbox.push(Effect::ReleaseLock(lock));
            return;
        };
        if !tabs.granted(lock) {
            // Held already (an earlier request of this tab's), or stale.
            self.outbox.push(Effect::ReleaseLock(lock));
            return;
        }
        match customer.filter(|_| tabs.elects()) {
            Some(customer) => {
                let (prefix, own) = tabs.start_round(customer);
                self.outbox.push(Effect::CountPeers { prefix, own });
            }
            None => self.finish_round(now),
        }
    }

    /// Web Locks failed (lock request `lock`, or the presence lock): they
    /// count as broken, and the call waiting for the lock goes ahead in
    /// this tab alone, its deadline counted from now.
    fn locks_broken(&mut self, now: Millis, lock: Option<LockId>) {
        if let Some(tabs) = &mut self.tabs {
            tabs.locks_failed(lock);
        }
        if let Some(id) = self.session.call_awaiting_grant() {
            self.grant(now, id);
        }
    }

    fn peers_counted(&mut self, now: Millis, count: usize) {
        let Some(tabs) = &mut self.tabs else {
            return;
        };
        match tabs.peers_counted(count, now) {
            Some(Some(want)) => self.outbox.push(Effect::Post(SecretString::new(want))),
            Some(None) => self.finish_round(now),
            None => {}
        }
    }

    /// The `want` round ended: take the offers that satisfy the session,
    /// then make the call still waiting for the lock.
    fn finish_round(&mut self, now: Millis) {
        let Some(tabs) = &mut self.tabs else {
            return;
        };
        let (customer, offers) = tabs.end_round();
        for credential in offers {
            if customer.is_some() && self.session.customer_id() == customer.as_deref() {
                self.adopt(now, credential);
            }
        }
        let holds = match (&self.tabs, self.session.customer_id()) {
            (Some(tabs), Some(c)) => tabs.holds(c),
            _ => false,
        };
        if let (Some(id), true) = (self.session.call_awaiting_grant(), holds) {
            self.grant(now, id);
        }
        self.dirty = true;
    }

    /// Lets the other tabs have the refresh lock once this tab's cycle ended.
    fn release_lock_when_done(&mut self) {
        let s = &self.session;
        // Also while a grant that presented the refresh token the other tabs
        // hold is unanswered: they would present it too.
        let busy = s.refreshing() || s.refresh_token_unanswered();
        let refreshing = busy.then(|| s.customer_id()).flatten();
        if let Some(lock) = self
            .tabs
            .as_mut()
            .and_then(|t| t.release_unless(refreshing))
        {
            self.outbox.push(Effect::ReleaseLock(lock));
        }
    }

    fn adopt(&mut self, now: Millis, credential: Credential) {
        if self.unbound(&credential).is_some() {
            // Another tab's token not bound to this key: never sent with a
            // proof as if it were, nor downgraded to bearer.
            return;
        }
        let before = self.refresh_token_mark();
        let jitter = self.jitter();
        let fx = self.session.adopt(credential, now, jitter);
        self.apply(fx, now);
        self.persist_taken_refresh_token(before);
    }

    /// The refresh token held and the event generation, before another
    /// tab's message may change the refresh token.
    fn refresh_token_mark(&self) -> (Option<SecretString>, u64) {
        (self.session.refresh_token().cloned(), self.generation)
    }

    /// Another tab's refresh token taken without an event (shared, or with
    /// a token not adopted) goes to `sessionStorage` as a rotation of our
    /// own does: the stored one is spent, and a reload presenting it would
    /// read as reuse (RFC 9700 §4.14). With an event, `apply` persisted.
    fn persist_taken_refresh_token(&mut self, (held, generation): (Option<SecretString>, u64)) {
        if self.generation == generation && self.session.refresh_token() != held.as_ref() {
            self.persist();
        }
    }

    fn receive(&mut self, now: Millis, text: &str) {
        if self.tabs.is_none() {
            return;
        }
        let Some(msg) = tabs::Message::read(text) else {
            return;
        };
        let customer = self.session.customer_id().map(str::to_owned);
        if let Some(spent) = msg.spent_refresh_token(customer.as_deref()) {
            let before = self.refresh_token_mark();
            self.session.forget_refresh_token(&spent);
            self.persist_taken_refresh_token(before);
        }
        if let Some((refresh_token, at)) = msg.refresh_token(customer.as_deref()) {
            let before = self.refresh_token_mark();
            self.session.share_refresh_token(refresh_token, at);
            self.persist_taken_refresh_token(before);
        }
        match msg.kind.as_str() {
            "want" => {
                let same = customer.is_some() && msg.customer_id == customer;
                let offer = self
                    .session
                    .credential()
                    .filter(|c| same && c.is_valid_at(now));
                // Without a token to offer, still the refresh tokens: the
                // asker is about to present the one it holds.
                let fields = match offer {
                    Some(c) => tabs::token_fields(&self.session, c),
                    None if same => tabs::refresh_fields(&self.session),
                    None => None,
                };
                let answer = tabs::have(&msg, fields);
                self.outbox.push(Effect::Post(SecretString::new(answer)));
            }
            "have" => {
                let offer = customer.as_deref().and_then(|c| msg.offer(c));
                let taken = self
                    .tabs
                    .as_mut()
                    .is_some_and(|t| t.take_offer(&msg, offer));
                if taken {
                    self.finish_round(now);
                }
            }
            "token" => {
                if let Some(c) = customer.as_deref().and_then(|c| msg.offer(c)) {
                    self.adopt(now, c);
                }
            }
            "logout" if customer.is_some() && msg.customer_id == customer => {
                let anonymous_id = self.new_anonymous_id();
                if let Ok(fx) = self.session.clear_customer(anonymous_id) {
                    self.apply(fx, now);
                    self.new_proof_key(now);
                }
            }
            // A tab with no customer takes the new key too (the tabs keep
            // sharing one); a tab of another customer keeps the key its
            // tokens are bound to.
            "logout" if customer.is_none() => self.new_proof_key(now),
            _ => {}
        }
    }

    // ---- randomness ----------------------------------------------------

    fn random_bytes(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        self.entropy.fill(&mut b);
        b
    }

    /// A fresh anonymous id, written to `sessionStorage`.
    fn new_anonymous_id(&mut self) -> String {
        let id = uuid_v4(self.random_bytes());
        if self.storage_ok {
            self.outbox.push(Effect::Store {
                key: StorageKey::AnonymousId,
                value: Some(SecretString::new(id.clone())),
            });
        }
        id
    }

    /// A jitter ∈ [0, 1).
    fn jitter(&mut self) -> f64 {
        let mut b = [0u8; 8];
        self.entropy.fill(&mut b);
        (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The earlier of two optional times.
fn min_of(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Sent {
    fn new(
        request: RequestId,
        follows_redirects: bool,
        replayable: bool,
        target: Option<ProofTarget>,
        generation: u64,
    ) -> Sent {
        Sent {
            request,
            follows_redirects,
            replayable,
            token_used: None,
            generation,
            replayed: false,
            target,
            nonce_retried: false,
        }
    }
}

/// No DPoP key: every request that needs a proof fails with this.
fn no_key() -> Error {
    Error::new(
        ErrorCode::DpopUnbound,
        "no DPoP key: WebCrypto ECDSA P-256 (or IndexedDB) is unavailable here",
    )
}

/// The answer to a request whose customer changed (another `setCustomer`,
/// `clearCustomer`, a logout in another tab) before it was answered.
fn customer_changed() -> Error {
    Error::new(
        ErrorCode::NotAuthenticated,
        "the customer changed before this request was answered",
    )
}

fn destroyed() -> Error {
    Error::new(ErrorCode::Destroyed, "this ChatAuth was destroyed")
}

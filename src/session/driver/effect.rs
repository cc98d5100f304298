//! What the driver asks of the host: [`Effect`], the [`Reply`] to one of
//! the app's requests, and the [`Header`]s a request goes out with.

use super::{LockId, ProofId, RequestId, StorageKey};
use crate::error::{Error, ErrorCode};
use crate::jose::verify::VerifyOptions;
use crate::secret::SecretString;
use crate::session::machine::{Call, CallId, Event};
// Named by the docs only.
#[cfg(doc)]
use super::{event_detail, event_name, Driver, Input, LOCK_WAIT_MS, WAKE_CHECK_MS};

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
    /// `fetch`: not an allowed origin; send the caller's request untouched.
    /// Its answer is always its response as it is: the host may resolve
    /// with it at once (or feed [`Input::FetchAnswered`], answered with
    /// [`Reply::Response`]); a failure is fed as [`Input::FetchFailed`].
    Plain,
    /// `fetch`: send the request with these headers set; with
    /// `manual_redirect`, as `redirect: 'manual'` (a followed redirect
    /// would carry them to another origin). Then feed
    /// [`Input::FetchAnswered`] or [`Input::FetchFailed`], except as
    /// `settles_unless` allows.
    Send {
        /// Headers to set.
        headers: Vec<Header>,
        /// Send with `redirect: 'manual'`.
        manual_redirect: bool,
        /// `Some(status)`: the driver's answer to any response whose status
        /// is not `status` and that is not an opaque redirect is already
        /// known to be [`Reply::Response`], so the host may resolve with it
        /// at once and feed [`Input::FetchSettled`] (or call
        /// [`Driver::fetch_settled`]) instead of [`Input::FetchAnswered`]:
        /// one round trip less on the way back to the caller. `None`: feed
        /// every answer (with `dpop`, any response may carry a nonce).
        settles_unless: Option<u16>,
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
    /// List the held locks whose name starts with `prefix`, except `own`,
    /// within [`LOCK_WAIT_MS`]; feed [`Input::PeersCounted`] with their
    /// names less `prefix` (the peers' tab ids).
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

//! What the host feeds the driver: [`Input`] and what it carries (the
//! token endpoint's [`HttpAnswer`], a [`ProviderFailure`]), and the ids the
//! host picks for its requests and lock requests.

use super::{DpopAnswer, ProofId, ProofTarget, StorageKey};
use crate::error::{Error, Result};
use crate::secret::SecretString;
use crate::session::admit::Introspection;
use crate::session::machine::CallId;
// Named by the docs only.
#[cfg(doc)]
use super::{Call, Driver, Effect, Reply, LOCK_WAIT_MS};

/// Identifies one request of the host (`setCustomer`, `getToken`, …); the
/// host picks it, unique among its pending requests.
pub type RequestId = u64;

impl Input {
    /// The host's request id when this is one of the app's requests.
    pub(super) fn app_request(&self) -> Option<RequestId> {
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
    /// A request sent after [`Reply::Send`] was answered with a response
    /// its `settles_unless` lets the host resolve with at once (which it
    /// did); see [`Driver::fetch_settled`].
    FetchSettled {
        /// The request.
        request: RequestId,
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
    /// The answer to [`Effect::CountPeers`] (none when `query()` failed).
    PeersCounted {
        /// The tab ids of the other instances holding a presence lock.
        peers: Vec<String>,
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

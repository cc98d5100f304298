//! The foreign types: what the host passes in ([`HostEnvironment`],
//! [`HostInput`]) and gets back ([`HostEffect`], [`HostReply`], [`HostEvent`],
//! [`HttpRequest`], [`HeaderPair`]).

// Named by the docs only.
#[cfg(doc)]
use super::SessionDriver;

/// What the host found when it opened.
#[derive(Debug, Clone, uniffi::Record)]
pub struct HostEnvironment {
    /// A context provider was given at construction.
    pub has_provider: bool,
    /// The stored anonymous id (`chat-auth:anonymous-id`), if any.
    pub stored_anonymous_id: Option<String>,
    /// The device is online.
    pub online: bool,
}

/// How the context provider failed (its own error is never reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ProviderFailureKind {
    /// It threw while being called.
    Threw,
    /// It reported a failure through its callback.
    Rejected,
    /// No provider is known to the host.
    Missing,
}

/// Something that happened, for [`SessionDriver::handle`].
#[derive(Debug, Clone, uniffi::Enum)]
pub enum HostInput {
    /// `setCustomer(customerId, provider?)`; answered with `Done` or `Reject`.
    SetCustomer {
        /// The host's id for this request (unique among its pending ones).
        request: u64,
        /// The customer id.
        customer_id: String,
        /// A provider came with this call.
        provider: bool,
        /// The stored credential (the entry named by `token_storage_key`), used with `storage: 'session'`.
        stored: Option<String>,
    },
    /// `clearCustomer()`; answered with `Done`.
    ClearCustomer {
        /// The request.
        request: u64,
    },
    /// `getToken(forceRefresh)`; answered with `Token` or `Reject`.
    GetToken {
        /// The request.
        request: u64,
        /// Refresh first.
        force: bool,
    },
    /// `authHeaders(url)`; answered with `Headers`.
    AuthHeaders {
        /// The request.
        request: u64,
        /// The URL's origin (`scheme://host:port`), `None` when it is no URL.
        origin: Option<String>,
    },
    /// An HTTP request of the app's (OkHttp's interceptor); answered with
    /// `Plain` or `Send`, then after `FetchAnswered` with `Response`,
    /// `Replay` or `Reject`.
    Fetch {
        /// The request.
        request: u64,
        /// The URL's origin, `None` when it is no URL.
        origin: Option<String>,
        /// The HTTP client follows redirects for this request.
        follows_redirects: bool,
        /// The request can be sent a second time.
        replayable: bool,
    },
    /// A request sent after `Send` or `Replay` was answered.
    FetchAnswered {
        /// The request.
        request: u64,
        /// The HTTP status.
        status: u16,
        /// The answer is a redirect that was not followed.
        opaque_redirect: bool,
    },
    /// Sending request `request` failed.
    FetchFailed {
        /// The request.
        request: u64,
        /// The caller cancelled it.
        aborted: bool,
    },
    /// `destroy()`.
    Destroy,
    /// The timer of the last `ArmTimer` fired.
    TimerFired,
    /// The app came to the foreground: re-check the deadlines.
    Wake,
    /// Connectivity changed.
    Online {
        /// Online now.
        online: bool,
    },
    /// The provider answered call `call` with `context_json` (`None`: not JSON).
    ProviderAnswered {
        /// The call.
        call: u64,
        /// The context as JSON text.
        context_json: Option<String>,
    },
    /// The provider failed call `call`.
    ProviderFailed {
        /// The call.
        call: u64,
        /// How.
        failure: ProviderFailureKind,
    },
    /// An [`HttpRequest`] was answered.
    HttpAnswered {
        /// [`HttpRequest::exchange`].
        exchange: u64,
        /// The status code.
        status: u16,
        /// The `Date` header.
        date: Option<String>,
        /// The `Retry-After` header.
        retry_after: Option<String>,
        /// The body (a token response may hold tokens).
        body: String,
    },
    /// An [`HttpRequest`] failed (no connection, timeout, unreadable body).
    HttpFailed {
        /// [`HttpRequest::exchange`].
        exchange: u64,
    },
    /// A `Store` write failed.
    StorageFailed {
        /// The key written.
        key: String,
    },
}

/// A header to set (its value may be a bearer token: never log it).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HeaderPair {
    /// The name.
    pub name: String,
    /// The value.
    pub value: String,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum HostReply {
    /// `setCustomer` / `clearCustomer` succeeded.
    Done,
    /// `getToken`: the token, `None` when anonymous.
    Token {
        /// The access token.
        token: Option<String>,
    },
    /// `authHeaders`: the headers (none for other origins).
    Headers {
        /// The headers.
        headers: Vec<HeaderPair>,
    },
    /// Not an allowed origin: send the request untouched, then feed its answer.
    Plain,
    /// Send the request with these headers set (without following
    /// redirects when `manual_redirect`), then feed its answer.
    Send {
        /// Headers to set.
        headers: Vec<HeaderPair>,
        /// Do not follow redirects.
        manual_redirect: bool,
    },
    /// Send the request again with these headers (after a 401 and a
    /// refresh), then feed its answer again.
    Replay {
        /// Headers to set.
        headers: Vec<HeaderPair>,
    },
    /// Hand the caller the last response received.
    Response,
    /// Fail the request with this error.
    Reject {
        /// The stable code.
        code: String,
        /// The message.
        reason: String,
    },
    /// Fail the request with the caller's own cancellation.
    Rethrow,
}

/// An `auth.on` event, with its detail.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum HostEvent {
    /// `state`.
    State {
        /// The new state.
        state: String,
        /// The state before.
        previous: String,
    },
    /// `authenticated`.
    Authenticated {
        /// The customer.
        customer_id: String,
        /// The anonymous id.
        anonymous_id: String,
        /// Expiry, ms since the epoch.
        expires_at: Option<i64>,
    },
    /// `refreshed`.
    Refreshed {
        /// Expiry, ms since the epoch.
        expires_at: Option<i64>,
        /// `provider` or `token_endpoint`.
        source: String,
    },
    /// `refresh-failed`.
    RefreshFailed {
        /// The failure's code.
        code: String,
        /// Which call of the cycle.
        attempt: u32,
        /// When the next call comes, `None` after the last.
        retry_in_ms: Option<i64>,
    },
    /// `auth-lost`.
    AuthLost {
        /// The last failure's code.
        code: String,
    },
    /// `logged-out`.
    LoggedOut {
        /// The customer who logged out.
        customer_id: Option<String>,
    },
}

/// An HTTP request for the host to send: a form POST (`Content-Type:
/// application/x-www-form-urlencoded`, `Accept: application/json`) when
/// `form_body` is set, else a GET; never following redirects. Answer with
/// `HttpAnswered` or `HttpFailed`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpRequest {
    /// Matches the answer to the request.
    pub exchange: u64,
    /// Where.
    pub url: String,
    /// The form body (may hold a refresh token: never log it).
    pub form_body: Option<String>,
    /// Send it after this many ms (a retry's backoff after a failed or
    /// transient answer; 0: now).
    pub delay_ms: i64,
}

/// What the host must do, in the order [`SessionDriver::poll`] gives them.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum HostEffect {
    /// Answer request `request`.
    Reply {
        /// The request.
        request: u64,
        /// The answer.
        reply: HostReply,
    },
    /// Call the context provider; feed `ProviderAnswered` or `ProviderFailed`.
    CallProvider {
        /// The call.
        call: u64,
        /// The last token was refused or is expiring: a fresh one is needed.
        needs_refresh: bool,
        /// Why: `initial`, `scheduled`, `after_401`, `forced`, `retry`, `customer_changed`.
        reason: String,
        /// When the call times out (ms since the epoch).
        deadline: i64,
    },
    /// Cancel call `call` if it is the provider call under way.
    AbortCall {
        /// The call.
        call: u64,
    },
    /// Send this request.
    Http {
        /// The request.
        request: HttpRequest,
    },
    /// (Re-)arm the one timer to fire in `delay_ms`, replacing any other.
    ArmTimer {
        /// Milliseconds.
        delay_ms: u32,
    },
    /// Cancel the timer.
    ClearTimer,
    /// Tell the event listeners.
    Emit {
        /// The event name (`state`, `authenticated`, `refreshed`, `refresh-failed`, `auth-lost`, `logged-out`).
        name: String,
        /// The detail as JSON text (as JavaScript's `auth.on` handlers get it).
        detail_json: String,
        /// The detail.
        event: HostEvent,
    },
    /// Call the login handler.
    LoginNeeded {
        /// The code.
        code: String,
        /// `unauthorized` or `auth_lost`.
        reason: String,
    },
    /// Write (`Some`) or remove (`None`) a stored entry; feed `StorageFailed` if it fails.
    Store {
        /// The key (`chat-auth:anonymous-id`, or the token's `chat-auth:token:<source>`).
        key: String,
        /// The value (the token entry holds tokens: keep it private to the app).
        value: Option<String>,
    },
    /// `destroy()` finished: drop listeners and the provider.
    Close,
}

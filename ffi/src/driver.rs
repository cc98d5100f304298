//! [`SessionDriver`]: the session driver (`chat_auth::session::driver`) for a
//! foreign host, with the checks of [`crate::issuer`] folded in, so the host
//! sees only I/O: replies to its requests, provider calls, HTTP requests,
//! the timer, events, the login handler and storage.
//!
//! One app process is one "tab": the environment opens no channel, so the
//! driver never asks for cross-tab messages or Web Locks.
//!
//! Thread-safety: the driver sits behind a mutex, so any thread may call
//! in; a host that feeds from several threads must still carry out the
//! effects in the order [`SessionDriver::poll`] gives them (the Kotlin host
//! feeds and polls under one lock).

use crate::issuer::{Answer, IssuerClient, Step};
use crate::FfiError;
use chat_auth::error::{Error, ErrorCode};
use chat_auth::options::Config;
use chat_auth::secret::SecretString;
use chat_auth::session::driver::{
    self, DpopAnswer, Driver, Effect, Entropy, Environment, HttpAnswer, Input, ProviderFailure,
    Reply, StorageKey,
};
use chat_auth::session::machine::Event;
use chat_auth::time::Millis;
use chat_auth::wire::json;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

/// The OS's randomness (`getrandom`); should it ever fail, std's randomly
/// keyed SipHash over a counter, so ids still differ.
struct OsEntropy {
    counter: u64,
}

impl Entropy for OsEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::getrandom(buf).is_ok() {
            return;
        }
        use std::hash::{BuildHasher, Hasher};
        let keys = std::collections::hash_map::RandomState::new();
        for chunk in buf.chunks_mut(8) {
            self.counter = self.counter.wrapping_add(1);
            let mut h = keys.build_hasher();
            h.write_u64(self.counter);
            let bytes = h.finish().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

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

struct Inner {
    driver: Driver,
    issuer: IssuerClient,
    /// Effects of the issuer client's own, ahead of the driver's.
    ready: VecDeque<HostEffect>,
}

/// One session: the driver and its checks. See the module docs.
#[derive(uniffi::Object)]
pub struct SessionDriver {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for SessionDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionDriver").finish_non_exhaustive()
    }
}

fn reject(e: &Error) -> HostReply {
    HostReply::Reject {
        code: e.code().as_str().to_owned(),
        reason: e.message().to_owned(),
    }
}

fn headers(list: Vec<driver::Header>) -> Vec<HeaderPair> {
    list.into_iter()
        .map(|(name, value)| HeaderPair {
            name,
            value: value.secret().to_owned(),
        })
        .collect()
}

fn reply(r: Reply) -> HostReply {
    match r {
        Reply::Done => HostReply::Done,
        Reply::Token(t) => HostReply::Token {
            token: t.map(|t| t.secret().to_owned()),
        },
        Reply::Headers(h) => HostReply::Headers {
            headers: headers(h),
        },
        Reply::Plain => HostReply::Plain,
        Reply::Send {
            headers: h,
            manual_redirect,
        } => HostReply::Send {
            headers: headers(h),
            manual_redirect,
        },
        Reply::Replay { headers: h } => HostReply::Replay {
            headers: headers(h),
        },
        Reply::Response => HostReply::Response,
        Reply::Reject(e) => reject(&e),
        Reply::Rethrow => HostReply::Rethrow,
    }
}

fn event(e: &Event) -> HostEvent {
    match e {
        Event::State { state, previous } => HostEvent::State {
            state: state.as_str().to_owned(),
            previous: previous.as_str().to_owned(),
        },
        Event::Authenticated {
            customer_id,
            anonymous_id,
            expires_at,
        } => HostEvent::Authenticated {
            customer_id: customer_id.clone(),
            anonymous_id: anonymous_id.clone(),
            expires_at: *expires_at,
        },
        Event::Refreshed { expires_at, source } => HostEvent::Refreshed {
            expires_at: *expires_at,
            source: source.as_str().to_owned(),
        },
        Event::RefreshFailed {
            code,
            attempt,
            retry_in_ms,
        } => HostEvent::RefreshFailed {
            code: code.as_str().to_owned(),
            attempt: *attempt,
            retry_in_ms: *retry_in_ms,
        },
        Event::AuthLost { code } => HostEvent::AuthLost {
            code: code.as_str().to_owned(),
        },
        Event::LoggedOut { customer_id } => HostEvent::LoggedOut {
            customer_id: customer_id.clone(),
        },
    }
}

fn storage_key(driver: &Driver, name: &str) -> Option<StorageKey> {
    [StorageKey::AnonymousId, StorageKey::Token]
        .into_iter()
        .find(|&k| driver.storage_name(k) == name)
}

impl Inner {
    fn step(&mut self, now: Millis, step: Step) {
        match step {
            Step::Feed(input) => self.driver.handle(now, input),
            Step::Send(request) => self.ready.push_back(HostEffect::Http { request }),
        }
    }

    fn handle(&mut self, now: Millis, input: HostInput) {
        let input = match input {
            HostInput::SetCustomer {
                request,
                customer_id,
                provider,
                stored,
            } => Input::SetCustomer {
                request,
                customer_id,
                provider,
                stored,
            },
            HostInput::ClearCustomer { request } => Input::ClearCustomer { request },
            HostInput::GetToken { request, force } => Input::GetToken { request, force },
            HostInput::AuthHeaders { request, origin } => Input::AuthHeaders {
                request,
                origin,
                target: None,
            },
            HostInput::Fetch {
                request,
                origin,
                follows_redirects,
                replayable,
            } => Input::Fetch {
                request,
                origin,
                follows_redirects,
                replayable,
                target: None,
            },
            HostInput::FetchAnswered {
                request,
                status,
                opaque_redirect,
            } => Input::FetchAnswered {
                request,
                status,
                opaque_redirect,
                dpop: DpopAnswer::default(),
            },
            HostInput::FetchFailed { request, aborted } => Input::FetchFailed { request, aborted },
            HostInput::Destroy => {
                self.issuer.forget();
                self.ready.clear();
                Input::Destroy
            }
            HostInput::TimerFired => Input::TimerFired,
            HostInput::Wake => Input::Wake,
            HostInput::Online { online } => Input::Online(online),
            HostInput::ProviderAnswered { call, context_json } => Input::ProviderAnswered {
                call,
                context: context_json,
            },
            HostInput::ProviderFailed { call, failure } => Input::ProviderFailed {
                call,
                failure: match failure {
                    ProviderFailureKind::Threw => ProviderFailure::Threw,
                    ProviderFailureKind::Rejected => ProviderFailure::Rejected,
                    ProviderFailureKind::Missing => ProviderFailure::Missing,
                },
            },
            HostInput::HttpAnswered {
                exchange,
                status,
                date,
                retry_after,
                body,
            } => {
                let answer = Answer::Http(HttpAnswer {
                    status,
                    date,
                    retry_after,
                    body: SecretString::new(body),
                    dpop_nonce: None,
                });
                if let Some(step) = self.issuer.answered(exchange, answer) {
                    self.step(now, step);
                }
                return;
            }
            HostInput::HttpFailed { exchange } => {
                if let Some(step) = self.issuer.answered(exchange, Answer::Failed) {
                    self.step(now, step);
                }
                return;
            }
            HostInput::StorageFailed { key } => match storage_key(&self.driver, &key) {
                Some(key) => Input::StorageFailed { key },
                None => return,
            },
        };
        self.driver.handle(now, input);
    }

    fn poll(&mut self, now: Millis) -> Option<HostEffect> {
        loop {
            if let Some(effect) = self.ready.pop_front() {
                return Some(effect);
            }
            let effect = self.driver.poll(now)?;
            let out = match effect {
                Effect::Reply { request, reply: r } => HostEffect::Reply {
                    request,
                    reply: reply(r),
                },
                Effect::CallProvider(call) => HostEffect::CallProvider {
                    call: call.id,
                    needs_refresh: call.needs_refresh,
                    reason: call.reason.as_str().to_owned(),
                    deadline: call.deadline,
                },
                // No `dpop` on this host (refused at construction): no proof.
                Effect::PostRefreshGrant { call, body, .. } => {
                    let step = self.issuer.post_refresh_grant(call, body);
                    self.step(now, step);
                    continue;
                }
                Effect::CheckToken {
                    call,
                    token,
                    signature,
                    introspect,
                } => {
                    let step = self.issuer.check_token(call, token, signature, introspect);
                    self.step(now, step);
                    continue;
                }
                Effect::AbortCall(call) => HostEffect::AbortCall { call },
                Effect::ArmTimer { delay_ms } => HostEffect::ArmTimer { delay_ms },
                Effect::ClearTimer => HostEffect::ClearTimer,
                Effect::Emit(e) => HostEffect::Emit {
                    name: driver::event_name(&e).to_owned(),
                    detail_json: driver::event_detail(&e),
                    event: event(&e),
                },
                Effect::LoginNeeded { code, reason } => HostEffect::LoginNeeded {
                    code: code.as_str().to_owned(),
                    reason: reason.to_owned(),
                },
                Effect::Store { key, value } => HostEffect::Store {
                    key: self.driver.storage_name(key).to_owned(),
                    value: value.map(|v| v.secret().to_owned()),
                },
                Effect::Close => HostEffect::Close,
                // Cross-tab effects: the environment opens no channel, so the
                // driver has no tabs and asks for none of these; should one
                // come, it gets the answer of a browser without Web Locks.
                Effect::AcquireLock { lock, .. } => {
                    self.driver.handle(now, Input::LockFailed { lock });
                    continue;
                }
                Effect::CountPeers { .. } => {
                    self.driver.handle(now, Input::PeersCounted { count: 0 });
                    continue;
                }
                Effect::HoldPresence { .. } | Effect::ReleaseLock(_) | Effect::Post(_) => continue,
                // `dpop` is refused at construction: the driver never asks.
                Effect::LoadProofKey { .. } | Effect::SignProof { .. } => continue,
            };
            return Some(out);
        }
    }
}

impl SessionDriver {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock means a panic inside the driver, which returns
        // nothing across FFI; the state is still the last consistent one.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[uniffi::export]
impl SessionDriver {
    /// A driver for `options_json` (the JavaScript `ChatAuthOptions` as
    /// JSON, without the functions), anonymous, opened at `now_ms` (ms
    /// since the epoch). `invalid_config` for a bad option.
    #[uniffi::constructor]
    pub fn new(
        options_json: String,
        environment: HostEnvironment,
        now_ms: i64,
    ) -> Result<SessionDriver, FfiError> {
        let options = json::parse_object(options_json.as_bytes())
            .map_err(|_| Error::new(ErrorCode::InvalidConfig, "options must be a JSON object"))?;
        let config = Config::from_json(&options)?;
        if config.dpop {
            // The Kotlin host has no key store or signer yet (README, "Android and iOS").
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "option 'dpop' is not available in the mobile host yet",
            )
            .into());
        }
        let issuer = IssuerClient::new(&config)?;
        let env = Environment {
            has_provider: environment.has_provider,
            stored_anonymous_id: environment.stored_anonymous_id,
            online: environment.online,
            channel: false,
            locks: false,
        };
        let entropy = Box::new(OsEntropy { counter: 0 });
        let driver = Driver::new(config, env, entropy, now_ms)?;
        Ok(SessionDriver {
            inner: Mutex::new(Inner {
                driver,
                issuer,
                ready: VecDeque::new(),
            }),
        })
    }

    /// Feeds one input at `now_ms`; then [`SessionDriver::poll`].
    pub fn handle(&self, now_ms: i64, input: HostInput) {
        self.lock().handle(now_ms, input);
    }

    /// The next effect to carry out at `now_ms`, `None` when there is none.
    pub fn poll(&self, now_ms: i64) -> Option<HostEffect> {
        self.lock().poll(now_ms)
    }

    /// `state`: `anonymous`, `authenticating`, `authenticated`, `refreshing`,
    /// `expired`, `logged_out` or `destroyed`.
    pub fn state(&self) -> String {
        self.lock().driver.state().as_str().to_owned()
    }

    /// The customer id, if one is set.
    pub fn customer_id(&self) -> Option<String> {
        self.lock().driver.customer_id().map(str::to_owned)
    }

    /// The store's key of the token entry (`chat-auth:token:<source>`,
    /// one per credential source), for reading `SetCustomer`'s `stored`.
    pub fn token_storage_key(&self) -> String {
        self.lock()
            .driver
            .storage_name(StorageKey::Token)
            .to_owned()
    }

    /// The anonymous id sent as `Chat-Anonymous-Id`.
    pub fn anonymous_id(&self) -> String {
        self.lock().driver.anonymous_id().to_owned()
    }

    /// The token's expiry in ms since the epoch, if known.
    pub fn expires_at(&self) -> Option<i64> {
        self.lock().driver.expires_at()
    }

    /// When the token will be refreshed, in ms since the epoch (the browser's
    /// `auth.refreshAt`); `None` when anonymous, refreshing, or with nothing
    /// to refresh it.
    pub fn refresh_at(&self) -> Option<i64> {
        self.lock().driver.refresh_at()
    }

    /// The token's claims as JSON text (`None`: opaque token or anonymous).
    pub fn claims_json(&self) -> Option<String> {
        self.lock().driver.claims_json().map(str::to_owned)
    }
}

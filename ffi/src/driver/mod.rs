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
    StorageKey,
};
use chat_auth::time::Millis;
use chat_auth::wire::json;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

mod convert;
mod foreign;

use convert::{event, reply, storage_key};
pub use foreign::{
    HeaderPair, HostEffect, HostEnvironment, HostEvent, HostInput, HostReply, HttpRequest,
    ProviderFailureKind,
};

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

impl Inner {
    fn step(&mut self, now: Millis, step: Option<Step>) {
        match step {
            Some(Step::Feed(input)) => self.driver.handle(now, input),
            Some(Step::Send(request)) => self.ready.push_back(HostEffect::Http { request }),
            None => {}
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
                let step = self.issuer.answered(exchange, answer);
                self.step(now, step);
                return;
            }
            HostInput::HttpFailed { exchange } => {
                let step = self.issuer.answered(exchange, Answer::Failed);
                self.step(now, step);
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
                    self.driver
                        .handle(now, Input::PeersCounted { peers: Vec::new() });
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
        let issuer = IssuerClient::new(&config);
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

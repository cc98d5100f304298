//! The session driver: everything a host would otherwise decide, sans I/O.
//!
//! A host (the JS host over `src/exports/` in the browser, the Kotlin SDK
//! through `ffi/`, `tests/simulation.rs` natively)
//! feeds [`Input`]s with the page clock's `now` to [`Driver::handle`] and
//! carries out the [`Effect`]s that [`Driver::poll`] hands back, in order,
//! until it returns `None`. The driver holds the [`Session`], the customer
//! id, the tokens and every decision: when to call the provider or the token
//! endpoint, how an answer is admitted (the host only checks signatures and
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
//!
//! Files: this one holds the [`Driver`], its state and its loop
//! ([`Driver::handle`], [`Driver::poll`]); `input` and `effect` the host's
//! vocabulary; `requests` the app's requests, waiters, the 401 → refresh →
//! replay decision and the allow-list; `refresh` the provider and
//! token-endpoint calls and admitting their answers; `apply` the session's
//! effects and the timer; `cross_tab` with `tabs` the tab protocol; `dpop`
//! with `proofs` option `dpop`; `storage` and `events` what goes into
//! `sessionStorage` and `auth.on`; `ids` the randomness.

mod apply;
pub mod codec;
mod cross_tab;
mod dpop;
mod effect;
mod events;
mod ids;
mod input;
mod proofs;
mod refresh;
mod requests;
mod storage;
mod tabs;
#[cfg(test)]
mod tests;

use crate::error::{Error, ErrorCode, Result};
use crate::options::{Config, Storage};
use crate::secret::SecretString;
use crate::session::machine::{Call, CallId, Session, SessionConfig, State};
use crate::time::Millis;
use crate::wire::cat;
use tabs::Tabs;

pub use proofs::{is_nonce_challenge, DpopAnswer, ProofId, ProofTarget};
use proofs::{Key, Proofs, Purpose};
pub use tabs::{channel_name, LOCK_WAIT_MS, ROUND_TIMEOUT_MS};

pub use effect::{Effect, Header, Reply};
pub use events::{event_detail, event_name, EVENTS};
pub use ids::{is_uuid_v4, uuid_v4};
pub use input::{HttpAnswer, Input, LockId, ProviderFailure, RequestId};
use refresh::{Admission, StaleGrant};
pub use requests::headers_for;
use requests::{Pending, Sent, Want};
pub use storage::{StorageKey, ANONYMOUS_ID_KEY};

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
    admission: Option<Admission>,
    /// The refresh grant under way and the refresh token it presents.
    grant: Option<(Call, SecretString)>,
    /// Grants still on the wire whose call was aborted or superseded: their
    /// answers are not admitted, but a rotated refresh token they bring is
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
        // The session is made once, with its anonymous id: the stored one,
        // or a fresh one (written to storage below, after the key's load).
        let mut entropy = entropy;
        let (anonymous_id, fresh) = match env.stored_anonymous_id {
            Some(id) if is_uuid_v4(&id) => (id, false),
            _ => {
                let mut b = [0u8; 16];
                entropy.fill(&mut b);
                (uuid_v4(b), true)
            }
        };
        let fresh = fresh.then(|| SecretString::new(anonymous_id.clone()));
        let mut driver = Driver {
            session: Session::new(anonymous_id, session_config),
            config,
            entropy,
            outbox: Vec::new(),
            dirty: true,
            waiting: Vec::new(),
            sent: Vec::new(),
            admission: None,
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
            driver.push(Effect::LoadProofKey {
                name: cat(&[&channel_name(&driver.config), ":dpop"]),
                replace: None,
            });
        }
        if fresh.is_some() {
            driver.push(Effect::Store {
                key: StorageKey::AnonymousId,
                value: fresh,
            });
        }
        if driver.config.cross_tab && env.channel {
            let id = uuid_v4(driver.random_bytes());
            let tabs = Tabs::new(&driver.config, id, env.locks);
            if let Some(name) = tabs.presence_name() {
                driver.push(Effect::HoldPresence { name });
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

    /// `auth.refreshAt` (page clock): when the token will be refreshed
    /// (`expiresAt` − the margin, plus jitter), if it will be.
    pub fn refresh_at(&self) -> Option<Millis> {
        self.session.planned_refresh()
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
                    self.forget_sent(request);
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
                    self.forget_sent(request);
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
            Input::FetchSettled { request } => self.fetch_settled(request),
            Input::FetchFailed { request, aborted } => {
                self.forget_sent(request);
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
                if self.admission.as_ref().is_some_and(|j| j.call.id == call) {
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
                if let Some(j) = self.admission.take_if(|j| j.call.id == call) {
                    self.admit(now, j, result);
                }
            }
            Input::LockGranted { lock } => self.lock_granted(now, lock),
            Input::LockFailed { lock } => self.locks_broken(now, Some(lock)),
            Input::PresenceFailed => self.locks_broken(now, None),
            Input::PeersCounted { peers } => self.peers_counted(now, peers),
            Input::Message(text) => self.receive(now, text.secret()),
            Input::StorageFailed { .. } => {
                // Any failed write (the anonymous id's too) stops the token's
                // writes, so the stored token (whose refresh token may be
                // spent by now) must not outlive it: a reload would resume
                // from it.
                if self.storage_ok && self.config.storage == Storage::Session {
                    self.push(Effect::Store {
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
        crate::session::take_at(&mut self.outbox, 0)
    }
}

fn destroyed() -> Error {
    Error::new(ErrorCode::Destroyed, "this ChatAuth was destroyed")
}

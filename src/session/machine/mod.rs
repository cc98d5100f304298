//! The session state machine (API.md "Behaviour"), sans I/O.
//!
//! The [`crate::session::driver`] (which the browser host and the simulation run)
//! feeds it what happened — a customer set, a request wanting a token, a
//! provider answer, a timer, a 401 — with the current time, and carries out the [`Effects`] it returns:
//! start a provider call, abort one, wake waiting requests, ask the user to
//! log in. Events for `auth.on` are queued and drained with
//! [`Session::drain_events`]. No timers or I/O live here, so every rule is
//! tested at chosen times.
//!
//! One *cycle* is one refresh: its first call plus retries with backoff. At
//! most one cycle exists at a time (single flight): every request that needs
//! a token while it runs joins it as a waiter, and all waiters are woken once
//! by its outcome.

use crate::error::{Error, ErrorCode, Result};
use crate::identifier::check_customer_id;
use crate::jose::token::Claims;
use crate::secret::SecretString;
use crate::session::schedule::{self, ClockEvidence, RefreshPolicy, TokenTimes};
use crate::time::Millis;

/// Identifies one provider or token-endpoint call.
pub type CallId = u64;

/// The states of API.md's `auth.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No customer; requests go out anonymously.
    Anonymous,
    /// A customer is set and the first token is being fetched.
    Authenticating,
    /// A valid token is held.
    Authenticated,
    /// A token is held and a refresh is under way.
    Refreshing,
    /// Refresh failed for good (or the token expired with no way to refresh).
    Expired,
    /// The customer logged out; requests go out anonymously.
    LoggedOut,
    /// `destroy()` was called.
    Destroyed,
}

impl State {
    /// The state's contract name.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Anonymous => "anonymous",
            State::Authenticating => "authenticating",
            State::Authenticated => "authenticated",
            State::Refreshing => "refreshing",
            State::Expired => "expired",
            State::LoggedOut => "logged_out",
            State::Destroyed => "destroyed",
        }
    }
}

/// Why a provider is called (`info.reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The first token for a customer.
    Initial,
    /// The refresh timer fired.
    Scheduled,
    /// The server refused the token.
    After401,
    /// `getToken({ forceRefresh: true })`.
    Forced,
    /// A retry after a failure.
    Retry,
    /// `setCustomer` with another customer.
    CustomerChanged,
}

impl Reason {
    /// The contract name of the reason.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Initial => "initial",
            Reason::Scheduled => "scheduled",
            Reason::After401 => "after_401",
            Reason::Forced => "forced",
            Reason::Retry => "retry",
            Reason::CustomerChanged => "customer_changed",
        }
    }

    /// `needsRefresh`: false only when no token is held yet for this customer.
    pub const fn needs_refresh(self) -> bool {
        !matches!(self, Reason::Initial | Reason::CustomerChanged)
    }
}

/// Where a new token came from (`refreshed.source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The context provider.
    Provider,
    /// The OAuth token endpoint (refresh grant).
    TokenEndpoint,
    /// Another tab of the same origin.
    OtherTab,
}

impl Source {
    /// The contract name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Provider => "provider",
            Source::TokenEndpoint => "token_endpoint",
            Source::OtherTab => "other_tab",
        }
    }
}

/// Whom a call goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The site's context provider.
    Provider,
    /// The token endpoint, with the held refresh token.
    TokenEndpoint,
}

/// A call the shell must make now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    /// Matches the answer to the call.
    pub id: CallId,
    /// `info.reason`.
    pub reason: Reason,
    /// `needsRefresh`.
    pub needs_refresh: bool,
    /// When the call counts as timed out (`info.deadline`).
    pub deadline: Millis,
    /// 1 for the first call of a cycle, then 2, 3, …
    pub attempt: u32,
    /// Provider or token endpoint.
    pub via: Via,
    /// When the call went out (page clock): the time its answer then spends
    /// on the way (latency, a sleeping computer) is not issuer clock skew.
    pub started_at: Millis,
}

/// A token that passed every check, ready to be attached to requests.
/// `Debug` prints the extra headers' names only (their values may be
/// credentials) and not the payload text.
#[derive(Clone, PartialEq)]
pub struct Credential {
    /// The access token.
    pub token: SecretString,
    /// The `Authorization` scheme (`Bearer` unless the context said otherwise).
    pub scheme: String,
    /// Extra headers from the context.
    pub headers: Vec<(String, String)>,
    /// JWT claims, `None` for opaque tokens.
    pub claims: Option<Claims>,
    /// The JWT payload as JSON text, for hosts that hand claims out.
    pub claims_json: Option<String>,
    /// When it was received, page clock.
    pub received_at: Millis,
    /// When it expires, page clock (issuer clock offset applied); `None` when
    /// unknown (an opaque token with no expiry).
    pub expires_at: Option<Millis>,
    /// Estimated issuer clock minus page clock.
    pub clock_offset: Millis,
    /// The session's evidence of the issuer's clock once this answer was
    /// judged, for the session to keep; another tab's (or a stored) token
    /// brings only the lead agreed on ([`crate::session::admit::restore`]).
    pub clock_evidence: ClockEvidence,
    /// The refresh token that came with it, if any.
    pub refresh_token: Option<SecretString>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Credential")
            .field("token", &self.token)
            .field("scheme", &self.scheme)
            .field("header_names", &names)
            .field("claims", &self.claims)
            .field("received_at", &self.received_at)
            .field("expires_at", &self.expires_at)
            .field("clock_offset", &self.clock_offset)
            .field("clock_evidence", &self.clock_evidence)
            .field("refresh_token", &self.refresh_token)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// Whether the token may still be sent at `now`.
    pub fn is_valid_at(&self, now: Millis) -> bool {
        self.expires_at.is_none_or(|exp| now < exp)
    }
}

/// Events for `auth.on`, queued in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// `state`: every state change.
    State {
        /// The new state.
        state: State,
        /// The state before.
        previous: State,
    },
    /// `authenticated`: the first token for a customer.
    Authenticated {
        /// The customer.
        customer_id: String,
        /// The anonymous id (sent as `Chat-Anonymous-Id`), for the site to
        /// fold the anonymous conversation into the customer's.
        anonymous_id: String,
        /// Expiry, page clock.
        expires_at: Option<Millis>,
    },
    /// `refreshed`: a later token.
    Refreshed {
        /// Expiry, page clock.
        expires_at: Option<Millis>,
        /// Where it came from.
        source: Source,
    },
    /// `refresh-failed`: one call failed.
    RefreshFailed {
        /// The failure's code.
        code: ErrorCode,
        /// Which call of the cycle (1-based).
        attempt: u32,
        /// When the next call comes, `None` after the last.
        retry_in_ms: Option<Millis>,
    },
    /// `auth-lost`: no token and no more retries.
    AuthLost {
        /// The last failure's code.
        code: ErrorCode,
    },
    /// `logged-out`.
    LoggedOut {
        /// The customer who logged out, if one was set.
        customer_id: Option<String>,
    },
}

/// What the shell must do after an input. Several may be set at once; do
/// them in field order.
#[derive(Debug, Default, PartialEq)]
#[must_use]
pub struct Effects {
    /// Abort this call (its `info.signal`) and ignore its answer.
    pub abort: Option<CallId>,
    /// Start this call now.
    pub call: Option<Call>,
    /// Wake every waiting request: `Ok` to ask again, `Err` to reject with it.
    pub release: Option<Result<()>>,
    /// Call `userLoginHandler` with this code.
    pub login_needed: Option<ErrorCode>,
}

/// What a request should do about its token.
#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    /// Send without a token (no customer).
    Anonymous,
    /// Send with [`Session::credential`].
    Ready,
    /// Wait for the next release, then ask again.
    Wait,
    /// Give up with this error.
    Fail(Error),
}

/// How the session is configured.
#[derive(Clone, Debug, Default)]
pub struct SessionConfig {
    /// Margin, retries, provider timeout.
    pub policy: RefreshPolicy,
    /// Whether a context provider exists.
    pub has_provider: bool,
    /// Whether a token endpoint is configured for the refresh grant.
    pub has_token_endpoint: bool,
}

#[derive(Debug)]
struct Cycle {
    reason: Reason,
    started_at: Millis,
    needs_refresh: bool,
    attempts: u32,
    in_flight: Option<Call>,
    /// The call waits for the cross-tab refresh lock: its deadline has not
    /// started (another tab's call, itself bounded, holds the lock).
    awaiting_grant: bool,
    retry_at: Option<Millis>,
    /// The next call would present the refresh token that a grant still on
    /// the wire presented, and no provider can take its place: it waits for
    /// that grant to settle ([`Session::grant_settled`]).
    holds_for_grant: bool,
}

/// After a cycle failed for good, requests fail fast with its code for this
/// long instead of starting a new cycle each (bounded provider load).
pub const FAILED_COOL_DOWN_MS: Millis = schedule::MAX_BACKOFF_MS;

/// How many refused refresh tokens a session remembers (one per rotation a
/// lost answer left behind in the other tabs is plenty).
const SPENT_REFRESH_TOKENS: usize = 4;

/// The session: state, customer, anonymous id, the held token, the refresh
/// cycle and its waiters.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    customer_id: Option<String>,
    anonymous_id: String,
    credential: Option<Credential>,
    refresh_token: Option<SecretString>,
    /// When the answer that brought `refresh_token` was received.
    refresh_token_at: Option<Millis>,
    /// The last few refresh tokens the token endpoint refused: a peer tab
    /// still holding one shares it again, and presenting it twice reads as
    /// theft. Bounded; cleared with the customer.
    spent_refresh_tokens: Vec<SecretString>,
    /// Refresh tokens presented by grants whose call ended (timed out,
    /// aborted) before their answer came: the token endpoint may have
    /// rotated one already, so it is not presented again until its grant
    /// settles (RFC 9700 §4.14 reuse detection). The driver keeps it in
    /// step with its stale grants, bounded as they are.
    unanswered_grants: Vec<SecretString>,
    /// The first call id made for the current customer: answers to older
    /// calls belong to someone else and never hand in a refresh token.
    customer_first_call: CallId,
    /// Bumped whenever the customer changes (another id, or none): a
    /// request belongs to the customer current when it was made, and never
    /// gets another one's token.
    customer_generation: u64,
    refused: Option<SecretString>,
    refresh_due: Option<Millis>,
    cycle: Option<Cycle>,
    failed: Option<(Millis, Error)>,
    waiters: usize,
    next_call: CallId,
    online: bool,
    events: Vec<Event>,
    /// What answers showed of the issuer's clock; a property of the page
    /// clock, so kept across customers.
    clock: ClockEvidence,
}

impl Session {
    /// A new anonymous session.
    pub fn new(anonymous_id: String, config: SessionConfig) -> Session {
        Session {
            config,
            state: State::Anonymous,
            customer_id: None,
            anonymous_id,
            credential: None,
            refresh_token: None,
            refresh_token_at: None,
            spent_refresh_tokens: Vec::new(),
            unanswered_grants: Vec::new(),
            customer_first_call: 1,
            customer_generation: 0,
            refused: None,
            refresh_due: None,
            cycle: None,
            failed: None,
            waiters: 0,
            next_call: 1,
            online: true,
            events: Vec::new(),
            clock: ClockEvidence::default(),
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The customer, if set.
    pub fn customer_id(&self) -> Option<&str> {
        self.customer_id.as_deref()
    }

    /// Changes whenever the customer does (`setCustomer` with another id,
    /// `clearCustomer`, a logout in another tab): requests made before
    /// belong to a customer who is gone.
    pub fn customer_generation(&self) -> u64 {
        self.customer_generation
    }

    fn set_customer_id(&mut self, customer_id: Option<&str>) {
        if self.customer_id.as_deref() != customer_id {
            self.customer_generation += 1;
            self.customer_id = customer_id.map(str::to_owned);
        }
    }

    /// The anonymous id.
    pub fn anonymous_id(&self) -> &str {
        &self.anonymous_id
    }

    /// The held token, if any (it may be in its refresh window).
    pub fn credential(&self) -> Option<&Credential> {
        self.credential.as_ref()
    }

    /// The token last refused by the server (for `token_unchanged`).
    pub fn refused_token(&self) -> Option<&SecretString> {
        self.refused.as_ref()
    }

    /// The refresh token for a token-endpoint call.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }

    /// What answers so far showed of the issuer's clock, for judging the
    /// next one ([`crate::session::admit::Rules::clock`]).
    pub fn clock_evidence(&self) -> ClockEvidence {
        self.clock
    }

    /// How many requests wait on the current cycle.
    pub fn waiters(&self) -> usize {
        self.waiters
    }

    /// The call under way, if any.
    pub fn current_call(&self) -> Option<Call> {
        self.cycle.as_ref().and_then(|c| c.in_flight)
    }

    /// When the answer that brought [`Session::refresh_token`] was received.
    pub fn refresh_token_at(&self) -> Option<Millis> {
        self.refresh_token_at
    }

    /// Drops the refresh token `presented` (the token endpoint refused it),
    /// so the next attempt asks the provider. A newer one that arrived
    /// meanwhile (another tab's rotation) is kept: it was never refused.
    pub fn forget_refresh_token(&mut self, presented: &SecretString) {
        if !self.spent_refresh_tokens.contains(presented) {
            if self.spent_refresh_tokens.len() == SPENT_REFRESH_TOKENS {
                self.spent_refresh_tokens.remove(0);
            }
            self.spent_refresh_tokens.push(presented.clone());
        }
        if self.refresh_token.as_ref() == Some(presented) {
            self.refresh_token = None;
            self.refresh_token_at = None;
        }
    }

    /// The refresh token refused (or given up on) last, if any: the other
    /// tabs are told, since they may hold it too.
    pub fn last_spent_refresh_token(&self) -> Option<&SecretString> {
        self.spent_refresh_tokens.last()
    }

    /// The token endpoint answered `call` (received at `received_at`) with a
    /// rotated refresh token. Kept *before* the access token is judged: the
    /// endpoint consumed the one presented, so whatever becomes of the
    /// access token (refused, its JWKS unreachable, the call timed out or
    /// superseded by another tab's token) this is the only refresh token
    /// that still works, and presenting the old one again reads as theft
    /// (RFC 9700 §4.14). Ignored for another customer's call. Returns
    /// whether it is now the one held (then share it with the other tabs).
    pub fn refresh_token_issued(
        &mut self,
        call: CallId,
        refresh_token: SecretString,
        received_at: Millis,
    ) -> bool {
        if self.alive().is_err() || self.customer_id.is_none() || call < self.customer_first_call {
            return false;
        }
        self.keep_refresh_token(refresh_token, received_at)
    }

    /// Another tab shares the refresh token it was issued at `received_at`
    /// (its page clock): kept when newer than the one held.
    pub fn share_refresh_token(&mut self, refresh_token: SecretString, received_at: Millis) {
        if self.alive().is_ok() && self.customer_id.is_some() {
            self.keep_refresh_token(refresh_token, received_at);
        }
    }

    /// A grant presenting `presented` is still on the wire though its call
    /// ended: `presented` is not presented again until
    /// [`Session::grant_settled`].
    pub fn grant_unanswered(&mut self, presented: SecretString) {
        if !self.unanswered_grants.contains(&presented) {
            self.unanswered_grants.push(presented);
        }
    }

    /// The grant that presented `presented` settled (answered, failed, or
    /// given up on): a cycle that waited for it goes on at `now`.
    pub fn grant_settled(&mut self, presented: &SecretString, now: Millis) {
        self.unanswered_grants.retain(|t| t != presented);
        if let Some(cycle) = self.cycle.as_mut().filter(|c| c.holds_for_grant) {
            cycle.holds_for_grant = false;
            cycle.retry_at = Some(now);
        }
    }

    /// Whether the refresh token held was presented by a grant still on the
    /// wire (the shell keeps the cross-tab lock meanwhile: the other tabs
    /// hold that refresh token too).
    pub fn refresh_token_unanswered(&self) -> bool {
        self.refresh_token
            .as_ref()
            .is_some_and(|t| self.unanswered_grants.contains(t))
    }

    fn keep_refresh_token(&mut self, refresh_token: SecretString, received_at: Millis) -> bool {
        if self.spent_refresh_tokens.contains(&refresh_token) {
            return false;
        }
        if self.refresh_token.as_ref() == Some(&refresh_token) {
            return true;
        }
        if self.refresh_token_at.is_some_and(|at| received_at < at) {
            return false;
        }
        self.refresh_token = Some(refresh_token);
        self.refresh_token_at = Some(received_at);
        true
    }

    /// When the scheduled refresh is due, if one is planned.
    pub fn refresh_due(&self) -> Option<Millis> {
        self.refresh_due
    }

    /// `auth.refreshAt`: the scheduled refresh if something can carry it
    /// out (a provider, or a token endpoint with a refresh token); `None`
    /// when anonymous, during a refresh, or when only the expiry is left.
    pub fn planned_refresh(&self) -> Option<Millis> {
        self.refresh_due.filter(|_| self.can_refresh())
    }

    /// Replaces the configuration (e.g. a provider given to `setCustomer`).
    pub fn set_has_provider(&mut self, has_provider: bool) {
        self.config.has_provider = has_provider;
    }

    /// Queued events, oldest first.
    pub fn drain_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    fn set_state(&mut self, state: State) {
        if state != self.state {
            let previous = self.state;
            self.state = state;
            self.events.push(Event::State { state, previous });
        }
    }

    fn can_refresh(&self) -> bool {
        self.config.has_provider || (self.config.has_token_endpoint && self.refresh_token.is_some())
    }

    fn alive(&self) -> Result<()> {
        if self.state == State::Destroyed {
            Err(Error::new(
                ErrorCode::Destroyed,
                "this ChatAuth was destroyed",
            ))
        } else {
            Ok(())
        }
    }

    /// `setCustomer`: validates the id, drops any token of another customer
    /// and starts fetching one. Setting the customer already set is a no-op
    /// (the caller waits for the current state to settle).
    pub fn set_customer(&mut self, customer_id: &str, now: Millis) -> Result<Effects> {
        self.alive()?;
        check_customer_id(customer_id)?;
        if !self.config.has_provider {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "setCustomer needs a contextProvider (in the options or as its second argument)",
            ));
        }
        let same = self.customer_id.as_deref() == Some(customer_id);
        if same
            && matches!(
                self.state,
                State::Authenticating | State::Authenticated | State::Refreshing
            )
        {
            return Ok(Effects::default());
        }
        let changed = self.customer_id.is_some() && !same;
        let mut fx = Effects {
            abort: self
                .cycle
                .take()
                .and_then(|c| c.in_flight.map(|call| call.id)),
            ..Effects::default()
        };
        if !same {
            // The waiters were another customer's: the shell rejects them
            // (their generation is gone), none waits for this one's token.
            fx.release = self.take_waiters(Ok(()));
        }
        self.set_customer_id(Some(customer_id));
        self.drop_token();
        self.failed = None;
        self.set_state(State::Authenticating);
        let reason = if changed {
            Reason::CustomerChanged
        } else {
            Reason::Initial
        };
        fx.call = self.start_cycle(reason, now);
        Ok(fx)
    }

    /// `setCustomer` with a token kept from before (sessionStorage): when it
    /// is still valid for this customer no provider call is needed.
    pub fn resume(
        &mut self,
        customer_id: &str,
        credential: Credential,
        now: Millis,
        jitter: f64,
    ) -> Result<Effects> {
        self.alive()?;
        check_customer_id(customer_id)?;
        if !credential.is_valid_at(now) || self.customer_id.is_some() {
            return self.set_customer(customer_id, now);
        }
        self.set_customer_id(Some(customer_id));
        self.set_state(State::Authenticating);
        self.learn_clock(&credential);
        self.accept(credential, Source::Provider, jitter);
        Ok(Effects::default())
    }

    /// Takes the page clock's lead over the issuer that another tab (or an
    /// earlier page, through sessionStorage) agreed on, unless this session
    /// has its own: the clock is the same, so a tab that only ever adopted
    /// tokens still judges its own first answer at once.
    fn learn_clock(&mut self, credential: &Credential) {
        if self.clock.agreed.is_none() {
            self.clock.agreed = credential.clock_evidence.agreed;
        }
    }

    fn drop_token(&mut self) {
        self.credential = None;
        self.refresh_token = None;
        self.refresh_token_at = None;
        self.spent_refresh_tokens.clear();
        self.unanswered_grants.clear();
        self.customer_first_call = self.next_call;
        self.refused = None;
        self.refresh_due = None;
    }

    /// `clearCustomer`: forgets customer and token, takes a new anonymous id;
    /// waiting requests are woken, and the shell rejects them: they were
    /// made for the customer who left.
    pub fn clear_customer(&mut self, new_anonymous_id: String) -> Result<Effects> {
        self.alive()?;
        let fx = Effects {
            abort: self
                .cycle
                .take()
                .and_then(|c| c.in_flight.map(|call| call.id)),
            release: self.take_waiters(Ok(())),
            ..Effects::default()
        };
        let customer_id = self.customer_id.clone();
        self.set_customer_id(None);
        self.drop_token();
        self.failed = None;
        self.anonymous_id = new_anonymous_id;
        self.set_state(State::LoggedOut);
        self.events.push(Event::LoggedOut { customer_id });
        Ok(fx)
    }

    /// `destroy()`: aborts the call under way and rejects every waiter.
    pub fn destroy(&mut self) -> Effects {
        if self.state == State::Destroyed {
            return Effects::default();
        }
        let err = Error::new(ErrorCode::Destroyed, "this ChatAuth was destroyed");
        let fx = Effects {
            abort: self
                .cycle
                .take()
                .and_then(|c| c.in_flight.map(|call| call.id)),
            release: self.take_waiters(Err(err)),
            ..Effects::default()
        };
        self.drop_token();
        self.set_state(State::Destroyed);
        fx
    }

    fn take_waiters(&mut self, result: Result<()>) -> Option<Result<()>> {
        // Release even with no counted waiter: `setCustomer` callers wait too.
        self.waiters = 0;
        Some(result)
    }

    fn start_cycle(&mut self, reason: Reason, now: Millis) -> Option<Call> {
        self.cycle = Some(Cycle {
            reason,
            started_at: now,
            needs_refresh: reason.needs_refresh(),
            attempts: 0,
            in_flight: None,
            awaiting_grant: false,
            retry_at: None,
            holds_for_grant: false,
        });
        self.refresh_due = None;
        self.next_call_of_cycle(now)
    }

    /// The cycle's next call, or `None` while it holds for an unanswered
    /// grant (see [`Cycle::holds_for_grant`]).
    fn next_call_of_cycle(&mut self, now: Millis) -> Option<Call> {
        let unanswered = self.refresh_token_unanswered();
        let use_endpoint =
            self.config.has_token_endpoint && self.refresh_token.is_some() && !unanswered;
        if unanswered && !self.config.has_provider {
            if let Some(c) = self.cycle.as_mut() {
                c.holds_for_grant = true;
                c.retry_at = None;
                c.in_flight = None;
            }
            return None;
        }
        let id = self.next_call;
        self.next_call += 1;
        let deadline = now.saturating_add(self.config.policy.provider_timeout_ms);
        let mut call = Call {
            id,
            reason: Reason::Retry,
            needs_refresh: true,
            deadline,
            attempt: 1,
            via: Via::Provider,
            started_at: now,
        };
        if let Some(c) = self.cycle.as_mut() {
            c.attempts += 1;
            c.retry_at = None;
            c.awaiting_grant = false;
            call.attempt = c.attempts;
            if c.attempts == 1 {
                call.reason = c.reason;
            }
            call.needs_refresh = c.needs_refresh || call.reason.needs_refresh();
            if use_endpoint && call.needs_refresh {
                call.via = Via::TokenEndpoint;
            }
            c.in_flight = Some(call);
        }
        Some(call)
    }

    /// A request wants a token. `force` is `getToken({ forceRefresh: true })`.
    /// `Access::Wait` counts the caller as a waiter of the current cycle.
    pub fn access(&mut self, now: Millis, force: bool) -> (Access, Effects) {
        if let Err(e) = self.alive() {
            return (Access::Fail(e), Effects::default());
        }
        if self.customer_id.is_none() {
            return (Access::Anonymous, Effects::default());
        }
        if let Some(cycle) = &self.cycle {
            let usable = cycle.in_flight.is_none()
                && !force
                && self.credential.as_ref().is_some_and(|c| c.is_valid_at(now));
            if usable {
                return (Access::Ready, Effects::default());
            }
            // Offline with the retry waiting for the network (see
            // `fail_current`): nothing would answer this request until then.
            if !self.online && cycle.in_flight.is_none() && cycle.retry_at.is_some() {
                return (
                    Access::Fail(Error::new(
                        ErrorCode::Network,
                        "offline: the refresh waits for the network",
                    )),
                    Effects::default(),
                );
            }
            self.waiters += 1;
            return (Access::Wait, Effects::default());
        }
        let valid = self.credential.as_ref().is_some_and(|c| c.is_valid_at(now));
        let due = self.refresh_due.is_some_and(|due| now >= due);
        if valid && !force && !due {
            return (Access::Ready, Effects::default());
        }
        if let Some((at, err)) = &self.failed {
            if !force && now.saturating_sub(*at) < FAILED_COOL_DOWN_MS {
                return (Access::Fail(err.clone()), Effects::default());
            }
        }
        if !self.can_refresh() {
            return self.lose_access(
                Error::new(
                    ErrorCode::Expired,
                    "the token expired and there is no way to refresh it",
                ),
                now,
            );
        }
        let reason = if force {
            Reason::Forced
        } else if valid || self.credential.is_some() {
            Reason::Scheduled
        } else {
            Reason::Retry
        };
        self.set_state(if self.credential.is_some() {
            State::Refreshing
        } else {
            State::Authenticating
        });
        let call = self.start_cycle(reason, now);
        self.waiters += 1;
        (
            Access::Wait,
            Effects {
                call,
                ..Effects::default()
            },
        )
    }

    /// The server answered 401 to a request sent with `token_used` (`None`
    /// when it went out anonymously).
    pub fn unauthorized(&mut self, token_used: Option<&str>, now: Millis) -> (Access, Effects) {
        if let Err(e) = self.alive() {
            return (Access::Fail(e), Effects::default());
        }
        let Some(token_used) = token_used else {
            // Anonymous request refused: the chat needs a login.
            return (
                Access::Anonymous,
                Effects {
                    login_needed: Some(ErrorCode::NotAuthenticated),
                    ..Effects::default()
                },
            );
        };
        let current = self.credential.as_ref().map(|c| c.token.secret());
        if current != Some(token_used) {
            // A newer token (or none) is held already: use it, or wait for it.
            return self.access(now, false);
        }
        self.refused = Some(SecretString::new(token_used));
        if self.credential.as_ref().is_some_and(|c| c.clock_offset < 0) {
            // The server refused a token judged on a fast page clock: the
            // evidence for that lead is in doubt.
            self.clock = self.clock.refuted();
        }
        self.credential = None;
        self.refresh_due = None;
        if let Some(cycle) = self.cycle.as_mut() {
            cycle.needs_refresh = true;
            self.waiters += 1;
            return (Access::Wait, Effects::default());
        }
        if !self.can_refresh() {
            return self.lose_access(
                Error::new(
                    ErrorCode::NotAuthenticated,
                    "the server refused the token and there is no way to refresh it",
                ),
                now,
            );
        }
        self.failed = None;
        self.set_state(State::Refreshing);
        let call = self.start_cycle(Reason::After401, now);
        self.waiters += 1;
        (
            Access::Wait,
            Effects {
                call,
                ..Effects::default()
            },
        )
    }

    fn is_current(&self, call: CallId) -> bool {
        self.cycle
            .as_ref()
            .is_some_and(|c| c.in_flight.is_some_and(|f| f.id == call))
    }

    /// Call `call` produced a checked credential. `jitter` ∈ [0, 1) spreads
    /// the next refresh inside the margin. Answers to stale calls are ignored.
    pub fn call_succeeded(
        &mut self,
        call: CallId,
        credential: Credential,
        source: Source,
        jitter: f64,
    ) -> Effects {
        if !self.is_current(call) {
            return Effects::default();
        }
        self.cycle = None;
        self.clock = credential.clock_evidence;
        self.accept(credential, source, jitter);
        Effects {
            release: self.take_waiters(Ok(())),
            ..Effects::default()
        }
    }

    fn accept(&mut self, credential: Credential, source: Source, jitter: f64) {
        self.refresh_due = credential.expires_at.map(|expires_at| {
            schedule::refresh_at(
                &TokenTimes {
                    received_at: credential.received_at,
                    expires_at,
                },
                &self.config.policy,
                jitter,
            )
        });
        self.take_refresh_token(&credential);
        let expires_at = credential.expires_at;
        self.credential = Some(credential);
        // `refused` stays: another tab may still offer that token, and the
        // server will refuse it again.
        self.failed = None;
        let first = self.state == State::Authenticating;
        self.set_state(State::Authenticated);
        if first {
            self.events.push(Event::Authenticated {
                customer_id: self.customer_id.clone().unwrap_or_default(),
                anonymous_id: self.anonymous_id.clone(),
                expires_at,
            });
        } else {
            self.events.push(Event::Refreshed { expires_at, source });
        }
    }

    /// Call `call` failed with `error` (provider error, refused context,
    /// network, token endpoint). Retries with backoff, or gives up.
    pub fn call_failed(&mut self, call: CallId, error: Error, now: Millis) -> Effects {
        if !self.is_current(call) {
            return Effects::default();
        }
        if let Some(evidence) = error.clock_evidence() {
            self.clock = evidence;
        }
        self.fail_current(error, now)
    }

    fn fail_current(&mut self, error: Error, now: Millis) -> Effects {
        let attempts = self.cycle.as_ref().map_or(0, |c| c.attempts);
        let expires_at = self
            .credential
            .as_ref()
            .and_then(|c| c.expires_at)
            .filter(|&exp| now < exp);
        if attempts <= self.config.policy.max_retries {
            let retry_at = schedule::honour_retry_after(
                schedule::retry_at(now, attempts, expires_at),
                now,
                error.retry_after_ms(),
            );
            if let Some(c) = self.cycle.as_mut() {
                c.in_flight = None;
                c.retry_at = Some(retry_at);
            }
            self.events.push(Event::RefreshFailed {
                code: error.code(),
                attempt: attempts,
                retry_in_ms: Some(retry_at.saturating_sub(now)),
            });
            // Requests may go on with a token that is still valid. Offline,
            // the retry waits for the network, maybe for hours: requests
            // without a valid token fail now rather than wait that long.
            let usable = self.credential.as_ref().is_some_and(|c| c.is_valid_at(now));
            let release = if usable && self.waiters > 0 {
                self.take_waiters(Ok(()))
            } else if !usable && !self.online {
                self.take_waiters(Err(error))
            } else {
                None
            };
            return Effects {
                release,
                ..Effects::default()
            };
        }
        self.events.push(Event::RefreshFailed {
            code: error.code(),
            attempt: attempts,
            retry_in_ms: None,
        });
        self.cycle = None;
        self.lose(error, now)
    }

    /// [`Session::lose`] for a request, which fails with the same error.
    fn lose_access(&mut self, error: Error, now: Millis) -> (Access, Effects) {
        let fx = self.lose(error.clone(), now);
        (Access::Fail(error), fx)
    }

    /// Gives up: state `expired`, `auth-lost`, waiters rejected, login asked.
    fn lose(&mut self, error: Error, now: Millis) -> Effects {
        let code = error.code();
        self.credential = None;
        self.refresh_due = None;
        self.cycle = None;
        self.failed = Some((now, error.clone()));
        self.set_state(State::Expired);
        self.events.push(Event::AuthLost { code });
        Effects {
            release: self.take_waiters(Err(error)),
            login_needed: Some(code),
            ..Effects::default()
        }
    }

    /// Another tab obtained `credential` for the same customer (announced,
    /// or handed over when this tab asked before calling): adopt it when it
    /// is better than what is held. While a cycle runs here it must satisfy
    /// that cycle — not due for refresh yet, or, for a forced refresh,
    /// obtained after the cycle began — and then ends it without a call.
    pub fn adopt(&mut self, credential: Credential, now: Millis, jitter: f64) -> Effects {
        if self.alive().is_err() || self.customer_id.is_none() || !credential.is_valid_at(now) {
            return Effects::default();
        }
        self.learn_clock(&credential);
        if self.refused.as_ref() == Some(&credential.token) {
            return Effects::default();
        }
        if let Some(held) = &self.credential {
            if held.token == credential.token {
                return Effects::default();
            }
        }
        let better = match &self.cycle {
            Some(cycle) if cycle.reason == Reason::Forced => {
                credential.received_at >= cycle.started_at
            }
            Some(_) => !self.due_at(&credential, now),
            None => match self.credential.as_ref().map(|held| held.expires_at) {
                Some(Some(held)) => credential.expires_at.is_none_or(|exp| exp >= held),
                _ => true,
            },
        };
        if !better {
            // The token does not do for this refresh, but its refresh token
            // may be newer than ours (which getting it then spent).
            self.take_refresh_token(&credential);
            return Effects::default();
        }
        let abort = self
            .cycle
            .take()
            .and_then(|c| c.in_flight.map(|call| call.id));
        self.accept(credential, Source::OtherTab, jitter);
        Effects {
            abort,
            release: self.take_waiters(Ok(())),
            ..Effects::default()
        }
    }

    /// Keeps the refresh token that came with `credential` unless the one
    /// held came with a later credential: the token endpoint rotates refresh
    /// tokens, so only the newest works — also when another tab's token is
    /// adopted that is older than this tab's, or refused for this refresh.
    fn take_refresh_token(&mut self, credential: &Credential) {
        if let Some(refresh) = &credential.refresh_token {
            self.keep_refresh_token(refresh.clone(), credential.received_at);
        }
    }

    /// Whether `credential` is already inside its refresh margin at `now`
    /// (judged at the margin's earliest point, so no jitter can make it due
    /// sooner).
    fn due_at(&self, credential: &Credential, now: Millis) -> bool {
        credential.expires_at.is_some_and(|expires_at| {
            let times = TokenTimes {
                received_at: credential.received_at,
                expires_at,
            };
            now >= schedule::refresh_at(&times, &self.config.policy, 0.0)
        })
    }

    /// The call `call` may start now: with `crossTab` the shell first takes
    /// the origin-wide refresh lock and asks the other tabs for their token,
    /// so this runs when the lock is granted. Returns the call with its
    /// deadline counted from now, or `None` when it is no longer wanted (a
    /// token arrived meanwhile, or it was aborted): release the lock then.
    pub fn call_granted(&mut self, call: CallId, now: Millis) -> Option<Call> {
        if !self.is_current(call) {
            return None;
        }
        let deadline = now.saturating_add(self.config.policy.provider_timeout_ms);
        let cycle = self.cycle.as_mut()?;
        cycle.awaiting_grant = false;
        let in_flight = cycle.in_flight.as_mut()?;
        in_flight.deadline = deadline;
        in_flight.started_at = now;
        Some(*in_flight)
    }

    /// The shell went for the cross-tab refresh lock before making `call`:
    /// its deadline waits for [`Session::call_granted`]. The tab holding the
    /// lock runs a bounded cycle, and a tab that dies releases it.
    pub fn await_grant(&mut self, call: CallId) {
        if self.is_current(call) {
            if let Some(cycle) = self.cycle.as_mut() {
                cycle.awaiting_grant = true;
            }
        }
    }

    /// The call waiting for the cross-tab refresh lock, if any.
    pub fn call_awaiting_grant(&self) -> Option<CallId> {
        self.cycle
            .as_ref()
            .filter(|c| c.awaiting_grant)
            .and_then(|c| c.in_flight.map(|call| call.id))
    }

    /// Whether a refresh cycle is under way (a call, or a retry pending).
    /// The shell keeps the cross-tab lock for as long as this holds.
    pub fn refreshing(&self) -> bool {
        self.cycle.is_some()
    }

    /// The network went away (`offline`) or came back (`online`). Retries
    /// wait while offline — they could only fail — and start at once when
    /// the network returns. A first call still goes out offline: the site's
    /// provider may answer from memory.
    pub fn set_online(&mut self, online: bool, now: Millis) -> Effects {
        self.online = online;
        if online {
            self.tick(now)
        } else {
            Effects::default()
        }
    }

    /// The timer fired (or the page woke: `visibilitychange`, `focus`,
    /// `online`). Late timers are fine: everything is judged against `now`.
    pub fn tick(&mut self, now: Millis) -> Effects {
        if self.alive().is_err() {
            return Effects::default();
        }
        if let Some(cycle) = &self.cycle {
            if let Some(Call { id, deadline, .. }) = cycle.in_flight {
                if !cycle.awaiting_grant && now >= deadline {
                    let mut fx = self.fail_current(
                        Error::new(
                            ErrorCode::ProviderTimeout,
                            "the context provider did not answer in time",
                        ),
                        now,
                    );
                    fx.abort = Some(id);
                    return fx;
                }
                return Effects::default();
            }
            if self.online && cycle.retry_at.is_some_and(|at| now >= at) {
                return Effects {
                    call: self.next_call_of_cycle(now),
                    ..Effects::default()
                };
            }
            return Effects::default();
        }
        let Some(credential) = &self.credential else {
            return Effects::default();
        };
        let expired = !credential.is_valid_at(now);
        let due = self.refresh_due.is_some_and(|due| now >= due);
        if !due && !expired {
            return Effects::default();
        }
        if !self.can_refresh() {
            if expired {
                return self.lose(
                    Error::new(
                        ErrorCode::Expired,
                        "the token expired and there is no way to refresh it",
                    ),
                    now,
                );
            }
            return Effects::default();
        }
        self.set_state(State::Refreshing);
        Effects {
            call: self.start_cycle(Reason::Scheduled, now),
            ..Effects::default()
        }
    }

    /// When [`Session::tick`] must run next, if ever: a call's deadline, a
    /// retry, a scheduled refresh or an expiry.
    pub fn next_wake(&self) -> Option<Millis> {
        if self.state == State::Destroyed {
            return None;
        }
        if let Some(cycle) = &self.cycle {
            // Offline, a pending retry waits for `set_online(true)`.
            let retry_at = cycle.retry_at.filter(|_| self.online);
            if cycle.awaiting_grant {
                return None;
            }
            return cycle.in_flight.map(|call| call.deadline).or(retry_at);
        }
        let expires_at = self.credential.as_ref().and_then(|c| c.expires_at);
        // A refresh time that nothing can act on ([`Session::tick`] does
        // nothing then) would wake the timer at once, again and again: only
        // the expiry is left to wait for.
        match (self.planned_refresh(), expires_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests;

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
//!
//! Files: this one holds the [`Session`] and its readers; `state`,
//! `credential` and `outcome` the types it speaks in; `customer`, `access`,
//! `cycle` and `refresh_token` its transitions (setting the customer, a
//! request's token, the refresh cycle, the refresh token's bookkeeping).

use crate::error::{Error, ErrorCode, Result};
use crate::identifier::check_customer_id;
use crate::jose::token::Claims;
use crate::secret::SecretString;
use crate::session::schedule::{self, ClockEvidence, RefreshPolicy, TokenTimes};
use crate::time::Millis;

mod access;
mod credential;
mod customer;
mod cycle;
mod outcome;
mod refresh_token;
mod state;

pub use credential::Credential;
pub use outcome::{Access, Effects, Event};
pub use state::{Call, CallId, Reason, Source, State, Via};

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
}

#[cfg(test)]
mod tests;

//! The refresh cycle: started, its calls and retries, their outcomes
//! (accepted, failed, lost, adopted from another tab), the cross-tab grant,
//! going on- and offline, and the timer's [`Session::tick`] and
//! [`Session::next_wake`].

use super::{
    Access, Call, CallId, Credential, Cycle, Effects, Event, Reason, Session, Source, State, Via,
};
use crate::error::{Error, ErrorCode, Result};
use crate::session::schedule::{self, TokenTimes};
use crate::time::Millis;

impl Session {
    pub(super) fn take_waiters(&mut self, result: Result<()>) -> Option<Result<()>> {
        // Release even with no counted waiter: `setCustomer` callers wait too.
        self.waiters = 0;
        Some(result)
    }

    pub(super) fn start_cycle(&mut self, reason: Reason, now: Millis) -> Option<Call> {
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
    pub(super) fn next_call_of_cycle(&mut self, now: Millis) -> Option<Call> {
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

    pub(super) fn is_current(&self, call: CallId) -> bool {
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

    pub(super) fn accept(&mut self, credential: Credential, source: Source, jitter: f64) {
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

    pub(super) fn fail_current(&mut self, error: Error, now: Millis) -> Effects {
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
    pub(super) fn lose_access(&mut self, error: Error, now: Millis) -> (Access, Effects) {
        let fx = self.lose(error.clone(), now);
        (Access::Fail(error), fx)
    }

    /// Gives up: state `expired`, `auth-lost`, waiters rejected, login asked.
    pub(super) fn lose(&mut self, error: Error, now: Millis) -> Effects {
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
    pub(super) fn take_refresh_token(&mut self, credential: &Credential) {
        if let Some(refresh) = &credential.refresh_token {
            self.keep_refresh_token(refresh.clone(), credential.received_at);
        }
    }

    /// Whether `credential` is already inside its refresh margin at `now`
    /// (judged at the margin's earliest point, so no jitter can make it due
    /// sooner).
    pub(super) fn due_at(&self, credential: &Credential, now: Millis) -> bool {
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
        // While the call waited for the lock, the refresh token it was
        // planned with may have gone: another tab spent it, or it is on the
        // wire in a grant still unanswered. The call goes to the provider
        // then, as a call planned now would, or holds for that grant.
        let held = self.refresh_token.is_some();
        let endpoint_gone = !held || self.refresh_token_unanswered();
        let has_provider = self.config.has_provider;
        let cycle = self.cycle.as_mut()?;
        cycle.awaiting_grant = false;
        let in_flight = cycle.in_flight.as_mut()?;
        if in_flight.via == Via::TokenEndpoint && endpoint_gone {
            if has_provider {
                in_flight.via = Via::Provider;
            } else if held {
                cycle.holds_for_grant = true;
                cycle.retry_at = None;
                cycle.in_flight = None;
                return None;
            }
        }
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

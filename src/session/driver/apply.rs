//! The session's effects carried out: events, the call, waking waiters, the
//! timer (and its 60 s cap), and `destroy()`.

use super::{destroyed, Driver, Effect, Proofs, Purpose, Reply, Tabs, WAKE_CHECK_MS};
use crate::error::ErrorCode;
use crate::session::machine::{Effects, State};
use crate::session::schedule::MAX_TIMER_MS;
use crate::time::Millis;

impl Driver {
    /// Carries out the session's `fx`: events, the call, waking waiters,
    /// the login handler (in that order).
    pub(super) fn apply(&mut self, fx: Effects, now: Millis) {
        self.dirty = true;
        let events = self.session.drain_events();
        if !events.is_empty() {
            self.generation += 1;
            self.persist();
        }
        if let Some(id) = fx.abort {
            self.push(Effect::AbortCall(id));
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
            self.push(Effect::LoginNeeded { code, reason });
        }
    }

    pub(super) fn tick(&mut self, now: Millis) {
        if self.tabs.as_ref().is_some_and(|t| t.round_over(now)) {
            self.finish_round(now);
        }
        self.give_up_late_grants(now);
        self.proofs_overdue(now);
        let fx = self.session.tick(now);
        self.apply(fx, now);
    }

    pub(super) fn destroy(&mut self, now: Millis) {
        if self.session.state() == State::Destroyed {
            return;
        }
        let fx = self.session.destroy();
        self.apply(fx, now);
        self.admission = None;
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
                self.push(Effect::ReleaseLock(lock));
            }
        }
        self.armed = None;
        self.push(Effect::ClearTimer);
        self.push(Effect::Close);
    }

    /// Arms the timer for the session's next wake (and a round's end),
    /// capped at [`WAKE_CHECK_MS`]; keeps a pending timer that fires no
    /// later for the same wake.
    pub(super) fn settle_timer(&mut self, now: Millis) {
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
                self.push(Effect::ClearTimer);
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
        self.push(Effect::ArmTimer {
            delay_ms: delay as u32,
        });
    }
}

/// The earlier of two optional times.
fn min_of(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

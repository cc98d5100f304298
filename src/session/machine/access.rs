//! A request's token: [`Session::access`], and a 401's
//! [`Session::unauthorized`].

use super::*;

impl Session {
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
}

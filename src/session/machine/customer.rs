//! Setting, resuming and clearing the customer, and `destroy()`.

use super::*;

impl Session {
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
    pub(super) fn learn_clock(&mut self, credential: &Credential) {
        if self.clock.agreed.is_none() {
            self.clock.agreed = credential.clock_evidence.agreed;
        }
    }

    pub(super) fn drop_token(&mut self) {
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
}

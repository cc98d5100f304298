//! The driver's side of the cross-tab protocol ([`super::tabs`]): the lock
//! granted or broken, the `want` round, another tab's token adopted, the
//! channel's messages.

use super::{tabs, Driver, Effect, LockId};
use crate::secret::SecretString;
use crate::session::machine::Credential;
use crate::time::Millis;

impl Driver {
    /// The refresh lock is held: ask the other tabs for their token before
    /// the call waiting for it goes out.
    pub(super) fn lock_granted(&mut self, now: Millis, lock: LockId) {
        let customer = self
            .session
            .call_awaiting_grant()
            .and(self.session.customer_id().map(str::to_owned));
        let Some(tabs) = &mut self.tabs else {
            self.push(Effect::ReleaseLock(lock));
            return;
        };
        if !tabs.granted(lock) {
            // Held already (an earlier request of this tab's), or stale.
            self.push(Effect::ReleaseLock(lock));
            return;
        }
        match customer.filter(|_| tabs.elects()) {
            Some(customer) => {
                let (prefix, own) = tabs.start_round(customer);
                self.push(Effect::CountPeers { prefix, own });
            }
            None => self.finish_round(now),
        }
    }

    /// Web Locks failed (lock request `lock`, or the presence lock): they
    /// count as broken, and the call waiting for the lock goes ahead in
    /// this tab alone, its deadline counted from now.
    pub(super) fn locks_broken(&mut self, now: Millis, lock: Option<LockId>) {
        if let Some(tabs) = &mut self.tabs {
            tabs.locks_failed(lock);
        }
        if let Some(id) = self.session.call_awaiting_grant() {
            self.grant(now, id);
        }
    }

    pub(super) fn peers_counted(&mut self, now: Millis, peers: Vec<String>) {
        let Some(tabs) = &mut self.tabs else {
            return;
        };
        match tabs.peers_counted(peers, now) {
            Some(Some(want)) => self.push(Effect::Post(SecretString::new(want))),
            Some(None) => self.finish_round(now),
            None => {}
        }
    }

    /// The `want` round ended: take the offers that satisfy the session,
    /// then make the call still waiting for the lock.
    pub(super) fn finish_round(&mut self, now: Millis) {
        let Some(tabs) = &mut self.tabs else {
            return;
        };
        let (customer, offers) = tabs.end_round();
        for credential in offers {
            if customer.is_some() && self.session.customer_id() == customer.as_deref() {
                self.adopt(now, credential);
            }
        }
        let holds = match (&self.tabs, self.session.customer_id()) {
            (Some(tabs), Some(c)) => tabs.holds(c),
            _ => false,
        };
        if let (Some(id), true) = (self.session.call_awaiting_grant(), holds) {
            self.grant(now, id);
        }
        self.dirty = true;
    }

    /// Lets the other tabs have the refresh lock once this tab's cycle ended.
    pub(super) fn release_lock_when_done(&mut self) {
        let s = &self.session;
        // Also while a grant that presented the refresh token the other tabs
        // hold is unanswered: they would present it too.
        let busy = s.refreshing() || s.refresh_token_unanswered();
        let refreshing = busy.then(|| s.customer_id()).flatten();
        if let Some(lock) = self
            .tabs
            .as_mut()
            .and_then(|t| t.release_unless(refreshing))
        {
            self.push(Effect::ReleaseLock(lock));
        }
    }

    pub(super) fn adopt(&mut self, now: Millis, credential: Credential) {
        if self.unbound(&credential).is_some() {
            // Another tab's token not bound to this key: never sent with a
            // proof as if it were, nor downgraded to bearer.
            return;
        }
        let before = self.refresh_token_mark();
        let jitter = self.jitter();
        let fx = self.session.adopt(credential, now, jitter);
        self.apply(fx, now);
        self.persist_taken_refresh_token(before);
    }

    /// The refresh token held and the event generation, before another
    /// tab's message may change the refresh token.
    pub(super) fn refresh_token_mark(&self) -> (Option<SecretString>, u64) {
        (self.session.refresh_token().cloned(), self.generation)
    }

    /// Another tab's refresh token taken without an event (shared, or with
    /// a token not adopted) goes to `sessionStorage` as a rotation of our
    /// own does: the stored one is spent, and a reload presenting it would
    /// read as reuse (RFC 9700 §4.14). With an event, `apply` persisted.
    pub(super) fn persist_taken_refresh_token(
        &mut self,
        (held, generation): (Option<SecretString>, u64),
    ) {
        if self.generation == generation && self.session.refresh_token() != held.as_ref() {
            self.persist();
        }
    }

    pub(super) fn receive(&mut self, now: Millis, text: &str) {
        if self.tabs.is_none() {
            return;
        }
        let Some(msg) = tabs::Message::read(text) else {
            return;
        };
        let customer = self.session.customer_id().map(str::to_owned);
        if let Some(spent) = msg.spent_refresh_token(customer.as_deref()) {
            let before = self.refresh_token_mark();
            self.session.forget_refresh_token(&spent);
            self.persist_taken_refresh_token(before);
        }
        if let Some((refresh_token, at)) = msg.refresh_token(customer.as_deref()) {
            let before = self.refresh_token_mark();
            self.session.share_refresh_token(refresh_token, at);
            self.persist_taken_refresh_token(before);
        }
        match msg.kind.as_str() {
            "want" => {
                let same = customer.is_some() && msg.customer_id == customer;
                let offer = self
                    .session
                    .credential()
                    .filter(|c| same && c.is_valid_at(now));
                // Without a token to offer, still the refresh tokens: the
                // asker is about to present the one it holds.
                let fields = match offer {
                    Some(c) => tabs::token_fields(&self.session, c),
                    None if same => tabs::refresh_fields(&self.session),
                    None => None,
                };
                let Some(tabs) = &self.tabs else {
                    return;
                };
                let answer = tabs.have(&msg, fields);
                self.push(Effect::Post(SecretString::new(answer)));
            }
            "have" => {
                let offer = customer.as_deref().and_then(|c| msg.offer(c));
                let taken = self
                    .tabs
                    .as_mut()
                    .is_some_and(|t| t.take_offer(&msg, offer));
                if taken {
                    self.finish_round(now);
                }
            }
            "token" => {
                if let Some(c) = customer.as_deref().and_then(|c| msg.offer(c)) {
                    self.adopt(now, c);
                }
            }
            "logout" if customer.is_some() && msg.customer_id == customer => {
                let anonymous_id = self.new_anonymous_id();
                if let Ok(fx) = self.session.clear_customer(anonymous_id) {
                    self.apply(fx, now);
                    self.new_proof_key(now);
                }
            }
            // A tab with no customer takes the new key too (the tabs keep
            // sharing one); a tab of another customer keeps the key its
            // tokens are bound to.
            "logout" if customer.is_none() => self.new_proof_key(now),
            _ => {}
        }
    }
}

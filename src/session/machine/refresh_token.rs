//! The refresh token's bookkeeping: rotated, shared by another tab,
//! spent, or presented by a grant still unanswered.

use super::{CallId, Session, SPENT_REFRESH_TOKENS};
use crate::secret::SecretString;
use crate::time::Millis;

impl Session {
    /// Drops the refresh token `presented` (the token endpoint refused it),
    /// so the next attempt asks the provider. A newer one that arrived
    /// meanwhile (another tab's rotation) is kept: it was never refused.
    pub fn forget_refresh_token(&mut self, presented: &SecretString) {
        if !self.spent_refresh_tokens.contains(presented) {
            if self.spent_refresh_tokens.len() == SPENT_REFRESH_TOKENS {
                crate::session::take_at(&mut self.spent_refresh_tokens, 0);
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
        crate::session::remove_all(&mut self.unanswered_grants, |t| t == presented);
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

    pub(super) fn keep_refresh_token(
        &mut self,
        refresh_token: SecretString,
        received_at: Millis,
    ) -> bool {
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
}

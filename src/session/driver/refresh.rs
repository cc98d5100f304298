//! The calls: the provider and the token endpoint's refresh grants (with
//! the cross-tab lock first), stale grants still listened to, and admitting an
//! answer as a credential.

use super::{proofs, tabs, Driver, Effect, HttpAnswer, Purpose, GRANT_TIMEOUT_MS, STALE_GRANTS};
use crate::error::{Error, ErrorCode, Result};
use crate::jose::verify::VerifyOptions;
use crate::secret::SecretString;
use crate::session::admit::{self, Candidate, Introspection, Rules};
use crate::session::machine::{Call, CallId, Credential, Source, Via};
use crate::session::schedule::{self, ClockEvidence};
use crate::time::Millis;

/// A refresh grant on the wire whose call is over.
#[derive(Debug)]
pub(super) struct StaleGrant {
    pub(super) call: CallId,
    /// The refresh token it presented.
    pub(super) presented: SecretString,
    /// When it was posted (page clock): given up on at
    /// [`GRANT_TIMEOUT_MS`] after.
    pub(super) posted_at: Millis,
    /// Given up on already (still listened to: a late rotation counts).
    pub(super) given_up: bool,
}

/// An answer whose token the host is checking: what admitting it needs,
/// kept from when it arrived.
#[derive(Debug)]
pub(super) struct Admission {
    pub(super) call: Call,
    pub(super) candidate: Candidate,
    pub(super) received_at: Millis,
    pub(super) customer_id: String,
    pub(super) refused: Option<SecretString>,
    pub(super) clock: ClockEvidence,
}

impl Driver {
    /// Starts `call`, first taking the cross-tab refresh lock unless this
    /// tab holds it already.
    pub(super) fn start_call(&mut self, now: Millis, call: Call) {
        let customer = self.session.customer_id().map(str::to_owned);
        if let (Some(tabs), Some(customer)) = (&mut self.tabs, customer) {
            if tabs.elects() && !tabs.holds(&customer) {
                self.session.await_grant(call.id);
                let (lock, name) = tabs.acquire(&customer);
                self.push(Effect::AcquireLock { lock, name });
                return;
            }
        }
        self.grant(now, call.id);
    }

    /// Starts call `id` now, unless the session no longer wants it.
    pub(super) fn grant(&mut self, now: Millis, id: CallId) {
        let Some(call) = self.session.call_granted(id, now) else {
            return;
        };
        match call.via {
            Via::Provider => self.push(Effect::CallProvider(call)),
            Via::TokenEndpoint => match self.session.refresh_token().cloned() {
                Some(refresh_token) => {
                    let body = self.config.grant.refresh_body(&refresh_token);
                    if let Some((earlier, presented)) = self.grant.replace((call, refresh_token)) {
                        self.keep_stale_grant(earlier, presented, now);
                    }
                    if self.proofs.is_none() {
                        self.push(Effect::PostRefreshGrant {
                            call: call.id,
                            body,
                            proof: None,
                        });
                        return;
                    }
                    // The config check makes `tokenEndpoint` known with `dpop`.
                    let url = self.config.token_endpoint.clone().unwrap_or_default();
                    self.prove(
                        now,
                        Purpose::Grant {
                            call: call.id,
                            body,
                            url,
                        },
                    );
                }
                None => self.fail_call(
                    now,
                    call.id,
                    Error::new(ErrorCode::RefreshFailed, "no refresh token"),
                ),
            },
        }
    }

    pub(super) fn take_grant(&mut self, call: CallId) -> Option<(Call, SecretString)> {
        self.grant.take_if(|(c, _)| c.id == call)
    }

    pub(super) fn keep_stale_grant(&mut self, call: Call, presented: SecretString, now: Millis) {
        if self.stale_grants.len() == STALE_GRANTS {
            // No longer listened to: what became of its refresh token will
            // never be known.
            let oldest = crate::session::take_at(&mut self.stale_grants, 0);
            if let Some(oldest) = oldest.filter(|g| !g.given_up) {
                self.give_up_grant(&oldest.presented, now);
            }
        }
        self.session.grant_unanswered(presented.clone());
        self.stale_grants.push(StaleGrant {
            call: call.id,
            presented,
            posted_at: call.started_at,
            given_up: false,
        });
    }

    /// A grant whose answer never came (or will never be heard): its
    /// refresh token may have been rotated, so it is never presented again.
    pub(super) fn give_up_grant(&mut self, presented: &SecretString, now: Millis) {
        self.session.forget_refresh_token(presented);
        self.session.grant_settled(presented, now);
        self.share_refresh_token();
    }

    /// The session's refresh token changed: stored, and told to the other
    /// tabs before the refresh lock is let go (they hold the old one).
    pub(super) fn share_refresh_token(&mut self) {
        self.persist();
        if let Some(msg) = self
            .tabs
            .as_ref()
            .and_then(|_| tabs::refresh(&self.session))
        {
            self.push(Effect::Post(SecretString::new(msg)));
        }
    }

    /// The stale grant of `call` settled, whatever its outcome.
    pub(super) fn take_stale_grant(&mut self, now: Millis, call: CallId) -> Option<SecretString> {
        let at = self.stale_grants.iter().position(|g| g.call == call)?;
        let grant = crate::session::take_at(&mut self.stale_grants, at)?;
        self.session.grant_settled(&grant.presented, now);
        Some(grant.presented)
    }

    /// Gives up on the stale grants unanswered for [`GRANT_TIMEOUT_MS`].
    pub(super) fn give_up_late_grants(&mut self, now: Millis) {
        for i in 0..self.stale_grants.len() {
            let Some(g) = self.stale_grants.get_mut(i) else {
                break;
            };
            if !g.given_up && now >= g.posted_at.saturating_add(GRANT_TIMEOUT_MS) {
                g.given_up = true;
                let presented = g.presented.clone();
                self.give_up_grant(&presented, now);
            }
        }
    }

    /// When the next stale grant is given up on, if any waits.
    pub(super) fn next_grant_give_up(&self) -> Option<Millis> {
        self.stale_grants
            .iter()
            .filter(|g| !g.given_up)
            .map(|g| g.posted_at.saturating_add(GRANT_TIMEOUT_MS))
            .min()
    }

    /// The answer to a grant whose call is over: only its refresh token
    /// counts (kept when rotated, forgotten when refused). A cycle that
    /// waited for it goes on at once.
    pub(super) fn stale_grant_answered(&mut self, now: Millis, call: CallId, answer: &HttpAnswer) {
        let Some(presented) = self.take_stale_grant(now, call) else {
            return;
        };
        if answer.status == 400 || answer.status == 401 {
            self.session.forget_refresh_token(&presented);
        } else if (200..300).contains(&answer.status) {
            self.keep_issued_refresh_token(now, call, answer.body.secret());
        }
        self.tick(now);
    }

    /// A grant's POST failed without an answer: `refresh_failed` (no token
    /// endpoint known) and `provider_timeout` (the host's
    /// [`GRANT_TIMEOUT_MS`] bound: the endpoint may have rotated it) spend
    /// the refresh token presented; after a plain `network` failure it is
    /// presented again.
    pub(super) fn grant_failed(&mut self, now: Millis, call: CallId, error: Error) {
        let spends = matches!(
            error.code(),
            ErrorCode::RefreshFailed | ErrorCode::ProviderTimeout
        );
        let Some((grant, presented)) = self.take_grant(call) else {
            if let Some(presented) = self.take_stale_grant(now, call) {
                if spends {
                    self.session.forget_refresh_token(&presented);
                }
                self.tick(now);
            }
            return;
        };
        if spends {
            // Forgotten, so the next attempt asks the provider.
            self.session.forget_refresh_token(&presented);
        }
        self.fail_call(now, grant.id, error);
    }

    /// The token endpoint's answer: refused (`refresh_failed`), failed
    /// (`network`, with `Retry-After` on 429 / 503), or a token response.
    pub(super) fn token_endpoint_answered(
        &mut self,
        now: Millis,
        call: CallId,
        answer: HttpAnswer,
    ) {
        if let (Some(proofs), Some(nonce), Some(url)) = (
            &mut self.proofs,
            &answer.dpop_nonce,
            &self.config.token_endpoint,
        ) {
            proofs.nonce_seen(url, nonce);
        }
        if self.retry_grant_with_nonce(now, call, &answer) {
            return;
        }
        let Some((call, presented)) = self.take_grant(call) else {
            return self.stale_grant_answered(now, call, &answer);
        };
        let status = answer.status;
        if (status == 400 || status == 401) && proofs::is_proof_error(answer.body.secret()) {
            // The proof was refused, not the refresh token: the server
            // checks the proof before it spends anything, so the token is
            // kept for the next attempt (RFC 9449 §5, review 18 finding 1).
            let e = Error::new(
                ErrorCode::DpopInvalid,
                "the token endpoint refused the DPoP proof (the refresh token is kept)",
            );
            self.fail_call(now, call.id, e);
            return;
        }
        if status == 400 || status == 401 {
            // invalid_grant: the refresh token is spent or revoked;
            // forgotten, so the next attempt asks the provider.
            self.session.forget_refresh_token(&presented);
            let e = Error::new(
                ErrorCode::RefreshFailed,
                "the token endpoint refused the refresh token",
            );
            self.fail_call(now, call.id, e);
            return;
        }
        if !(200..300).contains(&status) {
            let mut e = Error::new(ErrorCode::Network, "the token endpoint failed");
            if status == 429 || status == 503 {
                let wait = answer
                    .retry_after
                    .as_deref()
                    .and_then(|v| schedule::parse_retry_after(v, now));
                if let Some(ms) = wait {
                    e = e.with_retry_after(ms);
                }
            }
            self.fail_call(now, call.id, e);
            return;
        }
        let server_date = answer
            .date
            .as_deref()
            .and_then(|v| schedule::parse_http_date(v, now));
        self.keep_issued_refresh_token(now, call.id, answer.body.secret());
        self.received(now, call, answer.body.secret(), server_date);
    }

    /// The token endpoint rotated the refresh token: keep the new one (and
    /// hand it to the other tabs and `sessionStorage`) before the access
    /// token is admitted, since whatever that check says the old one is
    /// spent ([`Session::refresh_token_issued`]).
    pub(super) fn keep_issued_refresh_token(&mut self, now: Millis, call: CallId, answer: &str) {
        let Some(refresh_token) = crate::session::grant::issued_refresh_token(answer) else {
            return;
        };
        if self.session.refresh_token_issued(call, refresh_token, now) {
            self.share_refresh_token();
        }
    }

    /// An answer to `call` arrived at `now`: admit it, asking the host for
    /// the signature check and introspection when they are needed.
    pub(super) fn received(
        &mut self,
        now: Millis,
        call: Call,
        text: &str,
        server_date: Option<Millis>,
    ) {
        let candidate = match Candidate::read(text) {
            Ok(c) => c.with_server_date(server_date),
            Err(e) => return self.finish(now, call, Err(e)),
        };
        let checks = self.config.checks_signatures();
        if checks && !candidate.is_jwt() {
            let e = Error::malformed("a signed JWT is required (validation has a key)");
            return self.finish(now, call, Err(e));
        }
        let introspect =
            candidate.needs_introspection() && self.config.introspection_endpoint.is_some();
        let admission = Admission {
            call,
            candidate,
            received_at: now,
            customer_id: self
                .session
                .customer_id()
                .map(str::to_owned)
                .unwrap_or_default(),
            refused: self.session.refused_token().cloned(),
            clock: self.session.clock_evidence(),
        };
        if !checks && !introspect {
            return self.admit(now, admission, Ok(None));
        }
        let signature = checks.then(|| Box::new(self.verify_options(&admission)));
        let token = SecretString::new(admission.candidate.token());
        self.admission = Some(admission);
        self.push(Effect::CheckToken {
            call: call.id,
            token,
            signature,
            introspect,
        });
    }

    /// The options `j`'s signature is checked with: `validation.*` (typed
    /// once, with the options) and the session's customer.
    pub(super) fn verify_options(&self, j: &Admission) -> VerifyOptions {
        let rules = Rules {
            validation: &self.config.validation,
            customer_id: &j.customer_id,
            refused: j.refused.as_ref(),
            needs_refresh: j.call.needs_refresh,
            asked_at: Some(j.call.started_at),
            clock: j.clock,
        };
        admit::session_verify_options(&rules)
    }

    /// The host's checks of `j`'s token ended with `checked`: admit it.
    pub(super) fn admit(
        &mut self,
        now: Millis,
        j: Admission,
        checked: Result<Option<Introspection>>,
    ) {
        let Admission {
            call,
            candidate,
            received_at,
            customer_id,
            refused,
            clock,
        } = j;
        let admitted = checked.and_then(|introspection| {
            let rules = Rules {
                validation: &self.config.validation,
                customer_id: &customer_id,
                refused: refused.as_ref(),
                needs_refresh: call.needs_refresh,
                asked_at: Some(call.started_at),
                clock,
            };
            candidate.admit(&rules, received_at, introspection)
        });
        self.finish(now, call, admitted);
    }

    /// Call `call`'s answer was admitted, or refused.
    pub(super) fn finish(&mut self, now: Millis, call: Call, admitted: Result<Credential>) {
        let source = match call.via {
            Via::Provider => Source::Provider,
            Via::TokenEndpoint => Source::TokenEndpoint,
        };
        let admitted = admitted.and_then(|c| match self.unbound(&c) {
            Some(e) => Err(e),
            None => Ok(c),
        });
        match admitted {
            Ok(credential) => {
                let jitter = self.jitter();
                let fx = self
                    .session
                    .call_succeeded(call.id, credential, source, jitter);
                // Announced before the refresh lock is let go, once the
                // session took (or, spent, refused) the answer's refresh
                // token: the one it holds is what is shared.
                let announced = match (&self.tabs, fx.release.is_some()) {
                    (Some(_), true) => self
                        .session
                        .credential()
                        .and_then(|c| tabs::token(&self.session, c)),
                    _ => None,
                };
                if let Some(msg) = announced {
                    self.push(Effect::Post(SecretString::new(msg)));
                }
                self.apply(fx, now);
            }
            Err(e) => self.fail_call(now, call.id, e),
        }
    }

    pub(super) fn fail_call(&mut self, now: Millis, id: CallId, error: Error) {
        let fx = self.session.call_failed(id, error, now);
        self.apply(fx, now);
    }
}

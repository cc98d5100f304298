//! The app's requests: `setCustomer` / `clearCustomer`, waiters for a
//! token (`getToken`, `authHeaders`, `fetch`), the 401 → one refresh → one
//! replay decision, and which headers go to which origin ([`headers_for`],
//! the `apiOrigins` allow-list).

use super::{
    destroyed, is_nonce_challenge, tabs, DpopAnswer, Driver, Effect, Header, ProofTarget, Purpose,
    Reply, RequestId, MAX_WAITS,
};
use crate::error::{Error, ErrorCode, Result};
use crate::options::Storage;
use crate::secret::SecretString;
use crate::session::admit;
use crate::session::machine::{Access, Credential, Effects, State};
use crate::time::Millis;
use crate::wire::cat;

/// The headers for a request with `credential` (or anonymously).
pub fn headers_for(credential: Option<&Credential>, anonymous_id: &str) -> Vec<Header> {
    let mut out = Vec::with_capacity(4);
    if let Some(c) = credential {
        out.push((
            "Authorization".to_owned(),
            SecretString::new(cat(&[&c.scheme, " ", c.token.secret()])),
        ));
        out.extend(
            c.headers
                .iter()
                .map(|(name, value)| (name.clone(), SecretString::new(value.clone()))),
        );
    }
    out.push((
        "Chat-Anonymous-Id".to_owned(),
        SecretString::new(anonymous_id),
    ));
    out
}

/// What a waiting request wants once a token is settled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Want {
    /// `setCustomer`.
    Customer,
    /// `getToken`.
    Token,
    /// `authHeaders`.
    Headers,
    /// `fetch`, before its first send.
    Send,
    /// `fetch` after a 401: the token to replay with.
    Replay,
}

#[derive(Debug)]
pub(super) struct Pending {
    pub(super) request: RequestId,
    pub(super) want: Want,
    pub(super) force: bool,
    pub(super) waits: u32,
    /// [`Session::customer_generation`] when it was made: it is answered
    /// for that customer only.
    pub(super) generation: u64,
}

/// A `fetch` sent with the SDK's headers.
#[derive(Debug)]
pub(super) struct Sent {
    pub(super) request: RequestId,
    pub(super) follows_redirects: bool,
    pub(super) replayable: bool,
    /// The token it went out with (`None`: anonymously).
    pub(super) token_used: Option<SecretString>,
    /// [`Session::customer_generation`] when it was made: a 401 after the
    /// customer changed stands (no refresh, no replay as someone else).
    pub(super) generation: u64,
    /// Sent a second time already.
    pub(super) replayed: bool,
    /// Its method and URL, for a DPoP proof.
    pub(super) target: Option<ProofTarget>,
    /// Sent again once already after a `use_dpop_nonce` challenge.
    pub(super) nonce_retried: bool,
}

impl Driver {
    pub(super) fn allows(&self, origin: Option<&str>) -> bool {
        origin.is_some_and(|o| self.config.allows_origin(o))
    }

    /// Drops `request`'s entry in `sent` (a fetch or a DPoP `authHeaders`).
    pub(super) fn forget_sent(&mut self, request: RequestId) {
        crate::session::remove_all(&mut self.sent, |s| s.request == request);
    }

    /// Queues `effect` for [`Driver::poll`]. Out of line: the push (with
    /// its growth path) is otherwise copied into each of its ~30 callers.
    #[inline(never)]
    pub(super) fn push(&mut self, effect: Effect) {
        self.outbox.push(effect);
    }

    pub(super) fn reply(&mut self, request: RequestId, reply: Reply) {
        self.push(Effect::Reply { request, reply });
    }

    pub(super) fn set_customer(
        &mut self,
        now: Millis,
        request: RequestId,
        customer_id: &str,
        provider: bool,
        stored: Option<String>,
    ) {
        if self.session.state() == State::Destroyed {
            self.reply(request, Reply::Reject(destroyed()));
            return;
        }
        if provider {
            self.session.set_has_provider(true);
        }
        let stored = stored
            .filter(|_| self.config.storage == Storage::Session && self.storage_ok)
            .and_then(|text| admit::restore(&text, customer_id))
            // With `dpop`, a stored token that is not bound to this key is
            // not resumed (it was admitted under another configuration).
            .filter(|c| self.unbound(c).is_none());
        let jitter = self.jitter();
        let fx = match stored {
            Some(c) => self.session.resume(customer_id, c, now, jitter),
            None => self.session.set_customer(customer_id, now),
        };
        match fx {
            Ok(fx) => {
                self.apply(fx, now);
                self.ask(now, self.pending(request, Want::Customer));
            }
            Err(e) => self.reply(request, Reply::Reject(e)),
        }
    }

    pub(super) fn clear_customer(&mut self, now: Millis, request: RequestId) {
        let customer = self.session.customer_id().map(str::to_owned);
        let anonymous_id = self.new_anonymous_id();
        match self.session.clear_customer(anonymous_id) {
            Ok(fx) => {
                self.apply(fx, now);
                self.new_proof_key(now);
                if let (Some(customer), true) = (customer, self.tabs.is_some()) {
                    self.push(Effect::Post(SecretString::new(tabs::logout(&customer))));
                }
                self.reply(request, Reply::Done);
            }
            Err(e) => self.reply(request, Reply::Reject(e)),
        }
    }

    /// Asks the session for `p`'s token: answers, or waits for the next
    /// release.
    pub(super) fn ask(&mut self, now: Millis, mut p: Pending) {
        let (access, fx) = self.session.access(now, p.force);
        p.force = false;
        self.settle(now, p, access, fx);
    }

    /// Carries out `fx`, then answers `p` as `access` says (or parks it
    /// until the next release).
    pub(super) fn settle(&mut self, now: Millis, mut p: Pending, access: Access, fx: Effects) {
        match access {
            Access::Wait => {
                p.waits += 1;
                if p.waits > MAX_WAITS {
                    self.apply(fx, now);
                    let e = Error::new(
                        ErrorCode::RefreshFailed,
                        "no token after repeated refreshes",
                    );
                    return self.reject(p, e);
                }
                self.waiting.push(p);
                self.apply(fx, now);
            }
            Access::Anonymous => {
                self.apply(fx, now);
                self.ready(now, p, false);
            }
            Access::Ready => {
                self.apply(fx, now);
                self.ready(now, p, true);
            }
            Access::Fail(e) => {
                self.apply(fx, now);
                self.reject(p, e);
            }
        }
    }

    /// `p` was made for a customer who is gone: a `setCustomer` that never
    /// authenticated, a token or headers wanted for them, a request not
    /// sent yet (its body was written for them) reject with
    /// `not_authenticated`; a request refused with 401 and waiting for a
    /// token to replay with gets that response.
    pub(super) fn orphaned(&mut self, p: Pending) {
        if p.want == Want::Replay {
            self.forget_sent(p.request);
            return self.reply(p.request, Reply::Response);
        }
        self.reject(p, customer_changed());
    }

    pub(super) fn reject(&mut self, p: Pending, e: Error) {
        // `Headers` has an entry too with `dpop` (its proof's target).
        if matches!(p.want, Want::Send | Want::Replay | Want::Headers) {
            self.forget_sent(p.request);
        }
        self.reply(p.request, Reply::Reject(e));
    }

    /// `p` gets its answer: with the session's token when `with_token`,
    /// else anonymously; a request of a customer who is gone never gets
    /// the current one's token ([`Driver::orphaned`]).
    pub(super) fn ready(&mut self, now: Millis, p: Pending, with_token: bool) {
        if p.generation != self.session.customer_generation() {
            return self.orphaned(p);
        }
        let credential = self.session.credential().filter(|_| with_token);
        let token = credential.map(|c| c.token.clone());
        let anonymous_id = self.session.anonymous_id();
        let sent = self.sent.iter().position(|s| s.request == p.request);
        let entry = sent.and_then(|i| self.sent.get_mut(i));
        let reply = match (p.want, entry) {
            (Want::Customer, _) => Reply::Done,
            (Want::Token, _) => Reply::Token(credential.map(|c| c.token.clone())),
            (Want::Headers, _) => Reply::Headers(headers_for(credential, anonymous_id)),
            (Want::Send, Some(sent)) => {
                sent.token_used = credential.map(|c| c.token.clone());
                Reply::Send {
                    headers: headers_for(credential, anonymous_id),
                    manual_redirect: sent.follows_redirects,
                    // Without DPoP, `fetch_answered` answers anything but a
                    // 401 or an opaque redirect of a first send with
                    // `Response` (whatever the session does meanwhile).
                    settles_unless: self.proofs.is_none().then_some(401),
                }
            }
            (Want::Replay, Some(sent)) => {
                match credential {
                    // Anonymous (the login handler was told), not
                    // replayable, or the same token again: the 401 stands.
                    Some(c) if sent.replayable && sent.token_used.as_ref() != Some(&c.token) => {
                        sent.replayed = true;
                        sent.token_used = Some(c.token.clone());
                        Reply::Replay {
                            headers: headers_for(Some(c), anonymous_id),
                        }
                    }
                    _ => {
                        self.forget_sent(p.request);
                        Reply::Response
                    }
                }
            }
            // Its entry is gone (the host reused the id): it still gets
            // an answer, never a promise that does not settle.
            (Want::Send | Want::Replay, None) => Reply::Reject(Error::new(
                ErrorCode::Network,
                "the request was superseded by another with its id",
            )),
        };
        let carries_headers = matches!(
            reply,
            Reply::Send { .. } | Reply::Replay { .. } | Reply::Headers(_)
        );
        if self.proofs.is_some() && carries_headers {
            // DPoP: the headers go out with a proof for this request.
            let target = match sent {
                Some(i) if p.want == Want::Headers => {
                    crate::session::take_at(&mut self.sent, i).and_then(|s| s.target)
                }
                Some(i) => self.sent.get(i).and_then(|s| s.target.clone()),
                None => None,
            };
            let Some(target) = target else {
                self.forget_sent(p.request);
                let e = Error::new(
                    ErrorCode::DpopInvalid,
                    "a DPoP proof needs the request's URL",
                )
                .with_detail("htu");
                return self.reply(p.request, Reply::Reject(e));
            };
            let purpose = Purpose::Reply {
                request: p.request,
                reply,
                target,
                token,
            };
            return self.prove(now, purpose);
        }
        self.reply(p.request, reply);
    }

    pub(super) fn fetch_answered(
        &mut self,
        now: Millis,
        request: RequestId,
        status: u16,
        opaque: bool,
        dpop: DpopAnswer,
    ) {
        let Some(sent) = self.sent.iter_mut().find(|s| s.request == request) else {
            // A plain request (another origin): its response as it is.
            return self.reply(request, Reply::Response);
        };
        if let (Some(proofs), Some(nonce), Some(target)) =
            (&mut self.proofs, &dpop.nonce, &sent.target)
        {
            proofs.nonce_seen(&target.url, nonce);
        }
        let challenged = dpop
            .www_authenticate
            .as_deref()
            .is_some_and(is_nonce_challenge);
        // Sent as a customer who is gone: the 401 stands (no refresh, no
        // nonce retry, and never a replay with the next customer's token).
        let current = sent.generation == self.session.customer_generation();
        if self.proofs.is_some()
            && current
            && status == 401
            && challenged
            && dpop.nonce.is_some()
            && sent.replayable
            && !sent.nonce_retried
        {
            // RFC 9449 §9: once more with the server's nonce and the same
            // token; no refresh (the token was not refused).
            let credential = self
                .session
                .credential()
                .filter(|_| sent.token_used.is_some());
            let headers = headers_for(credential, self.session.anonymous_id());
            let token = credential.map(|c| c.token.clone());
            sent.nonce_retried = true;
            sent.token_used = token.clone();
            let target = sent.target.clone().unwrap_or_default();
            let purpose = Purpose::Reply {
                request,
                reply: Reply::Replay { headers },
                target,
                token,
            };
            return self.prove(now, purpose);
        }
        // A nonce challenge not retried (not replayable, or the second one)
        // is no refusal of the token: a refresh would spend a refresh token
        // for nothing. The caller gets the 401 (review 18 finding 6).
        if status == 401 && !sent.replayed && current && !(self.proofs.is_some() && challenged) {
            let token_used = sent.token_used.clone();
            let p = Pending {
                generation: sent.generation,
                ..self.pending(request, Want::Replay)
            };
            let (access, fx) = self
                .session
                .unauthorized(token_used.as_ref().map(SecretString::secret), now);
            return self.settle(now, p, access, fx);
        }
        let follows_redirects = sent.follows_redirects;
        self.forget_sent(request);
        let reply = if follows_redirects && opaque {
            Reply::Reject(Error::new(
                ErrorCode::Network,
                "the API answered with a redirect: requests that carry credentials do not follow redirects",
            ))
        } else {
            Reply::Response
        };
        self.reply(request, reply);
    }

    /// The host resolved request `request` with its response as
    /// [`Reply::Send`]'s `settles_unless` allowed: its entry goes. Nothing
    /// else changes, so no effect follows (a host may call this directly,
    /// outside [`Driver::handle`]).
    pub fn fetch_settled(&mut self, request: RequestId) {
        crate::session::remove_all(&mut self.sent, |s| s.request == request);
    }

    /// Wakes every waiting request: `Ok` asks again, `Err` rejects; those of
    /// a customer who is gone get [`Driver::orphaned`]'s answer.
    pub(super) fn release(&mut self, now: Millis, result: Result<()>) {
        let waiting = std::mem::take(&mut self.waiting);
        let generation = self.session.customer_generation();
        for p in waiting {
            match &result {
                _ if p.generation != generation => self.orphaned(p),
                Ok(()) => self.ask(now, p),
                Err(e) => self.reject(p, e.clone()),
            }
        }
    }

    /// A request `request` wanting `want`, for the current customer.
    pub(super) fn pending(&self, request: RequestId, want: Want) -> Pending {
        Pending {
            request,
            want,
            force: false,
            waits: 0,
            generation: self.session.customer_generation(),
        }
    }
}

impl Sent {
    pub(super) fn new(
        request: RequestId,
        follows_redirects: bool,
        replayable: bool,
        target: Option<ProofTarget>,
        generation: u64,
    ) -> Sent {
        Sent {
            request,
            follows_redirects,
            replayable,
            token_used: None,
            generation,
            replayed: false,
            target,
            nonce_retried: false,
        }
    }
}

/// The answer to a request whose customer changed (another `setCustomer`,
/// `clearCustomer`, a logout in another tab) before it was answered.
fn customer_changed() -> Error {
    Error::new(
        ErrorCode::NotAuthenticated,
        "the customer changed before this request was answered",
    )
}

//! Option `dpop`, the driver's side: asking the host for the key and the
//! signatures, proofs overdue, `use_dpop_nonce` retries of a grant, and
//! which credentials a DPoP key cannot use (the state is [`super::proofs`]).

use super::{channel_name, proofs, Driver, Effect, HttpAnswer, Key, ProofId, Purpose, Reply};
use crate::error::{Error, ErrorCode};
use crate::secret::SecretString;
use crate::session::machine::{CallId, Credential};
use crate::time::Millis;
use crate::wire::cat;

impl Driver {
    /// Makes the proof `purpose` needs: its claims now, signed by the host
    /// (or once the key is ready).
    pub(super) fn prove(&mut self, now: Millis, purpose: Purpose) {
        let Some(htu) = crate::jose::dpop::htu(purpose.url()) else {
            let e = Error::new(
                ErrorCode::DpopInvalid,
                "the request URL is not an http(s) URL a DPoP proof can name",
            )
            .with_detail("htu");
            return self.proof_failed(now, purpose, e);
        };
        let (htm, ath) = match &purpose {
            Purpose::Reply { target, token, .. } => (
                target.method.clone(),
                token
                    .as_ref()
                    .map(|t| crate::jose::dpop::access_token_hash(t.secret())),
            ),
            // Refresh grants carry no access token (RFC 9449 §5).
            Purpose::Grant { .. } => ("POST".to_owned(), None),
        };
        let jti = crate::wire::base64url::encode(&self.random_bytes());
        let Some(proofs) = &mut self.proofs else {
            return;
        };
        let key = match &proofs.key {
            Key::Loading => return proofs.wait_for_key(purpose),
            Key::Failed => return self.proof_failed(now, purpose, no_key()),
            Key::Ready(key, _) => key,
        };
        let claims = crate::jose::dpop::ProofClaims {
            htm,
            htu,
            // The issuer's clock as the session estimates it (the one
            // it corrects expiry by): a page clock minutes off would
            // otherwise put `iat` out of the server's window.
            iat: now
                .saturating_add(self.session.credential().map_or(0, |c| c.clock_offset))
                .div_euclid(1000),
            jti,
            ath,
            nonce: proofs.nonce_for(purpose.url()).map(str::to_owned),
        };
        let signing_input = crate::jose::dpop::signing_input(key, &claims);
        let proof = proofs.signing(purpose, signing_input.clone(), now);
        self.push(Effect::SignProof {
            proof,
            signing_input,
        });
    }

    /// `purpose` gets no proof: its request rejects, its grant fails.
    pub(super) fn proof_failed(&mut self, now: Millis, purpose: Purpose, e: Error) {
        match purpose {
            Purpose::Reply { request, .. } => {
                self.forget_sent(request);
                self.reply(request, Reply::Reject(e));
            }
            Purpose::Grant { call, .. } => {
                if self.take_grant(call).is_some() {
                    self.fail_call(now, call, e);
                }
            }
        }
    }

    pub(super) fn proof_key_ready(&mut self, now: Millis, x: &str, y: &str) {
        let Some(proofs) = &mut self.proofs else {
            return;
        };
        // A key after the load timed out (Failed) is still taken.
        if matches!(proofs.key, Key::Ready(..)) {
            return;
        }
        proofs.key = match crate::jose::dpop::ProofKey::from_coordinates(x, y) {
            Ok(key) => {
                let jkt = key.thumbprint();
                Key::Ready(key, jkt)
            }
            Err(_) => Key::Failed,
        };
        for purpose in proofs.take_waiting() {
            self.prove(now, purpose);
        }
    }

    pub(super) fn proof_key_failed(&mut self, now: Millis) {
        let Some(proofs) = &mut self.proofs else {
            return;
        };
        if !matches!(proofs.key, Key::Loading) {
            return;
        }
        proofs.key = Key::Failed;
        for purpose in proofs.take_waiting() {
            self.proof_failed(now, purpose, no_key());
        }
    }

    /// After a logout: a new DPoP key, so the next customer of this browser
    /// is not linked to the last one by the key's thumbprint.
    pub(super) fn new_proof_key(&mut self, now: Millis) {
        let Some(proofs) = &mut self.proofs else {
            return;
        };
        let replace = match &proofs.key {
            Key::Ready(key, _) => Some(key.x().to_owned()),
            Key::Failed => None,
            // The load under way gives the key the next proofs use.
            Key::Loading => return,
        };
        proofs.reload(now);
        self.push(Effect::LoadProofKey {
            name: cat(&[&channel_name(&self.config), ":dpop"]),
            replace,
        });
    }

    /// No wait without a bound: a key still loading, or a proof still
    /// unsigned, after [`proofs::PROOF_WAIT_MS`] rejects what waits for it.
    /// A key that comes later is still taken.
    pub(super) fn proofs_overdue(&mut self, now: Millis) {
        let Some(proofs) = &mut self.proofs else {
            return;
        };
        if proofs.key_overdue(now) {
            self.proof_key_failed(now);
        }
        let late = self
            .proofs
            .as_mut()
            .map(|p| p.take_overdue(now))
            .unwrap_or_default();
        for purpose in late {
            let e = Error::new(
                ErrorCode::DpopUnbound,
                "the DPoP proof was not signed in time (WebCrypto did not answer)",
            );
            self.proof_failed(now, purpose, e);
        }
    }

    pub(super) fn proof_signed(&mut self, now: Millis, proof: ProofId, signature: Option<Vec<u8>>) {
        let Some((purpose, input)) = self.proofs.as_mut().and_then(|p| p.take_signing(proof))
        else {
            return;
        };
        let assembled = signature
            .ok_or_else(|| {
                Error::new(ErrorCode::DpopInvalid, "the DPoP proof could not be signed")
                    .with_detail("signature")
            })
            .and_then(|sig| crate::jose::dpop::assemble(&input, &sig));
        let proof = match assembled {
            Ok(p) => SecretString::new(p),
            Err(e) => return self.proof_failed(now, purpose, e),
        };
        match purpose {
            Purpose::Reply {
                request, mut reply, ..
            } => {
                if let Reply::Send { headers, .. }
                | Reply::Replay { headers }
                | Reply::Headers(headers) = &mut reply
                {
                    headers.push((crate::jose::dpop::SCHEME.to_owned(), proof));
                }
                self.reply(request, reply);
            }
            Purpose::Grant { call, body, .. } => {
                // Superseded or aborted while it was signed: not posted.
                if self.grant.as_ref().is_some_and(|(c, _)| c.id == call) {
                    self.push(Effect::PostRefreshGrant {
                        call,
                        body,
                        proof: Some(proof),
                    });
                }
            }
        }
    }

    /// With option `dpop`, why `credential` cannot be used: not issued as
    /// a DPoP token, or bound to another key than this instance's.
    pub(super) fn unbound(&self, credential: &Credential) -> Option<Error> {
        let proofs = self.proofs.as_ref()?;
        if !credential
            .scheme
            .eq_ignore_ascii_case(crate::jose::dpop::SCHEME)
        {
            return Some(Error::new(
                ErrorCode::DpopUnbound,
                "the token is not DPoP-bound (its token_type is not DPoP)",
            ));
        }
        let bound = credential
            .claims
            .as_ref()
            .and_then(|c| crate::jose::dpop::bound_thumbprint(&c.members));
        match (bound, proofs.jkt()) {
            (Some(bound), Some(own)) if bound != own => Some(Error::new(
                ErrorCode::DpopUnbound,
                "the token is bound to another DPoP key (cnf.jkt)",
            )),
            _ => None,
        }
    }

    /// A `use_dpop_nonce` refusal of grant `call`, with a nonce to use:
    /// the grant goes once more with a new proof (RFC 9449 §8). The refresh
    /// token was not spent: the server checks the proof first.
    pub(super) fn retry_grant_with_nonce(
        &mut self,
        now: Millis,
        call: CallId,
        answer: &HttpAnswer,
    ) -> bool {
        if self.proofs.is_none()
            || answer.status != 400
            || answer.dpop_nonce.is_none()
            || self.grant_nonce_retried == Some(call)
            || !proofs::is_nonce_error(answer.body.secret())
        {
            return false;
        }
        let (Some((_, presented)), Some(url)) = (
            self.grant.as_ref().filter(|(c, _)| c.id == call),
            self.config.token_endpoint.clone(),
        ) else {
            return false;
        };
        let body = self.config.grant.refresh_body(presented);
        self.grant_nonce_retried = Some(call);
        self.prove(now, Purpose::Grant { call, body, url });
        true
    }
}

/// No DPoP key: every request that needs a proof fails with this.
fn no_key() -> Error {
    Error::new(
        ErrorCode::DpopUnbound,
        "no DPoP key: WebCrypto ECDSA P-256 (or IndexedDB) is unavailable here",
    )
}

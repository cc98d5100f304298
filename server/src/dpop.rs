//! DPoP (RFC 9449) on the reference backend, checked by the chat-auth
//! crate's [`chat_auth::jose::dpop`]:
//!
//! - **Nonces** (§8, §9): `DPoP-Nonce` on every answer to a request that
//!   carried a proof; a nonce is the first 16 bytes of SHA-256 of a secret
//!   kept in the database and the number of the current window
//!   (`CHAT_DPOP_NONCE_TTL`, default 5 min), so every instance computes the
//!   same one and nothing is stored per nonce; the current and the previous
//!   window's nonce are accepted.
//! - **Replay** (§11.1): each proof's `jti` (with its key's thumbprint) is
//!   recorded in the store's `dpop_proofs` table, shared by every instance,
//!   until its `iat` is out of the window (then deleted); a proof also needs
//!   a nonce at most two windows old, so a captured proof is refused by the
//!   table, then by the window.
//! - **Binding**: a login with a proof binds the login session (refresh
//!   family) to the key; its access tokens carry `cnf.jkt`
//!   ([`gate`] turns `Authorization: DPoP` into a checked request).

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chat_auth::jose::dpop::{self, ProofRequirements, ReplayCache};
use chat_auth::{Error, ErrorCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

use crate::store::{Millis, Store, StoreResult};
use std::cell::RefCell;

/// The request header of a proof.
pub const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The answer header of a nonce.
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");
/// Set by [`gate`] on a request whose DPoP proof it checked: the key's
/// thumbprint. Removed from every incoming request first, so only the gate
/// can set it.
pub const VERIFIED_JKT: HeaderName = HeaderName::from_static("x-chat-dpop-verified-jkt");

/// The nonces of a server (the same on every instance).
#[derive(Debug)]
pub struct DpopGuard {
    secret: Vec<u8>,
    window_ms: Millis,
}

/// The crate's replay check, deferred: it notes the proof id and its end,
/// which [`DpopGuard::record`] then records in the store (async, shared).
#[derive(Default)]
struct Noted(RefCell<Option<(String, Millis)>>);

impl ReplayCache for Noted {
    fn first_use(&self, jkt: &str, jti: &str, until_ms: Millis, _now_ms: Millis) -> bool {
        *self.0.borrow_mut() = Some((format!("{jkt} {jti}"), until_ms));
        true
    }
}

impl DpopGuard {
    /// A guard whose nonces derive from `secret` and change every
    /// `window_s` seconds.
    pub fn new(secret: Vec<u8>, window_s: i64) -> DpopGuard {
        DpopGuard {
            secret,
            window_ms: window_s.max(1) * 1000,
        }
    }

    fn nonce_of(&self, window: i64) -> String {
        let mut h = Sha256::new();
        h.update(b"chat-auth dpop nonce\0");
        h.update(&self.secret);
        h.update(window.to_be_bytes());
        chat_auth::wire::base64url::encode(&h.finalize()[..16])
    }

    /// The nonce to hand out at `now`.
    pub fn nonce(&self, now: Millis) -> String {
        self.nonce_of(now.div_euclid(self.window_ms))
    }

    /// Checks `proof` for the request `what` at `now`, everything but
    /// replay: [`DpopGuard::record`] then records its `jti`, which a caller
    /// does only once the request is otherwise authenticated (password,
    /// token, known refresh token), so a sender with no account cannot
    /// fill the store with proofs of its own key.
    pub fn verify(
        &self,
        proof: &str,
        what: &ProofFor<'_>,
        now: Millis,
    ) -> chat_auth::Result<Verified> {
        let window = now.div_euclid(self.window_ms);
        let accepted = [self.nonce_of(window), self.nonce_of(window - 1)];
        let accepted = [accepted[0].as_str(), accepted[1].as_str()];
        let req = ProofRequirements {
            access_token: what.access_token,
            bound_jkt: what.bound,
            nonces: if what.nonce { &accepted } else { &[] },
            ..ProofRequirements::new(what.method, what.url)
        };
        let noted = Noted::default();
        let valid = dpop::validate_proof(proof, &req, now, &noted)?;
        Ok(Verified {
            jkt: valid.jkt,
            pending: noted.0.take(),
        })
    }

    /// Records a [`DpopGuard::verify`]d proof's `jti` in `store`'s proofs
    /// (shared by every instance): the key's thumbprint, or `dpop_replayed`
    /// when the proof was used before. The outer error is the store's.
    pub async fn record(
        &self,
        store: &dyn Store,
        verified: Verified,
        now: Millis,
    ) -> StoreResult<chat_auth::Result<String>> {
        if let Some((id, until)) = &verified.pending {
            if !store.first_proof_use(id, *until, now).await? {
                return Ok(Err(Error::new(
                    ErrorCode::DpopReplayed,
                    "the DPoP proof was used before",
                )));
            }
        }
        Ok(Ok(verified.jkt))
    }
}

/// A proof that passed every check but replay (see [`DpopGuard::record`]).
#[derive(Debug)]
pub struct Verified {
    /// The thumbprint of the key that made it.
    pub jkt: String,
    pending: Option<(String, Millis)>,
}

/// The request a proof must be for.
#[derive(Clone, Copy, Debug)]
pub struct ProofFor<'a> {
    /// The method.
    pub method: &'a str,
    /// The absolute URL ([`request_url`]).
    pub url: &'a str,
    /// The access token presented, if any (`ath`).
    pub access_token: Option<&'a str>,
    /// The thumbprint the token or refresh family is bound to, if any.
    pub bound: Option<&'a str>,
    /// Whether a current nonce is required.
    pub nonce: bool,
}

/// The one `DPoP` header of `headers`: `Ok(None)` without one, `Err` for
/// several (RFC 9449 §4.3 step 1) or one that is not text.
pub fn proof_header(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    let mut all = headers.get_all(DPOP).iter();
    let Some(first) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(
            Error::new(ErrorCode::DpopInvalid, "more than one DPoP header").with_detail("syntax"),
        );
    }
    first.to_str().map(Some).map_err(|_| {
        Error::new(ErrorCode::DpopInvalid, "the DPoP header is not text").with_detail("syntax")
    })
}

/// The absolute URL of a request to `path` as the client named it:
/// `CHAT_PUBLIC_ORIGIN`, else `http://` and the `Host` header.
pub fn request_url(state: &AppState, headers: &HeaderMap, path: &str) -> String {
    let origin = match &state.config.public_origin {
        Some(o) => o.clone(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            format!("http://{host}")
        }
    };
    format!("{origin}{path}")
}

/// The OAuth error of a refused proof: `use_dpop_nonce` or `invalid_dpop_proof`.
pub fn oauth_error(e: &Error) -> &'static str {
    if e.code() == ErrorCode::DpopNonceRequired {
        "use_dpop_nonce"
    } else {
        "invalid_dpop_proof"
    }
}

/// A 401 for a resource request whose proof was refused (§7.1, §9).
fn refused(state: &AppState, e: &Error) -> Response {
    let error = oauth_error(e);
    let code = e.code().as_str();
    state.log.warn(
        "dpop_refused",
        json!({ "code": code, "detail": e.detail() }),
    );
    let body = json!({ "error": error, "error_description": format!("the DPoP proof was refused: {code}") });
    let mut res = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    let challenge = format!(r#"DPoP algs="ES256", error="{error}", error_description="{code}""#);
    if let Ok(v) = HeaderValue::try_from(challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res.extensions_mut().insert(crate::Note {
        bearer: code_static(e.code()),
        customer: None,
        folded: 0,
    });
    res
}

fn code_static(code: ErrorCode) -> &'static str {
    code.as_str()
}

/// Middleware: a request with `Authorization: DPoP <token>` has its proof
/// checked against the token (signature and `cnf.jkt` by the crate's
/// rules, `ath`, method, URL, nonce, replay); then it goes on as
/// `Bearer <token>` with [`VERIFIED_JKT`] set, which
/// [`crate::api::authenticate`]'s callers require for a bound token. Every
/// answer to a request that carried a proof gets a fresh `DPoP-Nonce`.
pub async fn gate(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    req.headers_mut().remove(VERIFIED_JKT);
    let carried_proof = req.headers().contains_key(DPOP);
    let dpop_token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(dpop::SCHEME))
        .map(|(_, token)| token.trim_start_matches(' ').to_owned());
    let now = state.now();
    let mut res = match dpop_token {
        Some(token) => {
            let checked = match proof_request(&state, &req) {
                Ok((proof, method, url)) => {
                    check_proof(&state, proof, method, url, &token, now).await
                }
                Err(e) => Ok(Err(e)),
            };
            match checked {
                Err(e) => crate::api::ApiError::internal(e, &state).into_response(),
                Ok(Ok(None)) => {
                    if let Ok(auth) = HeaderValue::try_from(format!("Bearer {token}")) {
                        req.headers_mut().insert(header::AUTHORIZATION, auth);
                    }
                    next.run(req).await
                }
                Ok(Ok(Some(jkt))) => {
                    let h = req.headers_mut();
                    if let (Ok(auth), Ok(jkt)) = (
                        HeaderValue::try_from(format!("Bearer {token}")),
                        HeaderValue::try_from(jkt),
                    ) {
                        h.insert(header::AUTHORIZATION, auth);
                        h.insert(VERIFIED_JKT, jkt);
                    }
                    next.run(req).await
                }
                Ok(Err(e)) => refused(&state, &e),
            }
        }
        None => next.run(req).await,
    };
    if carried_proof {
        if let Ok(v) = HeaderValue::try_from(state.dpop.nonce(now)) {
            res.headers_mut().insert(DPOP_NONCE, v);
        }
    }
    res
}

/// What [`check_proof`] needs of `req`, owned (a request body is not
/// `Sync`, so `req` cannot be held while the store is asked).
fn proof_request(state: &AppState, req: &Request) -> chat_auth::Result<(String, String, String)> {
    let proof = proof_header(req.headers())?.ok_or_else(|| {
        Error::new(ErrorCode::DpopInvalid, "a DPoP token needs a DPoP proof").with_detail("syntax")
    })?;
    let url = request_url(state, req.headers(), req.uri().path());
    Ok((proof.to_owned(), req.method().as_str().to_owned(), url))
}

/// The thumbprint a valid `proof` for `method` `url` with `token` was made
/// by; `None` for a token that does not verify (nothing checked, nothing
/// recorded: the handler refuses the token).
async fn check_proof(
    state: &AppState,
    proof: String,
    method: String,
    url: String,
    token: &str,
    now: Millis,
) -> StoreResult<chat_auth::Result<Option<String>>> {
    // A token that does not verify is refused by the handler with its own
    // code (expired…); its proof is not recorded, so requests with made-up
    // tokens cannot fill the store.
    let Ok(claims) = state.validator.verify(token, now) else {
        return Ok(Ok(None));
    };
    let bound = dpop::bound_thumbprint(&claims.members);
    let what = ProofFor {
        method: &method,
        url: &url,
        access_token: Some(token),
        bound,
        nonce: true,
    };
    let verified = match state.dpop.verify(&proof, &what, now) {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    Ok(state
        .dpop
        .record(&*state.store, verified, now)
        .await?
        .map(Some))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_change_per_window_and_the_last_one_still_counts() {
        let g = DpopGuard::new(vec![1; 32], 10);
        assert_eq!(g.nonce(0), g.nonce(9_999));
        assert_ne!(g.nonce(9_999), g.nonce(10_000));
        assert_eq!(g.nonce(5_000).len(), 22);
        let other = DpopGuard::new(vec![2; 32], 10);
        assert_ne!(g.nonce(0), other.nonce(0));
    }

    #[test]
    fn one_proof_header_at_most() {
        let mut h = HeaderMap::new();
        assert!(proof_header(&h).unwrap().is_none());
        h.append(DPOP, HeaderValue::from_static("a.b.c"));
        assert_eq!(proof_header(&h).unwrap(), Some("a.b.c"));
        h.append(DPOP, HeaderValue::from_static("d.e.f"));
        assert_eq!(proof_header(&h).unwrap_err().code(), ErrorCode::DpopInvalid);
    }
}

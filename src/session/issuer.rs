//! The token checks and the issuer's endpoints, for every host: a state
//! machine per [`Effect::CheckToken`] (the signature under the configured
//! keys, the JWKS URL's or the issuer's `jwks_uri` found by discovery —
//! cached; an unknown `kid` re-fetches once — then introspection) and the
//! token endpoint of a refresh grant (`tokenEndpoint`, else the issuer's
//! metadata). Sans I/O: each fetch goes out as a [`Step::Fetch`] and comes
//! back through [`IssuerClient::answered`] (status 0: failed), retried as
//! [`fetch_retry`] says; the signature itself is the host's
//! ([`Step::Verify`] out, [`IssuerClient::verified`] back: WebCrypto in the
//! browser, a [`SignatureVerifier`] natively); the grant's POST is the host's
//! too ([`Step::PostGrant`]).
//!
//! [`Effect::CheckToken`]: crate::session::driver::Effect::CheckToken
//! [`SignatureVerifier`]: crate::jose::verify::SignatureVerifier

use crate::error::{Error, ErrorCode, Result};
use crate::jose::keys::{self, KeySource};
use crate::jose::verify::{self, Prepared, VerifyOptions};
use crate::options::Config;
use crate::secret::SecretString;
use crate::session::admit::Introspection;
use crate::session::discovery::{self, Metadata};
use crate::session::driver::Input;
use crate::session::fetch_retry;
use crate::session::grant::form_encode;
use crate::session::machine::CallId;
use crate::time::Millis;
use crate::wire::json::{self, Value};

/// What the host does next for the checks.
pub enum Step {
    /// Feed this to the driver.
    Feed(Input),
    /// Fetch this (after its delay); answer with [`IssuerClient::answered`].
    Fetch(Fetch),
    /// Check `prepared`'s signature; answer with [`IssuerClient::verified`].
    Verify {
        /// Matches the answer to the request.
        id: u64,
        /// The token, its key and its signature.
        prepared: Box<Prepared>,
    },
    /// Post the refresh grant `body` (with its DPoP `proof`) to `url`; its
    /// answer goes to the driver.
    PostGrant {
        /// The driver's call.
        call: CallId,
        /// The form body (holds the refresh token).
        body: SecretString,
        /// The DPoP proof, if any.
        proof: Option<SecretString>,
        /// The token endpoint.
        url: String,
    },
}

/// An HTTP request of the checks: a form POST when `form` is set, else a GET.
pub struct Fetch {
    /// Matches the answer to the request.
    pub exchange: u64,
    /// Where.
    pub url: String,
    /// The form body (introspection: holds the token).
    pub form: Option<String>,
    /// Wait this long first (a retry's backoff; 0 for a first try).
    pub delay_ms: Millis,
}

/// A token check under way.
struct Check {
    call: CallId,
    token: SecretString,
    signature: Option<Box<VerifyOptions>>,
    introspect: bool,
    /// The JWKS was fetched for this check already (the one re-fetch).
    fetched: bool,
}

/// A refresh grant waiting for the issuer's token endpoint.
struct Grant {
    call: CallId,
    body: SecretString,
    proof: Option<SecretString>,
}

enum Purpose {
    Metadata { oauth: bool, then: Then },
    Jwks(Check),
    Introspect(CallId),
}

enum Then {
    Check(Check),
    Grant(Grant),
}

struct Exchange {
    id: u64,
    purpose: Purpose,
    url: String,
    form: Option<String>,
    attempt: u32,
}

/// One session's checks: its keys and the issuer's metadata once fetched,
/// the exchanges on the wire.
pub struct IssuerClient {
    keys: Option<KeySource>,
    /// `Some(jwksUrl)` when `validation` names its own keys, `None` when
    /// the issuer's `jwks_uri` is used.
    own_jwks_url: Option<Option<String>>,
    token_endpoint: Option<String>,
    issuer: Option<String>,
    introspection_endpoint: Option<String>,
    /// The issuer metadata known: fetched here, or a list the host shares
    /// between its sessions ([`IssuerClient::known_metadata`]).
    metadata: Vec<Metadata>,
    exchanges: Vec<Exchange>,
    verifying: Vec<(u64, Check)>,
    next: u64,
}

fn network(message: &'static str) -> Error {
    Error::new(ErrorCode::Network, message)
}

/// Exchange `id`'s request, after `delay_ms`.
fn fetch_of(id: u64, url: &str, form: Option<&str>, delay_ms: Millis) -> Step {
    Step::Fetch(Fetch {
        exchange: id,
        url: url.to_owned(),
        form: form.map(str::to_owned),
        delay_ms,
    })
}

fn checked(call: CallId, result: Result<Option<Introspection>>) -> Step {
    Step::Feed(Input::TokenChecked { call, result })
}

impl IssuerClient {
    /// From the options (their keys were parsed and checked with them).
    pub fn new(config: &Config) -> IssuerClient {
        let (keys, own_jwks_url) = match &config.validation.key {
            Some(KeySource::JwksUrl(url)) => (None, Some(Some(url.clone()))),
            Some(key) => (Some(key.clone()), Some(None)),
            None => (None, None),
        };
        IssuerClient {
            keys,
            own_jwks_url,
            token_endpoint: config.token_endpoint.clone(),
            issuer: config.issuer.clone(),
            introspection_endpoint: config.introspection_endpoint.clone(),
            metadata: Vec::new(),
            exchanges: Vec::new(),
            verifying: Vec::new(),
            next: 1,
        }
    }

    /// A fresh id, for the checks' exchanges and verifications and for a
    /// host's own exchanges beside them (they never collide).
    pub fn next_id(&mut self) -> u64 {
        let id = self.next;
        self.next += 1;
        id
    }

    /// The configured issuer's metadata, once known.
    pub fn metadata(&self) -> Option<&Metadata> {
        let issuer = self.issuer.as_deref()?;
        self.metadata.iter().find(|m| m.issuer == issuer)
    }

    /// The metadata known, by issuer: a host that runs several sessions
    /// may swap in one list for all (the browser: once per page).
    pub fn known_metadata(&mut self) -> &mut Vec<Metadata> {
        &mut self.metadata
    }

    fn send(&mut self, purpose: Purpose, url: String, form: Option<String>) -> Step {
        let id = self.next_id();
        let step = fetch_of(id, &url, form.as_deref(), 0);
        self.exchanges.push(Exchange {
            id,
            purpose,
            url,
            form,
            attempt: 1,
        });
        step
    }

    /// The driver asked to check `token` for `call`.
    #[inline]
    pub fn check(
        &mut self,
        call: CallId,
        token: SecretString,
        signature: Option<Box<VerifyOptions>>,
        introspect: bool,
    ) -> Step {
        self.run(Check {
            call,
            token,
            signature,
            introspect,
            fetched: false,
        })
    }

    /// The driver asked to post a refresh grant: [`Step::PostGrant`], or the
    /// metadata fetch that finds the token endpoint first.
    #[inline]
    pub fn grant(&mut self, call: CallId, body: SecretString, proof: Option<SecretString>) -> Step {
        self.grant_to(Grant { call, body, proof })
    }

    fn grant_to(&mut self, grant: Grant) -> Step {
        let url = match (&self.token_endpoint, self.metadata()) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(m)) => m.token_endpoint.clone(),
            (None, None) if self.issuer.is_some() => {
                return self.fetch_metadata(Then::Grant(grant));
            }
            (None, None) => None,
        };
        match url {
            Some(url) => Step::PostGrant {
                call: grant.call,
                body: grant.body,
                proof: grant.proof,
                url,
            },
            None => Step::Feed(Input::TokenEndpointFailed {
                call: grant.call,
                error: Error::new(ErrorCode::RefreshFailed, "no token endpoint is known"),
            }),
        }
    }

    fn fetch_metadata(&mut self, then: Then) -> Step {
        let issuer = self.issuer.clone().unwrap_or_default();
        let [openid, _] = discovery::metadata_urls(&issuer);
        self.send(Purpose::Metadata { oauth: false, then }, openid, None)
    }

    /// Where the JWK Set comes from; `None` when the metadata is needed first.
    fn jwks_url(&self) -> Option<Result<Option<String>>> {
        if let Some(own) = &self.own_jwks_url {
            return Some(Ok(own.clone()));
        }
        if self.issuer.is_none() {
            return Some(Ok(None));
        }
        self.metadata().map(|m| match &m.jwks_uri {
            Some(url) => Ok(Some(url.clone())),
            // Signatures are checked with an issuer: fail closed.
            None => Err(Error::malformed("the issuer's metadata names no jwks_uri")),
        })
    }

    /// The next step of `check`: fetch keys, verify, introspect, or report.
    fn run(&mut self, mut check: Check) -> Step {
        if let Some(opts) = check.signature.as_mut() {
            let jwks_url = match self.jwks_url() {
                None => return self.fetch_metadata(Then::Check(check)),
                Some(Err(e)) => return checked(check.call, Err(e)),
                Some(Ok(url)) => url,
            };
            if self.keys.is_none() {
                return match jwks_url {
                    Some(url) if !check.fetched => {
                        check.fetched = true;
                        self.send(Purpose::Jwks(check), url, None)
                    }
                    _ => checked(
                        check.call,
                        Err(Error::new(
                            ErrorCode::UnknownKey,
                            "no key matches the token",
                        )),
                    ),
                };
            }
            opts.key = self.keys.clone();
            return match (verify::prepare(check.token.secret(), opts), jwks_url) {
                (Err(e), Some(url)) if e.code() == ErrorCode::UnknownKey && !check.fetched => {
                    check.fetched = true;
                    self.send(Purpose::Jwks(check), url, None)
                }
                (Err(e), _) => checked(check.call, Err(e)),
                (Ok(prepared), _) => {
                    let id = self.next_id();
                    self.verifying.push((id, check));
                    Step::Verify {
                        id,
                        prepared: Box::new(prepared),
                    }
                }
            };
        }
        if check.introspect {
            if let Some(url) = self.introspection_endpoint.clone() {
                let mut body = String::from("token=");
                form_encode(&mut body, check.token.secret());
                return self.send(Purpose::Introspect(check.call), url, Some(body));
            }
        }
        checked(check.call, Ok(None))
    }

    /// Verification `id`'s outcome (`None`: the host cannot verify, e.g. no
    /// WebCrypto); `None` back when `id` is not one of ours.
    #[inline]
    pub fn verified(&mut self, id: u64, ok: Option<bool>) -> Option<Step> {
        let at = self.verifying.iter().position(|(x, _)| *x == id)?;
        let (_, mut check) = crate::session::take_at(&mut self.verifying, at)?;
        Some(match ok {
            None => checked(
                check.call,
                Err(Error::new(
                    ErrorCode::InvalidConfig,
                    "WebCrypto is not available (a secure context is required)",
                )),
            ),
            Some(false) => checked(
                check.call,
                Err(Error::new(
                    ErrorCode::BadSignature,
                    "the signature does not verify",
                )),
            ),
            Some(true) => {
                check.signature = None;
                self.run(check)
            }
        })
    }

    /// Exchange `id` answered `status` (0: the request failed) with `text`:
    /// retried when transient, else taken as the answer; `None` when `id` is
    /// not one of ours (answered twice, or after [`IssuerClient::forget`]).
    #[inline]
    pub fn answered(&mut self, id: u64, status: u16, text: &str) -> Option<Step> {
        let at = self.exchanges.iter().position(|e| e.id == id)?;
        let mut exchange = crate::session::take_at(&mut self.exchanges, at)?;
        let transient = status == 0 || fetch_retry::retryable_status(status);
        if let Some(ms) = fetch_retry::delay_after(exchange.attempt).filter(|_| transient) {
            let step = fetch_of(id, &exchange.url, exchange.form.as_deref(), ms);
            exchange.attempt += 1;
            self.exchanges.push(exchange);
            return Some(step);
        }
        let ok = (200..300).contains(&status);
        Some(match exchange.purpose {
            Purpose::Metadata { oauth, then } => {
                let issuer = self.issuer.clone().unwrap_or_default();
                if !ok && !oauth {
                    let [_, oauth_url] = discovery::metadata_urls(&issuer);
                    return Some(self.send(
                        Purpose::Metadata { oauth: true, then },
                        oauth_url,
                        None,
                    ));
                }
                let found = if ok {
                    discovery::read_metadata(text, &issuer)
                } else {
                    Err(network("the issuer's metadata could not be fetched"))
                };
                match (found, then) {
                    (Ok(m), then) => {
                        self.metadata.push(m);
                        match then {
                            Then::Check(c) => self.run(c),
                            Then::Grant(g) => self.grant_to(g),
                        }
                    }
                    (Err(e), Then::Check(c)) => checked(c.call, Err(e)),
                    (Err(error), Then::Grant(g)) => Step::Feed(Input::TokenEndpointFailed {
                        call: g.call,
                        error,
                    }),
                }
            }
            Purpose::Jwks(check) => {
                let keys = if ok {
                    json::parse_object(text.as_bytes())
                        .and_then(|set| keys::parse_jwks(&set, "validation.jwksUrl"))
                        .map(KeySource::Jwks)
                } else {
                    Err(network("the JWKS could not be fetched"))
                };
                match keys {
                    Ok(keys) => {
                        self.keys = Some(keys);
                        self.run(check)
                    }
                    Err(e) => checked(check.call, Err(e)),
                }
            }
            Purpose::Introspect(call) if !ok => {
                checked(call, Err(network("the introspection endpoint failed")))
            }
            Purpose::Introspect(call) => checked(
                call,
                json::parse_object(text.as_bytes()).map(|answer| {
                    Some(Introspection {
                        active: matches!(answer.get("active"), Some(Value::Bool(true))),
                        exp: answer.get("exp").and_then(Value::as_f64),
                    })
                }),
            ),
        })
    }

    /// Forgets the exchanges and verifications under way (`destroy`):
    /// their answers are ignored.
    pub fn forget(&mut self) {
        self.exchanges.clear();
        self.verifying.clear();
    }
}

// Natively: the signature step is jsonwebtoken's there.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

//! The token checks and the issuer's endpoints for the JS host: a state
//! machine per [`Effect::CheckToken`] (the signature under the configured
//! keys, the JWKS URL's or the issuer's `jwks_uri` — cached; an unknown
//! `kid` re-fetches once — then introspection) and the token endpoint of a
//! refresh grant (`tokenEndpoint`, else the issuer's metadata). Each network
//! request and each WebCrypto verification goes out as a pseudo-effect
//! (`["http", x, url, formBody, delayMs]`, `["verify", x, request]`) and
//! comes back as `["httpAnswered", x, status, text]` (status 0: failed) or
//! `["verified", x, ok]` (`null`: no WebCrypto). The retries follow [`fetch_retry`].
//!
//! [`Effect::CheckToken`]: crate::session::driver::Effect::CheckToken

use crate::error::{Error, ErrorCode, Result};
use crate::jose::keys::{self, KeySource};
use crate::jose::verify::{self, VerifyOptions};
use crate::options::Config;
use crate::secret::SecretString;
use crate::session::admit::Introspection;
use crate::session::discovery::{self, Metadata};
use crate::session::driver::{Input, GRANT_TIMEOUT_MS};
use crate::session::fetch_retry;
use crate::session::grant::form_encode;
use crate::session::machine::CallId;
use crate::wire::json::{self, write_int, write_string, Value};

use super::webcrypto::crypto_request;

thread_local! {
    /// Issuer metadata fetched on this page, by issuer: once per page, for
    /// every `ChatAuth` on it.
    /// A Cell (taken, then put back), not a RefCell: a RefCell borrow's
    /// panic path links core::fmt's padding into the wasm build (1.4 KB).
    static METADATA: std::cell::Cell<Vec<Metadata>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A token check under way.
pub struct Check {
    call: CallId,
    token: SecretString,
    signature: Option<Box<VerifyOptions>>,
    introspect: bool,
    /// The JWKS was fetched for this check already (the one re-fetch).
    fetched: bool,
}

/// A refresh grant waiting for the issuer's token endpoint.
pub struct Grant {
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

/// The checks' state: cached keys and metadata, the exchanges on the wire.
pub struct Checker {
    keys: Option<KeySource>,
    /// `Some(jwksUrl)` when `validation` names its own keys, `None` when
    /// the issuer's `jwks_uri` is used.
    own_jwks_url: Option<Option<String>>,
    token_endpoint: Option<String>,
    issuer: Option<String>,
    introspection_endpoint: Option<String>,
    exchanges: Vec<Exchange>,
    verifying: Vec<(u64, Check)>,
    next: u64,
}

fn network(message: &'static str) -> Error {
    Error::new(ErrorCode::Network, message)
}

impl Checker {
    /// From the options (their keys were parsed and checked with them).
    pub fn new(config: &Config) -> Checker {
        let (keys, own_jwks_url) = match &config.validation.key {
            Some(KeySource::JwksUrl(url)) => (None, Some(Some(url.clone()))),
            Some(key) => (Some(key.clone()), Some(None)),
            None => (None, None),
        };
        Checker {
            keys,
            own_jwks_url,
            token_endpoint: config.token_endpoint.clone(),
            issuer: config.issuer.clone(),
            introspection_endpoint: config.introspection_endpoint.clone(),
            exchanges: Vec::new(),
            verifying: Vec::new(),
            next: 1,
        }
    }

    fn id(&mut self) -> u64 {
        let id = self.next;
        self.next += 1;
        id
    }

    fn send(&mut self, purpose: Purpose, url: String, form: Option<String>, out: &mut String) {
        let id = self.id();
        write_http(out, id, &url, form.as_deref(), 0);
        self.exchanges.push(Exchange {
            id,
            purpose,
            url,
            form,
            attempt: 1,
        });
    }

    /// The driver asked to check `token`.
    pub fn check(
        &mut self,
        call: CallId,
        token: SecretString,
        signature: Option<Box<VerifyOptions>>,
        introspect: bool,
        out: &mut String,
    ) -> Option<Input> {
        self.run(
            Check {
                call,
                token,
                signature,
                introspect,
                fetched: false,
            },
            out,
        )
    }

    /// The driver asked to post a refresh grant: `["grant", call, body,
    /// proof, url, timeoutMs]`, or the metadata fetch that finds the URL first.
    pub fn grant(
        &mut self,
        call: CallId,
        body: SecretString,
        proof: Option<SecretString>,
        out: &mut String,
    ) -> Option<Input> {
        self.grant_to(Grant { call, body, proof }, out)
    }

    fn grant_to(&mut self, grant: Grant, out: &mut String) -> Option<Input> {
        let url = match (&self.token_endpoint, &self.metadata()) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(m)) => m.token_endpoint.clone(),
            (None, None) if self.issuer.is_some() => {
                self.fetch_metadata(Then::Grant(grant), out);
                return None;
            }
            (None, None) => None,
        };
        let Some(url) = url else {
            return Some(Input::TokenEndpointFailed {
                call: grant.call,
                error: Error::new(ErrorCode::RefreshFailed, "no token endpoint is known"),
            });
        };
        comma(out);
        out.push_str("[\"grant\",");
        write_int(out, grant.call as i64);
        out.push(',');
        write_string(out, grant.body.secret());
        out.push(',');
        match &grant.proof {
            Some(p) => write_string(out, p.secret()),
            None => out.push_str("null"),
        }
        out.push(',');
        write_string(out, &url);
        out.push(',');
        write_int(out, GRANT_TIMEOUT_MS);
        out.push(']');
        None
    }

    /// The issuer's metadata, if this page fetched it already.
    fn metadata(&self) -> Option<Metadata> {
        let issuer = self.issuer.as_deref()?;
        METADATA.with(|cell| {
            let all = cell.take();
            let found = all.iter().find(|m| m.issuer == issuer).cloned();
            cell.set(all);
            found
        })
    }

    fn fetch_metadata(&mut self, then: Then, out: &mut String) {
        let issuer = self.issuer.clone().unwrap_or_default();
        let [openid, _] = discovery::metadata_urls(&issuer);
        self.send(Purpose::Metadata { oauth: false, then }, openid, None, out);
    }

    /// Where the JWK Set comes from; `Err(())` when the metadata is needed first.
    #[allow(clippy::result_unit_err)]
    fn jwks_url(&self) -> std::result::Result<Result<Option<String>>, ()> {
        if let Some(own) = &self.own_jwks_url {
            return Ok(Ok(own.clone()));
        }
        if self.issuer.is_none() {
            return Ok(Ok(None));
        }
        match &self.metadata() {
            None => Err(()),
            Some(m) => Ok(match &m.jwks_uri {
                Some(url) => Ok(Some(url.clone())),
                // Signatures are checked with an issuer: fail closed.
                None => Err(Error::malformed("the issuer's metadata names no jwks_uri")),
            }),
        }
    }

    fn checked(call: CallId, result: Result<Option<Introspection>>) -> Option<Input> {
        Some(Input::TokenChecked { call, result })
    }

    /// The next step of `check`: fetch keys, verify, introspect, or report.
    fn run(&mut self, mut check: Check, out: &mut String) -> Option<Input> {
        if let Some(opts) = check.signature.as_mut() {
            let jwks_url = match self.jwks_url() {
                Err(()) => {
                    self.fetch_metadata(Then::Check(check), out);
                    return None;
                }
                Ok(Err(e)) => return Self::checked(check.call, Err(e)),
                Ok(Ok(url)) => url,
            };
            if self.keys.is_none() {
                return match jwks_url {
                    Some(url) if !check.fetched => {
                        check.fetched = true;
                        self.send(Purpose::Jwks(check), url, None, out);
                        None
                    }
                    _ => Self::checked(
                        check.call,
                        Err(Error::new(
                            ErrorCode::UnknownKey,
                            "no key matches the token",
                        )),
                    ),
                };
            }
            opts.key = self.keys.clone();
            match verify::prepare(check.token.secret(), opts) {
                Err(e)
                    if e.code() == ErrorCode::UnknownKey
                        && !check.fetched
                        && jwks_url.is_some() =>
                {
                    check.fetched = true;
                    let url = jwks_url.unwrap_or_default();
                    self.send(Purpose::Jwks(check), url, None, out);
                    return None;
                }
                Err(e) => return Self::checked(check.call, Err(e)),
                Ok(prepared) => {
                    let id = self.id();
                    comma(out);
                    out.push_str("[\"verify\",");
                    write_int(out, id as i64);
                    out.push(',');
                    crypto_request(&prepared, out);
                    out.push(']');
                    self.verifying.push((id, check));
                    return None;
                }
            }
        }
        if check.introspect {
            if let Some(url) = self.introspection_endpoint.clone() {
                let mut body = String::from("token=");
                form_encode(&mut body, check.token.secret());
                self.send(Purpose::Introspect(check.call), url, Some(body), out);
                return None;
            }
        }
        Self::checked(check.call, Ok(None))
    }

    /// `["verified", x, ok]`; `ok` is `None` where WebCrypto is missing.
    pub fn verified(&mut self, id: u64, ok: Option<bool>, out: &mut String) -> Option<Input> {
        let at = self.verifying.iter().position(|(x, _)| *x == id)?;
        let (_, mut check) = self.verifying.remove(at);
        let Some(ok) = ok else {
            return Self::checked(
                check.call,
                Err(Error::new(
                    ErrorCode::InvalidConfig,
                    "WebCrypto is not available (a secure context is required)",
                )),
            );
        };
        if !ok {
            return Self::checked(
                check.call,
                Err(Error::new(
                    ErrorCode::BadSignature,
                    "the signature does not verify",
                )),
            );
        }
        check.signature = None;
        self.run(check, out)
    }

    /// `["httpAnswered", x, status, text]`: retried when transient, else
    /// taken as the answer.
    pub fn answered(
        &mut self,
        id: u64,
        status: u16,
        text: &str,
        out: &mut String,
    ) -> Option<Input> {
        let at = self.exchanges.iter().position(|e| e.id == id)?;
        let mut exchange = self.exchanges.remove(at);
        let transient = status == 0 || fetch_retry::retryable_status(status);
        if let Some(ms) = fetch_retry::delay_after(exchange.attempt).filter(|_| transient) {
            write_http(out, id, &exchange.url, exchange.form.as_deref(), ms);
            exchange.attempt += 1;
            self.exchanges.push(exchange);
            return None;
        }
        let ok = (200..300).contains(&status);
        match exchange.purpose {
            Purpose::Metadata { oauth, then } => {
                if !ok && !oauth {
                    let issuer = self.issuer.clone().unwrap_or_default();
                    let [_, oauth_url] = discovery::metadata_urls(&issuer);
                    self.send(
                        Purpose::Metadata { oauth: true, then },
                        oauth_url,
                        None,
                        out,
                    );
                    return None;
                }
                let found = if ok {
                    discovery::read_metadata(text, self.issuer.as_deref().unwrap_or_default())
                } else {
                    Err(network("the issuer's metadata could not be fetched"))
                };
                match found {
                    Ok(m) => {
                        METADATA.with(|cell| {
                            let mut all = cell.take();
                            all.push(m);
                            cell.set(all);
                        });
                        match then {
                            Then::Check(c) => self.run(c, out),
                            Then::Grant(g) => self.grant_to(g, out),
                        }
                    }
                    Err(e) => match then {
                        Then::Check(c) => Self::checked(c.call, Err(e)),
                        Then::Grant(g) => Some(Input::TokenEndpointFailed {
                            call: g.call,
                            error: e,
                        }),
                    },
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
                        self.run(check, out)
                    }
                    Err(e) => Self::checked(check.call, Err(e)),
                }
            }
            Purpose::Introspect(call) => {
                if !ok {
                    return Self::checked(call, Err(network("the introspection endpoint failed")));
                }
                Self::checked(
                    call,
                    json::parse_object(text.as_bytes()).map(|answer| {
                        Some(Introspection {
                            active: matches!(answer.get("active"), Some(Value::Bool(true))),
                            exp: answer.get("exp").and_then(Value::as_f64),
                        })
                    }),
                )
            }
        }
    }
}

fn comma(out: &mut String) {
    if out.len() > 1 {
        out.push(',');
    }
}

fn write_http(out: &mut String, id: u64, url: &str, form: Option<&str>, delay: i64) {
    comma(out);
    out.push_str("[\"http\",");
    write_int(out, id as i64);
    out.push(',');
    write_string(out, url);
    out.push(',');
    match form {
        Some(f) => write_string(out, f),
        None => out.push_str("null"),
    }
    out.push(',');
    write_int(out, delay);
    out.push(']');
}

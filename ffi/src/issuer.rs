//! The network and crypto steps the driver asks for, for a host without
//! WebCrypto: the refresh grant's POST ([`Effect::PostRefreshGrant`]) and
//! the token checks ([`Effect::CheckToken`]: the signature under the
//! configured keys or the JWKS URL's — cached; an unknown `kid` re-fetches
//! once — then introspection). The browser host does the same in
//! `src/exports/check.rs` (with WebCrypto verify in JS); here the checks are plain Rust (jsonwebtoken's
//! native backend) and each HTTP request goes out as one
//! [`HttpRequest`] for the foreign host to send. The driver admits every
//! answer.
//!
//! [`Effect::PostRefreshGrant`]: chat_auth::session::driver::Effect::PostRefreshGrant
//! [`Effect::CheckToken`]: chat_auth::session::driver::Effect::CheckToken

use crate::driver::HttpRequest;
use chat_auth::error::{Error, ErrorCode, Result};
use chat_auth::jose::keys::{self, KeySource};
use chat_auth::jose::verify::{self, NativeVerifier, SignatureVerifier, VerifyOptions};
use chat_auth::options::Config;
use chat_auth::secret::SecretString;
use chat_auth::session::admit::Introspection;
use chat_auth::session::driver::{HttpAnswer, Input};
use chat_auth::session::grant::form_encode;
use chat_auth::session::machine::CallId;
use chat_auth::wire::json::{self, Value};

/// What the issuer client does next: feed the driver, or send a request and wait.
#[derive(Debug)]
pub enum Step {
    /// Feed this to the driver.
    Feed(Input),
    /// Send this; its answer comes back through [`IssuerClient::answered`].
    Send(HttpRequest),
}

/// A token check under way.
#[derive(Debug)]
struct Check {
    call: CallId,
    token: SecretString,
    signature: Option<Box<VerifyOptions>>,
    introspect: bool,
    /// The JWKS was fetched for this check already (the one re-fetch).
    fetched: bool,
}

/// What an HTTP exchange was sent for.
#[derive(Debug)]
enum Purpose {
    Grant(CallId),
    Jwks(Check),
    Introspect(CallId),
}

/// The answer of one exchange, as the host received it.
#[derive(Debug)]
pub enum Answer {
    /// The server answered.
    Http(HttpAnswer),
    /// The request failed (no connection, timeout, unreadable body).
    Failed,
}

/// What one session's checks need from its options, its cached keys, and
/// the exchanges on the wire.
#[derive(Debug)]
pub struct IssuerClient {
    keys: Option<KeySource>,
    jwks_url: Option<String>,
    token_endpoint: Option<String>,
    introspection_endpoint: Option<String>,
    exchanges: Vec<(u64, Purpose)>,
    next_exchange: u64,
}

impl IssuerClient {
    /// Takes the keys (parsed with the options: an unusable key was
    /// `invalid_config` there). This
    /// host has no issuer discovery: an `issuer` must come with
    /// `tokenEndpoint` and, when signatures are checked, its own keys.
    pub fn new(config: &Config) -> Result<IssuerClient> {
        let v = &config.validation;
        if config.issuer.is_some() && config.token_endpoint.is_none() {
            return Err(Error::invalid_config(
                "tokenEndpoint",
                "is required next to 'issuer' in the mobile SDK (no metadata discovery)",
            ));
        }
        if config.checks_signatures() && !v.checks_signatures() {
            return Err(Error::invalid_config(
                "validation.jwksUrl",
                "(or validation.jwks / validation.publicKey) is required next to 'issuer' in the mobile SDK (no metadata discovery)",
            ));
        }
        let (keys, jwks_url) = match &v.key {
            Some(KeySource::JwksUrl(url)) => (None, Some(url.clone())),
            key => (key.clone(), None),
        };
        Ok(IssuerClient {
            keys,
            jwks_url,
            token_endpoint: config.token_endpoint.clone(),
            introspection_endpoint: config.introspection_endpoint.clone(),
            exchanges: Vec::new(),
            next_exchange: 1,
        })
    }

    fn send(&mut self, purpose: Purpose, url: &str, form_body: Option<SecretString>) -> Step {
        let exchange = self.next_exchange;
        self.next_exchange += 1;
        self.exchanges.push((exchange, purpose));
        Step::Send(HttpRequest {
            exchange,
            url: url.to_owned(),
            form_body: form_body.map(|b| b.secret().to_owned()),
        })
    }

    /// The driver asked to post the refresh grant `body` for `call`.
    pub fn post_refresh_grant(&mut self, call: CallId, body: SecretString) -> Step {
        match self.token_endpoint.clone() {
            Some(url) => self.send(Purpose::Grant(call), &url, Some(body)),
            None => Step::Feed(Input::TokenEndpointFailed {
                call,
                error: Error::new(ErrorCode::RefreshFailed, "no tokenEndpoint is configured"),
            }),
        }
    }

    /// The driver asked to check `token` for `call`.
    pub fn check_token(
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

    /// The next step of `check`: fetch keys, verify, introspect, or report.
    fn run(&mut self, mut check: Check) -> Step {
        if let Some(opts) = check.signature.as_mut() {
            if self.keys.is_none() {
                return self.fetch_keys(check);
            }
            opts.key = self.keys.clone();
            match signature_verifies(check.token.secret(), opts) {
                Err(e) if e.code() == ErrorCode::UnknownKey && !check.fetched => {
                    if self.jwks_url.is_some() {
                        return self.fetch_keys(check);
                    }
                    return self.checked(check.call, Err(e));
                }
                Err(e) => return self.checked(check.call, Err(e)),
                Ok(()) => check.signature = None,
            }
        }
        if check.introspect {
            if let Some(url) = self.introspection_endpoint.clone() {
                let mut body = String::from("token=");
                form_encode(&mut body, check.token.secret());
                return self.send(
                    Purpose::Introspect(check.call),
                    &url,
                    Some(SecretString::new(body)),
                );
            }
        }
        self.checked(check.call, Ok(None))
    }

    fn fetch_keys(&mut self, mut check: Check) -> Step {
        match self.jwks_url.clone() {
            Some(url) => {
                check.fetched = true;
                self.send(Purpose::Jwks(check), &url, None)
            }
            None => self.checked(
                check.call,
                Err(Error::new(
                    ErrorCode::UnknownKey,
                    "no key matches the token",
                )),
            ),
        }
    }

    fn checked(&self, call: CallId, result: Result<Option<Introspection>>) -> Step {
        Step::Feed(Input::TokenChecked { call, result })
    }

    /// The host reports exchange `exchange`'s outcome; `None` when it is
    /// not one of ours (answered twice, or after `destroy`).
    pub fn answered(&mut self, exchange: u64, answer: Answer) -> Option<Step> {
        let at = self.exchanges.iter().position(|(e, _)| *e == exchange)?;
        let (_, purpose) = self.exchanges.remove(at);
        Some(match purpose {
            Purpose::Grant(call) => Step::Feed(match answer {
                Answer::Http(answer) => Input::TokenEndpointAnswered { call, answer },
                Answer::Failed => Input::TokenEndpointFailed {
                    call,
                    error: network("the token endpoint could not be reached"),
                },
            }),
            Purpose::Jwks(check) => match read_jwks(answer) {
                Ok(keys) => {
                    self.keys = Some(keys);
                    self.run(check)
                }
                Err(e) => self.checked(check.call, Err(e)),
            },
            Purpose::Introspect(call) => self.checked(call, read_introspection(answer).map(Some)),
        })
    }

    /// Forgets the exchanges on the wire (`destroy`): their answers are ignored.
    pub fn forget(&mut self) {
        self.exchanges.clear();
    }
}

fn network(message: &'static str) -> Error {
    Error::new(ErrorCode::Network, message)
}

/// A 2xx answer's body, `network` otherwise.
fn ok_body(answer: Answer, what: &'static str) -> Result<SecretString> {
    match answer {
        Answer::Http(a) if (200..300).contains(&a.status) => Ok(a.body),
        _ => Err(network(what)),
    }
}

fn read_jwks(answer: Answer) -> Result<KeySource> {
    let body = ok_body(answer, "the JWKS could not be fetched")?;
    let set = json::parse_object(body.secret().as_bytes())?;
    Ok(KeySource::Jwks(keys::parse_jwks(
        &set,
        "validation.jwksUrl",
    )?))
}

fn read_introspection(answer: Answer) -> Result<Introspection> {
    let body = ok_body(answer, "the introspection endpoint failed")?;
    let answer = json::parse_object(body.secret().as_bytes())?;
    Ok(Introspection {
        active: matches!(answer.get("active"), Some(Value::Bool(true))),
        exp: answer.get("exp").and_then(Value::as_f64),
    })
}

/// Rules 2–7 and the signature; the driver checks the claims itself.
fn signature_verifies(token: &str, opts: &VerifyOptions) -> Result<()> {
    let prepared = verify::prepare(token, opts)?;
    let ok = NativeVerifier.verify(
        prepared.alg(),
        prepared.key(),
        prepared.signing_input(),
        prepared.signature(),
    );
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::BadSignature,
            "the signature does not verify",
        ))
    }
}

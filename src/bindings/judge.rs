//! Judging answers in the browser: the core admits a context
//! ([`crate::admit`]); this module adds the I/O around it — WebCrypto for
//! signatures, the JWKS URL (cached; an unknown `kid` re-fetches once), the
//! introspection endpoint, the issuer's metadata (cached per page), the
//! OAuth refresh grant — and `verifyToken`. The fetches a judgement needs
//! are retried with [`crate::fetch_retry`]'s bounded backoff.

use super::crypto;
use super::js;
use super::runtime::Runtime;
use crate::admit::{self, Candidate, Introspection, Rules};
use crate::clock::Millis;
use crate::config::Config;
use crate::discovery::{self, Metadata};
use crate::error::{Error, ErrorCode, Result};
use crate::fetch_retry;
use crate::grant::form_encode;
use crate::json::{self, Value};
use crate::keys::{self, KeySource};
use crate::schedule;
use crate::session::{Call, Credential};
use crate::verify::{self, VerifyOptions};
use js_sys::Promise;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

/// The session's verification keys: static ones from the options, or a
/// JWK Set fetched from `jwksUrl` and cached.
pub struct KeyCache {
    keys: RefCell<Option<KeySource>>,
}

impl KeyCache {
    /// Reads `validation.*` keys once, at construction: an unknown
    /// algorithm or an unusable key is `invalid_config` there and then.
    pub fn new(config: &Config) -> Result<KeyCache> {
        if config.checks_signatures() {
            config.validation.parsed_algorithms()?;
        }
        Ok(KeyCache {
            keys: RefCell::new(config.validation.static_keys()?),
        })
    }
}

async fn post_form(url: &str, body: &str) -> Result<Response> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let headers = web_sys::Headers::new().map_err(|_| network())?;
    let _ = headers.set("Content-Type", "application/x-www-form-urlencoded");
    let _ = headers.set("Accept", "application/json");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(body));
    // The body holds a refresh token or an access token: a 307/308 redirect
    // would post it again to wherever the redirect points.
    js::set(&init, "redirect", &"error".into());
    send_to(url, &init).await
}

async fn send_to(url: &str, init: &web_sys::RequestInit) -> Result<Response> {
    js::fetch(&JsValue::from_str(url), init)
        .await
        .map_err(|_| network())
}

async fn text(response: &Response) -> Result<String> {
    let promise = response.text().map_err(|_| network())?;
    JsFuture::from(promise)
        .await
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(network)
}

fn network() -> Error {
    Error::new(ErrorCode::Network, "the network request failed")
}

/// A GET (`form` `None`) or form POST, tried again after a network failure
/// or a transient status ([`fetch_retry`]: bounded, with backoff). The last
/// try's outcome is returned as it is.
async fn fetch_retrying(url: &str, form: Option<&str>) -> Result<Response> {
    let mut attempt = 1;
    loop {
        let outcome = match form {
            Some(body) => post_form(url, body).await,
            None => send_to(url, &web_sys::RequestInit::new()).await,
        };
        let transient = outcome
            .as_ref()
            .map_or(true, |r| fetch_retry::retryable_status(r.status()));
        match fetch_retry::delay_after(attempt).filter(|_| transient) {
            Some(ms) => {
                sleep(ms).await;
                attempt += 1;
            }
            None => return outcome,
        }
    }
}

async fn sleep(ms: Millis) {
    let promise = Promise::new(&mut |resolve, _| {
        let set_timeout = js::function(&js::get(&js::global(), "setTimeout"));
        if let Some(f) = set_timeout {
            let _ = f.call2(&JsValue::NULL, &resolve, &JsValue::from_f64(ms as f64));
        }
    });
    let _ = JsFuture::from(promise).await;
}

thread_local! {
    /// Issuer metadata fetched on this page, by issuer: once per page, for
    /// every `ChatAuth` on it.
    static METADATA: RefCell<Vec<Rc<Metadata>>> = const { RefCell::new(Vec::new()) };
}

/// The metadata of `issuer` (OpenID Connect Discovery, else RFC 8414),
/// fetched once per page. Unreachable → `network` (tried again at the next
/// need); another `issuer` inside → `issuer_mismatch`.
async fn metadata(issuer: &str) -> Result<Rc<Metadata>> {
    let cached = METADATA.with(|m| m.borrow().iter().find(|m| m.issuer == issuer).cloned());
    if let Some(hit) = cached {
        return Ok(hit);
    }
    let [openid, oauth] = discovery::metadata_urls(issuer);
    let mut response = fetch_retrying(&openid, None).await?;
    if !response.ok() {
        response = fetch_retrying(&oauth, None).await?;
    }
    if !response.ok() {
        return Err(Error::new(
            ErrorCode::Network,
            "the issuer's metadata could not be fetched",
        ));
    }
    let found = Rc::new(discovery::read_metadata(&text(&response).await?, issuer)?);
    METADATA.with(|m| m.borrow_mut().push(found.clone()));
    Ok(found)
}

/// The token endpoint: `tokenEndpoint`, else the `issuer`'s.
async fn token_endpoint(rt: &Rc<Runtime>) -> Result<String> {
    if let Some(url) = &rt.config.token_endpoint {
        return Ok(url.clone());
    }
    let none = || Error::new(ErrorCode::RefreshFailed, "no token endpoint is known");
    let issuer = rt.config.issuer.as_deref().ok_or_else(none)?;
    metadata(issuer)
        .await?
        .token_endpoint
        .clone()
        .ok_or_else(none)
}

/// Where the JWK Set comes from: `validation.jwksUrl`, else — unless a
/// `publicKey` or `jwks` is given — the `issuer`'s `jwks_uri`.
async fn jwks_url(rt: &Rc<Runtime>) -> Result<Option<String>> {
    let v = &rt.config.validation;
    if v.jwks_url.is_some() || v.public_key.is_some() || v.jwks.is_some() {
        return Ok(v.jwks_url.clone());
    }
    let Some(issuer) = rt.config.issuer.as_deref() else {
        return Ok(None);
    };
    match metadata(issuer).await?.jwks_uri.clone() {
        Some(url) => Ok(Some(url)),
        // Signatures are checked with an issuer: fail closed.
        None => Err(Error::malformed("the issuer's metadata names no jwks_uri")),
    }
}

/// An answer to a call: a context's JSON text and, for the token endpoint,
/// the response's `Date` (the issuer's clock).
pub struct Answer {
    /// JSON text of a context or an OAuth token response.
    pub text: String,
    /// The HTTP `Date` header, ms since the epoch.
    pub server_date: Option<Millis>,
}

/// A response header read through CORS (`Date` and `Retry-After` are not
/// safelisted: a cross-origin token endpoint must expose them).
fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).ok().flatten()
}

/// The OAuth 2.0 refresh grant (RFC 6749 §6): the answer, or the failure —
/// `refresh_failed` when the refresh token is refused, `network` otherwise
/// (with the server's `Retry-After` on 429 and 503).
pub async fn refresh_grant(rt: &Rc<Runtime>) -> Result<Answer> {
    let refresh_token = rt
        .session
        .borrow()
        .refresh_token()
        .cloned()
        .ok_or_else(|| Error::new(ErrorCode::RefreshFailed, "no refresh token"))?;
    let refused = |message| {
        // Forgotten, so the next attempt asks the provider.
        rt.session.borrow_mut().forget_refresh_token(&refresh_token);
        Error::new(ErrorCode::RefreshFailed, message)
    };
    let endpoint = match token_endpoint(rt).await {
        Err(e) if e.code() == ErrorCode::RefreshFailed => {
            return Err(refused("no token endpoint is known"))
        }
        other => other?,
    };
    let body = rt.config.grant.refresh_body(&refresh_token);
    let response = post_form(&endpoint, body.secret()).await?;
    let status = response.status();
    if status == 400 || status == 401 {
        // invalid_grant: the refresh token is spent or revoked.
        return Err(refused("the token endpoint refused the refresh token"));
    }
    if !response.ok() {
        let mut error = Error::new(ErrorCode::Network, "the token endpoint failed");
        if status == 429 || status == 503 {
            let wait = header(&response, "Retry-After")
                .and_then(|v| schedule::parse_retry_after(&v, rt.now()));
            if let Some(ms) = wait {
                error = error.with_retry_after(ms);
            }
        }
        return Err(error);
    }
    let server_date =
        header(&response, "Date").and_then(|v| schedule::parse_http_date(&v, rt.now()));
    Ok(Answer {
        text: text(&response).await?,
        server_date,
    })
}

async fn introspect(rt: &Rc<Runtime>, token: &str) -> Result<Option<Introspection>> {
    let Some(endpoint) = rt.config.introspection_endpoint.clone() else {
        return Ok(None);
    };
    let mut body = String::from("token=");
    form_encode(&mut body, token);
    let response = fetch_retrying(&endpoint, Some(&body)).await?;
    if !response.ok() {
        return Err(Error::new(
            ErrorCode::Network,
            "the introspection endpoint failed",
        ));
    }
    let answer = json::parse_object(text(&response).await?.as_bytes())?;
    let active = matches!(answer.get("active"), Some(Value::Bool(true)));
    let exp = answer.get("exp").and_then(Value::as_f64);
    Ok(Some(Introspection { active, exp }))
}

async fn fetch_jwks(url: &str) -> Result<KeySource> {
    let response = fetch_retrying(url, None).await?;
    if !response.ok() {
        return Err(Error::new(
            ErrorCode::Network,
            "the JWKS could not be fetched",
        ));
    }
    let set = json::parse_object(text(&response).await?.as_bytes())?;
    Ok(KeySource::Jwks(keys::parse_jwks(
        &set,
        "validation.jwksUrl",
    )?))
}

/// Checks a token's signature under the session's keys (rules 2–7).
async fn check_signature(rt: &Rc<Runtime>, token: &str, opts: &mut VerifyOptions) -> Result<()> {
    opts.algorithms = rt.config.validation.parsed_algorithms()?;
    let jwks_url = jwks_url(rt).await?;
    for fetched in [false, true] {
        if rt.keys.keys.borrow().is_none() || fetched {
            let Some(url) = &jwks_url else {
                break;
            };
            *rt.keys.keys.borrow_mut() = Some(fetch_jwks(url).await?);
        }
        opts.key = rt.keys.keys.borrow().clone();
        match verify::prepare(token, opts) {
            Err(e) if e.code() == ErrorCode::UnknownKey && !fetched && jwks_url.is_some() => {
                continue
            }
            Err(e) => return Err(e),
            Ok(prepared) => {
                let ok = crypto::verify(
                    prepared.alg(),
                    prepared.key(),
                    prepared.signing_input(),
                    prepared.signature(),
                )
                .await?;
                if ok {
                    return Ok(());
                }
                return Err(Error::new(
                    ErrorCode::BadSignature,
                    "the signature does not verify",
                ));
            }
        }
    }
    Err(Error::new(
        ErrorCode::UnknownKey,
        "no key matches the token",
    ))
}

/// Judges the answer to `call` (JSON text) for the session.
pub async fn judge(
    rt: &Rc<Runtime>,
    call: &Call,
    answer: &Answer,
    received_at: Millis,
) -> Result<Credential> {
    let candidate = Candidate::read(&answer.text)?.with_server_date(answer.server_date);
    let (customer_id, refused, clock) = {
        let s = rt.session.borrow();
        (
            s.customer_id().map(str::to_owned).unwrap_or_default(),
            s.refused_token().cloned(),
            s.clock_evidence(),
        )
    };
    let rules = Rules {
        validation: &rt.config.validation,
        customer_id: &customer_id,
        refused: refused.as_ref(),
        needs_refresh: call.needs_refresh,
        asked_at: Some(call.started_at),
        clock,
    };
    if candidate.is_jwt() && rt.config.checks_signatures() {
        let mut opts = admit::session_verify_options(&rules);
        check_signature(rt, candidate.token(), &mut opts).await?;
    } else if !candidate.is_jwt() && rt.config.checks_signatures() {
        return Err(Error::malformed(
            "a signed JWT is required (validation has a key)",
        ));
    }
    let introspection = if candidate.needs_introspection() {
        introspect(rt, candidate.token()).await?
    } else {
        None
    };
    candidate.admit(&rules, received_at, introspection)
}

thread_local! {
    /// The options of the last `verifyToken` call, parsed, by their JSON text:
    /// callers verify many tokens with the same options, and parsing them
    /// (JSON, PEM, DER, key checks) costs more than WebCrypto's verify (bench).
    /// One entry: a few hundred bytes, replaced by the next call's options.
    static LAST_OPTIONS: RefCell<Option<(String, Rc<VerifyOptions>)>> = const { RefCell::new(None) };
}

/// `verifyToken`'s options parsed from their JSON text (rule 1 on a miss).
fn verify_options(text: &str) -> Result<Rc<VerifyOptions>> {
    let hit = LAST_OPTIONS.with(|last| {
        last.borrow()
            .as_ref()
            .filter(|(t, _)| t == text)
            .map(|(_, o)| o.clone())
    });
    if let Some(opts) = hit {
        return Ok(opts);
    }
    let object = json::parse_object(text.as_bytes())
        .map_err(|_| Error::new(ErrorCode::InvalidConfig, "options must be an object"))?;
    let opts = Rc::new(VerifyOptions::from_json(&object)?);
    // An HMAC secret is not kept beyond the call.
    if !object.contains("secret") {
        LAST_OPTIONS.with(|last| *last.borrow_mut() = Some((text.to_owned(), opts.clone())));
    }
    Ok(opts)
}

/// `verifyToken(token, options)`.
pub async fn verify_token(
    token: JsValue,
    options: JsValue,
) -> std::result::Result<JsValue, JsValue> {
    let token = token
        .as_string()
        .ok_or_else(|| js::error(ErrorCode::Malformed, "token must be a string"))?;
    let text = js::stringify(&options)
        .ok_or_else(|| js::error(ErrorCode::InvalidConfig, "options must be an object"))?;
    let run = async {
        let opts = verify_options(&text)?;
        let prepared = verify::prepare(&token, &opts)?;
        if !crypto::verify(
            prepared.alg(),
            prepared.key(),
            prepared.signing_input(),
            prepared.signature(),
        )
        .await?
        {
            return Err(Error::new(
                ErrorCode::BadSignature,
                "the signature does not verify",
            ));
        }
        let now = opts.now_ms.unwrap_or_else(|| js_sys::Date::now() as Millis);
        verify::finish(&prepared, &opts, now)?;
        String::from_utf8(prepared.jwt().payload().to_vec())
            .map_err(|_| Error::malformed("JWT payload is not UTF-8"))
    };
    match run.await {
        Ok(payload) => Ok(js::parse(&payload)),
        Err(e) => Err(js::to_js(&e)),
    }
}

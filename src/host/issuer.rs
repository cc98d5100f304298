//! The network and crypto steps the driver asks for: the OAuth refresh
//! grant's POST ([`crate::session::driver::Effect::PostRefreshGrant`]), the token
//! checks ([`crate::session::driver::Effect::CheckToken`]: WebCrypto signatures, the
//! JWKS URL — cached; an unknown `kid` re-fetches once — and the
//! introspection endpoint), the issuer's metadata (cached per page) — and
//! `verifyToken`. The fetches are retried with [`crate::session::fetch_retry`]'s
//! bounded backoff. The driver admits every answer.

use super::crypto;
use super::js;
use crate::error::{Error, ErrorCode, Result};
use crate::jose::keys::{self, KeySource};
use crate::jose::verify::{self, VerifyOptions};
use crate::options::Config;
use crate::secret::SecretString;
use crate::session::admit::Introspection;
use crate::session::discovery::{self, Metadata};
use crate::session::driver::{HttpAnswer, GRANT_TIMEOUT_MS};
use crate::session::fetch_retry;
use crate::session::grant::form_encode;
use crate::time::Millis;
use crate::wire::json::{self, Value};
use js_sys::Promise;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Response};

/// What one `ChatAuth`'s checks need from its options, and its keys:
/// static ones from the options, or a JWK Set fetched and cached.
pub struct IssuerClient {
    keys: RefCell<Option<KeySource>>,
    token_endpoint: Option<String>,
    issuer: Option<String>,
    /// `Some(jwksUrl)` when `validation` names its own keys (a `publicKey`,
    /// `jwks` or `jwksUrl`), `None` when the issuer's `jwks_uri` is used.
    own_jwks_url: Option<Option<String>>,
    introspection_endpoint: Option<String>,
}

impl IssuerClient {
    /// Takes `validation.*`'s keys (parsed with the options: an unusable key
    /// was `invalid_config` there).
    pub fn new(config: &Config) -> Result<IssuerClient> {
        let (keys, own_jwks_url) = match &config.validation.key {
            Some(KeySource::JwksUrl(url)) => (None, Some(Some(url.clone()))),
            Some(key) => (Some(key.clone()), Some(None)),
            None => (None, None),
        };
        Ok(IssuerClient {
            keys: RefCell::new(keys),
            token_endpoint: config.token_endpoint.clone(),
            issuer: config.issuer.clone(),
            own_jwks_url,
            introspection_endpoint: config.introspection_endpoint.clone(),
        })
    }
}

async fn post_form(
    url: &str,
    body: &str,
    signal: Option<&AbortSignal>,
    proof: Option<&str>,
) -> Result<Response> {
    let init = web_sys::RequestInit::new();
    init.set_signal(signal);
    init.set_method("POST");
    let headers = web_sys::Headers::new().map_err(|_| network())?;
    let _ = headers.set("Content-Type", "application/x-www-form-urlencoded");
    let _ = headers.set("Accept", "application/json");
    if let Some(proof) = proof {
        let _ = headers.set("DPoP", proof);
    }
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
            Some(body) => post_form(url, body, None, None).await,
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
async fn token_endpoint(issuer: &IssuerClient) -> Result<String> {
    if let Some(url) = &issuer.token_endpoint {
        return Ok(url.clone());
    }
    let none = || Error::new(ErrorCode::RefreshFailed, "no token endpoint is known");
    let issuer = issuer.issuer.as_deref().ok_or_else(none)?;
    metadata(issuer)
        .await?
        .token_endpoint
        .clone()
        .ok_or_else(none)
}

/// Where the JWK Set comes from: `validation.jwksUrl`, else — unless a
/// `publicKey` or `jwks` is given — the `issuer`'s `jwks_uri`.
async fn jwks_url(issuer: &IssuerClient) -> Result<Option<String>> {
    if let Some(own) = &issuer.own_jwks_url {
        return Ok(own.clone());
    }
    let Some(issuer) = issuer.issuer.as_deref() else {
        return Ok(None);
    };
    match metadata(issuer).await?.jwks_uri.clone() {
        Some(url) => Ok(Some(url)),
        // Signatures are checked with an issuer: fail closed.
        None => Err(Error::malformed("the issuer's metadata names no jwks_uri")),
    }
}

/// A response header read through CORS (`Date` and `Retry-After` are not
/// safelisted: a cross-origin token endpoint must expose them).
fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).ok().flatten()
}

/// Posts the refresh grant's `body` to the token endpoint: its answer as
/// received, `network` when it cannot be had, `refresh_failed` when no
/// token endpoint is known, `provider_timeout` when the POST (answer body
/// included) did not finish within [`GRANT_TIMEOUT_MS`] of the effect and
/// was aborted. The driver admits the answer.
pub async fn refresh_grant(
    issuer: &IssuerClient,
    body: SecretString,
    proof: Option<SecretString>,
) -> Result<HttpAnswer> {
    let bound = AbortSignal::timeout_with_u32(GRANT_TIMEOUT_MS as u32);
    let timed_out = |e: Error| {
        if bound.aborted() {
            Error::new(ErrorCode::ProviderTimeout, "the token endpoint timed out")
        } else {
            e
        }
    };
    let endpoint = token_endpoint(issuer).await?;
    let proof = proof.as_ref().map(SecretString::secret);
    let response = post_form(&endpoint, body.secret(), Some(&bound), proof)
        .await
        .map_err(timed_out)?;
    // Only a success needs its body; a refusal or a busy answer still counts
    // by its status (and `Retry-After`) when its body cannot be read.
    let body = match text(&response).await {
        Ok(body) => body,
        Err(_) if !response.ok() => String::new(),
        Err(e) => return Err(timed_out(e)),
    };
    Ok(HttpAnswer {
        status: response.status(),
        date: header(&response, "Date"),
        retry_after: header(&response, "Retry-After"),
        body: SecretString::new(body),
        dpop_nonce: header(&response, "DPoP-Nonce"),
    })
}

async fn introspect(issuer: &IssuerClient, token: &str) -> Result<Option<Introspection>> {
    let Some(endpoint) = issuer.introspection_endpoint.clone() else {
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
async fn verify_signature(
    issuer: &IssuerClient,
    token: &str,
    opts: &mut VerifyOptions,
) -> Result<()> {
    let jwks_url = jwks_url(issuer).await?;
    for fetched in [false, true] {
        if issuer.keys.borrow().is_none() || fetched {
            let Some(url) = &jwks_url else {
                break;
            };
            *issuer.keys.borrow_mut() = Some(fetch_jwks(url).await?);
        }
        opts.key = issuer.keys.borrow().clone();
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

/// The checks the driver asked for: the signature under `signature`, then
/// introspection; the introspection answer, if asked.
pub async fn check_token(
    issuer: &IssuerClient,
    token: &SecretString,
    signature: Option<Box<VerifyOptions>>,
    introspect_it: bool,
) -> Result<Option<Introspection>> {
    if let Some(mut opts) = signature {
        verify_signature(issuer, token.secret(), &mut opts).await?;
    }
    if introspect_it {
        introspect(issuer, token.secret()).await
    } else {
        Ok(None)
    }
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

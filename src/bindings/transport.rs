//! `auth.fetch` and `auth.authHeaders`: the token goes only to allowed
//! origins, never into a URL; a 401 refreshes once and replays once.
//!
//! Redirects: a followed redirect keeps the request's headers, and the
//! browser drops only `Authorization` when it crosses origins, so
//! `Chat-Anonymous-Id` and the context's `Auth.Headers` would reach whatever
//! origin the API redirects to. A page cannot see a redirect's target before
//! following it (`redirect: 'manual'` answers with an opaque response), so
//! requests that carry these headers are sent with `redirect: 'manual'` and
//! a redirect answer rejects with `network`. A caller's own `'manual'` or
//! `'error'` is kept as it is.

use super::js;
use super::runtime::Runtime;
use crate::error::ErrorCode;
use crate::session::Credential;
use js_sys::{Object, Reflect};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Request, Response};

const ANONYMOUS_ID_HEADER: &str = "Chat-Anonymous-Id";

/// The origin of `url` resolved against the page, `None` if it is no URL.
pub fn origin_of(url: &str) -> Option<String> {
    let base = js::get(&js::get(&js::global(), "location"), "href").as_string();
    let parsed = match base {
        Some(base) => web_sys::Url::new_with_base(url, &base),
        None => web_sys::Url::new(url),
    };
    parsed.ok().map(|u| u.origin())
}

/// The headers for a request with `credential` (or anonymously).
pub fn headers_for(credential: Option<&Credential>, anonymous_id: &str) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(4);
    if let Some(c) = credential {
        let mut value = String::with_capacity(c.scheme.len() + 1 + c.token.secret().len());
        value.push_str(&c.scheme);
        value.push(' ');
        value.push_str(c.token.secret());
        out.push(("Authorization".to_owned(), value));
        out.extend(c.headers.iter().cloned());
    }
    out.push((ANONYMOUS_ID_HEADER.to_owned(), anonymous_id.to_owned()));
    out
}

/// `authHeaders(url)`: `{}` for origins that are not allowed.
pub async fn auth_headers(rt: Rc<Runtime>, url: JsValue) -> Result<JsValue, JsValue> {
    let out = Object::new();
    let Some(origin) = url.as_string().as_deref().and_then(origin_of) else {
        return Ok(out.into());
    };
    if !rt.config.allows_origin(&origin) {
        return Ok(out.into());
    }
    let credential = rt.credential(false).await?;
    let anonymous_id = rt.session.borrow().anonymous_id().to_owned();
    for (name, value) in headers_for(credential.as_ref(), &anonymous_id) {
        js::set(&out, &name, &value.into());
    }
    Ok(out.into())
}

fn network_error() -> JsValue {
    js::error(ErrorCode::Network, "the network request failed")
}

/// A failed fetch as a `ChatAuthError`, except the caller's own abort, which
/// keeps its `AbortError`.
fn fetch_error(e: JsValue) -> JsValue {
    if js::get(&e, "name").as_string().as_deref() == Some("AbortError") {
        e
    } else {
        network_error()
    }
}

async fn send(request: &Request) -> Result<Response, JsValue> {
    js::fetch(request, &JsValue::UNDEFINED)
        .await
        .map_err(fetch_error)
}

fn with_headers(
    request: &Request,
    credential: Option<&Credential>,
    anonymous_id: &str,
) -> Result<(), JsValue> {
    let headers = request.headers();
    for (name, value) in headers_for(credential, anonymous_id) {
        headers.set(&name, &value)?;
    }
    Ok(())
}

/// `new Request(input, init)`.
fn new_request(input: &JsValue, init: &JsValue) -> Result<Request, JsValue> {
    let ctor = js::get(&js::global(), "Request");
    let ctor = js::function(&ctor).ok_or_else(network_error)?;
    let args = js_sys::Array::of2(input, init);
    Reflect::construct(&ctor, &args)
        .map(JsCast::unchecked_into)
        .map_err(|_| {
            js::error(
                ErrorCode::Network,
                "invalid request: check the URL and options",
            )
        })
}

/// Whether the request follows redirects (the default), which would carry
/// the SDK's headers on to the redirect's target.
fn follows_redirects(request: &Request) -> bool {
    js::get(request, "redirect").as_string().as_deref() == Some("follow")
}

/// `response` unless it is a redirect the SDK declined to follow.
fn unless_redirect(response: Response, follows: bool) -> Result<JsValue, JsValue> {
    if follows && js::get(&response, "type").as_string().as_deref() == Some("opaqueredirect") {
        return Err(js::error(
            ErrorCode::Network,
            "the API answered with a redirect: requests that carry credentials do not follow redirects",
        ));
    }
    Ok(response.into())
}

/// `auth.fetch(input, init)`.
pub async fn fetch(rt: Rc<Runtime>, input: JsValue, init: JsValue) -> Result<JsValue, JsValue> {
    let request = new_request(&input, &init)?;
    let allowed = origin_of(&request.url()).is_some_and(|o| rt.config.allows_origin(&o));
    if !allowed {
        // Plain fetch: nothing added, nothing removed.
        return js::fetch(&input, &init)
            .await
            .map(JsValue::from)
            .map_err(fetch_error);
    }
    let follows = follows_redirects(&request);
    let request = if follows {
        let manual = Object::new();
        js::set(&manual, "redirect", &"manual".into());
        new_request(&request.into(), &manual.into())?
    } else {
        request
    };
    // Keep a copy before the body is consumed, for one replay after a 401.
    let replay = request.clone().ok();
    let credential = rt.credential(false).await?;
    let anonymous_id = rt.session.borrow().anonymous_id().to_owned();
    with_headers(&request, credential.as_ref(), &anonymous_id)?;
    let response = send(&request).await?;
    if response.status() != 401 {
        return unless_redirect(response, follows);
    }
    let token_used = credential.as_ref().map(|c| c.token.secret().to_owned());
    let next = rt.after_unauthorized(token_used.as_deref()).await?;
    let (Some(replay), Some(next)) = (replay, next) else {
        // Anonymous (the login handler was told) or not replayable.
        return Ok(response.into());
    };
    if token_used.as_deref() == Some(next.token.secret()) {
        return Ok(response.into());
    }
    let anonymous_id = rt.session.borrow().anonymous_id().to_owned();
    with_headers(&replay, Some(&next), &anonymous_id)?;
    unless_redirect(send(&replay).await?, follows)
}

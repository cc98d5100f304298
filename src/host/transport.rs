//! `auth.fetch`'s plumbing: reads what the driver needs to decide (the
//! URL's origin, the redirect mode, whether the body can be sent twice) and
//! sends what it decided ([`Reply::Send`], [`Reply::Replay`],
//! [`Reply::Plain`]).
//!
//! A string (or `URL`) input with a replayable body (none, a string,
//! `URLSearchParams`, `Blob`, `ArrayBuffer` or a view, `FormData`) is sent
//! as `fetch(input, init')` where `init'` is a copy of `init`'s members with
//! the headers (and `redirect`) set: no `Request` is built or cloned. Any
//! other input becomes a `Request`, kept as a clone for the replay.
//!
//! Redirects: a followed redirect keeps the request's headers, and the
//! browser drops only `Authorization` when it crosses origins, so the driver
//! asks for `redirect: 'manual'` on requests that carry its headers and
//! rejects a redirect answer with `network`.

use super::js;
use crate::error::ErrorCode;
use crate::session::driver::{DpopAnswer, Header, Input, ProofTarget, Reply, RequestId};
use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::Request;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// Whether `init.body` can be sent twice as it is.
    #[wasm_bindgen(js_name = replayableBody)]
    fn replayable_body(init: &JsValue) -> bool;
    /// `init`'s RequestInit members (read by name, getters too) with
    /// `headers` merged over `init.headers` (and `redirect: 'manual'`);
    /// `null` when `init` cannot be read or holds an invalid header.
    #[wasm_bindgen(js_name = withHeaders)]
    fn with_headers(init: &JsValue, headers: &Object, manual: bool) -> JsValue;
}

/// One `auth.fetch` call's JavaScript values.
pub struct FetchCall {
    input: JsValue,
    init: JsValue,
    /// The `Request` when the input is one (or its body is not replayable).
    request: Option<Request>,
    /// Whether `request` was built (so `input, init` cannot be sent as they are).
    built: bool,
    /// The last response.
    pub response: Option<JsValue>,
    /// What `fetch` rejected with.
    pub error: Option<JsValue>,
}

/// `url` resolved as `fetch` resolves it, `None` if it is no URL.
///
/// `fetch` resolves a relative URL against the document's base URL, which a
/// `<base href>` may point at another origin; `location.href` would judge
/// the page's own origin and send the token there. Workers have no document:
/// their base is their location.
fn resolve(url: &str) -> Option<web_sys::Url> {
    let global = js::global();
    let base = js::get(&js::get(&global, "document"), "baseURI")
        .as_string()
        .or_else(|| js::get(&js::get(&global, "location"), "href").as_string());
    match base {
        Some(base) => web_sys::Url::new_with_base(url, &base),
        None => web_sys::Url::new(url),
    }
    .ok()
}

/// Where a request to `url` goes, parsed once: the driver's origin and the
/// DPoP proof's target.
pub struct Destination {
    /// The absolute URL, as `fetch` will send it.
    pub href: String,
    /// Its origin, for the `apiOrigins` allow-list.
    pub origin: String,
    /// The method (normalized as `fetch` does: `get` → `GET`) and `href`.
    pub target: ProofTarget,
}

/// `url` resolved as `fetch` resolves it, with `method` (default `GET`);
/// `None` if it is no URL.
pub fn destination(url: &str, method: Option<&str>) -> Option<Destination> {
    let parsed = resolve(url)?;
    let method = method.unwrap_or("GET");
    const NORMALIZED: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
    let method = match NORMALIZED.iter().find(|m| m.eq_ignore_ascii_case(method)) {
        Some(m) => (*m).to_owned(),
        None => method.to_owned(),
    };
    let href = parsed.href();
    Some(Destination {
        origin: parsed.origin(),
        target: ProofTarget {
            method,
            url: href.clone(),
        },
        href,
    })
}

fn invalid_request() -> JsValue {
    js::error(
        ErrorCode::Network,
        "invalid request: check the URL and options",
    )
}

/// Reads `auth.fetch(input, init)`: its state and the driver's input.
pub fn read(
    request: RequestId,
    input: JsValue,
    init: JsValue,
) -> Result<(Box<FetchCall>, Input), JsValue> {
    let url = if input.is_string() {
        input.as_string()
    } else if input.is_instance_of::<web_sys::Url>() {
        Some(input.unchecked_ref::<web_sys::Url>().href())
    } else {
        None
    };
    let cheap = url.filter(|_| replayable_body(&init));
    // Resolved once, here: the request may wait (a refresh) or be replayed
    // (a 401) after a `<base>` changed or the caller's `URL` object did, and
    // what is sent (and proved) must be what was judged.
    let mut input = input;
    let (to, follows, request_obj, replayable) = match cheap {
        Some(url) => {
            let redirect = js::get(&init, "redirect").as_string();
            let follows = redirect.is_none_or(|r| r == "follow");
            let method = js::get(&init, "method").as_string();
            let to = destination(&url, method.as_deref());
            if let Some(to) = &to {
                input = JsValue::from(to.href.as_str());
            }
            (to, follows, None, true)
        }
        None => {
            let r = new_request(&input, &init)?;
            let follows = js::get(&r, "redirect").as_string().as_deref() == Some("follow");
            let replayable = !r.body_used();
            // A `Request`'s URL is absolute: resolved when it was built.
            let to = destination(&r.url(), Some(&r.method()));
            (to, follows, Some(Clone::clone(&r)), replayable)
        }
    };
    let (origin, target) = to.map(|to| (to.origin, to.target)).unzip();
    let call = Box::new(FetchCall {
        input,
        init,
        built: request_obj.is_some(),
        request: request_obj,
        response: None,
        error: None,
    });
    let driver_input = Input::Fetch {
        request,
        origin,
        follows_redirects: follows,
        replayable,
        target,
    };
    Ok((call, driver_input))
}

fn is_abort(e: &JsValue) -> bool {
    js::get(e, "name").as_string().as_deref() == Some("AbortError")
}

fn new_request(input: &JsValue, init: &JsValue) -> Result<Request, JsValue> {
    let ctor = js::function(&js::get(&js::global(), "Request")).ok_or_else(invalid_request)?;
    Reflect::construct(&ctor, &js_sys::Array::of2(input, init))
        .map(JsCast::unchecked_into)
        .map_err(|_| invalid_request())
}

/// Sends request `id` as the driver said ([`Reply::Plain`],
/// [`Reply::Send`] or [`Reply::Replay`]); `answered` gets the call back
/// with the driver's input for its outcome.
pub fn send(
    id: RequestId,
    mut call: Box<FetchCall>,
    reply: Reply,
    answered: impl FnOnce(Box<FetchCall>, Input) + 'static,
) {
    let sent = match reply {
        // Untouched; the `Request` already built from it, if any (building
        // one took over the caller's body).
        Reply::Plain => match call.request.take() {
            Some(request) => js::fetch_promise(&request, &JsValue::UNDEFINED),
            None => js::fetch_promise(&call.input, &call.init),
        },
        Reply::Send {
            headers,
            manual_redirect,
        } => match call.request.take() {
            None => {
                let pairs = Object::new();
                for (name, value) in &headers {
                    js::set(&pairs, name, &value.secret().into());
                }
                // Kept with the headers and redirect mode for a replay.
                let init = with_headers(&call.init, &pairs, manual_redirect);
                if init.is_null() {
                    js_sys::Promise::reject(&invalid_request())
                } else {
                    call.init = init;
                    js::fetch_promise(&call.input, &call.init)
                }
            }
            Some(request) => {
                let request = if manual_redirect {
                    let opts = Object::new();
                    js::set(&opts, "redirect", &"manual".into());
                    new_request(&request, &opts)
                } else {
                    Ok(request)
                };
                match request {
                    Ok(request) => {
                        // A copy before the body is consumed, for one replay after a 401.
                        call.request = request.clone().ok();
                        send_request(&request, &headers)
                    }
                    // Fail closed: the headers never go on a request that follows redirects.
                    Err(e) => js_sys::Promise::reject(&e),
                }
            }
        },
        Reply::Replay { headers } => match call.request.take() {
            // The copy could not be made: the caller's input is spent, and
            // `input, init` would follow redirects with the headers.
            None if call.built => js_sys::Promise::reject(&invalid_request()),
            None => {
                let pairs = Object::new();
                for (name, value) in &headers {
                    js::set(&pairs, name, &value.secret().into());
                }
                match with_headers(&call.init, &pairs, false) {
                    init if init.is_null() => js_sys::Promise::reject(&invalid_request()),
                    init => js::fetch_promise(&call.input, &init),
                }
            }
            Some(request) => {
                // A fresh copy for every replay: after a nonce retry the
                // 401 rule may replay once more (review 18 finding 5).
                call.request = request.clone().ok();
                send_request(&request, &headers)
            }
        },
        _ => return,
    };
    spawn_local(async move {
        let input = match wasm_bindgen_futures::JsFuture::from(sent).await {
            Ok(response) => {
                let status = js::get(&response, "status").as_f64().unwrap_or(0.0) as u16;
                let opaque_redirect =
                    js::get(&response, "type").as_string().as_deref() == Some("opaqueredirect");
                let headers = js::get(&response, "headers");
                let read = |name: &str| {
                    headers
                        .dyn_ref::<web_sys::Headers>()
                        .and_then(|h| h.get(name).ok().flatten())
                };
                let dpop = DpopAnswer {
                    nonce: read("DPoP-Nonce"),
                    www_authenticate: read("WWW-Authenticate"),
                };
                call.response = Some(response);
                Input::FetchAnswered {
                    request: id,
                    status,
                    opaque_redirect,
                    dpop,
                }
            }
            Err(e) => {
                let aborted = is_abort(&e);
                call.error = Some(e);
                Input::FetchFailed {
                    request: id,
                    aborted,
                }
            }
        };
        answered(call, input);
    });
}

fn send_request(request: &Request, headers: &[Header]) -> js_sys::Promise {
    let h = request.headers();
    for (name, value) in headers {
        let _ = h.set(name, value.secret());
    }
    js::fetch_promise(request, &JsValue::UNDEFINED)
}

//! The wasm exports under the JS host (`js/chat_auth_host.js`): a [`DriverHandle`] (`Driver` in JS)
//! that takes one JSON-encoded input per call and hands back every effect it
//! produced as one JSON array ([`crate::session::driver::codec`]), its
//! getters, and the pure functions. It decides nothing: the decisions are
//! the driver's, the I/O is `js/chat_auth_host.js`'s.

use crate::error::{Error, ErrorCode, Result};
use crate::jose::token;
use crate::options::{Config, FUNCTION_OPTIONS};
use crate::session::driver::{
    self, codec, Effect, Entropy, Environment, Header, Input, ProofTarget, Reply, StorageKey,
};
use crate::session::machine::State;
use crate::wire::json::{self, write_int, write_string, Value};
use wasm_bindgen::prelude::*;

mod check;
mod verify_token;
mod webcrypto;

pub use verify_token::{verify_finish, verify_key, verify_prepare};

use check::Checker;

#[wasm_bindgen(module = "/js/error.js")]
extern "C" {
    #[wasm_bindgen(js_name = makeError)]
    fn make_error(code: &str, message: &str, detail: Option<String>) -> JsValue;
}

fn to_js(e: &Error) -> JsValue {
    make_error(e.code().as_str(), e.message(), e.detail().map(String::from))
}

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    #[wasm_bindgen(js_name = randomBytes)]
    fn random_bytes(bytes: &mut [u8]);
}

struct BrowserEntropy;

impl Entropy for BrowserEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        random_bytes(buf);
    }
}

/// `[code, message, detail]` of `e` as JSON text: the JS host throws it as a
/// `ChatAuthError`.
fn error_json(e: &Error) -> String {
    let mut out = String::from("[");
    error_fields(&mut out, e);
    out.push(']');
    out
}

/// `code, message[, detail]` of `e`, as JSON array members.
fn error_fields(out: &mut String, e: &Error) {
    write_string(out, e.code().as_str());
    out.push(',');
    write_string(out, e.message());
    if let Some(d) = e.detail() {
        out.push(',');
        write_string(out, d);
    }
}

fn options_error() -> Error {
    Error::new(ErrorCode::InvalidConfig, "options must be JSON-like")
}

/// One session driver, behind one `ChatAuth` of the JS host: made from the
/// options, then opened with what the host found ([`DriverHandle::open`]).
#[wasm_bindgen(js_name = Driver)]
pub struct DriverHandle {
    /// The parsed options until [`DriverHandle::open`].
    config: Option<Config>,
    inner: Option<driver::Driver>,
    /// The token checks and the issuer's endpoints.
    checker: Option<Checker>,
    /// The effects of the last [`DriverHandle::fetch`] that had more to say
    /// than a `send`, for [`DriverHandle::effects`].
    held: String,
    /// The headers of the last `send` [`DriverHandle::fetch`] answered with
    /// a number, and that header set's number.
    send_headers: (Vec<Header>, u64),
}

fn environment(text: &str) -> Result<Environment> {
    let env = json::parse_object(text.as_bytes())?;
    let flag = |k: &str| matches!(env.get(k), Some(Value::Bool(true)));
    Ok(Environment {
        has_provider: flag("provider"),
        stored_anonymous_id: env.get_str("anonymousId").map(str::to_owned),
        online: flag("online"),
        channel: flag("channel"),
        locks: flag("locks"),
    })
}

fn write_opt_string(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => write_string(out, s),
        None => out.push_str("null"),
    }
}

fn write_opt_int(out: &mut String, n: Option<i64>) {
    match n {
        Some(n) => write_int(out, n),
        None => out.push_str("null"),
    }
}

#[wasm_bindgen(js_class = Driver)]
impl DriverHandle {
    /// Parses the options (`JSON.stringify(options)`); `functions` are the
    /// names of its function-valued members (JSON drops them). Throws a
    /// `ChatAuthError` on a refused option.
    #[wasm_bindgen(constructor)]
    pub fn new(
        options: &str,
        functions: Vec<String>,
    ) -> std::result::Result<DriverHandle, JsValue> {
        if let Some(key) = functions
            .iter()
            .find(|k| !FUNCTION_OPTIONS.contains(&k.as_str()))
        {
            return Err(to_js(&Error::invalid_config(key, "is not a known option")));
        }
        let parsed = json::parse_object(options.as_bytes()).map_err(|_| to_js(&options_error()))?;
        let config = Config::from_json(&parsed).map_err(|e| to_js(&e))?;
        Ok(DriverHandle {
            config: Some(config),
            inner: None,
            checker: None,
            held: String::new(),
            send_headers: (Vec::new(), 0),
        })
    }

    /// The BroadcastChannel to open before [`DriverHandle::open`] (`None`:
    /// `crossTab: false`).
    #[wasm_bindgen(getter, js_name = channelName)]
    pub fn channel_name(&self) -> Option<String> {
        let config = self.config.as_ref()?;
        config.cross_tab.then(|| driver::channel_name(config))
    }

    /// The `customerId` option.
    #[wasm_bindgen(getter, js_name = initialCustomer)]
    pub fn initial_customer(&self) -> Option<String> {
        self.config.as_ref()?.customer_id.clone()
    }

    /// Opens the driver with `environment` (`{ provider, anonymousId,
    /// online, channel, locks }`); throws a `ChatAuthError` when refused.
    pub fn open(&mut self, environment_json: &str, now: f64) -> std::result::Result<(), JsValue> {
        let env = environment(environment_json).map_err(|e| to_js(&e))?;
        let config = self.config.take().ok_or_else(|| to_js(&options_error()))?;
        let checker = Checker::new(&config);
        let inner = driver::Driver::new(config, env, Box::new(BrowserEntropy), now as i64)
            .map_err(|e| to_js(&e))?;
        self.inner = Some(inner);
        self.checker = Some(checker);
        Ok(())
    }

    /// Feeds one input (`[tag, …]`, empty: none) and returns every effect
    /// that follows, as a JSON array of `[tag, …]`: the driver's
    /// ([`codec`]) and the checks' ([`check`]).
    pub fn step(&mut self, now: f64, input: &str) -> String {
        let now = now as i64;
        let (Some(inner), Some(checker)) = (self.inner.as_mut(), self.checker.as_mut()) else {
            return cat_error(&options_error());
        };
        let mut out = String::from("[");
        let mut next = None;
        if !input.is_empty() {
            let value = match json::parse(input.as_bytes()) {
                Ok(v) => v,
                Err(e) => return cat_error(&e),
            };
            let fields = value.as_array().unwrap_or(&[]);
            let number = |i: usize| fields.get(i).and_then(Value::as_f64).unwrap_or(0.0);
            match fields.first().and_then(Value::as_str) {
                Some("httpAnswered") => {
                    let text = fields.get(3).and_then(Value::as_str).unwrap_or("");
                    next = checker.answered(number(1) as u64, number(2) as u16, text, &mut out);
                }
                Some("verified") => {
                    let ok = match fields.get(2) {
                        Some(Value::Bool(ok)) => Some(*ok),
                        _ => None,
                    };
                    next = checker.verified(number(1) as u64, ok, &mut out);
                }
                _ => match codec::input_from_json(inner, &value) {
                    Ok(input) => next = Some(input),
                    Err(e) => return cat_error(&e),
                },
            }
        }
        drain(inner, checker, now, next, None, &mut out);
        if inner.state() == State::Destroyed {
            // The last header set (its token) goes with the session's.
            self.send_headers.0 = Vec::new();
        }
        out.push(']');
        out
    }

    /// `fetch`'s input ([`Input::Fetch`]) without JSON: `flags` is
    /// `follows_redirects + 2 × replayable`, `to` the URL's origin, its
    /// absolute form and the method joined by spaces (neither an origin nor
    /// a URL has one; empty: no URL). The common answer,
    /// a `send` of this request and no other effect, comes back as the
    /// number `4 × set + 2 × (settles unless 401) + (manual redirect)`:
    /// `set` numbers the headers to send, which the host reads once per set
    /// ([`DriverHandle::send_headers`]), so the token does not cross (and get
    /// decoded) per request. Any other answer returns 0 and leaves every
    /// effect, as [`DriverHandle::step`] would return them, for
    /// [`DriverHandle::effects`].
    pub fn fetch(&mut self, now: f64, request: f64, flags: u32, to: &str) -> f64 {
        let now = now as i64;
        let (Some(inner), Some(checker)) = (self.inner.as_mut(), self.checker.as_mut()) else {
            self.held = cat_error(&options_error());
            return 0.0;
        };
        let request = request as u64;
        let mut parts = to.splitn(3, ' ').map(str::to_owned);
        let origin = parts.next().filter(|o| !o.is_empty());
        let target = match (parts.next(), parts.next()) {
            (Some(url), Some(method)) => Some(ProofTarget { method, url }),
            _ => None,
        };
        feed(
            inner,
            now,
            Input::Fetch {
                request,
                origin,
                follows_redirects: flags & 1 != 0,
                replayable: flags & 2 != 0,
                target,
            },
        );
        let mut out = String::from("[");
        let mut polled = poll(inner, now);
        if let Some(
            send @ Effect::Reply {
                request: to,
                reply:
                    Reply::Send {
                        headers,
                        manual_redirect,
                        settles_unless,
                    },
            },
        ) = &polled
        {
            if *to == request && matches!(settles_unless, None | Some(401)) {
                let Some(second) = poll(inner, now) else {
                    let (last, set) = &mut self.send_headers;
                    if last != headers {
                        *last = headers.clone();
                        *set += 1;
                    }
                    let flags =
                        2 * u64::from(settles_unless.is_some()) + u64::from(*manual_redirect);
                    return (4 * *set + flags) as f64;
                };
                codec::effect_json(inner, send, &mut out);
                polled = Some(second);
            }
        }
        drain(inner, checker, now, None, polled, &mut out);
        out.push(']');
        self.held = out;
        0.0
    }

    /// The effects [`DriverHandle::fetch`] left (once: it hands them over).
    pub fn effects(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// The header set [`DriverHandle::fetch`]'s number names, as a JSON
    /// object.
    #[wasm_bindgen(js_name = sendHeaders)]
    pub fn send_headers(&self) -> String {
        let mut out = String::new();
        codec::headers_object(&mut out, &self.send_headers.0);
        out
    }

    /// What the host's getters read, as one JSON array: `[state, customerId,
    /// anonymousId, expiresAt, refreshAt, generation, claimsJson]` (`null`
    /// for an absent value; claims as their JSON text). One export instead of
    /// a getter each: each getter costs a wasm export and its glue.
    /// `generation` changes whenever the token does (the host caches the
    /// parsed claims by it).
    pub fn snapshot(&self) -> String {
        let Some(d) = self.inner.as_ref() else {
            return "[\"destroyed\",null,\"\",null,null,0,null]".to_owned();
        };
        let mut out = String::from("[");
        write_string(&mut out, d.state().as_str());
        out.push(',');
        write_opt_string(&mut out, d.customer_id());
        out.push(',');
        write_string(&mut out, d.anonymous_id());
        out.push(',');
        write_opt_int(&mut out, d.expires_at());
        out.push(',');
        write_opt_int(&mut out, d.refresh_at());
        out.push(',');
        write_int(&mut out, d.generation() as i64);
        out.push(',');
        write_opt_string(&mut out, d.claims_json());
        out.push(']');
        out
    }

    /// The token's `sessionStorage` entry name.
    #[wasm_bindgen(getter, js_name = tokenKey)]
    pub fn token_key(&self) -> String {
        self.inner
            .as_ref()
            .map_or("", |d| d.storage_name(StorageKey::Token))
            .to_owned()
    }

    /// A `fetch` answered with a response its `send` reply's `settles_unless`
    /// lets the host resolve with at once: the driver forgets its entry
    /// ([`driver::Driver::fetch_settled`]). A direct call rather than a
    /// [`DriverHandle::step`]: no JSON either way, and no effect follows.
    pub fn settled(&mut self, request: f64) {
        if let Some(inner) = self.inner.as_mut() {
            inner.fetch_settled(request as u64);
        }
    }
}

/// [`driver::Driver::handle`], in one place: its code is not copied into
/// each caller (the wasm's size).
#[inline(never)]
fn feed(inner: &mut driver::Driver, now: i64, input: Input) {
    inner.handle(now, input);
}

/// [`driver::Driver::poll`], in one place (as [`feed`]).
#[inline(never)]
fn poll(inner: &mut driver::Driver, now: i64) -> Option<Effect> {
    inner.poll(now)
}

/// Carries out the driver's loop: feeds `next` (if any), then hands every
/// effect (`polled` first, if one was taken already) to the checks or
/// appends it to `out` as JSON, until none is left.
fn drain(
    inner: &mut driver::Driver,
    checker: &mut Checker,
    now: i64,
    mut next: Option<Input>,
    mut polled: Option<Effect>,
    out: &mut String,
) {
    loop {
        if let Some(input) = next.take() {
            feed(inner, now, input);
        }
        let Some(effect) = polled.take().or_else(|| poll(inner, now)) else {
            break;
        };
        next = match effect {
            Effect::CheckToken {
                call,
                token,
                signature,
                introspect,
            } => checker.check(call, token, signature, introspect, out),
            Effect::PostRefreshGrant { call, body, proof } => checker.grant(call, body, proof, out),
            effect => {
                if out.len() > 1 {
                    out.push(',');
                }
                codec::effect_json(inner, &effect, out);
                None
            }
        };
    }
}

/// `[["error", code, message[, detail]]]`: [`DriverHandle::step`]'s answer
/// when it cannot run.
fn cat_error(e: &Error) -> String {
    let mut out = String::from("[[\"error\",");
    error_fields(&mut out, e);
    out.push_str("]]");
    out
}

/// The `sessionStorage` entry of the anonymous id, read before the driver opens.
#[wasm_bindgen(js_name = anonymousIdKey)]
pub fn anonymous_id_key() -> String {
    driver::ANONYMOUS_ID_KEY.to_owned()
}

/// `checkCustomerId(id)`: `null`, or the error's `[code, message]` JSON.
#[wasm_bindgen(js_name = checkCustomerIdJson)]
pub fn check_customer_id(id: &str) -> Option<String> {
    crate::identifier::check_customer_id(id)
        .err()
        .map(|e| error_json(&e))
}

/// `decodeToken(token)`: `{"header":…,"claims":…,"expiresAt":…}` JSON, or
/// the error's `[code, message]` JSON.
#[wasm_bindgen(js_name = decodeTokenJson)]
pub fn decode_token(token: &str) -> String {
    match token::decode(token, token::DEFAULT_MAX_TOKEN_BYTES) {
        Ok(d) => {
            let mut out = String::from("{\"header\":");
            out.push_str(&d.header_json);
            out.push_str(",\"claims\":");
            out.push_str(&d.payload_json);
            out.push_str(",\"expiresAt\":");
            match d.claims.expires_at_ms() {
                Some(ms) => write_int(&mut out, ms),
                None => out.push_str("null"),
            }
            out.push('}');
            out
        }
        Err(e) => error_json(&e),
    }
}

//! The wasm-bindgen shell: converts JavaScript values into the driver's
//! inputs ([`effects::Host`] carries out its effects), and turns every failure
//! into a `ChatAuthError`. Nothing here decides policy.

mod crypto;
mod effects;
mod issuer;
mod js;
mod transport;

use crate::error::{Error, ErrorCode};
use crate::jose::token;
use crate::options::{Config, FUNCTION_OPTIONS};
use crate::session::driver::{Input, EVENTS};
use crate::session::machine::State;
use effects::{destroyed, Host};
use js_sys::{Function, Object, Promise};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen(module = "/js/asapp.js")]
extern "C" {
    #[wasm_bindgen(js_name = installAsappWith)]
    fn install_asapp_with(target: &JsValue, create: &Function);
}

fn core_err(e: Error) -> JsValue {
    js::to_js(&e)
}

/// `checkCustomerId(id)`: throws `customer_id_invalid` or `customer_id_pii`.
#[wasm_bindgen(js_name = checkCustomerId)]
pub fn check_customer_id(id: JsValue) -> Result<(), JsValue> {
    let id = id
        .as_string()
        .ok_or_else(|| js::error(ErrorCode::CustomerIdInvalid, "customer id must be a string"))?;
    crate::identifier::check_customer_id(&id).map_err(core_err)
}

/// `decodeToken(token)`: `{ header, claims, expiresAt }`, without verification.
#[wasm_bindgen(js_name = decodeToken)]
pub fn decode_token(token: JsValue) -> Result<JsValue, JsValue> {
    let token = token
        .as_string()
        .ok_or_else(|| js::error(ErrorCode::Malformed, "token must be a string"))?;
    let decoded = token::decode(&token, token::DEFAULT_MAX_TOKEN_BYTES).map_err(core_err)?;
    let out = Object::new();
    js::set(&out, "header", &js::parse(&decoded.header_json));
    js::set(&out, "claims", &js::parse(&decoded.payload_json));
    js::set(
        &out,
        "expiresAt",
        &js::opt_number(decoded.claims.expires_at_ms()),
    );
    Ok(out.into())
}

/// `verifyToken(token, options)`: resolves to the claims.
#[wasm_bindgen(js_name = verifyToken)]
pub fn verify_token(token: JsValue, options: JsValue) -> Promise {
    future_to_promise(issuer::verify_token(token, options))
}

/// `installAsapp(target = globalThis)`: defines `target.ASAPP(command, …)`.
#[wasm_bindgen(js_name = installAsapp)]
pub fn install_asapp(target: JsValue) {
    let target = if target.is_undefined() || target.is_null() {
        js::global().into()
    } else {
        target
    };
    let create = Closure::<dyn Fn(JsValue) -> Result<JsValue, JsValue>>::new(|options: JsValue| {
        ChatAuth::new(options).map(JsValue::from)
    });
    install_asapp_with(&target, create.as_ref().unchecked_ref());
    // The facade lives as long as the page.
    create.forget();
}

/// Customer authentication for one chat widget (API.md `class ChatAuth`).
#[wasm_bindgen]
pub struct ChatAuth {
    host: Rc<Host>,
}

fn function_option(options: &JsValue, key: &str) -> Result<Option<Function>, JsValue> {
    let v = js::get(options, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    js::function(&v)
        .map(Some)
        .ok_or_else(|| core_err(Error::invalid_config(key, "must be a function")))
}

fn rejected(e: JsValue) -> Promise {
    Promise::reject(&e)
}

#[wasm_bindgen]
impl ChatAuth {
    /// `new ChatAuth(options)`; throws `invalid_config` on a bad option.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<ChatAuth, JsValue> {
        if !options.is_object() {
            return Err(js::error(
                ErrorCode::InvalidConfig,
                "options must be an object",
            ));
        }
        // JSON drops functions: check function-valued keys here.
        for key in Object::keys(options.unchecked_ref::<Object>()).iter() {
            let key = key.as_string().unwrap_or_default();
            if js::get(&options, &key).is_function() && !FUNCTION_OPTIONS.contains(&key.as_str()) {
                return Err(core_err(Error::invalid_config(
                    &key,
                    "is not a known option",
                )));
            }
        }
        let provider = function_option(&options, "contextProvider")?;
        let login_handler = function_option(&options, "userLoginHandler")?;
        let now_fn = function_option(&options, "now")?;
        let text = js::stringify(&options)
            .ok_or_else(|| js::error(ErrorCode::InvalidConfig, "options must be JSON-like"))?;
        let parsed = crate::wire::json::parse_object(text.as_bytes())
            .map_err(|_| js::error(ErrorCode::InvalidConfig, "options must be JSON-like"))?;
        let config = Config::from_json(&parsed).map_err(core_err)?;
        let issuer = issuer::IssuerClient::new(&config).map_err(core_err)?;
        let customer_id = config.customer_id.clone();
        let host = Host::open(config, provider, login_handler, now_fn, issuer)?;
        if let Some(customer_id) = customer_id {
            // Errors surface as events (`refresh-failed`, `auth-lost`).
            let request = host.next_id();
            host.feed(Input::SetCustomer {
                request,
                customer_id,
                provider: false,
                stored: host.stored_token(),
            });
        }
        Ok(ChatAuth { host })
    }

    fn destroyed(&self) -> bool {
        self.host.with(|d| d.state()) == State::Destroyed
    }

    /// Sets (or switches) the customer; resolves once authenticated.
    #[wasm_bindgen(js_name = setCustomer)]
    pub fn set_customer(&self, customer_id: JsValue, context_provider: JsValue) -> Promise {
        if self.destroyed() {
            return rejected(destroyed());
        }
        let provider = !(context_provider.is_undefined() || context_provider.is_null());
        if provider {
            match js::function(&context_provider) {
                Some(p) => self.host.set_provider(p),
                None => {
                    return rejected(core_err(Error::invalid_config(
                        "contextProvider",
                        "must be a function",
                    )))
                }
            }
        }
        let Some(customer_id) = customer_id.as_string() else {
            return rejected(js::error(
                ErrorCode::CustomerIdInvalid,
                "customer id must be a string",
            ));
        };
        let request = self.host.next_id();
        self.host.request(
            request,
            None,
            Input::SetCustomer {
                request,
                customer_id,
                provider,
                stored: self.host.stored_token(),
            },
        )
    }

    /// Logs out: forgets token and customer, takes a new anonymous id.
    #[wasm_bindgen(js_name = clearCustomer)]
    pub fn clear_customer(&self) -> Promise {
        let request = self.host.next_id();
        self.host
            .request(request, None, Input::ClearCustomer { request })
    }

    /// The access token (refreshed first when due or forced); `null` when anonymous.
    #[wasm_bindgen(js_name = getToken)]
    pub fn get_token(&self, opts: JsValue) -> Promise {
        let force = js::get(&opts, "forceRefresh").as_bool() == Some(true);
        let request = self.host.next_id();
        self.host
            .request(request, None, Input::GetToken { request, force })
    }

    /// The headers to add to a request for `url` (`{}` for other origins);
    /// with `dpop`, a proof for `opts.method` (default `GET`) and `url`.
    #[wasm_bindgen(js_name = authHeaders)]
    pub fn auth_headers(&self, url: JsValue, opts: JsValue) -> Promise {
        let method = js::get(&opts, "method").as_string();
        let to = url
            .as_string()
            .and_then(|u| transport::destination(&u, method.as_deref()));
        let (origin, target) = to.map(|to| (to.origin, to.target)).unzip();
        let request = self.host.next_id();
        let input = Input::AuthHeaders {
            request,
            origin,
            target,
        };
        self.host.request(request, None, input)
    }

    /// `fetch` with the token attached for allowed origins.
    pub fn fetch(&self, input: JsValue, init: JsValue) -> Promise {
        let request = self.host.next_id();
        match transport::read(request, input, init) {
            Ok((call, driver_input)) => self.host.request(request, Some(call), driver_input),
            Err(e) => rejected(e),
        }
    }

    /// Subscribes to an event; returns the unsubscribe function.
    pub fn on(&self, event: JsValue, handler: JsValue) -> Result<Function, JsValue> {
        if self.destroyed() {
            return Err(destroyed());
        }
        let name = event.as_string().unwrap_or_default();
        let Some(name) = EVENTS.iter().find(|e| **e == name) else {
            return Err(js::error(ErrorCode::InvalidConfig, "unknown event name"));
        };
        let handler = js::function(&handler).ok_or_else(|| {
            js::error(ErrorCode::InvalidConfig, "event handler must be a function")
        })?;
        let id = self.host.subscribe(name, handler);
        let weak = Rc::downgrade(&self.host);
        let off = Closure::once_into_js(move || {
            if let Some(host) = weak.upgrade() {
                host.unsubscribe(id);
            }
        });
        Ok(off.unchecked_into())
    }

    /// Cancels timers, listeners and channels; pending calls reject with `destroyed`.
    pub fn destroy(&self) {
        self.host.feed(Input::Destroy);
    }

    /// `'anonymous' | 'authenticating' | 'authenticated' | 'refreshing' | 'expired' | 'logged_out' | 'destroyed'`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.host.with(|d| d.state().as_str().to_owned())
    }

    /// The customer id, or `null`.
    #[wasm_bindgen(getter, js_name = customerId)]
    pub fn customer_id(&self) -> JsValue {
        self.host
            .with(|d| d.customer_id().map_or(JsValue::NULL, JsValue::from))
    }

    /// The anonymous id sent as `Chat-Anonymous-Id`.
    #[wasm_bindgen(getter, js_name = anonymousId)]
    pub fn anonymous_id(&self) -> String {
        self.host.with(|d| d.anonymous_id().to_owned())
    }

    /// Expiry in ms on the page clock, or `null`.
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> JsValue {
        js::opt_number(self.host.with(|d| d.expires_at()))
    }

    /// When the token will be refreshed, in ms on the page clock
    /// (`expiresAt` − `refresh.marginSeconds`, capped at 25 % of the
    /// lifetime, plus jitter), or `null`: anonymous, refreshing, or no way
    /// to refresh.
    #[wasm_bindgen(getter, js_name = refreshAt)]
    pub fn refresh_at(&self) -> JsValue {
        js::opt_number(self.host.with(|d| d.refresh_at()))
    }

    /// The decoded JWT payload, or `null` for opaque tokens and when anonymous.
    #[wasm_bindgen(getter)]
    pub fn claims(&self) -> JsValue {
        self.host.claims()
    }
}

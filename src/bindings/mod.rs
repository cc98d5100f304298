//! The wasm-bindgen shell: converts JavaScript values, delegates to the core
//! and to [`runtime::Runtime`], and turns every failure into a
//! `ChatAuthError`. Nothing here decides policy.

mod crypto;
mod js;
mod judge;
mod runtime;
mod tabs;
mod transport;

use crate::config::{Config, FUNCTION_OPTIONS};
use crate::error::{Error, ErrorCode};
use crate::session::{Session, SessionConfig, State};
use crate::token;
use js_sys::{Function, Object, Promise};
use runtime::{Runtime, EVENTS};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen(module = "/js/asapp.js")]
extern "C" {
    #[wasm_bindgen(js_name = installAsappWith)]
    fn install_asapp_with(target: &JsValue, create: &Function);
}

/// Every async method's future as a `Promise`, through one boxed
/// `future_to_promise` instantiation instead of one per method (size).
fn promise(f: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let boxed: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>> = Box::pin(f);
    future_to_promise(boxed)
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
    promise(judge::verify_token(token, options))
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
    rt: Rc<Runtime>,
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

fn destroyed() -> JsValue {
    js::error(ErrorCode::Destroyed, "this ChatAuth was destroyed")
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
        // JSON drops functions: judge function-valued keys here.
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
        let parsed = crate::json::parse_object(text.as_bytes())
            .map_err(|_| js::error(ErrorCode::InvalidConfig, "options must be JSON-like"))?;
        let config = Config::from_json(&parsed).map_err(core_err)?;
        let keys = judge::KeyCache::new(&config).map_err(core_err)?;
        if let Some(id) = &config.customer_id {
            crate::identifier::check_customer_id(id).map_err(core_err)?;
            if provider.is_none() {
                return Err(js::error(
                    ErrorCode::InvalidConfig,
                    "option 'customerId' needs a contextProvider",
                ));
            }
        }
        let session = Session::new(
            Runtime::initial_anonymous_id(),
            SessionConfig {
                policy: config.policy,
                has_provider: provider.is_some(),
                has_token_endpoint: config.has_token_endpoint(),
            },
        );
        let customer_id = config.customer_id.clone();
        let rt = Runtime::new(config, session, provider, login_handler, now_fn, keys);
        let auth = ChatAuth { rt };
        if let Some(id) = customer_id {
            // Errors surface as events (`refresh-failed`, `auth-lost`).
            let _ = auth.set_customer(JsValue::from(id), JsValue::UNDEFINED);
        }
        Ok(auth)
    }

    /// Sets (or switches) the customer; resolves once authenticated.
    #[wasm_bindgen(js_name = setCustomer)]
    pub fn set_customer(&self, customer_id: JsValue, context_provider: JsValue) -> Promise {
        let rt = self.rt.clone();
        promise(async move {
            if rt.session.borrow().state() == State::Destroyed {
                return Err(destroyed());
            }
            if !(context_provider.is_undefined() || context_provider.is_null()) {
                let p = js::function(&context_provider).ok_or_else(|| {
                    core_err(Error::invalid_config(
                        "contextProvider",
                        "must be a function",
                    ))
                })?;
                rt.set_provider(p);
            }
            let id = customer_id.as_string().ok_or_else(|| {
                js::error(ErrorCode::CustomerIdInvalid, "customer id must be a string")
            })?;
            let now = rt.now();
            let stored = rt.stored_credential(&id);
            let fx = {
                let mut session = rt.session.borrow_mut();
                match stored {
                    Some(c) => session.resume(&id, c, now, js_sys::Math::random()),
                    None => session.set_customer(&id, now),
                }
            }
            .map_err(core_err)?;
            rt.after(fx);
            rt.credential(false).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Logs out: forgets token and customer, takes a new anonymous id.
    #[wasm_bindgen(js_name = clearCustomer)]
    pub fn clear_customer(&self) -> Promise {
        let rt = self.rt.clone();
        promise(async move {
            let customer = rt.session.borrow().customer_id().map(str::to_owned);
            let fx = rt
                .session
                .borrow_mut()
                .clear_customer(Runtime::new_anonymous_id())
                .map_err(core_err)?;
            rt.after(fx);
            if let (Some(customer), Some(tabs)) = (customer, rt.tabs.borrow().as_ref()) {
                tabs.announce_logout(&customer);
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The access token (refreshed first when due or forced); `null` when anonymous.
    #[wasm_bindgen(js_name = getToken)]
    pub fn get_token(&self, opts: JsValue) -> Promise {
        let rt = self.rt.clone();
        let force = js::get(&opts, "forceRefresh").as_bool() == Some(true);
        promise(async move {
            let credential = rt.credential(force).await?;
            Ok(credential.map_or(JsValue::NULL, |c| JsValue::from(c.token.secret())))
        })
    }

    /// The headers to add to a request for `url` (`{}` for other origins).
    #[wasm_bindgen(js_name = authHeaders)]
    pub fn auth_headers(&self, url: JsValue) -> Promise {
        promise(transport::auth_headers(self.rt.clone(), url))
    }

    /// `fetch` with the token attached for allowed origins.
    pub fn fetch(&self, input: JsValue, init: JsValue) -> Promise {
        promise(transport::fetch(self.rt.clone(), input, init))
    }

    /// Subscribes to an event; returns the unsubscribe function.
    pub fn on(&self, event: JsValue, handler: JsValue) -> Result<Function, JsValue> {
        if self.rt.session.borrow().state() == State::Destroyed {
            return Err(destroyed());
        }
        let name = event.as_string().unwrap_or_default();
        let Some(name) = EVENTS.iter().find(|e| **e == name) else {
            return Err(js::error(ErrorCode::InvalidConfig, "unknown event name"));
        };
        let handler = js::function(&handler).ok_or_else(|| {
            js::error(ErrorCode::InvalidConfig, "event handler must be a function")
        })?;
        let id = self.rt.subscribe(name, handler);
        let weak = Rc::downgrade(&self.rt);
        let off = Closure::once_into_js(move || {
            if let Some(rt) = weak.upgrade() {
                rt.unsubscribe(id);
            }
        });
        Ok(off.unchecked_into())
    }

    /// Cancels timers, listeners and channels; pending calls reject with `destroyed`.
    pub fn destroy(&self) {
        let fx = self.rt.session.borrow_mut().destroy();
        self.rt.after(fx);
        self.rt.shut_down();
    }

    /// `'anonymous' | 'authenticating' | 'authenticated' | 'refreshing' | 'expired' | 'logged_out' | 'destroyed'`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.rt.session.borrow().state().as_str().to_owned()
    }

    /// The customer id, or `null`.
    #[wasm_bindgen(getter, js_name = customerId)]
    pub fn customer_id(&self) -> JsValue {
        self.rt
            .session
            .borrow()
            .customer_id()
            .map_or(JsValue::NULL, JsValue::from)
    }

    /// The anonymous id sent as `Chat-Anonymous-Id`.
    #[wasm_bindgen(getter, js_name = anonymousId)]
    pub fn anonymous_id(&self) -> String {
        self.rt.session.borrow().anonymous_id().to_owned()
    }

    /// Expiry in ms on the page clock, or `null`.
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> JsValue {
        js::opt_number(
            self.rt
                .session
                .borrow()
                .credential()
                .and_then(|c| c.expires_at),
        )
    }

    /// The decoded JWT payload, or `null` for opaque tokens and when anonymous.
    #[wasm_bindgen(getter)]
    pub fn claims(&self) -> JsValue {
        self.rt.claims()
    }
}

//! Small conversions between the core and JavaScript values.

use crate::error::{Error, ErrorCode};
use js_sys::{Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/js/error.js")]
extern "C" {
    #[wasm_bindgen(js_name = makeError)]
    fn make_error(code: &str, message: &str, detail: Option<String>) -> JsValue;
}

/// A core error as a `ChatAuthError`.
pub fn to_js(e: &Error) -> JsValue {
    make_error(e.code().as_str(), e.message(), e.detail().map(String::from))
}

/// A new `ChatAuthError`.
pub fn error(code: ErrorCode, message: &'static str) -> JsValue {
    make_error(code.as_str(), message, None)
}

/// `obj[key]`, `undefined` when absent or not an object.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() && !obj.is_function() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `obj[key] = value` (cannot fail on plain objects).
pub fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// `value` as a function, if it is one.
pub fn function(value: &JsValue) -> Option<Function> {
    value.dyn_ref::<Function>().cloned()
}

/// `JSON.stringify(value)`, `None` when it throws or gives `undefined`.
pub fn stringify(value: &JsValue) -> Option<String> {
    JSON::stringify(value).ok().and_then(|s| s.as_string())
}

/// `JSON.parse(text)` of text the core already validated.
pub fn parse(text: &str) -> JsValue {
    JSON::parse(text).unwrap_or(JsValue::NULL)
}

/// A number or `null`.
pub fn opt_number(n: Option<i64>) -> JsValue {
    n.map_or(JsValue::NULL, |n| JsValue::from_f64(n as f64))
}

/// The global object (`window` or a worker's `self`).
pub fn global() -> Object {
    js_sys::global()
}

/// The page's own `fetch(input, init)`, looked up when called (so a page's
/// wrapper or a test double is honoured); a rejected promise when it is
/// missing or throws.
pub fn fetch_promise(input: &JsValue, init: &JsValue) -> Promise {
    match function(&get(&global(), "fetch")).map(|f| f.call2(&JsValue::NULL, input, init)) {
        Some(Ok(p)) => Promise::resolve(&p),
        Some(Err(e)) => Promise::reject(&e),
        None => Promise::reject(&JsValue::UNDEFINED),
    }
}

/// [`fetch_promise`] awaited. `Err` is whatever fetch threw or rejected
/// with; callers decide what a caller may see of it.
pub async fn fetch(input: &JsValue, init: &JsValue) -> Result<web_sys::Response, JsValue> {
    JsFuture::from(fetch_promise(input, init))
        .await?
        .dyn_into::<web_sys::Response>()
}

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
/// wrapper or a test double is honoured). `Err` is whatever fetch threw or
/// rejected with; callers decide what a caller may see of it.
pub async fn fetch(input: &JsValue, init: &JsValue) -> Result<web_sys::Response, JsValue> {
    let fetch = function(&get(&global(), "fetch")).ok_or(JsValue::UNDEFINED)?;
    let promise: Promise = fetch.call2(&JsValue::NULL, input, init)?.unchecked_into();
    JsFuture::from(promise)
        .await?
        .dyn_into::<web_sys::Response>()
}

/// A version 4 UUID from `crypto.getRandomValues`.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    let crypto = get(&global(), "crypto");
    if let Ok(crypto) = crypto.dyn_into::<web_sys::Crypto>() {
        let _ = crypto.get_random_values_with_u8_array(&mut b);
    }
    if b == [0u8; 16] {
        // No WebCrypto (very old runtime): Math.random still gives a unique id.
        for x in b.iter_mut() {
            *x = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[(byte >> 4) as usize] as char);
        s.push(HEX[(byte & 15) as usize] as char);
    }
    s
}

/// Whether `s` has the shape of a version 4 UUID.
pub fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            14 => *c == b'4',
            _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
        })
}

//! The JavaScript primitives the host calls: `js/locks.js` (Web Locks, each
//! call bounded and reporting failure) and `js/host.js` (the provider call,
//! `sessionStorage`, wake listeners, random bytes, the channel, the DPoP key
//! and its signatures).

use js_sys::Function;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/locks.js")]
extern "C" {
    #[wasm_bindgen(js_name = locksAvailable)]
    pub(super) fn locks_available() -> bool;
    #[wasm_bindgen(js_name = acquireLock)]
    pub(super) fn acquire_lock(name: &str, wait_ms: u32, done: &JsValue);
    #[wasm_bindgen(js_name = holdLock)]
    pub(super) fn hold_lock(name: &str, failed: &JsValue) -> Function;
    #[wasm_bindgen(js_name = countHeld)]
    pub(super) fn count_held(prefix: &str, own: &str, ms: u32, done: &JsValue);
}

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    #[wasm_bindgen(js_name = callProvider)]
    pub(super) fn call_provider_js(
        provider: &Function,
        ok: &JsValue,
        err: &JsValue,
        id: f64,
        needs_refresh: bool,
        reason: &str,
        deadline: f64,
        controller: Option<web_sys::AbortController>,
    ) -> bool;
    pub(super) fn store(key: &str, value: Option<&str>) -> bool;
    pub(super) fn load(key: &str) -> Option<String>;
    #[wasm_bindgen(js_name = listenForWake)]
    pub(super) fn listen_for_wake(wake: &JsValue) -> Function;
    #[wasm_bindgen(js_name = randomBytes)]
    pub(super) fn random_bytes(bytes: &mut [u8]);
    #[wasm_bindgen(js_name = openChannel)]
    pub(super) fn open_channel(name: &str, receive: &JsValue) -> JsValue;
}

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// Loads (or makes and keeps) the non-extractable key pair `name`, a
    /// new one if the stored one's `x` is `replace`; `done(publicJwk,
    /// privateKey)`, or `done(null, null)`.
    #[wasm_bindgen(js_name = loadProofKey)]
    pub(super) fn load_proof_key(name: &str, replace: Option<String>, done: &JsValue);
    /// Signs `input` with `private_key`; `done(ArrayBuffer)`, or `done(null)`.
    #[wasm_bindgen(js_name = signProof)]
    pub(super) fn sign_proof(private_key: &JsValue, input: &str, done: &JsValue);
}

//! The verification vectors (`tests/vectors/*.json`, format in
//! `tests/vectors/README.md`, compiled in by the shared `chat_auth_vectors`)
//! in headless Chromium, through `verifyToken`'s shipped steps: the core's
//! `verify_prepare`, `js/host.js`'s WebCrypto `verifySignature` (with the
//! core's `verify_key` when it keeps no key under the id), the core's
//! `verify_finish` (as `js/chat_auth_host.js` chains them), with `Date.now`
//! set to each case's `now`. Every case must get the outcome `tests/vectors_native.rs` demands
//! natively: the same files, the same expectations.
#![cfg(target_arch = "wasm32")]

use chat_auth::exports::{verify_finish, verify_key, verify_prepare};
use chat_auth::wire::json;
use chat_auth_vectors::{same, to_json, Case};
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    #[wasm_bindgen(js_name = verifySignature)]
    fn verify_signature(
        id: f64,
        request: &JsValue,
        data: &Uint8Array,
        signature: &Uint8Array,
    ) -> Promise;
}

/// `verifyToken(token, options)` as `js/chat_auth_host.js` runs it: the
/// claims' JSON text, or the error code.
async fn verify_token(token: &str, options_json: &str) -> Result<String, String> {
    let code = |text: &str| {
        let error = js_sys::JSON::parse(text).unwrap_or(JsValue::NULL);
        Reflect::get(&error, &0.into())
            .ok()
            .and_then(|c| c.as_string())
            .unwrap_or_default()
    };
    // [id, keyId, n] as f64s, then the signing input (n bytes) and the signature.
    let bytes = verify_prepare(token, options_json);
    let number = |i: usize| {
        bytes
            .get(i * 8..i * 8 + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0.0, f64::from_le_bytes)
    };
    let (id, key, n) = (number(0), number(1), 24 + number(2) as usize);
    let rest = bytes.get(24..).unwrap_or_default();
    if id == 0.0 {
        return Err(code(std::str::from_utf8(rest).unwrap_or("")));
    }
    let request = Closure::once_into_js(move || {
        js_sys::JSON::parse(&verify_key(id)).unwrap_or(JsValue::NULL)
    });
    let (data, signature) = bytes
        .split_at_checked(n)
        .ok_or_else(|| "prepare: short answer".to_owned())?;
    let data = Uint8Array::from(data.get(24..).unwrap_or_default());
    let ok = JsFuture::from(verify_signature(
        key,
        &request,
        &data,
        &Uint8Array::from(signature),
    ))
    .await
    .map(|v| v.as_bool() == Some(true))
    .unwrap_or(false);
    let out = verify_finish(id, ok, js_sys::Date::now());
    if out.starts_with('[') {
        Err(code(&out))
    } else {
        Ok(out)
    }
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Replaces `Date.now` (what `verifyToken` reads when `options.now` is
/// absent) for the life of the value.
struct FixedClock {
    date: Object,
    original: JsValue,
}

impl FixedClock {
    fn set(now: f64) -> FixedClock {
        let date: Object = get(&js_sys::global(), "Date").unchecked_into();
        let original = get(&date, "now");
        let fixed = Function::new_no_args(&format!("return {now};"));
        Reflect::set(&date, &"now".into(), &fixed).unwrap();
        FixedClock { date, original }
    }
}

impl Drop for FixedClock {
    fn drop(&mut self) {
        let _ = Reflect::set(&self.date, &"now".into(), &self.original);
    }
}

/// Runs one case; `Err` describes a mismatch.
async fn run_case(case: &Case) -> Result<(), String> {
    let options = to_json(&json::Value::Object(case.options.clone()));
    let expect = &case.expect;
    let outcome = {
        let _clock = FixedClock::set(case.now as f64);
        verify_token(&case.token, &options).await
    };
    match outcome {
        Ok(claims) => {
            if expect != "ok" {
                return Err(format!("expected {expect}, got ok"));
            }
            let Some(want) = &case.claims else {
                return Ok(());
            };
            match json::parse(claims.as_bytes()) {
                Ok(got) if same(&got, want) => Ok(()),
                _ => Err("claims differ".to_owned()),
            }
        }
        Err(code) if code != *expect => Err(format!("expected {expect}, got {code}")),
        Err(_) => Ok(()),
    }
}

#[wasm_bindgen_test]
async fn vectors_in_the_browser() {
    let files = chat_auth_vectors::files();
    let mut failures = Vec::new();
    let mut total = 0;
    for file in &files {
        let mut counts = BTreeMap::<&str, usize>::new();
        for case in &file.cases {
            *counts.entry(&case.expect).or_default() += 1;
            if let Err(why) = run_case(case).await {
                failures.push(format!("{}: {why}", case.id()));
            }
        }
        total += file.cases.len();
        let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        console_log!(
            "{}: {} cases ({}) [browser]",
            file.name,
            file.cases.len(),
            summary.join(", ")
        );
    }
    console_log!("total: {total} cases in {} files [browser]", files.len());
    assert!(
        failures.is_empty(),
        "{} failing vector cases in the browser:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

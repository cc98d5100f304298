//! The verification vectors (`tests/vectors/*.json`, format in
//! `tests/vectors/README.md`) in headless Chromium, through the exported
//! `verifyToken` (WebCrypto signatures), with `Date.now` set to each case's
//! `now`. Every case must get the outcome `tests/vectors_native.rs` demands
//! natively: the same files, the same expectations.
#![cfg(target_arch = "wasm32")]

use chat_auth::verify_token;
use chat_auth::wire::json::{self, Value};
use js_sys::{Function, Object, Reflect};
use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Every vector file; `tests/vectors_native.rs` checks this list is complete.
const FILES: [(&str, &str); 8] = [
    ("algorithms.json", include_str!("vectors/algorithms.json")),
    ("attacks.json", include_str!("vectors/attacks.json")),
    ("claims.json", include_str!("vectors/claims.json")),
    ("header.json", include_str!("vectors/header.json")),
    ("keys.json", include_str!("vectors/keys.json")),
    ("options.json", include_str!("vectors/options.json")),
    ("rfc.json", include_str!("vectors/rfc.json")),
    ("structure.json", include_str!("vectors/structure.json")),
];

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap_or(JsValue::UNDEFINED)
}

/// JSON equality with objects compared as sets of members (as natively).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
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
async fn run_case(case: &JsValue) -> Result<(), String> {
    let token = get(case, "token");
    let options = get(case, "options");
    let now = get(case, "now").as_f64().ok_or("no now")?;
    let expect = get(case, "expect").as_string().ok_or("no expect")?;
    let outcome = {
        let _clock = FixedClock::set(now);
        JsFuture::from(verify_token(token, options)).await
    };
    match outcome {
        Ok(claims) => {
            if expect != "ok" {
                return Err(format!("expected {expect}, got ok"));
            }
            let want = get(case, "claims");
            if want.is_undefined() {
                return Ok(());
            }
            let as_json = |v: &JsValue| {
                let text = js_sys::JSON::stringify(v).ok()?.as_string()?;
                json::parse(text.as_bytes()).ok()
            };
            match (as_json(&claims), as_json(&want)) {
                (Some(got), Some(want)) if same(&got, &want) => Ok(()),
                _ => Err("claims differ".to_owned()),
            }
        }
        Err(e) => {
            let is_error = e.is_instance_of::<js_sys::Error>()
                && get(&e, "name").as_string().as_deref() == Some("ChatAuthError");
            let code = get(&e, "code").as_string().unwrap_or_default();
            if !is_error {
                Err(format!(
                    "expected {expect}, got a non-ChatAuthError ({code})"
                ))
            } else if code != expect {
                Err(format!("expected {expect}, got {code}"))
            } else {
                Ok(())
            }
        }
    }
}

#[wasm_bindgen_test]
async fn vectors_in_the_browser() {
    let mut failures = Vec::new();
    let mut total = 0;
    for (name, text) in FILES {
        let doc = js_sys::JSON::parse(text).unwrap();
        let cases: js_sys::Array = get(&doc, "cases").unchecked_into();
        let mut counts = BTreeMap::<String, usize>::new();
        for case in cases.iter() {
            let id = get(&case, "name").as_string().unwrap_or_default();
            let expect = get(&case, "expect").as_string().unwrap_or_default();
            *counts.entry(expect).or_default() += 1;
            if let Err(why) = run_case(&case).await {
                failures.push(format!("{name}/{id}: {why}"));
            }
        }
        total += cases.length();
        let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        console_log!(
            "{name}: {} cases ({}) [browser]",
            cases.length(),
            summary.join(", ")
        );
    }
    console_log!("total: {total} cases in {} files [browser]", FILES.len());
    assert!(
        failures.is_empty(),
        "{} failing vector cases in the browser:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

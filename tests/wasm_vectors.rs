//! The verification vectors (`tests/vectors/*.json`, format in
//! `tests/vectors/README.md`, compiled in by the shared `chat_auth_vectors`)
//! in headless Chromium, through the exported
//! `verifyToken` (WebCrypto signatures), with `Date.now` set to each case's
//! `now`. Every case must get the outcome `tests/vectors_native.rs` demands
//! natively: the same files, the same expectations.
#![cfg(target_arch = "wasm32")]

use chat_auth::verify_token;
use chat_auth::wire::json;
use chat_auth_vectors::{same, to_json, Case};
use js_sys::{Function, Object, Reflect};
use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

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
    let token = JsValue::from_str(&case.token);
    let options = js_sys::JSON::parse(&to_json(&json::Value::Object(case.options.clone())))
        .map_err(|_| "options do not parse in the browser")?;
    let expect = &case.expect;
    let outcome = {
        let _clock = FixedClock::set(case.now as f64);
        JsFuture::from(verify_token(token, options)).await
    };
    match outcome {
        Ok(claims) => {
            if expect != "ok" {
                return Err(format!("expected {expect}, got ok"));
            }
            let Some(want) = &case.claims else {
                return Ok(());
            };
            let got = js_sys::JSON::stringify(&claims)
                .ok()
                .and_then(|t| t.as_string())
                .and_then(|t| json::parse(t.as_bytes()).ok());
            match got {
                Some(got) if same(&got, want) => Ok(()),
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
            } else if code != *expect {
                Err(format!("expected {expect}, got {code}"))
            } else {
                Ok(())
            }
        }
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

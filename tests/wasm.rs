//! The wasm bindings in headless Chromium: real timers, real provider
//! callbacks and promises, real `ChatAuthError`s. Run by
//! `wasm-pack test --headless --chrome -- --test wasm` (`npm test`).
#![cfg(target_arch = "wasm32")]

use chat_auth::{check_customer_id, decode_token, ChatAuth};
use js_sys::{Array, Function, Object, Promise, Reflect};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// An unsigned JWT for `sub` living `ttl_s` seconds (no key configured, so
/// only claims are judged).
fn jwt(sub: &str, ttl_s: f64) -> String {
    let now = js_sys::Date::now() / 1000.0;
    let b64 = |s: &str| {
        let b = js_sys::global()
            .unchecked_into::<web_sys::Window>()
            .btoa(s)
            .unwrap();
        b.replace('+', "-")
            .replace('/', "_")
            .trim_end_matches('=')
            .to_owned()
    };
    let payload = js_sys::JSON::stringify(&{
        let o = Object::new();
        Reflect::set(&o, &"sub".into(), &sub.into()).unwrap();
        Reflect::set(&o, &"iat".into(), &now.floor().into()).unwrap();
        Reflect::set(&o, &"exp".into(), &(now + ttl_s).floor().into()).unwrap();
        o.into()
    })
    .unwrap()
    .as_string()
    .unwrap();
    format!(
        "{}.{}.c2ln",
        b64(r#"{"alg":"RS256","typ":"JWT"}"#),
        b64(&payload)
    )
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

fn options(provider: &Function, extra: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    Reflect::set(
        &o,
        &"apiOrigins".into(),
        &Array::of1(&"https://chat.example.com".into()),
    )
    .unwrap();
    Reflect::set(&o, &"contextProvider".into(), provider).unwrap();
    for (k, v) in extra {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// A callback-style provider minting `ttl_s` tokens for `sub`, counting calls
/// and recording `needsRefresh` / `info.reason`.
fn counting_provider(
    sub: &'static str,
    ttl_s: f64,
    calls: Rc<Cell<u32>>,
    reasons: Rc<std::cell::RefCell<Vec<String>>>,
) -> Function {
    Closure::<dyn Fn(Function, bool, JsValue)>::new(
        move |cb: Function, needs_refresh: bool, info: JsValue| {
            calls.set(calls.get() + 1);
            let reason = get(&info, "reason").as_string().unwrap();
            assert_eq!(
                needs_refresh,
                !(reason == "initial" || reason == "customer_changed")
            );
            assert!(get(&info, "signal").is_object());
            reasons.borrow_mut().push(reason);
            let ctx = Object::new();
            let auth = Object::new();
            Reflect::set(&auth, &"Token".into(), &jwt(sub, ttl_s).into()).unwrap();
            Reflect::set(&ctx, &"Auth".into(), &auth).unwrap();
            cb.call1(&JsValue::NULL, &ctx).unwrap();
        },
    )
    .into_js_value()
    .unchecked_into()
}

#[wasm_bindgen_test]
fn errors_are_chat_auth_errors() {
    let e = check_customer_id("jane@example.com".into()).unwrap_err();
    assert!(e.is_instance_of::<js_sys::Error>());
    assert_eq!(get(&e, "name"), "ChatAuthError");
    assert_eq!(get(&e, "code"), "customer_id_pii");
    assert_eq!(get(&e, "detail"), "email");
    let e = decode_token("not-a-token".into()).unwrap_err();
    assert_eq!(get(&e, "code"), "malformed");
    let bogus = Object::new();
    Reflect::set(
        &bogus,
        &"apiOrigins".into(),
        &Array::of1(&"https://a.com".into()),
    )
    .unwrap();
    Reflect::set(&bogus, &"bogus".into(), &1.into()).unwrap();
    let e = ChatAuth::new(bogus.into()).err().unwrap();
    assert_eq!(get(&e, "code"), "invalid_config");
    assert!(get(&e, "message").as_string().unwrap().contains("bogus"));
}

#[wasm_bindgen_test]
fn decode_token_reads_claims() {
    let t = jwt("cust_1", 60.0);
    let d = decode_token(t.into()).unwrap();
    assert_eq!(get(&get(&d, "claims"), "sub"), "cust_1");
    assert_eq!(get(&get(&d, "header"), "alg"), "RS256");
    assert!(get(&d, "expiresAt").as_f64().unwrap() > js_sys::Date::now());
}

#[wasm_bindgen_test]
async fn provider_callback_authenticates_and_real_timer_refreshes() {
    let calls = Rc::new(Cell::new(0));
    let reasons = Rc::new(std::cell::RefCell::new(Vec::new()));
    // 3 s tokens with a 1 s margin (capped at 25 % = 0.75 s): the real timer
    // must refresh before expiry, with no request asking for it.
    let provider = counting_provider("cust_timer", 3.0, calls.clone(), reasons.clone());
    let refresh = Object::new();
    Reflect::set(&refresh, &"marginSeconds".into(), &1.into()).unwrap();
    let auth = ChatAuth::new(options(
        &provider,
        &[("refresh", refresh.into()), ("crossTab", false.into())],
    ))
    .unwrap();
    JsFuture::from(auth.set_customer("cust_timer".into(), JsValue::UNDEFINED))
        .await
        .unwrap();
    assert_eq!(auth.state(), "authenticated");
    let first = JsFuture::from(auth.get_token(JsValue::UNDEFINED))
        .await
        .unwrap();
    assert_eq!(calls.get(), 1);
    sleep(3_200).await;
    assert!(
        calls.get() >= 2,
        "the timer refreshed: {} calls",
        calls.get()
    );
    assert_eq!(reasons.borrow()[0], "initial");
    assert_eq!(reasons.borrow()[1], "scheduled");
    let second = JsFuture::from(auth.get_token(JsValue::UNDEFINED))
        .await
        .unwrap();
    assert_ne!(first, second);
    auth.destroy();
    let e = JsFuture::from(auth.get_token(JsValue::UNDEFINED))
        .await
        .unwrap_err();
    assert_eq!(get(&e, "code"), "destroyed");
}

#[wasm_bindgen_test]
async fn promise_provider_single_flight() {
    let calls = Rc::new(Cell::new(0u32));
    let c = calls.clone();
    let provider: Function =
        Closure::<dyn Fn(JsValue, bool, JsValue) -> Promise>::new(move |_cb, _nr, _info| {
            c.set(c.get() + 1);
            let token = jwt("cust_promise", 600.0);
            Promise::new(&mut |resolve, _| {
                let ctx = Object::new();
                let auth = Object::new();
                Reflect::set(&auth, &"Token".into(), &token.clone().into()).unwrap();
                Reflect::set(&ctx, &"Auth".into(), &auth).unwrap();
                web_sys::window()
                    .unwrap()
                    .set_timeout_with_callback_and_timeout_and_arguments_1(&resolve, 200, &ctx)
                    .unwrap();
            })
        })
        .into_js_value()
        .unchecked_into();
    let auth = ChatAuth::new(options(&provider, &[("crossTab", false.into())])).unwrap();
    let login = auth.set_customer("cust_promise".into(), JsValue::UNDEFINED);
    let waiting: Vec<Promise> = (0..20)
        .map(|_| auth.get_token(JsValue::UNDEFINED))
        .collect();
    JsFuture::from(login).await.unwrap();
    let all = JsFuture::from(Promise::all(&waiting.into_iter().collect::<Array>()))
        .await
        .unwrap();
    let all: Array = all.unchecked_into();
    let first = all.get(0);
    assert!(first.is_string());
    assert!(
        all.iter().all(|t| t == first),
        "every waiter got the one token"
    );
    assert_eq!(calls.get(), 1, "one provider call for 21 callers");
    auth.destroy();
}

#[wasm_bindgen_test]
async fn provider_timeout_aborts_the_signal() {
    let signal = Rc::new(std::cell::RefCell::new(JsValue::UNDEFINED));
    let s = signal.clone();
    let provider: Function =
        Closure::<dyn Fn(JsValue, bool, JsValue)>::new(move |_cb, _nr, info: JsValue| {
            *s.borrow_mut() = get(&info, "signal");
        })
        .into_js_value()
        .unchecked_into();
    let refresh = Object::new();
    Reflect::set(&refresh, &"providerTimeoutSeconds".into(), &0.3.into()).unwrap();
    Reflect::set(&refresh, &"maxRetries".into(), &0.into()).unwrap();
    let auth = ChatAuth::new(options(
        &provider,
        &[("refresh", refresh.into()), ("crossTab", false.into())],
    ))
    .unwrap();
    let e = JsFuture::from(auth.set_customer("cust_slow".into(), JsValue::UNDEFINED))
        .await
        .unwrap_err();
    assert_eq!(get(&e, "code"), "provider_timeout");
    assert_eq!(get(&signal.borrow(), "aborted"), true);
    assert_eq!(auth.state(), "expired");
    auth.destroy();
}

//! Option `dpop`: which requests get a proof, its claims, nonces and the
//! one retry, the binding check, the key's failure and `destroy`.

use super::*;
use crate::jose::dpop::access_token_hash;
use crate::session::machine::Event;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const TOKEN_ENDPOINT: &str = "https://api.example/oauth/token";
const KEY_X: &str = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs";
const KEY_Y: &str = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA";
/// The thumbprint of (KEY_X, KEY_Y) (RFC 9449 figure 9).
const KEY_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

fn dpop_extra() -> String {
    format!(r#","dpop":true,"tokenEndpoint":"{TOKEN_ENDPOINT}""#)
}

/// A DPoP driver whose key is ready.
fn opened() -> Driver {
    let (mut d, fx) = open(&dpop_extra(), env(), 7);
    assert!(fx.iter().any(
        |e| matches!(e, Effect::LoadProofKey { name, replace: None } if name.ends_with(":dpop"))
    ));
    let fx = run(
        &mut d,
        T0,
        Input::ProofKeyReady {
            x: KEY_X.into(),
            y: KEY_Y.into(),
        },
    );
    assert!(fx.is_empty(), "{fx:?}");
    d
}

/// A JWT for `CUSTOMER` bound to `jkt`.
fn bound_jwt(now: Millis, ttl_s: i64, jkt: &str) -> String {
    let iat = now / 1000;
    let header = base64url::encode(br#"{"alg":"ES256","typ":"at+jwt"}"#);
    let payload = format!(
        r#"{{"sub":"{CUSTOMER}","iat":{iat},"exp":{},"cnf":{{"jkt":"{jkt}"}}}}"#,
        iat + ttl_s
    );
    format!("{header}.{}.c2ln", base64url::encode(payload.as_bytes()))
}

fn dpop_context(token: &str, token_type: &str) -> String {
    format!(
        r#"{{"Auth":{{"access_token":"{token}","token_type":"{token_type}","refresh_token":"r1"}}}}"#
    )
}

/// Logs in with a DPoP-bound token; the token.
fn dpop_login(d: &mut Driver) -> String {
    let call = calls(&run(d, T0, set_customer(1)))[0];
    let token = bound_jwt(T0, 120, KEY_JKT);
    let fx = run(
        d,
        T0,
        Input::ProviderAnswered {
            call: call.id,
            context: Some(dpop_context(&token, "DPoP")),
        },
    );
    assert_eq!(replies(&fx), [(1, Reply::Done)]);
    token
}

fn fetch(request: RequestId, method: &str, url: &str) -> Input {
    Input::Fetch {
        request,
        origin: Some(API.into()),
        follows_redirects: true,
        replayable: true,
        target: Some(ProofTarget {
            method: method.into(),
            url: url.into(),
        }),
    }
}

/// The one proof to sign in `fx`.
fn to_sign(fx: &[Effect]) -> (ProofId, String) {
    let found = fx.iter().find_map(|e| match e {
        Effect::SignProof {
            proof,
            signing_input,
        } => Some((*proof, signing_input.clone())),
        _ => None,
    });
    found.unwrap_or_else(|| panic!("a proof to sign expected: {fx:?}"))
}

/// The payload of a signing input.
fn claims_of(input: &str) -> crate::wire::json::Object {
    let payload = input.split('.').nth(1).unwrap();
    parse_object(&base64url::decode(payload.as_bytes()).unwrap()).unwrap()
}

fn signed(proof: ProofId) -> Input {
    Input::ProofSigned {
        proof,
        signature: Some(vec![1; 64]),
    }
}

fn header<'h>(headers: &'h [Header], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.secret())
}

fn answered_with(request: RequestId, status: u16, nonce: Option<&str>, www: Option<&str>) -> Input {
    Input::FetchAnswered {
        request,
        status,
        opaque_redirect: false,
        dpop: DpopAnswer {
            nonce: nonce.map(str::to_owned),
            www_authenticate: www.map(str::to_owned),
        },
    }
}

const NONCE_CHALLENGE: &str = r#"DPoP error="use_dpop_nonce", error_description="nonce required""#;

#[test]
fn every_request_to_an_api_origin_carries_a_proof_for_it() {
    let mut d = opened();
    let token = dpop_login(&mut d);
    let fx = run(
        &mut d,
        T0 + 1_500,
        fetch(2, "POST", "https://api.example/api/messages?page=2#top"),
    );
    // Nothing is sent before the proof is signed.
    assert!(replies(&fx).is_empty());
    let (proof, input) = to_sign(&fx);
    let c = claims_of(&input);
    assert_eq!(c.get_str("htm"), Some("POST"));
    assert_eq!(c.get_str("htu"), Some("https://api.example/api/messages"));
    assert_eq!(
        c.get("iat").and_then(|v| v.as_f64()),
        Some((T0 / 1000 + 1) as f64)
    );
    assert_eq!(c.get_str("ath"), Some(access_token_hash(&token).as_str()));
    assert!(c.get_str("jti").is_some_and(|j| j.len() >= 22));
    assert_eq!(c.get_str("nonce"), None);
    let fx = run(&mut d, T0 + 1_500, signed(proof));
    let [(
        2,
        Reply::Send {
            headers,
            settles_unless,
            ..
        },
    )] = &replies(&fx)[..]
    else {
        panic!("a send expected: {fx:?}");
    };
    // Any answer may carry a DPoP-Nonce: the driver sees every one.
    assert_eq!(*settles_unless, None);
    assert_eq!(
        header(headers, "Authorization"),
        Some(format!("DPoP {token}").as_str())
    );
    let sent = header(headers, "DPoP").unwrap();
    assert!(sent.starts_with(&input));
    assert_eq!(sent.split('.').count(), 3);
    // Every proof has its own jti.
    let (_, again) = to_sign(&run(
        &mut d,
        T0 + 1_600,
        fetch(3, "GET", "https://api.example/x"),
    ));
    assert_ne!(claims_of(&again).get_str("jti"), c.get_str("jti"));
    assert_eq!(claims_of(&again).get_str("htm"), Some("GET"));
}

#[test]
fn foreign_origins_get_no_proof_and_no_token() {
    let mut d = opened();
    dpop_login(&mut d);
    let fx = run(
        &mut d,
        T0,
        Input::Fetch {
            request: 2,
            origin: Some("https://evil.example".into()),
            follows_redirects: true,
            replayable: true,
            target: Some(ProofTarget {
                method: "GET".into(),
                url: "https://evil.example/".into(),
            }),
        },
    );
    assert_eq!(replies(&fx), [(2, Reply::Plain)]);
    assert!(!fx.iter().any(|e| matches!(e, Effect::SignProof { .. })));
    let fx = run(
        &mut d,
        T0,
        Input::AuthHeaders {
            request: 3,
            origin: Some("https://evil.example".into()),
            target: None,
        },
    );
    assert_eq!(replies(&fx), [(3, Reply::Headers(Vec::new()))]);
}

#[test]
fn anonymous_requests_carry_a_proof_without_ath() {
    let mut d = opened();
    let (proof, input) = to_sign(&run(
        &mut d,
        T0,
        fetch(2, "POST", "https://api.example/auth/login"),
    ));
    assert_eq!(claims_of(&input).get("ath"), None);
    let fx = run(&mut d, T0, signed(proof));
    let [(2, Reply::Send { headers, .. })] = &replies(&fx)[..] else {
        panic!("a send expected: {fx:?}");
    };
    assert_eq!(header(headers, "Authorization"), None);
    assert!(header(headers, "DPoP").is_some());
}

#[test]
fn auth_headers_prove_for_the_given_method() {
    let mut d = opened();
    let token = dpop_login(&mut d);
    let fx = run(
        &mut d,
        T0,
        Input::AuthHeaders {
            request: 2,
            origin: Some(API.into()),
            target: Some(ProofTarget {
                method: "PUT".into(),
                url: "https://api.example/api/x?y".into(),
            }),
        },
    );
    let (proof, input) = to_sign(&fx);
    assert_eq!(claims_of(&input).get_str("htm"), Some("PUT"));
    let fx = run(&mut d, T0, signed(proof));
    let [(2, Reply::Headers(headers))] = &replies(&fx)[..] else {
        panic!("headers expected: {fx:?}");
    };
    assert_eq!(
        header(headers, "Authorization"),
        Some(format!("DPoP {token}").as_str())
    );
    assert!(header(headers, "DPoP").is_some());
    // Without a URL no proof can be made: refused, never sent bare.
    let fx = run(
        &mut d,
        T0,
        Input::AuthHeaders {
            request: 3,
            origin: Some(API.into()),
            target: None,
        },
    );
    let [(3, Reply::Reject(e))] = &replies(&fx)[..] else {
        panic!("a rejection expected: {fx:?}");
    };
    assert_eq!(e.code(), ErrorCode::DpopInvalid);
}

#[test]
fn a_nonce_challenge_is_answered_once_with_the_nonce_and_no_refresh() {
    let mut d = opened();
    dpop_login(&mut d);
    let (proof, _) = to_sign(&run(
        &mut d,
        T0,
        fetch(2, "GET", "https://api.example/api/messages"),
    ));
    run(&mut d, T0, signed(proof));
    let fx = run(
        &mut d,
        T0,
        answered_with(2, 401, Some("n-1"), Some(NONCE_CHALLENGE)),
    );
    assert!(calls(&fx).is_empty(), "no refresh for a nonce: {fx:?}");
    let (proof, input) = to_sign(&fx);
    assert_eq!(claims_of(&input).get_str("nonce"), Some("n-1"));
    let fx = run(&mut d, T0, signed(proof));
    assert!(
        matches!(&replies(&fx)[..], [(2, Reply::Replay { headers })] if header(headers, "DPoP").is_some())
    );
    // A second challenge is not retried again, nor is it a refusal of the
    // token: no refresh, the caller gets the 401 (review 18 finding 6).
    let fx = run(
        &mut d,
        T0,
        answered_with(2, 401, Some("n-2"), Some(NONCE_CHALLENGE)),
    );
    assert_eq!(replies(&fx), [(2, Reply::Response)]);
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::SignProof { .. })) && calls(&fx).is_empty(),
        "no refresh for a nonce: {fx:?}"
    );
    assert_eq!(d.session().refresh_token().map(|t| t.secret()), Some("r1"));
    // The nonce seen last goes into the next proof.
    let (_, input) = to_sign(&run(&mut d, T0, fetch(3, "GET", "https://api.example/b")));
    assert_eq!(claims_of(&input).get_str("nonce"), Some("n-2"));
}

/// Review 18 finding 6: a nonce challenge to a request that cannot be
/// sent again, or one listed after a Bearer challenge, spends no refresh.
#[test]
fn a_nonce_challenge_not_retried_spends_no_refresh() {
    let mut d = opened();
    dpop_login(&mut d);
    let mut once = fetch(2, "POST", "https://api.example/api/messages");
    if let Input::Fetch { replayable, .. } = &mut once {
        *replayable = false;
    }
    let (proof, _) = to_sign(&run(&mut d, T0, once));
    run(&mut d, T0, signed(proof));
    let both = r#"Bearer realm="chat", DPoP algs="ES256", error="use_dpop_nonce""#;
    let fx = run(&mut d, T0, answered_with(2, 401, Some("n-1"), Some(both)));
    assert_eq!(replies(&fx), [(2, Reply::Response)]);
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::SignProof { .. })) && calls(&fx).is_empty(),
        "no refresh: {fx:?}"
    );
    // The same header on a replayable request: the nonce retry, no refresh.
    let (proof, _) = to_sign(&run(
        &mut d,
        T0,
        fetch(3, "GET", "https://api.example/api/messages"),
    ));
    run(&mut d, T0, signed(proof));
    let fx = run(&mut d, T0, answered_with(3, 401, Some("n-2"), Some(both)));
    let (_, input) = to_sign(&fx);
    assert_eq!(
        claims_of(&input).get_str("htu"),
        Some("https://api.example/api/messages")
    );
    assert_eq!(claims_of(&input).get_str("nonce"), Some("n-2"));
}

#[test]
fn a_nonce_on_a_success_is_used_next_time() {
    let mut d = opened();
    dpop_login(&mut d);
    let (proof, _) = to_sign(&run(&mut d, T0, fetch(2, "GET", "https://api.example/a")));
    run(&mut d, T0, signed(proof));
    let fx = run(&mut d, T0, answered_with(2, 200, Some("fresh"), None));
    assert_eq!(replies(&fx), [(2, Reply::Response)]);
    let (_, input) = to_sign(&run(&mut d, T0, fetch(3, "GET", "https://api.example/b")));
    assert_eq!(claims_of(&input).get_str("nonce"), Some("fresh"));
}

fn grant_proof_and_post(d: &mut Driver, now: Millis, fx: &[Effect]) -> (CallId, String, String) {
    let (proof, input) = to_sign(fx);
    let fx = run(d, now, signed(proof));
    let posted = fx.iter().find_map(|e| match e {
        Effect::PostRefreshGrant {
            call,
            body,
            proof: Some(p),
        } => Some((*call, body.secret().to_owned(), p.secret().to_owned())),
        _ => None,
    });
    let (call, body, proof) = posted.unwrap_or_else(|| panic!("a grant with a proof: {fx:?}"));
    assert!(proof.starts_with(&input));
    (call, body, input)
}

#[test]
fn refresh_grants_carry_a_proof_and_retry_once_for_a_nonce() {
    let mut d = opened();
    dpop_login(&mut d);
    let due = d.session().refresh_due().unwrap();
    let fx = run(&mut d, due, Input::TimerFired);
    assert!(!fx
        .iter()
        .any(|e| matches!(e, Effect::PostRefreshGrant { .. })));
    let (call, body, input) = grant_proof_and_post(&mut d, due, &fx);
    assert!(body.contains("refresh_token=r1"));
    let c = claims_of(&input);
    assert_eq!(c.get_str("htm"), Some("POST"));
    assert_eq!(c.get_str("htu"), Some(TOKEN_ENDPOINT));
    assert_eq!(c.get("ath"), None, "a grant has no access token");
    // 400 use_dpop_nonce: the same refresh token once more, with the nonce.
    let nonce_needed = Input::TokenEndpointAnswered {
        call,
        answer: HttpAnswer {
            status: 400,
            date: None,
            retry_after: None,
            body: SecretString::new(r#"{"error":"use_dpop_nonce"}"#),
            dpop_nonce: Some("as-1".into()),
        },
    };
    let fx = run(&mut d, due, nonce_needed);
    let (again, body, input) = grant_proof_and_post(&mut d, due, &fx);
    assert_eq!(again, call);
    assert!(body.contains("refresh_token=r1"));
    assert_eq!(claims_of(&input).get_str("nonce"), Some("as-1"));
    assert_eq!(d.session().refresh_token().map(|t| t.secret()), Some("r1"));
    // A bound answer is taken.
    let fresh = bound_jwt(due, 120, KEY_JKT);
    let body = format!(
        r#"{{"access_token":"{fresh}","token_type":"DPoP","expires_in":120,"refresh_token":"r2"}}"#
    );
    let fx = run(&mut d, due, endpoint_answer(call, 200, body));
    assert!(events(&fx).contains(&"refreshed"), "{fx:?}");
    assert_eq!(d.session().refresh_token().map(|t| t.secret()), Some("r2"));
}

#[test]
fn a_second_nonce_refusal_of_a_grant_is_a_refusal() {
    let mut d = opened();
    dpop_login(&mut d);
    let due = d.session().refresh_due().unwrap();
    let fx = run(&mut d, due, Input::TimerFired);
    let (call, _, _) = grant_proof_and_post(&mut d, due, &fx);
    let refusal = || Input::TokenEndpointAnswered {
        call,
        answer: HttpAnswer {
            status: 400,
            date: None,
            retry_after: None,
            body: SecretString::new(r#"{"error":"use_dpop_nonce"}"#),
            dpop_nonce: Some("as-1".into()),
        },
    };
    let fx = run(&mut d, due, refusal());
    grant_proof_and_post(&mut d, due, &fx);
    let fx = run(&mut d, due, refusal());
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::SignProof { .. })),
        "no loop: {fx:?}"
    );
    assert!(events(&fx).contains(&"refresh-failed"));
    // A refused proof did not spend the refresh token: it is kept.
    assert_eq!(d.session().refresh_token().map(|t| t.secret()), Some("r1"));
}

/// Review 18 finding 1: only `invalid_grant` means the refresh token is
/// spent; a refused proof (`invalid_dpop_proof`) keeps it for next time.
#[test]
fn a_refused_proof_keeps_the_refresh_token_and_invalid_grant_forgets_it() {
    let mut d = opened();
    dpop_login(&mut d);
    let due = d.session().refresh_due().unwrap();
    let fx = run(&mut d, due, Input::TimerFired);
    let (call, _, _) = grant_proof_and_post(&mut d, due, &fx);
    let answer = |call, error: &str| Input::TokenEndpointAnswered {
        call,
        answer: HttpAnswer {
            status: 400,
            date: None,
            retry_after: None,
            body: SecretString::new(format!(r#"{{"error":"{error}"}}"#)),
            dpop_nonce: None,
        },
    };
    let fx = run(&mut d, due, answer(call, "invalid_dpop_proof"));
    assert!(events(&fx).contains(&"refresh-failed"), "{fx:?}");
    assert_eq!(d.session().refresh_token().map(|t| t.secret()), Some("r1"));
    // The next attempt presents it again; invalid_grant then forgets it.
    let mut at = due;
    let mut fx = Vec::new();
    for _ in 0..20 {
        at = d.session().next_wake().unwrap_or(at + 1_000).max(at + 1);
        fx = run(&mut d, at, Input::TimerFired);
        if fx.iter().any(|e| matches!(e, Effect::SignProof { .. })) {
            break;
        }
    }
    let (call, body, _) = grant_proof_and_post(&mut d, at, &fx);
    assert!(body.contains("refresh_token=r1"), "{body}");
    run(&mut d, at, answer(call, "invalid_grant"));
    assert_eq!(d.session().refresh_token(), None);
}

#[test]
fn a_context_not_bound_to_this_key_is_refused() {
    for (token, token_type) in [
        (jwt(CUSTOMER, T0, 120, "plain"), "Bearer"),
        (bound_jwt(T0, 120, "another-key-thumbprint"), "DPoP"),
    ] {
        let mut d = opened();
        let call = calls(&run(&mut d, T0, set_customer(1)))[0];
        let fx = run(
            &mut d,
            T0,
            Input::ProviderAnswered {
                call: call.id,
                context: Some(dpop_context(&token, token_type)),
            },
        );
        assert!(
            fx.iter().any(|e| matches!(
                e,
                Effect::Emit(Event::RefreshFailed {
                    code: ErrorCode::DpopUnbound,
                    ..
                })
            )),
            "{token_type}: {fx:?}"
        );
        assert!(d.session().credential().is_none());
    }
}

#[test]
fn requests_wait_for_the_key_and_fail_closed_without_one() {
    let (mut d, _) = open(&dpop_extra(), env(), 7);
    // Before the key: no proof yet, nothing sent.
    let fx = run(&mut d, T0, fetch(2, "GET", "https://api.example/a"));
    assert!(replies(&fx).is_empty() && !fx.iter().any(|e| matches!(e, Effect::SignProof { .. })));
    let fx = run(
        &mut d,
        T0,
        Input::ProofKeyReady {
            x: KEY_X.into(),
            y: KEY_Y.into(),
        },
    );
    to_sign(&fx);
    // No key at all: refused with dpop_unbound, never sent without a proof.
    let (mut d, _) = open(&dpop_extra(), env(), 7);
    run(&mut d, T0, fetch(2, "GET", "https://api.example/a"));
    let fx = run(&mut d, T0, Input::ProofKeyFailed);
    let [(2, Reply::Reject(e))] = &replies(&fx)[..] else {
        panic!("a rejection expected: {fx:?}");
    };
    assert_eq!(e.code(), ErrorCode::DpopUnbound);
    let fx = run(&mut d, T0, fetch(3, "GET", "https://api.example/a"));
    assert!(
        matches!(&replies(&fx)[..], [(3, Reply::Reject(e))] if e.code() == ErrorCode::DpopUnbound)
    );
    // A signature that failed rejects too.
    let mut d = opened();
    let (proof, _) = to_sign(&run(&mut d, T0, fetch(2, "GET", "https://api.example/a")));
    let fx = run(
        &mut d,
        T0,
        Input::ProofSigned {
            proof,
            signature: None,
        },
    );
    assert!(
        matches!(&replies(&fx)[..], [(2, Reply::Reject(e))] if e.code() == ErrorCode::DpopInvalid)
    );
}

#[test]
fn destroy_answers_requests_waiting_for_a_signature() {
    let mut d = opened();
    let (proof, _) = to_sign(&run(&mut d, T0, fetch(2, "GET", "https://api.example/a")));
    let fx = run(&mut d, T0, Input::Destroy);
    assert!(
        matches!(&replies(&fx)[..], [(2, Reply::Reject(e))] if e.code() == ErrorCode::Destroyed)
    );
    // A signature arriving after that is dropped.
    assert!(replies(&run(&mut d, T0, signed(proof))).is_empty());
}

#[test]
fn without_dpop_nothing_changes() {
    let (mut d, fx) = open("", env(), 7);
    assert!(!fx.iter().any(|e| matches!(e, Effect::LoadProofKey { .. })));
    let fx = run(&mut d, T0, fetch(2, "GET", "https://api.example/a"));
    assert!(
        matches!(&replies(&fx)[..], [(2, Reply::Send { headers, .. })] if header(headers, "DPoP").is_none())
    );
}

#[test]
fn a_refused_auth_headers_request_leaves_nothing_behind() {
    let mut d = opened();
    run(&mut d, T0, Input::Destroy);
    let fx = run(
        &mut d,
        T0,
        Input::AuthHeaders {
            request: 2,
            origin: Some(API.into()),
            target: Some(ProofTarget {
                method: "GET".into(),
                url: "https://api.example/a".into(),
            }),
        },
    );
    assert!(
        matches!(&replies(&fx)[..], [(2, Reply::Reject(e))] if e.code() == ErrorCode::Destroyed)
    );
    assert!(d.sent.is_empty());
}

/// Review 18 finding 2: a DPoP instance has its own channel and stored
/// token, and a Bearer token from a tab or `sessionStorage` of a bearer
/// instance is neither restored nor adopted.
#[test]
fn bearer_tokens_of_other_tabs_or_storage_are_not_taken() {
    const DPOP_TAB: &str =
        r#","tokenEndpoint":"https://id.example/token","storage":"session","dpop":true"#;
    let bearer = config(SESSION_TAB);
    let bound = config(DPOP_TAB);
    assert_ne!(token_storage_name(&bearer), token_storage_name(&bound));
    assert_ne!(
        super::super::tabs::channel_name(&bearer),
        super::super::tabs::channel_name(&bound)
    );
    let (_, _, fx) = session_tab(1, "r1");
    let stored = stored_token(&fx).expect("the bearer tab stores its token");
    let shared = posts(&fx)
        .into_iter()
        .find(|m| m.starts_with(r#"{"type":"token""#))
        .expect("the bearer tab shares its token");
    let ready = |d: &mut Driver| {
        run(
            d,
            T0,
            Input::ProofKeyReady {
                x: KEY_X.into(),
                y: KEY_Y.into(),
            },
        )
    };
    // Restored: not resumed, the provider is asked instead.
    let (mut d, _) = open(DPOP_TAB, env(), 7);
    ready(&mut d);
    let fx = run(
        &mut d,
        T0 + 10,
        Input::SetCustomer {
            request: 1,
            customer_id: CUSTOMER.into(),
            provider: false,
            stored: Some(stored),
        },
    );
    assert!(d.session().credential().is_none(), "{fx:?}");
    assert_eq!(calls(&fx).len(), 1, "{fx:?}");
    // Adopted from another tab while waiting for the lock: not taken.
    let (mut d, _) = open(DPOP_TAB, tab_env(), 8);
    ready(&mut d);
    run(&mut d, T0, set_customer(1));
    let fx = run(&mut d, T0 + 10, message(shared));
    assert!(d.session().credential().is_none(), "{fx:?}");
    assert!(!replies(&fx).contains(&(1, Reply::Done)), "{fx:?}");
}

/// Review 18 finding 3: a proof's `iat` is the page clock corrected by the
/// session's estimate of the issuer's clock, as expiry is.
#[test]
fn proof_iat_follows_the_issuer_clock_estimate() {
    let mut d = opened();
    let call = calls(&run(&mut d, T0, set_customer(1)))[0];
    // The issuer's clock runs 400 s ahead of the page's (a slow page).
    let token = bound_jwt(T0 + 400_000, 120, KEY_JKT);
    let fx = run(
        &mut d,
        T0,
        Input::ProviderAnswered {
            call: call.id,
            context: Some(dpop_context(&token, "DPoP")),
        },
    );
    assert_eq!(replies(&fx), [(1, Reply::Done)]);
    let (_, input) = to_sign(&run(
        &mut d,
        T0 + 1_000,
        fetch(2, "GET", "https://api.example/api/messages"),
    ));
    let iat = claims_of(&input)
        .get("iat")
        .and_then(|v| v.as_f64())
        .unwrap() as i64;
    let issuer_now = (T0 + 1_000 + 400_000) / 1000;
    assert!(
        (issuer_now - 1..=issuer_now + 1).contains(&iat),
        "iat {iat}, issuer clock {issuer_now}"
    );
}

/// Review 18 finding 8: no wait without a bound. A key that never loads,
/// or a proof never signed, rejects its requests with `dpop_unbound` after
/// `PROOF_WAIT_MS` (a timer is armed for it); a key that comes later is
/// still taken.
#[test]
fn a_key_or_signature_that_never_comes_rejects_in_bounded_time() {
    use super::super::proofs::PROOF_WAIT_MS;
    let (mut d, _) = open(&dpop_extra(), env(), 7);
    let fx = run(&mut d, T0, fetch(2, "GET", "https://api.example/a"));
    assert!(replies(&fx).is_empty());
    assert!(
        fx.iter().any(
            |e| matches!(e, Effect::ArmTimer { delay_ms } if i64::from(*delay_ms) <= PROOF_WAIT_MS)
        ),
        "a timer for the key's deadline: {fx:?}"
    );
    assert!(replies(&run(&mut d, T0 + PROOF_WAIT_MS - 1, Input::TimerFired)).is_empty());
    let fx = run(&mut d, T0 + PROOF_WAIT_MS, Input::TimerFired);
    assert!(
        matches!(&replies(&fx)[..], [(2, Reply::Reject(e))] if e.code() == ErrorCode::DpopUnbound),
        "{fx:?}"
    );
    // The key after all: taken, the next request is proved.
    let late = T0 + PROOF_WAIT_MS + 5;
    run(
        &mut d,
        late,
        Input::ProofKeyReady {
            x: KEY_X.into(),
            y: KEY_Y.into(),
        },
    );
    let (proof, _) = to_sign(&run(&mut d, late, fetch(3, "GET", "https://api.example/a")));
    // That signature never comes: rejected at its deadline too.
    let fx = run(&mut d, late + PROOF_WAIT_MS, Input::TimerFired);
    assert!(
        matches!(&replies(&fx)[..], [(3, Reply::Reject(e))] if e.code() == ErrorCode::DpopUnbound),
        "{fx:?}"
    );
    // Its late signature is ignored.
    assert!(replies(&run(&mut d, late + PROOF_WAIT_MS + 1, signed(proof))).is_empty());
}

/// Review 18 (privacy note): a logout replaces the key, so the next
/// customer of this browser does not prove with the last one's key (and
/// is not linked to them by its thumbprint); a logout from another tab
/// does the same, naming the same key to replace.
#[test]
fn a_logout_replaces_the_key() {
    let mut d = opened();
    dpop_login(&mut d);
    let fx = run(&mut d, T0 + 1, Input::ClearCustomer { request: 5 });
    assert_eq!(replies(&fx), [(5, Reply::Done)]);
    assert!(
        fx.iter().any(|e| matches!(e,
            Effect::LoadProofKey { name, replace: Some(x) } if name.ends_with(":dpop") && x == KEY_X)),
        "{fx:?}"
    );
    // Proofs wait for the new key, then use it.
    let fx = run(&mut d, T0 + 2, fetch(6, "GET", "https://api.example/a"));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::SignProof { .. })),
        "{fx:?}"
    );
    let fx = run(
        &mut d,
        T0 + 3,
        Input::ProofKeyReady {
            x: KEY_Y.into(),
            y: KEY_X.into(),
        },
    );
    let (_, input) = to_sign(&fx);
    let header = input.split('.').next().unwrap();
    let header = String::from_utf8(base64url::decode(header.as_bytes()).unwrap()).unwrap();
    assert!(
        header.contains(KEY_Y) && !header.contains(&format!(r#""x":"{KEY_X}""#)),
        "{header}"
    );

    // A tab with no customer takes the new key too.
    let (mut d, _) = open(&dpop_extra(), tab_env(), 10);
    run(
        &mut d,
        T0,
        Input::ProofKeyReady {
            x: KEY_X.into(),
            y: KEY_Y.into(),
        },
    );
    let fx = run(
        &mut d,
        T0 + 1,
        message(super::super::tabs::logout(CUSTOMER)),
    );
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::LoadProofKey { replace: Some(x), .. } if x == KEY_X)),
        "{fx:?}"
    );
    // Another tab's logout of this customer: the same replacement.
    let (mut d, _) = open(&dpop_extra(), tab_env(), 9);
    run(
        &mut d,
        T0,
        Input::ProofKeyReady {
            x: KEY_X.into(),
            y: KEY_Y.into(),
        },
    );
    run(&mut d, T0, set_customer(1));
    let fx = run(
        &mut d,
        T0 + 1,
        message(super::super::tabs::logout(CUSTOMER)),
    );
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::LoadProofKey { replace: Some(x), .. } if x == KEY_X)),
        "{fx:?}"
    );
}

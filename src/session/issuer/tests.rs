//! The checks driven as a host drives them, with the native signature step.

use super::*;
use crate::jose::algorithm::Algorithm;
use crate::jose::verify::{NativeVerifier, SignatureVerifier};
use crate::wire::base64url;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";
const ISSUER: &str = "https://id.example.com";

fn jwt(kid: &str) -> SecretString {
    let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#);
    let input = format!(
        "{}.{}",
        base64url::encode(header.as_bytes()),
        base64url::encode(br#"{"sub":"c_1","iss":"https://id.example.com"}"#)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    let sig = base64url::encode(&mac.finalize().into_bytes());
    SecretString::new(format!("{input}.{sig}"))
}

fn secret(text: &str) -> SecretString {
    SecretString::new(String::from(text))
}

fn jwks(kid: &str) -> String {
    let k = base64url::encode(SECRET);
    format!(r#"{{"keys":[{{"kty":"oct","kid":"{kid}","alg":"HS256","k":"{k}"}}]}}"#)
}

fn client(extra: &str) -> IssuerClient {
    let validation = if extra.contains("\"validation\"") {
        ""
    } else {
        r#","validation":{"algorithms":["HS256"]}"#
    };
    let text = format!(
        r#"{{"apiOrigins":["https://chat.example.com"],"clientId":"app"{validation}{extra}}}"#
    );
    let config = Config::from_json(&json::parse_object(text.as_bytes()).unwrap()).unwrap();
    IssuerClient::new(&config)
}

fn hs256() -> Option<Box<VerifyOptions>> {
    Some(Box::new(VerifyOptions {
        algorithms: vec![Algorithm::HS256],
        ..VerifyOptions::default()
    }))
}

fn fetch(step: Step) -> Fetch {
    match step {
        Step::Fetch(f) => f,
        _ => panic!("not a fetch"),
    }
}

/// Verifies natively, as the ffi host does.
fn verify(c: &mut IssuerClient, step: Step) -> Step {
    match step {
        Step::Verify { id, prepared } => {
            let ok = NativeVerifier.verify(
                prepared.alg(),
                prepared.key(),
                prepared.signing_input(),
                prepared.signature(),
            );
            c.verified(id, Some(ok)).unwrap()
        }
        _ => panic!("not a verification"),
    }
}

fn result(step: Step) -> Result<Option<Introspection>> {
    match step {
        Step::Feed(Input::TokenChecked { result, .. }) => result,
        _ => panic!("not a check's end"),
    }
}

fn code(step: Step) -> &'static str {
    result(step).unwrap_err().code().as_str()
}

#[test]
fn the_jwks_url_is_fetched_once_and_cached() {
    let mut c = client(
        r#","tokenEndpoint":"https://id.example.com/token","validation":{"algorithms":["HS256"],"jwksUrl":"https://id.example.com/jwks"}"#,
    );
    let f = fetch(c.check(1, jwt("a"), hs256(), false));
    assert_eq!(
        (f.url.as_str(), f.form.as_deref(), f.delay_ms),
        ("https://id.example.com/jwks", None, 0)
    );
    let step = c.answered(f.exchange, 200, &jwks("a")).unwrap();
    assert_eq!(result(verify(&mut c, step)).unwrap(), None);
    // Cached: the next check verifies at once; an answer twice is not ours.
    let step = c.check(2, jwt("a"), hs256(), false);
    assert!(result(verify(&mut c, step)).is_ok());
    assert!(c.answered(f.exchange, 200, &jwks("a")).is_none());
}

#[test]
fn an_unknown_kid_refetches_once() {
    let mut c =
        client(r#","validation":{"algorithms":["HS256"],"jwksUrl":"https://id.example.com/jwks"}"#);
    // The first fetch is this check's one: no second for it.
    let f = fetch(c.check(1, jwt("new"), hs256(), false));
    assert_eq!(
        code(c.answered(f.exchange, 200, &jwks("old")).unwrap()),
        "unknown_key"
    );
    // With the old keys cached, an unknown kid re-fetches: a rotated key is found.
    let again = fetch(c.check(2, jwt("new"), hs256(), false));
    assert_eq!(again.url, "https://id.example.com/jwks");
    let step = c.answered(again.exchange, 200, &jwks("new")).unwrap();
    assert!(result(verify(&mut c, step)).is_ok());
    // Once only per check.
    let again = fetch(c.check(3, jwt("newer"), hs256(), false));
    assert_eq!(
        code(c.answered(again.exchange, 200, &jwks("new")).unwrap()),
        "unknown_key"
    );
}

#[test]
fn the_signature_step_decides() {
    let mut c = client(
        r#","validation":{"algorithms":["HS256"],"jwks":{"keys":[{"kty":"oct","kid":"a","alg":"HS256","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}}"#,
    );
    // Static keys: an unknown kid has nothing to re-fetch.
    assert_eq!(code(c.check(1, jwt("b"), hs256(), false)), "unknown_key");
    // The key is another secret: the native step says no.
    let step = c.check(2, jwt("a"), hs256(), false);
    assert_eq!(code(verify(&mut c, step)), "bad_signature");
    let Step::Verify { id, .. } = c.check(3, jwt("a"), hs256(), false) else {
        panic!("a verification")
    };
    assert_eq!(code(c.verified(id, None).unwrap()), "invalid_config");
    assert!(c.verified(id, Some(true)).is_none());
}

#[test]
fn discovery_finds_the_jwks_uri_and_the_token_endpoint() {
    let mut c = client(r#","issuer":"https://id.example.com/tenant""#);
    let f = fetch(c.check(1, jwt("a"), hs256(), false));
    assert_eq!(
        f.url,
        "https://id.example.com/tenant/.well-known/openid-configuration"
    );
    // Not there: RFC 8414's location next.
    let f = fetch(c.answered(f.exchange, 404, "").unwrap());
    assert_eq!(
        f.url,
        "https://id.example.com/.well-known/oauth-authorization-server/tenant"
    );
    let doc = r#"{"issuer":"https://id.example.com/tenant","jwks_uri":"https://id.example.com/keys","token_endpoint":"https://id.example.com/token"}"#;
    let f = fetch(c.answered(f.exchange, 200, doc).unwrap());
    assert_eq!(f.url, "https://id.example.com/keys");
    let step = c.answered(f.exchange, 200, &jwks("a")).unwrap();
    assert!(result(verify(&mut c, step)).is_ok());
    assert_eq!(
        c.metadata().map(|m| m.issuer.as_str()),
        Some("https://id.example.com/tenant")
    );
    // The grant goes to the metadata's token endpoint, no second fetch.
    match c.grant(7, secret("grant_type=refresh_token"), None) {
        Step::PostGrant { call, url, .. } => {
            assert_eq!((call, url.as_str()), (7, "https://id.example.com/token"))
        }
        _ => panic!("a grant"),
    }
}

#[test]
fn a_grant_waits_for_the_metadata_and_metadata_is_checked() {
    let mut c = client(r#","issuer":"https://id.example.com""#);
    let f = fetch(c.grant(3, secret("b"), None));
    let other = r#"{"issuer":"https://evil.example","token_endpoint":"https://evil.example/t"}"#;
    match c.answered(f.exchange, 200, other).unwrap() {
        Step::Feed(Input::TokenEndpointFailed { call: 3, error }) => {
            assert_eq!(error.code().as_str(), "issuer_mismatch")
        }
        _ => panic!("a failed grant"),
    }
    // Metadata without jwks_uri: signatures fail closed.
    let f = fetch(c.check(4, jwt("a"), hs256(), false));
    let step = c
        .answered(f.exchange, 200, &format!(r#"{{"issuer":"{ISSUER}"}}"#))
        .unwrap();
    assert_eq!(code(step), "malformed");
    // Metadata offered by another session is used.
    let mut d = client(r#","issuer":"https://id.example.com""#);
    let known = c.metadata().unwrap().clone();
    d.known_metadata().push(known);
    match d.grant(5, secret("b"), None) {
        Step::Feed(Input::TokenEndpointFailed { call: 5, error }) => {
            assert_eq!(error.code().as_str(), "refresh_failed")
        }
        _ => panic!("no token endpoint"),
    }
    // No issuer, no tokenEndpoint: no grant.
    assert!(matches!(
        client("").grant(6, secret("b"), None),
        Step::Feed(Input::TokenEndpointFailed { call: 6, .. })
    ));
}

#[test]
fn transient_failures_are_retried_with_backoff_then_network() {
    let mut c =
        client(r#","validation":{"algorithms":["HS256"],"jwksUrl":"https://id.example.com/jwks"}"#);
    let first = fetch(c.check(1, jwt("a"), hs256(), false));
    let mut delays = Vec::new();
    let mut step = c.answered(first.exchange, 503, "").unwrap();
    while let Step::Fetch(f) = step {
        assert_eq!(
            (f.exchange, f.url.as_str()),
            (first.exchange, "https://id.example.com/jwks")
        );
        delays.push(f.delay_ms);
        step = c.answered(f.exchange, 0, "").unwrap();
    }
    assert_eq!(delays, [250, 500, 1_000]);
    assert_eq!(code(step), "network");
    // A 4xx is final at once.
    let f = fetch(c.check(2, jwt("a"), hs256(), false));
    assert_eq!(code(c.answered(f.exchange, 404, "").unwrap()), "network");
}

#[test]
fn introspection_posts_the_token_and_reads_active() {
    let mut c = client(r#","introspectionEndpoint":"https://id.example.com/introspect""#);
    let f = fetch(c.check(1, secret("opaque+token"), None, true));
    assert_eq!(f.url, "https://id.example.com/introspect");
    assert_eq!(f.form.as_deref(), Some("token=opaque%2Btoken"));
    let seen = result(
        c.answered(f.exchange, 200, r#"{"active":true,"exp":5}"#)
            .unwrap(),
    )
    .unwrap()
    .unwrap();
    assert!(seen.active && seen.exp == Some(5.0));
    let f = fetch(c.check(2, secret("t"), None, true));
    assert_eq!(code(c.answered(f.exchange, 401, "").unwrap()), "network");
    // Forgotten (destroy): answers are ignored.
    let f = fetch(c.check(3, secret("t"), None, true));
    c.forget();
    assert!(c.answered(f.exchange, 200, "{}").is_none());
    // Without introspection, nothing to do.
    assert_eq!(
        result(client("").check(4, secret("t"), None, true)).unwrap(),
        None
    );
}

//! `cargo bench`: the native core's hot paths, with criterion. The browser
//! figures against the JavaScript peers are `npm run bench` (BENCHMARKS.md).
//!
//! Tokens, keys and options come from tests/vectors/algorithms.json, so the
//! benchmarks run exactly what the vector tests check.

use chat_auth::jose::token;
use chat_auth::jose::verify::{self, VerifyOptions};
use chat_auth::session::schedule::{self, RefreshPolicy, TokenTimes};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

/// `(token, options, now)` of the vector case `name` (the shared loader,
/// `chat-auth-vectors`).
fn case(name: &str) -> (String, VerifyOptions, i64) {
    let c = chat_auth_vectors::cases()
        .into_iter()
        .find(|c| c.file == "algorithms.json" && c.name == name)
        .unwrap_or_else(|| panic!("no vector case {name}"));
    let opts = VerifyOptions::from_json(&c.options).expect("vector options are valid");
    (c.token, opts, c.now)
}

fn parse(c: &mut Criterion) {
    let (token, _, _) = case("rs256-spki");
    c.bench_function("token/decode (RS256 JWT)", |b| {
        b.iter(|| token::decode(black_box(&token), token::DEFAULT_MAX_TOKEN_BYTES).unwrap())
    });
}

fn claims(c: &mut Criterion) {
    let (token, opts, now) = case("rs256-spki");
    let decoded = token::decode(&token, token::DEFAULT_MAX_TOKEN_BYTES).unwrap();
    verify::check_claims(&decoded.claims, &opts, now).expect("vector claims pass");
    c.bench_function("verify/check_claims", |b| {
        b.iter(|| verify::check_claims(black_box(&decoded.claims), &opts, now).unwrap())
    });
}

fn verify_tokens(c: &mut Criterion) {
    for (label, name) in [
        ("verify/RS256 (SPKI)", "rs256-spki"),
        ("verify/ES256 (SPKI)", "es256-spki"),
        ("verify/HS256 (secret)", "hs256-secret"),
    ] {
        let (token, opts, now) = case(name);
        verify::verify_token(&token, &opts, now).expect("vector token verifies");
        c.bench_function(label, |b| {
            b.iter(|| verify::verify_token(black_box(&token), &opts, now).unwrap())
        });
    }
}

fn schedule(c: &mut Criterion) {
    let policy = RefreshPolicy::default();
    let times = TokenTimes {
        received_at: 1_700_000_000_000,
        expires_at: 1_700_003_600_000,
    };
    // What the session computes for each token (the refresh time) and for
    // each failed refresh (the retry, moved by a `Retry-After`).
    c.bench_function("schedule/refresh_at + retry_at", |b| {
        b.iter(|| {
            let at = schedule::refresh_at(black_box(&times), &policy, 0.5);
            let now = black_box(1_700_000_100_000);
            let retry = schedule::retry_at(now, 2, Some(times.expires_at));
            (at, schedule::honour_retry_after(retry, now, Some(5_000)))
        })
    });
}

criterion_group!(benches, parse, claims, verify_tokens, schedule);
criterion_main!(benches);

//! Fuzzing on stable Rust: random and structure-aware inputs for every parser
//! that untrusted text reaches — tokens ([`Jwt::parse`], [`token::decode`]),
//! verification ([`VerifyOptions::from_json`] + [`verify_token`]), session
//! options ([`Config::from_json`]), provider contexts ([`Candidate::read`]
//! and [`Candidate::admit`]),
//! stored credentials ([`admit::restore`]), the JSON reader, base64url, keys
//! (PEM, JWK, JWKS) and customer ids.
//!
//! Each case must: not panic; keep its peak heap (counted by this binary's
//! global allocator, per thread) under [`MAX_CASE_HEAP`]; fail, if it fails,
//! with a code from the target's documented set and a message that does not
//! echo the input; and never accept a token the harness did not sign (no
//! forgery by mutation). Inputs are mutated seeds (the vectors' tokens and
//! options, hand-written configs and contexts, the test keys): bit flips,
//! interesting bytes, splices between seeds, segment swaps, and JSON-level
//! edits (duplicate members, deep nesting, huge or odd numbers, type swaps)
//! re-encoded and re-signed with the vectors' HMAC secret so they reach the
//! claim rules. The rest are random bytes.
//!
//! `CHAT_AUTH_FUZZ_CASES` (default 8 000 per target) and
//! `CHAT_AUTH_FUZZ_SECONDS` (a time limit per target, off by default) bound a
//! run; `CHAT_AUTH_FUZZ_SEED` repeats one. `npm run fuzz` runs a long one
//! (scripts/fuzz.mjs). A failure prints the target, seed, case and input.
//!
//! Layout: [`inputs`] (randomness and mutation), [`seeds`] (what is
//! mutated), [`targets`] (one function per parser), [`checks`] (what a
//! failure must look like), [`heap`] (the counting allocator) and
//! [`runner`] (the loop, the budget and the report).
#![cfg(not(target_arch = "wasm32"))]

mod checks;
mod heap;
mod inputs;
mod runner;
mod seeds;
mod targets;

use heap::{measured, MAX_CASE_HEAP};
use runner::run;
use targets::*;

#[test]
fn fuzz_token_parsing() {
    run("token", target_token);
}

#[test]
fn fuzz_verification() {
    run("verify", target_verify);
}

#[test]
fn fuzz_config() {
    run("config", target_config);
}

#[test]
fn fuzz_context() {
    run("context", target_context);
}

#[test]
fn fuzz_json() {
    run("json", target_json);
}

#[test]
fn fuzz_base64url() {
    run("base64url", target_base64url);
}

#[test]
fn fuzz_keys() {
    run("keys", target_keys);
}

#[test]
fn fuzz_customer_id() {
    run("customer_id", target_customer_id);
}

/// The allocation guard itself works: a case holding more than the limit is
/// seen (so the heap check above cannot pass vacuously).
#[test]
fn heap_counter_sees_large_allocations() {
    let ((), peak) = measured(|| {
        let big = vec![1u8; MAX_CASE_HEAP + 1];
        std::hint::black_box(&big);
    });
    assert!(peak > MAX_CASE_HEAP, "peak {peak}");
}

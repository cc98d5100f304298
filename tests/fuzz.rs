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
#![cfg(not(target_arch = "wasm32"))]

use chat_auth::identifier::check_customer_id;
use chat_auth::jose::keys::{self, VerifyingKey};
use chat_auth::jose::token::{self, Jwt};
use chat_auth::jose::verify::{verify_token, VerifyOptions};
use chat_auth::options::Config;
use chat_auth::secret::SecretString;
use chat_auth::session::admit::{self, Candidate, Introspection, Rules};
use chat_auth::session::schedule::{ClockEvidence, LeadReading};
use chat_auth::wire::base64url;
use chat_auth::wire::json::{self, Object, Value};
use chat_auth::{Error, ErrorCode};
use hmac::{Hmac, Mac};
use proptest::prelude::Rng as _;
use proptest::test_runner::{RngAlgorithm, TestRng};
use sha2::Sha256;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

// ------------------------------------------------------------ heap counting

/// The most heap one case may hold at once above what it started with. The
/// largest inputs are ~80 KB; a parser that allocates per nesting level or
/// per byte without a bound shows up far above this.
const MAX_CASE_HEAP: usize = 8 << 20;

/// The system allocator, counting live bytes and their peak per thread (tests
/// run on several threads; each counts its own).
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn count_alloc(size: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(size);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn count_free(size: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(size)));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_alloc(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_alloc(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count_free(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_free(layout.size());
        count_alloc(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the peak heap it held above the
/// heap live when it started.
fn measured<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, PEAK.with(Cell::get).saturating_sub(base))
}

// ------------------------------------------------------------ budget

struct Budget {
    cases: u64,
    limit: Option<Duration>,
    seed: u64,
}

fn budget() -> Budget {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let cases = var("CHAT_AUTH_FUZZ_CASES")
        .map(|v| v.parse().expect("CHAT_AUTH_FUZZ_CASES must be a number"))
        .unwrap_or(8_000);
    let limit = var("CHAT_AUTH_FUZZ_SECONDS").map(|v| {
        Duration::from_secs_f64(v.parse().expect("CHAT_AUTH_FUZZ_SECONDS must be a number"))
    });
    let seed = var("CHAT_AUTH_FUZZ_SEED")
        .map(|v| v.parse().expect("CHAT_AUTH_FUZZ_SEED must be a number"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    Budget { cases, limit, seed }
}

// ------------------------------------------------------------ randomness

struct Rng(TestRng);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        Rng(TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.0.next_u64() % n as u64) as usize
        }
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        let mut out = vec![0u8; len];
        self.0.fill_bytes(&mut out);
        out
    }
}

// ------------------------------------------------------------ mutation

const INTERESTING_BYTES: &[u8] = b"\0\x01\x7f\x80\xff.\"{}[],:\\=+/-_ \t\n0e9";

/// A splice of strings that stress parsers, inserted whole.
const INTERESTING_TEXT: &[&str] = &[
    "1e309",
    "-1e309",
    "1e-400",
    "-0",
    "1.5",
    "123456789012345678901234567890",
    "253402300800",
    "9007199254740993",
    "null",
    "true",
    "\"\"",
    "[]",
    "{}",
    "\\u0000",
    "\\ud800",
    "\\udc00\\ud800",
    "\u{feff}",
    "\u{10ffff}",
    "é",
    "%2E",
    "==",
    "\"alg\":\"none\"",
    "\"alg\":\"HS256\"",
    "\"kid\":\"../../dev/null\"",
    "\"crit\":[\"exp\"]",
    "\"jku\":\"https://attacker.example\"",
    "-----BEGIN PUBLIC KEY-----",
    "-----END PUBLIC KEY-----",
];

/// Pieces repeated many times over (long runs, deep nesting).
const REPEATED: &[&[u8]] = &[b"[", b"{\"a\":", b"\"", b"\\", b"0", b"."];

/// One byte-level mutation of `data`, sometimes splicing from `other`.
fn mutate_bytes(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    let len = data.len();
    match rng.below(9) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = *rng.pick(INTERESTING_BYTES);
        }
        2 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(16)).min(len);
            data.drain(start..end);
        }
        3 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(64)).min(len);
            let copy = data[start..end].to_vec();
            let at = rng.below(len + 1);
            data.splice(at..at, copy);
        }
        4 => {
            let at = rng.below(len + 1);
            let text = rng.pick(INTERESTING_TEXT).as_bytes().to_vec();
            data.splice(at..at, text);
        }
        5 if !other.is_empty() => {
            // Splice a piece of another seed in.
            let start = rng.below(other.len());
            let end = (start + 1 + rng.below(256)).min(other.len());
            let at = rng.below(len + 1);
            let cut = (at + rng.below(64)).min(len);
            data.splice(at..cut, other[start..end].iter().copied());
        }
        6 => {
            let at = rng.below(len + 1);
            let noise = rng.bytes(8);
            data.splice(at..at, noise);
        }
        7 if len > 0 => data.truncate(rng.below(len)),
        _ => {
            // Repeat a short piece many times (long runs, deep nesting).
            let piece = rng.pick(REPEATED);
            let at = rng.below(len + 1);
            let times = 1 + rng.below(3000);
            data.splice(at..at, piece.repeat(times));
        }
    }
}

/// JSON text for `v`; `dup` repeats one member of each object (which a
/// conforming reader must refuse).
fn write_json(out: &mut String, v: &Value, dup: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&format!("{n}")),
        Value::String(s) => json::write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, dup);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            let mut first = true;
            let mut member = |out: &mut String, k: &str, v: &Value| {
                if !first {
                    out.push(',');
                }
                first = false;
                json::write_string(out, k);
                out.push(':');
                write_json(out, v, dup);
            };
            for (k, v) in o.iter() {
                member(out, k, v);
            }
            if dup {
                if let Some((k, v)) = o.iter().next() {
                    member(out, k, v);
                }
            }
            out.push('}');
        }
    }
}

fn to_json(v: &Value) -> String {
    let mut s = String::new();
    write_json(&mut s, v, false);
    s
}

/// A random JSON value of bounded size.
fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(2)),
        2 => Value::Number(*rng.pick(&[
            0.0,
            -1.0,
            0.5,
            1e21,
            -1e21,
            253402300799.0,
            1.7e9,
            2e9,
            4294967296.0,
        ])),
        3 => Value::String(
            rng.pick(&[
                "",
                "RS256",
                "HS256",
                "none",
                "https://auth.example.com",
                "c_8f3a9b2e",
                "chat",
                "JWT",
                "at+jwt",
                "session",
                "memory",
                "https://chat.example.com",
                "Bearer",
                "\u{0}",
            ])
            .to_string(),
        ),
        4 => Value::Number(rng.0.next_u64() as f64 / 1e3),
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let text = format!(
                "{{{}}}",
                (0..rng.below(4))
                    .map(|i| format!("\"k{i}\":{}", to_json(&random_value(rng, depth - 1))))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            json::parse(text.as_bytes()).unwrap_or(Value::Null)
        }
    }
}

/// Names the seeds use, so mutated members hit real option and claim keys.
const KEY_NAMES: &[&str] = &[
    "alg",
    "kid",
    "typ",
    "crit",
    "jku",
    "jwk",
    "x5c",
    "exp",
    "nbf",
    "iat",
    "iss",
    "sub",
    "aud",
    "algorithms",
    "publicKey",
    "jwks",
    "secret",
    "issuer",
    "audience",
    "customerId",
    "customerIdClaim",
    "leewaySeconds",
    "now",
    "maxTokenBytes",
    "apiOrigins",
    "refresh",
    "validation",
    "storage",
    "crossTab",
    "tokenEndpoint",
    "Auth",
    "Token",
    "access_token",
    "expires_in",
    "ExpiresAt",
    "Headers",
    "token_type",
    "refresh_token",
    "keys",
    "kty",
    "n",
    "e",
    "x",
    "y",
    "crv",
    "k",
    "use",
];

/// One JSON-level edit of `v` (in place, somewhere in the tree).
fn mutate_value(rng: &mut Rng, v: &mut Value, depth: usize) {
    match v {
        Value::Object(o) if depth < 6 && !o.is_empty() && rng.chance(2) => {
            // Rebuild the object through text: Object has no mutable access.
            let mut members: Vec<(String, Value)> =
                o.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect();
            match rng.below(4) {
                0 => {
                    let i = rng.below(members.len());
                    mutate_value(rng, &mut members[i].1, depth + 1);
                }
                1 => {
                    let i = rng.below(members.len());
                    members.remove(i);
                }
                2 => {
                    let name = rng.pick(KEY_NAMES).to_string();
                    let value = random_value(rng, 2);
                    members.retain(|(k, _)| *k != name);
                    members.push((name, value));
                }
                _ => {
                    let i = rng.below(members.len());
                    members[i].1 = random_value(rng, 2);
                }
            }
            let text = format!(
                "{{{}}}",
                members
                    .iter()
                    .map(|(k, v)| {
                        let mut s = String::new();
                        json::write_string(&mut s, k);
                        s.push(':');
                        s.push_str(&to_json(v));
                        s
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            );
            *v = json::parse(text.as_bytes()).unwrap_or(Value::Null);
        }
        Value::Array(items) if depth < 6 && !items.is_empty() && rng.chance(2) => {
            let i = rng.below(items.len());
            mutate_value(rng, &mut items[i], depth + 1);
        }
        _ => {
            *v = match rng.below(3) {
                0 => random_value(rng, 3),
                // Deep nesting around the value.
                1 => {
                    let levels = 1 + rng.below(100);
                    let text =
                        format!("{}{}{}", "[".repeat(levels), to_json(v), "]".repeat(levels));
                    json::parse(text.as_bytes()).unwrap_or(Value::Null)
                }
                _ => Value::Number(*rng.pick(&[f64::MAX, f64::MIN, 1e-300, -0.0, 0.1])),
            }
        }
    }
}

/// JSON text from a seed object: a tree edit, then maybe a duplicate member
/// or byte-level damage.
fn mutate_json_text(rng: &mut Rng, seed: &Object, other: &[u8]) -> Vec<u8> {
    let mut v = Value::Object(seed.clone());
    for _ in 0..1 + rng.below(3) {
        mutate_value(rng, &mut v, 0);
    }
    let mut text = String::new();
    write_json(&mut text, &v, rng.chance(8));
    let mut bytes = text.into_bytes();
    if rng.chance(3) {
        mutate_bytes(rng, &mut bytes, other);
    }
    bytes
}

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn hs256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

// ------------------------------------------------------------ seeds

struct VectorCase {
    token: String,
    options: Object,
    now: i64,
}

struct Seeds {
    cases: Vec<VectorCase>,
    tokens: Vec<String>,
    /// Every token a case may legitimately accept: the vectors' own.
    known_tokens: HashSet<String>,
    secret: String,
    hs_options: Object,
    configs: Vec<Object>,
    contexts: Vec<Object>,
    pems: Vec<String>,
    jwks: Vec<Object>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn seeds() -> Seeds {
    let dir = root().join("tests/vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    let mut jwks = Vec::new();
    for path in files {
        let doc = json::parse_object(&std::fs::read(&path).unwrap()).unwrap();
        for case in doc.get("cases").and_then(Value::as_array).unwrap() {
            let case = case.as_object().unwrap();
            let options = case
                .get("options")
                .and_then(Value::as_object)
                .unwrap()
                .clone();
            if let Some(set) = options.get("jwks").and_then(Value::as_object) {
                jwks.push(set.clone());
            }
            cases.push(VectorCase {
                token: case.get_str("token").unwrap().to_owned(),
                options,
                now: case.get("now").and_then(Value::as_f64).unwrap() as i64,
            });
        }
    }
    let tokens: Vec<String> = cases.iter().map(|c| c.token.clone()).collect();
    let known_tokens = tokens.iter().cloned().collect();
    let secret = std::fs::read_to_string(dir.join("keys/hmac-secret.txt")).unwrap();
    let hs_options = json::parse_object(
        format!(
            r#"{{"algorithms":["HS256"],"secret":{},"issuer":"https://auth.example.com","audience":"chat","customerId":"c_8f3a9b2e"}}"#,
            {
                let mut s = String::new();
                json::write_string(&mut s, &secret);
                s
            }
        )
        .as_bytes(),
    )
    .unwrap();
    let pems: Vec<String> = std::fs::read_dir(dir.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".pem"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let rsa = std::fs::read_to_string(dir.join("keys/rsa2048.pub.pem")).unwrap();
    let mut rsa_json = String::new();
    json::write_string(&mut rsa_json, &rsa);
    let configs = [
        r#"{"apiOrigins":["https://chat.example.com"]}"#.to_owned(),
        r#"{"apiOrigins":["https://chat.example.com","http://127.0.0.1:8080"],"customerId":"c_8f3a9b2e","refresh":{"marginSeconds":30,"maxRetries":2,"providerTimeoutSeconds":5},"crossTab":false,"storage":"session"}"#.to_owned(),
        format!(r#"{{"apiOrigins":["https://chat.example.com"],"validation":{{"algorithms":["RS256","PS256"],"publicKey":{rsa_json},"issuer":"https://auth.example.com","audience":["chat","x"],"customerIdClaim":"sub","leewaySeconds":10}}}}"#),
        r#"{"apiOrigins":["https://chat.example.com"],"validation":{"jwksUrl":"https://auth.example.com/jwks","customerIdClaim":null},"tokenEndpoint":"https://auth.example.com/token","clientId":"web","introspectionEndpoint":"https://chat.example.com/introspect"}"#.to_owned(),
    ]
    .iter()
    .map(|t| json::parse_object(t.as_bytes()).unwrap())
    .collect();
    let contexts = [
        format!(r#"{{"Auth":{{"Token":"{}"}}}}"#, tokens[0]),
        r#"{"Auth":{"Token":"opaque-abc.def","ExpiresAt":1700003600,"Scopes":["chat"],"Headers":{"X-Tenant":"t1"},"Cookies":{"a":"b"},"Body":{}},"CustomerInfo":{"tier":"gold"},"ExternalSessionId":"s1","Segments":["a"]}"#.to_owned(),
        r#"{"access_token":"opaque-token","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1","scope":"chat"}"#.to_owned(),
        r#"{"Auth":{"access_token":"opaque","token_type":"DPoP","expires_in":60}}"#.to_owned(),
    ]
    .iter()
    .map(|t| json::parse_object(t.as_bytes()).unwrap())
    .collect();
    Seeds {
        cases,
        tokens,
        known_tokens,
        secret,
        hs_options,
        configs,
        contexts,
        pems,
        jwks,
    }
}

// ------------------------------------------------------------ checks

thread_local! {
    /// The current case's input, for the report when the case fails.
    static INPUT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Records the input of the case being run.
fn input(text: &str) {
    INPUT.with(|i| {
        let mut i = i.borrow_mut();
        i.clear();
        i.push_str(text);
    });
}

/// A failed check, with what is needed to repeat it.
struct Finding(String);

fn check_error(e: &Error, allowed: &[ErrorCode], input: &str) -> Result<(), Finding> {
    if !allowed.contains(&e.code()) {
        return Err(Finding(format!("unexpected code {}", e.code().as_str())));
    }
    if ErrorCode::parse(e.code().as_str()) != Some(e.code()) || e.message().is_empty() {
        return Err(Finding("error without a stable code or message".into()));
    }
    // Messages are static text and option names: they must not echo input
    // (a token or secret would leak into logs and error reports).
    // invalid_config names the offending option (a key, never a value).
    if e.code() == ErrorCode::InvalidConfig {
        return Ok(());
    }
    let shown = format!("{} {e} {e:?}", e.message());
    for piece in input.split(['.', '"', '\n']).filter(|p| p.len() >= 24) {
        if shown.contains(piece) {
            return Err(Finding("error message echoes the input".into()));
        }
    }
    Ok(())
}

fn check<T>(result: &Result<T, Error>, allowed: &[ErrorCode], input: &str) -> Result<(), Finding> {
    match result {
        Ok(_) => Ok(()),
        Err(e) => check_error(e, allowed, input),
    }
}

use ErrorCode as C;
const TOKEN_CODES: &[ErrorCode] = &[C::Malformed, C::TokenTooLarge];
const VERIFY_CODES: &[ErrorCode] = &[
    C::InvalidConfig,
    C::Malformed,
    C::TokenTooLarge,
    C::AlgNotAllowed,
    C::BadSignature,
    C::KeyTypeMismatch,
    C::UnknownKey,
    C::Expired,
    C::NotYetValid,
    C::ClaimMismatch,
    C::IssuerMismatch,
    C::AudienceMismatch,
];
const CONFIG_CODES: &[ErrorCode] = &[C::InvalidConfig, C::CustomerIdInvalid, C::CustomerIdPii];
const CONTEXT_CODES: &[ErrorCode] = &[C::Malformed, C::TokenTooLarge];
const JSON_CODES: &[ErrorCode] = &[C::Malformed];
const ADMIT_CODES: &[ErrorCode] = &[
    C::Malformed,
    C::TokenTooLarge,
    C::Expired,
    C::NotYetValid,
    C::ClaimMismatch,
    C::IssuerMismatch,
    C::AudienceMismatch,
    C::TokenUnchanged,
    C::InvalidConfig,
];
const KEY_CODES: &[ErrorCode] = &[C::InvalidConfig];
const ID_CODES: &[ErrorCode] = &[C::CustomerIdInvalid, C::CustomerIdPii];

// ------------------------------------------------------------ targets

/// A token: a mutated vector token (bytes, segments, or re-signed JSON) or
/// random bytes. Returns the token and whether the harness signed it.
fn fuzz_token(rng: &mut Rng, s: &Seeds) -> (String, bool) {
    let seed = rng.pick(&s.tokens).clone();
    let other = rng.pick(&s.tokens).as_bytes().to_vec();
    match rng.below(6) {
        0 => (lossy(rng.bytes(200)), false),
        1 | 2 => {
            let mut b = seed.into_bytes();
            for _ in 0..1 + rng.below(3) {
                mutate_bytes(rng, &mut b, &other);
            }
            (lossy(b), false)
        }
        3 => {
            // Segment surgery: swap, drop, duplicate, or take from another token.
            let mut parts: Vec<String> = seed.split('.').map(str::to_owned).collect();
            let others: Vec<&str> = std::str::from_utf8(&other).unwrap().split('.').collect();
            let i = rng.below(parts.len());
            match rng.below(4) {
                0 => parts[i] = rng.pick(&others).to_string(),
                1 => {
                    parts.remove(i);
                }
                2 => parts.insert(i, parts[i].clone()),
                _ => {
                    let j = rng.below(parts.len());
                    parts.swap(i, j);
                }
            }
            (parts.join("."), false)
        }
        _ => {
            // Decode a segment, edit its JSON, re-encode, and re-sign with
            // the vectors' secret as HS256, so the edit reaches rules 5–10.
            let parts: Vec<&str> = seed.split('.').collect();
            let decoded =
                |p: &str| base64url::decode(p.as_bytes()).and_then(|b| json::parse_object(&b).ok());
            let (Some(header), Some(payload)) = (
                parts.first().and_then(|p| decoded(p)),
                parts.get(1).and_then(|p| decoded(p)),
            ) else {
                return (seed, false);
            };
            let header = if rng.chance(2) {
                mutate_json_text(rng, &header, &other)
            } else {
                br#"{"alg":"HS256","typ":"JWT"}"#.to_vec()
            };
            let payload = mutate_json_text(rng, &payload, &other);
            let input = format!(
                "{}.{}",
                base64url::encode(&header),
                base64url::encode(&payload)
            );
            let sig = hs256(s.secret.as_bytes(), input.as_bytes());
            (format!("{input}.{}", base64url::encode(&sig)), true)
        }
    }
}

fn target_token(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    let (token, _) = fuzz_token(rng, s);
    input(&token);
    let max = *rng.pick(&[token::DEFAULT_MAX_TOKEN_BYTES, 64, 1 << 20]);
    check(&Jwt::parse(&token, max), TOKEN_CODES, &token)?;
    check(&token::decode(&token, max), TOKEN_CODES, &token)?;
    Ok(())
}

fn target_verify(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    let (token, signed_here) = fuzz_token(rng, s);
    input(&token);
    let case = rng.pick(&s.cases);
    let harness_options = signed_here && rng.chance(2);
    let mut options = if harness_options {
        s.hs_options.clone()
    } else {
        case.options.clone()
    };
    let options_mutated = rng.chance(4);
    if options_mutated {
        let text = mutate_json_text(rng, &options, token.as_bytes());
        input(&format!(
            "{token}\noptions: {}",
            String::from_utf8_lossy(&text)
        ));
        match json::parse_object(&text) {
            Ok(o) => options = o,
            Err(e) => check_error(&e, JSON_CODES, &token)?,
        }
    }
    let now = match rng.below(4) {
        0 => rng.0.next_u64() as i64 % 8_640_000_000_000_000,
        _ => case.now,
    };
    let result = VerifyOptions::from_json(&options).and_then(|o| verify_token(&token, &o, now));
    check(&result, VERIFY_CODES, &token)?;
    // No forgery: only the vectors' own tokens and the harness's re-signed
    // ones may verify; a mutation of anything else must not.
    if result.is_ok() && !signed_here && !s.known_tokens.contains(&token) {
        return Err(Finding("a token nobody signed verified".into()));
    }
    Ok(())
}

fn target_config(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    let seed = rng.pick(&s.configs);
    let other = rng.pick(&s.tokens).clone();
    let text = lossy(mutate_json_text(rng, seed, other.as_bytes()));
    input(&text);
    if let Ok(o) = json::parse_object(text.as_bytes()) {
        check(&Config::from_json(&o), CONFIG_CODES, &text)?;
    }
    Ok(())
}

fn target_context(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    let text = if rng.chance(5) {
        lossy(rng.bytes(300))
    } else {
        let seed = rng.pick(&s.contexts);
        let other = rng.pick(&s.tokens).clone();
        lossy(mutate_json_text(rng, seed, other.as_bytes()))
    };
    input(&text);
    let candidate = Candidate::read(&text);
    check(&candidate, CONTEXT_CODES, &text)?;
    if let Ok(candidate) = candidate {
        // Judge it as a session would (claims, customer, expiry, clock
        // offset from iat or a Date header), at odd times too.
        let validation = VerifyOptions::default();
        let refused = SecretString::new(rng.pick(&s.tokens).clone());
        let rules = Rules {
            validation: &validation,
            customer_id: "c_8f3a9b2e",
            refused: rng.chance(4).then_some(&refused),
            needs_refresh: rng.chance(2),
            asked_at: None,
            clock: ClockEvidence::default(),
        };
        let at = |rng: &mut Rng| match rng.below(3) {
            0 => rng.0.next_u64() as i64,
            1 => 1_700_000_000_000 + rng.below(10_000_000) as i64,
            _ => rng.below(1 << 20) as i64 - (1 << 19),
        };
        let date = rng.chance(2).then(|| at(rng));
        let received_at = at(rng);
        // Asked for some time before the answer came (or at an odd time).
        let asked_at = match rng.below(3) {
            0 => None,
            1 => Some(received_at.saturating_sub(rng.below(600_000) as i64)),
            _ => Some(at(rng)),
        };
        // And with what earlier answers showed of the issuer's clock.
        let reading = LeadReading {
            stamp_ms: at(rng),
            low: at(rng),
            high: at(rng),
        };
        let clock = ClockEvidence {
            last: rng.chance(2).then_some(reading),
            agreed: rng.chance(3).then_some(reading),
        };
        let rules = Rules {
            asked_at,
            clock,
            ..rules
        };
        let introspection = rng.chance(2).then(|| Introspection {
            active: rng.chance(2),
            exp: rng.chance(2).then(|| *rng.pick(&[1.7e9, -1.0, 1e300, 0.5])),
        });
        let admitted = candidate
            .with_server_date(date)
            .admit(&rules, received_at, introspection);
        check(&admitted, ADMIT_CODES, &text)?;
    }
    // A stored credential (sessionStorage) around the same context.
    let stored = format!(
        r#"{{"customerId":"c_8f3a9b2e","receivedAt":1700000000000,"expiresAt":1700003600000,"context":{text}}}"#
    );
    let _ = admit::restore(&stored, "c_8f3a9b2e");
    let _ = admit::restore(&text, "c_8f3a9b2e");
    Ok(())
}

fn target_json(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    let bytes = match rng.below(3) {
        0 => rng.bytes(300),
        1 => {
            let seed = rng.pick(&s.cases).options.clone();
            mutate_json_text(rng, &seed, b"[]{}")
        }
        _ => {
            let mut b = to_json(&random_value(rng, 4)).into_bytes();
            mutate_bytes(rng, &mut b, b"\"\\u0000\"");
            b
        }
    };
    let text = lossy(bytes.clone());
    input(&text);
    match json::parse(&bytes) {
        Err(e) => check_error(&e, JSON_CODES, &text)?,
        Ok(v) => {
            // What the reader accepts, written back, reads the same.
            let again = json::parse(to_json(&v).as_bytes())
                .map_err(|_| Finding("accepted JSON does not round-trip".into()))?;
            if again != v {
                return Err(Finding("accepted JSON reads differently".into()));
            }
        }
    }
    Ok(())
}

fn target_base64url(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    let data = if rng.chance(2) {
        rng.bytes(100)
    } else {
        let seed = rng.pick(&s.tokens);
        let part = rng
            .pick(&seed.split('.').collect::<Vec<_>>())
            .as_bytes()
            .to_vec();
        let mut b = part;
        mutate_bytes(rng, &mut b, b"=+/");
        b
    };
    let text = lossy(data.clone());
    input(&text);
    if base64url::decode(base64url::encode(&data).as_bytes()).as_deref() != Some(&data[..]) {
        return Err(Finding("encode then decode is not the identity".into()));
    }
    // Strict: only the canonical text of some bytes decodes.
    if let Some(decoded) = base64url::decode(&data) {
        if base64url::encode(&decoded).as_bytes() != &data[..] {
            return Err(Finding("a non-canonical text decoded".into()));
        }
    }
    Ok(())
}

fn target_keys(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    match rng.below(3) {
        0 => {
            let mut b = rng.pick(&s.pems).clone().into_bytes();
            let other = rng.pick(&s.pems).clone().into_bytes();
            for _ in 0..1 + rng.below(3) {
                mutate_bytes(rng, &mut b, &other);
            }
            let text = lossy(b);
            input(&text);
            check(&VerifyingKey::from_pem(&text, "publicKey"), KEY_CODES, "")?;
            Ok(())
        }
        1 => {
            let der = rng.bytes(600);
            input(&format!("DER {der:02x?}"));
            check(
                &VerifyingKey::from_spki_der(&der, "publicKey"),
                KEY_CODES,
                "",
            )?;
            Ok(())
        }
        _ => {
            let seed = rng.pick(&s.jwks).clone();
            let text = lossy(mutate_json_text(rng, &seed, b"AQAB"));
            input(&text);
            if let Ok(o) = json::parse_object(text.as_bytes()) {
                check(&keys::parse_jwks(&o, "jwks"), KEY_CODES, "")?;
                if let Some(Value::Object(jwk)) = o
                    .get("keys")
                    .and_then(Value::as_array)
                    .and_then(|k| k.first())
                {
                    check(&VerifyingKey::from_jwk(jwk, "jwks"), KEY_CODES, "")?;
                }
            }
            Ok(())
        }
    }
}

fn target_customer_id(rng: &mut Rng, _s: &Seeds) -> Result<(), Finding> {
    let mut b = rng
        .pick(&[
            &b"c_8f3a9b2e"[..],
            b"jane@example.com",
            b"+1 555 0100",
            b"4111111111111111",
            b"123-45-6789",
        ])
        .to_vec();
    mutate_bytes(rng, &mut b, b"@0123456789");
    let text = lossy(b);
    input(&text);
    check(&check_customer_id(&text), ID_CODES, "")?;
    Ok(())
}

// ------------------------------------------------------------ driver

thread_local! {
    static IN_FUZZ_LOOP: Cell<bool> = const { Cell::new(false) };
}

/// A panic inside a fuzz loop is caught and reported with its input; the
/// default hook's output would only bury that. Other panics print as usual.
fn quiet_panics_in_fuzz_loops() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_FUZZ_LOOP.with(Cell::get) {
                default(info);
            }
        }));
    });
}

type Target = fn(&mut Rng, &Seeds) -> Result<(), Finding>;

fn run(name: &str, target: Target) {
    let budget = budget();
    let seeds = seeds();
    // Each target gets its own stream, so one target's failure repeats alone.
    let seed = budget.seed
        ^ name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31) ^ b as u64);
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let mut done = 0u64;
    let mut peak_max = 0usize;
    quiet_panics_in_fuzz_loops();
    IN_FUZZ_LOOP.with(|f| f.set(true));
    let mut failure = None;
    while done < budget.cases && budget.limit.is_none_or(|l| started.elapsed() < l) {
        let case_rng_seed = rng.0.next_u64();
        let mut case_rng = Rng::new(case_rng_seed);
        let (outcome, peak) =
            measured(|| panic::catch_unwind(AssertUnwindSafe(|| target(&mut case_rng, &seeds))));
        peak_max = peak_max.max(peak);
        let problem = match outcome {
            Err(p) => Some(format!(
                "panicked: {}",
                p.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default()
            )),
            Ok(Err(Finding(why))) => Some(why),
            Ok(Ok(_)) if peak > MAX_CASE_HEAP => Some(format!("held {peak} bytes of heap")),
            Ok(Ok(_)) => None,
        };
        if let Some(why) = problem {
            let input = INPUT.with(|i| i.borrow().clone());
            failure = Some(format!(
                "fuzz {name}: {why}\n  case {done}, CHAT_AUTH_FUZZ_SEED={} (case seed {case_rng_seed})\n  input ({} bytes): {:?}",
                budget.seed,
                input.len(),
                input.chars().take(2000).collect::<String>()
            ));
            break;
        }
        done += 1;
    }
    IN_FUZZ_LOOP.with(|f| f.set(false));
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz {name}: {done} cases in {secs:.2} s ({:.0} cases/s), peak heap per case {} KiB, seed {}",
        done as f64 / secs.max(1e-9),
        peak_max / 1024,
        budget.seed
    );
    if let Some(f) = failure {
        panic!("{f}");
    }
}

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

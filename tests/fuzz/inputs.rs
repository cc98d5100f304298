//! The inputs: a seeded random source, byte-level mutations, and JSON-level
//! edits of seed objects (re-encoded with the shared vectors' writer).

use chat_auth::wire::json::{self, Object, Value};
use chat_auth_vectors::{to_json, write_json};
use hmac::{Hmac, Mac};
use proptest::prelude::Rng as _;
use proptest::test_runner::{RngAlgorithm, TestRng};
use sha2::Sha256;

pub(crate) struct Rng(pub(crate) TestRng);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        Rng(TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.0.next_u64() % n as u64) as usize
        }
    }
    pub(crate) fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    pub(crate) fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        let mut out = vec![0u8; len];
        self.0.fill_bytes(&mut out);
        out
    }
}

pub(crate) const INTERESTING_BYTES: &[u8] = b"\0\x01\x7f\x80\xff.\"{}[],:\\=+/-_ \t\n0e9";

/// A splice of strings that stress parsers, inserted whole.
pub(crate) const INTERESTING_TEXT: &[&str] = &[
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
pub(crate) const REPEATED: &[&[u8]] = &[b"[", b"{\"a\":", b"\"", b"\\", b"0", b"."];

/// One byte-level mutation of `data`, sometimes splicing from `other`.
pub(crate) fn mutate_bytes(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
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

/// A random JSON value of bounded size.
pub(crate) fn random_value(rng: &mut Rng, depth: usize) -> Value {
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
pub(crate) const KEY_NAMES: &[&str] = &[
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
pub(crate) fn mutate_value(rng: &mut Rng, v: &mut Value, depth: usize) {
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
pub(crate) fn mutate_json_text(rng: &mut Rng, seed: &Object, other: &[u8]) -> Vec<u8> {
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

pub(crate) fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

pub(crate) fn hs256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

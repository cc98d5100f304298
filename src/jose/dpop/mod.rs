//! DPoP (RFC 9449): sender-constrained tokens.
//!
//! One module serves both sides, so the browser builds proofs by the very
//! rules a server checks them with:
//!
//! - [`thumbprint`]: the RFC 7638 JWK thumbprint (`cnf.jkt`, the binding);
//! - [`access_token_hash`]: `ath`, base64url SHA-256 of the access token;
//! - [`htu`]: the request URL as a proof names it (no query, no fragment);
//! - [`ProofKey`], [`ProofClaims`], [`signing_input`], [`assemble`]: a
//!   proof's header and payload (the host signs them with a non-extractable
//!   WebCrypto key, the driver never holds the private key);
//! - [`validate_proof_with`] (natively also [`validate_proof`]): a server's
//!   check of a proof for one request, with a caller-supplied
//!   [`ReplayCache`] for `jti`.
//!
//! Codes: `dpop_invalid` (not a well-formed proof, or one for another
//! request: `detail` names the check), `dpop_replayed` (a `jti` seen
//! before), `dpop_nonce_required` (no or a stale server nonce: answer
//! `use_dpop_nonce`), `dpop_key_mismatch` (the proof's key is not the one
//! the token is bound to), `alg_not_allowed` and `bad_signature` as for
//! tokens.

use crate::error::{Error, ErrorCode, Result};
use crate::jose::algorithm::{Algorithm, Scheme};
use crate::jose::keys::{KeyMaterial, VerifyingKey};
use crate::jose::verify::SignatureVerifier;
use crate::time::Millis;
use crate::wire::base64url;
use crate::wire::json::{self, Object, Value};

mod proof;
mod replay;
mod validate;

pub use proof::{assemble, signing_input, ProofClaims, ProofKey};
#[cfg(not(target_arch = "wasm32"))]
pub use replay::MemoryReplayCache;
pub use replay::ReplayCache;
#[cfg(not(target_arch = "wasm32"))]
pub use validate::validate_proof;
pub use validate::{bound_thumbprint, validate_proof_with, ProofRequirements, ValidProof};

/// The proof's `typ` (RFC 9449 §4.2).
pub const PROOF_TYP: &str = "dpop+jwt";

/// The `Authorization` scheme of a DPoP-bound token, and its `token_type`.
pub const SCHEME: &str = "DPoP";

/// The OAuth error a server answers when a proof needs its nonce (§8, §9).
pub const USE_DPOP_NONCE: &str = "use_dpop_nonce";

/// Largest proof accepted, bytes (a P-256 proof with a nonce and `ath` is
/// about 600).
pub const MAX_PROOF_BYTES: usize = 4 * 1024;

/// How old a proof's `iat` may be by default, seconds.
pub const DEFAULT_MAX_AGE_S: i64 = 300;

/// How far ahead of the server's clock a proof's `iat` may be, seconds.
pub const DEFAULT_FUTURE_LEEWAY_S: i64 = 60;

/// base64url SHA-256 of `bytes`, unpadded.
pub fn sha256_b64(bytes: &[u8]) -> String {
    base64url::encode(&crate::jose::sha256::digest(bytes))
}

/// `ath`: base64url SHA-256 of the access token's ASCII (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    sha256_b64(token.as_bytes())
}

/// The RFC 7638 thumbprint (SHA-256, base64url) of a public key: the
/// required members only, in lexicographic order, no whitespace. `None`
/// for an HMAC secret (no public key, never a DPoP key).
pub fn thumbprint(material: &KeyMaterial) -> Option<String> {
    let b = base64url::encode;
    let canonical = match material {
        KeyMaterial::Ec { curve, x, y } => crate::wire::cat(&[
            r#"{"crv":""#,
            curve.jwk_name(),
            r#"","kty":"EC","x":""#,
            &b(x),
            r#"","y":""#,
            &b(y),
            r#""}"#,
        ]),
        KeyMaterial::Rsa { n, e } => {
            crate::wire::cat(&[r#"{"e":""#, &b(e), r#"","kty":"RSA","n":""#, &b(n), r#""}"#])
        }
        KeyMaterial::Ed25519 { x } => {
            crate::wire::cat(&[r#"{"crv":"Ed25519","kty":"OKP","x":""#, &b(x), r#""}"#])
        }
        KeyMaterial::Secret(_) => return None,
    };
    Some(sha256_b64(canonical.as_bytes()))
}

/// The `htu` of a request to `url` (RFC 9449 §4.2, §4.3 step 9): the
/// absolute `http(s)` URL without query and fragment, scheme and host in
/// lower case, the default port dropped, an empty path as `/` (RFC 3986
/// §6.2.2–6.2.3, what a browser's `URL.href` already is). `None` for
/// anything else (another scheme, user info, no host).
pub fn htu(url: &str) -> Option<String> {
    // Bytes, not `str` patterns: no panic path and no searcher in the wasm build.
    let b = url.as_bytes();
    let end = b
        .iter()
        .position(|c| matches!(c, b'?' | b'#'))
        .unwrap_or(b.len());
    let (scheme_len, default_port): (usize, &[u8]) = if starts_with_ignore_case(b, b"https://") {
        (5, b":443")
    } else if starts_with_ignore_case(b, b"http://") {
        (4, b":80")
    } else {
        return None;
    };
    let rest = b.get(scheme_len + 3..end)?;
    let slash = rest.iter().position(|c| *c == b'/').unwrap_or(rest.len());
    let mut authority = rest.get(..slash)?;
    let path = rest.get(slash..)?;
    if authority.is_empty() || authority.iter().any(|c| matches!(c, b'@' | b' ' | b'\\')) {
        return None;
    }
    if let Some(host) = authority.strip_suffix(default_port) {
        authority = host;
    }
    let mut out = Vec::with_capacity(end + 1);
    out.extend(b.get(..scheme_len + 3)?.iter().map(u8::to_ascii_lowercase));
    out.extend(authority.iter().map(u8::to_ascii_lowercase));
    out.extend_from_slice(if path.is_empty() { b"/" } else { path });
    String::from_utf8(out).ok()
}

fn starts_with_ignore_case(b: &[u8], prefix: &[u8]) -> bool {
    b.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

fn invalid(detail: &'static str, message: &'static str) -> Error {
    Error::new(ErrorCode::DpopInvalid, message).with_detail(detail)
}

#[cfg(test)]
mod tests;

//! JWT verification: API.md "Verification rules" 1–10, in order, so a token
//! gets the same error code on every target.
//!
//! Staged because the browser verifies signatures with WebCrypto, which is
//! asynchronous: [`prepare`] does rules 1–6 and the deterministic part of
//! rule 7 (signature shape), a [`SignatureVerifier`] checks the signature
//! (natively [`NativeVerifier`], jsonwebtoken; in the browser, WebCrypto with
//! the key's components), and [`finish`] does rules 8–10. Only the
//! cryptographic primitive differs between targets; every decision around it
//! is this module's code. [`check_claims`] runs rules 9–10 alone, for a
//! session that judges claims without a configured key.
//!
//! One file per job: `options` ([`VerifyOptions`], what is checked, with
//! each field's default), this file (the rule pipeline), `native` (the
//! jsonwebtoken backend) and `verifier` ([`Verifier`], the typed API a Rust
//! server uses).

#[cfg(not(target_arch = "wasm32"))]
mod native;
mod options;
mod verifier;

#[cfg(not(target_arch = "wasm32"))]
pub use native::NativeVerifier;
pub use options::{
    VerifyOptions, ACCEPTED_TYP, DEFAULT_ALGORITHMS, DEFAULT_CUSTOMER_ID_CLAIM,
    DEFAULT_LEEWAY_SECONDS, MAX_LEEWAY_SECONDS, MAX_NOW_MS,
};
pub use verifier::{Verifier, VerifierBuilder};

use crate::error::{Error, ErrorCode, Result};
use crate::jose::algorithm::{self, Algorithm, Scheme};
use crate::jose::keys::{self, KeyMaterial, KeySource, VerifyingKey};
use crate::jose::token::{Claims, Header, Jwt};
use crate::time::Millis;
use options::{accepted_typ, media_subtype};
use std::fmt;

fn invalid(key: &str, problem: &'static str) -> Error {
    Error::invalid_config(key, problem)
}

/// A token that passed rules 1–6 and the signature-shape part of rule 7,
/// waiting for its signature to be checked ([`SignatureVerifier`]) and then
/// for [`finish`].
#[derive(Clone)]
pub struct Prepared {
    alg: Algorithm,
    key: VerifyingKey,
    signing_input: Vec<u8>,
    jwt: Jwt,
}

impl Prepared {
    /// The header's `alg`, on the allow-list.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The selected key (a copy, so the browser can hold it across an await).
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The bytes the signature covers: ASCII `header.payload`.
    pub fn signing_input(&self) -> &[u8] {
        &self.signing_input
    }

    /// The decoded signature (its shape already checked).
    pub fn signature(&self) -> &[u8] {
        self.jwt.signature()
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        self.jwt.header()
    }

    /// The parsed token; its payload is judged by [`finish`].
    pub fn jwt(&self) -> &Jwt {
        &self.jwt
    }
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("alg", &self.alg)
            .field("key", &self.key)
            .field("jwt", &self.jwt)
            .finish_non_exhaustive()
    }
}

fn code(code: ErrorCode, message: &'static str) -> Error {
    Error::new(code, message)
}

/// Rules 1–6 and the deterministic part of rule 7, in order:
///
/// 1. `opts` valid and a key configured (`invalid_config`);
/// 2. –4a. [`Jwt::parse`]: size (`token_too_large`), three strict base64url
///    segments, a JSON object header, a string `alg` (`malformed`);
/// 4. `alg` on the allow-list, case-sensitive; `none` never (`alg_not_allowed`);
/// 5. no `crit`, `zip` or `cty`; `typ`, if present, a string naming `JWT`,
///    `at+jwt` or `application/at+jwt`, and the media type of `opts.typ`
///    when that is set (then it is required) (`malformed`);
/// 6. key selection ([`keys::select`]: `unknown_key`, `key_type_mismatch`);
/// 7. signature shape (`bad_signature`): HMAC tag of the hash's length; RSA
///    signature as long as the modulus and below it; ECDSA raw R‖S of 64
///    (ES256) or 96 (ES384) bytes with 1 ≤ r, s < n; Ed25519 64 bytes with
///    S < L. The cryptographic check itself is the verifier's.
pub fn prepare(token: &str, opts: &VerifyOptions) -> Result<Prepared> {
    opts.validate()?;
    let source = match &opts.key {
        Some(KeySource::JwksUrl(_)) => {
            return Err(invalid(
                "jwksUrl",
                "names keys to fetch: verify with the fetched JWK Set",
            ))
        }
        Some(source) => source,
        None => {
            return Err(invalid(
                "publicKey",
                "(or 'jwks' or 'secret') is required to verify a signature",
            ))
        }
    };
    let jwt = Jwt::parse(token, opts.max_token_bytes)?;
    let header = jwt.header();
    let alg = Algorithm::parse(&header.alg)
        .filter(|a| opts.algorithms.contains(a))
        .ok_or_else(|| code(ErrorCode::AlgNotAllowed, "the token's alg is not allowed"))?;
    check_header(header, opts)?;
    let key = keys::select(source, header.members.get("kid"), alg)?.clone();
    if !signature_shape_ok(alg, &key.material, jwt.signature()) {
        return Err(code(
            ErrorCode::BadSignature,
            "the signature does not verify",
        ));
    }
    let signing_input = jwt.signing_input(token).to_vec();
    Ok(Prepared {
        alg,
        key,
        signing_input,
        jwt,
    })
}

/// Rule 5.
fn check_header(header: &Header, opts: &VerifyOptions) -> Result<()> {
    if header.members.contains("crit") {
        return Err(Error::malformed(
            "JWT header has 'crit': no extension is understood",
        ));
    }
    if header.members.contains("zip") {
        return Err(Error::malformed(
            "JWT header has 'zip': compressed payloads are refused",
        ));
    }
    if header.members.contains("cty") {
        return Err(Error::malformed(
            "JWT header has 'cty': nested tokens are refused",
        ));
    }
    match (&header.typ, &opts.typ) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(Error::malformed(
            "JWT header has no 'typ' but one is required",
        )),
        (Some(value), wanted) => {
            let Some(typ) = value.as_str() else {
                return Err(Error::malformed("JWT header 'typ' is not a string"));
            };
            if !accepted_typ(typ) {
                return Err(Error::malformed(
                    "JWT header 'typ' must be JWT, at+jwt or application/at+jwt",
                ));
            }
            match wanted {
                Some(w) if !media_subtype(typ).eq_ignore_ascii_case(media_subtype(w)) => Err(
                    Error::malformed("JWT header 'typ' differs from the required typ"),
                ),
                _ => Ok(()),
            }
        }
    }
}

/// Rule 7, the part that needs no cryptography (identical on every target).
pub(crate) fn signature_shape_ok(alg: Algorithm, key: &KeyMaterial, sig: &[u8]) -> bool {
    match (alg.scheme(), key) {
        (Scheme::Hmac, KeyMaterial::Secret(_)) => sig.len() == alg.hash_len(),
        (Scheme::RsaPkcs1 | Scheme::RsaPss, KeyMaterial::Rsa { n, .. }) => {
            let first = n.iter().position(|&b| b != 0).unwrap_or(n.len());
            let n = n.get(first..).unwrap_or_default();
            algorithm::be_less(sig, n)
        }
        (Scheme::Ecdsa, KeyMaterial::Ec { curve, .. }) => {
            let len = curve.coordinate_len();
            if alg.curve() != Some(*curve) || sig.len() != 2 * len {
                return false;
            }
            let Some((r, s)) = sig.split_at_checked(len) else {
                return false;
            };
            let scalar_ok =
                |v: &[u8]| v.iter().any(|&b| b != 0) && algorithm::be_less(v, curve.order());
            scalar_ok(r) && scalar_ok(s)
        }
        (Scheme::EdDsa, KeyMaterial::Ed25519 { .. }) => {
            sig.len() == 64 && sig.get(32..).is_some_and(algorithm::ed25519_scalar_ok)
        }
        _ => false,
    }
}

/// Rules 8–10 after the signature verified: the payload is parsed
/// ([`Claims::parse`] with `exp` required, `malformed`), then
/// [`check_claims`]. `opts.now_ms`, when set, overrides `now_ms`.
pub fn finish(prepared: &Prepared, opts: &VerifyOptions, now_ms: Millis) -> Result<Claims> {
    let claims = Claims::parse(prepared.jwt.payload(), true)?;
    check_claims(&claims, opts, now_ms)?;
    Ok(claims)
}

/// Rules 9–10 on claims already parsed (also the claims-only path of a
/// session without a key). `opts.now_ms`, when set, overrides `now_ms`;
/// `opts.key` and `opts.algorithms` are not used. With `now` = ms / 1000 and
/// L the leeway: `now ≥ exp + L` → `expired` (a missing `exp` is
/// `malformed`, as in rule 8); `now < nbf − L` or `iat > now + L` →
/// `not_yet_valid`; then `iss` ≠ `issuer` → `issuer_mismatch`; `aud` sharing
/// no value with `audience` → `audience_mismatch`; the customer-id claim not
/// a string equal to `customer_id` → `claim_mismatch`. Invalid claim options
/// are `invalid_config` first.
pub fn check_claims(claims: &Claims, opts: &VerifyOptions, now_ms: Millis) -> Result<()> {
    opts.validate_claim_rules()?;
    let now = opts.now_ms.unwrap_or(now_ms) as f64 / 1000.0;
    let leeway = opts.leeway_seconds;
    let Some(exp) = claims.exp else {
        return Err(Error::malformed("JWT has no 'exp' claim"));
    };
    if now >= exp + leeway {
        return Err(code(ErrorCode::Expired, "the token has expired"));
    }
    if claims.nbf.is_some_and(|nbf| now < nbf - leeway) {
        return Err(code(
            ErrorCode::NotYetValid,
            "the token is not valid yet (nbf)",
        ));
    }
    if claims.iat.is_some_and(|iat| iat > now + leeway) {
        return Err(code(
            ErrorCode::NotYetValid,
            "the token was issued in the future (iat)",
        ));
    }
    if let Some(issuer) = &opts.issuer {
        if claims.iss.as_deref() != Some(issuer.as_str()) {
            return Err(code(
                ErrorCode::IssuerMismatch,
                "the token's iss is not the required issuer",
            ));
        }
    }
    if let Some(audience) = &opts.audience {
        let shared = claims
            .aud
            .as_ref()
            .is_some_and(|aud| aud.iter().any(|a| audience.contains(a)));
        if !shared {
            return Err(code(
                ErrorCode::AudienceMismatch,
                "the token's aud lacks the required audience",
            ));
        }
    }
    if let (Some(customer_id), Some(claim)) = (&opts.customer_id, &opts.customer_id_claim) {
        if claims.members.get_str(claim) != Some(customer_id.as_str()) {
            return Err(code(
                ErrorCode::ClaimMismatch,
                "the token's customer claim differs from the customer id",
            ));
        }
    }
    Ok(())
}

/// Checks a signature with a cryptographic backend. [`prepare`] has already
/// matched the key to `alg` and checked the signature's shape; an
/// implementation answers only whether the signature verifies, and must
/// answer `false` (never panic) on anything it cannot handle.
pub trait SignatureVerifier {
    /// Whether `signature` is a valid `alg` signature of `message` by `key`.
    fn verify(&self, alg: Algorithm, key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool;
}

/// Runs the whole pipeline with `verifier`: [`prepare`], the signature check
/// (`bad_signature` when it fails), [`finish`].
pub fn verify_token_with(
    token: &str,
    opts: &VerifyOptions,
    now_ms: Millis,
    verifier: &dyn SignatureVerifier,
) -> Result<Claims> {
    let prepared = prepare(token, opts)?;
    if !verifier.verify(
        prepared.alg,
        &prepared.key,
        &prepared.signing_input,
        prepared.signature(),
    ) {
        return Err(code(
            ErrorCode::BadSignature,
            "the signature does not verify",
        ));
    }
    finish(&prepared, opts, now_ms)
}

/// Verifies `token` under rules 1–10 with [`NativeVerifier`] and returns its
/// claims. `opts.now_ms`, when set, overrides `now_ms`.
///
/// ```
/// use chat_auth::jose::verify::{verify_token, VerifyOptions};
/// use chat_auth::wire::json;
///
/// let options = json::parse_object(br#"{
///     "algorithms": ["HS256"],
///     "secret": "an example secret of at least 32 bytes",
///     "issuer": "https://auth.example.com",
///     "customerId": "c_8f3a9b2e"
/// }"#).unwrap();
/// let opts = VerifyOptions::from_json(&options).unwrap();
/// let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
///     eyJzdWIiOiJjXzhmM2E5YjJlIiwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1wbGUuY29tIiwiZXhwIjoyMDAwMDAwMDAwfQ.\
///     XuNPkZ4olxaucIoPPNcQRQTAPW9u7V19ZWpDCAqeD7I";
/// let claims = verify_token(token, &opts, 1_900_000_000_000).unwrap();
/// assert_eq!(claims.sub.as_deref(), Some("c_8f3a9b2e"));
///
/// // exp is 2000000000; with the default 30 s leeway it expires 30 s later.
/// assert!(verify_token(token, &opts, 2_000_000_029_999).is_ok());
/// let err = verify_token(token, &opts, 2_000_000_030_000).unwrap_err();
/// assert_eq!(err.code().as_str(), "expired");
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub fn verify_token(token: &str, opts: &VerifyOptions, now_ms: Millis) -> Result<Claims> {
    verify_token_with(token, opts, now_ms, &NativeVerifier)
}

#[cfg(test)]
mod tests;

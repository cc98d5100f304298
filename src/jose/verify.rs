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

use crate::error::{Error, ErrorCode, Result};
use crate::jose::algorithm::{self, Algorithm, Scheme};
use crate::jose::keys::{self, KeyMaterial, KeySource, VerifyingKey};
use crate::jose::token::{Claims, Header, Jwt, DEFAULT_MAX_TOKEN_BYTES};
use crate::time::Millis;
use crate::wire::json::{Object, Value};
use std::fmt;

/// Default clock leeway for `exp` / `nbf` / `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECONDS: f64 = 30.0;

/// Default claim compared with the customer id.
pub const DEFAULT_CUSTOMER_ID_CLAIM: &str = "sub";

/// The `typ` header values accepted (ASCII case-insensitive, rule 5).
pub const ACCEPTED_TYP: [&str; 3] = ["JWT", "at+jwt", "application/at+jwt"];

/// The allow-list of [`VerifyOptions::default`]: API.md's default for
/// `validation.algorithms`.
pub const DEFAULT_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::ES256,
    Algorithm::PS256,
    Algorithm::EdDSA,
];

/// Largest `now` accepted, in ms: the end of the JavaScript `Date` range.
const MAX_NOW_MS: f64 = 8.64e15;

/// Options of `verifyToken` (API.md `VerifyOptions`). Build with
/// [`VerifyOptions::from_json`] (the JavaScript object, JSON-encoded) or
/// [`VerifyOptions::new`]; hand-built values are checked by
/// [`VerifyOptions::validate`], which [`prepare`] calls first (rule 1).
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// `algorithms`: the allow-list of header `alg` values. Required in
    /// JSON (no default there); [`VerifyOptions::default`] uses
    /// [`DEFAULT_ALGORITHMS`]. Must not be empty. (`none` cannot be represented; in JSON it
    /// is `invalid_config` in any spelling, as is an unknown name.)
    pub algorithms: Vec<Algorithm>,
    /// `publicKey` (→ [`KeySource::Key`]), `jwks` (→ [`KeySource::Jwks`]) or
    /// `secret` (→ [`KeySource::Key`] holding [`KeyMaterial::Secret`]).
    /// Default `None`: claims only — [`prepare`] refuses it with
    /// `invalid_config`, [`check_claims`] works. `from_json` requires exactly
    /// one of the three.
    pub key: Option<KeySource>,
    /// `issuer`: required `iss`, compared by exact code points. Default
    /// `None` (not checked); must not be empty.
    pub issuer: Option<String>,
    /// `audience`: `aud` must share at least one value. Default `None` (not
    /// checked); a string is a one-element list; must not be empty, nor hold
    /// an empty string.
    pub audience: Option<Vec<String>>,
    /// `customerId`: the value the customer-id claim must equal. Default
    /// `None` (not checked); must not be empty.
    pub customer_id: Option<String>,
    /// `customerIdClaim`: the claim compared with `customer_id`. Default
    /// `Some("sub")`; JSON `null` gives `None`, which turns the comparison
    /// off; must not be empty.
    pub customer_id_claim: Option<String>,
    /// `leewaySeconds`: clock leeway for `exp` / `nbf` / `iat`. Default 30;
    /// must be finite and ≥ 0.
    pub leeway_seconds: f64,
    /// `now`: the time in ms since the epoch. Default `None`: the caller's
    /// `now_ms` is used; when set it overrides it.
    pub now_ms: Option<Millis>,
    /// `maxTokenBytes`: longer tokens are `token_too_large`. Default 16384;
    /// must be at least 1 (JSON: an integer up to 2^32 − 1).
    pub max_token_bytes: usize,
    /// `typ`: when set, the header must carry a `typ` naming the same media
    /// type (ASCII case-insensitive; `application/` may be omitted on either
    /// side, RFC 7515 §4.1.9). Default `None`; must be one of
    /// [`ACCEPTED_TYP`].
    pub typ: Option<String>,
}

impl Default for VerifyOptions {
    /// [`DEFAULT_ALGORITHMS`], no key (claims only), every other field at its
    /// documented default.
    fn default() -> VerifyOptions {
        VerifyOptions::new(DEFAULT_ALGORITHMS.to_vec(), None)
    }
}

fn invalid(key: &str, problem: &'static str) -> Error {
    Error::invalid_config(key, problem)
}

impl VerifyOptions {
    /// Options with the given allow-list and key, everything else default.
    pub fn new(algorithms: Vec<Algorithm>, key: Option<KeySource>) -> VerifyOptions {
        VerifyOptions {
            algorithms,
            key,
            issuer: None,
            audience: None,
            customer_id: None,
            customer_id_claim: Some(DEFAULT_CUSTOMER_ID_CLAIM.to_owned()),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            now_ms: None,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            typ: None,
        }
    }

    /// Reads API.md's `VerifyOptions` from a JSON object (both targets: the
    /// browser passes `JSON.stringify(options)`). Keys are exactly
    /// `algorithms`, `publicKey`, `jwks`, `secret`, `issuer`, `audience`,
    /// `customerId`, `customerIdClaim`, `leewaySeconds`, `now`,
    /// `maxTokenBytes`, `typ`; an unknown key, a wrong type or an unusable
    /// value is `invalid_config` naming the key. `algorithms` and exactly one
    /// of `publicKey` (PEM), `jwks` (JWK Set object) and `secret` (a string
    /// whose UTF-8 bytes are the HMAC key) are required. `null` is accepted
    /// only for `customerIdClaim`.
    pub fn from_json(options: &Object) -> Result<VerifyOptions> {
        let mut o = VerifyOptions::new(Vec::new(), None);
        let mut algorithms = None;
        for (name, value) in options.iter() {
            match name {
                "algorithms" => algorithms = Some(parse_algorithms(name, value)?),
                "publicKey" | "jwks" | "secret" => {
                    if o.key.is_some() {
                        return Err(invalid(
                            name,
                            "cannot be combined with another key option (publicKey, jwks, secret)",
                        ));
                    }
                    o.key = Some(match (name, value) {
                        ("publicKey", Value::String(pem)) => {
                            KeySource::Key(VerifyingKey::from_pem(pem, name)?)
                        }
                        ("publicKey", _) => return Err(invalid(name, "must be a PEM string")),
                        ("jwks", Value::Object(set)) => {
                            KeySource::Jwks(keys::parse_jwks(set, name)?)
                        }
                        ("jwks", _) => return Err(invalid(name, "must be a JWK Set object")),
                        (_, Value::String(s)) => {
                            KeySource::Key(VerifyingKey::from_secret(s.as_bytes(), name)?)
                        }
                        (_, _) => return Err(invalid(name, "must be a string")),
                    });
                }
                "issuer" => o.issuer = Some(non_empty_string(name, value)?),
                "audience" => {
                    o.audience = Some(match value {
                        Value::Array(items) => {
                            if items.is_empty() {
                                return Err(invalid(name, "must not be empty"));
                            }
                            items
                                .iter()
                                .map(|v| non_empty_string(name, v))
                                .collect::<Result<Vec<_>>>()?
                        }
                        _ => vec![non_empty_string(name, value)?],
                    })
                }
                "customerId" => o.customer_id = Some(non_empty_string(name, value)?),
                "customerIdClaim" => {
                    o.customer_id_claim = match value {
                        Value::Null => None,
                        _ => Some(non_empty_string(name, value)?),
                    }
                }
                "leewaySeconds" => match value {
                    Value::Number(n) if *n >= 0.0 => o.leeway_seconds = *n,
                    _ => return Err(invalid(name, "must be a finite number >= 0")),
                },
                "now" => match value {
                    Value::Number(n) if (0.0..=MAX_NOW_MS).contains(n) => {
                        o.now_ms = Some(n.floor() as Millis)
                    }
                    _ => return Err(invalid(name, "must be a time in ms since the epoch")),
                },
                "maxTokenBytes" => match value {
                    Value::Number(n)
                        if (1.0..=f64::from(u32::MAX)).contains(n) && n.fract() == 0.0 =>
                    {
                        o.max_token_bytes = *n as usize
                    }
                    _ => return Err(invalid(name, "must be an integer from 1 to 4294967295")),
                },
                "typ" => match value {
                    Value::String(s) => o.typ = Some(s.clone()),
                    _ => return Err(invalid(name, "must be a string")),
                },
                _ => return Err(invalid(name, "is not a known option")),
            }
        }
        o.algorithms = algorithms.ok_or_else(|| invalid("algorithms", "is required"))?;
        if o.key.is_none() {
            return Err(invalid("publicKey", "(or 'jwks' or 'secret') is required"));
        }
        o.validate()?;
        Ok(o)
    }

    /// Rule 1 for options built by hand: a non-empty allow-list, usable keys
    /// of which at least one fits an allowed algorithm, non-empty
    /// `issuer`/`audience`/`customerId`/`customerIdClaim`, a finite
    /// non-negative leeway, `maxTokenBytes` ≥ 1, an accepted `typ`. Else
    /// `invalid_config`.
    pub fn validate(&self) -> Result<()> {
        if self.algorithms.is_empty() {
            return Err(invalid("algorithms", "must list at least one algorithm"));
        }
        if let Some(source) = &self.key {
            let option = match source {
                KeySource::Jwks(_) => "jwks",
                KeySource::Key(VerifyingKey {
                    material: KeyMaterial::Secret(_),
                    ..
                }) => "secret",
                KeySource::Key(_) => "publicKey",
            };
            if source.keys().is_empty() {
                return Err(invalid(option, "has no usable key"));
            }
            for key in source.keys() {
                key.material
                    .check()
                    .map_err(|problem| invalid(option, problem))?;
            }
            // An allow-list that fits none of the keys is left to rules 4
            // and 6 (`alg_not_allowed` / `key_type_mismatch`): API.md's rule
            // 1 names only unusable keys, `none` and empty issuer/audience.
        }
        self.validate_claim_rules()?;
        if self.max_token_bytes == 0 {
            return Err(invalid("maxTokenBytes", "must be at least 1"));
        }
        if let Some(typ) = &self.typ {
            if !accepted_typ(typ) {
                return Err(invalid("typ", "must be JWT, at+jwt or application/at+jwt"));
            }
        }
        Ok(())
    }

    fn validate_claim_rules(&self) -> Result<()> {
        if self.issuer.as_deref() == Some("") {
            return Err(invalid("issuer", "must not be empty"));
        }
        if let Some(aud) = &self.audience {
            if aud.is_empty() || aud.iter().any(String::is_empty) {
                return Err(invalid("audience", "must not be empty"));
            }
        }
        if self.customer_id.as_deref() == Some("") {
            return Err(invalid("customerId", "must not be empty"));
        }
        if self.customer_id_claim.as_deref() == Some("") {
            return Err(invalid("customerIdClaim", "must not be empty"));
        }
        if !(self.leeway_seconds.is_finite() && self.leeway_seconds >= 0.0) {
            return Err(invalid("leewaySeconds", "must be a finite number >= 0"));
        }
        Ok(())
    }
}

fn non_empty_string(name: &str, value: &Value) -> Result<String> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::String(_) => Err(invalid(name, "must not be empty")),
        _ => Err(invalid(name, "must be a string")),
    }
}

fn parse_algorithms(name: &str, value: &Value) -> Result<Vec<Algorithm>> {
    let Some(items) = value.as_array() else {
        return Err(invalid(name, "must be an array of algorithm names"));
    };
    let mut out: Vec<Algorithm> = Vec::with_capacity(items.len());
    for item in items {
        let Some(text) = item.as_str() else {
            return Err(invalid(name, "must be an array of algorithm names"));
        };
        if text.eq_ignore_ascii_case("none") {
            return Err(invalid(name, "must not contain 'none'"));
        }
        let Some(alg) = Algorithm::parse(text) else {
            return Err(invalid(
                name,
                "has an unknown algorithm (names are case-sensitive: HS256 … PS512, ES256, ES384, EdDSA)",
            ));
        };
        if !out.contains(&alg) {
            out.push(alg);
        }
    }
    if out.is_empty() {
        return Err(invalid(name, "must list at least one algorithm"));
    }
    Ok(out)
}

fn accepted_typ(typ: &str) -> bool {
    ACCEPTED_TYP.iter().any(|a| a.eq_ignore_ascii_case(typ))
}

/// A media type without an optional `application/` prefix (RFC 7515 §4.1.9).
fn media_subtype(typ: &str) -> &str {
    const PREFIX: &[u8] = b"application/";
    match typ.as_bytes().get(..PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(PREFIX) => typ.get(PREFIX.len()..).unwrap_or(typ),
        _ => typ,
    }
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
    let Some(source) = &opts.key else {
        return Err(invalid(
            "publicKey",
            "(or 'jwks' or 'secret') is required to verify a signature",
        ));
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

/// The native signature backend: jsonwebtoken 11 with RustCrypto.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeVerifier;

#[cfg(not(target_arch = "wasm32"))]
impl SignatureVerifier for NativeVerifier {
    fn verify(&self, alg: Algorithm, key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
        use jsonwebtoken::{crypto, Algorithm as J, DecodingKey};
        if !key.material.fits(alg) || key.material.check().is_err() {
            return false;
        }
        let decoding = match &key.material {
            KeyMaterial::Rsa { n, e } => DecodingKey::from_rsa_raw_components(n, e),
            KeyMaterial::Ec { x, y, .. } => {
                // jsonwebtoken hands these bytes to `from_sec1_bytes`.
                let mut point = Vec::with_capacity(1 + x.len() + y.len());
                point.push(0x04);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                DecodingKey::from_ec_der(&point)
            }
            // The raw 32-byte key (checked above: jsonwebtoken slices [..32]).
            KeyMaterial::Ed25519 { x } => DecodingKey::from_ed_der(x),
            KeyMaterial::Secret(secret) => DecodingKey::from_secret(secret.expose()),
        };
        let jwt_alg = match alg {
            Algorithm::HS256 => J::HS256,
            Algorithm::HS384 => J::HS384,
            Algorithm::HS512 => J::HS512,
            Algorithm::RS256 => J::RS256,
            Algorithm::RS384 => J::RS384,
            Algorithm::RS512 => J::RS512,
            Algorithm::PS256 => J::PS256,
            Algorithm::PS384 => J::PS384,
            Algorithm::PS512 => J::PS512,
            Algorithm::ES256 => J::ES256,
            Algorithm::ES384 => J::ES384,
            Algorithm::EdDSA => J::EdDSA,
        };
        let signature_b64 = crate::wire::base64url::encode(signature);
        crypto::verify(&signature_b64, message, &decoding, jwt_alg).unwrap_or(false)
    }
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
mod tests {
    use super::*;
    // Most of these tests sign with the hmac crate and verify through
    // `verify_token` (NativeVerifier): native only. In the browser the same
    // rules are checked by tests/wasm_vectors.rs through `verifyToken`.
    #[cfg(not(target_arch = "wasm32"))]
    use crate::jose::algorithm::Curve;
    #[cfg(not(target_arch = "wasm32"))]
    use crate::wire::base64url;
    use crate::wire::json;
    #[cfg(not(target_arch = "wasm32"))]
    use hmac::{Hmac, Mac};
    #[cfg(not(target_arch = "wasm32"))]
    use sha2::{Sha256, Sha384, Sha512};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const NOW: Millis = 1_700_000_000_000;
    #[cfg(not(target_arch = "wasm32"))]
    const RSA_SPKI: &str = include_str!("../../tests/vectors/keys/rsa2048.pub.pem");
    #[cfg(not(target_arch = "wasm32"))]
    const P256_SPKI: &str = include_str!("../../tests/vectors/keys/p256.pub.pem");
    #[cfg(not(target_arch = "wasm32"))]
    const P384_SPKI: &str = include_str!("../../tests/vectors/keys/p384.pub.pem");
    #[cfg(not(target_arch = "wasm32"))]
    const ED_SPKI: &str = include_str!("../../tests/vectors/keys/ed25519.pub.pem");

    #[cfg(not(target_arch = "wasm32"))]
    fn b64(s: &str) -> String {
        base64url::encode(s.as_bytes())
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn hmac(alg: &str, key: &[u8], msg: &[u8]) -> Vec<u8> {
        match alg {
            "HS384" => Hmac::<Sha384>::new_from_slice(key)
                .unwrap()
                .chain_update(msg)
                .finalize()
                .into_bytes()
                .to_vec(),
            "HS512" => Hmac::<Sha512>::new_from_slice(key)
                .unwrap()
                .chain_update(msg)
                .finalize()
                .into_bytes()
                .to_vec(),
            _ => Hmac::<Sha256>::new_from_slice(key)
                .unwrap()
                .chain_update(msg)
                .finalize()
                .into_bytes()
                .to_vec(),
        }
    }

    /// An HMAC-signed token from raw header and payload JSON texts.
    #[cfg(not(target_arch = "wasm32"))]
    fn hs(header: &str, payload: &str) -> String {
        let alg = json::parse_object(header.as_bytes())
            .ok()
            .and_then(|h| h.get_str("alg").map(str::to_owned))
            .unwrap_or_default();
        let input = format!("{}.{}", b64(header), b64(payload));
        let sig = hmac(&alg, SECRET.as_bytes(), input.as_bytes());
        format!("{input}.{}", base64url::encode(&sig))
    }

    fn payload(extra: &str) -> String {
        format!(
            r#"{{"sub":"c1","iss":"https://issuer","aud":"chat","exp":1700003600,"iat":1699999990{extra}}}"#
        )
    }

    fn opts(json_text: &str) -> Result<VerifyOptions> {
        VerifyOptions::from_json(&json::parse_object(json_text.as_bytes()).unwrap())
    }

    fn hs_opts(extra: &str) -> VerifyOptions {
        opts(&format!(
            r#"{{"algorithms":["HS256","HS384","HS512"],"secret":"{SECRET}"{extra}}}"#
        ))
        .unwrap()
    }

    fn code_of<T>(r: Result<T>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => e.code().as_str(),
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn check(token: &str, o: &VerifyOptions) -> &'static str {
        code_of(verify_token(token, o, NOW))
    }

    /// A verifier with a fixed answer, to test the staging around it.
    #[cfg(not(target_arch = "wasm32"))]
    struct Fixed(bool);
    #[cfg(not(target_arch = "wasm32"))]
    impl SignatureVerifier for Fixed {
        fn verify(&self, _: Algorithm, _: &VerifyingKey, _: &[u8], _: &[u8]) -> bool {
            self.0
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn raw(header: &str, payload: &str, sig: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            b64(header),
            b64(payload),
            base64url::encode(sig)
        )
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn valid_hmac_tokens() {
        let o = hs_opts("");
        for alg in ["HS256", "HS384", "HS512"] {
            let t = hs(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), &payload(""));
            let claims = verify_token(&t, &o, NOW).unwrap();
            assert_eq!(claims.sub.as_deref(), Some("c1"));
        }
    }

    #[test]
    fn rule_1_options() {
        let ok = |s: &str| code_of(opts(s));
        let s = format!(r#""secret":"{SECRET}""#);
        assert_eq!(ok(&format!(r#"{{"algorithms":["HS256"],{s}}}"#)), "ok");
        // An allow-list that fits no key is judged per token (rules 4 and 6).
        assert_eq!(ok(&format!(r#"{{"algorithms":["RS256"],{s}}}"#)), "ok");
        for bad in [
            format!(r#"{{{s}}}"#),
            format!(r#"{{"algorithms":[],{s}}}"#),
            format!(r#"{{"algorithms":"HS256",{s}}}"#),
            format!(r#"{{"algorithms":[1],{s}}}"#),
            format!(r#"{{"algorithms":["HS256","none"],{s}}}"#),
            format!(r#"{{"algorithms":["NoNe"],{s}}}"#),
            format!(r#"{{"algorithms":["hs256"],{s}}}"#),
            r#"{"algorithms":["HS256"]}"#.to_owned(),
            r#"{"algorithms":["HS256"],"secret":"short"}"#.to_owned(),
            r#"{"algorithms":["HS256"],"secret":5}"#.to_owned(),
            format!(r#"{{"algorithms":["HS256"],{s},"jwks":{{"keys":[]}}}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"issuer":""}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"issuer":null}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"audience":""}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"audience":[]}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"audience":["a",""]}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"audience":[1]}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"customerId":""}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"customerIdClaim":""}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"customerIdClaim":1}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"leewaySeconds":-1}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"leewaySeconds":"30"}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"now":-1}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"now":"now"}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"maxTokenBytes":0}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"maxTokenBytes":1.5}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"maxTokenBytes":1e12}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"typ":"JOSE"}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"typ":1}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"issuers":"x"}}"#),
            format!(r#"{{"algorithms":["HS256"],{s},"max_token_bytes":10}}"#),
            r#"{"algorithms":["RS256"],"publicKey":"not a pem"}"#.to_owned(),
            r#"{"algorithms":["RS256"],"publicKey":{}}"#.to_owned(),
            r#"{"algorithms":["RS256"],"jwks":"{}"}"#.to_owned(),
        ] {
            assert_eq!(ok(&bad), "invalid_config", "{bad}");
        }
        let e = opts(&format!(r#"{{"algorithms":["HS256"],{s},"leeway":1}}"#)).unwrap_err();
        assert_eq!(e.message(), "option 'leeway' is not a known option");
        let e = opts(&format!(r#"{{"algorithms":["HS256"],{s},"audience":[]}}"#)).unwrap_err();
        assert!(e.message().starts_with("option 'audience' "));
        let e =
            opts(r#"{"algorithms":["HS256"],"secret":"tiny-secret-never-printed"}"#).unwrap_err();
        assert!(!e.message().contains("tiny-secret"));

        let o = hs_opts(
            r#","issuer":"i","audience":["a","b"],"customerId":"c","customerIdClaim":null,"leewaySeconds":0,"now":5.9,"maxTokenBytes":100,"typ":"at+jwt""#,
        );
        assert_eq!(o.issuer.as_deref(), Some("i"));
        assert_eq!(o.audience, Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(o.customer_id_claim, None);
        assert_eq!(o.leeway_seconds, 0.0);
        assert_eq!(o.now_ms, Some(5));
        assert_eq!(o.max_token_bytes, 100);
        let d = hs_opts(r#","audience":"x""#);
        assert_eq!(d.audience, Some(vec!["x".to_owned()]));
        assert_eq!(d.customer_id_claim.as_deref(), Some("sub"));
        assert_eq!(d.leeway_seconds, 30.0);
        assert_eq!(d.max_token_bytes, 16384);

        // Rule 1 comes first, even before the size check.
        let mut bad = hs_opts("");
        bad.leeway_seconds = f64::NAN;
        assert_eq!(
            code_of(prepare(&"x".repeat(100_000), &bad)),
            "invalid_config"
        );
        let mut bad = hs_opts("");
        bad.algorithms.clear();
        assert_eq!(code_of(prepare("a.b.c", &bad)), "invalid_config");
        let claims_only = VerifyOptions::new(vec![Algorithm::RS256], None);
        assert_eq!(code_of(prepare("a.b.c", &claims_only)), "invalid_config");
        // A hand-built weak key is caught too.
        let weak = VerifyOptions::new(
            vec![Algorithm::HS256],
            Some(KeySource::Key(VerifyingKey {
                material: KeyMaterial::Secret(keys::SecretBytes::new(vec![1; 8])),
                kid: None,
                alg: None,
                key_use: None,
            })),
        );
        assert_eq!(code_of(prepare("a.b.c", &weak)), "invalid_config");
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn rules_2_to_4() {
        let o = hs_opts("");
        let good = hs(r#"{"alg":"HS256"}"#, &payload(""));
        assert_eq!(check(&good, &o), "ok");
        // 2: size first, even for garbage.
        let mut small = o.clone();
        small.max_token_bytes = good.len() - 1;
        assert_eq!(check(&good, &small), "token_too_large");
        small.max_token_bytes = good.len();
        assert_eq!(check(&good, &small), "ok");
        assert_eq!(check(&"!".repeat(16_385), &o), "token_too_large");
        // 3
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            &format!("{good}="),
            &format!(" {good}"),
            &good.replacen('.', "+.", 1),
            &raw("not json", &payload(""), &[0; 32]),
            &raw("[]", &payload(""), &[0; 32]),
            &raw(r#"{"alg":"HS256","alg":"HS256"}"#, &payload(""), &[0; 32]),
            &raw(
                &format!(
                    r#"{{"alg":"HS256","x":{}1{}}}"#,
                    "[".repeat(64),
                    "]".repeat(64)
                ),
                &payload(""),
                &[0; 32],
            ),
        ] {
            assert_eq!(check(bad, &o), "malformed", "{bad}");
        }
        let ok63 = hs(
            &format!(
                r#"{{"alg":"HS256","x":{}1{}}}"#,
                "[".repeat(63),
                "]".repeat(63)
            ),
            &payload(""),
        );
        assert_eq!(check(&ok63, &o), "ok");
        // 4a
        assert_eq!(
            check(&raw(r#"{"typ":"JWT"}"#, &payload(""), &[]), &o),
            "malformed"
        );
        assert_eq!(
            check(&raw(r#"{"alg":null}"#, &payload(""), &[]), &o),
            "malformed"
        );
        // 4b
        for alg in [
            "none", "None", "NONE", "nOnE", "hs256", "RS256", "HS256 ", "",
        ] {
            let t = raw(&format!(r#"{{"alg":"{alg}"}}"#), &payload(""), &[]);
            assert_eq!(check(&t, &o), "alg_not_allowed", "{alg}");
        }
        let only256 = opts(&format!(
            r#"{{"algorithms":["HS256"],"secret":"{SECRET}"}}"#
        ))
        .unwrap();
        assert_eq!(
            check(&hs(r#"{"alg":"HS512"}"#, &payload("")), &only256),
            "alg_not_allowed"
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn rule_5_header() {
        let o = hs_opts("");
        for h in [
            r#"{"alg":"HS256","crit":["exp"]}"#,
            r#"{"alg":"HS256","crit":[]}"#,
            r#"{"alg":"HS256","zip":"DEF"}"#,
            r#"{"alg":"HS256","cty":"JWT"}"#,
            r#"{"alg":"HS256","typ":"JOSE"}"#,
            r#"{"alg":"HS256","typ":"application/jwt"}"#,
            r#"{"alg":"HS256","typ":1}"#,
            r#"{"alg":"HS256","typ":null}"#,
        ] {
            assert_eq!(check(&hs(h, &payload("")), &o), "malformed", "{h}");
        }
        for t in [
            "JWT",
            "jwt",
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+JWT",
        ] {
            let h = format!(r#"{{"alg":"HS256","typ":"{t}"}}"#);
            assert_eq!(check(&hs(&h, &payload("")), &o), "ok", "{t}");
        }
        let at = hs_opts(r#","typ":"at+jwt""#);
        let tok = |t: Option<&str>| match t {
            Some(t) => hs(&format!(r#"{{"alg":"HS256","typ":"{t}"}}"#), &payload("")),
            None => hs(r#"{"alg":"HS256"}"#, &payload("")),
        };
        assert_eq!(check(&tok(Some("at+jwt")), &at), "ok");
        assert_eq!(check(&tok(Some("application/AT+JWT")), &at), "ok");
        assert_eq!(check(&tok(Some("JWT")), &at), "malformed");
        assert_eq!(check(&tok(None), &at), "malformed");
        let app = hs_opts(r#","typ":"application/at+jwt""#);
        assert_eq!(check(&tok(Some("at+jwt")), &app), "ok");
        // Rule 4 before rule 5.
        let t = raw(r#"{"alg":"none","crit":["x"]}"#, &payload(""), &[]);
        assert_eq!(check(&t, &o), "alg_not_allowed");
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn rsa_key() -> VerifyingKey {
        VerifyingKey::from_pem(RSA_SPKI, "publicKey").unwrap()
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn modulus() -> Vec<u8> {
        match rsa_key().material {
            KeyMaterial::Rsa { n, .. } => n,
            _ => unreachable!(),
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn rule_6_selection_through_prepare() {
        let mut rsa = rsa_key();
        rsa.kid = Some("r".into());
        let mut ec = VerifyingKey::from_pem(P256_SPKI, "publicKey").unwrap();
        ec.kid = Some("e".into());
        let jwks = VerifyOptions::new(
            vec![Algorithm::RS256, Algorithm::ES256, Algorithm::HS256],
            Some(KeySource::Jwks(vec![rsa, ec])),
        );
        let sig = modulus().iter().map(|_| 0u8).collect::<Vec<_>>();
        let p = |h: &str| code_of(prepare(&raw(h, &payload(""), &sig), &jwks));
        assert_eq!(p(r#"{"alg":"RS256","kid":"r"}"#), "ok");
        assert_eq!(p(r#"{"alg":"RS256","kid":"x"}"#), "unknown_key");
        assert_eq!(
            p(r#"{"alg":"RS256","kid":"../../etc/passwd"}"#),
            "unknown_key"
        );
        assert_eq!(p(r#"{"alg":"RS256","kid":["r"]}"#), "unknown_key");
        assert_eq!(p(r#"{"alg":"RS256"}"#), "unknown_key");
        assert_eq!(p(r#"{"alg":"RS256","kid":"e"}"#), "key_type_mismatch");
        assert_eq!(p(r#"{"alg":"HS256","kid":"r"}"#), "key_type_mismatch");
        // jku / x5u / jwk / x5c never select anything.
        assert_eq!(
            p(r#"{"alg":"RS256","jku":"https://evil/jwks","kid":"evil"}"#),
            "unknown_key"
        );
        assert_eq!(
            p(r#"{"alg":"RS256","jwk":{"kty":"oct","k":"AAAA"}}"#),
            "unknown_key"
        );
        // Rule 5 before rule 6.
        assert_eq!(
            p(r#"{"alg":"RS256","kid":"x","crit":["b64"]}"#),
            "malformed"
        );

        // Key confusion: the RSA PEM can never act as an HMAC secret.
        let pem = VerifyOptions::new(
            vec![Algorithm::RS256, Algorithm::HS256],
            Some(KeySource::Key(rsa_key())),
        );
        let input = format!("{}.{}", b64(r#"{"alg":"HS256"}"#), b64(&payload("")));
        let confused = format!(
            "{input}.{}",
            base64url::encode(&hmac("HS256", RSA_SPKI.as_bytes(), input.as_bytes()))
        );
        assert_eq!(code_of(prepare(&confused, &pem)), "key_type_mismatch");
        let rs_only = VerifyOptions::new(vec![Algorithm::RS256], Some(KeySource::Key(rsa_key())));
        assert_eq!(code_of(prepare(&confused, &rs_only)), "alg_not_allowed");
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn rule_7_signature_shapes() {
        // HMAC: tag length.
        let o = hs_opts("");
        let good = hs(r#"{"alg":"HS256"}"#, &payload(""));
        let (input, _) = good.rsplit_once('.').unwrap();
        for sig in [&[][..], &[0; 31], &[0; 33], &[0; 64]] {
            let t = format!("{input}.{}", base64url::encode(sig));
            assert_eq!(check(&t, &o), "bad_signature");
        }
        let t = format!("{input}.{}", base64url::encode(&[0; 32]));
        assert_eq!(code_of(prepare(&t, &o)), "ok");
        assert_eq!(check(&t, &o), "bad_signature");

        // RSA: length = modulus length, value < n.
        let n = modulus();
        let rsa = VerifyOptions::new(
            vec![Algorithm::RS256, Algorithm::PS256],
            Some(KeySource::Key(rsa_key())),
        );
        let rs = |sig: &[u8]| code_of(prepare(&raw(r#"{"alg":"RS256"}"#, &payload(""), sig), &rsa));
        assert_eq!(rs(&vec![0; n.len()]), "ok");
        assert_eq!(rs(&vec![0; n.len() - 1]), "bad_signature");
        assert_eq!(rs(&vec![0; n.len() + 1]), "bad_signature");
        assert_eq!(rs(&n), "bad_signature");
        assert_eq!(rs(&vec![0xff; n.len()]), "bad_signature");
        assert_eq!(rs(&[]), "bad_signature");
        let mut below = n.clone();
        *below.last_mut().unwrap() -= 1;
        assert_eq!(rs(&below), "ok");

        // ECDSA: raw R‖S of the curve's size, 1 ≤ r, s < n.
        for (pem, alg, curve) in [
            (P256_SPKI, "ES256", Curve::P256),
            (P384_SPKI, "ES384", Curve::P384),
        ] {
            let key = VerifyingKey::from_pem(pem, "publicKey").unwrap();
            let o = VerifyOptions::new(
                vec![Algorithm::ES256, Algorithm::ES384],
                Some(KeySource::Key(key)),
            );
            let l = curve.coordinate_len();
            let h = format!(r#"{{"alg":"{alg}"}}"#);
            let es = |r: &[u8], s: &[u8]| {
                let sig = [r, s].concat();
                code_of(prepare(&raw(&h, &payload(""), &sig), &o))
            };
            let one = {
                let mut v = vec![0; l];
                v[l - 1] = 1;
                v
            };
            let order = curve.order().to_vec();
            let mut below = order.clone();
            below[l - 1] -= 1;
            assert_eq!(es(&one, &one), "ok");
            assert_eq!(es(&below, &below), "ok");
            assert_eq!(es(&vec![0; l], &vec![0; l]), "bad_signature");
            assert_eq!(es(&vec![0; l], &one), "bad_signature");
            assert_eq!(es(&one, &vec![0; l]), "bad_signature");
            assert_eq!(es(&order, &one), "bad_signature");
            assert_eq!(es(&one, &order), "bad_signature");
            assert_eq!(es(&vec![0xff; l], &one), "bad_signature");
            assert_eq!(es(&one[1..], &one), "bad_signature");
            assert_eq!(es(&[one.clone(), vec![0]].concat(), &one), "bad_signature");
            // A DER-encoded signature is not the JWS form.
            let der = [&[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01][..]].concat();
            assert_eq!(es(&der, &[]), "bad_signature");
        }

        // Ed25519: 64 bytes, S < L.
        let ed = VerifyOptions::new(
            vec![Algorithm::EdDSA],
            Some(KeySource::Key(
                VerifyingKey::from_pem(ED_SPKI, "publicKey").unwrap(),
            )),
        );
        let eds = |sig: &[u8]| code_of(prepare(&raw(r#"{"alg":"EdDSA"}"#, &payload(""), sig), &ed));
        assert_eq!(eds(&[0; 64]), "ok");
        assert_eq!(eds(&[0; 63]), "bad_signature");
        assert_eq!(eds(&[[0; 32], [0xff; 32]].concat()), "bad_signature");
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn staging_and_order_after_signature() {
        let o = hs_opts(r#","issuer":"https://issuer""#);
        let expired_wrong_iss = hs(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":"c1","iss":"other","exp":1600000000}"#,
        );
        // Signature (7) before payload (8–10).
        assert_eq!(
            code_of(verify_token_with(
                &expired_wrong_iss,
                &o,
                NOW,
                &Fixed(false)
            )),
            "bad_signature"
        );
        assert_eq!(
            code_of(verify_token_with(&expired_wrong_iss, &o, NOW, &Fixed(true))),
            "expired"
        );
        let not_json = hs(r#"{"alg":"HS256"}"#, "not json");
        assert_eq!(
            code_of(verify_token_with(&not_json, &o, NOW, &Fixed(false))),
            "bad_signature"
        );
        assert_eq!(check(&not_json, &o), "malformed");

        let p = prepare(&expired_wrong_iss, &o).unwrap();
        assert_eq!(p.alg(), Algorithm::HS256);
        assert_eq!(p.signature().len(), 32);
        assert_eq!(p.header().alg, "HS256");
        let dot = expired_wrong_iss.rfind('.').unwrap();
        assert_eq!(p.signing_input(), &expired_wrong_iss.as_bytes()[..dot]);
        assert!(NativeVerifier.verify(p.alg(), p.key(), p.signing_input(), p.signature()));
        assert_eq!(code_of(finish(&p, &o, NOW)), "expired");
        assert_eq!(
            code_of(finish(&p, &o, 1_500_000_000_000)),
            "issuer_mismatch"
        );
        let dbg = format!("{p:?}");
        assert!(!dbg.contains(SECRET) && !dbg.contains("other"), "{dbg}");
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn rule_8_payload() {
        let o = hs_opts("");
        for p in [
            "not json",
            "[]",
            "\"s\"",
            "1",
            "{}",
            r#"{"exp":"1700003600"}"#,
            r#"{"exp":-1}"#,
            r#"{"exp":253402300800}"#,
            r#"{"exp":1700003600,"nbf":"0"}"#,
            r#"{"exp":1700003600,"iat":-5}"#,
            r#"{"exp":1700003600,"iat":1e300}"#,
            r#"{"exp":1700003600,"exp":1700003600}"#,
            r#"{"exp":1700003600,"sub":1}"#,
            r#"{"exp":1700003600,"iss":null}"#,
            r#"{"exp":1700003600,"aud":["a",1]}"#,
        ] {
            assert_eq!(check(&hs(r#"{"alg":"HS256"}"#, p), &o), "malformed", "{p}");
        }
        // A fractional NumericDate is fine (RFC 7519 §2).
        assert_eq!(
            check(&hs(r#"{"alg":"HS256"}"#, r#"{"exp":1700000000.5}"#), &o),
            "ok"
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn rule_9_time_edges() {
        let o = hs_opts(r#","customerIdClaim":null"#);
        let at =
            |p: &str, now: Millis| code_of(verify_token(&hs(r#"{"alg":"HS256"}"#, p), &o, now));
        let exp = r#"{"exp":1000}"#;
        assert_eq!(at(exp, 1_029_999), "ok");
        assert_eq!(at(exp, 1_030_000), "expired");
        let nbf = r#"{"exp":5000,"nbf":1000}"#;
        assert_eq!(at(nbf, 969_999), "not_yet_valid");
        assert_eq!(at(nbf, 970_000), "ok");
        let iat = r#"{"exp":5000,"iat":1000}"#;
        assert_eq!(at(iat, 969_999), "not_yet_valid");
        assert_eq!(at(iat, 970_000), "ok");
        let frac = r#"{"exp":1000.5}"#;
        assert_eq!(at(frac, 1_030_499), "ok");
        assert_eq!(at(frac, 1_030_500), "expired");
        // Zero leeway.
        let z = hs_opts(r#","leewaySeconds":0"#);
        let t = hs(r#"{"alg":"HS256"}"#, exp);
        assert_eq!(code_of(verify_token(&t, &z, 999_999)), "ok");
        assert_eq!(code_of(verify_token(&t, &z, 1_000_000)), "expired");
        // options.now overrides the caller's clock.
        let fixed = hs_opts(r#","now":999000"#);
        assert_eq!(code_of(verify_token(&t, &fixed, 5_000_000)), "ok");
        // exp before nbf before iat.
        let all = r#"{"exp":1000,"nbf":9000,"iat":9000}"#;
        assert_eq!(at(all, 2_000_000), "expired");
        let nbf_iat = r#"{"exp":99000,"nbf":9000,"iat":9000}"#;
        assert_eq!(at(nbf_iat, 2_000_000), "not_yet_valid");
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn rule_10_claims() {
        let t = |p: &str| hs(r#"{"alg":"HS256"}"#, &payload(p));
        let base = t("");
        assert_eq!(
            check(&base, &hs_opts(r#","issuer":"https://issuer""#)),
            "ok"
        );
        assert_eq!(
            check(&base, &hs_opts(r#","issuer":"https://Issuer""#)),
            "issuer_mismatch"
        );
        assert_eq!(
            check(&base, &hs_opts(r#","issuer":"https://issuer/""#)),
            "issuer_mismatch"
        );
        let no_iss = hs(r#"{"alg":"HS256"}"#, r#"{"exp":1700003600}"#);
        assert_eq!(
            check(&no_iss, &hs_opts(r#","issuer":"https://issuer""#)),
            "issuer_mismatch"
        );
        assert_eq!(check(&base, &hs_opts(r#","audience":"chat""#)), "ok");
        assert_eq!(check(&base, &hs_opts(r#","audience":["x","chat"]"#)), "ok");
        assert_eq!(
            check(&base, &hs_opts(r#","audience":["x","Chat"]"#)),
            "audience_mismatch"
        );
        assert_eq!(
            check(&no_iss, &hs_opts(r#","audience":"chat""#)),
            "audience_mismatch"
        );
        let multi = hs(
            r#"{"alg":"HS256"}"#,
            r#"{"exp":1700003600,"aud":["a","chat"]}"#,
        );
        assert_eq!(check(&multi, &hs_opts(r#","audience":"chat""#)), "ok");
        assert_eq!(check(&base, &hs_opts(r#","customerId":"c1""#)), "ok");
        assert_eq!(
            check(&base, &hs_opts(r#","customerId":"c2""#)),
            "claim_mismatch"
        );
        assert_eq!(
            check(&no_iss, &hs_opts(r#","customerId":"c1""#)),
            "claim_mismatch"
        );
        assert_eq!(
            check(
                &base,
                &hs_opts(r#","customerId":"c2","customerIdClaim":null"#)
            ),
            "ok"
        );
        let cid = t(r#","cid":"x9","num":9"#);
        assert_eq!(
            check(
                &cid,
                &hs_opts(r#","customerId":"x9","customerIdClaim":"cid""#)
            ),
            "ok"
        );
        assert_eq!(
            check(
                &cid,
                &hs_opts(r#","customerId":"c1","customerIdClaim":"cid""#)
            ),
            "claim_mismatch"
        );
        assert_eq!(
            check(
                &cid,
                &hs_opts(r#","customerId":"9","customerIdClaim":"num""#)
            ),
            "claim_mismatch"
        );
        // Order: issuer, audience, customer.
        let all = hs_opts(r#","issuer":"no","audience":"no","customerId":"no""#);
        assert_eq!(check(&base, &all), "issuer_mismatch");
        let aud_claim = hs_opts(r#","audience":"no","customerId":"no""#);
        assert_eq!(check(&base, &aud_claim), "audience_mismatch");
        // Expiry before claims.
        let expired = hs(r#"{"alg":"HS256"}"#, r#"{"exp":1000,"iss":"x"}"#);
        assert_eq!(check(&expired, &hs_opts(r#","issuer":"y""#)), "expired");
    }

    #[test]
    fn claims_only_path() {
        let mut o = VerifyOptions::new(vec![Algorithm::RS256], None);
        o.customer_id = Some("c1".into());
        let claims = Claims::parse(payload("").as_bytes(), false).unwrap();
        assert_eq!(code_of(check_claims(&claims, &o, NOW)), "ok");
        assert_eq!(
            code_of(check_claims(&claims, &o, 1_800_000_000_000)),
            "expired"
        );
        o.customer_id = Some("c2".into());
        assert_eq!(code_of(check_claims(&claims, &o, NOW)), "claim_mismatch");
        let no_exp = Claims::parse(br#"{"sub":"c1"}"#, false).unwrap();
        assert_eq!(code_of(check_claims(&no_exp, &o, NOW)), "malformed");
        o.leeway_seconds = -1.0;
        assert_eq!(code_of(check_claims(&claims, &o, NOW)), "invalid_config");
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn native_verifier_refuses_odd_keys_without_panicking() {
        let bad_ed = VerifyingKey {
            material: KeyMaterial::Ed25519 { x: vec![1; 3] },
            kid: None,
            alg: None,
            key_use: None,
        };
        assert!(!NativeVerifier.verify(Algorithm::EdDSA, &bad_ed, b"m", &[0; 64]));
        let bad_ec = VerifyingKey {
            material: KeyMaterial::Ec {
                curve: Curve::P256,
                x: vec![],
                y: vec![],
            },
            ..bad_ed.clone()
        };
        assert!(!NativeVerifier.verify(Algorithm::ES256, &bad_ec, b"m", &[1; 64]));
        let rsa = rsa_key();
        assert!(!NativeVerifier.verify(Algorithm::HS256, &rsa, b"m", &[0; 32]));
        assert!(!NativeVerifier.verify(Algorithm::RS256, &rsa, b"m", &[]));
        // An off-curve point is refused by the verifier (bad_signature).
        let off = VerifyingKey {
            material: KeyMaterial::Ec {
                curve: Curve::P256,
                x: vec![1; 32],
                y: vec![1; 32],
            },
            ..bad_ed
        };
        assert!(!NativeVerifier.verify(Algorithm::ES256, &off, b"m", &[1; 64]));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::*;
        use proptest::prelude::*;

        fn all_keys_options() -> Vec<VerifyOptions> {
            let algs = Algorithm::ALL.to_vec();
            let mut out = vec![hs_opts(
                r#","issuer":"i","audience":"a","customerId":"c","typ":"JWT""#,
            )];
            for pem in [RSA_SPKI, P256_SPKI, P384_SPKI, ED_SPKI] {
                out.push(VerifyOptions::new(
                    algs.clone(),
                    Some(KeySource::Key(
                        VerifyingKey::from_pem(pem, "publicKey").unwrap(),
                    )),
                ));
            }
            out
        }

        proptest! {
            #[test]
            fn never_panics_on_arbitrary_tokens(s in "\\PC{0,300}") {
                for o in all_keys_options() {
                    let _ = verify_token(&s, &o, NOW);
                }
            }

            #[test]
            fn never_panics_on_structured_tokens(
                alg in prop::sample::select(vec!["HS256", "HS512", "RS256", "PS384", "ES256", "ES384", "EdDSA", "none", "x"]),
                extra in r#"(,"(kid|typ|crit|cty|jku|x5c)":("[a-z+/.]{0,8}"|1|null|\[\]))?"#,
                payload in r#"\{("(exp|nbf|iat|sub|iss|aud|cid)":("[a-z]{0,3}"|-?[0-9]{1,12}(\.[0-9])?|\["c"\]|null),?){0,6}\}"#,
                sig in proptest::collection::vec(any::<u8>(), 0..600),
                now in any::<i64>(),
            ) {
                let header = format!(r#"{{"alg":"{alg}"{extra}}}"#);
                let token = raw(&header, &payload, &sig);
                for o in all_keys_options() {
                    let _ = verify_token(&token, &o, now);
                    let _ = verify_token_with(&token, &o, now, &Fixed(true));
                }
            }

            #[test]
            fn never_panics_on_arbitrary_options(
                members in proptest::collection::vec(
                    (
                        prop::sample::select(vec![
                            "algorithms", "publicKey", "jwks", "secret", "issuer", "audience", "customerId",
                            "customerIdClaim", "leewaySeconds", "now", "maxTokenBytes", "typ", "other",
                        ]),
                        prop::sample::select(vec![
                            r#"["HS256","RS256"]"#, r#"["none"]"#, "[]", r#""x""#, "null", "-1", "0", "1e300",
                            "30.5", r#"{"keys":[{"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}"#,
                            r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#, r#""0123456789abcdef0123456789abcdef""#,
                            r#""-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----""#, r#"["a",""]"#, "true",
                        ]),
                    ),
                    0..8,
                ),
                token in "[A-Za-z0-9_.-]{0,80}",
            ) {
                let mut text = String::from("{");
                let mut seen = Vec::new();
                for (k, v) in &members {
                    if seen.contains(k) { continue; }
                    seen.push(*k);
                    if text.len() > 1 { text.push(','); }
                    text.push_str(&format!(r#""{k}":{v}"#));
                }
                text.push('}');
                let obj = json::parse_object(text.as_bytes()).unwrap();
                if let Ok(o) = VerifyOptions::from_json(&obj) {
                    let _ = verify_token(&token, &o, NOW);
                }
            }
        }
    }
}

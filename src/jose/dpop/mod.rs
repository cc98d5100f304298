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

/// The public half of a P-256 proof key, as its JWK coordinates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofKey {
    x: String,
    y: String,
}

impl ProofKey {
    /// From the base64url `x` and `y` of an exported public JWK
    /// (`crypto.subtle.exportKey('jwk', publicKey)`): each exactly 32
    /// bytes, else `dpop_invalid`.
    pub fn from_coordinates(x: &str, y: &str) -> Result<ProofKey> {
        let ok = |c: &str| base64url::decode(c.as_bytes()).is_some_and(|b| b.len() == 32);
        if !ok(x) || !ok(y) {
            return Err(invalid("jwk", "the proof key is not a P-256 public key"));
        }
        Ok(ProofKey {
            x: x.to_owned(),
            y: y.to_owned(),
        })
    }

    /// The base64url `x` coordinate: names the key to the host (which
    /// replaces only the key it was told of).
    pub fn x(&self) -> &str {
        &self.x
    }

    /// The key's RFC 7638 thumbprint: the `cnf.jkt` a bound token carries.
    pub fn thumbprint(&self) -> String {
        sha256_b64(
            crate::wire::cat(&[
                r#"{"crv":"P-256","kty":"EC","x":""#,
                &self.x,
                r#"","y":""#,
                &self.y,
                r#""}"#,
            ])
            .as_bytes(),
        )
    }

    /// The proof header: `typ`, `alg` ES256 and the public `jwk`.
    fn header_json(&self) -> String {
        crate::wire::cat(&[
            r#"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":""#,
            &self.x,
            r#"","y":""#,
            &self.y,
            r#""}}"#,
        ])
    }
}

/// The claims of one proof (RFC 9449 §4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofClaims {
    /// The request's method, as sent (`GET`, `POST`).
    pub htm: String,
    /// [`htu`] of the request URL.
    pub htu: String,
    /// Seconds since the epoch (the page clock).
    pub iat: i64,
    /// Unique per proof (from the driver's entropy).
    pub jti: String,
    /// [`access_token_hash`] of the token the request presents, if any.
    pub ath: Option<String>,
    /// The server's last `DPoP-Nonce`, if it sent one.
    pub nonce: Option<String>,
}

impl ProofClaims {
    fn payload_json(&self) -> String {
        let mut out = String::with_capacity(200);
        out.push_str(r#"{"jti":"#);
        json::write_string(&mut out, &self.jti);
        out.push_str(r#","htm":"#);
        json::write_string(&mut out, &self.htm);
        out.push_str(r#","htu":"#);
        json::write_string(&mut out, &self.htu);
        out.push_str(r#","iat":"#);
        json::write_int(&mut out, self.iat);
        if let Some(ath) = &self.ath {
            out.push_str(r#","ath":"#);
            json::write_string(&mut out, ath);
        }
        if let Some(nonce) = &self.nonce {
            out.push_str(r#","nonce":"#);
            json::write_string(&mut out, nonce);
        }
        out.push('}');
        out
    }
}

/// The JWS signing input of a proof by `key` with `claims`: ASCII
/// `base64url(header).base64url(payload)`, what ES256 signs.
pub fn signing_input(key: &ProofKey, claims: &ProofClaims) -> String {
    crate::wire::cat(&[
        &base64url::encode(key.header_json().as_bytes()),
        ".",
        &base64url::encode(claims.payload_json().as_bytes()),
    ])
}

/// The compact proof: `signing_input` and WebCrypto's raw ECDSA P-256
/// signature (R ‖ S, 64 bytes; anything else is `dpop_invalid`).
pub fn assemble(signing_input: &str, signature: &[u8]) -> Result<String> {
    if signature.len() != 64 {
        return Err(invalid("signature", "the proof signature is not 64 bytes"));
    }
    Ok(crate::wire::cat(&[
        signing_input,
        ".",
        &base64url::encode(signature),
    ]))
}

/// Remembers proof ids for as long as their proofs could be accepted, so a
/// captured proof cannot be sent again (RFC 9449 §11.1). A server shares
/// one across its instances (a database table, a cache with expiry).
pub trait ReplayCache {
    /// Records `jti` of the key `jkt` until `until_ms`; `false` if it was
    /// already recorded and not yet past (a replay). Implementations may
    /// forget entries past `until_ms`.
    fn first_use(&self, jkt: &str, jti: &str, until_ms: Millis, now_ms: Millis) -> bool;
}

/// An in-memory [`ReplayCache`] for one process, bounded in memory: each
/// key (`jkt`) may hold at most `per_key` live proof ids, all keys together
/// `capacity`. A key over its quota has its proofs refused (fail closed:
/// nothing that could still be replayed is forgotten), other keys go on, so
/// one flooding key cannot lock everyone out; expired entries are swept at
/// most once a second of `now`, and a full key's own on the way. Record
/// only proofs of otherwise authenticated requests, so filling `capacity`
/// takes many accounts.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug)]
pub struct MemoryReplayCache {
    seen: std::sync::Mutex<Seen>,
    capacity: usize,
    per_key: usize,
}

#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Default)]
struct Seen {
    keys: std::collections::HashMap<String, std::collections::HashMap<String, Millis>>,
    total: usize,
    next_sweep: Millis,
}

#[cfg(not(target_arch = "wasm32"))]
impl Seen {
    fn sweep(&mut self, now_ms: Millis) {
        let mut total = 0;
        self.keys.retain(|_, ids| {
            ids.retain(|_, until| *until > now_ms);
            total += ids.len();
            !ids.is_empty()
        });
        self.total = total;
        self.next_sweep = now_ms.saturating_add(1000);
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl MemoryReplayCache {
    /// A cache holding at most `capacity` live proof ids, a sixteenth of
    /// them (at least one) per key.
    pub fn new(capacity: usize) -> MemoryReplayCache {
        MemoryReplayCache::with_quota(capacity, (capacity / 16).max(1))
    }

    /// A cache holding at most `capacity` live proof ids, `per_key` per key.
    pub fn with_quota(capacity: usize, per_key: usize) -> MemoryReplayCache {
        MemoryReplayCache {
            seen: std::sync::Mutex::new(Seen::default()),
            capacity,
            per_key,
        }
    }

    /// How many proof ids are held (live or not yet swept).
    pub fn len(&self) -> usize {
        self.seen.lock().map_or(0, |s| s.total)
    }

    /// Whether no proof id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl ReplayCache for MemoryReplayCache {
    fn first_use(&self, jkt: &str, jti: &str, until_ms: Millis, now_ms: Millis) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        if now_ms >= seen.next_sweep {
            seen.sweep(now_ms);
        }
        let Seen { keys, total, .. } = &mut *seen;
        let ids = keys.entry(jkt.to_owned()).or_default();
        match ids.get(jti) {
            Some(until) if *until > now_ms => return false,
            Some(_) => {
                ids.insert(jti.to_owned(), until_ms);
                return true;
            }
            None => {}
        }
        if ids.len() >= self.per_key {
            let before = ids.len();
            ids.retain(|_, until| *until > now_ms);
            *total -= before - ids.len();
            if ids.len() >= self.per_key {
                return false;
            }
        }
        if *total >= self.capacity {
            return false;
        }
        ids.insert(jti.to_owned(), until_ms);
        *total += 1;
        true
    }
}

/// What a request's proof must match (RFC 9449 §4.3).
#[derive(Clone, Debug)]
pub struct ProofRequirements<'a> {
    /// The request's method.
    pub method: &'a str,
    /// The request's absolute URL (query and fragment are ignored).
    pub url: &'a str,
    /// The access token the request presents (`ath` must hash it), `None`
    /// at the token endpoint.
    pub access_token: Option<&'a str>,
    /// The thumbprint the token (its `cnf.jkt`) or the refresh-token family
    /// is bound to: the proof's key must have it (`dpop_key_mismatch`).
    pub bound_jkt: Option<&'a str>,
    /// The nonces the server accepts now; when not empty the proof must
    /// carry one of them (`dpop_nonce_required`).
    pub nonces: &'a [&'a str],
    /// Allowed proof algorithms (asymmetric only; HMAC is never accepted).
    pub algorithms: &'a [Algorithm],
    /// How old `iat` may be, seconds.
    pub max_age_s: i64,
    /// How far in the future `iat` may be, seconds.
    pub future_leeway_s: i64,
}

impl<'a> ProofRequirements<'a> {
    /// Requirements for `method` `url` with the defaults: ES256, a
    /// [`DEFAULT_MAX_AGE_S`] / [`DEFAULT_FUTURE_LEEWAY_S`] `iat` window, no
    /// token, no binding, no nonce.
    pub fn new(method: &'a str, url: &'a str) -> ProofRequirements<'a> {
        ProofRequirements {
            method,
            url,
            access_token: None,
            bound_jkt: None,
            nonces: &[],
            algorithms: &[Algorithm::ES256],
            max_age_s: DEFAULT_MAX_AGE_S,
            future_leeway_s: DEFAULT_FUTURE_LEEWAY_S,
        }
    }
}

/// A proof that passed [`validate_proof_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidProof {
    /// The RFC 7638 thumbprint of the proof's key: bind tokens to it.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`, seconds.
    pub iat: i64,
    /// The proof's `nonce`, if any.
    pub nonce: Option<String>,
}

fn invalid(detail: &'static str, message: &'static str) -> Error {
    Error::new(ErrorCode::DpopInvalid, message).with_detail(detail)
}

/// Checks the DPoP proof `proof` for the request `req` at `now_ms` (RFC
/// 9449 §4.3, in this order, so the code is deterministic):
///
/// 1. at most [`MAX_PROOF_BYTES`], a compact JWS (`dpop_invalid` `syntax`);
/// 2. `typ` `dpop+jwt` (`typ`); `alg` on `req.algorithms` and asymmetric
///    (`alg_not_allowed`); a public `jwk` that fits `alg`, no private
///    members (`jwk`); no `crit` (`syntax`);
/// 3. the signature verifies under `jwk` (`bad_signature`);
/// 4. `jti` (`jti`), `htm` equal to `req.method` (`htm`), `htu` equal to
///    [`htu`] of `req.url` (`htu`), an integer `iat` within the window
///    (`iat`);
/// 5. with `req.access_token`, `ath` its hash; without, no `ath` (`ath`);
/// 6. with `req.nonces`, a `nonce` among them (`dpop_nonce_required`);
/// 7. with `req.bound_jkt`, the key's thumbprint equal to it
///    (`dpop_key_mismatch`);
/// 8. `jti` not seen before for this key (`dpop_replayed`), recorded in
///    `cache` until the proof would be too old.
pub fn validate_proof_with(
    proof: &str,
    req: &ProofRequirements,
    now_ms: Millis,
    cache: &dyn ReplayCache,
    verifier: &dyn SignatureVerifier,
) -> Result<ValidProof> {
    let jwt = crate::jose::token::Jwt::parse(proof, MAX_PROOF_BYTES)
        .map_err(|_| invalid("syntax", "the DPoP proof is not a compact JWS"))?;
    let header = jwt.header();
    if header.typ.as_ref().and_then(Value::as_str) != Some(PROOF_TYP) {
        return Err(invalid("typ", "the DPoP proof's typ is not dpop+jwt"));
    }
    let alg = Algorithm::parse(&header.alg)
        .filter(|a| a.scheme() != Scheme::Hmac && req.algorithms.contains(a))
        .ok_or_else(|| {
            Error::new(
                ErrorCode::AlgNotAllowed,
                "the DPoP proof's alg is not allowed",
            )
        })?;
    if header.members.contains("crit") {
        return Err(invalid("syntax", "the DPoP proof has 'crit'"));
    }
    let key = header
        .members
        .get("jwk")
        .and_then(Value::as_object)
        .and_then(|jwk| VerifyingKey::from_jwk(jwk, "jwk").ok().flatten())
        .filter(|k| k.material.fits(alg) && !matches!(k.material, KeyMaterial::Secret(_)))
        .ok_or_else(|| invalid("jwk", "the DPoP proof has no usable public jwk"))?;
    let signing_input = jwt.signing_input(proof);
    if !crate::jose::verify::signature_shape_ok(alg, &key.material, jwt.signature())
        || !verifier.verify(alg, &key, signing_input, jwt.signature())
    {
        return Err(Error::new(
            ErrorCode::BadSignature,
            "the DPoP proof's signature does not verify",
        ));
    }
    let claims = json::parse_object(jwt.payload())
        .map_err(|_| invalid("syntax", "the DPoP proof's payload is not a JSON object"))?;
    let text = |name: &str, detail: &'static str, message: &'static str| {
        claims
            .get_str(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid(detail, message))
    };
    let jti = text("jti", "jti", "the DPoP proof has no jti")?;
    if jti.len() > 256 {
        return Err(invalid("jti", "the DPoP proof's jti is too long"));
    }
    if text("htm", "htm", "the DPoP proof has no htm")? != req.method {
        return Err(invalid("htm", "the DPoP proof is for another method"));
    }
    let proof_htu = htu(text("htu", "htu", "the DPoP proof has no htu")?);
    if proof_htu.is_none() || proof_htu != htu(req.url) {
        return Err(invalid("htu", "the DPoP proof is for another URL"));
    }
    let iat = integer(&claims, "iat").ok_or_else(|| invalid("iat", "the DPoP proof has no iat"))?;
    let now_s = now_ms.div_euclid(1000);
    if iat > now_s.saturating_add(req.future_leeway_s) || iat < now_s.saturating_sub(req.max_age_s)
    {
        return Err(invalid("iat", "the DPoP proof's iat is outside the window"));
    }
    let ath = claims.get("ath");
    match (req.access_token, ath) {
        (None, None) => {}
        (Some(token), Some(Value::String(a))) if *a == access_token_hash(token) => {}
        _ => {
            return Err(invalid(
                "ath",
                "the DPoP proof's ath does not match the token",
            ))
        }
    }
    let nonce = claims.get_str("nonce");
    if !req.nonces.is_empty() && !nonce.is_some_and(|n| req.nonces.contains(&n)) {
        return Err(Error::new(
            ErrorCode::DpopNonceRequired,
            "the DPoP proof needs the server's current nonce",
        ));
    }
    let jkt = thumbprint(&key.material).unwrap_or_default();
    if req.bound_jkt.is_some_and(|bound| bound != jkt) {
        return Err(Error::new(
            ErrorCode::DpopKeyMismatch,
            "the DPoP proof's key is not the one the token is bound to",
        ));
    }
    let until_ms = iat
        .saturating_add(req.max_age_s)
        .saturating_add(1)
        .saturating_mul(1000);
    if !cache.first_use(&jkt, jti, until_ms, now_ms) {
        return Err(Error::new(
            ErrorCode::DpopReplayed,
            "the DPoP proof was used before",
        ));
    }
    Ok(ValidProof {
        jti: jti.to_owned(),
        jkt,
        iat,
        nonce: nonce.map(str::to_owned),
    })
}

/// [`validate_proof_with`] with the native signature backend.
///
/// ```
/// use chat_auth::jose::dpop::{validate_proof, MemoryReplayCache, ProofRequirements};
///
/// // RFC 9449 figure 2 (its key's thumbprint is figure 9's).
/// let proof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
/// let cache = MemoryReplayCache::new(1000);
/// let req = ProofRequirements::new("POST", "https://server.example.com/token");
/// let ok = validate_proof(proof, &req, 1_562_262_616_000, &cache).unwrap();
/// assert_eq!(ok.jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
/// // The same proof again is a replay.
/// let again = validate_proof(proof, &req, 1_562_262_617_000, &cache).unwrap_err();
/// assert_eq!(again.code().as_str(), "dpop_replayed");
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub fn validate_proof(
    proof: &str,
    req: &ProofRequirements,
    now_ms: Millis,
    cache: &dyn ReplayCache,
) -> Result<ValidProof> {
    validate_proof_with(
        proof,
        req,
        now_ms,
        cache,
        &crate::jose::verify::NativeVerifier,
    )
}

/// The `cnf.jkt` of a token's claims, if it is bound (RFC 9449 §6.1).
pub fn bound_thumbprint(claims: &Object) -> Option<&str> {
    claims
        .get("cnf")
        .and_then(Value::as_object)
        .and_then(|cnf| cnf.get_str("jkt"))
}

fn integer(o: &Object, name: &str) -> Option<i64> {
    let n = o.get(name)?.as_f64()?;
    (n.fract() == 0.0 && n.abs() < 1e15).then_some(n as i64)
}

#[cfg(test)]
mod tests;

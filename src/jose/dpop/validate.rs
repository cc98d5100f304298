//! A server's check of a proof for one request: [`ProofRequirements`] in,
//! a [`ValidProof`] out ([`validate_proof_with`], natively
//! [`validate_proof`]), and a token's binding ([`bound_thumbprint`]).

use super::*;

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

//! JWKs and JWK Sets (RFC 7517) read into [`VerifyingKey`]s.

use super::material::{strip_leading_zeros, KeyMaterial, SecretBytes, VerifyingKey};
use crate::error::{Error, Result};
use crate::jose::algorithm::Curve;
use crate::wire::base64url;
use crate::wire::json::{Object, Value};

impl VerifyingKey {
    /// A key from one JWK (RFC 7517): `kty` `RSA` (`n`, `e`), `EC` (`crv`
    /// P-256 / P-384, `x`, `y`), `OKP` (`crv` Ed25519, `x`) or `oct` (`k`).
    /// `Ok(None)` for a key type or curve this crate does not support (a
    /// JWKS skips those); `invalid_config` for a supported key that is
    /// malformed, too weak, or carries private members (`d`, …).
    pub fn from_jwk(jwk: &Object, option: &str) -> Result<Option<VerifyingKey>> {
        let invalid = |problem| Error::invalid_config(option, problem);
        let meta = |name: &str| -> Result<Option<String>> {
            match jwk.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(invalid("has a key whose kid, alg or use is not a string")),
            }
        };
        let kid = meta("kid")?;
        let alg = meta("alg")?;
        let key_use = meta("use")?;
        let b64 = |name: &str| -> Result<Vec<u8>> {
            jwk.get_str(name)
                .and_then(|s| base64url::decode(s.as_bytes()))
                .ok_or_else(|| invalid("has a key member that is missing or not base64url"))
        };
        let private = |names: &[&str]| names.iter().any(|n| jwk.contains(n));
        let material = match jwk.get_str("kty") {
            None => return Err(invalid("has a key without a string 'kty'")),
            Some("RSA") => {
                if private(&["d", "p", "q", "dp", "dq", "qi", "oth"]) {
                    return Err(invalid("holds a private key; publish only public keys"));
                }
                let n = b64("n")?;
                let e = b64("e")?;
                KeyMaterial::Rsa {
                    n: strip_leading_zeros(&n).to_vec(),
                    e: strip_leading_zeros(&e).to_vec(),
                }
            }
            Some("EC") => {
                let curve = match jwk.get_str("crv") {
                    Some("P-256") => Curve::P256,
                    Some("P-384") => Curve::P384,
                    Some(_) => return Ok(None),
                    None => return Err(invalid("has an EC key without a string 'crv'")),
                };
                if private(&["d"]) {
                    return Err(invalid("holds a private key; publish only public keys"));
                }
                KeyMaterial::Ec {
                    curve,
                    x: b64("x")?,
                    y: b64("y")?,
                }
            }
            Some("OKP") => {
                match jwk.get_str("crv") {
                    Some("Ed25519") => {}
                    Some(_) => return Ok(None),
                    None => return Err(invalid("has an OKP key without a string 'crv'")),
                }
                if private(&["d"]) {
                    return Err(invalid("holds a private key; publish only public keys"));
                }
                KeyMaterial::Ed25519 { x: b64("x")? }
            }
            Some("oct") => KeyMaterial::Secret(SecretBytes::new(b64("k")?)),
            Some(_) => return Ok(None),
        };
        let mut key = VerifyingKey::new(material, option)?;
        key.kid = kid;
        key.alg = alg;
        key.key_use = key_use;
        Ok(Some(key))
    }
}

/// Parses a JWK Set (`{"keys":[…]}`, RFC 7517 §5). Keys of an unsupported
/// `kty` or curve (e.g. `EC` P-521, `OKP` X25519) are skipped so that an
/// issuer's set that also lists such keys stays usable; a supported key that
/// is malformed or too weak fails the whole set, and so does a set with no
/// usable key (`invalid_config`).
pub fn parse_jwks(jwks: &Object, option: &str) -> Result<Vec<VerifyingKey>> {
    let Some(items) = jwks.get("keys").and_then(Value::as_array) else {
        return Err(Error::invalid_config(
            option,
            "must be a JWK Set with a 'keys' array",
        ));
    };
    let mut keys = Vec::with_capacity(items.len());
    for item in items {
        let Some(jwk) = item.as_object() else {
            return Err(Error::invalid_config(
                option,
                "has a key that is not a JSON object",
            ));
        };
        if let Some(key) = VerifyingKey::from_jwk(jwk, option)? {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return Err(Error::invalid_config(option, "has no usable key"));
    }
    Ok(keys)
}

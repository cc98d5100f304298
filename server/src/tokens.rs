//! Tokens: the ES256 signing key (jsonwebtoken signs; the chat-auth crate
//! only verifies), access-token issuing, refresh-token minting and hashing,
//! and the validator every API request goes through.

use chat_auth::jose::algorithm::Curve;
use chat_auth::jose::keys::KeyMaterial;
use chat_auth::jose::{Algorithm, Claims, Verifier, VerifyingKey};
use chat_auth::wire::base64url;
use chat_auth::wire::json;
use jsonwebtoken::{EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::Millis;

/// The server's signing key (P-256, ES256) and its public forms.
pub struct SigningKey {
    encoding: EncodingKey,
    kid: String,
    /// The public point's coordinates, raw (32 bytes each).
    x: Vec<u8>,
    y: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key as PKCS#8 DER.
    pub fn generate_pkcs8() -> Vec<u8> {
        loop {
            let bytes = random_bytes::<32>();
            // Out of range (0 or ≥ n) happens with probability ~2^-32: draw again.
            if let Ok(key) = p256::SecretKey::from_slice(&bytes) {
                if let Ok(der) = key.to_pkcs8_der() {
                    return der.as_bytes().to_vec();
                }
            }
        }
    }

    /// From PKCS#8 DER (as stored by the server).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<SigningKey, String> {
        let key = p256::SecretKey::from_pkcs8_der(der)
            .map_err(|_| "the signing key is not a PKCS#8 P-256 private key".to_owned())?;
        Ok(SigningKey::from_secret(&key, der))
    }

    /// From a PKCS#8 PEM file's text (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str) -> Result<SigningKey, String> {
        let key = p256::SecretKey::from_pkcs8_pem(pem)
            .map_err(|_| "the signing key is not a PKCS#8 P-256 private key PEM".to_owned())?;
        let der = key
            .to_pkcs8_der()
            .map_err(|_| "the signing key cannot be encoded".to_owned())?;
        Ok(SigningKey::from_secret(&key, der.as_bytes()))
    }

    fn from_secret(key: &p256::SecretKey, der: &[u8]) -> SigningKey {
        let point = key.public_key().to_encoded_point(false);
        // An uncompressed point always has both coordinates.
        let x = point.x().map(|x| x.to_vec()).unwrap_or_default();
        let y = point.y().map(|y| y.to_vec()).unwrap_or_default();
        // RFC 7638 thumbprint: members in lexicographic order, no spaces.
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            base64url::encode(&x),
            base64url::encode(&y)
        );
        let kid = base64url::encode(&Sha256::digest(canonical.as_bytes()));
        SigningKey {
            encoding: EncodingKey::from_ec_der(der),
            kid,
            x,
            y,
        }
    }

    /// The key id (RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK Set.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [{
            "kty": "EC", "crv": "P-256",
            "x": base64url::encode(&self.x), "y": base64url::encode(&self.y),
            "kid": self.kid, "alg": "ES256", "use": "sig",
        }] })
    }

    /// The public key as the validator holds it: the JWK of [`Self::jwks`].
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            material: KeyMaterial::Ec {
                curve: Curve::P256,
                x: self.x.clone(),
                y: self.y.clone(),
            },
            kid: Some(self.kid.clone()),
            alg: Some(Algorithm::ES256.as_str().to_owned()),
            key_use: Some("sig".to_owned()),
        }
    }

    /// Signs `claims` as an ES256 JWT with `typ: at+jwt` (RFC 9068).
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, String> {
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some("at+jwt".to_owned());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| format!("cannot sign: {e}"))
    }
}

/// The claims of an access token.
#[derive(Debug, Serialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// The opaque customer id.
    pub sub: String,
    /// Audience: the chat API.
    pub aud: String,
    /// Issued at, seconds.
    pub iat: i64,
    /// Expiry, seconds.
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// The refresh-token family (login session) the token belongs to.
    pub sid: String,
    /// The OAuth client.
    pub client_id: String,
    /// Scope.
    pub scope: String,
    /// The DPoP key the token is bound to (RFC 9449 §6.1), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// `cnf` of a DPoP-bound token.
#[derive(Debug, Serialize)]
pub struct Confirmation {
    /// The RFC 7638 thumbprint of the key.
    pub jkt: String,
}

/// `n` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // Without OS randomness the server cannot issue anything safely.
    getrandom::getrandom(&mut b).expect("the operating system's random source failed");
    b
}

/// A random URL-safe string with `prefix`, from 32 random bytes.
pub fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", base64url::encode(&random_bytes::<32>()))
}

/// What refresh tokens are stored as.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Validates access tokens with the chat-auth crate's rules (API.md rules
/// 1–10), exactly as the browser SDK does: a [`Verifier`] built with the
/// typed builder.
#[derive(Clone, Debug)]
pub struct Validator {
    verifier: Verifier,
}

impl Validator {
    /// A validator for `options`, API.md's `VerifyOptions` as JSON (the same
    /// reader the browser uses): the shared test vectors.
    pub fn from_json(options: &json::Object) -> chat_auth::Result<Validator> {
        Ok(Validator {
            verifier: Verifier::from_json(options)?,
        })
    }

    /// The server's own validator: ES256 only, its key (selected by `kid`),
    /// its issuer and audience, `typ` at+jwt, `leeway_seconds` of clock
    /// leeway.
    pub fn for_server(
        key: &SigningKey,
        issuer: &str,
        audience: &str,
        leeway_seconds: u64,
    ) -> chat_auth::Result<Validator> {
        let verifier = Verifier::builder()
            .algorithms([Algorithm::ES256])
            .keys([key.verifying_key()])
            .issuer(issuer)
            .audience([audience])
            .typ("at+jwt")
            .leeway_seconds(leeway_seconds as f64)
            .build()?;
        Ok(Validator { verifier })
    }

    /// The token's claims, or the chat-auth error (stable code).
    pub fn verify(&self, token: &str, now: Millis) -> chat_auth::Result<Claims> {
        self.verifier.verify(token, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now_s: i64, ttl: i64) -> AccessClaims {
        AccessClaims {
            iss: "https://id.test".into(),
            sub: "c_1".into(),
            aud: "chat-api".into(),
            iat: now_s,
            exp: now_s + ttl,
            jti: "j".into(),
            sid: "s".into(),
            client_id: "chat-demo".into(),
            scope: "chat".into(),
            cnf: None,
        }
    }

    #[test]
    fn signed_tokens_verify_with_the_published_jwks() {
        let key = SigningKey::from_pkcs8_der(&SigningKey::generate_pkcs8()).unwrap();
        let v = Validator::for_server(&key, "https://id.test", "chat-api", 0).unwrap();
        let token = key.sign(&claims(1_700_000_000, 5)).unwrap();
        let c = v.verify(&token, 1_700_000_004_999).unwrap();
        assert_eq!(c.sub(), Some("c_1"));
        assert_eq!(c.aud(), ["chat-api"]);
        // The typed key is the published JWK: the JSON path agrees.
        let from_jwks = Validator::from_json(
            &json::parse_object(
                serde_json::json!({"algorithms": ["ES256"], "jwks": key.jwks()})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(from_jwks.verify(&token, 1_700_000_004_999).is_ok());
        let err = v.verify(&token, 1_700_000_005_000).unwrap_err();
        assert_eq!(err.code().as_str(), "expired");
        // Another key's token: same kid is impossible, so unknown_key.
        let other = SigningKey::from_pkcs8_der(&SigningKey::generate_pkcs8()).unwrap();
        let forged = other.sign(&claims(1_700_000_000, 5)).unwrap();
        assert_eq!(
            v.verify(&forged, 1_700_000_001_000)
                .unwrap_err()
                .code()
                .as_str(),
            "unknown_key"
        );
    }

    #[test]
    fn pem_and_der_give_the_same_key() {
        let der = SigningKey::generate_pkcs8();
        let key = p256::SecretKey::from_pkcs8_der(&der).unwrap();
        let pem = key.to_pkcs8_pem(Default::default()).unwrap();
        let a = SigningKey::from_pkcs8_der(&der).unwrap();
        let b = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert!(SigningKey::from_pem("not a key").is_err());
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = random_token("rt_");
        assert_ne!(a, random_token("rt_"));
        assert_eq!(a.len(), 3 + 43);
        assert_eq!(hash_token(&a).len(), 32);
    }
}

//! Building a proof: its key ([`ProofKey`]), claims ([`ProofClaims`]), the
//! [`signing_input`] the host signs, and the JWS [`assemble`]d from it.

use super::*;

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
    pub(super) fn header_json(&self) -> String {
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
    pub(super) fn payload_json(&self) -> String {
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

//! The native signature backend (jsonwebtoken 11 with RustCrypto): the
//! [`SignatureVerifier`] of [`verify_token`](super::verify_token) and of
//! [`Verifier`](super::Verifier). Not in the wasm build, where WebCrypto
//! checks signatures.

use super::SignatureVerifier;
use crate::jose::algorithm::Algorithm;
use crate::jose::keys::{KeyMaterial, VerifyingKey};

/// The native signature backend: jsonwebtoken 11 with RustCrypto.
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeVerifier;

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

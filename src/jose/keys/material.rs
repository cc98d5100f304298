//! Key material as raw components, HMAC secret bytes that never print, and
//! [`VerifyingKey`]: a key with its JWK metadata.

use crate::error::{Error, Result};
use crate::jose::algorithm::{be_less, Algorithm, Curve, Scheme};
use std::fmt;

/// An HMAC key: bytes that never print (`Debug` shows `[redacted]`).
#[derive(Clone)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps key bytes.
    pub fn new(bytes: Vec<u8>) -> SecretBytes {
        SecretBytes(bytes)
    }

    /// The key bytes. Call only where the key must be used (a MAC).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the key is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Smallest accepted RSA modulus (rule 1).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest accepted RSA modulus: the native verifier (RustCrypto `rsa`)
/// refuses longer ones, so both targets refuse them as `invalid_config`.
pub const MAX_RSA_BITS: usize = 4096;
/// Shortest accepted HMAC secret in bytes (rule 1).
pub const MIN_SECRET_BYTES: usize = 32;

/// Key material as raw components, the same on both targets.
///
/// Built through [`VerifyingKey`]'s constructors, which validate it; a value
/// built by hand is checked again by [`KeyMaterial::check`] when options are
/// validated.
#[derive(Clone)]
#[non_exhaustive]
pub enum KeyMaterial {
    /// An RSA public key: modulus and public exponent, big-endian, without
    /// leading zero bytes.
    Rsa {
        /// The modulus n.
        n: Vec<u8>,
        /// The public exponent e.
        e: Vec<u8>,
    },
    /// An uncompressed EC public point.
    Ec {
        /// The curve.
        curve: Curve,
        /// x, exactly [`Curve::coordinate_len`] bytes, big-endian.
        x: Vec<u8>,
        /// y, exactly [`Curve::coordinate_len`] bytes, big-endian.
        y: Vec<u8>,
    },
    /// An Ed25519 public key.
    Ed25519 {
        /// The 32-byte encoded point (RFC 8032).
        x: Vec<u8>,
    },
    /// An HMAC secret.
    Secret(SecretBytes),
}

pub(super) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

/// Number of significant bits of a big-endian unsigned integer.
fn bit_len(bytes: &[u8]) -> usize {
    let bytes = strip_leading_zeros(bytes);
    match bytes.first() {
        None => 0,
        Some(&top) => (bytes.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

impl KeyMaterial {
    /// The RSA modulus length in bits (leading zero bytes ignored).
    pub fn rsa_bits(&self) -> Option<usize> {
        match self {
            KeyMaterial::Rsa { n, .. } => Some(bit_len(n)),
            _ => None,
        }
    }

    /// Whether this material can verify `alg`: RSA for `RS*`/`PS*`, P-256 for
    /// ES256, P-384 for ES384, Ed25519 for EdDSA, a secret for `HS*`.
    pub fn fits(&self, alg: Algorithm) -> bool {
        match (self, alg.scheme()) {
            (KeyMaterial::Rsa { .. }, Scheme::RsaPkcs1 | Scheme::RsaPss) => true,
            (KeyMaterial::Ec { curve, .. }, Scheme::Ecdsa) => alg.curve() == Some(*curve),
            (KeyMaterial::Ed25519 { .. }, Scheme::EdDsa) => true,
            (KeyMaterial::Secret(_), Scheme::Hmac) => true,
            _ => false,
        }
    }

    /// A short name of the key type, for messages (`"RSA"`, `"EC P-256"`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            KeyMaterial::Rsa { .. } => "RSA",
            KeyMaterial::Ec {
                curve: Curve::P256, ..
            } => "EC P-256",
            KeyMaterial::Ec {
                curve: Curve::P384, ..
            } => "EC P-384",
            KeyMaterial::Ed25519 { .. } => "Ed25519",
            KeyMaterial::Secret(_) => "HMAC secret",
        }
    }

    /// Checks that the material is usable (rule 1); the problem otherwise,
    /// phrased to follow an option name.
    pub fn check(&self) -> std::result::Result<(), &'static str> {
        match self {
            KeyMaterial::Rsa { n, e } => {
                let bits = bit_len(n);
                if bits < MIN_RSA_BITS {
                    return Err("holds an RSA key shorter than 2048 bits");
                }
                if bits > MAX_RSA_BITS {
                    return Err("holds an RSA key longer than 4096 bits (not supported)");
                }
                if n.last().is_some_and(|b| b & 1 == 0) {
                    return Err("holds an invalid RSA key (even modulus)");
                }
                // e odd, 3 ≤ e ≤ 2^33 − 1: what both WebCrypto and RustCrypto accept.
                let e = strip_leading_zeros(e);
                let value = if e.len() <= 5 {
                    e.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b))
                } else {
                    0
                };
                if !(3..=(1 << 33) - 1).contains(&value) || value & 1 == 0 {
                    return Err("holds an RSA key with an unsupported public exponent");
                }
                Ok(())
            }
            KeyMaterial::Ec { curve, x, y } => {
                let len = curve.coordinate_len();
                if x.len() != len || y.len() != len {
                    return Err("holds an EC point of the wrong length for its curve");
                }
                if !be_less(x, curve.prime()) || !be_less(y, curve.prime()) {
                    return Err("holds an invalid EC point");
                }
                Ok(())
            }
            KeyMaterial::Ed25519 { x } => {
                if x.len() != 32 {
                    return Err("holds an Ed25519 key that is not 32 bytes");
                }
                Ok(())
            }
            KeyMaterial::Secret(s) => {
                if s.len() < MIN_SECRET_BYTES {
                    return Err("is shorter than 32 bytes");
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyMaterial::Rsa { .. } => f
                .debug_struct("Rsa")
                .field("bits", &self.rsa_bits().unwrap_or(0))
                .finish_non_exhaustive(),
            KeyMaterial::Ec { curve, .. } => f
                .debug_struct("Ec")
                .field("curve", curve)
                .finish_non_exhaustive(),
            KeyMaterial::Ed25519 { .. } => f.write_str("Ed25519"),
            KeyMaterial::Secret(s) => f.debug_tuple("Secret").field(s).finish(),
        }
    }
}

/// A key that verifies signatures, with its JWK metadata: a public key or
/// an HMAC secret ([`KeyMaterial::Secret`]); `Debug` never prints a secret.
#[derive(Clone, Debug)]
pub struct VerifyingKey {
    /// The key itself.
    pub material: KeyMaterial,
    /// The JWK `kid`, if any (PEM keys have none).
    pub kid: Option<String>,
    /// The JWK `alg`, if any: the only algorithm this key may verify.
    pub alg: Option<String>,
    /// The JWK `use`, if any: must be `sig` for the key to be used.
    pub key_use: Option<String>,
}

impl VerifyingKey {
    /// A key without JWK metadata, after checking the material (rule 1).
    /// `option` names the option the key came from, for the error.
    pub fn new(material: KeyMaterial, option: &str) -> Result<VerifyingKey> {
        material
            .check()
            .map_err(|problem| Error::invalid_config(option, problem))?;
        Ok(VerifyingKey {
            material,
            kid: None,
            alg: None,
            key_use: None,
        })
    }

    /// An HMAC secret of at least 32 bytes.
    pub fn from_secret(secret: &[u8], option: &str) -> Result<VerifyingKey> {
        VerifyingKey::new(
            KeyMaterial::Secret(SecretBytes::new(secret.to_vec())),
            option,
        )
    }

    /// Whether this key may verify a token with header `alg`: the material
    /// fits ([`KeyMaterial::fits`]), the JWK `alg` (if any) equals it, and
    /// the JWK `use` (if any) is `sig`.
    pub fn fits(&self, alg: Algorithm) -> bool {
        self.material.fits(alg)
            && self.alg.as_deref().is_none_or(|a| a == alg.as_str())
            && self.key_use.as_deref().is_none_or(|u| u == "sig")
    }
}

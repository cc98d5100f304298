//! Verification keys: algorithms, key material, PEM / JWK / JWKS parsing and
//! key selection (API.md verification rules 1 and 6).
//!
//! Keys are held as raw components (RSA `n`/`e`, EC `x`/`y`, Ed25519 `x`,
//! HMAC bytes) so that one model serves both targets: the browser imports the
//! components into WebCrypto as a JWK, the native build turns them into
//! jsonwebtoken `DecodingKey`s. Parsing runs in this crate on both targets, so
//! a key is accepted or refused identically everywhere.
//!
//! PEM and DER are read by the small hand-written reader below instead of a
//! crate (`der`, `spki`, `x509-cert`, `pem`): the wasm build must stay small
//! (SIZE.md) and only three shapes are needed — SubjectPublicKeyInfo, PKCS#1
//! `RSAPublicKey`, and the SubjectPublicKeyInfo inside an X.509 certificate.
//! A certificate is only a key container here: its validity, chain and
//! signature are not checked (the site pins the certificate it configures).

use crate::error::{Error, ErrorCode, Result};
use crate::wire::base64url;
use crate::wire::json::{Object, Value};
use std::fmt;

/// A JWS signature algorithm this crate verifies (RFC 7518 names). `none` is
/// deliberately not representable.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 (MGF1 SHA-256, salt 32 bytes).
    PS256,
    /// RSASSA-PSS with SHA-384 (MGF1 SHA-384, salt 48 bytes).
    PS384,
    /// RSASSA-PSS with SHA-512 (MGF1 SHA-512, salt 64 bytes).
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

/// The signature scheme behind an [`Algorithm`] (what WebCrypto calls the
/// algorithm name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// HMAC (`HS*`), WebCrypto `HMAC`.
    Hmac,
    /// RSASSA-PKCS1-v1_5 (`RS*`), WebCrypto `RSASSA-PKCS1-v1_5`.
    RsaPkcs1,
    /// RSASSA-PSS (`PS*`), WebCrypto `RSA-PSS`.
    RsaPss,
    /// ECDSA (`ES*`), WebCrypto `ECDSA`.
    Ecdsa,
    /// EdDSA with Ed25519, WebCrypto `Ed25519`.
    EdDsa,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The algorithm named exactly `name` (case-sensitive, as RFC 7515
    /// requires). `none`, in any spelling, gives `None`.
    pub fn parse(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The JWA name, e.g. `"RS256"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// The signature scheme.
    pub const fn family(self) -> Family {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => Family::RsaPkcs1,
            Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => Family::RsaPss,
            Algorithm::ES256 | Algorithm::ES384 => Family::Ecdsa,
            Algorithm::EdDSA => Family::EdDsa,
        }
    }

    /// Output length in bytes of the hash the algorithm uses (32, 48 or 64):
    /// the HMAC tag length for `HS*`, the PSS salt length for `PS*`. EdDSA
    /// gives 64 (Ed25519 hashes with SHA-512 internally).
    pub const fn hash_len(self) -> usize {
        match self {
            Algorithm::HS256 | Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 => 32,
            Algorithm::HS384 | Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => 48,
            Algorithm::HS512 | Algorithm::RS512 | Algorithm::PS512 | Algorithm::EdDSA => 64,
        }
    }

    /// The curve of an ECDSA algorithm.
    pub const fn curve(self) -> Option<Curve> {
        match self {
            Algorithm::ES256 => Some(Curve::P256),
            Algorithm::ES384 => Some(Curve::P384),
            _ => None,
        }
    }
}

/// A supported ECDSA curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
}

const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];
const P256_PRIME: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
];
const P384_ORDER: [u8; 48] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
];
const P384_PRIME: [u8; 48] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
];
/// The Ed25519 group order L = 2^252 + 27742317777372353535851937790883648493, big-endian.
const ED25519_ORDER: [u8; 32] = [
    0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x14, 0xde, 0xf9, 0xde, 0xa2, 0xf7, 0x9c, 0xd6, 0x58, 0x12, 0x63, 0x1a, 0x5c, 0xf5, 0xd3, 0xed,
];

impl Curve {
    /// The JWK `crv` name (`"P-256"`, `"P-384"`), also WebCrypto's `namedCurve`.
    pub const fn jwk_name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        }
    }

    /// Length in bytes of a coordinate, and of each of R and S in a JWS
    /// signature (32 or 48).
    pub const fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }

    /// The group order n, big-endian, [`Curve::coordinate_len`] bytes.
    pub const fn order(self) -> &'static [u8] {
        match self {
            Curve::P256 => &P256_ORDER,
            Curve::P384 => &P384_ORDER,
        }
    }

    /// The field prime p, big-endian, [`Curve::coordinate_len`] bytes.
    pub const fn prime(self) -> &'static [u8] {
        match self {
            Curve::P256 => &P256_PRIME,
            Curve::P384 => &P384_PRIME,
        }
    }
}

/// Whether the big-endian `a` is less than the big-endian `b` of the same
/// length (lexicographic order equals numeric order then).
pub(crate) fn be_less(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a < b
}

/// Whether a 32-byte little-endian Ed25519 scalar `S` is below the group
/// order L (RFC 8032 §5.1.7 rejects `S ≥ L`).
pub(crate) fn ed25519_scalar_ok(s_le: &[u8]) -> bool {
    if s_le.len() != 32 {
        return false;
    }
    let mut be = [0u8; 32];
    for (dst, src) in be.iter_mut().zip(s_le.iter().rev()) {
        *dst = *src;
    }
    be_less(&be, &ED25519_ORDER)
}

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
/// Built through [`PublicKey`]'s constructors, which validate it; a value
/// built by hand is checked again by [`KeyMaterial::check`] when options are
/// validated.
#[derive(Clone)]
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

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
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
        match (self, alg.family()) {
            (KeyMaterial::Rsa { .. }, Family::RsaPkcs1 | Family::RsaPss) => true,
            (KeyMaterial::Ec { curve, .. }, Family::Ecdsa) => alg.curve() == Some(*curve),
            (KeyMaterial::Ed25519 { .. }, Family::EdDsa) => true,
            (KeyMaterial::Secret(_), Family::Hmac) => true,
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

/// A verification key with its JWK metadata. Despite the name it may hold
/// an HMAC secret ([`KeyMaterial::Secret`]); `Debug` never prints one.
#[derive(Clone, Debug)]
pub struct PublicKey {
    /// The key itself.
    pub material: KeyMaterial,
    /// The JWK `kid`, if any (PEM keys have none).
    pub kid: Option<String>,
    /// The JWK `alg`, if any: the only algorithm this key may verify.
    pub alg: Option<String>,
    /// The JWK `use`, if any: must be `sig` for the key to be used.
    pub key_use: Option<String>,
}

impl PublicKey {
    /// A key without JWK metadata, after checking the material (rule 1).
    /// `option` names the option the key came from, for the error.
    pub fn new(material: KeyMaterial, option: &str) -> Result<PublicKey> {
        material
            .check()
            .map_err(|problem| Error::invalid_config(option, problem))?;
        Ok(PublicKey {
            material,
            kid: None,
            alg: None,
            key_use: None,
        })
    }

    /// An HMAC secret of at least 32 bytes.
    pub fn from_secret(secret: &[u8], option: &str) -> Result<PublicKey> {
        PublicKey::new(
            KeyMaterial::Secret(SecretBytes::new(secret.to_vec())),
            option,
        )
    }

    /// A key from one PEM block: `PUBLIC KEY` (SubjectPublicKeyInfo),
    /// `RSA PUBLIC KEY` (PKCS#1) or `CERTIFICATE` (X.509; its
    /// SubjectPublicKeyInfo is used). Supported: RSA (rsaEncryption or
    /// id-RSASSA-PSS, 2048–4096 bits), EC P-256 / P-384 (uncompressed
    /// points), Ed25519. Anything else, a private key, or more than one
    /// block is `invalid_config`.
    pub fn from_pem(pem: &str, option: &str) -> Result<PublicKey> {
        let material =
            pem_material(pem).map_err(|problem| Error::invalid_config(option, problem))?;
        PublicKey::new(material, option)
    }

    /// A key from a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8], option: &str) -> Result<PublicKey> {
        let material = single(der, TAG_SEQUENCE)
            .and_then(spki_material)
            .map_err(|problem| Error::invalid_config(option, problem))?;
        PublicKey::new(material, option)
    }

    /// A key from one JWK (RFC 7517): `kty` `RSA` (`n`, `e`), `EC` (`crv`
    /// P-256 / P-384, `x`, `y`), `OKP` (`crv` Ed25519, `x`) or `oct` (`k`).
    /// `Ok(None)` for a key type or curve this crate does not support (a
    /// JWKS skips those); `invalid_config` for a supported key that is
    /// malformed, too weak, or carries private members (`d`, …).
    pub fn from_jwk(jwk: &Object, option: &str) -> Result<Option<PublicKey>> {
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
        let mut key = PublicKey::new(material, option)?;
        key.kid = kid;
        key.alg = alg;
        key.key_use = key_use;
        Ok(Some(key))
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

/// Parses a JWK Set (`{"keys":[…]}`, RFC 7517 §5). Keys of an unsupported
/// `kty` or curve (e.g. `EC` P-521, `OKP` X25519) are skipped so that an
/// issuer's set that also lists such keys stays usable; a supported key that
/// is malformed or too weak fails the whole set, and so does a set with no
/// usable key (`invalid_config`).
pub fn parse_jwks(jwks: &Object, option: &str) -> Result<Vec<PublicKey>> {
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
        if let Some(key) = PublicKey::from_jwk(jwk, option)? {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return Err(Error::invalid_config(option, "has no usable key"));
    }
    Ok(keys)
}

/// Where verification keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// One key: a PEM public key or certificate (`publicKey`) or an HMAC
    /// secret (`secret`). Only its type is matched against `alg`.
    Key(PublicKey),
    /// A JWK Set (`jwks`): keys are selected by `kid`.
    Jwks(Vec<PublicKey>),
}

impl KeySource {
    /// Every key of the source.
    pub fn keys(&self) -> &[PublicKey] {
        match self {
            KeySource::Key(k) => std::slice::from_ref(k),
            KeySource::Jwks(keys) => keys,
        }
    }
}

/// Selects the key for a token (rule 6).
///
/// `kid` is the header's `kid` member as written (any JSON value), `alg` the
/// header's allowed algorithm. For a single key, only its type is checked
/// (`key_type_mismatch`); `kid` is ignored. For a JWKS: a `kid` selects the
/// keys whose `kid` is exactly that string (a non-string `kid` matches none),
/// else `unknown_key`; without `kid`, only a one-key set is usable, else
/// `unknown_key`. Of the selected keys the first that [`PublicKey::fits`]
/// `alg` is used, else `key_type_mismatch`. The `jku`, `x5u`, `jwk` and
/// `x5c` headers are never consulted.
pub fn select<'k>(
    source: &'k KeySource,
    kid: Option<&Value>,
    alg: Algorithm,
) -> Result<&'k PublicKey> {
    let mismatch = || {
        Error::new(
            ErrorCode::KeyTypeMismatch,
            "the key does not fit the token's alg",
        )
    };
    match source {
        KeySource::Key(key) => {
            if key.fits(alg) {
                Ok(key)
            } else {
                Err(mismatch())
            }
        }
        KeySource::Jwks(keys) => {
            let mut found = false;
            let mut pick = |key: &'k PublicKey| {
                found = true;
                key.fits(alg)
            };
            let chosen = match kid {
                Some(kid) => {
                    let wanted = kid.as_str();
                    keys.iter()
                        .filter(|k| wanted.is_some() && k.kid.as_deref() == wanted)
                        .find(|k| pick(k))
                }
                None => match keys.as_slice() {
                    [only] => Some(only).filter(|k| pick(k)),
                    _ => None,
                },
            };
            match chosen {
                Some(key) => Ok(key),
                None if found => Err(mismatch()),
                None if kid.is_some() => Err(Error::new(
                    ErrorCode::UnknownKey,
                    "no key in the JWKS has the token's kid",
                )),
                None => Err(Error::new(
                    ErrorCode::UnknownKey,
                    "the token has no kid and the JWKS holds more than one key",
                )),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// PEM and DER.

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_CONTEXT_0: u8 = 0xa0;

const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

type Problem<T> = std::result::Result<T, &'static str>;

const NOT_DER: &str = "is not a valid DER public key";

/// A reader over concatenated DER TLVs (single-byte tags, definite minimal
/// lengths).
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn next(&mut self) -> Problem<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first().ok_or(NOT_DER)?;
        if tag & 0x1f == 0x1f {
            return Err(NOT_DER);
        }
        let (&first, rest) = rest.split_first().ok_or(NOT_DER)?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return Err(NOT_DER);
            }
            let (bytes, rest) = rest.split_at_checked(count).ok_or(NOT_DER)?;
            if bytes.first() == Some(&0) {
                return Err(NOT_DER);
            }
            let mut len = 0usize;
            for &b in bytes {
                len = len
                    .checked_mul(256)
                    .and_then(|l| l.checked_add(usize::from(b)))
                    .ok_or(NOT_DER)?;
            }
            if len < 0x80 {
                return Err(NOT_DER);
            }
            (len, rest)
        };
        let (content, rest) = rest.split_at_checked(len).ok_or(NOT_DER)?;
        self.0 = rest;
        Ok((tag, content))
    }

    fn read_tag(&mut self, tag: u8) -> Problem<&'a [u8]> {
        match self.next()? {
            (t, content) if t == tag => Ok(content),
            _ => Err(NOT_DER),
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn finish(&self) -> Problem<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(NOT_DER)
        }
    }
}

/// The content of the single TLV `der` holds, which must have `tag`.
fn single(der: &[u8], tag: u8) -> Problem<&[u8]> {
    let mut r = Der(der);
    let content = r.read_tag(tag)?;
    r.finish()?;
    Ok(content)
}

/// A positive DER INTEGER's magnitude, without leading zeros.
fn positive_integer(content: &[u8]) -> Problem<&[u8]> {
    match content {
        [] => Err(NOT_DER),
        [first, ..] if first & 0x80 != 0 => Err(NOT_DER),
        [0, second, ..] if second & 0x80 == 0 => Err(NOT_DER),
        _ => Ok(strip_leading_zeros(content)),
    }
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`, content only.
fn rsa_public_key(content: &[u8]) -> Problem<KeyMaterial> {
    let mut r = Der(content);
    let n = positive_integer(r.read_tag(TAG_INTEGER)?)?;
    let e = positive_integer(r.read_tag(TAG_INTEGER)?)?;
    r.finish()?;
    Ok(KeyMaterial::Rsa {
        n: n.to_vec(),
        e: e.to_vec(),
    })
}

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }`, content only.
fn spki_material(content: &[u8]) -> Problem<KeyMaterial> {
    let mut r = Der(content);
    let mut alg = Der(r.read_tag(TAG_SEQUENCE)?);
    let bits = r.read_tag(TAG_BIT_STRING)?;
    r.finish()?;
    let key = match bits.split_first() {
        Some((0, key)) => key,
        _ => return Err(NOT_DER),
    };
    let oid = alg.read_tag(TAG_OID)?;
    let params = if alg.is_empty() {
        None
    } else {
        Some(alg.next()?)
    };
    alg.finish()?;
    match oid {
        OID_RSA_ENCRYPTION => {
            if !matches!(params, None | Some((TAG_NULL, []))) {
                return Err(NOT_DER);
            }
            rsa_public_key(single(key, TAG_SEQUENCE)?)
        }
        // RSASSA-PSS parameters (if any) restrict hashes; an RSA key is an RSA key.
        OID_RSASSA_PSS => rsa_public_key(single(key, TAG_SEQUENCE)?),
        OID_EC_PUBLIC_KEY => {
            let curve = match params {
                Some((TAG_OID, OID_P256)) => Curve::P256,
                Some((TAG_OID, OID_P384)) => Curve::P384,
                _ => return Err("uses an unsupported EC curve (P-256 and P-384 are supported)"),
            };
            let len = curve.coordinate_len();
            match key.split_first() {
                Some((0x04, point)) if point.len() == 2 * len => {
                    let (x, y) = point.split_at_checked(len).ok_or(NOT_DER)?;
                    Ok(KeyMaterial::Ec {
                        curve,
                        x: x.to_vec(),
                        y: y.to_vec(),
                    })
                }
                Some((0x02 | 0x03, _)) => Err("holds a compressed EC point (not supported)"),
                _ => Err("holds an EC point of the wrong length for its curve"),
            }
        }
        OID_ED25519 => {
            if params.is_some() {
                return Err(NOT_DER);
            }
            Ok(KeyMaterial::Ed25519 { x: key.to_vec() })
        }
        _ => {
            Err("uses an unsupported key algorithm (RSA, EC P-256/P-384 and Ed25519 are supported)")
        }
    }
}

/// The SubjectPublicKeyInfo content inside an X.509 `Certificate`.
fn certificate_spki(content: &[u8]) -> Problem<&[u8]> {
    let mut cert = Der(content);
    let mut tbs = Der(cert.read_tag(TAG_SEQUENCE)?);
    let (mut tag, _) = tbs.next()?;
    if tag == TAG_CONTEXT_0 {
        tag = tbs.next()?.0; // version present: next is the serial number
    }
    if tag != TAG_INTEGER {
        return Err("is not a valid X.509 certificate");
    }
    // signature, issuer, validity, subject
    for _ in 0..4 {
        tbs.read_tag(TAG_SEQUENCE)?;
    }
    tbs.read_tag(TAG_SEQUENCE)
}

fn pem_material(pem: &str) -> Problem<KeyMaterial> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    let text = pem.trim_matches(|c: char| c.is_ascii_whitespace());
    let rest = text.strip_prefix(BEGIN).ok_or("is not a PEM block")?;
    let label_end = rest.find(DASHES).ok_or("is not a PEM block")?;
    let (label, rest) = rest.split_at(label_end);
    let rest = rest.get(DASHES.len()..).unwrap_or_default();
    if label.contains("PRIVATE") {
        return Err("holds a private key; pass the public key or certificate");
    }
    let end_at = rest.find("-----END ").ok_or("is not a PEM block")?;
    let (body, end) = rest.split_at(end_at);
    let end = end.get("-----END ".len()..).unwrap_or_default();
    let end = end.strip_prefix(label).ok_or("is not a PEM block")?;
    if end != DASHES {
        return Err("must hold exactly one PEM block");
    }
    let der = base64_standard(body).ok_or("is not a PEM block (bad base64)")?;
    match label {
        "PUBLIC KEY" => spki_material(single(&der, TAG_SEQUENCE)?),
        "RSA PUBLIC KEY" => rsa_public_key(single(&der, TAG_SEQUENCE)?),
        "CERTIFICATE" => {
            let spki = certificate_spki(single(&der, TAG_SEQUENCE)?)?;
            spki_material(spki)
        }
        _ => Err("must be a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE PEM block"),
    }
}

/// Decodes standard base64 (RFC 4648 §4) with padding, ignoring ASCII
/// whitespace (PEM line breaks). `None` on anything else. Spelled as base64url
/// and read by [`base64url::decode`], so one decoder (and its checks: alphabet,
/// zero unused bits) serves tokens and PEM alike.
fn base64_standard(text: &str) -> Option<Vec<u8>> {
    let mut chars = Vec::with_capacity(text.len());
    for c in text.bytes() {
        match c {
            b'+' => chars.push(b'-'),
            b'/' => chars.push(b'_'),
            b'-' | b'_' => return None,
            c if c.is_ascii_whitespace() => {}
            c => chars.push(c),
        }
    }
    if chars.is_empty() || !chars.len().is_multiple_of(4) {
        return None;
    }
    let pad = chars.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return None;
    }
    chars.truncate(chars.len() - pad);
    // An `=` anywhere else is outside the alphabet: decode refuses it.
    base64url::decode(&chars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    // Generated once with openssl (see tests/vectors/keys/).
    const RSA_SPKI: &str = include_str!("../../../tests/vectors/keys/rsa2048.pub.pem");
    const RSA_PKCS1: &str = include_str!("../../../tests/vectors/keys/rsa2048.rsapub.pem");
    const RSA_CERT: &str = include_str!("../../../tests/vectors/keys/rsa2048.crt.pem");
    const RSA_PSS_SPKI: &str = include_str!("../../../tests/vectors/keys/rsapss2048.pub.pem");
    const RSA_1024: &str = include_str!("../../../tests/vectors/keys/rsa1024.pub.pem");
    const P256_SPKI: &str = include_str!("../../../tests/vectors/keys/p256.pub.pem");
    const P256_CERT: &str = include_str!("../../../tests/vectors/keys/p256.crt.pem");
    const P384_SPKI: &str = include_str!("../../../tests/vectors/keys/p384.pub.pem");
    const ED_SPKI: &str = include_str!("../../../tests/vectors/keys/ed25519.pub.pem");
    const ED_CERT: &str = include_str!("../../../tests/vectors/keys/ed25519.crt.pem");
    const K256_SPKI: &str = include_str!("../../../tests/vectors/keys/secp256k1.pub.pem");
    const RSA_PRIVATE: &str = include_str!("../../../tests/vectors/keys/rsa2048.pem");

    fn code<T>(r: Result<T>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => e.code().as_str(),
        }
    }

    fn obj(s: &str) -> Object {
        json::parse_object(s.as_bytes()).unwrap()
    }

    #[test]
    fn algorithm_names_round_trip_case_sensitively() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::parse(a.as_str()), Some(a));
        }
        for bad in [
            "none", "None", "NONE", "rs256", "Rs256", "ES512", "HS1", "", "RS256 ",
        ] {
            assert_eq!(Algorithm::parse(bad), None, "{bad}");
        }
        assert_eq!(Algorithm::PS384.hash_len(), 48);
        assert_eq!(Algorithm::ES384.curve(), Some(Curve::P384));
        assert_eq!(Algorithm::EdDSA.family(), Family::EdDsa);
    }

    #[test]
    fn pem_forms_parse() {
        for pem in [RSA_SPKI, RSA_PKCS1, RSA_CERT, RSA_PSS_SPKI] {
            let k = PublicKey::from_pem(pem, "publicKey").unwrap();
            assert_eq!(k.material.rsa_bits(), Some(2048));
            assert!(k.fits(Algorithm::RS256) && k.fits(Algorithm::PS512));
            assert!(!k.fits(Algorithm::ES256) && !k.fits(Algorithm::HS256));
        }
        let spki = PublicKey::from_pem(RSA_SPKI, "publicKey").unwrap();
        let cert = PublicKey::from_pem(RSA_CERT, "publicKey").unwrap();
        let pkcs1 = PublicKey::from_pem(RSA_PKCS1, "publicKey").unwrap();
        let parts = |k: &PublicKey| match &k.material {
            KeyMaterial::Rsa { n, e } => (n.clone(), e.clone()),
            _ => panic!(),
        };
        assert_eq!(parts(&spki), parts(&cert));
        assert_eq!(parts(&spki), parts(&pkcs1));
        assert_eq!(parts(&spki).1, vec![1, 0, 1]);

        for pem in [P256_SPKI, P256_CERT] {
            let k = PublicKey::from_pem(pem, "publicKey").unwrap();
            assert!(k.fits(Algorithm::ES256) && !k.fits(Algorithm::ES384));
        }
        let k = PublicKey::from_pem(P384_SPKI, "publicKey").unwrap();
        assert!(k.fits(Algorithm::ES384) && !k.fits(Algorithm::ES256));
        for pem in [ED_SPKI, ED_CERT] {
            let k = PublicKey::from_pem(pem, "publicKey").unwrap();
            assert!(k.fits(Algorithm::EdDSA) && !k.fits(Algorithm::RS256));
        }
        // CRLF line ends and surrounding whitespace are fine.
        let crlf = RSA_SPKI.replace('\n', "\r\n");
        assert_eq!(
            code(PublicKey::from_pem(&format!("\n  {crlf}\n"), "publicKey")),
            "ok"
        );
    }

    #[test]
    fn unusable_pem_is_invalid_config() {
        let two = format!("{RSA_SPKI}{P256_SPKI}");
        let bad_b64 = RSA_SPKI.replacen("MII", "M*I", 1);
        let wrong_label = RSA_SPKI.replace("PUBLIC KEY", "FOO");
        let mismatched_end = RSA_SPKI.replace("END PUBLIC KEY", "END RSA PUBLIC KEY");
        let pkcs1_as_spki = RSA_PKCS1.replace("RSA PUBLIC KEY", "PUBLIC KEY");
        let truncated = RSA_SPKI.replacen("\n", "\nAAAA", 1);
        for (pem, what) in [
            (RSA_1024, "short rsa"),
            (K256_SPKI, "secp256k1"),
            (RSA_PRIVATE, "private"),
            ("", "empty"),
            ("hello", "text"),
            (two.as_str(), "two blocks"),
            (bad_b64.as_str(), "bad base64"),
            (wrong_label.as_str(), "label"),
            (mismatched_end.as_str(), "end label"),
            (pkcs1_as_spki.as_str(), "pkcs1 body under SPKI label"),
            (truncated.as_str(), "garbage der"),
        ] {
            let e = PublicKey::from_pem(pem, "publicKey").expect_err(what);
            assert_eq!(e.code(), ErrorCode::InvalidConfig, "{what}");
            assert!(
                e.message().starts_with("option 'publicKey' "),
                "{what}: {}",
                e.message()
            );
        }
        let e = PublicKey::from_pem(RSA_1024, "validation.publicKey").unwrap_err();
        assert_eq!(
            e.message(),
            "option 'validation.publicKey' holds an RSA key shorter than 2048 bits"
        );
        let e = PublicKey::from_pem(RSA_PRIVATE, "publicKey").unwrap_err();
        assert!(e.message().contains("private key"));
        assert!(PublicKey::from_pem(K256_SPKI, "k")
            .unwrap_err()
            .message()
            .contains("curve"));
    }

    #[test]
    fn compressed_and_malformed_points_are_refused() {
        // SPKI prefix for a P-256 key with a 33-byte (compressed) point.
        let mut der = vec![
            0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00, 0x02,
        ];
        der.extend_from_slice(&[7u8; 32]);
        let e = PublicKey::from_spki_der(&der, "publicKey").unwrap_err();
        assert!(e.message().contains("compressed"), "{}", e.message());
        // Coordinates ≥ p.
        let m = KeyMaterial::Ec {
            curve: Curve::P256,
            x: vec![0xff; 32],
            y: vec![1; 32],
        };
        assert!(m.check().is_err());
    }

    #[test]
    fn der_reader_is_strict() {
        // Non-minimal long-form length.
        assert!(Der(&[0x30, 0x81, 0x01, 0x00]).next().is_err());
        // Indefinite length.
        assert!(Der(&[0x30, 0x80, 0x00, 0x00]).next().is_err());
        // Length past the end.
        assert!(Der(&[0x30, 0x05, 0x00]).next().is_err());
        // Huge length does not overflow.
        assert!(Der(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).next().is_err());
        assert!(Der(&[0x30, 0x85, 1, 0, 0, 0, 0]).next().is_err());
        assert_eq!(Der(&[0x02, 0x01, 0x05]).next(), Ok((0x02, &[5u8][..])));
        assert!(positive_integer(&[0x80]).is_err());
        assert!(positive_integer(&[0x00, 0x01]).is_err());
        assert_eq!(positive_integer(&[0x00, 0x80]), Ok(&[0x80u8][..]));
    }

    #[test]
    fn standard_base64() {
        assert_eq!(base64_standard("Zm9v YmFy\n").unwrap(), b"foobar");
        assert_eq!(base64_standard("Zg==").unwrap(), b"f");
        assert_eq!(base64_standard("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_standard("+/8=").unwrap(), [0xfb, 0xff]);
        for bad in ["", "Zg", "Zh==", "Zg=a", "Z===", "Zg==Zg==", "Zm9-", "Zm9_"] {
            assert_eq!(base64_standard(bad), None, "{bad}");
        }
    }

    fn rsa_jwk(extra: &str) -> String {
        let k = PublicKey::from_pem(RSA_SPKI, "x").unwrap();
        let KeyMaterial::Rsa { n, e } = k.material else {
            panic!()
        };
        format!(
            r#"{{"kty":"RSA","n":"{}","e":"{}"{extra}}}"#,
            base64url::encode(&n),
            base64url::encode(&e)
        )
    }

    #[test]
    fn jwks_parse_skip_and_refuse() {
        let set = format!(
            r#"{{"keys":[{},{{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}},{{"kty":"OKP","crv":"X25519","x":"AA"}},{{"kty":"AKP","alg":"ML-DSA-44"}}]}}"#,
            rsa_jwk(r#","kid":"r1","use":"sig","alg":"RS256""#)
        );
        let keys = parse_jwks(&obj(&set), "jwks").unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("r1"));
        assert!(keys[0].fits(Algorithm::RS256) && !keys[0].fits(Algorithm::PS256));

        for (set, what) in [
            (r#"{"keys":[]}"#.to_owned(), "empty"),
            (
                r#"{"keys":[{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}]}"#.to_owned(),
                "only unsupported",
            ),
            (r#"{"keys":{}}"#.to_owned(), "keys not array"),
            (r#"{}"#.to_owned(), "no keys"),
            (r#"{"keys":[1]}"#.to_owned(), "key not object"),
            (r#"{"keys":[{"n":"AQAB"}]}"#.to_owned(), "no kty"),
            (
                format!(r#"{{"keys":[{}]}}"#, rsa_jwk(r#","d":"AQAB""#)),
                "private",
            ),
            (
                format!(r#"{{"keys":[{}]}}"#, rsa_jwk(r#","kid":7"#)),
                "kid not string",
            ),
            (
                r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#.to_owned(),
                "tiny rsa",
            ),
            (
                r#"{"keys":[{"kty":"oct","k":"c2hvcnQ"}]}"#.to_owned(),
                "short secret",
            ),
            (r#"{"keys":[{"kty":"oct","k":"a=="}]}"#.to_owned(), "padded"),
            (
                r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}"#.to_owned(),
                "short ec",
            ),
            (
                r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"}]}"#.to_owned(),
                "short ed",
            ),
            (
                r#"{"keys":[{"kty":"EC","x":"AA","y":"AA"}]}"#.to_owned(),
                "ec no crv",
            ),
        ] {
            let e = parse_jwks(&obj(&set), "jwks").expect_err(what);
            assert_eq!(e.code(), ErrorCode::InvalidConfig, "{what}");
        }
    }

    #[test]
    fn rsa_limits() {
        let key = |n: Vec<u8>, e: Vec<u8>| KeyMaterial::Rsa { n, e }.check();
        let mut n2048 = vec![0xc1; 256];
        n2048[255] = 0x01;
        assert!(key(n2048.clone(), vec![1, 0, 1]).is_ok());
        // 2047 bits
        let mut short = n2048.clone();
        short[0] = 0x7f;
        assert!(key(short, vec![1, 0, 1]).is_err());
        // 4097 bits
        let mut long = vec![0x01];
        long.extend_from_slice(&[0xff; 512]);
        assert!(key(long, vec![1, 0, 1]).is_err());
        let mut n4096 = vec![0xff; 512];
        n4096[0] = 0x80;
        assert!(key(n4096, vec![3]).is_ok());
        // leading zeros don't count
        let mut padded = vec![0, 0];
        padded.extend_from_slice(&n2048);
        assert_eq!(
            KeyMaterial::Rsa {
                n: padded,
                e: vec![3]
            }
            .rsa_bits(),
            Some(2048)
        );
        for e in [
            vec![],
            vec![1],
            vec![2],
            vec![1, 0, 0],
            vec![2, 0, 0, 0, 1],
            vec![1; 6],
        ] {
            assert!(key(n2048.clone(), e.clone()).is_err(), "{e:?}");
        }
        let mut even = n2048;
        even[255] = 0x02;
        assert!(key(even, vec![3]).is_err());
    }

    #[test]
    fn selection_rule_6() {
        let rsa = PublicKey::from_pem(RSA_SPKI, "x").unwrap();
        let ec = PublicKey::from_pem(P256_SPKI, "x").unwrap();
        let with = |k: &PublicKey, kid: &str, alg: Option<&str>, u: Option<&str>| PublicKey {
            kid: Some(kid.into()),
            alg: alg.map(Into::into),
            key_use: u.map(Into::into),
            ..k.clone()
        };
        let set = KeySource::Jwks(vec![
            with(&rsa, "a", None, None),
            with(&ec, "b", Some("ES256"), Some("sig")),
            with(&rsa, "enc", None, Some("enc")),
            with(&rsa, "pinned", Some("PS256"), None),
            with(&rsa, "same", None, None),
            with(&ec, "same", None, None),
        ]);
        let s = |v: &str| Value::String(v.into());
        let sel = |kid: Option<Value>, alg| code(select(&set, kid.as_ref(), alg));
        assert_eq!(sel(Some(s("a")), Algorithm::RS256), "ok");
        assert_eq!(sel(Some(s("b")), Algorithm::ES256), "ok");
        assert_eq!(sel(Some(s("a")), Algorithm::ES256), "key_type_mismatch");
        assert_eq!(sel(Some(s("b")), Algorithm::ES384), "key_type_mismatch");
        assert_eq!(sel(Some(s("enc")), Algorithm::RS256), "key_type_mismatch");
        assert_eq!(
            sel(Some(s("pinned")), Algorithm::RS256),
            "key_type_mismatch"
        );
        assert_eq!(sel(Some(s("pinned")), Algorithm::PS256), "ok");
        assert_eq!(sel(Some(s("A")), Algorithm::RS256), "unknown_key");
        assert_eq!(
            sel(Some(s("../../etc/passwd")), Algorithm::RS256),
            "unknown_key"
        );
        assert_eq!(
            sel(Some(Value::Number(1.0)), Algorithm::RS256),
            "unknown_key"
        );
        assert_eq!(sel(Some(Value::Null), Algorithm::RS256), "unknown_key");
        assert_eq!(sel(None, Algorithm::RS256), "unknown_key");
        // Equal kids: the key that fits wins.
        let same = select(&set, Some(&s("same")), Algorithm::ES256).unwrap();
        assert!(matches!(same.material, KeyMaterial::Ec { .. }));
        let same = select(&set, Some(&s("same")), Algorithm::RS256).unwrap();
        assert!(matches!(same.material, KeyMaterial::Rsa { .. }));

        let one = KeySource::Jwks(vec![with(&ec, "only", None, None)]);
        assert_eq!(code(select(&one, None, Algorithm::ES256)), "ok");
        assert_eq!(
            code(select(&one, None, Algorithm::RS256)),
            "key_type_mismatch"
        );
        assert_eq!(
            code(select(&one, Some(&s("other")), Algorithm::ES256)),
            "unknown_key"
        );

        // A single key ignores kid; only its type counts.
        let single = KeySource::Key(rsa.clone());
        assert_eq!(
            code(select(&single, Some(&s("whatever")), Algorithm::RS256)),
            "ok"
        );
        assert_eq!(
            code(select(&single, None, Algorithm::HS256)),
            "key_type_mismatch"
        );
        let secret = KeySource::Key(PublicKey::from_secret(&[7; 32], "secret").unwrap());
        assert_eq!(code(select(&secret, None, Algorithm::HS512)), "ok");
        assert_eq!(
            code(select(&secret, None, Algorithm::RS256)),
            "key_type_mismatch"
        );
    }

    #[test]
    fn secrets_never_print() {
        let k = PublicKey::from_secret(b"0123456789abcdef0123456789abcdef-TOPSECRET", "secret")
            .unwrap();
        let dbg = format!("{k:?}");
        assert!(
            !dbg.contains("TOPSECRET") && !dbg.contains("48") && dbg.contains("[redacted]"),
            "{dbg}"
        );
        assert_eq!(
            code(PublicKey::from_secret(&[1; 31], "secret")),
            "invalid_config"
        );
        let rsa = PublicKey::from_pem(RSA_SPKI, "x").unwrap();
        assert!(format!("{rsa:?}").contains("bits: 2048"));
    }

    #[test]
    fn ed25519_scalar_bound() {
        let mut l_le: Vec<u8> = ED25519_ORDER.iter().rev().copied().collect();
        assert!(!ed25519_scalar_ok(&l_le));
        l_le[0] -= 1;
        assert!(ed25519_scalar_ok(&l_le));
        assert!(ed25519_scalar_ok(&[0; 32]));
        assert!(!ed25519_scalar_ok(&[0; 31]));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn der_and_pem_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = PublicKey::from_spki_der(&bytes, "k");
                let b64 = {
                    // Wrap arbitrary bytes as a PEM body too.
                    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
                    s.push_str(&base64url::encode(&bytes).replace('-', "+").replace('_', "/"));
                    s.push_str("\n-----END CERTIFICATE-----\n");
                    s
                };
                let _ = PublicKey::from_pem(&b64, "k");
            }

            #[test]
            fn pem_text_never_panics(s in "\\PC{0,200}") {
                let _ = PublicKey::from_pem(&s, "k");
                let _ = PublicKey::from_pem(&format!("-----BEGIN PUBLIC KEY-----{s}-----END PUBLIC KEY-----"), "k");
            }

            #[test]
            fn jwk_never_panics(s in r#"\{("(kty|crv|n|e|x|y|k|kid|alg|use|d)":("(RSA|EC|OKP|oct|P-256|P-384|Ed25519|AQAB|AA|[A-Za-z0-9_-]{0,90})"|1|null),?){0,8}\}"#) {
                if let Ok(o) = json::parse_object(s.as_bytes()) {
                    let _ = PublicKey::from_jwk(&o, "jwks");
                }
            }
        }
    }
}

//! The JWS signature algorithms this crate verifies, their signature
//! schemes and the ECDSA curves (RFC 7518, RFC 8037).

/// A JWS signature algorithm this crate verifies (RFC 7518 names). `none` is
/// deliberately not representable.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
#[non_exhaustive]
pub enum Scheme {
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
    pub const fn scheme(self) -> Scheme {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Scheme::Hmac,
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => Scheme::RsaPkcs1,
            Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => Scheme::RsaPss,
            Algorithm::ES256 | Algorithm::ES384 => Scheme::Ecdsa,
            Algorithm::EdDSA => Scheme::EdDsa,
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
#[non_exhaustive]
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

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

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
        assert_eq!(Algorithm::EdDSA.scheme(), Scheme::EdDsa);
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
}

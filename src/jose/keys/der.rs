//! A strict DER reader for the three key shapes a PEM block may hold:
//! SubjectPublicKeyInfo, PKCS#1 `RSAPublicKey` and the SubjectPublicKeyInfo
//! inside an X.509 certificate.

use super::material::{strip_leading_zeros, KeyMaterial};
use crate::jose::algorithm::Curve;

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
pub(super) const TAG_SEQUENCE: u8 = 0x30;
const TAG_CONTEXT_0: u8 = 0xa0;

const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

pub(super) type Problem<T> = std::result::Result<T, &'static str>;

const NOT_DER: &str = "is not a valid DER public key";

/// A reader over concatenated DER TLVs (single-byte tags, definite minimal
/// lengths).
pub(super) struct Der<'a>(pub(super) &'a [u8]);

impl<'a> Der<'a> {
    pub(super) fn next(&mut self) -> Problem<(u8, &'a [u8])> {
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
pub(super) fn single(der: &[u8], tag: u8) -> Problem<&[u8]> {
    let mut r = Der(der);
    let content = r.read_tag(tag)?;
    r.finish()?;
    Ok(content)
}

/// A positive DER INTEGER's magnitude, without leading zeros.
pub(super) fn positive_integer(content: &[u8]) -> Problem<&[u8]> {
    match content {
        [] => Err(NOT_DER),
        [first, ..] if first & 0x80 != 0 => Err(NOT_DER),
        [0, second, ..] if second & 0x80 == 0 => Err(NOT_DER),
        _ => Ok(strip_leading_zeros(content)),
    }
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`, content only.
pub(super) fn rsa_public_key(content: &[u8]) -> Problem<KeyMaterial> {
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
pub(super) fn spki_material(content: &[u8]) -> Problem<KeyMaterial> {
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
pub(super) fn certificate_spki(content: &[u8]) -> Problem<&[u8]> {
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

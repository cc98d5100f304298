//! The WebCrypto side of a signature check, for `js/host.js`
//! `verifySignature` (the token checks' and `verifyToken`'s step): the key's
//! id ([`key_id`]: the host keeps each imported `CryptoKey` under it), the
//! key's import request ([`key_request`]: the import and verify algorithms,
//! the key as a JWK or an HMAC secret) and, for the token checks' JSON
//! effects, all of it with the bytes ([`crypto_request`]).

use crate::jose::algorithm::{Algorithm, Curve};
use crate::jose::keys::KeyMaterial;
use crate::jose::verify::Prepared;
use crate::wire::base64url;
use crate::wire::json::{write_int, write_string};
use std::cell::Cell;

/// Keys [`key_id`] names; later ones get id 0 (imported for each check).
const KEY_IDS_MAX: usize = 64;

thread_local! {
    /// Every public key handed to WebCrypto on this page, named by its
    /// algorithm and components; a key's id is its place here plus one.
    /// Nothing is ever removed, so an id names one (algorithm, key) for the
    /// page's life: a kept `CryptoKey` can never stand for another key.
    /// A Cell (taken, then put back), not a RefCell: no borrow panic path.
    static KEY_IDS: Cell<Vec<Vec<u8>>> = const { Cell::new(Vec::new()) };
}

/// The id under which the host may keep `prepared`'s imported key: the same
/// for the same algorithm and public key, another for any other; 0 for an
/// HMAC secret (never kept) and past [`KEY_IDS_MAX`] keys.
pub fn key_id(prepared: &Prepared) -> u64 {
    // The algorithm (the key fits it: RSA, the curve, Ed25519), the first
    // component's length, the components: one key, one name.
    let (a, b): (&[u8], &[u8]) = match &prepared.key().material {
        KeyMaterial::Rsa { n, e } => (n, e),
        KeyMaterial::Ec { x, y, .. } => (x, y),
        KeyMaterial::Ed25519 { x } => (x, &[]),
        _ => return 0,
    };
    let mut name = vec![prepared.alg() as u8];
    name.extend_from_slice(&(a.len() as u32).to_le_bytes());
    name.extend_from_slice(a);
    name.extend_from_slice(b);
    KEY_IDS.with(|cell| {
        let mut ids = cell.take();
        let id = match ids.iter().position(|known| *known == name) {
            Some(at) => at as u64 + 1,
            None if ids.len() < KEY_IDS_MAX => {
                ids.push(name);
                ids.len() as u64
            }
            None => 0,
        };
        cell.set(ids);
        id
    })
}

fn hash(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS384 | Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => "SHA-384",
        Algorithm::HS512 | Algorithm::RS512 | Algorithm::PS512 => "SHA-512",
        _ => "SHA-256",
    }
}

fn member(out: &mut String, name: &str, value: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    write_string(out, name);
    out.push(':');
    write_string(out, value);
}

fn b64_member(out: &mut String, name: &str, bytes: &[u8]) {
    member(out, name, &base64url::encode(bytes));
}

fn curve_name(c: Curve) -> &'static str {
    if c == Curve::P384 {
        "P-384"
    } else {
        "P-256"
    }
}

/// How WebCrypto imports `prepared`'s key, as the members of a JSON object:
/// `"i": importAlgorithm, "v": verifyAlgorithm, "k": jwk | "r": rawSecret`
/// (bytes base64url).
fn key_members(prepared: &Prepared, out: &mut String) {
    let alg = prepared.alg();
    let material = &prepared.key().material;
    let h = hash(alg);
    // The WebCrypto algorithm, and what its verify parameters add.
    let (name, verify_extra) = match (alg, material) {
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, _) => ("HMAC", ""),
        (Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512, _) => (
            "RSA-PSS",
            match alg {
                Algorithm::PS384 => ",\"saltLength\":48",
                Algorithm::PS512 => ",\"saltLength\":64",
                _ => ",\"saltLength\":32",
            },
        ),
        (_, KeyMaterial::Ec { .. }) => ("ECDSA", ""),
        (Algorithm::EdDSA, _) => ("Ed25519", ""),
        _ => ("RSASSA-PKCS1-v1_5", ""),
    };
    out.push_str("\"i\":{");
    member(out, "name", name);
    match material {
        KeyMaterial::Ec { curve, .. } if name == "ECDSA" => {
            member(out, "namedCurve", curve_name(*curve))
        }
        _ if name != "Ed25519" => member(out, "hash", h),
        _ => {}
    }
    out.push_str("},\"v\":{");
    member(out, "name", name);
    if name == "ECDSA" {
        member(out, "hash", h);
    }
    out.push_str(verify_extra);
    out.push('}');
    match material {
        KeyMaterial::Rsa { n, e } => {
            out.push_str(",\"k\":{");
            member(out, "kty", "RSA");
            b64_member(out, "n", n);
            b64_member(out, "e", e);
            out.push('}');
        }
        KeyMaterial::Ec { curve, x, y } => {
            out.push_str(",\"k\":{");
            member(out, "kty", "EC");
            member(out, "crv", curve_name(*curve));
            b64_member(out, "x", x);
            b64_member(out, "y", y);
            out.push('}');
        }
        KeyMaterial::Ed25519 { x } => {
            out.push_str(",\"k\":{");
            member(out, "kty", "OKP");
            member(out, "crv", "Ed25519");
            b64_member(out, "x", x);
            out.push('}');
        }
        KeyMaterial::Secret(secret) => b64_member(out, "r", secret.expose()),
    }
}

/// `{"i": importAlgorithm, "v": verifyAlgorithm, "k": jwk | "r": rawSecret}`:
/// what the host imports when it holds no key under [`key_id`].
pub fn key_request(prepared: &Prepared, out: &mut String) {
    out.push('{');
    key_members(prepared, out);
    out.push('}');
}

/// Everything WebCrypto needs to check `prepared`'s signature, as one JSON
/// object (the token checks' effect): `{"id": keyId, "i", "v", "k" | "r"`
/// as in [`key_request`]`, "d": data, "s": signature}` (bytes base64url).
pub fn crypto_request(prepared: &Prepared, out: &mut String) {
    out.push_str("{\"id\":");
    write_int(out, key_id(prepared) as i64);
    out.push(',');
    key_members(prepared, out);
    b64_member(out, "d", prepared.signing_input());
    b64_member(out, "s", prepared.signature());
    out.push('}');
}

//! The WebCrypto request of a signature check: the algorithm's import and
//! verify parameters, the key as a JWK (or an HMAC secret) and the bytes, for
//! `js/host.js` `webVerify` (the token checks' and `verifyToken`'s step).

use crate::jose::algorithm::{Algorithm, Curve};
use crate::jose::keys::KeyMaterial;
use crate::jose::verify::Prepared;
use crate::wire::base64url;
use crate::wire::json::write_string;

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

/// What WebCrypto needs to check `prepared`'s signature, as JSON:
/// `{"i": importAlgorithm, "v": verifyAlgorithm, "k": jwk | "r": rawSecret,
/// "d": data, "s": signature}` (bytes base64url).
pub fn crypto_request(prepared: &Prepared, out: &mut String) {
    let alg = prepared.alg();
    let material = &prepared.key().material;
    let h = hash(alg);
    out.push_str("{\"i\":{");
    let verify_extra = match (alg, material) {
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, _) => {
            member(out, "name", "HMAC");
            member(out, "hash", h);
            ""
        }
        (Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512, _) => {
            member(out, "name", "RSA-PSS");
            member(out, "hash", h);
            match alg {
                Algorithm::PS384 => ",\"saltLength\":48",
                Algorithm::PS512 => ",\"saltLength\":64",
                _ => ",\"saltLength\":32",
            }
        }
        (_, KeyMaterial::Ec { curve, .. }) => {
            member(out, "name", "ECDSA");
            member(out, "namedCurve", curve_name(*curve));
            ""
        }
        (Algorithm::EdDSA, _) => {
            member(out, "name", "Ed25519");
            ""
        }
        _ => {
            member(out, "name", "RSASSA-PKCS1-v1_5");
            member(out, "hash", h);
            ""
        }
    };
    out.push_str("},\"v\":{");
    let name = match (alg, material) {
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, _) => "HMAC",
        (Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512, _) => "RSA-PSS",
        (_, KeyMaterial::Ec { .. }) => "ECDSA",
        (Algorithm::EdDSA, _) => "Ed25519",
        _ => "RSASSA-PKCS1-v1_5",
    };
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
    b64_member(out, "d", prepared.signing_input());
    b64_member(out, "s", prepared.signature());
    out.push('}');
}

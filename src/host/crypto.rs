//! Signature checks with the browser's WebCrypto: no crypto code in the wasm
//! (jsonwebtoken's rust_crypto would add ~160 KB gzip). Keys are
//! imported as JWKs from the core's [`KeyMaterial`], so native and browser
//! share one key parser; the core already checked lengths and ECDSA ranges.

use super::js;
use crate::error::{Error, ErrorCode};
use crate::jose::algorithm::{Algorithm, Curve};
use crate::jose::keys::{KeyMaterial, VerifyingKey};
use crate::wire::base64url;
use js_sys::{Array, Object, Uint8Array};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

fn subtle() -> Result<SubtleCrypto, Error> {
    js::get(&js::get(&js::global(), "crypto"), "subtle")
        .dyn_into::<SubtleCrypto>()
        .map_err(|_| {
            Error::new(
                ErrorCode::InvalidConfig,
                "WebCrypto is not available (a secure context is required)",
            )
        })
}

fn hash(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS384 | Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => "SHA-384",
        Algorithm::HS512 | Algorithm::RS512 | Algorithm::PS512 => "SHA-512",
        _ => "SHA-256",
    }
}

fn obj(pairs: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        js::set(&o, k, v);
    }
    o
}

fn b64(bytes: &[u8]) -> JsValue {
    base64url::encode(bytes).into()
}

/// (import algorithm, verify algorithm) for WebCrypto.
fn algorithms(alg: Algorithm, material: &KeyMaterial) -> (Object, Object) {
    let h: JsValue = hash(alg).into();
    match (alg, material) {
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, _) => {
            let a = obj(&[("name", "HMAC".into()), ("hash", h)]);
            (a.clone(), a)
        }
        (Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512, _) => {
            let salt = match alg {
                Algorithm::PS384 => 48,
                Algorithm::PS512 => 64,
                _ => 32,
            };
            (
                obj(&[("name", "RSA-PSS".into()), ("hash", h)]),
                obj(&[("name", "RSA-PSS".into()), ("saltLength", salt.into())]),
            )
        }
        (Algorithm::ES256 | Algorithm::ES384, KeyMaterial::Ec { curve, .. }) => {
            let crv = if *curve == Curve::P384 {
                "P-384"
            } else {
                "P-256"
            };
            (
                obj(&[("name", "ECDSA".into()), ("namedCurve", crv.into())]),
                obj(&[("name", "ECDSA".into()), ("hash", h)]),
            )
        }
        (Algorithm::EdDSA, _) => {
            let a = obj(&[("name", "Ed25519".into())]);
            (a.clone(), a)
        }
        _ => {
            let a = obj(&[("name", "RSASSA-PKCS1-v1_5".into()), ("hash", h)]);
            (a.clone(), a)
        }
    }
}

fn jwk(material: &KeyMaterial) -> Option<Object> {
    Some(match material {
        KeyMaterial::Rsa { n, e } => obj(&[("kty", "RSA".into()), ("n", b64(n)), ("e", b64(e))]),
        KeyMaterial::Ec { curve, x, y } => {
            let crv = if *curve == Curve::P384 {
                "P-384"
            } else {
                "P-256"
            };
            obj(&[
                ("kty", "EC".into()),
                ("crv", crv.into()),
                ("x", b64(x)),
                ("y", b64(y)),
            ])
        }
        KeyMaterial::Ed25519 { x } => obj(&[
            ("kty", "OKP".into()),
            ("crv", "Ed25519".into()),
            ("x", b64(x)),
        ]),
        KeyMaterial::Secret(_) => return None,
    })
}

async fn import(
    subtle: &SubtleCrypto,
    alg: Algorithm,
    key: &VerifyingKey,
    import_alg: &Object,
) -> Result<CryptoKey, Error> {
    let usages = Array::of1(&"verify".into());
    let promise = match (&key.material, jwk(&key.material)) {
        (_, Some(jwk)) => subtle.import_key_with_object("jwk", &jwk, import_alg, false, &usages),
        (KeyMaterial::Secret(secret), None) => {
            let raw = Uint8Array::from(secret.expose());
            subtle.import_key_with_object("raw", raw.unchecked_ref(), import_alg, false, &usages)
        }
        _ => {
            return Err(Error::new(
                ErrorCode::KeyTypeMismatch,
                "the key does not fit the token's alg",
            ))
        }
    };
    let _ = alg;
    let key = JsFuture::from(promise.map_err(|_| unusable())?)
        .await
        .map_err(|_| unusable())?;
    key.dyn_into::<CryptoKey>().map_err(|_| unusable())
}

/// Imported public keys, newest last, at most [`IMPORTED_MAX`]: importing an
/// RSA key costs more than the verification itself, and sessions and
/// `verifyToken` callers verify many tokens under the same few keys.
/// HMAC secrets are never kept.
const IMPORTED_MAX: usize = 16;

thread_local! {
    static IMPORTED: RefCell<Vec<(Algorithm, Vec<u8>, CryptoKey)>> = const { RefCell::new(Vec::new()) };
}

/// The public key bytes that identify an imported key; `None` for secrets.
fn fingerprint(material: &KeyMaterial) -> Option<Vec<u8>> {
    let (a, b, tag): (&[u8], &[u8], u8) = match material {
        KeyMaterial::Rsa { n, e } => (n, e, 0),
        KeyMaterial::Ec { curve, x, y } => (x, y, 1 + (*curve == Curve::P384) as u8),
        KeyMaterial::Ed25519 { x } => (x, &[], 3),
        KeyMaterial::Secret(_) => return None,
    };
    let mut out = Vec::with_capacity(a.len() + b.len() + 5);
    out.push(tag);
    out.extend_from_slice(&(a.len() as u32).to_le_bytes());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    Some(out)
}

async fn cached_import(
    subtle: &SubtleCrypto,
    alg: Algorithm,
    key: &VerifyingKey,
    import_alg: &Object,
) -> Result<CryptoKey, Error> {
    let Some(print) = fingerprint(&key.material) else {
        return import(subtle, alg, key, import_alg).await;
    };
    let hit = IMPORTED.with(|c| {
        c.borrow()
            .iter()
            .find(|(a, p, _)| *a == alg && *p == print)
            .map(|(_, _, k)| k.clone())
    });
    if let Some(k) = hit {
        return Ok(k);
    }
    let imported = import(subtle, alg, key, import_alg).await?;
    IMPORTED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= IMPORTED_MAX {
            c.remove(0);
        }
        c.push((alg, print, imported.clone()));
    });
    Ok(imported)
}

fn unusable() -> Error {
    Error::new(ErrorCode::InvalidConfig, "WebCrypto refused the key")
}

/// Whether `signature` over `message` verifies under `key` for `alg`.
pub async fn verify(
    alg: Algorithm,
    key: &VerifyingKey,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, Error> {
    let subtle = subtle()?;
    let (import_alg, verify_alg) = algorithms(alg, &key.material);
    // A key that passed the core's checks but that WebCrypto cannot import
    // (an EC point off the curve, a bad Ed25519 point) verifies nothing: the
    // native verifier answers false for it too, so both say bad_signature.
    let Ok(crypto_key) = cached_import(&subtle, alg, key, &import_alg).await else {
        return Ok(false);
    };
    let promise = subtle
        .verify_with_object_and_u8_array_and_u8_array(&verify_alg, &crypto_key, signature, message)
        .map_err(|_| unusable())?;
    // WebCrypto rejects malformed signatures instead of answering false.
    Ok(JsFuture::from(promise).await.ok().and_then(|v| v.as_bool()) == Some(true))
}

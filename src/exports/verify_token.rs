//! `verifyToken` in two halves around WebCrypto's verify: [`verify_prepare`]
//! runs rules 1–7 up to the signature and hands over the key's id
//! ([`key_id`]) and the bytes, [`verify_key`] the key when the host holds no
//! `CryptoKey` under that id, [`verify_finish`] takes WebCrypto's answer and
//! checks the claims. The bytes and numbers cross as one `Uint8Array`, not
//! as JSON with base64url (decoding that in JS cost more than the verify).

use super::error_json;
use super::webcrypto::{key_id, key_request};
use crate::error::{Error, ErrorCode, Result};
use crate::jose::keys::{KeyMaterial, KeySource, VerifyingKey};
use crate::jose::verify::{self, Prepared, VerifyOptions};
use crate::wire::json;
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

type Pending = (u64, Prepared, Rc<VerifyOptions>);

// Cells (taken, then put back), not RefCells: a RefCell borrow's panic path
// links core::fmt's padding into the wasm build (1.4 KB).
thread_local! {
    /// The options of the last call, parsed, by their JSON text: callers
    /// verify many tokens with the same options, and parsing them (JSON,
    /// PEM, DER, key checks) costs more than WebCrypto's verify (bench).
    static LAST_OPTIONS: Cell<Option<(String, Rc<VerifyOptions>)>> = const { Cell::new(None) };
    /// Verifications between their two halves. `verifyToken` always ends
    /// one (`js/host.js` `verifySignature` never rejects), so an entry
    /// lives one await. Not bounded: dropping the oldest failed a caller's
    /// good token as "no verification under way" once more than the bound
    /// were awaiting WebCrypto at once (a page verifying a batch).
    static PENDING: Cell<(u64, Vec<Pending>)> = const { Cell::new((1, Vec::new())) };
}

/// Whether `opts` holds an HMAC secret (option `secret`, or an `oct` key
/// in `jwks`): such options are not kept beyond the call.
fn holds_secret(opts: &VerifyOptions) -> bool {
    let secret = |k: &VerifyingKey| matches!(k.material, KeyMaterial::Secret(_));
    match &opts.key {
        Some(KeySource::Key(k)) => secret(k),
        Some(KeySource::Jwks(keys)) => keys.iter().any(secret),
        _ => false,
    }
}

fn options(text: &str) -> Result<Rc<VerifyOptions>> {
    let hit = LAST_OPTIONS.with(|last| {
        let kept = last.take();
        let hit = kept
            .as_ref()
            .filter(|(t, _)| t == text)
            .map(|(_, o)| o.clone());
        last.set(kept);
        hit
    });
    if let Some(opts) = hit {
        return Ok(opts);
    }
    let object = json::parse_object(text.as_bytes())
        .map_err(|_| Error::new(ErrorCode::InvalidConfig, "options must be an object"))?;
    let opts = Rc::new(VerifyOptions::from_json(&object)?);
    // An HMAC secret is not kept beyond the call (nor the text naming it).
    if !holds_secret(&opts) {
        LAST_OPTIONS.with(|last| last.set(Some((text.to_owned(), opts.clone()))));
    }
    Ok(opts)
}

/// `verifyToken`'s first half: rules 1–7 up to the signature. The answer
/// starts with three little-endian `f64`s, `[id, keyId, n]`: the
/// verification's id, the key's ([`key_id`]; 0: a secret, not to be kept)
/// and the signing input's length; the signing input (`n` bytes) and the
/// signature follow. On refusal `id` is 0 and the error's `[code, message]`
/// JSON follows.
#[wasm_bindgen(js_name = verifyPrepare)]
pub fn verify_prepare(token: &str, options_json: &str) -> Vec<u8> {
    let prepared =
        options(options_json).and_then(|opts| Ok((verify::prepare(token, &opts)?, opts)));
    let mut out = Vec::new();
    let number = |out: &mut Vec<u8>, n: u64| out.extend_from_slice(&(n as f64).to_le_bytes());
    match prepared {
        Err(e) => {
            out.resize(24, 0);
            out.extend_from_slice(error_json(&e).as_bytes());
        }
        Ok((prepared, opts)) => PENDING.with(|p| {
            let (next, mut list) = p.take();
            number(&mut out, next);
            number(&mut out, key_id(&prepared));
            number(&mut out, prepared.signing_input().len() as u64);
            out.extend_from_slice(prepared.signing_input());
            out.extend_from_slice(prepared.signature());
            list.push((next, prepared, opts));
            p.set((next + 1, list));
        }),
    }
    out
}

/// The key of verification `id` as WebCrypto imports it:
/// `{"i": importAlgorithm, "v": verifyAlgorithm, "k": jwk | "r": rawSecret}`
/// (`js/host.js` `verifySignature`); `null` when none is under way.
#[wasm_bindgen(js_name = verifyKey)]
pub fn verify_key(id: f64) -> String {
    PENDING.with(|p| {
        let (next, list) = p.take();
        let mut out = String::new();
        match list.iter().find(|(x, _, _)| *x == id as u64) {
            Some((_, prepared, _)) => key_request(prepared, &mut out),
            None => out.push_str("null"),
        }
        p.set((next, list));
        out
    })
}

/// The claims' JSON text, or the error's `[code, message]`.
#[wasm_bindgen(js_name = verifyFinish)]
pub fn verify_finish(id: f64, verified: bool, now: f64) -> String {
    let entry = PENDING.with(|p| {
        let (next, mut list) = p.take();
        let entry = list
            .iter()
            .position(|(x, _, _)| *x == id as u64)
            .and_then(|at| crate::session::take_at(&mut list, at));
        p.set((next, list));
        entry
    });
    let Some((_, prepared, opts)) = entry else {
        return error_json(&Error::malformed("no verification under way"));
    };
    if !verified {
        return error_json(&Error::new(
            ErrorCode::BadSignature,
            "the signature does not verify",
        ));
    }
    let now = opts.now_ms.unwrap_or(now as i64);
    match verify::finish(&prepared, &opts, now).and_then(|_| {
        String::from_utf8(prepared.jwt().payload().to_vec())
            .map_err(|_| Error::malformed("JWT payload is not UTF-8"))
    }) {
        Ok(payload) => payload,
        Err(e) => error_json(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::base64url;
    use crate::wire::json::write_string;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const RSA: &str = include_str!("../../tests/vectors/keys/rsa2048.pub.pem");
    const RSA_OTHER: &str = include_str!("../../tests/vectors/keys/attacker-rsa2048.pub.pem");
    const P256: &str = include_str!("../../tests/vectors/keys/p256.pub.pem");

    fn options(alg: &str, member: &str, value: &str) -> String {
        let mut out = format!(r#"{{"algorithms":["{alg}"],"#);
        write_string(&mut out, member);
        out.push(':');
        write_string(&mut out, value);
        out.push('}');
        out
    }

    /// A token whose signature has the right shape for `alg` (it verifies
    /// under no key: only the first half runs here).
    fn token(alg: &str) -> String {
        let signature = match alg {
            "ES256" => vec![1; 64],
            "HS256" => vec![2; 32],
            _ => vec![0; 256],
        };
        format!(
            "{}.{}.{}",
            base64url::encode(format!(r#"{{"alg":"{alg}"}}"#).as_bytes()),
            base64url::encode(br#"{"exp":4000000000}"#),
            base64url::encode(&signature)
        )
    }

    /// `[id, keyId, n]` and the rest of `verify_prepare`'s answer.
    fn prepare(alg: &str, member: &str, value: &str) -> ([u64; 3], Vec<u8>) {
        let out = verify_prepare(&token(alg), &options(alg, member, value));
        let number = |i: usize| f64::from_le_bytes(out[i * 8..i * 8 + 8].try_into().unwrap());
        (
            [number(0) as u64, number(1) as u64, number(2) as u64],
            out[24..].to_vec(),
        )
    }

    #[test]
    fn the_answer_holds_the_ids_and_the_bytes() {
        let t = token("RS256");
        let ([id, key, n], rest) = prepare("RS256", "publicKey", RSA);
        assert!(id > 0 && key > 0);
        let signing_input = &t[..t.rfind('.').unwrap()];
        assert_eq!(n as usize, signing_input.len());
        assert_eq!(&rest[..n as usize], signing_input.as_bytes());
        assert_eq!(rest[n as usize..], [0; 256]);
        let request = verify_key(id as f64);
        assert!(
            request.starts_with(r#"{"i":{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-256"},"v":{"name":"RSASSA-PKCS1-v1_5"},"k":{"kty":"RSA","n":""#),
            "{request}"
        );
        // Its second half takes it off the list; its key is asked for no more.
        assert!(verify_finish(id as f64, false, 0.0).contains("bad_signature"));
        assert_eq!(verify_key(id as f64), "null");

        let ([id, key, _], rest) = prepare("RS256", "publicKey", "not a key");
        assert_eq!((id, key), (0, 0));
        let error = String::from_utf8(rest).unwrap();
        assert!(
            error.starts_with(r#"["invalid_config","option 'publicKey' "#),
            "{error}"
        );
    }

    /// The key id `verify_prepare` gives (the verification is then ended).
    fn key(alg: &str, member: &str, value: &str) -> u64 {
        let ([id, key, _], _) = prepare(alg, member, value);
        verify_finish(id as f64, false, 0.0);
        key
    }

    #[test]
    fn a_key_id_names_one_algorithm_and_key() {
        let rsa = key("RS256", "publicKey", RSA);
        assert_eq!(
            key("RS256", "publicKey", RSA),
            rsa,
            "the same key, the same id"
        );
        let other = key("RS256", "publicKey", RSA_OTHER);
        let pss = key("PS256", "publicKey", RSA);
        let ec = key("ES256", "publicKey", P256);
        let ids = [rsa, other, pss, ec];
        for (i, a) in ids.iter().enumerate() {
            assert!(*a > 0 && ids[i + 1..].iter().all(|b| b != a), "{ids:?}");
        }
        // In either order, whatever options text names the key.
        assert_eq!(key("RS256", "publicKey", RSA), rsa);
        assert_eq!(key("RS256", "publicKey", &format!("\n{RSA}\n")), rsa);
        assert_eq!(key("PS256", "publicKey", RSA), pss);
        assert_eq!(key("RS256", "publicKey", RSA_OTHER), other);
        // An HMAC secret is never kept by the host.
        assert_eq!(key("HS256", "secret", &"k".repeat(32)), 0);
    }

    #[test]
    fn many_verifications_at_once_each_get_their_own_answer() {
        // A page verifying a batch: every first half runs before any
        // WebCrypto promise settles; each second half still finds its own.
        let text = options("RS256", "publicKey", RSA);
        let ids: Vec<f64> = (0..100)
            .map(|_| {
                let out = verify_prepare(&token("RS256"), &text);
                f64::from_le_bytes(out[..8].try_into().unwrap())
            })
            .collect();
        for id in ids {
            assert!(id > 0.0);
            let answer = verify_finish(id, false, 0.0);
            assert!(answer.contains("bad_signature"), "{id}: {answer}");
        }
        assert!(PENDING.with(|p| {
            let (next, list) = p.take();
            let empty = list.is_empty();
            p.set((next, list));
            empty
        }));
    }

    #[test]
    fn options_holding_an_hmac_secret_are_never_kept() {
        let secret = base64url::encode(&[b'k'; 32]);
        let jwks = format!(
            r#"{{"algorithms":["HS256"],"jwks":{{"keys":[{{"kty":"oct","k":"{secret}"}}]}}}}"#
        );
        let given = options("HS256", "secret", &"k".repeat(32));
        for text in [given, jwks] {
            let out = verify_prepare(&token("HS256"), &text);
            let id = f64::from_le_bytes(out[..8].try_into().unwrap());
            assert!(id > 0.0, "{}", String::from_utf8_lossy(&out[24..]));
            verify_finish(id, false, 0.0);
            let kept = LAST_OPTIONS.with(|last| {
                let kept = last.take();
                let text = kept.as_ref().map(|(t, _)| t.clone());
                last.set(kept);
                text
            });
            assert_ne!(kept.as_deref(), Some(text.as_str()), "kept: {text}");
        }
        // Public keys still are.
        let public = options("RS256", "publicKey", RSA);
        key("RS256", "publicKey", RSA);
        let kept = LAST_OPTIONS.with(|last| {
            let kept = last.take();
            let text = kept.as_ref().map(|(t, _)| t.clone());
            last.set(kept);
            text
        });
        assert_eq!(kept.as_deref(), Some(public.as_str()));
    }
}

//! Verification keys (verification rules 1 and 6), one file per job:
//! [`material`](KeyMaterial) (key components, HMAC secret bytes, the checks of
//! rule 1), `jwk` (JWK and JWK Set parsing), `pem` (PEM blocks), `der` (the
//! DER reader behind them) and `select` (which key verifies a token).
//!
//! Keys are held as raw components (RSA `n`/`e`, EC `x`/`y`, Ed25519 `x`,
//! HMAC bytes) so that one model serves both targets: the browser imports the
//! components into WebCrypto as a JWK, the native build turns them into
//! jsonwebtoken `DecodingKey`s. Parsing runs in this crate on both targets, so
//! a key is accepted or refused identically everywhere.
//!
//! PEM and DER are read by a small hand-written reader instead of a crate
//! (`der`, `spki`, `x509-cert`, `pem`): the wasm build must stay small (the
//! size tier's budget, `scripts/size.mjs`) and only three shapes are needed —
//! SubjectPublicKeyInfo, PKCS#1 `RSAPublicKey`, and the SubjectPublicKeyInfo
//! inside an X.509 certificate. A certificate is only a key container here:
//! its validity, chain and signature are not checked (the site pins the
//! certificate it configures).

mod der;
mod jwk;
mod material;
mod pem;
mod select;

pub use jwk::parse_jwks;
pub use material::{
    KeyMaterial, SecretBytes, VerifyingKey, MAX_RSA_BITS, MIN_RSA_BITS, MIN_SECRET_BYTES,
};
pub use select::{select, KeySource};

#[cfg(test)]
mod tests {
    use super::der::{positive_integer, Der};
    use super::pem::base64_standard;
    use super::*;
    use crate::error::{ErrorCode, Result};
    use crate::jose::algorithm::{Algorithm, Curve};
    use crate::wire::base64url;
    use crate::wire::json::{self, Object, Value};
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
    fn pem_forms_parse() {
        for pem in [RSA_SPKI, RSA_PKCS1, RSA_CERT, RSA_PSS_SPKI] {
            let k = VerifyingKey::from_pem(pem, "publicKey").unwrap();
            assert_eq!(k.material.rsa_bits(), Some(2048));
            assert!(k.fits(Algorithm::RS256) && k.fits(Algorithm::PS512));
            assert!(!k.fits(Algorithm::ES256) && !k.fits(Algorithm::HS256));
        }
        let spki = VerifyingKey::from_pem(RSA_SPKI, "publicKey").unwrap();
        let cert = VerifyingKey::from_pem(RSA_CERT, "publicKey").unwrap();
        let pkcs1 = VerifyingKey::from_pem(RSA_PKCS1, "publicKey").unwrap();
        let parts = |k: &VerifyingKey| match &k.material {
            KeyMaterial::Rsa { n, e } => (n.clone(), e.clone()),
            _ => panic!(),
        };
        assert_eq!(parts(&spki), parts(&cert));
        assert_eq!(parts(&spki), parts(&pkcs1));
        assert_eq!(parts(&spki).1, vec![1, 0, 1]);

        for pem in [P256_SPKI, P256_CERT] {
            let k = VerifyingKey::from_pem(pem, "publicKey").unwrap();
            assert!(k.fits(Algorithm::ES256) && !k.fits(Algorithm::ES384));
        }
        let k = VerifyingKey::from_pem(P384_SPKI, "publicKey").unwrap();
        assert!(k.fits(Algorithm::ES384) && !k.fits(Algorithm::ES256));
        for pem in [ED_SPKI, ED_CERT] {
            let k = VerifyingKey::from_pem(pem, "publicKey").unwrap();
            assert!(k.fits(Algorithm::EdDSA) && !k.fits(Algorithm::RS256));
        }
        // CRLF line ends and surrounding whitespace are fine.
        let crlf = RSA_SPKI.replace('\n', "\r\n");
        assert_eq!(
            code(VerifyingKey::from_pem(
                &format!("\n  {crlf}\n"),
                "publicKey"
            )),
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
            let e = VerifyingKey::from_pem(pem, "publicKey").expect_err(what);
            assert_eq!(e.code(), ErrorCode::InvalidConfig, "{what}");
            assert!(
                e.message().starts_with("option 'publicKey' "),
                "{what}: {}",
                e.message()
            );
        }
        let e = VerifyingKey::from_pem(RSA_1024, "validation.publicKey").unwrap_err();
        assert_eq!(
            e.message(),
            "option 'validation.publicKey' holds an RSA key shorter than 2048 bits"
        );
        let e = VerifyingKey::from_pem(RSA_PRIVATE, "publicKey").unwrap_err();
        assert!(e.message().contains("private key"));
        assert!(VerifyingKey::from_pem(K256_SPKI, "k")
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
        let e = VerifyingKey::from_spki_der(&der, "publicKey").unwrap_err();
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
        let k = VerifyingKey::from_pem(RSA_SPKI, "x").unwrap();
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
        let rsa = VerifyingKey::from_pem(RSA_SPKI, "x").unwrap();
        let ec = VerifyingKey::from_pem(P256_SPKI, "x").unwrap();
        let with = |k: &VerifyingKey, kid: &str, alg: Option<&str>, u: Option<&str>| VerifyingKey {
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
        let secret = KeySource::Key(VerifyingKey::from_secret(&[7; 32], "secret").unwrap());
        assert_eq!(code(select(&secret, None, Algorithm::HS512)), "ok");
        assert_eq!(
            code(select(&secret, None, Algorithm::RS256)),
            "key_type_mismatch"
        );
    }

    #[test]
    fn secrets_never_print() {
        let k = VerifyingKey::from_secret(b"0123456789abcdef0123456789abcdef-TOPSECRET", "secret")
            .unwrap();
        let dbg = format!("{k:?}");
        assert!(
            !dbg.contains("TOPSECRET") && !dbg.contains("48") && dbg.contains("[redacted]"),
            "{dbg}"
        );
        assert_eq!(
            code(VerifyingKey::from_secret(&[1; 31], "secret")),
            "invalid_config"
        );
        let rsa = VerifyingKey::from_pem(RSA_SPKI, "x").unwrap();
        assert!(format!("{rsa:?}").contains("bits: 2048"));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn der_and_pem_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = VerifyingKey::from_spki_der(&bytes, "k");
                let b64 = {
                    // Wrap arbitrary bytes as a PEM body too.
                    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
                    s.push_str(&base64url::encode(&bytes).replace('-', "+").replace('_', "/"));
                    s.push_str("\n-----END CERTIFICATE-----\n");
                    s
                };
                let _ = VerifyingKey::from_pem(&b64, "k");
            }

            #[test]
            fn pem_text_never_panics(s in "\\PC{0,200}") {
                let _ = VerifyingKey::from_pem(&s, "k");
                let _ = VerifyingKey::from_pem(&format!("-----BEGIN PUBLIC KEY-----{s}-----END PUBLIC KEY-----"), "k");
            }

            #[test]
            fn jwk_never_panics(s in r#"\{("(kty|crv|n|e|x|y|k|kid|alg|use|d)":("(RSA|EC|OKP|oct|P-256|P-384|Ed25519|AQAB|AA|[A-Za-z0-9_-]{0,90})"|1|null),?){0,8}\}"#) {
                if let Ok(o) = json::parse_object(s.as_bytes()) {
                    let _ = VerifyingKey::from_jwk(&o, "jwks");
                }
            }
        }
    }
}

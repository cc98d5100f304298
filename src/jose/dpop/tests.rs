//! DPoP vectors: RFC 7638 §3.1, RFC 9449 figures 2, 9 and §7.1, and proofs
//! built here, signed with a fixed test key, then checked one rule at a time.
//! The pure parts (thumbprint, `ath`, `htu`, signing input) also run in the
//! browser (`wasm-pack test`); validation needs the native verifier.

use super::*;
use crate::jose::keys::VerifyingKey;
use crate::wire::json::{self, Value};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// RFC 9449 figure 2: a token-request proof.
#[cfg(not(target_arch = "wasm32"))]
const RFC9449_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
/// RFC 9449 figure 9: the thumbprint of figure 2's key.
const RFC9449_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

fn ec(x: &str, y: &str) -> KeyMaterial {
    KeyMaterial::Ec {
        curve: crate::jose::algorithm::Curve::P256,
        x: base64url::decode(x.as_bytes()).unwrap(),
        y: base64url::decode(y.as_bytes()).unwrap(),
    }
}

#[test]
fn rfc7638_thumbprint_of_the_rsa_example() {
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let key = KeyMaterial::Rsa {
        n: base64url::decode(n.as_bytes()).unwrap(),
        e: base64url::decode(b"AQAB").unwrap(),
    };
    assert_eq!(
        thumbprint(&key).as_deref(),
        Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    );
    let secret = KeyMaterial::Secret(crate::jose::keys::SecretBytes::new(vec![7; 32]));
    assert_eq!(thumbprint(&secret), None);
}

#[test]
fn rfc9449_thumbprint_and_ath() {
    let x = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs";
    let y = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA";
    assert_eq!(thumbprint(&ec(x, y)).as_deref(), Some(RFC9449_JKT));
    assert_eq!(
        ProofKey::from_coordinates(x, y).unwrap().thumbprint(),
        RFC9449_JKT
    );
    // §7.1's access token and its ath.
    assert_eq!(
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn htu_drops_query_and_fragment_and_normalises() {
    let cases = [
        (
            "https://api.example.com/a/b?x=1#f",
            Some("https://api.example.com/a/b"),
        ),
        (
            "HTTPS://API.Example.com:443/a",
            Some("https://api.example.com/a"),
        ),
        ("http://127.0.0.1:80", Some("http://127.0.0.1/")),
        (
            "http://127.0.0.1:8080/api?q",
            Some("http://127.0.0.1:8080/api"),
        ),
        ("https://example.com#frag", Some("https://example.com/")),
        ("https://user@example.com/", None),
        ("ftp://example.com/", None),
        ("/relative", None),
        ("https:///nohost", None),
    ];
    for (url, want) in cases {
        assert_eq!(htu(url).as_deref(), want, "{url}");
    }
}

#[test]
fn proof_key_refuses_other_coordinates() {
    let e = ProofKey::from_coordinates("AAAA", "AAAA").unwrap_err();
    assert_eq!(e.code(), ErrorCode::DpopInvalid);
    assert_eq!(e.detail(), Some("jwk"));
}

#[test]
fn signing_input_has_the_header_and_claims_of_rfc9449() {
    let key = ProofKey::from_coordinates(
        "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
        "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    )
    .unwrap();
    let claims = ProofClaims {
        htm: "GET".into(),
        htu: "https://resource.example.org/protectedresource".into(),
        iat: 1562262618,
        jti: "e1j3V_bKic8-LAEB".into(),
        ath: Some(access_token_hash(
            "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU",
        )),
        nonce: Some("eyJ7S_zG.eyJH0-Z.HX4w-7v".into()),
    };
    let input = signing_input(&key, &claims);
    let (h, p) = input.split_once('.').unwrap();
    let header = json::parse_object(&base64url::decode(h.as_bytes()).unwrap()).unwrap();
    assert_eq!(header.get_str("typ"), Some("dpop+jwt"));
    assert_eq!(header.get_str("alg"), Some("ES256"));
    let jwk = header.get("jwk").and_then(Value::as_object).unwrap();
    let material = VerifyingKey::from_jwk(jwk, "jwk")
        .unwrap()
        .unwrap()
        .material;
    assert_eq!(thumbprint(&material).as_deref(), Some(RFC9449_JKT));
    let payload = json::parse_object(&base64url::decode(p.as_bytes()).unwrap()).unwrap();
    assert_eq!(payload.get_str("htm"), Some("GET"));
    assert_eq!(
        payload.get_str("htu"),
        Some("https://resource.example.org/protectedresource")
    );
    assert_eq!(
        payload.get("iat").and_then(Value::as_f64),
        Some(1562262618.0)
    );
    assert_eq!(payload.get_str("jti"), Some("e1j3V_bKic8-LAEB"));
    assert_eq!(
        payload.get_str("ath"),
        Some("fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo")
    );
    assert_eq!(payload.get_str("nonce"), Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"));
    assert!(assemble(&input, &[1; 63]).is_err());
    assert_eq!(assemble(&input, &[1; 64]).unwrap().split('.').count(), 3);
}

#[test]
fn bound_thumbprint_reads_cnf_jkt() {
    let claims = json::parse_object(br#"{"sub":"c","cnf":{"jkt":"abc"}}"#).unwrap();
    assert_eq!(bound_thumbprint(&claims), Some("abc"));
    let bare = json::parse_object(br#"{"sub":"c","cnf":{"x5t#S256":"q"}}"#).unwrap();
    assert_eq!(bound_thumbprint(&bare), None);
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use crate::error::Result;
    use crate::time::Millis;
    use jsonwebtoken::{crypto, Algorithm as J, EncodingKey};

    /// A fixed P-256 test key (PKCS#8 DER, hex) and its public coordinates.
    const KEY_PEM: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420c38f74a0d495895f0952f38a9151003fa1da16f1f94baa063c44f04fde75aae6a1440342000475002bd54537a6a7d90ed6fcbe74fdbc95caddced58565d2e49eb5625c9de96890e67ac0d4aa9e1f2241bc30a4eee7b7c02ac8881e1637ff51e040852a180dd2";
    const KEY_X: &str = "dQAr1UU3pqfZDtb8vnT9vJXK3c7VhWXS5J61Ylyd6Wg";
    const KEY_Y: &str = "kOZ6wNSqnh8iQbwwpO7nt8AqyIgeFjf_UeBAhSoYDdI";
    /// Another key (an attacker's).
    const OTHER_PEM: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02010104201ffa134795af43a5d7ba20543a403e1fa90098eaa7eec8a1c72aaa0cebe85109a144034200047e0b7547dbdd6ea6c04394c4f6c78aceda5bca7b1229d170cb3b485ade6836e3b17928fabc4d35b1b7181291040145913439cc9e057ce9fab1e50a1d924ea526";
    const OTHER_X: &str = "fgt1R9vdbqbAQ5TE9seKztpbynsSKdFwyztIWt5oNuM";
    const OTHER_Y: &str = "sXko-rxNNbG3GBKRBAFFkTQ5zJ4FfOn6seUKHZJOpSY";

    const NOW: Millis = 1_800_000_000_000;
    const URL: &str = "https://chat.example.com/api/messages";
    const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjIn0.c2ln";

    fn der(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Signs `input` as WebCrypto would (raw R ‖ S).
    fn sign(pem: &str, input: &str) -> Vec<u8> {
        let key = EncodingKey::from_ec_der(&der(pem));
        let b64 = crypto::sign(input.as_bytes(), &key, J::ES256).unwrap();
        base64url::decode(b64.as_bytes()).unwrap()
    }

    fn claims(jti: &str) -> ProofClaims {
        ProofClaims {
            htm: "POST".into(),
            htu: htu(URL).unwrap(),
            iat: NOW / 1000,
            jti: jti.into(),
            ath: Some(access_token_hash(TOKEN)),
            nonce: Some("n-1".into()),
        }
    }

    fn proof_by(pem: &str, x: &str, y: &str, c: &ProofClaims) -> String {
        let key = ProofKey::from_coordinates(x, y).unwrap();
        let input = signing_input(&key, c);
        assemble(&input, &sign(pem, &input)).unwrap()
    }

    fn proof(c: &ProofClaims) -> String {
        proof_by(KEY_PEM, KEY_X, KEY_Y, c)
    }

    fn jkt() -> String {
        ProofKey::from_coordinates(KEY_X, KEY_Y)
            .unwrap()
            .thumbprint()
    }

    fn requirements<'a>(bound: &'a str) -> ProofRequirements<'a> {
        ProofRequirements {
            access_token: Some(TOKEN),
            bound_jkt: Some(bound),
            nonces: &["n-0", "n-1"],
            ..ProofRequirements::new("POST", "https://chat.example.com/api/messages?page=2")
        }
    }

    /// The outcome's code and detail.
    fn outcome(r: Result<ValidProof>) -> (&'static str, Option<&'static str>) {
        match r {
            Ok(_) => ("ok", None),
            Err(e) => (e.code().as_str(), e.detail()),
        }
    }

    #[test]
    fn rfc9449_figure_2_verifies_and_is_then_a_replay() {
        let cache = MemoryReplayCache::new(10);
        let req = ProofRequirements::new("POST", "https://server.example.com/token");
        let ok = validate_proof(RFC9449_PROOF, &req, 1_562_262_616_000, &cache).unwrap();
        assert_eq!(ok.jkt, RFC9449_JKT);
        assert_eq!(ok.jti, "-BwC3ESc6acc2lTc");
        assert_eq!(ok.iat, 1_562_262_616);
        assert_eq!(
            outcome(validate_proof(
                RFC9449_PROOF,
                &req,
                1_562_262_620_000,
                &cache
            )),
            ("dpop_replayed", None)
        );
        // Five minutes later it is too old anyway.
        let fresh = MemoryReplayCache::new(10);
        assert_eq!(
            outcome(validate_proof(
                RFC9449_PROOF,
                &req,
                1_562_262_917_000,
                &fresh
            )),
            ("dpop_invalid", Some("iat"))
        );
        // An access token presented with a token-request proof: no ath.
        let with_token = ProofRequirements {
            access_token: Some("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            ..req
        };
        assert_eq!(
            outcome(validate_proof(
                RFC9449_PROOF,
                &with_token,
                1_562_262_616_000,
                &MemoryReplayCache::new(10)
            )),
            ("dpop_invalid", Some("ath"))
        );
    }

    #[test]
    fn a_built_proof_validates_and_binds_to_its_key() {
        let cache = MemoryReplayCache::new(10);
        let bound = jkt();
        let ok =
            validate_proof(&proof(&claims("j-1")), &requirements(&bound), NOW, &cache).unwrap();
        assert_eq!(ok.jkt, bound);
        assert_eq!(ok.nonce.as_deref(), Some("n-1"));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn each_rule_has_its_code() {
        let bound = jkt();
        let check = |p: &str, req: &ProofRequirements, now: Millis| {
            outcome(validate_proof(p, req, now, &MemoryReplayCache::new(10)))
        };
        let req = requirements(&bound);
        let with = |f: &dyn Fn(&mut ProofClaims)| {
            let mut c = claims("j");
            f(&mut c);
            proof(&c)
        };
        assert_eq!(check(&with(&|_| {}), &req, NOW), ("ok", None));
        assert_eq!(
            check(&with(&|c| c.htm = "GET".into()), &req, NOW),
            ("dpop_invalid", Some("htm"))
        );
        assert_eq!(
            check(
                &with(&|c| c.htu = "https://chat.example.com/api/other".into()),
                &req,
                NOW
            ),
            ("dpop_invalid", Some("htu"))
        );
        assert_eq!(
            check(
                &with(&|c| c.htu = "https://evil.example/api/messages".into()),
                &req,
                NOW
            ),
            ("dpop_invalid", Some("htu"))
        );
        assert_eq!(
            check(&with(&|c| c.iat -= 301), &req, NOW),
            ("dpop_invalid", Some("iat"))
        );
        assert_eq!(check(&with(&|c| c.iat -= 299), &req, NOW), ("ok", None));
        assert_eq!(
            check(&with(&|c| c.iat += 61), &req, NOW),
            ("dpop_invalid", Some("iat"))
        );
        assert_eq!(
            check(&with(&|c| c.ath = None), &req, NOW),
            ("dpop_invalid", Some("ath"))
        );
        assert_eq!(
            check(
                &with(&|c| c.ath = Some(access_token_hash("other"))),
                &req,
                NOW
            ),
            ("dpop_invalid", Some("ath"))
        );
        assert_eq!(
            check(&with(&|c| c.nonce = None), &req, NOW),
            ("dpop_nonce_required", None)
        );
        assert_eq!(
            check(&with(&|c| c.nonce = Some("n-stale".into())), &req, NOW),
            ("dpop_nonce_required", None)
        );
        assert_eq!(
            check(&with(&|c| c.jti = String::new()), &req, NOW),
            ("dpop_invalid", Some("jti"))
        );
        // Another key, valid in itself, against the binding.
        let stolen = proof_by(OTHER_PEM, OTHER_X, OTHER_Y, &claims("j"));
        assert_eq!(check(&stolen, &req, NOW), ("dpop_key_mismatch", None));
        // A key claiming to be ours but signed by another.
        let key = ProofKey::from_coordinates(KEY_X, KEY_Y).unwrap();
        let input = signing_input(&key, &claims("j"));
        let forged = assemble(&input, &sign(OTHER_PEM, &input)).unwrap();
        assert_eq!(check(&forged, &req, NOW), ("bad_signature", None));
        assert_eq!(check("a.b", &req, NOW), ("dpop_invalid", Some("syntax")));
    }

    /// A proof with a hand-made header, signed by the test key.
    fn with_header(header: &str, alg: J) -> String {
        let payload = claims("j").payload_json();
        let input = format!(
            "{}.{}",
            base64url::encode(header.as_bytes()),
            base64url::encode(payload.as_bytes())
        );
        let key = match alg {
            J::HS256 => EncodingKey::from_secret(&[7; 32]),
            _ => EncodingKey::from_ec_der(&der(KEY_PEM)),
        };
        let sig = crypto::sign(input.as_bytes(), &key, alg).unwrap();
        format!("{input}.{sig}")
    }

    #[test]
    fn headers_are_checked() {
        let bound = jkt();
        let req = requirements(&bound);
        let check = |p: &str| outcome(validate_proof(p, &req, NOW, &MemoryReplayCache::new(10)));
        let jwk = format!(r#"{{"kty":"EC","crv":"P-256","x":"{KEY_X}","y":"{KEY_Y}"}}"#);
        let ok = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{jwk}}}"#);
        assert_eq!(check(&with_header(&ok, J::ES256)), ("ok", None));
        let jwt_typ = format!(r#"{{"typ":"JWT","alg":"ES256","jwk":{jwk}}}"#);
        assert_eq!(
            check(&with_header(&jwt_typ, J::ES256)),
            ("dpop_invalid", Some("typ"))
        );
        let no_jwk = r#"{"typ":"dpop+jwt","alg":"ES256"}"#;
        assert_eq!(
            check(&with_header(no_jwk, J::ES256)),
            ("dpop_invalid", Some("jwk"))
        );
        let private = format!(
            r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{{"kty":"EC","crv":"P-256","x":"{KEY_X}","y":"{KEY_Y}","d":"AAAA"}}}}"#
        );
        assert_eq!(
            check(&with_header(&private, J::ES256)),
            ("dpop_invalid", Some("jwk"))
        );
        let hmac = r#"{"typ":"dpop+jwt","alg":"HS256","jwk":{"kty":"oct","k":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"}}"#;
        assert_eq!(
            check(&with_header(hmac, J::HS256)),
            ("alg_not_allowed", None)
        );
        let crit = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","crit":["x"],"jwk":{jwk}}}"#);
        assert_eq!(
            check(&with_header(&crit, J::ES256)),
            ("dpop_invalid", Some("syntax"))
        );
    }

    #[test]
    fn replays_are_per_key_and_expire() {
        let cache = MemoryReplayCache::with_quota(2, 2);
        assert!(cache.first_use("k", "a", 2_000, 1_000));
        assert!(!cache.first_use("k", "a", 2_000, 1_500));
        assert!(cache.first_use("other", "a", 2_000, 1_500));
        // Full of live entries: refused, fail closed.
        assert!(!cache.first_use("k", "b", 2_000, 1_500));
        // Past their end they are swept and the id may come again.
        assert!(cache.first_use("k", "b", 3_000, 2_000));
        assert!(cache.first_use("k", "a", 3_000, 2_000));
        assert_eq!(cache.len(), 2);
    }

    /// Review 18 finding 1: one key sending fresh proofs fills its own
    /// quota only; other keys' proofs are still accepted, and memory stays
    /// bounded.
    #[test]
    fn one_flooding_key_does_not_lock_out_the_others() {
        let cache = MemoryReplayCache::new(64);
        let mut accepted = 0;
        for i in 0..1_000 {
            if cache.first_use("flood", &i.to_string(), 300_000, 1_000) {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 4, "a key's quota is a sixteenth of the capacity");
        assert!(cache.first_use("victim", "a", 300_000, 1_001));
        assert!(
            !cache.first_use("victim", "a", 300_000, 1_002),
            "still a replay"
        );
        assert_eq!(cache.len(), 5);
        // Past their end, the flooding key's entries are swept.
        assert!(cache.first_use("flood", "late", 600_000, 300_000));
        assert_eq!(cache.len(), 1);
    }
}

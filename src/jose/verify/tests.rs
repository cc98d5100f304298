use super::*;
// Most of these tests sign with the hmac crate and verify through
// `verify_token` (NativeVerifier): native only. In the browser the same
// rules are checked by tests/wasm_vectors.rs through `verifyToken`.
#[cfg(not(target_arch = "wasm32"))]
use crate::jose::algorithm::Curve;
#[cfg(not(target_arch = "wasm32"))]
use crate::wire::base64url;
use crate::wire::json;
#[cfg(not(target_arch = "wasm32"))]
use hmac::{Hmac, Mac};
#[cfg(not(target_arch = "wasm32"))]
use sha2::{Sha256, Sha384, Sha512};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const NOW: Millis = 1_700_000_000_000;
#[cfg(not(target_arch = "wasm32"))]
const RSA_SPKI: &str = include_str!("../../../tests/vectors/keys/rsa2048.pub.pem");
#[cfg(not(target_arch = "wasm32"))]
const P256_SPKI: &str = include_str!("../../../tests/vectors/keys/p256.pub.pem");
#[cfg(not(target_arch = "wasm32"))]
const P384_SPKI: &str = include_str!("../../../tests/vectors/keys/p384.pub.pem");
#[cfg(not(target_arch = "wasm32"))]
const ED_SPKI: &str = include_str!("../../../tests/vectors/keys/ed25519.pub.pem");

#[cfg(not(target_arch = "wasm32"))]
fn b64(s: &str) -> String {
    base64url::encode(s.as_bytes())
}

#[cfg(not(target_arch = "wasm32"))]
fn hmac(alg: &str, key: &[u8], msg: &[u8]) -> Vec<u8> {
    match alg {
        "HS384" => Hmac::<Sha384>::new_from_slice(key)
            .unwrap()
            .chain_update(msg)
            .finalize()
            .into_bytes()
            .to_vec(),
        "HS512" => Hmac::<Sha512>::new_from_slice(key)
            .unwrap()
            .chain_update(msg)
            .finalize()
            .into_bytes()
            .to_vec(),
        _ => Hmac::<Sha256>::new_from_slice(key)
            .unwrap()
            .chain_update(msg)
            .finalize()
            .into_bytes()
            .to_vec(),
    }
}

/// An HMAC-signed token from raw header and payload JSON texts.
#[cfg(not(target_arch = "wasm32"))]
fn hs(header: &str, payload: &str) -> String {
    let alg = json::parse_object(header.as_bytes())
        .ok()
        .and_then(|h| h.get_str("alg").map(str::to_owned))
        .unwrap_or_default();
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = hmac(&alg, SECRET.as_bytes(), input.as_bytes());
    format!("{input}.{}", base64url::encode(&sig))
}

fn payload(extra: &str) -> String {
    format!(
        r#"{{"sub":"c1","iss":"https://issuer","aud":"chat","exp":1700003600,"iat":1699999990{extra}}}"#
    )
}

fn opts(json_text: &str) -> Result<VerifyOptions> {
    VerifyOptions::from_json(&json::parse_object(json_text.as_bytes()).unwrap())
}

fn hs_opts(extra: &str) -> VerifyOptions {
    opts(&format!(
        r#"{{"algorithms":["HS256","HS384","HS512"],"secret":"{SECRET}"{extra}}}"#
    ))
    .unwrap()
}

fn code_of<T>(r: Result<T>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code().as_str(),
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn check(token: &str, o: &VerifyOptions) -> &'static str {
    code_of(verify_token(token, o, NOW))
}

/// A verifier with a fixed answer, to test the staging around it.
#[cfg(not(target_arch = "wasm32"))]
struct Fixed(bool);
#[cfg(not(target_arch = "wasm32"))]
impl SignatureVerifier for Fixed {
    fn verify(&self, _: Algorithm, _: &VerifyingKey, _: &[u8], _: &[u8]) -> bool {
        self.0
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn raw(header: &str, payload: &str, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header),
        b64(payload),
        base64url::encode(sig)
    )
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn valid_hmac_tokens() {
    let o = hs_opts("");
    for alg in ["HS256", "HS384", "HS512"] {
        let t = hs(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), &payload(""));
        let claims = verify_token(&t, &o, NOW).unwrap();
        assert_eq!(claims.sub.as_deref(), Some("c1"));
    }
}

#[test]
fn rule_1_options() {
    let ok = |s: &str| code_of(opts(s));
    let s = format!(r#""secret":"{SECRET}""#);
    assert_eq!(ok(&format!(r#"{{"algorithms":["HS256"],{s}}}"#)), "ok");
    // An allow-list that fits no key is judged per token (rules 4 and 6).
    assert_eq!(ok(&format!(r#"{{"algorithms":["RS256"],{s}}}"#)), "ok");
    for bad in [
        format!(r#"{{{s}}}"#),
        format!(r#"{{"algorithms":[],{s}}}"#),
        format!(r#"{{"algorithms":"HS256",{s}}}"#),
        format!(r#"{{"algorithms":[1],{s}}}"#),
        format!(r#"{{"algorithms":["HS256","none"],{s}}}"#),
        format!(r#"{{"algorithms":["NoNe"],{s}}}"#),
        format!(r#"{{"algorithms":["hs256"],{s}}}"#),
        r#"{"algorithms":["HS256"]}"#.to_owned(),
        r#"{"algorithms":["HS256"],"secret":"short"}"#.to_owned(),
        r#"{"algorithms":["HS256"],"secret":5}"#.to_owned(),
        format!(r#"{{"algorithms":["HS256"],{s},"jwks":{{"keys":[]}}}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"issuer":""}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"issuer":null}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"audience":""}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"audience":[]}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"audience":["a",""]}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"audience":[1]}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"customerId":""}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"customerIdClaim":""}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"customerIdClaim":1}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"leewaySeconds":-1}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"leewaySeconds":"30"}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"now":-1}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"now":"now"}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"maxTokenBytes":0}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"maxTokenBytes":1.5}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"maxTokenBytes":1e12}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"typ":"JOSE"}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"typ":1}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"issuers":"x"}}"#),
        format!(r#"{{"algorithms":["HS256"],{s},"max_token_bytes":10}}"#),
        r#"{"algorithms":["RS256"],"publicKey":"not a pem"}"#.to_owned(),
        r#"{"algorithms":["RS256"],"publicKey":{}}"#.to_owned(),
        r#"{"algorithms":["RS256"],"jwks":"{}"}"#.to_owned(),
    ] {
        assert_eq!(ok(&bad), "invalid_config", "{bad}");
    }
    let e = opts(&format!(r#"{{"algorithms":["HS256"],{s},"leeway":1}}"#)).unwrap_err();
    assert_eq!(e.message(), "option 'leeway' is not a known option");
    let e = opts(&format!(r#"{{"algorithms":["HS256"],{s},"audience":[]}}"#)).unwrap_err();
    assert!(e.message().starts_with("option 'audience' "));
    let e = opts(r#"{"algorithms":["HS256"],"secret":"tiny-secret-never-printed"}"#).unwrap_err();
    assert!(!e.message().contains("tiny-secret"));

    let o = hs_opts(
        r#","issuer":"i","audience":["a","b"],"customerId":"c","customerIdClaim":null,"leewaySeconds":0,"now":5.9,"maxTokenBytes":100,"typ":"at+jwt""#,
    );
    assert_eq!(o.issuer.as_deref(), Some("i"));
    assert_eq!(o.audience, Some(vec!["a".to_owned(), "b".to_owned()]));
    assert_eq!(o.customer_id_claim, None);
    assert_eq!(o.leeway_seconds, 0.0);
    assert_eq!(o.now_ms, Some(5));
    assert_eq!(o.max_token_bytes, 100);
    let d = hs_opts(r#","audience":"x""#);
    assert_eq!(d.audience, Some(vec!["x".to_owned()]));
    assert_eq!(d.customer_id_claim.as_deref(), Some("sub"));
    assert_eq!(d.leeway_seconds, 30.0);
    assert_eq!(d.max_token_bytes, 16384);

    // Rule 1 comes first, even before the size check.
    let mut bad = hs_opts("");
    bad.leeway_seconds = f64::NAN;
    assert_eq!(
        code_of(prepare(&"x".repeat(100_000), &bad)),
        "invalid_config"
    );
    let mut bad = hs_opts("");
    bad.algorithms.clear();
    assert_eq!(code_of(prepare("a.b.c", &bad)), "invalid_config");
    let claims_only = VerifyOptions::new(vec![Algorithm::RS256], None);
    assert_eq!(code_of(prepare("a.b.c", &claims_only)), "invalid_config");
    // A hand-built weak key is caught too.
    let weak = VerifyOptions::new(
        vec![Algorithm::HS256],
        Some(KeySource::Key(VerifyingKey {
            material: KeyMaterial::Secret(keys::SecretBytes::new(vec![1; 8])),
            kid: None,
            alg: None,
            key_use: None,
        })),
    );
    assert_eq!(code_of(prepare("a.b.c", &weak)), "invalid_config");
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn rules_2_to_4() {
    let o = hs_opts("");
    let good = hs(r#"{"alg":"HS256"}"#, &payload(""));
    assert_eq!(check(&good, &o), "ok");
    // 2: size first, even for garbage.
    let mut small = o.clone();
    small.max_token_bytes = good.len() - 1;
    assert_eq!(check(&good, &small), "token_too_large");
    small.max_token_bytes = good.len();
    assert_eq!(check(&good, &small), "ok");
    assert_eq!(check(&"!".repeat(16_385), &o), "token_too_large");
    // 3
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        &format!("{good}="),
        &format!(" {good}"),
        &good.replacen('.', "+.", 1),
        &raw("not json", &payload(""), &[0; 32]),
        &raw("[]", &payload(""), &[0; 32]),
        &raw(r#"{"alg":"HS256","alg":"HS256"}"#, &payload(""), &[0; 32]),
        &raw(
            &format!(
                r#"{{"alg":"HS256","x":{}1{}}}"#,
                "[".repeat(64),
                "]".repeat(64)
            ),
            &payload(""),
            &[0; 32],
        ),
    ] {
        assert_eq!(check(bad, &o), "malformed", "{bad}");
    }
    let ok63 = hs(
        &format!(
            r#"{{"alg":"HS256","x":{}1{}}}"#,
            "[".repeat(63),
            "]".repeat(63)
        ),
        &payload(""),
    );
    assert_eq!(check(&ok63, &o), "ok");
    // 4a
    assert_eq!(
        check(&raw(r#"{"typ":"JWT"}"#, &payload(""), &[]), &o),
        "malformed"
    );
    assert_eq!(
        check(&raw(r#"{"alg":null}"#, &payload(""), &[]), &o),
        "malformed"
    );
    // 4b
    for alg in [
        "none", "None", "NONE", "nOnE", "hs256", "RS256", "HS256 ", "",
    ] {
        let t = raw(&format!(r#"{{"alg":"{alg}"}}"#), &payload(""), &[]);
        assert_eq!(check(&t, &o), "alg_not_allowed", "{alg}");
    }
    let only256 = opts(&format!(
        r#"{{"algorithms":["HS256"],"secret":"{SECRET}"}}"#
    ))
    .unwrap();
    assert_eq!(
        check(&hs(r#"{"alg":"HS512"}"#, &payload("")), &only256),
        "alg_not_allowed"
    );
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn rule_5_header() {
    let o = hs_opts("");
    for h in [
        r#"{"alg":"HS256","crit":["exp"]}"#,
        r#"{"alg":"HS256","crit":[]}"#,
        r#"{"alg":"HS256","zip":"DEF"}"#,
        r#"{"alg":"HS256","cty":"JWT"}"#,
        r#"{"alg":"HS256","typ":"JOSE"}"#,
        r#"{"alg":"HS256","typ":"application/jwt"}"#,
        r#"{"alg":"HS256","typ":1}"#,
        r#"{"alg":"HS256","typ":null}"#,
    ] {
        assert_eq!(check(&hs(h, &payload("")), &o), "malformed", "{h}");
    }
    for t in [
        "JWT",
        "jwt",
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/At+JWT",
    ] {
        let h = format!(r#"{{"alg":"HS256","typ":"{t}"}}"#);
        assert_eq!(check(&hs(&h, &payload("")), &o), "ok", "{t}");
    }
    let at = hs_opts(r#","typ":"at+jwt""#);
    let tok = |t: Option<&str>| match t {
        Some(t) => hs(&format!(r#"{{"alg":"HS256","typ":"{t}"}}"#), &payload("")),
        None => hs(r#"{"alg":"HS256"}"#, &payload("")),
    };
    assert_eq!(check(&tok(Some("at+jwt")), &at), "ok");
    assert_eq!(check(&tok(Some("application/AT+JWT")), &at), "ok");
    assert_eq!(check(&tok(Some("JWT")), &at), "malformed");
    assert_eq!(check(&tok(None), &at), "malformed");
    let app = hs_opts(r#","typ":"application/at+jwt""#);
    assert_eq!(check(&tok(Some("at+jwt")), &app), "ok");
    // Rule 4 before rule 5.
    let t = raw(r#"{"alg":"none","crit":["x"]}"#, &payload(""), &[]);
    assert_eq!(check(&t, &o), "alg_not_allowed");
}

#[cfg(not(target_arch = "wasm32"))]
fn rsa_key() -> VerifyingKey {
    VerifyingKey::from_pem(RSA_SPKI, "publicKey").unwrap()
}

#[cfg(not(target_arch = "wasm32"))]
fn modulus() -> Vec<u8> {
    match rsa_key().material {
        KeyMaterial::Rsa { n, .. } => n,
        _ => unreachable!(),
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn rule_6_selection_through_prepare() {
    let mut rsa = rsa_key();
    rsa.kid = Some("r".into());
    let mut ec = VerifyingKey::from_pem(P256_SPKI, "publicKey").unwrap();
    ec.kid = Some("e".into());
    let jwks = VerifyOptions::new(
        vec![Algorithm::RS256, Algorithm::ES256, Algorithm::HS256],
        Some(KeySource::Jwks(vec![rsa, ec])),
    );
    let sig = modulus().iter().map(|_| 0u8).collect::<Vec<_>>();
    let p = |h: &str| code_of(prepare(&raw(h, &payload(""), &sig), &jwks));
    assert_eq!(p(r#"{"alg":"RS256","kid":"r"}"#), "ok");
    assert_eq!(p(r#"{"alg":"RS256","kid":"x"}"#), "unknown_key");
    assert_eq!(
        p(r#"{"alg":"RS256","kid":"../../etc/passwd"}"#),
        "unknown_key"
    );
    assert_eq!(p(r#"{"alg":"RS256","kid":["r"]}"#), "unknown_key");
    assert_eq!(p(r#"{"alg":"RS256"}"#), "unknown_key");
    assert_eq!(p(r#"{"alg":"RS256","kid":"e"}"#), "key_type_mismatch");
    assert_eq!(p(r#"{"alg":"HS256","kid":"r"}"#), "key_type_mismatch");
    // jku / x5u / jwk / x5c never select anything.
    assert_eq!(
        p(r#"{"alg":"RS256","jku":"https://evil/jwks","kid":"evil"}"#),
        "unknown_key"
    );
    assert_eq!(
        p(r#"{"alg":"RS256","jwk":{"kty":"oct","k":"AAAA"}}"#),
        "unknown_key"
    );
    // Rule 5 before rule 6.
    assert_eq!(
        p(r#"{"alg":"RS256","kid":"x","crit":["b64"]}"#),
        "malformed"
    );

    // Key confusion: the RSA PEM can never act as an HMAC secret.
    let pem = VerifyOptions::new(
        vec![Algorithm::RS256, Algorithm::HS256],
        Some(KeySource::Key(rsa_key())),
    );
    let input = format!("{}.{}", b64(r#"{"alg":"HS256"}"#), b64(&payload("")));
    let confused = format!(
        "{input}.{}",
        base64url::encode(&hmac("HS256", RSA_SPKI.as_bytes(), input.as_bytes()))
    );
    assert_eq!(code_of(prepare(&confused, &pem)), "key_type_mismatch");
    let rs_only = VerifyOptions::new(vec![Algorithm::RS256], Some(KeySource::Key(rsa_key())));
    assert_eq!(code_of(prepare(&confused, &rs_only)), "alg_not_allowed");
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn rule_7_signature_shapes() {
    // HMAC: tag length.
    let o = hs_opts("");
    let good = hs(r#"{"alg":"HS256"}"#, &payload(""));
    let (input, _) = good.rsplit_once('.').unwrap();
    for sig in [&[][..], &[0; 31], &[0; 33], &[0; 64]] {
        let t = format!("{input}.{}", base64url::encode(sig));
        assert_eq!(check(&t, &o), "bad_signature");
    }
    let t = format!("{input}.{}", base64url::encode(&[0; 32]));
    assert_eq!(code_of(prepare(&t, &o)), "ok");
    assert_eq!(check(&t, &o), "bad_signature");

    // RSA: length = modulus length, value < n.
    let n = modulus();
    let rsa = VerifyOptions::new(
        vec![Algorithm::RS256, Algorithm::PS256],
        Some(KeySource::Key(rsa_key())),
    );
    let rs = |sig: &[u8]| code_of(prepare(&raw(r#"{"alg":"RS256"}"#, &payload(""), sig), &rsa));
    assert_eq!(rs(&vec![0; n.len()]), "ok");
    assert_eq!(rs(&vec![0; n.len() - 1]), "bad_signature");
    assert_eq!(rs(&vec![0; n.len() + 1]), "bad_signature");
    assert_eq!(rs(&n), "bad_signature");
    assert_eq!(rs(&vec![0xff; n.len()]), "bad_signature");
    assert_eq!(rs(&[]), "bad_signature");
    let mut below = n.clone();
    *below.last_mut().unwrap() -= 1;
    assert_eq!(rs(&below), "ok");

    // ECDSA: raw R‖S of the curve's size, 1 ≤ r, s < n.
    for (pem, alg, curve) in [
        (P256_SPKI, "ES256", Curve::P256),
        (P384_SPKI, "ES384", Curve::P384),
    ] {
        let key = VerifyingKey::from_pem(pem, "publicKey").unwrap();
        let o = VerifyOptions::new(
            vec![Algorithm::ES256, Algorithm::ES384],
            Some(KeySource::Key(key)),
        );
        let l = curve.coordinate_len();
        let h = format!(r#"{{"alg":"{alg}"}}"#);
        let es = |r: &[u8], s: &[u8]| {
            let sig = [r, s].concat();
            code_of(prepare(&raw(&h, &payload(""), &sig), &o))
        };
        let one = {
            let mut v = vec![0; l];
            v[l - 1] = 1;
            v
        };
        let order = curve.order().to_vec();
        let mut below = order.clone();
        below[l - 1] -= 1;
        assert_eq!(es(&one, &one), "ok");
        assert_eq!(es(&below, &below), "ok");
        assert_eq!(es(&vec![0; l], &vec![0; l]), "bad_signature");
        assert_eq!(es(&vec![0; l], &one), "bad_signature");
        assert_eq!(es(&one, &vec![0; l]), "bad_signature");
        assert_eq!(es(&order, &one), "bad_signature");
        assert_eq!(es(&one, &order), "bad_signature");
        assert_eq!(es(&vec![0xff; l], &one), "bad_signature");
        assert_eq!(es(&one[1..], &one), "bad_signature");
        assert_eq!(es(&[one.clone(), vec![0]].concat(), &one), "bad_signature");
        // A DER-encoded signature is not the JWS form.
        let der = [&[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01][..]].concat();
        assert_eq!(es(&der, &[]), "bad_signature");
    }

    // Ed25519: 64 bytes, S < L.
    let ed = VerifyOptions::new(
        vec![Algorithm::EdDSA],
        Some(KeySource::Key(
            VerifyingKey::from_pem(ED_SPKI, "publicKey").unwrap(),
        )),
    );
    let eds = |sig: &[u8]| code_of(prepare(&raw(r#"{"alg":"EdDSA"}"#, &payload(""), sig), &ed));
    assert_eq!(eds(&[0; 64]), "ok");
    assert_eq!(eds(&[0; 63]), "bad_signature");
    assert_eq!(eds(&[[0; 32], [0xff; 32]].concat()), "bad_signature");
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn staging_and_order_after_signature() {
    let o = hs_opts(r#","issuer":"https://issuer""#);
    let expired_wrong_iss = hs(
        r#"{"alg":"HS256"}"#,
        r#"{"sub":"c1","iss":"other","exp":1600000000}"#,
    );
    // Signature (7) before payload (8–10).
    assert_eq!(
        code_of(verify_token_with(
            &expired_wrong_iss,
            &o,
            NOW,
            &Fixed(false)
        )),
        "bad_signature"
    );
    assert_eq!(
        code_of(verify_token_with(&expired_wrong_iss, &o, NOW, &Fixed(true))),
        "expired"
    );
    let not_json = hs(r#"{"alg":"HS256"}"#, "not json");
    assert_eq!(
        code_of(verify_token_with(&not_json, &o, NOW, &Fixed(false))),
        "bad_signature"
    );
    assert_eq!(check(&not_json, &o), "malformed");

    let p = prepare(&expired_wrong_iss, &o).unwrap();
    assert_eq!(p.alg(), Algorithm::HS256);
    assert_eq!(p.signature().len(), 32);
    assert_eq!(p.header().alg, "HS256");
    let dot = expired_wrong_iss.rfind('.').unwrap();
    assert_eq!(p.signing_input(), &expired_wrong_iss.as_bytes()[..dot]);
    assert!(NativeVerifier.verify(p.alg(), p.key(), p.signing_input(), p.signature()));
    assert_eq!(code_of(finish(&p, &o, NOW)), "expired");
    assert_eq!(
        code_of(finish(&p, &o, 1_500_000_000_000)),
        "issuer_mismatch"
    );
    let dbg = format!("{p:?}");
    assert!(!dbg.contains(SECRET) && !dbg.contains("other"), "{dbg}");
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn rule_8_payload() {
    let o = hs_opts("");
    for p in [
        "not json",
        "[]",
        "\"s\"",
        "1",
        "{}",
        r#"{"exp":"1700003600"}"#,
        r#"{"exp":-1}"#,
        r#"{"exp":253402300800}"#,
        r#"{"exp":1700003600,"nbf":"0"}"#,
        r#"{"exp":1700003600,"iat":-5}"#,
        r#"{"exp":1700003600,"iat":1e300}"#,
        r#"{"exp":1700003600,"exp":1700003600}"#,
        r#"{"exp":1700003600,"sub":1}"#,
        r#"{"exp":1700003600,"iss":null}"#,
        r#"{"exp":1700003600,"aud":["a",1]}"#,
    ] {
        assert_eq!(check(&hs(r#"{"alg":"HS256"}"#, p), &o), "malformed", "{p}");
    }
    // A fractional NumericDate is fine (RFC 7519 §2).
    assert_eq!(
        check(&hs(r#"{"alg":"HS256"}"#, r#"{"exp":1700000000.5}"#), &o),
        "ok"
    );
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn rule_9_time_edges() {
    let o = hs_opts(r#","customerIdClaim":null"#);
    let at = |p: &str, now: Millis| code_of(verify_token(&hs(r#"{"alg":"HS256"}"#, p), &o, now));
    let exp = r#"{"exp":1000}"#;
    assert_eq!(at(exp, 1_029_999), "ok");
    assert_eq!(at(exp, 1_030_000), "expired");
    let nbf = r#"{"exp":5000,"nbf":1000}"#;
    assert_eq!(at(nbf, 969_999), "not_yet_valid");
    assert_eq!(at(nbf, 970_000), "ok");
    let iat = r#"{"exp":5000,"iat":1000}"#;
    assert_eq!(at(iat, 969_999), "not_yet_valid");
    assert_eq!(at(iat, 970_000), "ok");
    let frac = r#"{"exp":1000.5}"#;
    assert_eq!(at(frac, 1_030_499), "ok");
    assert_eq!(at(frac, 1_030_500), "expired");
    // Zero leeway.
    let z = hs_opts(r#","leewaySeconds":0"#);
    let t = hs(r#"{"alg":"HS256"}"#, exp);
    assert_eq!(code_of(verify_token(&t, &z, 999_999)), "ok");
    assert_eq!(code_of(verify_token(&t, &z, 1_000_000)), "expired");
    // options.now overrides the caller's clock.
    let fixed = hs_opts(r#","now":999000"#);
    assert_eq!(code_of(verify_token(&t, &fixed, 5_000_000)), "ok");
    // exp before nbf before iat.
    let all = r#"{"exp":1000,"nbf":9000,"iat":9000}"#;
    assert_eq!(at(all, 2_000_000), "expired");
    let nbf_iat = r#"{"exp":99000,"nbf":9000,"iat":9000}"#;
    assert_eq!(at(nbf_iat, 2_000_000), "not_yet_valid");
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn rule_10_claims() {
    let t = |p: &str| hs(r#"{"alg":"HS256"}"#, &payload(p));
    let base = t("");
    assert_eq!(
        check(&base, &hs_opts(r#","issuer":"https://issuer""#)),
        "ok"
    );
    assert_eq!(
        check(&base, &hs_opts(r#","issuer":"https://Issuer""#)),
        "issuer_mismatch"
    );
    assert_eq!(
        check(&base, &hs_opts(r#","issuer":"https://issuer/""#)),
        "issuer_mismatch"
    );
    let no_iss = hs(r#"{"alg":"HS256"}"#, r#"{"exp":1700003600}"#);
    assert_eq!(
        check(&no_iss, &hs_opts(r#","issuer":"https://issuer""#)),
        "issuer_mismatch"
    );
    assert_eq!(check(&base, &hs_opts(r#","audience":"chat""#)), "ok");
    assert_eq!(check(&base, &hs_opts(r#","audience":["x","chat"]"#)), "ok");
    assert_eq!(
        check(&base, &hs_opts(r#","audience":["x","Chat"]"#)),
        "audience_mismatch"
    );
    assert_eq!(
        check(&no_iss, &hs_opts(r#","audience":"chat""#)),
        "audience_mismatch"
    );
    let multi = hs(
        r#"{"alg":"HS256"}"#,
        r#"{"exp":1700003600,"aud":["a","chat"]}"#,
    );
    assert_eq!(check(&multi, &hs_opts(r#","audience":"chat""#)), "ok");
    assert_eq!(check(&base, &hs_opts(r#","customerId":"c1""#)), "ok");
    assert_eq!(
        check(&base, &hs_opts(r#","customerId":"c2""#)),
        "claim_mismatch"
    );
    assert_eq!(
        check(&no_iss, &hs_opts(r#","customerId":"c1""#)),
        "claim_mismatch"
    );
    assert_eq!(
        check(
            &base,
            &hs_opts(r#","customerId":"c2","customerIdClaim":null"#)
        ),
        "ok"
    );
    let cid = t(r#","cid":"x9","num":9"#);
    assert_eq!(
        check(
            &cid,
            &hs_opts(r#","customerId":"x9","customerIdClaim":"cid""#)
        ),
        "ok"
    );
    assert_eq!(
        check(
            &cid,
            &hs_opts(r#","customerId":"c1","customerIdClaim":"cid""#)
        ),
        "claim_mismatch"
    );
    assert_eq!(
        check(
            &cid,
            &hs_opts(r#","customerId":"9","customerIdClaim":"num""#)
        ),
        "claim_mismatch"
    );
    // Order: issuer, audience, customer.
    let all = hs_opts(r#","issuer":"no","audience":"no","customerId":"no""#);
    assert_eq!(check(&base, &all), "issuer_mismatch");
    let aud_claim = hs_opts(r#","audience":"no","customerId":"no""#);
    assert_eq!(check(&base, &aud_claim), "audience_mismatch");
    // Expiry before claims.
    let expired = hs(r#"{"alg":"HS256"}"#, r#"{"exp":1000,"iss":"x"}"#);
    assert_eq!(check(&expired, &hs_opts(r#","issuer":"y""#)), "expired");
}

#[test]
fn claims_only_path() {
    let mut o = VerifyOptions::new(vec![Algorithm::RS256], None);
    o.customer_id = Some("c1".into());
    let claims = Claims::parse(payload("").as_bytes(), false).unwrap();
    assert_eq!(code_of(check_claims(&claims, &o, NOW)), "ok");
    assert_eq!(
        code_of(check_claims(&claims, &o, 1_800_000_000_000)),
        "expired"
    );
    o.customer_id = Some("c2".into());
    assert_eq!(code_of(check_claims(&claims, &o, NOW)), "claim_mismatch");
    let no_exp = Claims::parse(br#"{"sub":"c1"}"#, false).unwrap();
    assert_eq!(code_of(check_claims(&no_exp, &o, NOW)), "malformed");
    o.leeway_seconds = -1.0;
    assert_eq!(code_of(check_claims(&claims, &o, NOW)), "invalid_config");
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn native_verifier_refuses_odd_keys_without_panicking() {
    let bad_ed = VerifyingKey {
        material: KeyMaterial::Ed25519 { x: vec![1; 3] },
        kid: None,
        alg: None,
        key_use: None,
    };
    assert!(!NativeVerifier.verify(Algorithm::EdDSA, &bad_ed, b"m", &[0; 64]));
    let bad_ec = VerifyingKey {
        material: KeyMaterial::Ec {
            curve: Curve::P256,
            x: vec![],
            y: vec![],
        },
        ..bad_ed.clone()
    };
    assert!(!NativeVerifier.verify(Algorithm::ES256, &bad_ec, b"m", &[1; 64]));
    let rsa = rsa_key();
    assert!(!NativeVerifier.verify(Algorithm::HS256, &rsa, b"m", &[0; 32]));
    assert!(!NativeVerifier.verify(Algorithm::RS256, &rsa, b"m", &[]));
    // An off-curve point is refused by the verifier (bad_signature).
    let off = VerifyingKey {
        material: KeyMaterial::Ec {
            curve: Curve::P256,
            x: vec![1; 32],
            y: vec![1; 32],
        },
        ..bad_ed
    };
    assert!(!NativeVerifier.verify(Algorithm::ES256, &off, b"m", &[1; 64]));
}

#[cfg(not(target_arch = "wasm32"))]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn all_keys_options() -> Vec<VerifyOptions> {
        let algs = Algorithm::ALL.to_vec();
        let mut out = vec![hs_opts(
            r#","issuer":"i","audience":"a","customerId":"c","typ":"JWT""#,
        )];
        for pem in [RSA_SPKI, P256_SPKI, P384_SPKI, ED_SPKI] {
            out.push(VerifyOptions::new(
                algs.clone(),
                Some(KeySource::Key(
                    VerifyingKey::from_pem(pem, "publicKey").unwrap(),
                )),
            ));
        }
        out
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_tokens(s in "\\PC{0,300}") {
            for o in all_keys_options() {
                let _ = verify_token(&s, &o, NOW);
            }
        }

        #[test]
        fn never_panics_on_structured_tokens(
            alg in prop::sample::select(vec!["HS256", "HS512", "RS256", "PS384", "ES256", "ES384", "EdDSA", "none", "x"]),
            extra in r#"(,"(kid|typ|crit|cty|jku|x5c)":("[a-z+/.]{0,8}"|1|null|\[\]))?"#,
            payload in r#"\{("(exp|nbf|iat|sub|iss|aud|cid)":("[a-z]{0,3}"|-?[0-9]{1,12}(\.[0-9])?|\["c"\]|null),?){0,6}\}"#,
            sig in proptest::collection::vec(any::<u8>(), 0..600),
            now in any::<i64>(),
        ) {
            let header = format!(r#"{{"alg":"{alg}"{extra}}}"#);
            let token = raw(&header, &payload, &sig);
            for o in all_keys_options() {
                let _ = verify_token(&token, &o, now);
                let _ = verify_token_with(&token, &o, now, &Fixed(true));
            }
        }

        #[test]
        fn never_panics_on_arbitrary_options(
            members in proptest::collection::vec(
                (
                    prop::sample::select(vec![
                        "algorithms", "publicKey", "jwks", "secret", "issuer", "audience", "customerId",
                        "customerIdClaim", "leewaySeconds", "now", "maxTokenBytes", "typ", "other",
                    ]),
                    prop::sample::select(vec![
                        r#"["HS256","RS256"]"#, r#"["none"]"#, "[]", r#""x""#, "null", "-1", "0", "1e300",
                        "30.5", r#"{"keys":[{"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}"#,
                        r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#, r#""0123456789abcdef0123456789abcdef""#,
                        r#""-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----""#, r#"["a",""]"#, "true",
                    ]),
                ),
                0..8,
            ),
            token in "[A-Za-z0-9_.-]{0,80}",
        ) {
            let mut text = String::from("{");
            let mut seen = Vec::new();
            for (k, v) in &members {
                if seen.contains(k) { continue; }
                seen.push(*k);
                if text.len() > 1 { text.push(','); }
                text.push_str(&format!(r#""{k}":{v}"#));
            }
            text.push('}');
            let obj = json::parse_object(text.as_bytes()).unwrap();
            if let Ok(o) = VerifyOptions::from_json(&obj) {
                let _ = verify_token(&token, &o, NOW);
            }
        }
    }
}

#[test]
fn a_jwks_url_verifies_nothing_by_itself() {
    let url = VerifyOptions::new(
        vec![Algorithm::RS256],
        Some(KeySource::JwksUrl("https://id/jwks".into())),
    );
    assert_eq!(url.validate().map_err(|e| e.code()), Ok(()));
    let e = prepare("a.b.c", &url).unwrap_err();
    assert_eq!(
        e.message(),
        "option 'jwksUrl' names keys to fetch: verify with the fetched JWK Set"
    );
    let e = keys::select(url.key.as_ref().unwrap(), None, Algorithm::RS256).unwrap_err();
    assert_eq!(e.code(), ErrorCode::UnknownKey);
    let e = Verifier::from_options(url).unwrap_err();
    assert!(e.message().starts_with("option 'jwksUrl' "));
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_builder_checks_rule_1_and_verifies_like_the_json_path() {
    let built = Verifier::builder()
        .algorithms([Algorithm::HS256])
        .secret(SECRET.as_bytes())
        .unwrap()
        .issuer("https://issuer")
        .audience(["chat"])
        .customer_id("c1")
        .typ("JWT")
        .build()
        .unwrap();
    let json = Verifier::from_json(
        &json::parse_object(
            format!(r#"{{"algorithms":["HS256"],"secret":"{SECRET}","issuer":"https://issuer","audience":"chat","customerId":"c1","typ":"JWT"}}"#)
                .as_bytes(),
        )
        .unwrap(),
    )
    .unwrap();
    let good = hs(r#"{"alg":"HS256","typ":"JWT"}"#, &payload(""));
    let claims = built.verify(&good, NOW).unwrap();
    assert_eq!(claims.sub(), Some("c1"));
    assert_eq!(claims.aud(), ["chat"]);
    assert_eq!(claims, json.verify(&good, NOW).unwrap());
    for bad in [
        hs(r#"{"alg":"HS256"}"#, &payload("")),
        hs(r#"{"alg":"HS512","typ":"JWT"}"#, &payload("")),
        hs(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"sub":"c2","iss":"https://issuer","aud":"chat","exp":1700003600}"#,
        ),
    ] {
        assert_eq!(
            code_of(built.verify(&bad, NOW)),
            code_of(json.verify(&bad, NOW))
        );
        assert_ne!(code_of(built.verify(&bad, NOW)), "ok");
    }
    let invalid = |b: VerifierBuilder| code_of(b.build());
    let with_key = || Verifier::builder().secret(SECRET.as_bytes()).unwrap();
    assert_eq!(invalid(Verifier::builder()), "invalid_config");
    assert_eq!(invalid(with_key().algorithms([])), "invalid_config");
    assert_eq!(
        invalid(with_key().audience(Vec::<String>::new())),
        "invalid_config"
    );
    assert_eq!(invalid(with_key().leeway_seconds(-1.0)), "invalid_config");
    // Rule 1 is the same on every path: the JSON readers' bounds hold for
    // the builder (a 10-day leeway would accept a token expired a week ago).
    assert_eq!(invalid(with_key().leeway_seconds(86_400.0)), "ok");
    for leeway in [86_400.5, 864_000.0, f64::INFINITY, f64::NAN] {
        let e = with_key().leeway_seconds(leeway).build().unwrap_err();
        assert_eq!(
            e.message(),
            "option 'leewaySeconds' must be a number from 0 to 86400",
            "{leeway}"
        );
        let json =
            format!(r#"{{"algorithms":["HS256"],"secret":"{SECRET}","leewaySeconds":864000}}"#);
        assert_eq!(
            code_of(Verifier::from_json(
                &json::parse_object(json.as_bytes()).unwrap()
            )),
            "invalid_config"
        );
    }
    #[cfg(target_pointer_width = "64")]
    assert_eq!(
        invalid(with_key().max_token_bytes(1 << 32)),
        "invalid_config"
    );
    assert_eq!(invalid(with_key().max_token_bytes(u32::MAX as usize)), "ok");
    assert_eq!(invalid(with_key().max_token_bytes(0)), "invalid_config");
    assert_eq!(invalid(with_key().typ("JOSE")), "invalid_config");
    assert_eq!(
        invalid(with_key().customer_id_claim(Some(""))),
        "invalid_config"
    );
    assert_eq!(invalid(with_key()), "ok");
    let e = Verifier::builder().jwks("not json").unwrap_err();
    assert!(e.message().starts_with("option 'jwks' "));
    let e = Verifier::builder().public_key_pem("nope").unwrap_err();
    assert!(e.message().starts_with("option 'publicKey' "));
}

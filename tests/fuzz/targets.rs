//! The targets: one function per parser that untrusted text reaches, each
//! drawing one input and checking what the parser made of it.

use crate::checks::*;
use crate::inputs::{hs256, lossy, mutate_bytes, mutate_json_text, random_value, Rng};
use crate::seeds::Seeds;
use chat_auth::identifier::check_customer_id;
use chat_auth::jose::keys::{self, VerifyingKey};
use chat_auth::jose::token::{self, Jwt};
use chat_auth::jose::verify::{verify_token, VerifyOptions};
use chat_auth::options::Config;
use chat_auth::secret::SecretString;
use chat_auth::session::admit::{self, Candidate, Introspection, Rules};
use chat_auth::session::schedule::{ClockEvidence, LeadReading};
use chat_auth::wire::base64url;
use chat_auth::wire::json::{self, Value};
use chat_auth_vectors::to_json;
use proptest::prelude::Rng as _;

/// A token: a mutated vector token (bytes, segments, or re-signed JSON) or
/// random bytes. Returns the token and whether the harness signed it.
pub(crate) fn fuzz_token(rng: &mut Rng, s: &Seeds) -> (String, bool) {
    let seed = rng.pick(&s.tokens).clone();
    let other = rng.pick(&s.tokens).as_bytes().to_vec();
    match rng.below(6) {
        0 => (lossy(rng.bytes(200)), false),
        1 | 2 => {
            let mut b = seed.into_bytes();
            for _ in 0..1 + rng.below(3) {
                mutate_bytes(rng, &mut b, &other);
            }
            (lossy(b), false)
        }
        3 => {
            // Segment surgery: swap, drop, duplicate, or take from another token.
            let mut parts: Vec<String> = seed.split('.').map(str::to_owned).collect();
            let others: Vec<&str> = std::str::from_utf8(&other).unwrap().split('.').collect();
            let i = rng.below(parts.len());
            match rng.below(4) {
                0 => parts[i] = rng.pick(&others).to_string(),
                1 => {
                    parts.remove(i);
                }
                2 => parts.insert(i, parts[i].clone()),
                _ => {
                    let j = rng.below(parts.len());
                    parts.swap(i, j);
                }
            }
            (parts.join("."), false)
        }
        _ => {
            // Decode a segment, edit its JSON, re-encode, and re-sign with
            // the vectors' secret as HS256, so the edit reaches rules 5–10.
            let parts: Vec<&str> = seed.split('.').collect();
            let decoded =
                |p: &str| base64url::decode(p.as_bytes()).and_then(|b| json::parse_object(&b).ok());
            let (Some(header), Some(payload)) = (
                parts.first().and_then(|p| decoded(p)),
                parts.get(1).and_then(|p| decoded(p)),
            ) else {
                return (seed, false);
            };
            let header = if rng.chance(2) {
                mutate_json_text(rng, &header, &other)
            } else {
                br#"{"alg":"HS256","typ":"JWT"}"#.to_vec()
            };
            let payload = mutate_json_text(rng, &payload, &other);
            let input = format!(
                "{}.{}",
                base64url::encode(&header),
                base64url::encode(&payload)
            );
            let sig = hs256(s.secret.as_bytes(), input.as_bytes());
            (format!("{input}.{}", base64url::encode(&sig)), true)
        }
    }
}

pub(crate) fn target_token(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    let (token, _) = fuzz_token(rng, s);
    input(&token);
    let max = *rng.pick(&[token::DEFAULT_MAX_TOKEN_BYTES, 64, 1 << 20]);
    check(&Jwt::parse(&token, max), TOKEN_CODES, &token)?;
    check(&token::decode(&token, max), TOKEN_CODES, &token)?;
    Ok(())
}

pub(crate) fn target_verify(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    let (token, signed_here) = fuzz_token(rng, s);
    input(&token);
    let case = rng.pick(&s.cases);
    let harness_options = signed_here && rng.chance(2);
    let mut options = if harness_options {
        s.hs_options.clone()
    } else {
        case.options.clone()
    };
    let options_mutated = rng.chance(4);
    if options_mutated {
        let text = mutate_json_text(rng, &options, token.as_bytes());
        input(&format!(
            "{token}\noptions: {}",
            String::from_utf8_lossy(&text)
        ));
        match json::parse_object(&text) {
            Ok(o) => options = o,
            Err(e) => check_error(&e, JSON_CODES, &token)?,
        }
    }
    let now = match rng.below(4) {
        0 => rng.0.next_u64() as i64 % 8_640_000_000_000_000,
        _ => case.now,
    };
    let result = VerifyOptions::from_json(&options).and_then(|o| verify_token(&token, &o, now));
    check(&result, VERIFY_CODES, &token)?;
    // No forgery: only the vectors' own tokens and the harness's re-signed
    // ones may verify; a mutation of anything else must not.
    if result.is_ok() && !signed_here && !s.known_tokens.contains(&token) {
        return Err(Finding("a token nobody signed verified".into()));
    }
    Ok(())
}

pub(crate) fn target_config(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    let seed = rng.pick(&s.configs);
    let other = rng.pick(&s.tokens).clone();
    let text = lossy(mutate_json_text(rng, seed, other.as_bytes()));
    input(&text);
    if let Ok(o) = json::parse_object(text.as_bytes()) {
        check(&Config::from_json(&o), CONFIG_CODES, &text)?;
    }
    Ok(())
}

pub(crate) fn target_context(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    let text = if rng.chance(5) {
        lossy(rng.bytes(300))
    } else {
        let seed = rng.pick(&s.contexts);
        let other = rng.pick(&s.tokens).clone();
        lossy(mutate_json_text(rng, seed, other.as_bytes()))
    };
    input(&text);
    let candidate = Candidate::read(&text);
    check(&candidate, CONTEXT_CODES, &text)?;
    if let Ok(candidate) = candidate {
        // Judge it as a session would (claims, customer, expiry, clock
        // offset from iat or a Date header), at odd times too.
        let validation = VerifyOptions::default();
        let refused = SecretString::new(rng.pick(&s.tokens).clone());
        let rules = Rules {
            validation: &validation,
            customer_id: "c_8f3a9b2e",
            refused: rng.chance(4).then_some(&refused),
            needs_refresh: rng.chance(2),
            asked_at: None,
            clock: ClockEvidence::default(),
        };
        let at = |rng: &mut Rng| match rng.below(3) {
            0 => rng.0.next_u64() as i64,
            1 => 1_700_000_000_000 + rng.below(10_000_000) as i64,
            _ => rng.below(1 << 20) as i64 - (1 << 19),
        };
        let date = rng.chance(2).then(|| at(rng));
        let received_at = at(rng);
        // Asked for some time before the answer came (or at an odd time).
        let asked_at = match rng.below(3) {
            0 => None,
            1 => Some(received_at.saturating_sub(rng.below(600_000) as i64)),
            _ => Some(at(rng)),
        };
        // And with what earlier answers showed of the issuer's clock.
        let reading = LeadReading {
            stamp_ms: at(rng),
            low: at(rng),
            high: at(rng),
        };
        let clock = ClockEvidence {
            last: rng.chance(2).then_some(reading),
            agreed: rng.chance(3).then_some(reading),
        };
        let rules = Rules {
            asked_at,
            clock,
            ..rules
        };
        let introspection = rng.chance(2).then(|| Introspection {
            active: rng.chance(2),
            exp: rng.chance(2).then(|| *rng.pick(&[1.7e9, -1.0, 1e300, 0.5])),
        });
        let admitted = candidate
            .with_server_date(date)
            .admit(&rules, received_at, introspection);
        check(&admitted, ADMIT_CODES, &text)?;
    }
    // A stored credential (sessionStorage) around the same context.
    let stored = format!(
        r#"{{"customerId":"c_8f3a9b2e","receivedAt":1700000000000,"expiresAt":1700003600000,"context":{text}}}"#
    );
    let _ = admit::restore(&stored, "c_8f3a9b2e");
    let _ = admit::restore(&text, "c_8f3a9b2e");
    Ok(())
}

pub(crate) fn target_json(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    let bytes = match rng.below(3) {
        0 => rng.bytes(300),
        1 => {
            let seed = rng.pick(&s.cases).options.clone();
            mutate_json_text(rng, &seed, b"[]{}")
        }
        _ => {
            let mut b = to_json(&random_value(rng, 4)).into_bytes();
            mutate_bytes(rng, &mut b, b"\"\\u0000\"");
            b
        }
    };
    let text = lossy(bytes.clone());
    input(&text);
    match json::parse(&bytes) {
        Err(e) => check_error(&e, JSON_CODES, &text)?,
        Ok(v) => {
            // What the reader accepts, written back, reads the same.
            let again = json::parse(to_json(&v).as_bytes())
                .map_err(|_| Finding("accepted JSON does not round-trip".into()))?;
            if again != v {
                return Err(Finding("accepted JSON reads differently".into()));
            }
        }
    }
    Ok(())
}

pub(crate) fn target_base64url(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    let data = if rng.chance(2) {
        rng.bytes(100)
    } else {
        let seed = rng.pick(&s.tokens);
        let part = rng
            .pick(&seed.split('.').collect::<Vec<_>>())
            .as_bytes()
            .to_vec();
        let mut b = part;
        mutate_bytes(rng, &mut b, b"=+/");
        b
    };
    let text = lossy(data.clone());
    input(&text);
    if base64url::decode(base64url::encode(&data).as_bytes()).as_deref() != Some(&data[..]) {
        return Err(Finding("encode then decode is not the identity".into()));
    }
    // Strict: only the canonical text of some bytes decodes.
    if let Some(decoded) = base64url::decode(&data) {
        if base64url::encode(&decoded).as_bytes() != &data[..] {
            return Err(Finding("a non-canonical text decoded".into()));
        }
    }
    Ok(())
}

pub(crate) fn target_keys(rng: &mut Rng, s: &Seeds) -> Result<(), Finding> {
    match rng.below(3) {
        0 => {
            let mut b = rng.pick(&s.pems).clone().into_bytes();
            let other = rng.pick(&s.pems).clone().into_bytes();
            for _ in 0..1 + rng.below(3) {
                mutate_bytes(rng, &mut b, &other);
            }
            let text = lossy(b);
            input(&text);
            check(&VerifyingKey::from_pem(&text, "publicKey"), KEY_CODES, "")?;
            Ok(())
        }
        1 => {
            let der = rng.bytes(600);
            input(&format!("DER {der:02x?}"));
            check(
                &VerifyingKey::from_spki_der(&der, "publicKey"),
                KEY_CODES,
                "",
            )?;
            Ok(())
        }
        _ => {
            let seed = rng.pick(&s.jwks).clone();
            let text = lossy(mutate_json_text(rng, &seed, b"AQAB"));
            input(&text);
            if let Ok(o) = json::parse_object(text.as_bytes()) {
                check(&keys::parse_jwks(&o, "jwks"), KEY_CODES, "")?;
                if let Some(Value::Object(jwk)) = o
                    .get("keys")
                    .and_then(Value::as_array)
                    .and_then(|k| k.first())
                {
                    check(&VerifyingKey::from_jwk(jwk, "jwks"), KEY_CODES, "")?;
                }
            }
            Ok(())
        }
    }
}

pub(crate) fn target_customer_id(rng: &mut Rng, _s: &Seeds) -> Result<(), Finding> {
    let mut b = rng
        .pick(&[
            &b"c_8f3a9b2e"[..],
            b"jane@example.com",
            b"+1 555 0100",
            b"4111111111111111",
            b"123-45-6789",
        ])
        .to_vec();
    mutate_bytes(rng, &mut b, b"@0123456789");
    let text = lossy(b);
    input(&text);
    check(&check_customer_id(&text), ID_CODES, "")?;
    Ok(())
}

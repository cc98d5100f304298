//! Validation by the site's UserProfile API, for servers: a token (a JWT the
//! server verified, or an opaque token with its RFC 7662 introspection
//! answer, or an opaque token the profile API itself accepted), the customer
//! id the SDK was given, and the profile API's answer must all name the same
//! customer. The outcome uses the crate's stable codes.
//!
//! ```
//! use chat_auth::wire::json::parse_object;
//! use chat_auth::profile::{validate_profile, ProfileRules, TokenFacts};
//! use chat_auth::ErrorCode;
//!
//! let introspection = parse_object(br#"{"active":true,"sub":"c_8f3a9b2e","exp":2000000000}"#)?;
//! let profile = parse_object(br#"{"customer_id":"c_8f3a9b2e","name":"Alice"}"#)?;
//! let rules = ProfileRules::default();
//! let now = 1_900_000_000_000;
//! let ok = validate_profile(TokenFacts::Introspection(&introspection), "c_8f3a9b2e", &profile, &rules, now)?;
//! assert_eq!(ok.customer_id, "c_8f3a9b2e");
//!
//! let err = validate_profile(TokenFacts::Introspection(&introspection), "c_other", &profile, &rules, now).unwrap_err();
//! assert_eq!(err.code(), ErrorCode::ClaimMismatch);
//! # Ok::<(), chat_auth::Error>(())
//! ```

use crate::error::{Error, ErrorCode, Result};
use crate::identifier::check_customer_id;
use crate::jose::token::Claims;
use crate::time::Millis;
use crate::wire::json::{Object, Value};

/// What the server knows about the token the customer presented.
#[derive(Clone, Copy, Debug)]
pub enum TokenFacts<'a> {
    /// The claims of a JWT that passed [`crate::jose::verify::verify_token`].
    Jwt(&'a Claims),
    /// An opaque token's RFC 7662 introspection answer (`active`, `exp`,
    /// and the customer claim are read).
    Introspection(&'a Object),
    /// An opaque token whose only evidence is that the profile API accepted
    /// it as the bearer's credential: the profile's customer id is compared
    /// with the SDK's, and no claim can be (so `also_equal` must be empty).
    ProfileOnly,
}

/// Which fields must agree. Every field documents its default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileRules {
    /// The token claim (or introspection member) that holds the customer
    /// id. Default `sub`.
    pub customer_id_claim: String,
    /// The profile response member that holds the customer id. Default
    /// `customer_id`.
    pub profile_customer_id: String,
    /// More `(token claim, profile member)` pairs that must be equal
    /// strings, e.g. `("tenant", "tenant")`. Default none.
    pub also_equal: Vec<(String, String)>,
    /// Clock leeway on the token's `exp`, seconds. Default 0.
    pub leeway_seconds: u64,
}

impl Default for ProfileRules {
    fn default() -> ProfileRules {
        ProfileRules {
            customer_id_claim: "sub".into(),
            profile_customer_id: "customer_id".into(),
            also_equal: Vec::new(),
            leeway_seconds: 0,
        }
    }
}

/// A profile that names the token's customer and the SDK's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProfile {
    /// The customer id all three agree on.
    pub customer_id: String,
    /// The token's expiry (ms), when the token facts carry one.
    pub token_expires_at_ms: Option<Millis>,
}

/// Judges a profile answer. In order:
/// 1. `sdk_customer_id` must be a valid, non-PII customer id →
///    `customer_id_invalid` / `customer_id_pii`;
/// 2. an introspection answer must say `"active": true` → else `expired`
///    (RFC 7662 does not say why a token is inactive);
/// 3. the token's `exp`, if any, must be in the future (with leeway) →
///    else `expired`;
/// 4. the token's customer claim must be a string equal to the SDK's id →
///    else `claim_mismatch`;
/// 5. the profile's customer member must be a string → else `malformed`, and
///    equal to the SDK's id → else `claim_mismatch`;
/// 6. each `also_equal` pair must be present as equal strings on both sides
///    → else `claim_mismatch` (with [`TokenFacts::ProfileOnly`] a configured
///    pair cannot be checked: `invalid_config`).
pub fn validate_profile(
    token: TokenFacts<'_>,
    sdk_customer_id: &str,
    profile: &Object,
    rules: &ProfileRules,
    now_ms: Millis,
) -> Result<VerifiedProfile> {
    check_customer_id(sdk_customer_id)?;
    let claims: Option<&Object> = match token {
        TokenFacts::Jwt(c) => Some(&c.members),
        TokenFacts::Introspection(o) => {
            if o.get("active") != Some(&Value::Bool(true)) {
                return Err(Error::new(
                    ErrorCode::Expired,
                    "the introspection endpoint says the token is not active",
                ));
            }
            Some(o)
        }
        TokenFacts::ProfileOnly => None,
    };
    let expires_at_ms = match claims.and_then(|c| c.get("exp")) {
        None => None,
        Some(Value::Number(s)) if s.is_finite() => Some((*s * 1000.0) as Millis),
        Some(_) => return Err(Error::malformed("the token's exp is not a number")),
    };
    if let Some(exp) = expires_at_ms {
        let leeway = (rules.leeway_seconds as Millis).saturating_mul(1000);
        if now_ms >= exp.saturating_add(leeway) {
            return Err(Error::new(ErrorCode::Expired, "the token has expired"));
        }
    }
    if let Some(c) = claims {
        if c.get_str(&rules.customer_id_claim) != Some(sdk_customer_id) {
            return Err(Error::new(
                ErrorCode::ClaimMismatch,
                "the token's customer claim differs from the customer id the SDK sent",
            ));
        }
    }
    let Some(profile_id) = profile.get_str(&rules.profile_customer_id) else {
        return Err(Error::malformed(
            "the profile response has no customer id member",
        ));
    };
    if profile_id != sdk_customer_id {
        return Err(Error::new(
            ErrorCode::ClaimMismatch,
            "the profile's customer id differs from the customer id the SDK sent",
        ));
    }
    if !rules.also_equal.is_empty() {
        let Some(c) = claims else {
            return Err(Error::invalid_config(
                "also_equal",
                "needs token claims; a profile-only opaque token has none",
            ));
        };
        for (claim, member) in &rules.also_equal {
            match (c.get_str(claim), profile.get_str(member)) {
                (Some(a), Some(b)) if a == b => {}
                _ => {
                    return Err(Error::new(
                        ErrorCode::ClaimMismatch,
                        "a configured token claim differs from the profile",
                    ))
                }
            }
        }
    }
    Ok(VerifiedProfile {
        customer_id: sdk_customer_id.to_owned(),
        token_expires_at_ms: expires_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::json::parse_object;

    const NOW: Millis = 1_900_000_000_000;
    const ID: &str = "c_8f3a9b2e";

    fn obj(s: &str) -> Object {
        parse_object(s.as_bytes()).unwrap()
    }

    fn code(r: Result<VerifiedProfile>) -> &'static str {
        r.unwrap_err().code().as_str()
    }

    fn jwt(payload: &str) -> Claims {
        Claims::parse(payload.as_bytes(), true).unwrap()
    }

    #[test]
    fn a_jwt_the_sdk_id_and_the_profile_that_agree_are_verified() {
        let claims = jwt(r#"{"sub":"c_8f3a9b2e","exp":1900000060,"tenant":"eu"}"#);
        let profile = obj(r#"{"customer_id":"c_8f3a9b2e","tenant":"eu","name":"Alice"}"#);
        let rules = ProfileRules {
            also_equal: vec![("tenant".into(), "tenant".into())],
            ..ProfileRules::default()
        };
        let ok = validate_profile(TokenFacts::Jwt(&claims), ID, &profile, &rules, NOW).unwrap();
        assert_eq!(ok.customer_id, ID);
        assert_eq!(ok.token_expires_at_ms, Some(1_900_000_060_000));
    }

    #[test]
    fn each_disagreement_has_its_code() {
        let rules = ProfileRules::default();
        let claims = jwt(r#"{"sub":"c_8f3a9b2e","exp":1900000060}"#);
        let profile = obj(r#"{"customer_id":"c_8f3a9b2e"}"#);
        let check = |facts, sdk: &str, profile: &Object, now| {
            code(validate_profile(facts, sdk, profile, &rules, now))
        };
        // The SDK was given another customer's id.
        assert_eq!(
            check(TokenFacts::Jwt(&claims), "c_other", &profile, NOW),
            "claim_mismatch"
        );
        // The profile API answered for another customer.
        let other = obj(r#"{"customer_id":"c_other"}"#);
        assert_eq!(
            check(TokenFacts::Jwt(&claims), ID, &other, NOW),
            "claim_mismatch"
        );
        // Expired at the moment of the check.
        assert_eq!(
            check(TokenFacts::Jwt(&claims), ID, &profile, 1_900_000_060_000),
            "expired"
        );
        // A profile without the id member, or with a number there.
        assert_eq!(
            check(TokenFacts::Jwt(&claims), ID, &obj(r#"{"name":"A"}"#), NOW),
            "malformed"
        );
        assert_eq!(
            check(
                TokenFacts::Jwt(&claims),
                ID,
                &obj(r#"{"customer_id":7}"#),
                NOW
            ),
            "malformed"
        );
        // The SDK id itself is personal data.
        assert_eq!(
            check(TokenFacts::Jwt(&claims), "jane@example.com", &profile, NOW),
            "customer_id_pii"
        );
        // A token without the customer claim.
        let no_sub = jwt(r#"{"exp":1900000060}"#);
        assert_eq!(
            check(TokenFacts::Jwt(&no_sub), ID, &profile, NOW),
            "claim_mismatch"
        );
    }

    #[test]
    fn opaque_tokens_through_introspection_or_the_profile_alone() {
        let rules = ProfileRules::default();
        let profile = obj(r#"{"customer_id":"c_8f3a9b2e"}"#);
        let active = obj(r#"{"active":true,"sub":"c_8f3a9b2e","exp":1900000060}"#);
        assert!(validate_profile(
            TokenFacts::Introspection(&active),
            ID,
            &profile,
            &rules,
            NOW
        )
        .is_ok());
        let inactive = obj(r#"{"active":false}"#);
        assert_eq!(
            code(validate_profile(
                TokenFacts::Introspection(&inactive),
                ID,
                &profile,
                &rules,
                NOW
            )),
            "expired"
        );
        let other = obj(r#"{"active":true,"sub":"c_other"}"#);
        assert_eq!(
            code(validate_profile(
                TokenFacts::Introspection(&other),
                ID,
                &profile,
                &rules,
                NOW
            )),
            "claim_mismatch"
        );
        let ok = validate_profile(TokenFacts::ProfileOnly, ID, &profile, &rules, NOW).unwrap();
        assert_eq!(ok.token_expires_at_ms, None);
        assert_eq!(
            code(validate_profile(
                TokenFacts::ProfileOnly,
                "c_other",
                &profile,
                &rules,
                NOW
            )),
            "claim_mismatch"
        );
        let more = ProfileRules {
            also_equal: vec![("tenant".into(), "tenant".into())],
            ..ProfileRules::default()
        };
        assert_eq!(
            code(validate_profile(
                TokenFacts::ProfileOnly,
                ID,
                &profile,
                &more,
                NOW
            )),
            "invalid_config"
        );
    }

    #[test]
    fn leeway_and_extra_fields() {
        let claims = jwt(r#"{"sub":"c_8f3a9b2e","exp":1900000000,"tenant":"eu"}"#);
        let profile = obj(r#"{"customer_id":"c_8f3a9b2e","tenant":"us"}"#);
        let lenient = ProfileRules {
            leeway_seconds: 5,
            ..ProfileRules::default()
        };
        assert!(validate_profile(TokenFacts::Jwt(&claims), ID, &profile, &lenient, NOW).is_ok());
        let strict_tenant = ProfileRules {
            leeway_seconds: 5,
            also_equal: vec![("tenant".into(), "tenant".into())],
            ..ProfileRules::default()
        };
        assert_eq!(
            code(validate_profile(
                TokenFacts::Jwt(&claims),
                ID,
                &profile,
                &strict_tenant,
                NOW
            )),
            "claim_mismatch"
        );
    }
}

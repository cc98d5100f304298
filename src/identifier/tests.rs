#[cfg(not(target_arch = "wasm32"))]
use super::opaque::hmac_sha256;
use super::pii::is_phone;
#[cfg(not(target_arch = "wasm32"))]
use super::pii::luhn;
use super::*;
use crate::error::PiiKind;
#[cfg(not(target_arch = "wasm32"))]
use proptest::prelude::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Pass,
    Invalid,
    Pii(PiiKind),
}
use Expect::*;

fn outcome(id: &str) -> Expect {
    match check_customer_id(id) {
        Ok(()) => Pass,
        Err(e) if e.code() == ErrorCode::CustomerIdInvalid => {
            assert_eq!(e.detail(), None);
            Invalid
        }
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::CustomerIdPii);
            let kind = [PiiKind::Email, PiiKind::Card, PiiKind::Ssn, PiiKind::Phone]
                .into_iter()
                .find(|k| Some(k.as_str()) == e.detail())
                .expect("pii errors carry a known detail");
            Pii(kind)
        }
    }
}

#[test]
fn table() {
    let long_ascii = "a".repeat(256);
    let too_long_ascii = "a".repeat(257);
    let long_multibyte = "é".repeat(256); // 512 bytes, 256 chars
    let too_long_multibyte = "é".repeat(257);
    let hex64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let cases: &[(&str, Expect)] = &[
        // Opaque ids that must pass.
        ("n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg", Pass),
        ("3f2b8c1e-9a4d-4c2e-8b1f-0123456789ab", Pass),
        ("12345678-1234-4123-8123-123456789012", Pass),
        ("abcdefab-abcd-4abc-8abc-123456789012", Pass),
        ("cust_12345", Pass),
        ("c_8f3a9b2e", Pass),
        (hex64, Pass),
        ("12345678", Pass),
        ("900123456", Pass), // 9 digits that cannot be an SSN
        ("000123456", Pass),
        ("123450000", Pass),
        ("4111111111111112", Pass), // 16 digits failing Luhn, too long for a phone
        ("1234567890123456789012", Pass),
        ("auth0|5f7c8ec7c33c6c004bbafe82", Pass),
        ("google-oauth2|109876543210987654321", Pass),
        ("a@b.c", Pass),
        ("cust@v2", Pass),
        ("x@localhost", Pass),
        ("team@v1.0", Pass),
        ("@example.com", Pass),
        ("2024-01-15", Pass),
        ("order-4155552671", Pass), // letters keep the segment opaque
        (&long_ascii, Pass),
        (&long_multibyte, Pass),
        // Invalid.
        ("", Invalid),
        (&too_long_ascii, Invalid),
        (&too_long_multibyte, Invalid),
        ("jane doe", Invalid),
        ("a\tb", Invalid),
        ("abc\n", Invalid),
        ("a\u{0}b", Invalid),
        ("a\u{a0}b", Invalid),          // no-break space
        ("a\u{7f}b", Invalid),          // DEL
        ("jane @example.com", Invalid), // invalid wins over pii
        // E-mail.
        ("jane@example.com", Pii(PiiKind::Email)),
        ("user:jane.doe@example.com", Pii(PiiKind::Email)),
        ("JANE.DOE+chat@Example.CO.UK", Pii(PiiKind::Email)),
        ("jane@bücher.de", Pii(PiiKind::Email)),
        ("josé@example.com", Pii(PiiKind::Email)),
        ("用户@例子.中国", Pii(PiiKind::Email)),
        ("jane@пример.рф", Pii(PiiKind::Email)),
        ("jane@example.xn--p1ai", Pii(PiiKind::Email)),
        ("jane@example.com.", Pii(PiiKind::Email)),
        ("a@b@example.com", Pii(PiiKind::Email)),
        ("4111111111111111@example.com", Pii(PiiKind::Email)), // email first
        // Card.
        ("4111111111111111", Pii(PiiKind::Card)),
        ("4111-1111-1111-1111", Pii(PiiKind::Card)),
        ("5555555555554444", Pii(PiiKind::Card)),
        ("378282246310005", Pii(PiiKind::Card)), // 15 digits: card before phone
        ("4222222222222", Pii(PiiKind::Card)),
        ("cust_4111111111111111", Pii(PiiKind::Card)),
        // SSN.
        ("123-45-6789", Pii(PiiKind::Ssn)),
        ("666-12-3456", Pii(PiiKind::Ssn)), // dashed shape always
        ("078051120", Pii(PiiKind::Ssn)),
        ("ssn:123456789", Pii(PiiKind::Ssn)),
        // Phone.
        ("+14155552671", Pii(PiiKind::Phone)),
        ("4155552671", Pii(PiiKind::Phone)),
        ("555-123-4567", Pii(PiiKind::Phone)),
        ("555.123.4567", Pii(PiiKind::Phone)),
        ("(555)123-4567", Pii(PiiKind::Phone)),
        ("+1(415)555-2671", Pii(PiiKind::Phone)),
        ("+44(20)7946-0958", Pii(PiiKind::Phone)),
        ("+4930123456", Pii(PiiKind::Phone)),
        ("4222222222223", Pii(PiiKind::Phone)), // 13 digits failing Luhn
        ("user_4155552671", Pii(PiiKind::Phone)),
        ("☎4155552671", Pii(PiiKind::Phone)), // a symbol separates
        ("é4155552671", Pii(PiiKind::Phone)), // so does any non-ASCII character
    ];
    assert!(cases.len() >= 30);
    for &(id, expected) in cases {
        assert_eq!(outcome(id), expected, "{id:?}");
    }
}

#[test]
fn phone_grammar_edges() {
    for bad in [
        "-4155552671",
        "4155552671-",
        "415--555-2671",
        "(415555-2671",
        "415)555-2671",
        "(415-)5552671",
        "4155+552671",
        "+1234567",
    ] {
        assert!(!is_phone(bad), "{bad:?}");
    }
    assert!(is_phone("+12345678"));
}

#[test]
fn messages_never_echo_the_id() {
    for id in ["jane@example.com", "4111111111111111", "a b"] {
        let e = check_customer_id(id).unwrap_err();
        assert!(!e.message().contains(id));
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn hmac_rfc4231_case_2() {
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?").unwrap();
    assert_eq!(
        hex(&mac),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn opaque_ids() {
    let a = [0x0bu8; 32];
    let b = [0x0cu8; 32];
    let id = opaque_customer_id(&a, "user-1").unwrap();
    assert_eq!(id.len(), 43);
    assert!(check_customer_id(&id).is_ok());
    assert_eq!(id, opaque_customer_id(&a, "user-1").unwrap());
    assert_ne!(id, opaque_customer_id(&a, "user-2").unwrap());
    assert_ne!(id, opaque_customer_id(&b, "user-1").unwrap());
    assert_eq!(
        crate::wire::base64url::decode(id.as_bytes()).unwrap(),
        hmac_sha256(&a, b"user-1").unwrap()
    );
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn opaque_id_errors() {
    let e = opaque_customer_id(&[1u8; 31], "user-1").unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidConfig);
    let e = opaque_customer_id(&[1u8; 32], "").unwrap_err();
    assert_eq!(e.code(), ErrorCode::CustomerIdInvalid);
}

#[cfg(not(target_arch = "wasm32"))]
fn luhn_complete(body: &[u8]) -> String {
    // Append the check digit that makes body + digit pass Luhn.
    let mut s: String = body.iter().map(|d| char::from(b'0' + d)).collect();
    for check in 0..10u8 {
        s.push(char::from(b'0' + check));
        if luhn(&s) {
            return s;
        }
        s.pop();
    }
    unreachable!("one check digit always fits")
}

#[cfg(not(target_arch = "wasm32"))]
proptest! {
    #[test]
    fn never_panics(id in any::<String>()) {
        let _ = check_customer_id(&id);
    }

    #[test]
    fn whitespace_or_control_is_invalid(
        a in "[a-z0-9_]{0,20}",
        c in prop::sample::select(vec![' ', '\t', '\n', '\r', '\u{0}', '\u{85}', '\u{2003}', '\u{3000}']),
        b in "[a-z0-9_]{0,20}",
    ) {
        let id = format!("{a}{c}{b}");
        prop_assert_eq!(
            check_customer_id(&id).unwrap_err().code(),
            ErrorCode::CustomerIdInvalid
        );
    }

    #[test]
    fn opaque_ids_pass(secret in proptest::collection::vec(any::<u8>(), 32..64), user in ".{1,40}") {
        let id = opaque_customer_id(&secret, &user).unwrap();
        prop_assert_eq!(id.chars().count(), 43);
        prop_assert!(check_customer_id(&id).is_ok(), "{}", id);
    }

    #[test]
    fn hex_hashes_and_uuids_pass(bytes in any::<[u8; 32]>()) {
        let h = hex(&bytes);
        prop_assert!(check_customer_id(&h).is_ok(), "{}", h);
        let u = format!(
            "{}-{}-4{}-8{}-{}",
            &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32]
        );
        prop_assert!(check_customer_id(&u).is_ok(), "{}", u);
    }

    #[test]
    fn luhn_numbers_are_cards(body in proptest::collection::vec(0u8..10, 12..19), prefix in "(|cust_|card:)") {
        let id = format!("{prefix}{}", luhn_complete(&body));
        prop_assert_eq!(check_customer_id(&id).unwrap_err().detail(), Some("card"));
    }

    #[test]
    fn ten_to_fifteen_digit_numbers_are_refused(n in 1_000_000_000u64..1_000_000_000_000_000) {
        let detail = check_customer_id(&n.to_string()).unwrap_err().detail();
        prop_assert!(detail == Some("phone") || detail == Some("card"));
    }

    #[test]
    fn emails_are_caught(
        prefix in "(|user:|x/)",
        local in "[a-z0-9][a-z0-9._+-]{0,15}",
        host in "[a-z0-9][a-z0-9-]{0,10}",
        tld in "[a-z]{2,6}",
    ) {
        let id = format!("{prefix}{local}@{host}.{tld}");
        prop_assert_eq!(check_customer_id(&id).unwrap_err().detail(), Some("email"));
    }

    #[test]
    fn short_prefixed_ids_pass(prefix in "[a-z]{1,8}_", n in 0u32..100_000_000) {
        let id = format!("{prefix}{n}");
        prop_assert!(check_customer_id(&id).is_ok());
    }
}

//! Customer identifiers (API.md "Terms" and `checkCustomerId`).
//!
//! The customer id travels with every chat request and lands in logs,
//! analytics and vendor systems, so it must be opaque: the site can map it back
//! to its user, nobody else can. This module refuses ids that are malformed
//! (`customer_id_invalid`) or that look like personal data (`customer_id_pii`,
//! with the kind as `detail`), and natively mints the recommended opaque form,
//! an HMAC-SHA256 of the site's own user id in base64url.
//!
//! The PII checks are heuristics. They are tuned so that the usual opaque forms
//! (base64url MACs, UUIDs, hex hashes, `prefix_123`-style ids) always pass,
//! while the common shapes of e-mail addresses, card numbers, US social
//! security numbers and phone numbers are caught, also behind a prefix such as
//! `user:`. A bare numeric user id of 9 to 19 digits usually *is* caught (it is
//! indistinguishable from an SSN, phone or card number): sites must hash such
//! ids with [`opaque_customer_id`] instead of sending them.

use crate::error::{Error, ErrorCode, PiiKind, Result};

/// The longest accepted customer id, in characters (Unicode scalar values),
/// not bytes.
pub const MAX_CUSTOMER_ID_LEN: usize = 256;

/// Checks a customer id as API.md's `checkCustomerId` does.
///
/// Checked in this order, the first failure wins:
///
/// 1. `customer_id_invalid` when the id is empty, longer than
///    [`MAX_CUSTOMER_ID_LEN`] characters (counted as `char`s, not bytes), or
///    contains any whitespace ([`char::is_whitespace`]) or control character
///    ([`char::is_control`]).
/// 2. `customer_id_pii` with detail `email` when some `@` has a local part
///    right before it (at least one letter or digit among the characters an
///    address may use) and a domain right after it with a dot and a top-level
///    domain of two or more letters (or an `xn--` IDN label). The address may
///    be embedded: `user:jane.doe@example.com` is caught. Every non-ASCII
///    character counts as a letter here, as RFC 6531 lets any of them into an
///    address (`josé@bücher.de`, `用户@例子.中国`).
/// 3. The remaining checks look at *numeric segments*: the id is cut at every
///    character that is neither an ASCII letter or digit nor one of
///    `+ - . ( )`, and a piece counts only if it consists of ASCII digits and
///    those separators alone. ASCII letters therefore never act as separators,
///    so the digit runs inside hex hashes, UUIDs and base64url MACs are never
///    read as numbers, while `cust_4155552671` or `ssn:123-45-6789` are.
/// 4. `card`: a segment of 13–19 digits, optionally in groups separated by
///    single dashes (`4111-1111-1111-1111`), passing the Luhn check.
/// 5. `ssn`: a segment shaped `DDD-DD-DDDD` (always: no opaque id has that
///    shape), or 9 bare digits that the SSA could have issued: area not `000`,
///    `666` or `9xx`, group not `00`, serial not `0000`. Other 9-digit numbers
///    pass.
/// 6. `phone`: a segment of digit groups separated by single `-` or `.`, with
///    optional parenthesised groups (`(555)123-4567`), holding 10–15 digits,
///    or 8–15 digits after a leading `+` (E.164, e.g. `+14155552671`). Dotted
///    numbers such as IPv4 addresses with 10 or more digits count as phones.
///
/// So 9-digit (if SSN-shaped), 10–15-digit and Luhn-valid 13–19-digit numeric
/// ids are refused: hash numeric user ids with [`opaque_customer_id`].
///
/// ```
/// use chat_auth::identifier::check_customer_id;
/// use chat_auth::error::ErrorCode;
///
/// assert!(check_customer_id("n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg").is_ok());
/// assert!(check_customer_id("cust_12345").is_ok());
///
/// let err = check_customer_id("user:jane.doe@example.com").unwrap_err();
/// assert_eq!(err.code(), ErrorCode::CustomerIdPii);
/// assert_eq!(err.detail(), Some("email"));
///
/// assert_eq!(check_customer_id("4111-1111-1111-1111").unwrap_err().detail(), Some("card"));
/// assert_eq!(check_customer_id("123-45-6789").unwrap_err().detail(), Some("ssn"));
/// assert_eq!(check_customer_id("+14155552671").unwrap_err().detail(), Some("phone"));
///
/// let err = check_customer_id("jane doe").unwrap_err();
/// assert_eq!(err.code(), ErrorCode::CustomerIdInvalid);
/// ```
pub fn check_customer_id(id: &str) -> Result<()> {
    check_well_formed(id)?;
    match pii_kind(id) {
        Some(kind) => Err(Error::pii(kind)),
        None => Ok(()),
    }
}

fn invalid(message: &'static str) -> Error {
    Error::new(ErrorCode::CustomerIdInvalid, message)
}

fn check_well_formed(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(invalid("customer id is empty"));
    }
    // At most one char per byte, so only long byte strings need counting.
    if id.len() > MAX_CUSTOMER_ID_LEN && id.chars().count() > MAX_CUSTOMER_ID_LEN {
        return Err(invalid("customer id is longer than 256 characters"));
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "customer id contains whitespace or control characters",
        ));
    }
    Ok(())
}

/// The kind of personal data a well-formed id looks like, in contract order.
fn pii_kind(id: &str) -> Option<PiiKind> {
    if looks_like_email(id) {
        return Some(PiiKind::Email);
    }
    // One pass over the segments (one copy of the splitting code in the wasm
    // build); a card anywhere still wins over an SSN, an SSN over a phone.
    let (mut card, mut ssn, mut phone) = (false, false, false);
    for seg in numeric_segments(id) {
        card |= is_card(seg);
        ssn |= is_ssn(seg);
        phone |= is_phone(seg);
    }
    if card {
        Some(PiiKind::Card)
    } else if ssn {
        Some(PiiKind::Ssn)
    } else if phone {
        Some(PiiKind::Phone)
    } else {
        None
    }
}

// ---- e-mail ---------------------------------------------------------------

fn looks_like_email(id: &str) -> bool {
    id.char_indices().filter(|&(_, c)| c == '@').any(|(at, _)| {
        match (id.get(..at), id.get(at + 1..)) {
            (Some(before), Some(after)) => has_local_part(before) && has_domain(after),
            _ => false,
        }
    })
}

/// A letter or digit of an address: ASCII, or any non-ASCII character (RFC
/// 6531 `UTF8-non-ascii`). Deliberately not `char::is_alphanumeric`: its
/// Unicode tables cost the wasm build 2 KB gzip. Every non-ASCII letter still
/// counts, as before; non-ASCII symbols now count too, which errs towards
/// seeing an address.
fn is_address_letter(c: char) -> bool {
    c.is_ascii_alphanumeric() || !c.is_ascii()
}

/// Characters of an unquoted local part (RFC 5322 `atext` plus `.`), and any
/// non-ASCII character (RFC 6531).
fn is_local_char(c: char) -> bool {
    is_address_letter(c) || "!#$%&'*+/=?^_`{|}~.-".contains(c)
}

fn has_local_part(before: &str) -> bool {
    before
        .chars()
        .rev()
        .take_while(|&c| is_local_char(c))
        .any(is_address_letter)
}

fn has_domain(after: &str) -> bool {
    let end = after
        .find(|c: char| !(is_address_letter(c) || c == '-' || c == '.'))
        .unwrap_or(after.len());
    let domain = after.get(..end).unwrap_or("").trim_end_matches('.');
    match domain.rsplit_once('.') {
        Some((host, tld)) => !host.is_empty() && !host.starts_with('.') && is_tld(tld),
        None => false,
    }
}

fn is_tld(label: &str) -> bool {
    let letters = label.chars().count() >= 2
        && label
            .chars()
            .all(|c| c.is_ascii_alphabetic() || !c.is_ascii());
    let idn = label.len() > 4
        && label
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("xn--"));
    letters || idn
}

// ---- numbers --------------------------------------------------------------

fn is_number_separator(c: char) -> bool {
    matches!(c, '+' | '-' | '.' | '(' | ')')
}

/// Pieces of `id` between characters that are neither ASCII letters or digits
/// nor number separators, keeping only those made of ASCII digits and
/// separators.
fn numeric_segments(id: &str) -> impl Iterator<Item = &str> {
    id.split(|c: char| !(c.is_ascii_alphanumeric() || is_number_separator(c)))
        .filter(|s| {
            s.bytes().any(|b| b.is_ascii_digit())
                && s.chars()
                    .all(|c| c.is_ascii_digit() || is_number_separator(c))
        })
}

fn ascii_digits(seg: &str) -> impl DoubleEndedIterator<Item = u8> + '_ {
    seg.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b.wrapping_sub(b'0'))
}

fn luhn(seg: &str) -> bool {
    let sum: u32 = ascii_digits(seg)
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn is_card(seg: &str) -> bool {
    let shape = !seg.starts_with('-')
        && !seg.ends_with('-')
        && !seg.contains("--")
        && seg.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    shape && (13..=19).contains(&ascii_digits(seg).count()) && luhn(seg)
}

fn is_ssn(seg: &str) -> bool {
    let d = |b: &u8| b.is_ascii_digit();
    match seg.as_bytes() {
        [a, b, c, b'-', e, f, b'-', g, h, i, j] => [a, b, c, e, f, g, h, i, j].into_iter().all(d),
        bytes @ [a1, a2, a3, g1, g2, s1, s2, s3, s4] if bytes.iter().all(d) => {
            let area_ok =
                !matches!([a1, a2, a3], [b'0', b'0', b'0'] | [b'6', b'6', b'6']) && *a1 != b'9';
            let group_ok = [g1, g2] != [&b'0', &b'0'];
            let serial_ok = [s1, s2, s3, s4] != [&b'0'; 4];
            area_ok && group_ok && serial_ok
        }
        _ => false,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Prev {
    Start,
    Digit,
    Separator,
    Open,
    Close,
}

fn is_phone(seg: &str) -> bool {
    let (plus, rest) = match seg.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, seg),
    };
    let mut digits = 0usize;
    let mut in_paren = false;
    let mut prev = Prev::Start;
    for b in rest.bytes() {
        prev = match b {
            b'0'..=b'9' => {
                digits += 1;
                Prev::Digit
            }
            b'-' | b'.' if !in_paren && matches!(prev, Prev::Digit | Prev::Close) => {
                Prev::Separator
            }
            b'(' if !in_paren && prev != Prev::Close => {
                in_paren = true;
                Prev::Open
            }
            b')' if in_paren && prev == Prev::Digit => {
                in_paren = false;
                Prev::Close
            }
            _ => return false,
        };
    }
    let complete = !in_paren && matches!(prev, Prev::Digit | Prev::Close);
    let range = if plus { 8..=15 } else { 10..=15 };
    complete && range.contains(&digits)
}

// ---- minting --------------------------------------------------------------

/// The shortest secret [`opaque_customer_id`] accepts, in bytes (256 bits, the
/// output size of SHA-256, as RFC 2104 recommends).
#[cfg(not(target_arch = "wasm32"))]
pub const MIN_SECRET_BYTES: usize = 32;

/// Mints the recommended opaque customer id: HMAC-SHA256 of `user_id` (its
/// UTF-8 bytes, exactly as given) keyed by `secret`, as unpadded base64url
/// (43 characters). Native builds only: the secret belongs on the server and
/// must never reach a browser.
///
/// The result is stable for one secret and user id, differs between users and
/// between secrets, cannot be traced back without the secret, and always
/// passes [`check_customer_id`]. Pass the site's canonical, immutable user id
/// (not an e-mail address that may change): `"Jane"` and `"jane"` give
/// different ids.
///
/// Errors: `invalid_config` when `secret` is shorter than [`MIN_SECRET_BYTES`]
/// (32 bytes); `customer_id_invalid` when `user_id` is empty, since all users
/// without an id would otherwise share one customer and its history.
///
/// ```
/// use chat_auth::identifier::{check_customer_id, opaque_customer_id};
///
/// let secret = [7u8; 32]; // load from your secret store
/// let id = opaque_customer_id(&secret, "user-1042").unwrap();
/// assert_eq!(id.len(), 43);
/// assert!(check_customer_id(&id).is_ok());
/// assert_eq!(id, opaque_customer_id(&secret, "user-1042").unwrap());
/// assert!(opaque_customer_id(b"too short", "user-1042").is_err());
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub fn opaque_customer_id(secret: &[u8], user_id: &str) -> Result<String> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(Error::new(
            ErrorCode::InvalidConfig,
            "opaque_customer_id: the secret must be at least 32 bytes",
        ));
    }
    if user_id.is_empty() {
        return Err(invalid("opaque_customer_id: the user id is empty"));
    }
    let mac = hmac_sha256(secret, user_id.as_bytes())?;
    Ok(crate::wire::base64url::encode(&mac))
}

/// Raw HMAC-SHA256, without the secret-length policy (for test vectors).
#[cfg(not(target_arch = "wasm32"))]
fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<[u8; 32]> {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    // HMAC takes keys of any length; the error arm exists only in the type.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| {
        Error::new(
            ErrorCode::InvalidConfig,
            "opaque_customer_id: unusable secret",
        )
    })?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;
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
}

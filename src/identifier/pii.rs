//! The PII heuristics: which well-formed ids look like an e-mail address,
//! a card number, an SSN or a phone number (the rules are listed on
//! [`super::check_customer_id`]).

use crate::error::PiiKind;

/// The kind of personal data a well-formed id looks like, in contract order.
pub(super) fn pii_kind(id: &str) -> Option<PiiKind> {
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
    is_address_letter(c) || (c.is_ascii() && b"!#$%&'*+/=?^_`{|}~.-".contains(&(c as u8)))
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
    // The last '.', found on the bytes (an ASCII byte is a char boundary).
    let dot = domain.bytes().rposition(|b| b == b'.');
    match dot.and_then(|i| Some((domain.get(..i)?, domain.get(i + 1..)?))) {
        Some((host, tld)) => !host.is_empty() && !host.starts_with('.') && is_tld(tld),
        None => false,
    }
}

fn is_tld(label: &str) -> bool {
    let letters = label.chars().nth(1).is_some()
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

pub(super) fn luhn(seg: &str) -> bool {
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
        && crate::wire::find(seg.as_bytes(), b"--").is_none()
        && crate::wire::all_bytes(seg, |b| b.is_ascii_digit() || b == b'-');
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

pub(super) fn is_phone(seg: &str) -> bool {
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

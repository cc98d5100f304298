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

use crate::error::{Error, ErrorCode, Result};

#[cfg(not(target_arch = "wasm32"))]
mod opaque;
mod pii;

#[cfg(not(target_arch = "wasm32"))]
pub use opaque::{opaque_customer_id, MIN_SECRET_BYTES};
use pii::pii_kind;

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
    // At most one char per byte, so only long byte strings need counting;
    // a char is a byte that does not continue one (not `chars().count()`,
    // whose unrolled counter costs the wasm build 0.8 KB).
    if id.len() > MAX_CUSTOMER_ID_LEN
        && id.bytes().filter(|b| b & 0xc0 != 0x80).count() > MAX_CUSTOMER_ID_LEN
    {
        return Err(invalid("customer id is longer than 256 characters"));
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "customer id contains whitespace or control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

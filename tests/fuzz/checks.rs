//! What every case must satisfy when it fails: a code from the target's
//! documented set, a stable code and a message, and no echo of the input.
//! Also the current case's input, kept for the report.

use chat_auth::{Error, ErrorCode};

thread_local! {
    /// The current case's input, for the report when the case fails.
    pub(crate) static INPUT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Records the input of the case being run.
pub(crate) fn input(text: &str) {
    INPUT.with(|i| {
        let mut i = i.borrow_mut();
        i.clear();
        i.push_str(text);
    });
}

/// A failed check, with what is needed to repeat it.
pub(crate) struct Finding(pub(crate) String);

pub(crate) fn check_error(e: &Error, allowed: &[ErrorCode], input: &str) -> Result<(), Finding> {
    if !allowed.contains(&e.code()) {
        return Err(Finding(format!("unexpected code {}", e.code().as_str())));
    }
    if ErrorCode::parse(e.code().as_str()) != Some(e.code()) || e.message().is_empty() {
        return Err(Finding("error without a stable code or message".into()));
    }
    // Messages are static text and option names: they must not echo input
    // (a token or secret would leak into logs and error reports).
    // invalid_config names the offending option (a key, never a value).
    if e.code() == ErrorCode::InvalidConfig {
        return Ok(());
    }
    let shown = format!("{} {e} {e:?}", e.message());
    for piece in input.split(['.', '"', '\n']).filter(|p| p.len() >= 24) {
        if shown.contains(piece) {
            return Err(Finding("error message echoes the input".into()));
        }
    }
    Ok(())
}

pub(crate) fn check<T>(
    result: &Result<T, Error>,
    allowed: &[ErrorCode],
    input: &str,
) -> Result<(), Finding> {
    match result {
        Ok(_) => Ok(()),
        Err(e) => check_error(e, allowed, input),
    }
}

use ErrorCode as C;
pub(crate) const TOKEN_CODES: &[ErrorCode] = &[C::Malformed, C::TokenTooLarge];
pub(crate) const VERIFY_CODES: &[ErrorCode] = &[
    C::InvalidConfig,
    C::Malformed,
    C::TokenTooLarge,
    C::AlgNotAllowed,
    C::BadSignature,
    C::KeyTypeMismatch,
    C::UnknownKey,
    C::Expired,
    C::NotYetValid,
    C::ClaimMismatch,
    C::IssuerMismatch,
    C::AudienceMismatch,
];
pub(crate) const CONFIG_CODES: &[ErrorCode] =
    &[C::InvalidConfig, C::CustomerIdInvalid, C::CustomerIdPii];
pub(crate) const CONTEXT_CODES: &[ErrorCode] = &[C::Malformed, C::TokenTooLarge];
pub(crate) const JSON_CODES: &[ErrorCode] = &[C::Malformed];
pub(crate) const ADMIT_CODES: &[ErrorCode] = &[
    C::Malformed,
    C::TokenTooLarge,
    C::Expired,
    C::NotYetValid,
    C::ClaimMismatch,
    C::IssuerMismatch,
    C::AudienceMismatch,
    C::TokenUnchanged,
    C::InvalidConfig,
];
pub(crate) const KEY_CODES: &[ErrorCode] = &[C::InvalidConfig];
pub(crate) const ID_CODES: &[ErrorCode] = &[C::CustomerIdInvalid, C::CustomerIdPii];

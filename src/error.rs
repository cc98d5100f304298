//! One error type with stable codes (API.md "Errors").
//!
//! Messages are built from static pieces and option names only: a token,
//! refresh token or secret never reaches an error message.

use crate::session::schedule::ClockEvidence;
use std::borrow::Cow;
use std::fmt;

/// The stable error codes of the public contract. `as_str` gives the code
/// exactly as JavaScript sees it in `ChatAuthError.code`. New codes may be
/// added (`#[non_exhaustive]`): a server's `match` needs a `_` arm, e.g. for
/// its answer to a refused token.
///
/// ```
/// use chat_auth::ErrorCode;
///
/// fn status(code: ErrorCode) -> u16 {
///     match code {
///         ErrorCode::InvalidConfig => 500,
///         ErrorCode::Network => 503,
///         _ => 401, // every token refusal: expired, bad_signature, …
///     }
/// }
/// assert_eq!(status(ErrorCode::Expired), 401);
/// assert_eq!(ErrorCode::parse("bad_signature"), Some(ErrorCode::BadSignature));
/// assert_eq!(ErrorCode::BadSignature.as_str(), "bad_signature");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A configuration or option value is unusable.
    InvalidConfig,
    /// A customer id is empty, too long, or has whitespace or control characters.
    CustomerIdInvalid,
    /// A customer id looks like personal data (see [`PiiKind`]).
    CustomerIdPii,
    /// A token or context is not well formed.
    Malformed,
    /// A token is longer than the configured maximum.
    TokenTooLarge,
    /// The token's `alg` is not on the allow-list.
    AlgNotAllowed,
    /// The signature does not verify.
    BadSignature,
    /// The key does not fit the token's algorithm.
    KeyTypeMismatch,
    /// No key in the JWKS matches the token.
    UnknownKey,
    /// The token has expired.
    Expired,
    /// The token is not valid yet (`nbf` or `iat` in the future).
    NotYetValid,
    /// The customer-id claim differs from the customer id.
    ClaimMismatch,
    /// `iss` differs from the required issuer.
    IssuerMismatch,
    /// `aud` does not contain the required audience.
    AudienceMismatch,
    /// A `needsRefresh` answer handed back the token that was just refused.
    TokenUnchanged,
    /// The context provider failed.
    ProviderFailed,
    /// The context provider did not answer in time.
    ProviderTimeout,
    /// The token endpoint refused or failed a refresh.
    RefreshFailed,
    /// A network request failed.
    Network,
    /// The operation needs an authenticated customer.
    NotAuthenticated,
    /// The instance was destroyed.
    Destroyed,
    /// A DPoP proof is malformed or made for another request (`detail`
    /// names the check: `syntax`, `typ`, `jwk`, `jti`, `htm`, `htu`, `iat`,
    /// `ath`, `signature`).
    DpopInvalid,
    /// A DPoP proof's `jti` was seen before.
    DpopReplayed,
    /// A DPoP proof lacks the server's current nonce (`use_dpop_nonce`).
    DpopNonceRequired,
    /// A DPoP proof's key is not the one the token is bound to.
    DpopKeyMismatch,
    /// DPoP is on but the token is not bound to this instance's key
    /// (`token_type` not `DPoP`, or a `cnf.jkt` of another key).
    DpopUnbound,
}

impl ErrorCode {
    /// Every code, in the order of API.md.
    pub const ALL: [ErrorCode; 26] = [
        ErrorCode::InvalidConfig,
        ErrorCode::CustomerIdInvalid,
        ErrorCode::CustomerIdPii,
        ErrorCode::Malformed,
        ErrorCode::TokenTooLarge,
        ErrorCode::AlgNotAllowed,
        ErrorCode::BadSignature,
        ErrorCode::KeyTypeMismatch,
        ErrorCode::UnknownKey,
        ErrorCode::Expired,
        ErrorCode::NotYetValid,
        ErrorCode::ClaimMismatch,
        ErrorCode::IssuerMismatch,
        ErrorCode::AudienceMismatch,
        ErrorCode::TokenUnchanged,
        ErrorCode::ProviderFailed,
        ErrorCode::ProviderTimeout,
        ErrorCode::RefreshFailed,
        ErrorCode::Network,
        ErrorCode::NotAuthenticated,
        ErrorCode::Destroyed,
        ErrorCode::DpopInvalid,
        ErrorCode::DpopReplayed,
        ErrorCode::DpopNonceRequired,
        ErrorCode::DpopKeyMismatch,
        ErrorCode::DpopUnbound,
    ];

    /// The code as it appears in the public contract, e.g. `"claim_mismatch"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidConfig => "invalid_config",
            ErrorCode::CustomerIdInvalid => "customer_id_invalid",
            ErrorCode::CustomerIdPii => "customer_id_pii",
            ErrorCode::Malformed => "malformed",
            ErrorCode::TokenTooLarge => "token_too_large",
            ErrorCode::AlgNotAllowed => "alg_not_allowed",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::KeyTypeMismatch => "key_type_mismatch",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::Expired => "expired",
            ErrorCode::NotYetValid => "not_yet_valid",
            ErrorCode::ClaimMismatch => "claim_mismatch",
            ErrorCode::IssuerMismatch => "issuer_mismatch",
            ErrorCode::AudienceMismatch => "audience_mismatch",
            ErrorCode::TokenUnchanged => "token_unchanged",
            ErrorCode::ProviderFailed => "provider_failed",
            ErrorCode::ProviderTimeout => "provider_timeout",
            ErrorCode::RefreshFailed => "refresh_failed",
            ErrorCode::Network => "network",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::Destroyed => "destroyed",
            ErrorCode::DpopInvalid => "dpop_invalid",
            ErrorCode::DpopReplayed => "dpop_replayed",
            ErrorCode::DpopNonceRequired => "dpop_nonce_required",
            ErrorCode::DpopKeyMismatch => "dpop_key_mismatch",
            ErrorCode::DpopUnbound => "dpop_unbound",
        }
    }

    /// The code for a contract string, the inverse of [`ErrorCode::as_str`].
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

/// What kind of personal data a refused customer id looks like
/// (`detail` of `customer_id_pii`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PiiKind {
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A US social security number.
    Ssn,
    /// A payment card number (13–19 digits passing Luhn).
    Card,
}

impl PiiKind {
    /// The `detail` string of the contract.
    pub const fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Ssn => "ssn",
            PiiKind::Card => "card",
        }
    }
}

/// The crate's error: a stable [`ErrorCode`], a message that never holds a
/// secret, and an optional detail. Boxed so `Result<T>` stays one word wide.
///
/// ```
/// use chat_auth::jose::{Algorithm, Verifier};
/// use chat_auth::ErrorCode;
///
/// let err = Verifier::builder()
///     .algorithms([Algorithm::HS256])
///     .secret(b"too short")
///     .unwrap_err();
/// assert_eq!(err.code(), ErrorCode::InvalidConfig);
/// assert!(err.message().starts_with("option 'secret' "));
/// assert!(!err.to_string().contains("too short")); // never the secret
/// assert_eq!(err.detail(), None);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Box<ErrorInner>);

#[derive(Clone, PartialEq, Eq)]
struct ErrorInner {
    code: ErrorCode,
    message: Cow<'static, str>,
    detail: Option<&'static str>,
    retry_after_ms: Option<i64>,
    clock_evidence: Option<ClockEvidence>,
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with `code` and a message naming the problem (never a secret).
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Error {
        Error(Box::new(ErrorInner {
            code,
            message: message.into(),
            detail: None,
            retry_after_ms: None,
            clock_evidence: None,
        }))
    }

    /// Shorthand for `Error::new(ErrorCode::Malformed, message)`.
    pub fn malformed(message: &'static str) -> Error {
        Error::new(ErrorCode::Malformed, message)
    }

    /// An `invalid_config` error naming the option `key`.
    pub fn invalid_config(key: &str, problem: &'static str) -> Error {
        let mut message = String::with_capacity(key.len() + problem.len() + 10);
        message.push_str("option '");
        message.push_str(key);
        message.push_str("' ");
        message.push_str(problem);
        Error::new(ErrorCode::InvalidConfig, message)
    }

    /// A `customer_id_pii` error with its detail.
    pub fn pii(kind: PiiKind) -> Error {
        let message = match kind {
            PiiKind::Email => "customer id looks like an e-mail address; pass an opaque id",
            PiiKind::Phone => "customer id looks like a phone number; pass an opaque id",
            PiiKind::Ssn => "customer id looks like a social security number; pass an opaque id",
            PiiKind::Card => "customer id looks like a payment card number; pass an opaque id",
        };
        Error::new(ErrorCode::CustomerIdPii, message).with_detail(kind.as_str())
    }

    /// The same error with a `detail`.
    pub fn with_detail(mut self, detail: &'static str) -> Error {
        self.0.detail = Some(detail);
        self
    }

    /// The same error with the server's `Retry-After` (429 / 503), in ms:
    /// the session does not call again before it has passed.
    pub fn with_retry_after(mut self, ms: i64) -> Error {
        self.0.retry_after_ms = Some(ms.max(0));
        self
    }

    /// How long the server asked to wait before the next call, if it did.
    pub fn retry_after_ms(&self) -> Option<i64> {
        self.0.retry_after_ms
    }

    /// The same error with what its token showed of the issuer's clock (a
    /// token refused as `expired`): the session keeps it as evidence for the
    /// next answer ([`crate::session::schedule::issuer_clock_offset`]).
    pub fn with_clock_evidence(mut self, evidence: ClockEvidence) -> Error {
        self.0.clock_evidence = Some(evidence);
        self
    }

    /// The session's clock evidence after the refused answer, if it tells any.
    pub fn clock_evidence(&self) -> Option<ClockEvidence> {
        self.0.clock_evidence
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The detail, e.g. `"email"` for `customer_id_pii`.
    pub fn detail(&self) -> Option<&'static str> {
        self.0.detail
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("code", &self.0.code.as_str())
            .field("message", &self.0.message)
            .field("detail", &self.0.detail)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.code.as_str())?;
        f.write_str(": ")?;
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        assert_eq!(ErrorCode::parse("nope"), None);
    }

    #[test]
    fn invalid_config_names_the_key() {
        let e = Error::invalid_config("refresh.marginSeconds", "must be a finite number >= 0");
        assert_eq!(e.code(), ErrorCode::InvalidConfig);
        assert_eq!(
            e.message(),
            "option 'refresh.marginSeconds' must be a finite number >= 0"
        );
        assert_eq!(
            e.to_string(),
            "invalid_config: option 'refresh.marginSeconds' must be a finite number >= 0"
        );
    }

    #[test]
    fn pii_errors_carry_detail() {
        let e = Error::pii(PiiKind::Card);
        assert_eq!(e.code(), ErrorCode::CustomerIdPii);
        assert_eq!(e.detail(), Some("card"));
    }
}

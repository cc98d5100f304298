//! # chat-auth-ffi
//!
//! The chat-auth core for mobile apps, through UniFFI: the sans-I/O session
//! driver ([`SessionDriver`]), customer-id checks, `decodeToken` and
//! `verifyToken`, with the same stable error codes as the browser build.
//! Kotlin (Android) and Swift (iOS) bindings are generated from this crate's
//! library by its own `uniffi-bindgen` binary (`--features bindgen`).
//!
//! The foreign host feeds [`HostInput`]s and carries out the [`HostEffect`]s
//! that [`SessionDriver::poll`] hands back, as the browser host
//! (`js/chat_auth_host.js`) does with the driver's own. Everything the
//! browser build keeps in Rust stays in Rust here too: the refresh grant's
//! body, which keys verify a token (and the one JWKS re-fetch on an unknown
//! `kid`), the signature check itself. The foreign side only moves bytes
//! (HTTP requests, timers, provider calls, storage) and reports what
//! happened.
//!
//! Nothing here panics on input: every failure is an [`FfiError`] carrying
//! the stable code (`invalid_config`, `customer_id_pii`, …).
#![deny(missing_docs)]

mod driver;
#[cfg(test)]
mod driver_tests;
mod issuer;

pub use driver::{
    HeaderPair, HostEffect, HostEnvironment, HostEvent, HostInput, HostReply, HttpRequest,
    ProviderFailureKind, SessionDriver,
};

use chat_auth::error::{Error, ErrorCode};
use chat_auth::identifier;
use chat_auth::jose::{token, verify};
use chat_auth::time::Millis;
use chat_auth::wire::json;

uniffi::setup_scaffolding!();

/// A chat-auth failure as the foreign side sees it: `code` is the stable
/// contract string (`ChatAuthError.code` in JavaScript), `reason` the
/// human-readable message (never a token or secret).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
pub enum FfiError {
    /// The one kind of failure.
    Failed {
        /// The stable code, e.g. `customer_id_pii`.
        code: String,
        /// What went wrong, for people.
        reason: String,
        /// The detail, e.g. `email` for `customer_id_pii`.
        detail: Option<String>,
    },
}

impl From<Error> for FfiError {
    fn from(e: Error) -> FfiError {
        FfiError::Failed {
            code: e.code().as_str().to_owned(),
            reason: e.message().to_owned(),
            detail: e.detail().map(str::to_owned),
        }
    }
}

impl std::fmt::Display for FfiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let FfiError::Failed { code, reason, .. } = self;
        write!(f, "{code}: {reason}")
    }
}

impl std::error::Error for FfiError {}

/// Every stable error code, in the order of API.md.
#[uniffi::export]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect()
}

/// `checkCustomerId(id)`: `customer_id_invalid` or `customer_id_pii` (with
/// its detail) when `id` is unusable as a customer id.
#[uniffi::export]
pub fn check_customer_id(id: String) -> Result<(), FfiError> {
    identifier::check_customer_id(&id).map_err(FfiError::from)
}

/// A token decoded without verification (`decodeToken`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DecodedToken {
    /// The JOSE header as JSON text.
    pub header_json: String,
    /// The claims as JSON text.
    pub claims_json: String,
    /// `exp` in ms since the epoch, if present.
    pub expires_at: Option<i64>,
}

/// `decodeToken(token)`: the header and claims, without verification.
#[uniffi::export]
pub fn decode_token(token: String) -> Result<DecodedToken, FfiError> {
    let decoded = token::decode(&token, token::DEFAULT_MAX_TOKEN_BYTES)?;
    Ok(DecodedToken {
        header_json: decoded.header_json,
        claims_json: decoded.payload_json,
        expires_at: decoded.claims.expires_at_ms(),
    })
}

/// `verifyToken(token, options)` at `now_ms` (ms since the epoch; the
/// options' `now` wins): the claims as JSON text. `options_json` is the
/// JavaScript options object as JSON (`algorithms`, `publicKey`, `jwks`,
/// `secret`, `issuer`, `audience`, `customerId`, …).
#[uniffi::export]
pub fn verify_token(token: String, options_json: String, now_ms: i64) -> Result<String, FfiError> {
    let options = json::parse_object(options_json.as_bytes())
        .map_err(|_| Error::new(ErrorCode::InvalidConfig, "options must be a JSON object"))?;
    let opts = verify::VerifyOptions::from_json(&options)?;
    let now: Millis = now_ms;
    verify::verify_token(&token, &opts, now)?;
    // The claims verified: hand them over as the token carries them.
    let decoded = token::decode(&token, token::DEFAULT_MAX_TOKEN_BYTES)?;
    Ok(decoded.payload_json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_cross_as_the_contract_strings() {
        let e = check_customer_id("jane@example.com".into()).unwrap_err();
        let FfiError::Failed { code, detail, .. } = e;
        assert_eq!(code, "customer_id_pii");
        assert_eq!(detail.as_deref(), Some("email"));
        assert!(check_customer_id("c_8f3a9b2e".into()).is_ok());
        assert_eq!(error_codes().len(), ErrorCode::ALL.len());
    }

    #[test]
    fn decode_and_verify() {
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
            eyJzdWIiOiJjXzhmM2E5YjJlIiwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1wbGUuY29tIiwiZXhwIjoyMDAwMDAwMDAwfQ.\
            XuNPkZ4olxaucIoPPNcQRQTAPW9u7V19ZWpDCAqeD7I";
        let d = decode_token(token.into()).unwrap();
        assert_eq!(d.expires_at, Some(2_000_000_000_000));
        let options = r#"{"algorithms":["HS256"],"secret":"an example secret of at least 32 bytes","customerId":"c_8f3a9b2e"}"#;
        let claims = verify_token(token.into(), options.into(), 1_900_000_000_000).unwrap();
        assert!(claims.contains("c_8f3a9b2e"));
        let late = verify_token(token.into(), options.into(), 2_000_000_030_000).unwrap_err();
        assert!(matches!(late, FfiError::Failed { ref code, .. } if code == "expired"));
        let bad = verify_token(token.into(), "[]".into(), 0).unwrap_err();
        assert!(matches!(bad, FfiError::Failed { ref code, .. } if code == "invalid_config"));
        let junk = decode_token("not a token".into()).unwrap_err();
        assert!(matches!(junk, FfiError::Failed { ref code, .. } if code == "malformed"));
    }
}

//! Secrets (access tokens, refresh tokens, HMAC keys) that never print.
//!
//! As in oauth2-rs: `Debug` shows `[redacted]`, and the value is reached only
//! through an explicit `secret()` call, so a stray `{:?}` or log line cannot
//! leak it.

use std::fmt;

/// A string that must not appear in logs, errors or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> SecretString {
        SecretString(secret.into())
    }

    /// The secret itself. Call only where the value must leave the process
    /// (an `Authorization` header, a token request body, a verifier).
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> SecretString {
        SecretString(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn debug_is_redacted() {
        let s = SecretString::new("eyJhbGciOi.top.secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        assert_eq!(s.secret(), "eyJhbGciOi.top.secret");
    }
}

//! The options that shape the session's requests: `refresh.*`
//! ([`RefreshPolicy`], which the schedule reads) and the refresh grant's
//! parameters `clientId`, `scope`, `resource` ([`GrantParams`], whose
//! request body the session builds). Option types, so they live here and
//! the session layer uses them.

use crate::error::{Error, Result};
use crate::time::Millis;
use crate::wire::json::Value;

/// The `refresh.*` options, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Refresh this long before expiry (`refresh.marginSeconds`); default
    /// 60 000 ms. Capped at 25 % of the token's lifetime; negative counts as 0.
    pub margin_ms: Millis,
    /// How many times a failed refresh is retried (`refresh.maxRetries`), so at
    /// most `1 + max_retries` calls per refresh; default 5.
    pub max_retries: u32,
    /// How long a provider may take before it counts as failed
    /// (`refresh.providerTimeoutSeconds`); default 15 000 ms.
    pub provider_timeout_ms: Millis,
}

impl Default for RefreshPolicy {
    /// 60 s margin, 5 retries, 15 s provider timeout.
    fn default() -> RefreshPolicy {
        RefreshPolicy {
            margin_ms: 60_000,
            max_retries: 5,
            provider_timeout_ms: 15_000,
        }
    }
}

/// What goes with every refresh grant besides the refresh token
/// (`clientId`, `scope`, `resource`). Default: nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantParams {
    /// `client_id` (public clients identify themselves, RFC 6749 §3.2.1).
    pub client_id: Option<String>,
    /// `scope` tokens, sent space-separated. Empty: no `scope` parameter,
    /// so the provider keeps the scope of the original grant.
    pub scope: Vec<String>,
    /// `resource` URIs, one parameter each, in order. Empty: none.
    pub resources: Vec<String>,
}

impl GrantParams {
    /// Reads the `scope` option: a space-separated string or an array of
    /// scope tokens, each of RFC 6749 §3.3's characters (`%x21 / %x23-5B /
    /// %x5D-7E`); anything else is `invalid_config`.
    pub fn read_scope(value: &Value) -> Result<Vec<String>> {
        let bad = || {
            Error::invalid_config(
                "scope",
                "must be a space-separated string or an array of scope tokens (RFC 6749 §3.3)",
            )
        };
        let mut tokens = Vec::new();
        match value {
            Value::String(s) => tokens.extend(s.split(' ').map(str::to_owned)),
            Value::Array(items) => {
                for item in items {
                    tokens.push(item.as_str().ok_or_else(bad)?.to_owned());
                }
            }
            _ => return Err(bad()),
        }
        let scope_char =
            |b: u8| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
        if tokens.is_empty()
            || tokens
                .iter()
                .any(|t| t.is_empty() || !crate::wire::all_bytes(t, scope_char))
        {
            return Err(bad());
        }
        Ok(tokens)
    }

    /// Reads the `resource` option: one absolute URI or a non-empty array of
    /// them, without a fragment (RFC 8707 §2); anything else is
    /// `invalid_config`.
    pub fn read_resources(value: &Value) -> Result<Vec<String>> {
        let items = match value {
            Value::Array(items) => items.as_slice(),
            other => std::slice::from_ref(other),
        };
        let mut uris = Vec::new();
        for item in items {
            match item.as_str() {
                Some(uri) if is_absolute_uri(uri) => uris.push(uri.to_owned()),
                _ => uris.clear(),
            }
            if uris.is_empty() {
                break;
            }
        }
        if uris.len() != items.len() || uris.is_empty() {
            return Err(Error::invalid_config(
                "resource",
                "must be an absolute URI without a fragment, or an array of them (RFC 8707 §2)",
            ));
        }
        Ok(uris)
    }
}

/// `scheme:rest` with an RFC 3986 scheme, no fragment, no whitespace or
/// control characters.
fn is_absolute_uri(uri: &str) -> bool {
    let bytes = uri.as_bytes();
    let Some(colon) = bytes.iter().position(|&b| b == b':') else {
        return false;
    };
    bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes[..colon]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && colon + 1 < bytes.len()
        && bytes.iter().all(|&b| b > b' ' && b < 0x7f && b != b'#')
}

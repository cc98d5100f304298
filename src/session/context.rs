//! The context a site's provider hands over (API.md "ContextProvider"), read
//! into a [`Context`]. Both ASAPP's shape (`{ Auth: { Token, ExpiresAt, Headers } }`)
//! and a plain OAuth 2.0 token response (`{ access_token, token_type,
//! expires_in, refresh_token, scope }`, at the top level or inside `Auth`) are
//! accepted. The browser hands the provider's object over as JSON text, so
//! both targets read contexts with this one parser.

use crate::error::{Error, Result};
use crate::secret::SecretString;
use crate::wire::json::{Object, Value};

/// Headers a context may not set: the SDK owns them.
const RESERVED_HEADERS: [&str; 2] = ["authorization", "chat-anonymous-id"];

/// A provider's context, checked for shape (not yet for validity).
#[derive(Clone, Debug, PartialEq)]
pub struct Context {
    /// The access token (`Auth.Token`, else `access_token`).
    pub token: SecretString,
    /// `token_type`, e.g. `Bearer`; `None` means `Bearer`.
    pub token_type: Option<String>,
    /// `expires_in` in seconds, relative to receipt.
    pub expires_in: Option<f64>,
    /// `Auth.ExpiresAt`, absolute, seconds since the epoch.
    pub expires_at: Option<f64>,
    /// `refresh_token`, for the OAuth refresh grant.
    pub refresh_token: Option<SecretString>,
    /// Extra request headers (`Auth.Headers`), in order.
    pub headers: Vec<(String, String)>,
}

/// Reads a context from a JSON object. A missing or empty token, a token with
/// characters that cannot go in an HTTP header, a negative or non-numeric
/// expiry, or headers that are not string-valued (or try to set
/// `Authorization` / `Chat-Anonymous-Id`) are `malformed`.
pub fn parse(context: &Object) -> Result<Context> {
    // An OAuth token response may come as the whole context.
    let auth = match context.get("Auth") {
        Some(Value::Object(auth)) => auth,
        Some(_) => return Err(Error::malformed("context 'Auth' must be an object")),
        None if context.contains("access_token") => context,
        None => return Err(Error::malformed("context has no 'Auth'")),
    };
    let token = match (auth.get("Token"), auth.get("access_token")) {
        (Some(Value::String(t)), _) | (None, Some(Value::String(t))) => t,
        (None, None) => return Err(Error::malformed("context has no token")),
        _ => return Err(Error::malformed("context token must be a string")),
    };
    if !is_header_token(token) {
        return Err(Error::malformed(
            "context token is empty or has characters not allowed in a header",
        ));
    }
    // Filled in place: a refused member drops this one value, not a
    // different set of locals at each return.
    let mut c = Context {
        token: SecretString::new(token.clone()),
        token_type: None,
        expires_in: None,
        expires_at: None,
        refresh_token: None,
        headers: Vec::new(),
    };
    match auth.get("token_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if is_auth_scheme(t) => c.token_type = Some(t.clone()),
        Some(_) => {
            return Err(Error::malformed(
                "context 'token_type' is not a valid scheme",
            ))
        }
    }
    let seconds = |name: &'static str| -> Result<Option<f64>> {
        match auth.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if *n >= 0.0 => Ok(Some(*n)),
            Some(_) => Err(Error::malformed("context expiry must be a number >= 0")),
        }
    };
    match auth.get("refresh_token") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if !t.is_empty() => {
            c.refresh_token = Some(SecretString::new(t.clone()));
        }
        Some(_) => return Err(Error::malformed("context 'refresh_token' must be a string")),
    }
    match auth.get("Headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(h)) => {
            for (name, value) in h.iter() {
                let Value::String(value) = value else {
                    return Err(Error::malformed("context 'Headers' values must be strings"));
                };
                if !is_header_name(name) || !is_header_value(value) {
                    return Err(Error::malformed("context 'Headers' has an invalid header"));
                }
                if RESERVED_HEADERS
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(name))
                {
                    return Err(Error::malformed(
                        "context 'Headers' may not set Authorization or Chat-Anonymous-Id",
                    ));
                }
                c.headers.push((name.to_owned(), value.clone()));
            }
        }
        Some(_) => return Err(Error::malformed("context 'Headers' must be an object")),
    }
    c.expires_in = seconds("expires_in")?;
    c.expires_at = seconds("ExpiresAt")?;
    Ok(c)
}

impl Context {
    /// The `Authorization` scheme: `token_type` when given, else `Bearer`.
    pub fn scheme(&self) -> &str {
        self.token_type.as_deref().unwrap_or("Bearer")
    }
}

/// RFC 6750 b64token characters plus the rest of visible ASCII except
/// separators that would break a header: what may follow `Bearer `.
fn is_header_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',' && b != b'"')
}

fn is_auth_scheme(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_header_value(s: &str) -> bool {
    crate::wire::all_bytes(s, |b| b == b'\t' || (0x20..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::json::parse_object;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn ctx(s: &str) -> Result<Context> {
        parse(&parse_object(s.as_bytes()).unwrap())
    }

    #[test]
    fn reads_asapp_context() {
        let c = ctx(r#"{"Auth":{"Token":"abc.def.ghi","ExpiresAt":1700000000,"Headers":{"X-Site":"1"}},"CustomerInfo":{"a":"b"}}"#).unwrap();
        assert_eq!(c.token.secret(), "abc.def.ghi");
        assert_eq!(c.expires_at, Some(1_700_000_000.0));
        assert_eq!(c.headers, vec![("X-Site".to_owned(), "1".to_owned())]);
        assert_eq!(c.scheme(), "Bearer");
    }

    #[test]
    fn reads_oauth_response_at_top_level_and_in_auth() {
        for s in [
            r#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"bearer","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA","scope":"chat"}"#,
            r#"{"Auth":{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"bearer","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA"}}"#,
        ] {
            let c = ctx(s).unwrap();
            assert_eq!(c.token.secret(), "2YotnFZFEjr1zCsicMWpAA");
            assert_eq!(c.scheme(), "bearer");
            assert_eq!(c.expires_in, Some(3600.0));
            assert_eq!(
                c.refresh_token.as_ref().unwrap().secret(),
                "tGzv3JOkF0XG5Qx2TlKWIA"
            );
        }
    }

    #[test]
    fn refuses_bad_shapes() {
        for s in [
            r#"{}"#,
            r#"{"Auth":"x"}"#,
            r#"{"Auth":{}}"#,
            r#"{"Auth":{"Token":""}}"#,
            r#"{"Auth":{"Token":1}}"#,
            r#"{"Auth":{"Token":"a b"}}"#,
            r#"{"Auth":{"Token":"a\r\nX-Evil: 1"}}"#,
            r#"{"Auth":{"Token":"a","ExpiresAt":"soon"}}"#,
            r#"{"Auth":{"Token":"a","expires_in":-1}}"#,
            r#"{"Auth":{"Token":"a","token_type":"Bea rer"}}"#,
            r#"{"Auth":{"Token":"a","Headers":{"Authorization":"Bearer x"}}}"#,
            r#"{"Auth":{"Token":"a","Headers":{"chat-anonymous-id":"x"}}}"#,
            r#"{"Auth":{"Token":"a","Headers":{"X":1}}}"#,
            r#"{"Auth":{"Token":"a","Headers":{"X":"a\nb"}}}"#,
            r#"{"Auth":{"Token":"a","Headers":{"X Y":"1"}}}"#,
            r#"{"Auth":{"Token":"a","refresh_token":5}}"#,
        ] {
            let e = ctx(s).expect_err(s);
            assert_eq!(e.code().as_str(), "malformed", "{s}");
            assert!(!e.message().contains("X-Evil"));
        }
    }

    #[test]
    fn debug_hides_tokens() {
        let c = ctx(r#"{"Auth":{"Token":"sekrit","refresh_token":"rsekrit"}}"#).unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("sekrit"), "{d}");
    }
}

//! The OAuth 2.0 refresh grant's request body (RFC 6749 §6), with the
//! `scope` (RFC 6749 §3.3) and `resource` (RFC 8707 §2) a provider needs to
//! issue the next access token for the right API, and the one rule for what
//! the token endpoint's answer hands back before anything else is judged:
//! its rotated refresh token.

use crate::secret::SecretString;
use crate::wire::json::{self, Object, Value};

// The parameters are option types (`clientId`, `scope`, `resource`),
// defined and read with the options; the grant's body is built here.
pub use crate::options::GrantParams;

impl GrantParams {
    /// The `application/x-www-form-urlencoded` body of a refresh grant
    /// presenting `refresh_token`. It holds the refresh token, so it is a
    /// secret too.
    pub fn refresh_body(&self, refresh_token: &SecretString) -> SecretString {
        let mut body = String::from("grant_type=refresh_token&refresh_token=");
        form_encode(&mut body, refresh_token.secret());
        if let Some(client_id) = &self.client_id {
            body.push_str("&client_id=");
            form_encode(&mut body, client_id);
        }
        for (i, scope) in self.scope.iter().enumerate() {
            // One `scope` parameter, its tokens space-separated (`%20`).
            body.push_str(if i == 0 { "&scope=" } else { "%20" });
            form_encode(&mut body, scope);
        }
        for resource in &self.resources {
            body.push_str("&resource=");
            form_encode(&mut body, resource);
        }
        SecretString::new(body)
    }
}

/// `application/x-www-form-urlencoded` encoding of one value, appended.
pub fn form_encode(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

/// The refresh token a token-endpoint answer (JSON text) hands back, read
/// on its own before the access token is judged: an answer whose access
/// token is refused still rotated the refresh token (RFC 6749 §6, RFC 9700
/// §4.14), and the new one must not be lost with it. `None` when the answer
/// is not a JSON object or carries no refresh token.
pub fn issued_refresh_token(answer: &str) -> Option<SecretString> {
    let object = json::parse_object(answer.as_bytes()).ok()?;
    let auth: &Object = match object.get("Auth") {
        Some(Value::Object(auth)) => auth,
        _ => &object,
    };
    match auth.get("refresh_token") {
        Some(Value::String(t)) if !t.is_empty() => Some(SecretString::new(t.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::json::parse_object;

    fn value(text: &str) -> Value {
        parse_object(format!(r#"{{"v":{text}}}"#).as_bytes())
            .unwrap()
            .get("v")
            .unwrap()
            .clone()
    }

    #[test]
    fn the_body_carries_client_id_scope_and_every_resource() {
        let params = GrantParams {
            client_id: Some("web app".into()),
            scope: GrantParams::read_scope(&value(r#""openid chat:write""#)).unwrap(),
            resources: GrantParams::read_resources(&value(
                r#"["https://chat.example.com/api","urn:example:chat"]"#,
            ))
            .unwrap(),
        };
        let body = params.refresh_body(&SecretString::new("r+/=1"));
        assert_eq!(
            body.secret(),
            "grant_type=refresh_token&refresh_token=r%2B%2F%3D1&client_id=web%20app\
             &scope=openid%20chat%3Awrite&resource=https%3A%2F%2Fchat.example.com%2Fapi\
             &resource=urn%3Aexample%3Achat"
        );
        assert_eq!(format!("{body:?}"), "[redacted]");
    }

    #[test]
    fn without_options_the_body_is_the_bare_grant() {
        let body = GrantParams::default().refresh_body(&SecretString::new("r1"));
        assert_eq!(body.secret(), "grant_type=refresh_token&refresh_token=r1");
    }

    #[test]
    fn scope_and_resource_are_checked() {
        assert_eq!(
            GrantParams::read_scope(&value(r#"["a","b"]"#)).unwrap(),
            ["a", "b"]
        );
        for bad in [
            r#""""#,
            r#""a  b""#,
            r#""a\"b""#,
            r#"[]"#,
            r#"["a b"]"#,
            r#"["é"]"#,
            "1",
            r#"[1]"#,
        ] {
            let e = GrantParams::read_scope(&value(bad)).unwrap_err();
            assert_eq!(e.code().as_str(), "invalid_config", "{bad}");
            assert!(e.message().contains("scope"), "{bad}");
        }
        assert_eq!(
            GrantParams::read_resources(&value(r#""https://api.example.com""#)).unwrap(),
            ["https://api.example.com"]
        );
        for bad in [
            r#""""#,
            r#""/api""#,
            r#""api.example.com""#,
            r#""https://a.com/#x""#,
            r#""https://a.com/ x""#,
            r#""1a:b""#,
            r#"[]"#,
            r#"[null]"#,
            "true",
        ] {
            let e = GrantParams::read_resources(&value(bad)).unwrap_err();
            assert_eq!(e.code().as_str(), "invalid_config", "{bad}");
            assert!(e.message().contains("resource"), "{bad}");
        }
    }

    #[test]
    fn the_rotated_refresh_token_is_read_whatever_the_access_token() {
        for answer in [
            r#"{"access_token":"not a jwt.x.y","refresh_token":"r2"}"#,
            r#"{"access_token":"","token_type":"bogus type","refresh_token":"r2"}"#,
            r#"{"Auth":{"Token":"x","refresh_token":"r2"}}"#,
        ] {
            assert_eq!(
                issued_refresh_token(answer).map(|r| r.secret().to_owned()),
                Some("r2".into()),
                "{answer}"
            );
        }
        for answer in [
            r#"{"access_token":"a"}"#,
            r#"{"access_token":"a","refresh_token":""}"#,
            r#"{"access_token":"a","refresh_token":5}"#,
            "not json",
        ] {
            assert!(issued_refresh_token(answer).is_none(), "{answer}");
        }
    }
}

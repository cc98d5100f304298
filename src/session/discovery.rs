//! Authorization server metadata: OpenID Connect Discovery 1.0 and RFC 8414.
//!
//! With the `issuer` option the SDK finds the provider's `jwks_uri` and
//! `token_endpoint` itself. The metadata is looked for at the OpenID
//! location first (`{issuer}/.well-known/openid-configuration`, which most
//! providers serve), then at RFC 8414's (`/.well-known/oauth-authorization-server`
//! inserted before the issuer's path). Metadata whose `issuer` is not the
//! configured issuer, code point for code point, is refused with
//! `issuer_mismatch` (RFC 8414 §3.3, OpenID Connect Discovery §4.3): a
//! metadata document must not send the SDK to another provider's keys.
//! The shell fetches and caches; this module only decides.

use crate::error::{Error, ErrorCode, Result};
use crate::wire::json::{self, Value};

/// What the SDK uses from an issuer's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// `issuer`, equal to the configured one.
    pub issuer: String,
    /// `jwks_uri`, if published.
    pub jwks_uri: Option<String>,
    /// `token_endpoint`, if published.
    pub token_endpoint: Option<String>,
}

/// The metadata URLs of `issuer`, in the order they are tried: OpenID
/// Connect Discovery's, then RFC 8414's. `issuer` is an http(s) URL
/// without query or fragment (the `issuer` option checks that).
pub fn metadata_urls(issuer: &str) -> [String; 2] {
    let trimmed = issuer.strip_suffix('/').unwrap_or(issuer);
    let mut openid = String::from(trimmed);
    openid.push_str("/.well-known/openid-configuration");
    // RFC 8414 §3.1: the well-known segment goes between host and path.
    let after_scheme = crate::wire::find(trimmed.as_bytes(), b"://").map_or(0, |i| i + 3);
    let path_at = trimmed
        .as_bytes()
        .get(after_scheme..)
        .and_then(|rest| rest.iter().position(|&b| b == b'/'))
        .map_or(trimmed.len(), |i| after_scheme + i);
    // Both cuts are at ASCII bytes, so `split_at_checked` always succeeds.
    let (origin, path) = trimmed.split_at_checked(path_at).unwrap_or((trimmed, ""));
    let mut oauth = String::from(origin);
    oauth.push_str("/.well-known/oauth-authorization-server");
    oauth.push_str(path);
    [openid, oauth]
}

/// Reads a metadata document (JSON text) for `expected_issuer`. A
/// document that is not a JSON object, or whose endpoints are not http(s)
/// URLs, is `malformed`; a different `issuer` is `issuer_mismatch`.
pub fn read_metadata(text: &str, expected_issuer: &str) -> Result<Metadata> {
    let doc = json::parse_object(text.as_bytes())
        .map_err(|_| Error::malformed("the issuer's metadata is not a JSON object"))?;
    let issuer = doc.get_str("issuer").unwrap_or_default();
    if issuer != expected_issuer {
        return Err(Error::new(
            ErrorCode::IssuerMismatch,
            "the metadata names another issuer than the one configured",
        ));
    }
    let endpoint = |name: &str| -> Result<Option<String>> {
        match doc.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(u)) if is_http_url(u) => Ok(Some(u.clone())),
            Some(_) => Err(Error::malformed(
                "the issuer's metadata has an endpoint that is not an http(s) URL",
            )),
        }
    };
    Ok(Metadata {
        issuer: issuer.to_owned(),
        jwks_uri: endpoint("jwks_uri")?,
        token_endpoint: endpoint("token_endpoint")?,
    })
}

fn is_http_url(u: &str) -> bool {
    let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && crate::wire::all_bytes(u, |b| b > b' ' && b < 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_well_known_locations() {
        assert_eq!(
            metadata_urls("https://id.example.com"),
            [
                "https://id.example.com/.well-known/openid-configuration",
                "https://id.example.com/.well-known/oauth-authorization-server"
            ]
        );
        assert_eq!(
            metadata_urls("https://id.example.com/tenant/a/"),
            [
                "https://id.example.com/tenant/a/.well-known/openid-configuration",
                "https://id.example.com/.well-known/oauth-authorization-server/tenant/a"
            ]
        );
        assert_eq!(
            metadata_urls("http://127.0.0.1:3000")[1],
            "http://127.0.0.1:3000/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn reads_the_endpoints_of_the_configured_issuer() {
        let m = read_metadata(
            r#"{"issuer":"https://id.example.com","jwks_uri":"https://id.example.com/jwks",
               "token_endpoint":"https://id.example.com/token","scopes_supported":["openid"]}"#,
            "https://id.example.com",
        )
        .unwrap();
        assert_eq!(m.jwks_uri.as_deref(), Some("https://id.example.com/jwks"));
        assert_eq!(
            m.token_endpoint.as_deref(),
            Some("https://id.example.com/token")
        );
        let bare = read_metadata(r#"{"issuer":"https://a"}"#, "https://a").unwrap();
        assert_eq!((bare.jwks_uri, bare.token_endpoint), (None, None));
    }

    #[test]
    fn refuses_another_issuer_and_bad_documents() {
        for (doc, code) in [
            (r#"{"issuer":"https://evil.example"}"#, "issuer_mismatch"),
            (r#"{"issuer":"https://id.example.com/"}"#, "issuer_mismatch"),
            (r#"{"issuer":"HTTPS://id.example.com"}"#, "issuer_mismatch"),
            (
                r#"{"jwks_uri":"https://id.example.com/jwks"}"#,
                "issuer_mismatch",
            ),
            (r#"{"issuer":5}"#, "issuer_mismatch"),
            (
                r#"{"issuer":"https://id.example.com","jwks_uri":"/jwks"}"#,
                "malformed",
            ),
            (
                r#"{"issuer":"https://id.example.com","token_endpoint":7}"#,
                "malformed",
            ),
            ("<html>", "malformed"),
        ] {
            let e = read_metadata(doc, "https://id.example.com").unwrap_err();
            assert_eq!(e.code().as_str(), code, "{doc}");
        }
    }
}

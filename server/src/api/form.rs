//! The `application/x-www-form-urlencoded` body of the OAuth endpoints.

use super::error::ApiError;
use axum::body::Bytes;
use axum::http::{header, HeaderMap};

/// Reads an `application/x-www-form-urlencoded` body; a repeated parameter
/// is `invalid_request` (RFC 6749 §3.1).
pub(super) fn form(headers: &HeaderMap, body: &Bytes) -> Result<Vec<(String, String)>, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    {
        return Err(ApiError::bad_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(body)?;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(j, _)| j == k) {
            return Err(ApiError::bad_request(format!(
                "parameter '{k}' is repeated"
            )));
        }
    }
    Ok(pairs)
}

fn serde_urlencoded_pairs(body: &Bytes) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map_err(|_| ApiError::bad_request("the form body cannot be read"))
}

pub(super) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

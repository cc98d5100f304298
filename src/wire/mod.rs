//! The wire formats, below everything else: a strict JSON reader and writer
//! ([`json`]), strict unpadded base64url ([`base64url`]) and the exact
//! decimal conversion the JSON reader uses for numbers (crate-private), and
//! two byte-level text helpers (`cat`, `find`; crate-private).
//! Nothing here knows about tokens or sessions.
//!
//! [`json`] and [`base64url`] are public because servers and tests speak
//! chat-auth's JSON with them (`VerifyOptions::from_json` takes a parsed
//! [`json::Object`]); what only the crate uses is `pub(crate)`.

pub mod base64url;
mod decimal;
pub mod json;

/// `parts` joined (`[..].concat()` without its generic machinery: size), for
/// the JSON and header text the crate writes.
pub(crate) fn cat(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        out.push_str(part);
    }
    out
}

/// Where `needle` first occurs in `haystack`: a plain byte search for the
/// crate's short ASCII needles (`"-----"`, `", "`, `"://"`), instead of
/// `str::find(&str)`, whose two-way searcher and its panic paths cost the wasm
/// build ~3 KB. An empty needle is found at 0.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

//! The wire formats, below everything else: a strict JSON reader and writer
//! ([`json`]), strict unpadded base64url ([`base64url`]) and the exact
//! decimal conversion the JSON reader uses for numbers (crate-private), and
//! three byte-level text helpers (`cat`, `find`, `all_bytes`; crate-private).
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

/// Whether every byte of `s` passes `test`: one out-of-line loop for the
/// crate's byte-class checks, instead of a `bytes().all(closure)` copy of
/// the iterator's unrolled fold per call site (~100 B each in the wasm build).
pub(crate) fn all_bytes(s: &str, test: fn(u8) -> bool) -> bool {
    for b in s.bytes() {
        if !test(b) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::{all_bytes, find};
    #[cfg(not(target_arch = "wasm32"))]
    use proptest::prelude::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn find_agrees_with_str_find() {
        let cases = [
            ("-----BEGIN X-----", "-----"),
            ("ab-----END ", "-----END "),
            ("Sunday, 06-Nov-94", ", "),
            ("https://a/b", "://"),
            ("1--2", "--"),
            ("no match here", "--"),
            ("", "x"),
            ("x", ""),
            ("", ""),
            ("ab", "abc"),
            ("aaab", "aab"),
            ("end--", "--"),
            ("é://ü", "://"),
        ];
        for (hay, needle) in cases {
            assert_eq!(
                find(hay.as_bytes(), needle.as_bytes()),
                hay.find(needle),
                "{hay:?} {needle:?}"
            );
        }
    }

    #[test]
    fn all_bytes_is_bytes_all() {
        let digit: fn(u8) -> bool = |b| b.is_ascii_digit();
        for s in ["", "0", "123", "12a", "a", "é1", "\t ~"] {
            assert_eq!(all_bytes(s, digit), s.bytes().all(digit), "{s:?}");
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest! {
        #[test]
        fn find_is_str_find(hay in "[ab.:/-]{0,12}", needle in "[ab.:/-]{0,3}") {
            prop_assert_eq!(find(hay.as_bytes(), needle.as_bytes()), hay.find(&needle));
        }
    }
}

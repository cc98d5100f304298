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

#[cfg(test)]
mod tests {
    use super::find;
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

    #[cfg(not(target_arch = "wasm32"))]
    proptest! {
        #[test]
        fn find_is_str_find(hay in "[ab.:/-]{0,12}", needle in "[ab.:/-]{0,3}") {
            prop_assert_eq!(find(hay.as_bytes(), needle.as_bytes()), hay.find(&needle));
        }
    }
}

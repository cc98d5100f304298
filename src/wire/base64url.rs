//! Strict base64url (RFC 4648 §5) without padding, as JWS compact
//! serialization requires: no `=`, no whitespace, no `+`/`/`, and the unused
//! low bits of the last character must be zero (so every token has exactly one
//! spelling and a flipped trailing bit cannot slip past a signature cache).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const INVALID: u8 = 0xff;

const fn decode_table() -> [u8; 256] {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
}

static DECODE: [u8; 256] = decode_table();

/// Decodes strict unpadded base64url; `None` on any deviation.
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    if input.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 2);
    let mut chunks = input.chunks_exact(4);
    for chunk in &mut chunks {
        let mut n: u32 = 0;
        for &c in chunk {
            let v = DECODE[c as usize];
            if v == INVALID {
                return None;
            }
            n = (n << 6) | v as u32;
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut n: u32 = 0;
        for &c in rest {
            let v = DECODE[c as usize];
            if v == INVALID {
                return None;
            }
            n = (n << 6) | v as u32;
        }
        // 2 chars carry 12 bits (8 used), 3 chars carry 18 bits (16 used).
        let unused_bits = rest.len() * 6 % 8;
        if n & ((1 << unused_bits) - 1) != 0 {
            return None;
        }
        n >>= unused_bits;
        if rest.len() == 3 {
            out.push((n >> 8) as u8);
        }
        out.push(n as u8);
    }
    Some(out)
}

/// Encodes as unpadded base64url.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(not(target_arch = "wasm32"))]
    use proptest::prelude::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), enc);
            assert_eq!(decode(enc.as_bytes()).unwrap(), plain.as_bytes());
        }
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn rejects_non_canonical_input() {
        for bad in [
            "Zg==",
            "Zm9v YmFy",
            "Zm9v+mFy",
            "Zm9v/mFy",
            "Z",
            "Zh",
            "Zm9",
            "Zm.v",
            "Zm9v\n",
        ] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad:?}");
        }
        // "Zh" has non-zero unused bits; "Zg" is the canonical spelling of "f".
        assert!(decode(b"Zg").is_some());
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let enc = encode(&bytes);
            prop_assert_eq!(decode(enc.as_bytes()), Some(bytes));
        }

        #[test]
        fn decode_never_panics_and_is_canonical(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Some(bytes) = decode(&input) {
                let enc = encode(&bytes);
                prop_assert_eq!(enc.as_bytes(), &input[..]);
            }
        }
    }
}

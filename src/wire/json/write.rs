//! The writer: JSON string literals and integers appended to a `String`.

/// Appends `s` as a JSON string literal (quotes, escapes).
pub fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `n` as a JSON number (without `format!`, which the wasm build
/// avoids for size).
pub fn write_int(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    // Least significant first; u64::MAX has 20 digits.
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut v = n.unsigned_abs();
    for slot in digits.iter_mut() {
        *slot = b'0' + (v % 10) as u8;
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &d in digits.iter().take(len).rev() {
        out.push(d as char);
    }
}

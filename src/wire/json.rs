//! A strict JSON reader (RFC 8259) for token headers, claims, JWKs and
//! contexts.
//!
//! Why not serde_json: the verification rules need what serde_json's `Value`
//! does not enforce (duplicate member names are an error, nesting is capped,
//! numbers must be finite), and the wasm build must stay small
//! (serde_json ≈ 13 KB gzip). One reader on both targets keeps native and
//! browser outcomes identical.

use crate::error::{Error, Result};

/// Maximum nesting of arrays and objects.
pub const MAX_DEPTH: usize = 64;

/// A parsed JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A finite number.
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, members in document order, names unique.
    Object(Object),
}

/// A JSON object: members in document order, names unique.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Object(Vec<(String, Value)>);

impl Object {
    /// The member named `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Whether a member named `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The member as a string, if it is one.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// Members in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the object has no members.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// Parses one JSON text (UTF-8) strictly: no duplicate member names, nesting
/// at most [`MAX_DEPTH`], finite numbers, nothing but whitespace around it.
/// Every failure is `malformed`.
pub fn parse(input: &[u8]) -> Result<Value> {
    let text = std::str::from_utf8(input).map_err(|_| Error::malformed("JSON is not UTF-8"))?;
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.skip_ws();
    let v = p.value(0)?;
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(Error::malformed("trailing characters after JSON"));
    }
    Ok(v)
}

/// Parses a JSON text that must be an object.
pub fn parse_object(input: &[u8]) -> Result<Object> {
    match parse(input)? {
        Value::Object(o) => Ok(o),
        _ => Err(Error::malformed("JSON is not an object")),
    }
}

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

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn err<T>(message: &'static str) -> Result<T> {
    Err(Error::malformed(message))
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        if self
            .s
            .get(self.i..)
            .is_some_and(|rest| rest.starts_with(lit))
        {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ if self.eat(b"true") => Ok(Value::Bool(true)),
            _ if self.eat(b"false") => Ok(Value::Bool(false)),
            _ if self.eat(b"null") => Ok(Value::Null),
            _ => err("invalid JSON value"),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return err("JSON nested too deeply");
        }
        self.i += 1;
        let mut members: Vec<(String, Value)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(Object(members)));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return err("JSON object member name expected");
            }
            let name = self.string()?;
            if members.iter().any(|(k, _)| *k == name) {
                return err("duplicate JSON member name");
            }
            self.skip_ws();
            if !self.eat(b":") {
                return err("':' expected in JSON object");
            }
            self.skip_ws();
            let v = self.value(depth)?;
            members.push((name, v));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(Object(members)));
                }
                _ => return err("',' or '}' expected in JSON object"),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return err("JSON nested too deeply");
        }
        self.i += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return err("',' or ']' expected in JSON array"),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| Error::malformed("bad \\u escape"))?;
        let mut n = 0u32;
        for &d in digits {
            let v = (d as char)
                .to_digit(16)
                .ok_or_else(|| Error::malformed("bad \\u escape"))?;
            n = n * 16 + v;
        }
        self.i += 4;
        Ok(n)
    }

    fn string(&mut self) -> Result<String> {
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            // Copy the run of plain characters at once; the input is valid UTF-8.
            let start = self.i;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // Safe: the run ends at an ASCII byte, so it is a char boundary.
            out.push_str(
                std::str::from_utf8(self.s.get(start..self.i).unwrap_or_default())
                    .map_err(|_| Error::malformed("JSON is not UTF-8"))?,
            );
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let esc = self
                        .peek()
                        .ok_or_else(|| Error::malformed("unterminated JSON string"))?;
                    self.i += 1;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.eat(b"\\u") {
                                    return err("lone surrogate in JSON string");
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return err("lone surrogate in JSON string");
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return err("lone surrogate in JSON string");
                            } else {
                                hi
                            };
                            out.push(
                                char::from_u32(code)
                                    .ok_or_else(|| Error::malformed("bad \\u escape"))?,
                            );
                        }
                        _ => return err("bad escape in JSON string"),
                    }
                }
                Some(_) => return err("control character in JSON string"),
                None => return err("unterminated JSON string"),
            }
        }
    }

    fn number(&mut self) -> Result<Value> {
        let negative = self.eat(b"-");
        let int_start = self.i;
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return err("invalid JSON number"),
        }
        let mut digits = self.s.get(int_start..self.i).unwrap_or_default().to_vec();
        let mut exp10: i64 = 0;
        if self.eat(b".") {
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return err("invalid JSON number");
            }
            let frac_start = self.i;
            self.digits();
            digits.extend_from_slice(self.s.get(frac_start..self.i).unwrap_or_default());
            exp10 = -((self.i - frac_start) as i64);
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            let exp_negative = self.eat(b"-") || {
                self.eat(b"+");
                false
            };
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return err("invalid JSON number");
            }
            let mut exp: i64 = 0;
            while let Some(d @ b'0'..=b'9') = self.peek() {
                // Saturates far beyond any finite f64's exponent.
                exp = exp.saturating_mul(10).saturating_add(i64::from(d - b'0'));
                self.i += 1;
            }
            exp10 = exp10.saturating_add(if exp_negative { -exp } else { exp });
        }
        let n = crate::wire::decimal::to_f64(negative, &digits, exp10);
        if !n.is_finite() {
            return err("JSON number out of range");
        }
        Ok(Value::Number(n))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    #[cfg(not(target_arch = "wasm32"))]
    use proptest::prelude::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn ok(s: &str) -> Value {
        parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn bad(s: &str) {
        let e = parse(s.as_bytes()).expect_err(s);
        assert_eq!(e.code(), ErrorCode::Malformed, "{s:?}");
    }

    #[test]
    fn parses_values() {
        assert_eq!(ok(" null "), Value::Null);
        assert_eq!(ok("true"), Value::Bool(true));
        assert_eq!(ok("-0.5e1"), Value::Number(-5.0));
        assert_eq!(
            ok(r#""a\u00e9\ud83d\ude00\n""#),
            Value::String("aé😀\n".into())
        );
        let v = ok(r#"{"a":[1,2,{"b":null}],"c":"d"}"#);
        let o = v.as_object().unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(o.get_str("c"), Some("d"));
        assert_eq!(o.get("a").unwrap().as_array().unwrap().len(), 3);
        assert_eq!(o.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["a", "c"]);
    }

    #[test]
    fn rejects_what_strict_json_forbids() {
        for s in [
            "",
            "{",
            "}",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "+1",
            "NaN",
            "Infinity",
            "1e999",
            "-",
            "'a'",
            "{a:1}",
            "\"\t\"",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00x\"",
            "tru",
            "nul",
            "1 2",
            "{\"a\" 1}",
            "[1 2]",
            "\"abc",
            "/*c*/1",
            "\u{feff}1",
        ] {
            bad(s);
        }
        assert!(parse(b"\"\xff\"").is_err());
    }

    #[test]
    fn rejects_duplicate_members_even_when_escaped() {
        bad(r#"{"exp":1,"exp":2}"#);
        bad(r#"{"exp":1,"\u0065xp":2}"#);
        assert!(parse(br#"{"a":{"x":1},"b":{"x":1}}"#).is_ok());
    }

    #[test]
    fn nesting_is_capped_at_64() {
        let ok_depth = "[".repeat(64) + &"]".repeat(64);
        assert!(parse(ok_depth.as_bytes()).is_ok());
        bad(&("[".repeat(65) + &"]".repeat(65)));
        let objects = "{\"a\":".repeat(65) + "1" + &"}".repeat(65);
        bad(&objects);
        // Deep input must fail cleanly, not overflow the stack.
        bad(&"[".repeat(100_000));
    }

    #[test]
    fn parse_object_requires_object() {
        assert!(parse_object(b"{}").is_ok());
        assert!(parse_object(b"[]").is_err());
        assert!(parse_object(b"\"x\"").is_err());
    }

    #[test]
    fn writer_round_trips_through_the_reader() {
        for text in ["", "plain", "q\"uote", "back\\slash", "ctl\u{1}\n\t", "é😀"] {
            let mut out = String::new();
            write_string(&mut out, text);
            assert_eq!(
                parse(out.as_bytes()).unwrap(),
                Value::String(text.into()),
                "{out}"
            );
        }
        for n in [0, 7, -7, 1_700_000_000_000, i64::MAX, i64::MIN] {
            let mut out = String::new();
            write_int(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_json_like_text(s in r#"[\[\]{}":,0-9a-z\\. -]{0,64}"#) {
            let _ = parse(s.as_bytes());
        }
    }
}

//! The reader: one JSON text into a [`Value`], strictly.

use super::{Object, Value, MAX_DEPTH};
use crate::error::{Error, Result};

/// Parses one JSON text (UTF-8) strictly: no duplicate member names, nesting
/// at most [`MAX_DEPTH`], finite numbers, nothing but whitespace around it.
/// Every failure is `malformed`.
pub fn parse(input: &[u8]) -> Result<Value> {
    let text = std::str::from_utf8(input).map_err(|_| Error::malformed("JSON is not UTF-8"))?;
    let mut p = Parser {
        text,
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

struct Parser<'a> {
    /// The input, validated as UTF-8 once, and its bytes.
    text: &'a str,
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
            // The run starts after and ends at an ASCII byte (or the end), so
            // both are char boundaries: a str slice, not validated again.
            out.push_str(self.text.get(start..self.i).unwrap_or_default());
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

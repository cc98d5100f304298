//! Access tokens: JWTs (compact JWS) and opaque bearer strings.
//!
//! Parsing is staged to follow API.md's verification order, so every input
//! gets the same error code on every target:
//! [`Jwt::parse`] covers rules 2–4a (size, three strict base64url segments, a
//! JSON object header, a string `alg`); [`Claims::parse`] covers rule 8 (the
//! payload). `verify` does the rest.

use crate::error::{Error, ErrorCode, Result};
use crate::secret::SecretString;
use crate::time::Millis;
use crate::wire::base64url;
use crate::wire::json::{self, Object, Value};
use std::fmt;

/// Default cap on a token's length in bytes (`maxTokenBytes`).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Largest NumericDate accepted: 9999-12-31T23:59:59Z.
pub const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// A compact JWS split and decoded, its header parsed; the payload is kept as
/// bytes until [`Claims::parse`] (rule 8 comes after the signature check).
#[derive(Clone)]
pub struct Jwt {
    header: Header,
    payload: Vec<u8>,
    signature: Vec<u8>,
    signing_input_len: usize,
}

/// The JOSE header.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// `alg`, exactly as written.
    pub alg: String,
    /// `typ`, when present (any JSON value: rule 5 judges it).
    pub typ: Option<Value>,
    /// Every header member, in order (key selection reads `kid` here, as
    /// written: a non-string `kid` matches no key).
    pub members: Object,
}

impl Jwt {
    /// Parses `token` under rules 2–4a: at most `max_bytes` long
    /// (`token_too_large`), exactly three strict base64url segments, a UTF-8
    /// JSON object header without duplicates, a string `alg` (else
    /// `malformed`).
    pub fn parse(token: &str, max_bytes: usize) -> Result<Jwt> {
        if token.len() > max_bytes {
            return Err(Error::new(
                ErrorCode::TokenTooLarge,
                "token is longer than maxTokenBytes",
            ));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::malformed(
                "a JWT has exactly three '.'-separated segments",
            ));
        };
        let decode = |seg: &str| {
            base64url::decode(seg.as_bytes())
                .ok_or_else(|| Error::malformed("JWT segment is not strict base64url"))
        };
        let header_bytes = decode(h)?;
        let payload = decode(p)?;
        let signature = decode(s)?;
        let members = json::parse_object(&header_bytes)
            .map_err(|_| Error::malformed("JWT header is not a JSON object"))?;
        let alg = match members.get("alg") {
            Some(Value::String(a)) => a.clone(),
            _ => return Err(Error::malformed("JWT header has no string 'alg'")),
        };
        let typ = members.get("typ").cloned();
        Ok(Jwt {
            header: Header { alg, typ, members },
            payload,
            signature,
            signing_input_len: h.len() + 1 + p.len(),
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The decoded payload bytes (not yet judged).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The decoded signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The signing input (`header.payload`, ASCII) within the original `token`.
    pub fn signing_input<'t>(&self, token: &'t str) -> &'t [u8] {
        token
            .as_bytes()
            .get(..self.signing_input_len)
            .unwrap_or_default()
    }
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwt")
            .field("header", &self.header)
            .field("payload", &"[redacted]")
            .finish()
    }
}

/// The registered claims of a JWT payload, checked under rule 8.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    /// `exp` in seconds.
    pub exp: Option<f64>,
    /// `nbf` in seconds.
    pub nbf: Option<f64>,
    /// `iat` in seconds.
    pub iat: Option<f64>,
    /// `iss`.
    pub iss: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `aud`, a single string read as a one-element list.
    pub aud: Option<Vec<String>>,
    /// Every claim, in order.
    pub members: Object,
}

impl Claims {
    /// Parses a payload under rule 8: a UTF-8 JSON object without duplicate
    /// members, nesting ≤ 64, finite numbers; `exp` present when
    /// `require_exp`; `exp`/`nbf`/`iat` numbers within
    /// [0, 253402300799]; `iss`, `sub` strings; `aud` a string or an array of
    /// strings. Anything else is `malformed`.
    pub fn parse(payload: &[u8], require_exp: bool) -> Result<Claims> {
        let members = json::parse_object(payload)
            .map_err(|_| Error::malformed("JWT payload is not a JSON object"))?;
        let date = |name: &str| -> Result<Option<f64>> {
            match members.get(name) {
                None => Ok(None),
                Some(Value::Number(n)) if (0.0..=MAX_NUMERIC_DATE).contains(n) => Ok(Some(*n)),
                Some(_) => Err(Error::malformed(
                    "exp, nbf and iat must be numbers within [0, 253402300799]",
                )),
            }
        };
        let string = |name: &str| -> Result<Option<String>> {
            match members.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Error::malformed("iss and sub must be strings")),
            }
        };
        let exp = date("exp")?;
        if require_exp && exp.is_none() {
            return Err(Error::malformed("JWT has no 'exp' claim"));
        }
        let aud = match members.get("aud") {
            None => None,
            Some(Value::String(s)) => Some(vec![s.clone()]),
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        Error::malformed("aud must be a string or an array of strings")
                    })?,
            ),
            Some(_) => {
                return Err(Error::malformed(
                    "aud must be a string or an array of strings",
                ))
            }
        };
        Ok(Claims {
            exp,
            nbf: date("nbf")?,
            iat: date("iat")?,
            iss: string("iss")?,
            sub: string("sub")?,
            aud,
            members,
        })
    }

    /// `exp` in milliseconds on the issuer's clock.
    pub fn expires_at_ms(&self) -> Option<Millis> {
        self.exp.map(|s| (s * 1000.0) as Millis)
    }

    /// `sub`, the subject (the customer id under the default
    /// `customerIdClaim`).
    ///
    /// ```
    /// use chat_auth::jose::Claims;
    ///
    /// let claims = Claims::parse(br#"{"sub":"c_1","iss":"https://id","aud":["chat","x"],
    ///     "exp":2000000000,"iat":1999999000,"scope":"chat"}"#, true).unwrap();
    /// assert_eq!(claims.sub(), Some("c_1"));
    /// assert_eq!(claims.iss(), Some("https://id"));
    /// assert_eq!(claims.aud(), ["chat", "x"]);
    /// assert_eq!(claims.exp(), Some(2_000_000_000.0));
    /// assert_eq!(claims.iat(), Some(1_999_999_000.0));
    /// assert_eq!(claims.nbf(), None);
    /// assert_eq!(claims.get_str("scope"), Some("chat"));
    /// assert!(claims.members().contains("exp"));
    /// ```
    pub fn sub(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// `iss`, the issuer.
    pub fn iss(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// `aud`, the audiences (empty when the token has none; a single string
    /// is a one-element list).
    pub fn aud(&self) -> &[String] {
        self.aud.as_deref().unwrap_or_default()
    }

    /// `exp` in seconds since the epoch (always present in a verified
    /// token).
    pub fn exp(&self) -> Option<f64> {
        self.exp
    }

    /// `iat` in seconds since the epoch.
    pub fn iat(&self) -> Option<f64> {
        self.iat
    }

    /// `nbf` in seconds since the epoch.
    pub fn nbf(&self) -> Option<f64> {
        self.nbf
    }

    /// A string claim by name (`None` when absent or not a string).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.members.get_str(name)
    }

    /// Every claim, in the token's order.
    pub fn members(&self) -> &Object {
        &self.members
    }
}

/// Whether `token` should be read as a JWT: three segments whose header starts
/// like a JSON object (`eyJ` is base64url of `{"`). Anything else is an opaque
/// bearer token, whose expiry must come from elsewhere.
pub fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|&b| b == b'.').count() == 2
}

/// The result of `decodeToken`: a JWT read without verification.
#[derive(Clone, Debug)]
pub struct Decoded {
    /// The header.
    pub header: Header,
    /// The claims (`exp` optional here).
    pub claims: Claims,
    /// The header as JSON text, for hosts that re-parse it (the browser).
    pub header_json: String,
    /// The payload as JSON text, for hosts that re-parse it (the browser).
    pub payload_json: String,
}

/// Decodes a JWT without verifying it (`decodeToken`): rules 2–4a and 8,
/// except that `exp` may be absent.
pub fn decode(token: &str, max_bytes: usize) -> Result<Decoded> {
    let jwt = Jwt::parse(token, max_bytes)?;
    let claims = Claims::parse(&jwt.payload, false)?;
    // Jwt::parse proved the first segment is base64url of UTF-8 JSON.
    let header_json = token
        .split('.')
        .next()
        .and_then(|h| base64url::decode(h.as_bytes()))
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let payload_json = String::from_utf8(jwt.payload.clone())
        .map_err(|_| Error::malformed("JWT payload is not UTF-8"))?;
    Ok(Decoded {
        header: jwt.header,
        claims,
        header_json,
        payload_json,
    })
}

/// An access token as the session holds it.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The bearer string.
    pub value: SecretString,
    /// The JWT claims, `None` for opaque tokens.
    pub claims: Option<Claims>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Builds an unsigned-looking compact JWS from JSON texts (tests only).
    pub(crate) fn jws(header: &str, payload: &str, sig: &[u8]) -> String {
        let mut t = base64url::encode(header.as_bytes());
        t.push('.');
        t.push_str(&base64url::encode(payload.as_bytes()));
        t.push('.');
        t.push_str(&base64url::encode(sig));
        t
    }

    #[test]
    fn parses_a_jwt() {
        let t = jws(
            r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#,
            r#"{"sub":"c1","exp":2000000000,"aud":"chat"}"#,
            b"sig",
        );
        let jwt = Jwt::parse(&t, DEFAULT_MAX_TOKEN_BYTES).unwrap();
        assert_eq!(jwt.header().alg, "RS256");
        assert_eq!(jwt.header().members.get_str("kid"), Some("k1"));
        assert_eq!(jwt.signature(), b"sig");
        let dot2 = t.rfind('.').unwrap();
        assert_eq!(jwt.signing_input(&t), &t.as_bytes()[..dot2]);
        let c = Claims::parse(jwt.payload(), true).unwrap();
        assert_eq!(c.sub.as_deref(), Some("c1"));
        assert_eq!(c.aud, Some(vec!["chat".to_owned()]));
        assert_eq!(c.expires_at_ms(), Some(2_000_000_000_000));
        assert!(!format!("{jwt:?}").contains("c1"));
    }

    fn code(r: Result<impl Sized>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => e.code().as_str(),
        }
    }

    #[test]
    fn structure_errors() {
        let good_h = r#"{"alg":"ES256"}"#;
        let p = r#"{"exp":1}"#;
        let ok = jws(good_h, p, b"s");
        assert_eq!(code(Jwt::parse(&ok, 10)), "token_too_large");
        assert_eq!(code(Jwt::parse(&ok, ok.len())), "ok");
        for bad in [
            "a.b",
            "a.b.c.d",
            "",
            "..",
            &(ok.clone() + "="),
            &ok.replacen('.', ". ", 1),
            &jws("[1]", p, b"s"),
            &jws(r#"{"alg":1}"#, p, b"s"),
            &jws(r#"{"typ":"JWT"}"#, p, b"s"),
            &jws(r#"{"alg":"a","alg":"b"}"#, p, b"s"),
            &jws("not json", p, b"s"),
        ] {
            assert_eq!(
                code(Jwt::parse(bad, DEFAULT_MAX_TOKEN_BYTES)),
                "malformed",
                "{bad}"
            );
        }
    }

    #[test]
    fn claim_rules() {
        let ok = |p: &str| Claims::parse(p.as_bytes(), true).is_ok();
        assert!(ok(r#"{"exp":0}"#));
        assert!(ok(r#"{"exp":253402300799}"#));
        assert!(ok(
            r#"{"exp":1.5e9,"aud":["a","b"],"iss":"x","sub":"y","nbf":1,"iat":1}"#
        ));
        for bad in [
            r#"{}"#,
            r#"{"exp":"1"}"#,
            r#"{"exp":-1}"#,
            r#"{"exp":253402300800}"#,
            r#"{"exp":1,"nbf":"x"}"#,
            r#"{"exp":1,"iat":null}"#,
            r#"{"exp":1,"iss":1}"#,
            r#"{"exp":1,"sub":["a"]}"#,
            r#"{"exp":1,"aud":1}"#,
            r#"{"exp":1,"aud":["a",1]}"#,
            r#"{"exp":1,"exp":2}"#,
            r#"[1]"#,
            r#""s""#,
        ] {
            assert!(!ok(bad), "{bad}");
        }
        assert!(Claims::parse(b"{}", false).is_ok());
    }

    #[test]
    fn decode_keeps_payload_text() {
        let t = jws(r#"{"alg":"RS256"}"#, r#"{"sub":"c1","n":{"a":[1]}}"#, b"");
        let d = decode(&t, DEFAULT_MAX_TOKEN_BYTES).unwrap();
        assert_eq!(d.payload_json, r#"{"sub":"c1","n":{"a":[1]}}"#);
        assert_eq!(d.claims.exp, None);
    }

    #[test]
    fn jwt_detection() {
        assert!(looks_like_jwt("eyJhbGciOiJIUzI1NiJ9.e30.sig"));
        assert!(!looks_like_jwt("2YotnFZFEjr1zCsicMWpAA"));
        assert!(!looks_like_jwt("eyJ.a"));
        assert!(!looks_like_jwt("abc.def.ghi"));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parse_never_panics(s in "\\PC{0,200}") {
                let _ = Jwt::parse(&s, DEFAULT_MAX_TOKEN_BYTES);
                let _ = decode(&s, DEFAULT_MAX_TOKEN_BYTES);
            }

            #[test]
            fn parse_never_panics_on_tokenish(s in "[A-Za-z0-9_.=-]{0,120}") {
                let _ = Jwt::parse(&s, DEFAULT_MAX_TOKEN_BYTES);
            }

            #[test]
            fn claims_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
                let _ = Claims::parse(&bytes, true);
            }
        }
    }
}

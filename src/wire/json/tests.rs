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

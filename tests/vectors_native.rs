//! Runs every case of every `tests/vectors/*.json` file (format:
//! `tests/vectors/README.md`) through `VerifyOptions::from_json` and
//! `verify_token`, and checks the outcome and, for `ok`, the claims.

#![cfg(not(target_arch = "wasm32"))]

use chat_auth::jose::verify::{verify_token, VerifyOptions};
use chat_auth::time::Millis;
use chat_auth::wire::json::{self, Object, Value};
use std::path::Path;

fn run(options: &Object, token: &str, now: Millis) -> Result<Object, &'static str> {
    let opts = VerifyOptions::from_json(options).map_err(|e| e.code().as_str())?;
    verify_token(token, &opts, now)
        .map(|claims| claims.members)
        .map_err(|e| e.code().as_str())
}

/// JSON equality with objects compared as sets of members.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
}

#[test]
fn vectors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "vector files missing in {}",
        dir.display()
    );

    // The browser runs the same files (include_str! in tests/wasm_vectors.rs).
    let browser = std::fs::read_to_string(dir.join("../wasm_vectors.rs")).unwrap();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(
            browser.contains(&format!("include_str!(\"vectors/{name}\")")),
            "tests/wasm_vectors.rs does not run {name}"
        );
    }

    let mut failures = Vec::new();
    let mut total = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc = json::parse_object(&std::fs::read(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            doc.get_str("description").is_some(),
            "{name}: no description"
        );
        assert!(
            doc.get("keys").and_then(Value::as_object).is_some(),
            "{name}: no keys"
        );
        let cases = doc.get("cases").and_then(Value::as_array).unwrap();
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        let mut names = std::collections::HashSet::new();
        for case in cases {
            let case = case.as_object().unwrap();
            let id = case.get_str("name").unwrap();
            assert!(names.insert(id.to_owned()), "{name}: duplicate case {id}");
            let token = case.get_str("token").unwrap();
            let options = case.get("options").and_then(Value::as_object).unwrap();
            let now = case.get("now").and_then(Value::as_f64).unwrap() as Millis;
            let expect = case.get_str("expect").unwrap();
            assert!(
                expect == "ok" || chat_auth::ErrorCode::parse(expect).is_some(),
                "{name}/{id}: unknown expect {expect}"
            );
            *counts.entry(expect).or_default() += 1;
            let got = run(options, token, now);
            let outcome = match &got {
                Ok(_) => "ok",
                Err(code) => code,
            };
            if outcome != expect {
                failures.push(format!("{name}/{id}: expected {expect}, got {outcome}"));
                continue;
            }
            if let (Ok(claims), Some(want)) = (&got, case.get("claims")) {
                if !same(&Value::Object(claims.clone()), want) {
                    failures.push(format!("{name}/{id}: claims differ"));
                }
            }
        }
        total += cases.len();
        let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("{name}: {} cases ({})", cases.len(), summary.join(", "));
    }
    println!("total: {total} cases in {} files", files.len());
    assert!(
        failures.is_empty(),
        "{} failing vector cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

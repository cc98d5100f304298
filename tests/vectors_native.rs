//! Runs every case of every `tests/vectors/*.json` file (format:
//! `tests/vectors/README.md`, loaded by the shared `chat_auth_vectors`)
//! through `VerifyOptions::from_json` and `verify_token`, and checks the
//! outcome and, for `ok`, the claims.

#![cfg(not(target_arch = "wasm32"))]

use chat_auth::jose::verify::{verify_token, VerifyOptions};
use chat_auth::time::Millis;
use chat_auth::wire::json::{Object, Value};
use chat_auth_vectors::same;

fn run(options: &Object, token: &str, now: Millis) -> Result<Object, &'static str> {
    let opts = VerifyOptions::from_json(options).map_err(|e| e.code().as_str())?;
    verify_token(token, &opts, now)
        .map(|claims| claims.members)
        .map_err(|e| e.code().as_str())
}

#[test]
fn vectors() {
    let files = chat_auth_vectors::files();
    let mut failures = Vec::new();
    let mut total = 0;
    for file in &files {
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        for case in &file.cases {
            *counts.entry(&case.expect).or_default() += 1;
            let got = run(&case.options, &case.token, case.now);
            let outcome = match &got {
                Ok(_) => "ok",
                Err(code) => code,
            };
            if outcome != case.expect {
                failures.push(format!(
                    "{}: expected {}, got {outcome}",
                    case.id(),
                    case.expect
                ));
                continue;
            }
            if let (Ok(claims), Some(want)) = (&got, &case.claims) {
                if !same(&Value::Object(claims.clone()), want) {
                    failures.push(format!("{}: claims differ", case.id()));
                }
            }
        }
        total += file.cases.len();
        let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "{}: {} cases ({})",
            file.name,
            file.cases.len(),
            summary.join(", ")
        );
    }
    println!("total: {total} cases in {} files", files.len());
    assert!(
        failures.is_empty(),
        "{} failing vector cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

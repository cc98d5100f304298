//! Every case of `tests/vectors/*.json` through the server's validation path
//! (`Validator`, the same chat-auth code the request handlers call) must end
//! exactly as in `tests/vectors_native.rs`, and every refused token must get
//! the server's 401 `invalid_token` answer.

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use chat_auth::wire::json::{self, Value};
use chat_auth_server::api::ApiError;
use chat_auth_server::tokens::Validator;
use std::path::Path;

#[test]
fn the_server_verifies_every_vector_like_the_crate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
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
    let (mut total, mut refused) = (0, 0);
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc = json::parse_object(&std::fs::read(path).unwrap()).unwrap();
        for case in doc.get("cases").and_then(Value::as_array).unwrap() {
            let case = case.as_object().unwrap();
            let id = case.get_str("name").unwrap();
            let token = case.get_str("token").unwrap();
            let options = case.get("options").and_then(Value::as_object).unwrap();
            let now = case.get("now").and_then(Value::as_f64).unwrap() as i64;
            let expect = case.get_str("expect").unwrap();
            total += 1;
            let outcome = match Validator::from_json(options) {
                Err(e) => e.code().as_str(),
                Ok(v) => match v.verify(token, now) {
                    Ok(_) => "ok",
                    Err(e) => {
                        refused += 1;
                        let code = e.code().as_str();
                        let res = ApiError::invalid_token(code).into_response();
                        let www = res.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
                        if res.status() != StatusCode::UNAUTHORIZED
                            || !www.contains(r#"error="invalid_token""#)
                        {
                            failures.push(format!("{name}/{id}: answer {} {www}", res.status()));
                        }
                        code
                    }
                },
            };
            if outcome != expect {
                failures.push(format!("{name}/{id}: expected {expect}, got {outcome}"));
            }
        }
    }
    println!("{total} cases, {refused} refused with 401 invalid_token");
    assert!(
        total > 100 && refused > 50,
        "{total} cases, {refused} refused"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! Every case of `tests/vectors/*.json` (loaded by the shared
//! `chat_auth_vectors`) through the server's validation path (`Validator`,
//! the same chat-auth code the request handlers call) must end exactly as in
//! `tests/vectors_native.rs`, and every refused token must get the server's
//! 401 `invalid_token` answer.

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use chat_auth_server::api::ApiError;
use chat_auth_server::tokens::Validator;

#[test]
fn the_server_verifies_every_vector_like_the_crate() {
    let (mut total, mut refused) = (0, 0);
    let mut failures = Vec::new();
    for case in chat_auth_vectors::cases() {
        total += 1;
        let outcome = match Validator::from_json(&case.options) {
            Err(e) => e.code().as_str(),
            Ok(v) => match v.verify(&case.token, case.now) {
                Ok(_) => "ok",
                Err(e) => {
                    refused += 1;
                    let code = e.code().as_str();
                    let res = ApiError::invalid_token(code).into_response();
                    let www = res.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
                    if res.status() != StatusCode::UNAUTHORIZED
                        || !www.contains(r#"error="invalid_token""#)
                    {
                        failures.push(format!("{}: answer {} {www}", case.id(), res.status()));
                    }
                    code
                }
            },
        };
        if outcome != case.expect {
            failures.push(format!(
                "{}: expected {}, got {outcome}",
                case.id(),
                case.expect
            ));
        }
    }
    println!("{total} cases, {refused} refused with 401 invalid_token");
    assert!(
        total > 100 && refused > 50,
        "{total} cases, {refused} refused"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

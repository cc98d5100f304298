//! The backend through its router (no network): login, tokens, refresh
//! rotation and reuse detection, the chat API and its merge, limits, CORS,
//! restart persistence, and logs that never contain a token. On SQLite, or
//! on PostgreSQL when `CHAT_TEST_POSTGRES` is set (see `support`).

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chat_auth_server::log::Logger;
use chat_auth_server::{App, Clock, Config};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

const T0: i64 = 1_800_000_000_000;
const ANON: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const ANON2: &str = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
const ISSUER: &str = "http://127.0.0.1:8080";

struct Harness {
    app: Router,
    now: Arc<AtomicI64>,
    logs: Arc<Mutex<Vec<u8>>>,
    /// Every access and refresh token the server handed out.
    secrets: Vec<String>,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

fn config(db: &str) -> Config {
    Config {
        db_path: db.into(),
        access_ttl_s: 5,
        refresh_ttl_s: 3600,
        introspection_secret: Some("introspection-secret-0123".into()),
        page_origin: Some("http://page.test:3000".into()),
        ..Config::default()
    }
}

impl Harness {
    async fn new() -> Harness {
        Harness::with_config(config(&support::private_db().await)).await
    }

    async fn with_config(config: Config) -> Harness {
        let now = Arc::new(AtomicI64::new(T0));
        let logs = Arc::new(Mutex::new(Vec::new()));
        let clock_now = now.clone();
        let clock: Clock = Arc::new(move || clock_now.load(Ordering::SeqCst));
        let app = App::new(config, ISSUER, Logger::to(logs.clone()), clock)
            .await
            .unwrap();
        Harness {
            app: app.router(),
            now,
            logs,
            secrets: Vec::new(),
        }
    }

    fn advance(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    async fn send(&mut self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        for k in ["access_token", "refresh_token"] {
            if let Some(s) = body.get(k).and_then(Value::as_str) {
                self.secrets.push(s.to_owned());
            }
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn login(&mut self, user: &str, password: &str) -> Reply {
        self.send(support::requests::login(user, password)).await
    }

    async fn refresh(&mut self, refresh_token: &str) -> Reply {
        self.send(support::requests::refresh(refresh_token)).await
    }

    async fn chat(&mut self, token: Option<&str>, anon: Option<&str>, text: Option<&str>) -> Reply {
        self.send(support::requests::chat(token, anon, text, None))
            .await
    }

    fn log_text(&self) -> String {
        String::from_utf8(self.logs.lock().unwrap().clone()).unwrap()
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}"))
}

fn visitor_texts(r: &Reply) -> Vec<String> {
    r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"] == "visitor")
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn login_issues_an_oauth_token_response_with_an_opaque_customer_id() {
    let mut h = Harness::new().await;
    let r = h.login("alice", "wonderland").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 5);
    let customer = s(&r.body, "customer_id");
    assert!(chat_auth::identifier::check_customer_id(customer).is_ok());
    assert!(!customer.contains("alice"));
    let decoded = chat_auth::jose::token::decode(s(&r.body, "access_token"), 16384).unwrap();
    assert_eq!(decoded.header.alg, "ES256");
    assert_eq!(decoded.claims.sub.as_deref(), Some(customer));
    assert_eq!(decoded.claims.iss.as_deref(), Some(ISSUER));
    assert_eq!(
        decoded.claims.aud.as_deref(),
        Some(&["chat-api".to_owned()][..])
    );
    assert_eq!(decoded.claims.exp, Some((T0 / 1000 + 5) as f64));
    assert_eq!(decoded.claims.iat, Some((T0 / 1000) as f64));
    // The same user always gets the same customer id; another user another.
    let again = h.login("alice", "wonderland").await;
    assert_eq!(s(&again.body, "customer_id"), customer);
    let bob = h.login("bob", "builder").await;
    assert_ne!(s(&bob.body, "customer_id"), customer);

    let me = Request::get("/api/me")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", s(&r.body, "access_token")),
        )
        .body(Body::empty())
        .unwrap();
    let me = h.send(me).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["sub"], customer);
    assert_eq!(me.body["name"], "Alice Martin");
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_user() {
    let mut h = Harness::new().await;
    for _ in 0..5 {
        assert_eq!(
            h.login("alice", "nope").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = h.login("alice", "wonderland").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers[header::RETRY_AFTER], "60");
    // Others are not locked out; alice is again after a minute.
    assert_eq!(h.login("bob", "builder").await.status, StatusCode::OK);
    h.advance(60_000);
    assert_eq!(h.login("alice", "wonderland").await.status, StatusCode::OK);
    // Wrong password of another user, unknown user: the same answer.
    assert_eq!(
        h.login("bob", "wonderland").await.body["error"],
        "invalid_credentials"
    );
    assert_eq!(
        h.login("mallory", "x").await.body["error"],
        "invalid_credentials"
    );
}

#[tokio::test]
async fn anonymous_history_folds_into_the_customer_once() {
    let mut h = Harness::new().await;
    assert_eq!(
        h.chat(None, Some(ANON), Some("hello, anyone?"))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        h.chat(None, Some(ANON), Some("my order is late"))
            .await
            .status,
        StatusCode::CREATED
    );
    let anon = h.chat(None, Some(ANON), None).await;
    assert_eq!(anon.body["conversation"], "anonymous");
    assert_eq!(visitor_texts(&anon), ["hello, anyone?", "my order is late"]);
    // Another visitor sees nothing of it.
    assert!(visitor_texts(&h.chat(None, Some(ANON2), None).await).is_empty());

    let login = h.login("alice", "wonderland").await;
    let at = s(&login.body, "access_token").to_owned();
    h.advance(1000);
    let r = h
        .chat(Some(&at), Some(ANON), Some("it is order 1042"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let list = h.chat(Some(&at), Some(ANON), None).await;
    assert_eq!(list.body["conversation"], "customer");
    assert_eq!(
        visitor_texts(&list),
        ["hello, anyone?", "my order is late", "it is order 1042"]
    );
    // Idempotent: more requests with the same anonymous id add nothing.
    let again = h.chat(Some(&at), Some(ANON), None).await;
    assert_eq!(again.body["messages"], list.body["messages"]);
    // The anonymous conversation is gone for anonymous callers.
    assert!(visitor_texts(&h.chat(None, Some(ANON), None).await).is_empty());
    // Another device of the same customer sees the same history.
    let other = h.login("alice", "wonderland").await;
    let other_at = s(&other.body, "access_token").to_owned();
    let there = h.chat(Some(&other_at), Some(ANON2), None).await;
    assert_eq!(there.body["messages"], list.body["messages"]);
    // Another customer does not.
    let bob = h.login("bob", "builder").await;
    let bob_at = s(&bob.body, "access_token").to_owned();
    assert!(visitor_texts(&h.chat(Some(&bob_at), None, None).await).is_empty());
    assert!(h.log_text().contains(r#""folded":4"#), "{}", h.log_text());
}

#[tokio::test]
async fn a_retried_send_is_stored_once() {
    let mut h = Harness::new().await;
    let send = || {
        Request::post("/api/messages")
            .header("chat-anonymous-id", ANON)
            .body(Body::from(r#"{"text":"once","clientId":"m-1"}"#))
            .unwrap()
    };
    assert_eq!(h.send(send()).await.status, StatusCode::CREATED);
    let second = h.send(send()).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body["reply"], Value::Null);
    assert_eq!(
        visitor_texts(&h.chat(None, Some(ANON), None).await),
        ["once"]
    );
}

#[tokio::test]
async fn invalid_and_expired_tokens_get_401_invalid_token_never_the_anonymous_conversation() {
    let mut h = Harness::new().await;
    let login = h.login("alice", "wonderland").await;
    let at = s(&login.body, "access_token").to_owned();
    h.advance(4_999);
    assert_eq!(
        h.chat(Some(&at), Some(ANON), None).await.status,
        StatusCode::OK
    );
    h.advance(1);
    let r = h.chat(Some(&at), Some(ANON), Some("late")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let www = r.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        www.starts_with("Bearer ") && www.contains(r#"error="invalid_token""#),
        "{www}"
    );
    assert!(www.contains("expired"), "{www}");
    // Nothing was stored anywhere.
    assert!(visitor_texts(&h.chat(None, Some(ANON), None).await).is_empty());

    // A signature character in the middle (the last one carries unused bits).
    let i = at.len() - 10;
    let flipped = if &at[i..i + 1] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &at[..i], &at[i + 1..]);
    for bad in [tampered.as_str(), "abc", "a.b.c"] {
        let r = h.chat(Some(bad), Some(ANON), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad}");
        assert!(r.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_token""#));
    }
    // Not a bearer credential at all: 400 invalid_request.
    let basic = Request::get("/api/messages")
        .header(header::AUTHORIZATION, "Basic YTpi")
        .header("chat-anonymous-id", ANON)
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(basic).await.status, StatusCode::BAD_REQUEST);
    let log = h.log_text();
    assert!(log.contains(r#""bearer":"expired""#), "{log}");
    assert!(log.contains(r#""bearer":"bad_signature""#), "{log}");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_session() {
    let mut h = Harness::new().await;
    let login = h.login("alice", "wonderland").await;
    let rt1 = s(&login.body, "refresh_token").to_owned();
    h.advance(3000);
    let r2 = h.refresh(&rt1).await;
    assert_eq!(r2.status, StatusCode::OK);
    let rt2 = s(&r2.body, "refresh_token").to_owned();
    let at2 = s(&r2.body, "access_token").to_owned();
    assert_ne!(rt1, rt2);
    assert_eq!(s(&r2.body, "customer_id"), s(&login.body, "customer_id"));
    assert_eq!(h.chat(Some(&at2), None, None).await.status, StatusCode::OK);

    // An attacker replays the rotated token: refused, and the session dies.
    let reuse = h.refresh(&rt1).await;
    assert_eq!(reuse.status, StatusCode::BAD_REQUEST);
    assert_eq!(reuse.body["error"], "invalid_grant");
    assert_eq!(h.refresh(&rt2).await.body["error"], "invalid_grant");
    let r = h.chat(Some(&at2), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("revoked"));
    assert!(h.log_text().contains(r#""event":"refresh_reuse""#));

    // Other sessions of the same user are untouched.
    let other = h.login("alice", "wonderland").await;
    let rt = s(&other.body, "refresh_token").to_owned();
    assert_eq!(h.refresh(&rt).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_token_endpoint_checks_its_input() {
    let mut h = Harness::new().await;
    let login = h.login("alice", "wonderland").await;
    let rt = s(&login.body, "refresh_token").to_owned();
    let post = |body: String, ct: &str| {
        Request::post("/oauth/token")
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap()
    };
    let form = "application/x-www-form-urlencoded";
    let cases = [
        (
            format!("grant_type=password&client_id=chat-demo&refresh_token={rt}"),
            form,
            "unsupported_grant_type",
        ),
        (
            format!("grant_type=refresh_token&client_id=other&refresh_token={rt}"),
            form,
            "invalid_client",
        ),
        (
            format!("grant_type=refresh_token&refresh_token={rt}"),
            form,
            "invalid_client",
        ),
        (
            "grant_type=refresh_token&client_id=chat-demo".to_owned(),
            form,
            "invalid_request",
        ),
        (
            format!(
                "grant_type=refresh_token&client_id=chat-demo&refresh_token={rt}&refresh_token=x"
            ),
            form,
            "invalid_request",
        ),
        (
            format!(r#"{{"grant_type":"refresh_token","refresh_token":"{rt}"}}"#),
            "application/json",
            "invalid_request",
        ),
        (
            "grant_type=refresh_token&client_id=chat-demo&refresh_token=rt_unknown".to_owned(),
            form,
            "invalid_grant",
        ),
    ];
    for (body, ct, error) in cases {
        let r = h.send(post(body.clone(), ct)).await;
        assert_eq!(r.body["error"], error, "{body}");
    }
    // None of those spent the token.
    assert_eq!(h.refresh(&rt).await.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_and_revocation_end_the_session() {
    let mut h = Harness::new().await;
    let login = h.login("alice", "wonderland").await;
    let at = s(&login.body, "access_token").to_owned();
    let rt = s(&login.body, "refresh_token").to_owned();
    let logout = Request::post("/auth/logout")
        .header(header::AUTHORIZATION, format!("Bearer {at}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(logout).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        h.chat(Some(&at), None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.refresh(&rt).await.body["error"], "invalid_grant");

    // RFC 7009 with the refresh token.
    let login = h.login("alice", "wonderland").await;
    let at = s(&login.body, "access_token").to_owned();
    let rt = s(&login.body, "refresh_token").to_owned();
    let revoke = |token: &str| {
        Request::post("/oauth/revoke")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}&client_id=chat-demo")))
            .unwrap()
    };
    assert_eq!(h.send(revoke(&rt)).await.status, StatusCode::OK);
    assert_eq!(
        h.chat(Some(&at), None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Unknown tokens: 200 all the same (RFC 7009 §2.2).
    assert_eq!(h.send(revoke("rt_nothing")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn introspection_needs_client_credentials_and_answers_rfc7662() {
    let mut h = Harness::new().await;
    let login = h.login("alice", "wonderland").await;
    let at = s(&login.body, "access_token").to_owned();
    let rt = s(&login.body, "refresh_token").to_owned();
    let introspect = |token: &str, secret: &str| {
        use chat_auth::wire::base64url;
        // Standard base64 from base64url (these credentials have no '-'/'_').
        let mut creds = base64url::encode(format!("chat-api:{secret}").as_bytes());
        while !creds.len().is_multiple_of(4) {
            creds.push('=');
        }
        Request::post("/oauth/introspect")
            .header(header::AUTHORIZATION, format!("Basic {creds}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    };
    let denied = h.send(introspect(&at, "wrong-secret-0000000")).await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    assert_eq!(denied.body["error"], "invalid_client");

    let ok = h.send(introspect(&at, "introspection-secret-0123")).await;
    assert_eq!(ok.body["active"], true, "{}", ok.body);
    assert_eq!(ok.body["sub"], login.body["customer_id"]);
    assert_eq!(ok.body["exp"], T0 / 1000 + 5);
    let rt_info = h.send(introspect(&rt, "introspection-secret-0123")).await;
    assert_eq!(rt_info.body["active"], true);
    assert_eq!(rt_info.body["token_type"], "refresh_token");
    // Spent refresh token and expired access token: inactive.
    h.advance(5000);
    assert_eq!(h.refresh(&rt).await.status, StatusCode::OK);
    assert_eq!(
        h.send(introspect(&rt, "introspection-secret-0123"))
            .await
            .body,
        json!({ "active": false })
    );
    assert_eq!(
        h.send(introspect(&at, "introspection-secret-0123"))
            .await
            .body,
        json!({ "active": false })
    );
}

#[tokio::test]
async fn jwks_and_metadata_describe_the_issuer() {
    let mut h = Harness::new().await;
    let jwks = h
        .send(
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let key = &jwks.body["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
    assert!(key.get("d").is_none(), "no private member");
    // The published set verifies issued tokens with the crate's own reader.
    let jwks_obj = chat_auth::wire::json::parse_object(jwks.body.to_string().as_bytes()).unwrap();
    assert_eq!(
        chat_auth::jose::keys::parse_jwks(&jwks_obj, "jwks")
            .unwrap()
            .len(),
        1
    );
    let meta = h
        .send(
            Request::get("/.well-known/oauth-authorization-server")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(meta.body["issuer"], ISSUER);
    assert_eq!(meta.body["jwks_uri"], "/.well-known/jwks.json");
}

#[tokio::test]
async fn input_limits() {
    let mut h = Harness::new().await;
    let post = |body: String, anon: &str| {
        Request::post("/api/messages")
            .header("chat-anonymous-id", anon)
            .body(Body::from(body))
            .unwrap()
    };
    let long = "x".repeat(2001);
    let cases = [
        (
            json!({ "text": long }).to_string(),
            ANON,
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "text": "   " }).to_string(),
            ANON,
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "text": "a\u{7}b" }).to_string(),
            ANON,
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "text": 5 }).to_string(),
            ANON,
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "text": "hi", "clientId": "a b" }).to_string(),
            ANON,
            StatusCode::BAD_REQUEST,
        ),
        ("not json".to_owned(), ANON, StatusCode::BAD_REQUEST),
        (
            json!({ "text": "hi" }).to_string(),
            "not-a-uuid",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "text": "hi" }).to_string(),
            &ANON.to_uppercase(),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "text": "y".repeat(9000) }).to_string(),
            ANON,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (body, anon, status) in cases {
        let r = h.send(post(body.clone(), anon)).await;
        assert_eq!(r.status, status, "{}", &body[..body.len().min(60)]);
    }
    // Neither an anonymous id nor a token: nothing to attach the message to.
    let none = Request::post("/api/messages")
        .body(Body::from(r#"{"text":"hi"}"#))
        .unwrap();
    assert_eq!(h.send(none).await.status, StatusCode::BAD_REQUEST);
    assert!(visitor_texts(&h.chat(None, Some(ANON), None).await).is_empty());
    // Exactly 2000 characters is fine.
    let max = json!({ "text": "é".repeat(2000) }).to_string();
    assert_eq!(h.send(post(max, ANON)).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn cors_only_for_the_page_origin() {
    let mut h = Harness::new().await;
    let preflight = |origin: &str| {
        Request::options("/api/messages")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization, chat-anonymous-id",
            )
            .body(Body::empty())
            .unwrap()
    };
    let ok = h.send(preflight("http://page.test:3000")).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT);
    assert_eq!(
        ok.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://page.test:3000"
    );
    let headers = ok.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap();
    assert!(headers.contains("Authorization") && headers.contains("Chat-Anonymous-Id"));
    let evil = h.send(preflight("http://evil.test")).await;
    assert_eq!(evil.status, StatusCode::FORBIDDEN);
    assert!(evil
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());

    let get = |origin: &str| {
        Request::get("/api/messages")
            .header(header::ORIGIN, origin)
            .header("chat-anonymous-id", ANON)
            .body(Body::empty())
            .unwrap()
    };
    let r = h.send(get("http://page.test:3000")).await;
    assert_eq!(
        r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://page.test:3000"
    );
    let r = h.send(get("http://page.test:3001")).await;
    assert!(r.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    // Every response carries the CSP, as server/content-security-policy.txt
    // (the one source scripts/serve.mjs reads too) has it.
    let file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/content-security-policy.txt"
    ))
    .unwrap();
    assert_eq!(r.headers[header::CONTENT_SECURITY_POLICY], file.trim_end());
}

#[tokio::test]
async fn static_files_are_served_with_csp_and_never_outside_their_folders() {
    let dir = std::env::temp_dir().join(format!("chat-auth-static-{}", std::process::id()));
    let www = dir.join("www");
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html><title>x</title>").unwrap();
    std::fs::write(pkg.join("chat_auth_bg.wasm"), b"\0asm").unwrap();
    std::fs::write(dir.join("secret.txt"), "no").unwrap();
    let mut h = Harness::with_config(Config {
        www_dir: www,
        pkg_dir: pkg,
        ..config(&support::private_db().await)
    })
    .await;
    let get = |p: &str| Request::get(p).body(Body::empty()).unwrap();
    let res = h.app.clone().oneshot(get("/")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert!(res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let wasm = h
        .app
        .clone()
        .oneshot(get("/pkg/chat_auth_bg.wasm"))
        .await
        .unwrap();
    assert_eq!(wasm.headers()[header::CONTENT_TYPE], "application/wasm");
    for p in [
        "/../secret.txt",
        "/pkg/../secret.txt",
        "/%2e%2e/secret.txt",
        "/missing.html",
    ] {
        assert_eq!(h.send(get(p)).await.status, StatusCode::NOT_FOUND, "{p}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn nothing_is_lost_across_a_restart() {
    let db = support::shared_db().await;
    let (at, rt, history) = {
        let mut h = Harness::with_config(config(&db.url)).await;
        h.chat(None, Some(ANON), Some("before login")).await;
        let login = h.login("alice", "wonderland").await;
        let at = s(&login.body, "access_token").to_owned();
        h.chat(Some(&at), Some(ANON), Some("after login")).await;
        let history = h.chat(Some(&at), None, None).await.body["messages"].clone();
        (at, s(&login.body, "refresh_token").to_owned(), history)
    };
    let mut h = Harness::with_config(config(&db.url)).await;
    // Same key (the token still verifies), same customer id, same history.
    let r = h.chat(Some(&at), None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["messages"], history);
    assert_eq!(visitor_texts(&r), ["before login", "after login"]);
    // The session's refresh token survived too.
    assert_eq!(h.refresh(&rt).await.status, StatusCode::OK);
    let relogin = h.login("alice", "wonderland").await;
    assert_eq!(relogin.body["customer_id"], r.body["customerId"]);
}

/// A whole session — login, refresh, chat, a reuse attack, logout — then
/// every token and refresh token the server issued is searched for in its
/// logs (whole, and its signature part alone): none may appear.
#[tokio::test]
async fn logs_never_contain_a_token() {
    let mut h = Harness::new().await;
    h.chat(None, Some(ANON), Some("hello")).await;
    let login = h.login("alice", "wonderland").await;
    let rt1 = s(&login.body, "refresh_token").to_owned();
    let at1 = s(&login.body, "access_token").to_owned();
    h.chat(Some(&at1), Some(ANON), Some("logged in")).await;
    h.advance(4000);
    let r2 = h.refresh(&rt1).await;
    let at2 = s(&r2.body, "access_token").to_owned();
    h.chat(Some(&at2), Some(ANON), None).await;
    h.advance(2000);
    h.chat(Some(&at1), Some(ANON), Some("expired token")).await;
    h.refresh(&rt1).await; // reuse attack
    h.chat(Some(&at2), Some(ANON), None).await; // revoked
    let login = h.login("alice", "wonderland").await;
    let at3 = s(&login.body, "access_token").to_owned();
    let logout = Request::post("/auth/logout")
        .header(header::AUTHORIZATION, format!("Bearer {at3}"))
        .body(Body::empty())
        .unwrap();
    h.send(logout).await;
    h.login("alice", "wrong password").await;

    let log = h.log_text();
    assert!(h.secrets.len() >= 6, "{} secrets", h.secrets.len());
    assert!(log.lines().count() >= 12, "{log}");
    for line in log.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    for secret in &h.secrets {
        let signature = secret.rsplit('.').next().unwrap();
        assert!(!log.contains(secret.as_str()), "a token is in the log");
        assert!(!log.contains(signature), "a token signature is in the log");
    }
    for password in ["wonderland", "wrong password"] {
        assert!(!log.contains(password), "a password is in the log");
    }
}

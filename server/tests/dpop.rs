//! DPoP (RFC 9449) on the reference backend, through its router: a login
//! with a proof binds the session, its tokens are `DPoP` with `cnf.jkt`;
//! the chat API needs a proof by that key with the current nonce, and
//! refuses the token as Bearer, with another key's proof, or with a proof
//! sent twice; the refresh token needs a proof by the key, checked before it
//! is spent; sessions without a proof stay plain bearer sessions.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chat_auth::jose::dpop::{self, ProofClaims, ProofKey};
use chat_auth::wire::base64url;
use chat_auth_server::log::Logger;
use chat_auth_server::tokens::SigningKey;
use chat_auth_server::{App, Clock, Config};
use jsonwebtoken::{crypto, Algorithm, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::DecodePrivateKey;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tower::ServiceExt;

const T0: i64 = 1_800_000_000_000;
const ORIGIN: &str = "http://127.0.0.1:8080";
const NONCE_S: i64 = 10;
const INTROSPECTION_SECRET: &str = "introspection-secret-0123";

/// A client key pair (what WebCrypto holds in the browser).
struct ClientKey {
    encoding: EncodingKey,
    public: ProofKey,
}

impl ClientKey {
    fn new() -> ClientKey {
        let der = SigningKey::generate_pkcs8();
        let secret = p256::SecretKey::from_pkcs8_der(&der).unwrap();
        let point = secret.public_key().to_encoded_point(false);
        let public = ProofKey::from_coordinates(
            &base64url::encode(point.x().unwrap()),
            &base64url::encode(point.y().unwrap()),
        )
        .unwrap();
        ClientKey {
            encoding: EncodingKey::from_ec_der(&der),
            public,
        }
    }

    fn proof(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        nonce: Option<&str>,
        jti: &str,
        now: i64,
    ) -> String {
        let claims = ProofClaims {
            htm: method.into(),
            htu: format!("{ORIGIN}{path}"),
            iat: now / 1000,
            jti: jti.into(),
            ath: token.map(dpop::access_token_hash),
            nonce: nonce.map(str::to_owned),
        };
        let input = dpop::signing_input(&self.public, &claims);
        let sig = crypto::sign(input.as_bytes(), &self.encoding, Algorithm::ES256).unwrap();
        dpop::assemble(&input, &base64url::decode(sig.as_bytes()).unwrap()).unwrap()
    }
}

struct Harness {
    app: Router,
    state: Arc<chat_auth_server::AppState>,
    now: Arc<AtomicI64>,
    jti: u32,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Reply {
    fn nonce(&self) -> Option<String> {
        self.headers
            .get("dpop-nonce")
            .map(|v| v.to_str().unwrap().to_owned())
    }

    fn challenge(&self) -> String {
        self.headers
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

impl Harness {
    async fn new() -> Harness {
        Harness::on(support::private_db().await).await
    }

    /// An instance on database `db` (several may share one).
    async fn on(db: String) -> Harness {
        let now = Arc::new(AtomicI64::new(T0));
        let clock_now = now.clone();
        let clock: Clock = Arc::new(move || clock_now.load(Ordering::SeqCst));
        let config = Config {
            db_path: db,
            access_ttl_s: 60,
            refresh_ttl_s: 3600,
            public_origin: Some(ORIGIN.into()),
            dpop_nonce_ttl_s: NONCE_S,
            introspection_secret: Some(INTROSPECTION_SECRET.into()),
            ..Config::default()
        };
        let app = App::new(
            config,
            ORIGIN,
            Logger::to(Arc::new(std::sync::Mutex::new(Vec::<u8>::new()))),
            clock,
        )
        .await
        .unwrap();
        Harness {
            state: app.state().clone(),
            app: app.router(),
            now,
            jti: 0,
        }
    }

    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn advance(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    fn jti(&mut self) -> String {
        self.jti += 1;
        format!("jti-{}", self.jti)
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn login(&mut self, key: Option<&ClientKey>) -> Reply {
        let mut b = Request::post("/auth/login").header(header::CONTENT_TYPE, "application/json");
        if let Some(k) = key {
            let jti = self.jti();
            b = b.header(
                "DPoP",
                k.proof("POST", "/auth/login", None, None, &jti, self.now()),
            );
        }
        let body = json!({ "username": "alice", "password": "wonderland" }).to_string();
        self.send(b.body(Body::from(body)).unwrap()).await
    }

    async fn refresh(&self, refresh_token: &str, proof: Option<String>) -> Reply {
        let mut b = Request::post("/oauth/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(p) = proof {
            b = b.header("DPoP", p);
        }
        let body =
            format!("grant_type=refresh_token&client_id=chat-demo&refresh_token={refresh_token}");
        self.send(b.body(Body::from(body)).unwrap()).await
    }

    async fn messages(&self, authorization: &str, proof: Option<String>) -> Reply {
        let mut b = Request::get("/api/messages").header(header::AUTHORIZATION, authorization);
        if let Some(p) = proof {
            b = b.header("DPoP", p);
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64url::decode(payload.as_bytes()).unwrap()).unwrap()
}

#[tokio::test]
async fn a_login_with_a_proof_binds_the_session_and_the_api_needs_the_key() {
    let mut h = Harness::new().await;
    let key = ClientKey::new();
    let login = h.login(Some(&key)).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["token_type"], "DPoP");
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims_of(&token)["cnf"]["jkt"], key.public.thumbprint());
    assert!(
        login.nonce().is_some(),
        "an answer to a proof carries a nonce"
    );

    // No nonce yet: 401 use_dpop_nonce with one.
    let jti = h.jti();
    let first = h
        .messages(
            &format!("DPoP {token}"),
            Some(key.proof("GET", "/api/messages", Some(&token), None, &jti, h.now())),
        )
        .await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    assert!(
        first.challenge().contains(r#"error="use_dpop_nonce""#),
        "{}",
        first.challenge()
    );
    let nonce = first.nonce().unwrap();
    // With it: served, with a nonce for the next proof.
    let jti = h.jti();
    let proof = key.proof(
        "GET",
        "/api/messages",
        Some(&token),
        Some(&nonce),
        &jti,
        h.now(),
    );
    let ok = h
        .messages(&format!("DPoP {token}"), Some(proof.clone()))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.nonce().is_some());
    // The same proof again: a replay.
    let again = h.messages(&format!("DPoP {token}"), Some(proof)).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(
        again.challenge().contains("dpop_replayed"),
        "{}",
        again.challenge()
    );
    // The token as a plain bearer token: refused.
    let bearer = h.messages(&format!("Bearer {token}"), None).await;
    assert_eq!(bearer.status, StatusCode::UNAUTHORIZED);
    assert!(
        bearer.challenge().contains("dpop_bound"),
        "{}",
        bearer.challenge()
    );
    // With another key's (valid) proof: refused.
    let thief = ClientKey::new();
    let jti = h.jti();
    let stolen = h
        .messages(
            &format!("DPoP {token}"),
            Some(thief.proof(
                "GET",
                "/api/messages",
                Some(&token),
                Some(&nonce),
                &jti,
                h.now(),
            )),
        )
        .await;
    assert_eq!(stolen.status, StatusCode::UNAUTHORIZED);
    assert!(
        stolen.challenge().contains("dpop_key_mismatch"),
        "{}",
        stolen.challenge()
    );
    // A proof for another URL or without ath: refused.
    let jti = h.jti();
    let wrong_url = key.proof(
        "GET",
        "/api/profile",
        Some(&token),
        Some(&nonce),
        &jti,
        h.now(),
    );
    assert_eq!(
        h.messages(&format!("DPoP {token}"), Some(wrong_url))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let jti = h.jti();
    let no_ath = key.proof("GET", "/api/messages", None, Some(&nonce), &jti, h.now());
    assert_eq!(
        h.messages(&format!("DPoP {token}"), Some(no_ath))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // The nonce rotates: the previous window's still counts, an older one does not.
    h.advance(NONCE_S * 1000);
    let jti = h.jti();
    let previous = key.proof(
        "GET",
        "/api/messages",
        Some(&token),
        Some(&nonce),
        &jti,
        h.now(),
    );
    assert_eq!(
        h.messages(&format!("DPoP {token}"), Some(previous))
            .await
            .status,
        StatusCode::OK
    );
    h.advance(NONCE_S * 1000);
    let jti = h.jti();
    let stale = key.proof(
        "GET",
        "/api/messages",
        Some(&token),
        Some(&nonce),
        &jti,
        h.now(),
    );
    let refused = h.messages(&format!("DPoP {token}"), Some(stale)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.challenge().contains("use_dpop_nonce"));
    assert_ne!(refused.nonce().unwrap(), nonce);
}

#[tokio::test]
async fn a_bound_refresh_token_needs_the_key_and_is_not_spent_by_a_thief() {
    let mut h = Harness::new().await;
    let key = ClientKey::new();
    let login = h.login(Some(&key)).await;
    let refresh = login.body["refresh_token"].as_str().unwrap().to_owned();
    let nonce = login.nonce().unwrap();
    // Without a proof: refused, with a nonce to use.
    let bare = h.refresh(&refresh, None).await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST);
    assert_eq!(bare.body["error"], "invalid_dpop_proof");
    // Another key: refused.
    let thief = ClientKey::new();
    let jti = h.jti();
    let stolen = h
        .refresh(
            &refresh,
            Some(thief.proof("POST", "/oauth/token", None, Some(&nonce), &jti, h.now())),
        )
        .await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST);
    assert_eq!(stolen.body["error"], "invalid_dpop_proof");
    // The key without the nonce: use_dpop_nonce, still not spent.
    let jti = h.jti();
    let no_nonce = h
        .refresh(
            &refresh,
            Some(key.proof("POST", "/oauth/token", None, None, &jti, h.now())),
        )
        .await;
    assert_eq!(no_nonce.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_nonce.body["error"], "use_dpop_nonce");
    let nonce = no_nonce.nonce().unwrap();
    // The key with the nonce: rotated, bound again.
    let jti = h.jti();
    let ok = h
        .refresh(
            &refresh,
            Some(key.proof("POST", "/oauth/token", None, Some(&nonce), &jti, h.now())),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["token_type"], "DPoP");
    let token = ok.body["access_token"].as_str().unwrap();
    assert_eq!(claims_of(token)["cnf"]["jkt"], key.public.thumbprint());
}

#[tokio::test]
async fn a_login_without_a_proof_stays_a_bearer_session() {
    let mut h = Harness::new().await;
    let login = h.login(None).await;
    assert_eq!(login.body["token_type"], "Bearer");
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    assert!(claims_of(&token).get("cnf").is_none());
    assert_eq!(
        h.messages(&format!("Bearer {token}"), None).await.status,
        StatusCode::OK
    );
    let refresh = login.body["refresh_token"].as_str().unwrap();
    assert_eq!(h.refresh(refresh, None).await.status, StatusCode::OK);
    // An unbound token sent as DPoP (with a valid proof) is refused: the
    // token must be bound to the proof's key.
    let key = ClientKey::new();
    let jti = h.jti();
    let probe = h
        .messages(
            &format!("DPoP {token}"),
            Some(key.proof("GET", "/api/messages", Some(&token), None, &jti, h.now())),
        )
        .await;
    let nonce = probe.nonce().unwrap();
    let jti = h.jti();
    let unbound = h
        .messages(
            &format!("DPoP {token}"),
            Some(key.proof(
                "GET",
                "/api/messages",
                Some(&token),
                Some(&nonce),
                &jti,
                h.now(),
            )),
        )
        .await;
    assert_eq!(unbound.status, StatusCode::UNAUTHORIZED);
    assert!(
        unbound.challenge().contains("dpop_unbound"),
        "{}",
        unbound.challenge()
    );
}

#[tokio::test]
async fn the_internal_marker_header_cannot_be_forged() {
    let mut h = Harness::new().await;
    let key = ClientKey::new();
    let login = h.login(Some(&key)).await;
    let token = login.body["access_token"].as_str().unwrap();
    let jkt = key.public.thumbprint();
    let req = Request::get("/api/messages")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header("x-chat-dpop-verified-jkt", jkt)
        .body(Body::empty())
        .unwrap();
    let forged = h.send(req).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert!(forged.challenge().contains("dpop_bound"));
}

#[tokio::test]
async fn a_proof_accepted_by_one_instance_is_a_replay_on_another() {
    let db = support::shared_db().await;
    let mut a = Harness::on(db.url.clone()).await;
    let b = Harness::on(db.url.clone()).await;
    let key = ClientKey::new();
    let login = a.login(Some(&key)).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    // The nonce secret is shared: A's nonce is good on B.
    let nonce = login.nonce().unwrap();
    let jti = a.jti();
    let proof = key.proof(
        "GET",
        "/api/messages",
        Some(&token),
        Some(&nonce),
        &jti,
        a.now(),
    );
    let on_a = a
        .messages(&format!("DPoP {token}"), Some(proof.clone()))
        .await;
    assert_eq!(on_a.status, StatusCode::OK, "{}", on_a.body);
    let on_b = b.messages(&format!("DPoP {token}"), Some(proof)).await;
    assert_eq!(on_b.status, StatusCode::UNAUTHORIZED);
    assert!(
        on_b.challenge().contains("dpop_replayed"),
        "{}",
        on_b.challenge()
    );
    let jti = a.jti();
    let fresh = key.proof(
        "GET",
        "/api/messages",
        Some(&token),
        Some(&nonce),
        &jti,
        b.now(),
    );
    assert_eq!(
        b.messages(&format!("DPoP {token}"), Some(fresh))
            .await
            .status,
        StatusCode::OK
    );
}

/// Review 18 finding 1: a proof is recorded only for a request that is
/// otherwise authenticated, so senders without an account cannot fill the
/// proof store (and lock every DPoP session out).
#[tokio::test]
async fn proofs_of_unauthenticated_requests_are_not_recorded() {
    let mut h = Harness::new().await;
    let key = ClientKey::new();
    // A login with a wrong password: its proof is not recorded, so the same
    // proof still logs in with the right one.
    let jti = h.jti();
    let proof = key.proof("POST", "/auth/login", None, None, &jti, h.now());
    let login = |password: &'static str, proof: String| {
        Request::post("/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .header("DPoP", proof)
            .body(Body::from(
                json!({ "username": "alice", "password": password }).to_string(),
            ))
            .unwrap()
    };
    let wrong = h.send(login("nope", proof.clone())).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    let right = h.send(login("wonderland", proof.clone())).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.body);
    // Once authenticated it is recorded: the same proof again is a replay.
    let again = h.send(login("wonderland", proof)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.body["error"], "invalid_dpop_proof");
    let refresh = right.body["refresh_token"].as_str().unwrap().to_owned();
    let token = right.body["access_token"].as_str().unwrap().to_owned();

    // A made-up refresh token: the proof is not recorded, so it still
    // works with the real one.
    let nonce = h.state.dpop.nonce(h.now());
    let jti = h.jti();
    let proof = key.proof("POST", "/oauth/token", None, Some(&nonce), &jti, h.now());
    let unknown = h.refresh("rt_made_up", Some(proof.clone())).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.body["error"], "invalid_grant");
    let ok = h.refresh(&refresh, Some(proof)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    // An access token that does not verify (expired): the gate leaves the
    // refusal to the handler and records nothing.
    h.advance(61_000);
    let nonce = h.state.dpop.nonce(h.now());
    let jti = h.jti();
    let proof = key.proof(
        "GET",
        "/api/messages",
        Some(&token),
        Some(&nonce),
        &jti,
        h.now(),
    );
    let expired = h.messages(&format!("DPoP {token}"), Some(proof)).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    let id = format!("{} {jti}", key.public.thumbprint());
    assert!(
        h.state
            .store
            .first_proof_use(&id, h.now() + 1000, h.now())
            .await
            .unwrap(),
        "the proof of an expired token was recorded"
    );
}

/// Review 18 finding 4: introspection of a bound access token says it is
/// bound (RFC 9449 §6.2); an unbound one stays Bearer without `cnf`.
#[tokio::test]
async fn introspection_reports_the_binding() {
    let mut h = Harness::new().await;
    let key = ClientKey::new();
    let introspect = |audience: &str, token: &str| {
        let mut creds = base64url::encode(format!("{audience}:{INTROSPECTION_SECRET}").as_bytes());
        while !creds.len().is_multiple_of(4) {
            creds.push('=');
        }
        Request::post("/oauth/introspect")
            .header(header::AUTHORIZATION, format!("Basic {creds}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    };
    let audience = h.state.config.audience.clone();
    let bound = h.login(Some(&key)).await;
    let token = bound.body["access_token"].as_str().unwrap().to_owned();
    let info = h.send(introspect(&audience, &token)).await;
    assert_eq!(info.body["active"], true, "{}", info.body);
    assert_eq!(info.body["token_type"], "DPoP");
    assert_eq!(info.body["cnf"]["jkt"], key.public.thumbprint());
    let plain = h.login(None).await;
    let token = plain.body["access_token"].as_str().unwrap().to_owned();
    let info = h.send(introspect(&audience, &token)).await;
    assert_eq!(info.body["active"], true, "{}", info.body);
    assert_eq!(info.body["token_type"], "Bearer");
    assert!(info.body.get("cnf").is_none());
}

/// Review 18 finding 7: revoking a bound session's token needs a proof by
/// its key (with the current nonce); without one nothing is revoked.
#[tokio::test]
async fn revoking_a_bound_token_needs_the_key() {
    let mut h = Harness::new().await;
    let key = ClientKey::new();
    let login = h.login(Some(&key)).await;
    let refresh = login.body["refresh_token"].as_str().unwrap().to_owned();
    let revoke = |proof: Option<String>| {
        let mut b = Request::post("/oauth/revoke")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(p) = proof {
            b = b.header("DPoP", p);
        }
        b.body(Body::from(format!("token={refresh}"))).unwrap()
    };
    let bare = h.send(revoke(None)).await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST, "{}", bare.body);
    assert_eq!(bare.body["error"], "invalid_dpop_proof");
    let nonce = bare.nonce().unwrap();
    let thief = ClientKey::new();
    let jti = h.jti();
    let stolen = h
        .send(revoke(Some(thief.proof(
            "POST",
            "/oauth/revoke",
            None,
            Some(&nonce),
            &jti,
            h.now(),
        ))))
        .await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST);
    // Still alive: the owner's refresh works.
    let jti = h.jti();
    let ok = h
        .refresh(
            &refresh,
            Some(key.proof("POST", "/oauth/token", None, Some(&nonce), &jti, h.now())),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let refresh = ok.body["refresh_token"].as_str().unwrap().to_owned();
    // The owner revokes with its key: the session ends.
    let revoke_own = Request::post("/oauth/revoke")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("DPoP", {
            let jti = h.jti();
            key.proof("POST", "/oauth/revoke", None, Some(&nonce), &jti, h.now())
        })
        .body(Body::from(format!("token={refresh}")))
        .unwrap();
    assert_eq!(h.send(revoke_own).await.status, StatusCode::OK);
    let jti = h.jti();
    let after = h
        .refresh(
            &refresh,
            Some(key.proof("POST", "/oauth/token", None, Some(&nonce), &jti, h.now())),
        )
        .await;
    assert_eq!(after.status, StatusCode::BAD_REQUEST);
    assert_eq!(after.body["error"], "invalid_grant");
}

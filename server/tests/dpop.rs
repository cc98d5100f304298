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
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tower::ServiceExt;

const T0: i64 = 1_800_000_000_000;
const ORIGIN: &str = "http://127.0.0.1:8080";
const NONCE_S: i64 = 10;
const INTROSPECTION_SECRET: &str = "introspection-secret-0123";
const MESSAGES: &str = "/api/messages";

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
    jti: Cell<u32>,
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

    /// A 401 whose `WWW-Authenticate` names `reason`.
    #[track_caller]
    fn assert_unauthorized(&self, reason: &str) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED, "{}", self.body);
        let challenge = self.challenge();
        assert!(challenge.contains(reason), "{reason} not in {challenge}");
    }

    /// A 400 OAuth error answer `{ error }`.
    #[track_caller]
    fn assert_oauth_error(&self, error: &str) {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{}", self.body);
        assert_eq!(self.body["error"], error);
    }

    #[track_caller]
    fn assert_ok(&self) {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
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
            jti: Cell::new(0),
        }
    }

    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn advance(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    fn jti(&self) -> String {
        self.jti.set(self.jti.get() + 1);
        format!("jti-{}", self.jti.get())
    }

    /// A proof by `key` with a fresh `jti`, made now.
    fn proof(
        &self,
        key: &ClientKey,
        method: &str,
        path: &str,
        token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        key.proof(method, path, token, nonce, &self.jti(), self.now())
    }

    /// A proof by `key` for `GET /api/messages` with `token`.
    fn api_proof(&self, key: &ClientKey, token: &str, nonce: Option<&str>) -> String {
        self.proof(key, "GET", MESSAGES, Some(token), nonce)
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

    async fn login(&self, key: Option<&ClientKey>) -> Reply {
        let mut b = Request::post("/auth/login").header(header::CONTENT_TYPE, "application/json");
        if let Some(k) = key {
            b = b.header("DPoP", self.proof(k, "POST", "/auth/login", None, None));
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
        let mut b = Request::get(MESSAGES).header(header::AUTHORIZATION, authorization);
        if let Some(p) = proof {
            b = b.header("DPoP", p);
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    /// `GET /api/messages` with `DPoP <token>` and `proof`.
    async fn dpop_messages(&self, token: &str, proof: String) -> Reply {
        self.messages(&format!("DPoP {token}"), Some(proof)).await
    }

    /// `POST /oauth/token` with `refresh_token` and a proof by `key`.
    async fn refresh_with(
        &self,
        refresh_token: &str,
        key: &ClientKey,
        nonce: Option<&str>,
    ) -> Reply {
        let proof = self.proof(key, "POST", "/oauth/token", None, nonce);
        self.refresh(refresh_token, Some(proof)).await
    }
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64url::decode(payload.as_bytes()).unwrap()).unwrap()
}

#[tokio::test]
async fn a_login_with_a_proof_binds_the_session_and_the_api_needs_the_key() {
    let h = Harness::new().await;
    let key = ClientKey::new();
    let login = h.login(Some(&key)).await;
    login.assert_ok();
    assert_eq!(login.body["token_type"], "DPoP");
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims_of(&token)["cnf"]["jkt"], key.public.thumbprint());
    assert!(
        login.nonce().is_some(),
        "an answer to a proof carries a nonce"
    );

    // No nonce yet: 401 use_dpop_nonce with one.
    let first = h
        .dpop_messages(&token, h.api_proof(&key, &token, None))
        .await;
    first.assert_unauthorized(r#"error="use_dpop_nonce""#);
    let nonce = first.nonce().unwrap();
    // With it: served, with a nonce for the next proof.
    let proof = h.api_proof(&key, &token, Some(&nonce));
    let ok = h.dpop_messages(&token, proof.clone()).await;
    ok.assert_ok();
    assert!(ok.nonce().is_some());

    // Refused, each with its reason in the challenge.
    let thief = ClientKey::new();
    let dpop = format!("DPoP {token}");
    let refusals = [
        (
            "the same proof again (a replay)",
            dpop.clone(),
            Some(proof),
            "dpop_replayed",
        ),
        (
            "the token as a plain bearer token",
            format!("Bearer {token}"),
            None,
            "dpop_bound",
        ),
        (
            "another key's (valid) proof",
            dpop.clone(),
            Some(h.api_proof(&thief, &token, Some(&nonce))),
            "dpop_key_mismatch",
        ),
        (
            "a proof for another URL",
            dpop.clone(),
            Some(h.proof(&key, "GET", "/api/profile", Some(&token), Some(&nonce))),
            "dpop_invalid",
        ),
        (
            "a proof without ath",
            dpop,
            Some(h.proof(&key, "GET", MESSAGES, None, Some(&nonce))),
            "dpop_invalid",
        ),
    ];
    for (what, authorization, proof, reason) in refusals {
        let r = h.messages(&authorization, proof).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.body);
        let challenge = r.challenge();
        assert!(
            challenge.contains(reason),
            "{what}: {reason} not in {challenge}"
        );
    }

    // The nonce rotates: the previous window's still counts, an older one does not.
    h.advance(NONCE_S * 1000);
    let previous = h.api_proof(&key, &token, Some(&nonce));
    h.dpop_messages(&token, previous).await.assert_ok();
    h.advance(NONCE_S * 1000);
    let stale = h.api_proof(&key, &token, Some(&nonce));
    let refused = h.dpop_messages(&token, stale).await;
    refused.assert_unauthorized("use_dpop_nonce");
    assert_ne!(refused.nonce().unwrap(), nonce);
}

#[tokio::test]
async fn a_bound_refresh_token_needs_the_key_and_is_not_spent_by_a_thief() {
    let h = Harness::new().await;
    let key = ClientKey::new();
    let login = h.login(Some(&key)).await;
    let refresh = login.body["refresh_token"].as_str().unwrap().to_owned();
    let nonce = login.nonce().unwrap();
    // Without a proof: refused.
    let bare = h.refresh(&refresh, None).await;
    bare.assert_oauth_error("invalid_dpop_proof");
    // Another key: refused.
    let thief = ClientKey::new();
    let stolen = h.refresh_with(&refresh, &thief, Some(&nonce)).await;
    stolen.assert_oauth_error("invalid_dpop_proof");
    // The key without the nonce: use_dpop_nonce, still not spent.
    let no_nonce = h.refresh_with(&refresh, &key, None).await;
    no_nonce.assert_oauth_error("use_dpop_nonce");
    let nonce = no_nonce.nonce().unwrap();
    // The key with the nonce: rotated, bound again.
    let ok = h.refresh_with(&refresh, &key, Some(&nonce)).await;
    ok.assert_ok();
    assert_eq!(ok.body["token_type"], "DPoP");
    let token = ok.body["access_token"].as_str().unwrap();
    assert_eq!(claims_of(token)["cnf"]["jkt"], key.public.thumbprint());
}

#[tokio::test]
async fn a_login_without_a_proof_stays_a_bearer_session() {
    let h = Harness::new().await;
    let login = h.login(None).await;
    assert_eq!(login.body["token_type"], "Bearer");
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    assert!(claims_of(&token).get("cnf").is_none());
    h.messages(&format!("Bearer {token}"), None)
        .await
        .assert_ok();
    let refresh = login.body["refresh_token"].as_str().unwrap();
    h.refresh(refresh, None).await.assert_ok();
    // An unbound token sent as DPoP (with a valid proof) is refused: the
    // token must be bound to the proof's key.
    let key = ClientKey::new();
    let probe = h
        .dpop_messages(&token, h.api_proof(&key, &token, None))
        .await;
    let nonce = probe.nonce().unwrap();
    let unbound = h
        .dpop_messages(&token, h.api_proof(&key, &token, Some(&nonce)))
        .await;
    unbound.assert_unauthorized("dpop_unbound");
}

#[tokio::test]
async fn the_internal_marker_header_cannot_be_forged() {
    let h = Harness::new().await;
    let key = ClientKey::new();
    let login = h.login(Some(&key)).await;
    let token = login.body["access_token"].as_str().unwrap();
    let jkt = key.public.thumbprint();
    let req = Request::get(MESSAGES)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header("x-chat-dpop-verified-jkt", jkt)
        .body(Body::empty())
        .unwrap();
    h.send(req).await.assert_unauthorized("dpop_bound");
}

#[tokio::test]
async fn a_proof_accepted_by_one_instance_is_a_replay_on_another() {
    let db = support::shared_db().await;
    let a = Harness::on(db.url.clone()).await;
    let b = Harness::on(db.url.clone()).await;
    let key = ClientKey::new();
    let login = a.login(Some(&key)).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    // The nonce secret is shared: A's nonce is good on B.
    let nonce = login.nonce().unwrap();
    let proof = a.api_proof(&key, &token, Some(&nonce));
    a.dpop_messages(&token, proof.clone()).await.assert_ok();
    let on_b = b.dpop_messages(&token, proof).await;
    on_b.assert_unauthorized("dpop_replayed");
    // A fresh proof (A's jti counter: B's would repeat the login's jti).
    let fresh = a.api_proof(&key, &token, Some(&nonce));
    b.dpop_messages(&token, fresh).await.assert_ok();
}

/// Review 18 finding 1: a proof is recorded only for a request that is
/// otherwise authenticated, so senders without an account cannot fill the
/// proof store (and lock every DPoP session out).
#[tokio::test]
async fn proofs_of_unauthenticated_requests_are_not_recorded() {
    let h = Harness::new().await;
    let key = ClientKey::new();
    // A login with a wrong password: its proof is not recorded, so the same
    // proof still logs in with the right one.
    let proof = h.proof(&key, "POST", "/auth/login", None, None);
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
    right.assert_ok();
    // Once authenticated it is recorded: the same proof again is a replay.
    let again = h.send(login("wonderland", proof)).await;
    again.assert_oauth_error("invalid_dpop_proof");
    let refresh = right.body["refresh_token"].as_str().unwrap().to_owned();
    let token = right.body["access_token"].as_str().unwrap().to_owned();

    // A made-up refresh token: the proof is not recorded, so it still
    // works with the real one.
    let nonce = h.state.dpop.nonce(h.now());
    let proof = h.proof(&key, "POST", "/oauth/token", None, Some(&nonce));
    let unknown = h.refresh("rt_made_up", Some(proof.clone())).await;
    unknown.assert_oauth_error("invalid_grant");
    h.refresh(&refresh, Some(proof)).await.assert_ok();

    // An access token that does not verify (expired): the gate leaves the
    // refusal to the handler and records nothing.
    h.advance(61_000);
    let nonce = h.state.dpop.nonce(h.now());
    let jti = h.jti();
    let proof = key.proof("GET", MESSAGES, Some(&token), Some(&nonce), &jti, h.now());
    let expired = h.dpop_messages(&token, proof).await;
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
    let h = Harness::new().await;
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
    let h = Harness::new().await;
    let key = ClientKey::new();
    let login = h.login(Some(&key)).await;
    let refresh = login.body["refresh_token"].as_str().unwrap().to_owned();
    let revoke = |refresh: &str, proof: Option<String>| {
        let mut b = Request::post("/oauth/revoke")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(p) = proof {
            b = b.header("DPoP", p);
        }
        b.body(Body::from(format!("token={refresh}"))).unwrap()
    };
    let bare = h.send(revoke(&refresh, None)).await;
    bare.assert_oauth_error("invalid_dpop_proof");
    let nonce = bare.nonce().unwrap();
    let thief = ClientKey::new();
    let stolen = h.proof(&thief, "POST", "/oauth/revoke", None, Some(&nonce));
    let stolen = h.send(revoke(&refresh, Some(stolen))).await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST);
    // Still alive: the owner's refresh works.
    let ok = h.refresh_with(&refresh, &key, Some(&nonce)).await;
    ok.assert_ok();
    let refresh = ok.body["refresh_token"].as_str().unwrap().to_owned();
    // The owner revokes with its key: the session ends.
    let own = h.proof(&key, "POST", "/oauth/revoke", None, Some(&nonce));
    assert_eq!(
        h.send(revoke(&refresh, Some(own))).await.status,
        StatusCode::OK
    );
    let after = h.refresh_with(&refresh, &key, Some(&nonce)).await;
    after.assert_oauth_error("invalid_grant");
}

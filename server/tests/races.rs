//! Two server instances on one database, hit at the same moment: the
//! correctness a load balancer needs. Each case runs many bounded rounds of
//! concurrent requests, split over both instances, then checks the answers
//! and reads the database itself. On a shared SQLite file, or on PostgreSQL
//! when `CHAT_TEST_POSTGRES` is set (see `support`).

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chat_auth_server::log::Logger;
use chat_auth_server::{App, Clock, Config};
use serde_json::Value;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::SharedDb;
use tower::ServiceExt;

const T0: i64 = 1_800_000_000_000;
/// Every round of concurrent requests must finish within this.
const ROUND_LIMIT: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Instance {
    app: Router,
    logs: Arc<Mutex<Vec<u8>>>,
}

struct Answer {
    status: StatusCode,
    body: Value,
}

impl Instance {
    async fn call(&self, req: Request<Body>) -> Answer {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn login(&self, user: &str, password: &str) -> Answer {
        self.call(support::requests::login(user, password)).await
    }

    async fn refresh(&self, refresh_token: &str) -> Answer {
        self.call(support::requests::refresh(refresh_token)).await
    }

    /// GET (no `text`) or POST `/api/messages`.
    async fn chat(
        &self,
        token: Option<&str>,
        anon: Option<&str>,
        text: Option<&str>,
        client_id: Option<&str>,
    ) -> Answer {
        self.call(support::requests::chat(token, anon, text, client_id))
            .await
    }

    /// Messages this instance logged as folded, in total.
    fn folded(&self) -> u64 {
        let logs = String::from_utf8(self.logs.lock().unwrap().clone()).unwrap();
        logs.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|l| l["folded"].as_u64())
            .sum()
    }
}

fn config(db: &str) -> Config {
    Config {
        db_path: db.into(),
        access_ttl_s: 300,
        refresh_ttl_s: 3600,
        login_failures_per_minute: 5,
        ..Config::default()
    }
}

/// Two instances starting at the same moment on `db` (as after a deploy).
async fn two_instances(db: &SharedDb) -> (Instance, Instance) {
    let now = Arc::new(AtomicI64::new(T0));
    let start = |db: String| {
        let now = now.clone();
        async move {
            let logs = Arc::new(Mutex::new(Vec::new()));
            let clock: Clock = Arc::new(move || now.load(Ordering::SeqCst));
            let app = App::new(
                config(&db),
                "http://127.0.0.1:8080",
                Logger::to(logs.clone()),
                clock,
            )
            .await
            .unwrap_or_else(|e| panic!("instance on {}: {e}", support::engine()));
            Instance {
                app: app.router(),
                logs,
            }
        }
    };
    tokio::join!(start(db.url.clone()), start(db.url.clone()))
}

/// Runs every future at once on the runtime's threads; all answers, in order.
async fn all_at_once<F>(futures: Vec<F>) -> Vec<Answer>
where
    F: std::future::Future<Output = Answer> + Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    tokio::time::timeout(ROUND_LIMIT, join_in_order(handles))
        .await
        .expect("a round of concurrent requests did not finish in time")
}

async fn join_in_order(handles: Vec<tokio::task::JoinHandle<Answer>>) -> Vec<Answer> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// A fresh lowercase UUID v4 (the SDK's anonymous id).
fn anonymous_id() -> String {
    let mut b = chat_auth_server::tokens::random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_create_one_key_and_one_secret_and_share_revocations() {
    for round in 0..5 {
        let db = support::shared_db().await;
        let (a, b) = two_instances(&db).await;
        let jwks = || {
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap()
        };
        let (ka, kb) = (a.call(jwks()).await.body, b.call(jwks()).await.body);
        assert_eq!(ka, kb, "round {round}: two signing keys");
        let (la, lb) = tokio::join!(
            a.login("alice", "wonderland"),
            b.login("alice", "wonderland")
        );
        assert_eq!(
            text(&la.body, "customer_id"),
            text(&lb.body, "customer_id"),
            "round {round}: two customer secrets"
        );
        // A token from one instance is good on the other, until it is
        // revoked on the first.
        let at = text(&la.body, "access_token").to_owned();
        assert_eq!(
            b.chat(Some(&at), None, None, None).await.status,
            StatusCode::OK
        );
        let logout = Request::post("/auth/logout")
            .header(header::AUTHORIZATION, format!("Bearer {at}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(a.call(logout).await.status, StatusCode::NO_CONTENT);
        assert_eq!(
            b.chat(Some(&at), None, None, None).await.status,
            StatusCode::UNAUTHORIZED
        );
        // The signing key, the customer-id secret and the DPoP nonce secret.
        assert_eq!(
            support::select_count(&db, "SELECT count(*) FROM meta").await,
            3
        );
    }
}

/// RFC 9700 §4.14.2 under concurrency: one refresh token presented four
/// times at once, twice to each instance, in each of many rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_token_presented_to_both_instances_at_once_has_exactly_one_successor() {
    const ROUNDS: usize = 40;
    const PRESENTATIONS: usize = 4;
    let db = support::shared_db().await;
    let (a, b) = two_instances(&db).await;
    for round in 0..ROUNDS {
        let login = if round % 2 == 0 { &a } else { &b }
            .login("bob", "builder")
            .await;
        assert_eq!(login.status, StatusCode::OK);
        let rt = text(&login.body, "refresh_token").to_owned();
        let answers = all_at_once(
            (0..PRESENTATIONS)
                .map(|i| {
                    let instance = if i % 2 == 0 { a.clone() } else { b.clone() };
                    let rt = rt.clone();
                    async move { instance.refresh(&rt).await }
                })
                .collect(),
        )
        .await;
        let rotated: Vec<_> = answers
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .collect();
        assert_eq!(
            rotated.len(),
            1,
            "round {round}: {} successors",
            rotated.len()
        );
        for r in answers.iter().filter(|r| r.status != StatusCode::OK) {
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "round {round}: {}",
                r.body
            );
            assert_eq!(r.body["error"], "invalid_grant");
        }
        // The reuse revoked the family: the one successor is dead too.
        let successor = text(&rotated[0].body, "refresh_token").to_owned();
        assert_eq!(b.refresh(&successor).await.body["error"], "invalid_grant");
        assert_eq!(a.refresh(&successor).await.body["error"], "invalid_grant");
    }
    let count = |sql: &'static str| support::select_count(&db, sql);
    // Every family: its first token (spent) and exactly one successor
    // (never spent); every family revoked.
    assert_eq!(count("SELECT count(*) FROM families").await, ROUNDS as i64);
    assert_eq!(
        count("SELECT count(*) FROM refresh_tokens").await,
        2 * ROUNDS as i64
    );
    assert_eq!(
        count("SELECT count(*) FROM refresh_tokens WHERE spent_at IS NULL").await,
        ROUNDS as i64
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM (SELECT family FROM refresh_tokens
             GROUP BY family HAVING count(*) <> 2) odd"
        )
        .await,
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM families WHERE revoked_at IS NULL").await,
        0
    );
}

/// The first authenticated requests after a login reach both instances at
/// once, each with the anonymous id: the anonymous conversation moves once.
/// With them, one new message sent to both instances under one `clientId`,
/// and an anonymous send retried with the token (the SDK's retry across
/// login): each stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_anonymous_conversation_folds_once_and_client_ids_stay_idempotent_across_instances() {
    const ROUNDS: usize = 20;
    const ANONYMOUS_SENDS: usize = 3;
    let db = support::shared_db().await;
    let (a, b) = two_instances(&db).await;
    for round in 0..ROUNDS {
        let anon = anonymous_id();
        for j in 0..ANONYMOUS_SENDS {
            let r = a
                .chat(
                    None,
                    Some(&anon),
                    Some("before login"),
                    Some(&format!("r{round}-a{j}")),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED);
        }
        let login = b.login("carol", "singing").await;
        let at = text(&login.body, "access_token").to_owned();
        let mut requests = Vec::new();
        for i in 0..8 {
            let instance = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (at, anon) = (at.clone(), anon.clone());
            let job = i % 4;
            requests.push(async move {
                match job {
                    // Reads carrying the anonymous id (the page's first list).
                    0 | 1 => instance.chat(Some(&at), Some(&anon), None, None).await,
                    // One new message, the same clientId on both instances.
                    2 => {
                        let cid = format!("r{round}-c");
                        instance
                            .chat(Some(&at), Some(&anon), Some("after login"), Some(&cid))
                            .await
                    }
                    // The first anonymous send, retried with the token.
                    _ => {
                        let cid = format!("r{round}-a0");
                        instance
                            .chat(Some(&at), Some(&anon), Some("before login"), Some(&cid))
                            .await
                    }
                }
            });
        }
        let answers = all_at_once(requests).await;
        for r in &answers {
            assert!(
                r.status.is_success(),
                "round {round}: {} {}",
                r.status,
                r.body
            );
        }
        let created = answers
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .count();
        assert_eq!(
            created, 1,
            "round {round}: the new message was stored {created} times"
        );
        let anonymous_left = support::select_count(
            &db,
            &format!(
                "SELECT count(*) FROM messages WHERE owner_kind = 'anonymous' AND owner = '{anon}'"
            ),
        )
        .await;
        assert_eq!(anonymous_left, 0, "round {round}");
        let this_round = support::select_count(
            &db,
            &format!(
                "SELECT count(*) FROM messages WHERE owner_kind = 'customer' AND client_id LIKE 'r{round}-%'"
            ),
        )
        .await;
        assert_eq!(this_round, ANONYMOUS_SENDS as i64 + 1, "round {round}");
    }
    // Per round: the anonymous sends and their replies moved once, plus one
    // new message and its one reply.
    let per_round = 2 * ANONYMOUS_SENDS as u64;
    assert_eq!(a.folded() + b.folded(), per_round * ROUNDS as u64);
    assert_eq!(
        support::select_count(
            &db,
            "SELECT count(*) FROM messages WHERE owner_kind = 'customer'"
        )
        .await,
        ((per_round + 2) * ROUNDS as u64) as i64
    );
    assert_eq!(
        support::select_count(
            &db,
            "SELECT count(*) FROM (SELECT owner, client_id FROM messages WHERE client_id IS NOT NULL
             GROUP BY owner_kind, owner, client_id HAVING count(*) > 1) twice"
        )
        .await,
        0
    );
}

/// CHAT_LOGIN_LIMIT=5: two dozen wrong passwords at once, split over both
/// instances, get five tries in total, not five per instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_failed_login_limit_holds_across_instances() {
    const ATTEMPTS: usize = 24;
    let db = support::shared_db().await;
    let (a, b) = two_instances(&db).await;
    let answers = all_at_once(
        (0..ATTEMPTS)
            .map(|i| {
                let instance = if i % 2 == 0 { a.clone() } else { b.clone() };
                async move { instance.login("alice", &format!("guess {i}")).await }
            })
            .collect(),
    )
    .await;
    let refused = answers
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    let limited = answers
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((refused, limited), (5, ATTEMPTS - 5));
    assert_eq!(
        a.login("alice", "wonderland").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        b.login("alice", "wonderland").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(b.login("bob", "builder").await.status, StatusCode::OK);
    assert_eq!(
        support::select_count(&db, "SELECT count(*) FROM login_attempts").await,
        5
    );
}

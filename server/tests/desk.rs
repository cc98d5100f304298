//! The representative's side through the router: access control (one test
//! per rule; forbidden answers are 401/403 with nothing of the resource in
//! the body), the desk's queue, history and replies, the messenger channel
//! sharing one history, the canned bot's switch, and the profile check
//! against the UserProfile API. On SQLite, or PostgreSQL with
//! `CHAT_TEST_POSTGRES` (see `support`).

mod support;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use chat_auth_server::config::AutoReply;
use chat_auth_server::log::Logger;
use chat_auth_server::site::ProfileApi;
use chat_auth_server::store::{self, Author, Owner, ProfileCheck};
use chat_auth_server::{App, AppState, Clock, Config};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

const T0: i64 = 1_800_000_000_000;
const ANON: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const ANON2: &str = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";

struct Desk {
    app: Router,
    now: Arc<AtomicI64>,
}

/// One request's parts.
#[derive(Default)]
struct Call<'a> {
    token: Option<&'a str>,
    anon: Option<&'a str>,
    sdk_id: Option<&'a str>,
    body: Option<Value>,
}

async fn desk_with(auto_reply: AutoReply, profiles: Option<Arc<dyn ProfileApi>>) -> Desk {
    let now = Arc::new(AtomicI64::new(T0));
    let clock_now = now.clone();
    let clock: Clock = Arc::new(move || clock_now.load(Ordering::SeqCst));
    let config = Config {
        db_path: support::private_db().await,
        access_ttl_s: 300,
        auto_reply,
        ..Config::default()
    };
    let logs = Arc::new(Mutex::new(Vec::new()));
    let mut app = App::new(config, "http://127.0.0.1:8080", Logger::to(logs), clock)
        .await
        .unwrap();
    if let Some(p) = profiles {
        app = app.with_profile_api(p).unwrap();
    }
    Desk {
        app: app.router(),
        now,
    }
}

async fn desk() -> Desk {
    desk_with(AutoReply::Offline, None).await
}

impl Desk {
    async fn call(&self, method: Method, path: &str, c: Call<'_>) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = c.token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(a) = c.anon {
            b = b.header("chat-anonymous-id", a);
        }
        if let Some(id) = c.sdk_id {
            b = b.header("chat-customer-id", id);
        }
        let body = match c.body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let res = self
            .app
            .clone()
            .oneshot(b.body(body).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Logs in at `path` (`/auth/login` or `/desk/login`): (access token,
    /// customer id, refresh token).
    async fn login(&self, path: &str, user: &str, password: &str, client: Option<&str>) -> Login {
        let mut body = json!({ "username": user, "password": password });
        if let Some(c) = client {
            body["client_id"] = c.into();
        }
        let (status, r) = self
            .call(
                Method::POST,
                path,
                Call {
                    body: Some(body),
                    ..Call::default()
                },
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        Login {
            access: r["access_token"].as_str().unwrap().to_owned(),
            customer: r["customer_id"].as_str().unwrap().to_owned(),
            refresh: r["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    async fn customer(&self, user: &str, password: &str) -> Login {
        self.login("/auth/login", user, password, None).await
    }

    async fn agent(&self) -> Login {
        self.login("/desk/login", "ava", "helpdesk", None).await
    }

    /// A customer's message with the SDK's customer id.
    async fn say(&self, who: &Login, text: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/messages",
            Call {
                token: Some(&who.access),
                sdk_id: Some(&who.customer),
                body: Some(json!({ "text": text })),
                ..Call::default()
            },
        )
        .await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(
            Method::GET,
            path,
            Call {
                token,
                ..Call::default()
            },
        )
        .await
    }

    async fn queue(&self, agent: &Login) -> Vec<Value> {
        let (status, q) = self.get("/desk/queue", Some(&agent.access)).await;
        assert_eq!(status, StatusCode::OK, "{q}");
        q["conversations"].as_array().unwrap().clone()
    }
}

struct Login {
    access: String,
    customer: String,
    refresh: String,
}

fn texts(v: &Value) -> Vec<String> {
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

/// A refusal says only that it is one: `{ error, error_description }`.
fn assert_refusal(status: StatusCode, body: &Value, expected: StatusCode, error: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"], error, "{body}");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["error", "error_description"], "{body}");
}

#[tokio::test]
async fn a_customer_reads_and_writes_only_their_own_conversation() {
    let d = desk().await;
    let alice = d.customer("alice", "wonderland").await;
    let bob = d.customer("bob", "builder").await;
    d.say(&alice, "my secret order NW-1042").await;
    let (status, bobs) = d.get("/api/messages", Some(&bob.access)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!bobs.to_string().contains("NW-1042"), "{bobs}");
    // The conversation comes from the token, never from a parameter.
    let (_, again) = d
        .get(
            &format!("/api/messages?customer={}", alice.customer),
            Some(&bob.access),
        )
        .await;
    assert!(!again.to_string().contains("NW-1042"));
    let (_, mine) = d.get("/api/messages", Some(&alice.access)).await;
    assert!(texts(&mine).contains(&"my secret order NW-1042".to_owned()));
}

#[tokio::test]
async fn an_anonymous_conversation_is_only_its_ids_until_it_is_folded() {
    let d = desk().await;
    let anon = |id| Call {
        anon: Some(id),
        ..Call::default()
    };
    let say = |id| Call {
        anon: Some(id),
        body: Some(json!({ "text": "guest question" })),
        ..Call::default()
    };
    d.call(Method::POST, "/api/messages", say(ANON)).await;
    let (_, other) = d.call(Method::GET, "/api/messages", anon(ANON2)).await;
    assert_eq!(texts(&other), Vec::<String>::new());
    let alice = d.customer("alice", "wonderland").await;
    let fold = Call {
        token: Some(&alice.access),
        anon: Some(ANON),
        ..Call::default()
    };
    let (_, folded) = d.call(Method::GET, "/api/messages", fold).await;
    assert!(texts(&folded).contains(&"guest question".to_owned()));
    // Folded: the anonymous id alone no longer reads it.
    let (_, after) = d.call(Method::GET, "/api/messages", anon(ANON)).await;
    assert_eq!(texts(&after), Vec::<String>::new());
}

#[tokio::test]
async fn only_representatives_read_the_queue_or_a_conversation_or_reply() {
    let d = desk().await;
    let alice = d.customer("alice", "wonderland").await;
    d.say(&alice, "hello desk").await;
    let conv = format!("/desk/conversations/customer/{}", alice.customer);
    let reply = format!("{conv}/messages");
    let refusals = [
        // No token.
        (None, StatusCode::UNAUTHORIZED, "invalid_request"),
        // A token that fails validation.
        (Some("not.a.jwt"), StatusCode::UNAUTHORIZED, "invalid_token"),
        // A customer's valid token.
        (
            Some(alice.access.as_str()),
            StatusCode::FORBIDDEN,
            "insufficient_scope",
        ),
    ];
    for (method, path) in [
        (Method::GET, "/desk/queue"),
        (Method::GET, conv.as_str()),
        (Method::POST, reply.as_str()),
    ] {
        for (token, expected, error) in refusals {
            let call = Call {
                token,
                body: Some(json!({ "text": "hi" })),
                ..Call::default()
            };
            let (status, r) = d.call(method.clone(), path, call).await;
            assert_refusal(status, &r, expected, error);
            assert!(!r.to_string().contains("hello desk"), "{path}");
        }
    }
    // Nothing was written by the refused replies.
    let (_, mine) = d.get("/api/messages", Some(&alice.access)).await;
    assert!(!texts(&mine).contains(&"hi".to_owned()));
    // Customers cannot log in at the desk, nor representatives as customers.
    for (path, user, password) in [
        ("/desk/login", "alice", "wonderland"),
        ("/auth/login", "ava", "helpdesk"),
    ] {
        let call = Call {
            body: Some(json!({ "username": user, "password": password })),
            ..Call::default()
        };
        let (status, _) = d.call(Method::POST, path, call).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn a_representatives_token_is_refused_on_customer_endpoints() {
    let d = desk().await;
    let agent = d.agent().await;
    for (method, path) in [
        (Method::GET, "/api/messages"),
        (Method::POST, "/api/messages"),
        (Method::GET, "/api/me"),
        (Method::GET, "/api/profile"),
        (Method::GET, "/site/profile"),
    ] {
        let (status, r) = d
            .call(
                method,
                path,
                Call {
                    token: Some(&agent.access),
                    anon: Some(ANON),
                    body: Some(json!({ "text": "as a customer" })),
                    ..Call::default()
                },
            )
            .await;
        assert_refusal(status, &r, StatusCode::FORBIDDEN, "insufficient_scope");
    }
    // Nothing was stored, not even in the anonymous conversation it named.
    assert!(d.queue(&agent).await.is_empty());
    // Its refresh token works for the desk's client only (and is not spent
    // by another client's attempt).
    let form = |client: &str| {
        format!(
            "grant_type=refresh_token&client_id={client}&refresh_token={}",
            agent.refresh
        )
    };
    for (client, expected) in [
        ("chat-demo", StatusCode::BAD_REQUEST),
        ("chat-desk", StatusCode::OK),
    ] {
        let req = Request::post("/oauth/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form(client)))
            .unwrap();
        let res = d.app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), expected, "{client}");
    }
}

#[tokio::test]
async fn the_desk_sees_one_history_across_channels_newest_first_with_unread_counts() {
    let d = desk().await;
    let alice = d.customer("alice", "wonderland").await;
    let bob = d.customer("bob", "builder").await;
    // Before any representative is online the bot answers.
    let (_, first) = d.say(&alice, "where is my parcel?").await;
    assert_eq!(first["reply"]["author"], "bot");
    d.say(&bob, "I need an invoice").await;
    let agent = d.agent().await;
    assert_eq!(
        d.queue(&agent).await.len(),
        2,
        "online from its first desk request"
    );
    // Alice continues on the messenger channel (another client, a new login).
    let messenger = d
        .login("/auth/login", "alice", "wonderland", Some("chat-messenger"))
        .await;
    assert_eq!(messenger.customer, alice.customer);
    d.now.fetch_add(1000, Ordering::SeqCst);
    let (_, second) = d.say(&messenger, "still waiting").await;
    assert_eq!(second["message"]["channel"], "messenger");
    assert_eq!(second["reply"], Value::Null, "a representative is online");

    let q = d.queue(&agent).await;
    assert_eq!(q.len(), 2);
    assert_eq!(q[0]["id"], alice.customer.as_str(), "newest activity first");
    assert_eq!(q[0]["unread"], 2);
    assert_eq!(q[0]["name"], "Alice Martin");
    assert_eq!(q[0]["verified"], true);
    assert_eq!(q[1]["unread"], 1);

    let conv = format!("/desk/conversations/customer/{}", alice.customer);
    let (status, c) = d.get(&conv, Some(&agent.access)).await;
    assert_eq!(status, StatusCode::OK);
    let channels: Vec<(&str, &str)> = c["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["author"].as_str().unwrap(),
                m["channel"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        channels,
        [("visitor", "web"), ("bot", "web"), ("visitor", "messenger")]
    );
    assert!(c["messages"][0]["at"].is_i64());
    assert_eq!(d.queue(&agent).await[0]["unread"], 0, "opened: read");

    let (status, r) = d
        .call(
            Method::POST,
            &format!("{conv}/messages"),
            Call {
                token: Some(&agent.access),
                body: Some(json!({ "text": "It arrives tomorrow.", "clientId": "r1" })),
                ..Call::default()
            },
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["message"]["channel"], "messenger", "where she last wrote");
    // The customer sees it on both channels.
    for token in [&alice.access, &messenger.access] {
        let (_, mine) = d.get("/api/messages", Some(token)).await;
        let last = mine["messages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (last["author"].as_str(), last["text"].as_str()),
            (Some("agent"), Some("It arrives tomorrow."))
        );
    }
    // Unknown or malformed conversations are 404.
    for path in [
        "/desk/conversations/customer/c_nobody".to_owned(),
        "/desk/conversations/robot/x".to_owned(),
        format!("/desk/conversations/anonymous/{ANON2}"),
    ] {
        let (status, _) = d.get(&path, Some(&agent.access)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // 30 s after the representative's last desk request the bot is back.
    d.now.fetch_add(31_000, Ordering::SeqCst);
    let (_, later) = d.say(&bob, "anyone?").await;
    assert_eq!(later["reply"]["author"], "bot");
}

#[tokio::test]
async fn the_auto_reply_switch() {
    let never = desk_with(AutoReply::Never, None).await;
    let alice = never.customer("alice", "wonderland").await;
    assert_eq!(never.say(&alice, "hi").await.1["reply"], Value::Null);
    let always = desk_with(AutoReply::Always, None).await;
    let _agent = always.agent().await;
    let alice = always.customer("alice", "wonderland").await;
    always.get("/desk/queue", Some(&_agent.access)).await;
    assert_eq!(always.say(&alice, "hi").await.1["reply"]["author"], "bot");
}

async fn profile_on_desk(d: &Desk, agent: &Login, customer: &str) -> Value {
    let (status, c) = d
        .get(
            &format!("/desk/conversations/customer/{customer}"),
            Some(&agent.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    c["profile"].clone()
}

#[tokio::test]
async fn the_profile_is_verified_only_when_token_sdk_id_and_profile_agree() {
    let d = desk().await;
    let agent = d.agent().await;
    let alice = d.customer("alice", "wonderland").await;
    let bob = d.customer("bob", "builder").await;
    d.say(&alice, "hi").await;
    let p = profile_on_desk(&d, &agent, &alice.customer).await;
    assert_eq!(p["verified"], true, "{p}");
    assert_eq!(p["profile"]["name"], "Alice Martin");
    assert_eq!(p["profile"]["customer_id"], alice.customer.as_str());
    assert_eq!(p["checkedAt"], T0);
    assert!(!p.to_string().contains(&alice.access));

    // The customer sees the same data.
    let (_, own) = d
        .call(
            Method::GET,
            "/api/profile",
            Call {
                token: Some(&alice.access),
                sdk_id: Some(&alice.customer),
                ..Call::default()
            },
        )
        .await;
    assert_eq!(own["profile"]["tier"], "Gold");

    // Bob's token with the customer id the SDK was given for Alice.
    let (status, _) = d
        .call(
            Method::POST,
            "/api/messages",
            Call {
                token: Some(&bob.access),
                sdk_id: Some(&alice.customer),
                body: Some(json!({ "text": "who am I" })),
                ..Call::default()
            },
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let p = profile_on_desk(&d, &agent, &bob.customer).await;
    assert_eq!(p["verified"], false);
    assert_eq!(p["reason"], "claim_mismatch");
    assert_eq!(p["profile"], Value::Null, "no data when not verified");
    assert!(!p.to_string().contains("Bob"), "{p}");

    // No SDK id at all.
    d.now.fetch_add(61_000, Ordering::SeqCst);
    d.call(
        Method::GET,
        "/api/messages",
        Call {
            token: Some(&alice.access),
            ..Call::default()
        },
    )
    .await;
    let p = profile_on_desk(&d, &agent, &alice.customer).await;
    assert_eq!(p["reason"], "customer_id_invalid");

    // A check older than CHAT_PROFILE_MAX_AGE is expired, without data.
    d.say(&alice, "again").await;
    assert_eq!(
        profile_on_desk(&d, &agent, &alice.customer).await["verified"],
        true
    );
    d.now.fetch_add(3_600_000, Ordering::SeqCst);
    let agent = d.agent().await;
    let p = profile_on_desk(&d, &agent, &alice.customer).await;
    assert_eq!(
        (p["verified"].clone(), p["reason"].clone()),
        (json!(false), json!("expired"))
    );
    assert_eq!(p["profile"], Value::Null);
}

/// A profile API that fails, or answers for someone else.
struct FakeProfiles(Result<&'static str, &'static str>);

#[async_trait]
impl ProfileApi for FakeProfiles {
    async fn profile(&self, _: &AppState, _: &str) -> Result<String, String> {
        self.0.map(str::to_owned).map_err(str::to_owned)
    }
}

#[tokio::test]
async fn a_failing_or_wrong_profile_api_is_not_verified() {
    for (api, reason) in [
        (
            FakeProfiles(Err("503 from the profile service")),
            "profile_unavailable",
        ),
        (
            FakeProfiles(Ok(r#"{"customer_id":"c_someone_else","name":"Mallory"}"#)),
            "claim_mismatch",
        ),
        (FakeProfiles(Ok("<html>oops</html>")), "malformed"),
        (FakeProfiles(Ok(r#"{"name":"no id"}"#)), "malformed"),
    ] {
        let d = desk_with(AutoReply::Offline, Some(Arc::new(api))).await;
        let agent = d.agent().await;
        let alice = d.customer("alice", "wonderland").await;
        assert_eq!(d.say(&alice, "hi").await.0, StatusCode::CREATED);
        let p = profile_on_desk(&d, &agent, &alice.customer).await;
        assert_eq!(p["verified"], false, "{reason}");
        assert_eq!(p["reason"], reason);
        assert!(!p.to_string().contains("Mallory"));
    }
}

#[tokio::test]
async fn no_token_reaches_the_database() {
    let db = support::shared_db().await;
    let now = Arc::new(AtomicI64::new(T0));
    let clock_now = now.clone();
    let clock: Clock = Arc::new(move || clock_now.load(Ordering::SeqCst));
    let config = Config {
        db_path: db.url.clone(),
        ..Config::default()
    };
    let app = App::new(
        config,
        "http://127.0.0.1:8080",
        Logger::to(Arc::new(Mutex::new(Vec::new()))),
        clock,
    )
    .await
    .unwrap();
    let d = Desk {
        app: app.router(),
        now,
    };
    let agent = d.agent().await;
    let alice = d.customer("alice", "wonderland").await;
    d.say(&alice, "hi").await;
    profile_on_desk(&d, &agent, &alice.customer).await;
    // Neither of the customer's tokens (nor the representative's) is in a
    // table this feature writes. (LIKE's `_` wildcard only widens a match.)
    for token in [&alice.access, &alice.refresh, &agent.access] {
        for (table, columns) in [
            (
                "profiles",
                "sdk_customer_id || coalesce(data, '') || coalesce(reason, '')",
            ),
            ("messages", "text || channel"),
            ("desk_presence", "agent"),
            ("conversation_reads", "owner"),
        ] {
            let sql = format!("SELECT count(*) FROM {table} WHERE {columns} LIKE '%{token}%'");
            assert_eq!(support::select_count(&db, &sql).await, 0, "{table}");
        }
    }
    assert_eq!(
        support::select_count(&db, "SELECT count(*) FROM profiles WHERE verified").await,
        1
    );
}

#[tokio::test]
async fn store_queue_read_markers_profiles_and_presence() {
    let s = store::open(&support::private_db().await).await.unwrap();
    let a = Owner::Customer("c_a".into());
    let b = Owner::Anonymous(ANON.into());
    s.append(&a, Author::Visitor, "a1", None, 1).await.unwrap();
    s.append(&b, Author::Visitor, "b1", None, 2).await.unwrap();
    let (a2, _) = s.append(&a, Author::Visitor, "a2", None, 3).await.unwrap();
    s.append(&a, Author::Agent, "reply", None, 4).await.unwrap();
    let q = s.queue(10).await.unwrap();
    assert_eq!(
        q.iter()
            .map(|e| (e.owner.clone(), e.last.text.as_str(), e.unread))
            .collect::<Vec<_>>(),
        [(a.clone(), "reply", 2), (b.clone(), "b1", 1)]
    );
    s.mark_read(&a, a2.id).await.unwrap();
    s.mark_read(&a, 1).await.unwrap(); // never back
    assert_eq!(s.queue(10).await.unwrap()[0].unread, 0);
    assert_eq!(s.queue(1).await.unwrap().len(), 1);

    let check = ProfileCheck {
        customer_id: "c_a".into(),
        sdk_customer_id: "c_a".into(),
        verified: true,
        reason: None,
        data: Some(r#"{"name":"A"}"#.into()),
        checked_at: 5,
    };
    s.put_profile_check(&check).await.unwrap();
    let failed = ProfileCheck {
        verified: false,
        reason: Some("claim_mismatch".into()),
        data: None,
        checked_at: 6,
        ..check.clone()
    };
    s.put_profile_check(&failed).await.unwrap();
    assert_eq!(s.profile_check("c_a").await.unwrap(), Some(failed));
    assert_eq!(s.profile_check("c_b").await.unwrap(), None);

    assert_eq!(s.agents_seen_since(0).await.unwrap(), 0);
    s.agent_seen("ava", 100).await.unwrap();
    s.agent_seen("ava", 50).await.unwrap();
    s.agent_seen("sam", 10).await.unwrap();
    assert_eq!(s.agents_seen_since(60).await.unwrap(), 1);
    assert_eq!(s.agents_seen_since(10).await.unwrap(), 2);
}

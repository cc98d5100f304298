//! The database a server test runs on: SQLite by default, PostgreSQL when
//! `CHAT_TEST_POSTGRES` holds a server's URL without a database name (the
//! `postgres` tier of `npm test` starts a throwaway cluster and sets it).
//! Each test gets a database of its own.

// Each test file uses a part of this module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `postgres://user@host:port` of the test server, when the tier set one.
pub const POSTGRES_ENV: &str = "CHAT_TEST_POSTGRES";

fn postgres_base() -> Option<String> {
    std::env::var(POSTGRES_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('/').to_owned())
}

/// The engine under test, for messages.
pub fn engine() -> &'static str {
    if postgres_base().is_some() {
        "postgres"
    } else {
        "sqlite"
    }
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// A new database on the test PostgreSQL server; its URL.
async fn create_postgres_db(base: &str) -> String {
    let name = unique_name("t");
    let (client, connection) =
        tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV}={base}: cannot connect: {e}"));
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0"))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    drop(client);
    let _ = driver.await;
    format!("{base}/{name}")
}

/// A database for one server instance: `:memory:`, or a new PostgreSQL one.
pub async fn private_db() -> String {
    match postgres_base() {
        Some(base) => create_postgres_db(&base).await,
        None => ":memory:".into(),
    }
}

/// A database that several instances (or a restarted one) open: a new
/// SQLite file, or a new PostgreSQL database. The file goes with the value.
pub struct SharedDb {
    /// What `CHAT_DB` would say.
    pub url: String,
    dir: Option<PathBuf>,
}

impl Drop for SharedDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A new [`SharedDb`].
pub async fn shared_db() -> SharedDb {
    match postgres_base() {
        Some(base) => SharedDb {
            url: create_postgres_db(&base).await,
            dir: None,
        },
        None => {
            let dir = std::env::temp_dir().join(unique_name("chat-auth-db"));
            std::fs::create_dir_all(&dir).unwrap();
            SharedDb {
                url: dir.join("chat.sqlite").to_str().unwrap().to_owned(),
                dir: Some(dir),
            }
        }
    }
}

/// The one integer that `sql` selects, read straight from the database
/// (checks after a race, beside what the server answered).
pub async fn select_count(db: &SharedDb, sql: &str) -> i64 {
    if db.dir.is_none() {
        let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let driver = tokio::spawn(connection);
        let n: i64 = client
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0);
        drop(client);
        let _ = driver.await;
        n
    } else {
        let c = rusqlite::Connection::open(&db.url).unwrap();
        c.query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// The requests the server tests send, built once.
pub mod requests {
    use axum::body::Body;
    use axum::http::{header, Request};
    use serde_json::json;

    /// `POST /auth/login`.
    pub fn login(user: &str, password: &str) -> Request<Body> {
        Request::post("/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({ "username": user, "password": password }).to_string(),
            ))
            .unwrap()
    }

    /// `POST /oauth/token` with the refresh-token grant.
    pub fn refresh(refresh_token: &str) -> Request<Body> {
        Request::post("/oauth/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "grant_type=refresh_token&client_id=chat-demo&refresh_token={refresh_token}"
            )))
            .unwrap()
    }

    /// `GET /api/messages` (no `text`) or `POST` it, with a bearer token
    /// and an anonymous id when given.
    pub fn chat(
        token: Option<&str>,
        anon: Option<&str>,
        text: Option<&str>,
        client_id: Option<&str>,
    ) -> Request<Body> {
        let mut b = match text {
            Some(_) => Request::post("/api/messages"),
            None => Request::get("/api/messages"),
        };
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(a) = anon {
            b = b.header("chat-anonymous-id", a);
        }
        let body = match (text, client_id) {
            (Some(t), Some(c)) => Body::from(json!({ "text": t, "clientId": c }).to_string()),
            (Some(t), None) => Body::from(json!({ "text": t }).to_string()),
            (None, _) => Body::empty(),
        };
        b.body(body).unwrap()
    }
}

//! # chat-auth-server
//!
//! The reference backend of the chat-auth demo: a site's login (demo users),
//! an OAuth 2.0 token endpoint (refresh-token rotation with reuse
//! detection), JWKS, RFC 7662 introspection, RFC 7009 revocation, a
//! user-profile endpoint, a chat API whose access tokens are validated by the
//! chat-auth crate with the browser SDK's exact rules, the site's UserProfile
//! API and the profile check against it (`site`), and the representatives'
//! desk (`desk`).
//!
//! [`App::new`] builds everything from a [`Config`]; [`App::router`] is the
//! axum router (the binary serves it, tests drive it directly).

#![deny(missing_docs)]

pub mod api;
pub mod config;
pub mod desk;
pub mod dpop;
pub mod files;
pub mod limits;
pub mod log;
pub mod site;
pub mod store;
pub mod tokens;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

pub use config::Config;
use log::Logger;
use store::{Millis, Store};
use tokens::{SigningKey, Validator};

/// The clock every decision uses (ms since the epoch); tests move it by hand.
pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    use chat_auth::time::{Clock as _, SystemClock};
    Arc::new(|| SystemClock.now_ms())
}

/// The Content-Security-Policy of every response: no inline script or style,
/// no eval, WebAssembly compilation allowed, API calls to this origin only.
/// Defined once, in `server/content-security-policy.txt` (one line), which
/// `scripts/serve.mjs` sends with the demo's pages too.
pub const CSP: &str = include_str!("../content-security-policy.txt").trim_ascii_end();

/// Largest request body accepted, bytes.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// Shared state of the handlers.
pub struct AppState {
    /// Configuration.
    pub config: Config,
    /// `iss` of issued tokens.
    pub issuer: String,
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Signing key.
    pub key: SigningKey,
    /// Access-token validator (chat-auth rules).
    pub validator: Validator,
    /// Secret of `opaque_customer_id`.
    pub customer_secret: Vec<u8>,
    /// Logs.
    pub log: Logger,
    /// Clock.
    pub clock: Clock,
    /// Failed-login limit (counted in the store, shared by all instances).
    pub login_limit: limits::LoginLimit,
    /// The site's UserProfile API ([`site::DemoProfiles`] unless replaced
    /// with [`App::with_profile_api`]).
    pub profile_api: Arc<dyn site::ProfileApi>,
    /// DPoP nonces and the proof replay cache.
    pub dpop: dpop::DpopGuard,
}

impl AppState {
    /// The current time, ms.
    pub fn now(&self) -> Millis {
        (self.clock)()
    }
}

/// A configured server.
#[derive(Clone)]
pub struct App {
    state: Arc<AppState>,
}

const META_SIGNING_KEY: &str = "signing_key_pkcs8";
const META_CUSTOMER_SECRET: &str = "customer_id_secret";
const META_DPOP_NONCE_SECRET: &str = "dpop_nonce_secret";

impl App {
    /// Opens the store `config.db_path` names (SQLite, or PostgreSQL for a
    /// `postgres://` URL), migrates it, and loads (or creates) the signing
    /// key and customer secret. `default_issuer` is used when the config
    /// names none (the server's own URL).
    pub async fn new(
        config: Config,
        default_issuer: &str,
        log: Logger,
        clock: Clock,
    ) -> Result<App, String> {
        let store = store::open(&config.db_path)
            .await
            .map_err(|e| e.to_string())?;
        App::with_store(config, default_issuer, log, clock, store).await
    }

    /// As [`App::new`], with a given store.
    pub async fn with_store(
        config: Config,
        default_issuer: &str,
        log: Logger,
        clock: Clock,
        store: Arc<dyn Store>,
    ) -> Result<App, String> {
        let key = match &config.signing_key_pem {
            Some(path) => {
                let pem = std::fs::read_to_string(path)
                    .map_err(|e| format!("CHAT_SIGNING_KEY {}: {e}", path.display()))?;
                SigningKey::from_pem(&pem)?
            }
            None => {
                // Kept in the database, so tokens stay valid across restarts
                // and every instance signs with the same key: each offers a
                // fresh one, the first stored wins.
                let der = store
                    .meta_or_insert(META_SIGNING_KEY, SigningKey::generate_pkcs8())
                    .await
                    .map_err(|e| e.to_string())?;
                SigningKey::from_pkcs8_der(&der)?
            }
        };
        let customer_secret = match &config.customer_secret {
            Some(s) => s.clone(),
            None => store
                .meta_or_insert(META_CUSTOMER_SECRET, tokens::random_bytes::<32>().to_vec())
                .await
                .map_err(|e| e.to_string())?,
        };
        // Shared by every instance, so each accepts the others' nonces.
        let nonce_secret = store
            .meta_or_insert(
                META_DPOP_NONCE_SECRET,
                tokens::random_bytes::<32>().to_vec(),
            )
            .await
            .map_err(|e| e.to_string())?;
        let dpop = dpop::DpopGuard::new(nonce_secret, config.dpop_nonce_ttl_s);
        let issuer = config
            .issuer
            .clone()
            .unwrap_or_else(|| default_issuer.to_owned());
        let validator = Validator::for_server(&key, &issuer, &config.audience, config.leeway_s)
            .map_err(|e| format!("validator: {e}"))?;
        let login_limit = limits::LoginLimit {
            per_name: config.login_failures_per_minute,
        };
        Ok(App {
            state: Arc::new(AppState {
                config,
                issuer,
                store,
                key,
                validator,
                customer_secret,
                log,
                clock,
                login_limit,
                profile_api: Arc::new(site::DemoProfiles),
                dpop,
            }),
        })
    }

    /// The same server calling `api` as the site's UserProfile API. Only
    /// before the state is shared (before [`App::router`] is cloned out).
    pub fn with_profile_api(mut self, api: Arc<dyn site::ProfileApi>) -> Result<App, String> {
        let state = Arc::get_mut(&mut self.state)
            .ok_or("with_profile_api: the server is already running")?;
        state.profile_api = api;
        Ok(self)
    }

    /// The shared state.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The router: API routes, static files, and the middleware (request log,
    /// security headers, CORS, body limit).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/auth/login", post(api::login))
            .route("/auth/logout", post(api::logout))
            .route("/oauth/token", post(api::token))
            .route("/oauth/revoke", post(api::revoke))
            .route("/oauth/introspect", post(api::introspect))
            .route("/.well-known/jwks.json", get(api::jwks))
            .route(
                "/.well-known/oauth-authorization-server",
                get(api::metadata),
            )
            .route("/api/me", get(api::me))
            .route("/api/profile", get(site::my_profile))
            .route("/site/profile", get(site::site_profile))
            .route("/desk/login", post(api::desk_login))
            .route("/desk/queue", get(desk::queue))
            .route("/desk/conversations/{kind}/{id}", get(desk::conversation))
            .route(
                "/desk/conversations/{kind}/{id}/messages",
                post(desk::reply),
            )
            .route(
                "/api/messages",
                get(api::list_messages).post(api::send_message),
            )
            .fallback(files::serve)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(middleware::from_fn_with_state(
                self.state.clone(),
                dpop::gate,
            ))
            .layer(middleware::from_fn_with_state(self.state.clone(), cors))
            .layer(middleware::from_fn_with_state(self.state.clone(), observe))
            .with_state(self.state.clone())
    }
}

/// What a handler tells the request log (never a token).
#[derive(Clone, Debug, Default)]
pub struct Note {
    /// The bearer token's outcome: `none`, `valid`, `expired` (expired at
    /// receipt), `revoked`, or another chat-auth error code.
    pub bearer: &'static str,
    /// The customer id, when known.
    pub customer: Option<String>,
    /// Messages folded from an anonymous conversation by this request.
    pub folded: usize,
}

/// Logs every request as one line (method, path without query, status,
/// duration, bearer outcome) and adds the security headers.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    let note = res.extensions().get::<Note>().cloned().unwrap_or_default();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let mut fields = serde_json::json!({
        "method": method.as_str(),
        "path": truncate(&path, 200),
        "status": res.status().as_u16(),
        "ms": (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0,
        "bearer": if note.bearer.is_empty() { "none" } else { note.bearer },
    });
    if let Some(c) = note.customer {
        fields["customer"] = c.into();
    }
    if note.folded > 0 {
        fields["folded"] = note.folded.into();
    }
    state.log.info("request", fields);
    res
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// CORS for the one configured page origin; every other origin gets no CORS
/// headers (and a refused preflight).
async fn cors(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let allowed = match (&origin, &state.config.page_origin) {
        (Some(o), Some(page)) => o.as_bytes() == page.as_bytes(),
        _ => false,
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        if !allowed {
            return StatusCode::FORBIDDEN.into_response();
        }
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        allow_origin(h, origin.as_ref());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "Authorization, Content-Type, Chat-Anonymous-Id, Chat-Customer-Id, DPoP",
            ),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        return res;
    }
    let mut res = next.run(req).await;
    if allowed {
        allow_origin(res.headers_mut(), origin.as_ref());
        res.headers_mut().insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("WWW-Authenticate, DPoP-Nonce"),
        );
    }
    res
}

fn allow_origin(h: &mut HeaderMap, origin: Option<&HeaderValue>) {
    if let Some(o) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone());
    }
    h.append(header::VARY, HeaderValue::from_static("Origin"));
}

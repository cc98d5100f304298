//! The HTTP endpoints. Every access token is judged by [`authenticate`]:
//! the chat-auth crate's verification rules, then the server's own check
//! that the token's login session (`sid`, a refresh-token family) is alive.

use crate::config::{
    AutoReply, DemoUser, AGENT_ONLINE_MS, DEMO_AGENTS, DEMO_USERS, DESK_CLIENT_ID,
    MESSENGER_CLIENT_ID,
};
use crate::limits::{self, LIST_LIMIT};
use crate::store::{Author, Channel, Family, Message, Millis, Owner, Rotation};
use crate::tokens::{hash_token, random_token, AccessClaims, Confirmation};
use crate::{AppState, Note};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chat_auth::jose::token::Claims;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub(crate) type Shared = State<Arc<AppState>>;

/// An error answer: JSON `{ error, error_description }`, with
/// `WWW-Authenticate` on 401 (RFC 6750 §3) and `Retry-After` on 429.
#[derive(Debug)]
pub struct ApiError(Box<ErrorAnswer>);

/// The parts of an [`ApiError`].
#[derive(Debug)]
pub struct ErrorAnswer {
    status: StatusCode,
    error: &'static str,
    description: String,
    www_authenticate: Option<String>,
    retry_after: Option<u64>,
    dpop_nonce: Option<String>,
    note: Note,
}

impl std::ops::Deref for ApiError {
    type Target = ErrorAnswer;
    fn deref(&self) -> &ErrorAnswer {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorAnswer {
        &mut self.0
    }
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> ApiError {
        ApiError(Box::new(ErrorAnswer {
            status,
            error,
            description: description.into(),
            www_authenticate: None,
            retry_after: None,
            dpop_nonce: None,
            note: Note::default(),
        }))
    }

    pub(crate) fn bad_request(description: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(crate) fn internal(what: impl std::fmt::Display, state: &AppState) -> ApiError {
        state
            .log
            .error("internal", json!({ "problem": what.to_string() }));
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server failed; try again",
        )
    }

    /// 401 for a bearer token that failed with chat-auth code `code`.
    pub fn invalid_token(code: &'static str) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            format!("the access token was refused: {code}"),
        );
        e.www_authenticate = Some(format!(
            r#"Bearer realm="chat", error="invalid_token", error_description="{code}""#
        ));
        e.note.bearer = code;
        e
    }

    /// 403 for a valid token of the wrong kind (a representative's on a
    /// customer endpoint, a customer's on the desk's): RFC 6750's
    /// `insufficient_scope`, and nothing about the resource.
    pub fn insufficient_scope(p: &Principal) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "this access token is not for this endpoint",
        );
        e.www_authenticate = Some(r#"Bearer realm="chat", error="insufficient_scope""#.into());
        e.note = customer_note(p);
        e
    }

    /// 404 without detail.
    pub(crate) fn not_found(what: &'static str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    fn with_note(mut self, note: Note) -> ApiError {
        self.note = note;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = *self.0;
        let body = json!({ "error": e.error, "error_description": e.description });
        let mut res = (e.status, axum::Json(body)).into_response();
        if let Some(w) = e
            .www_authenticate
            .and_then(|w| HeaderValue::try_from(w).ok())
        {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, w);
        }
        if let Some(s) = e.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if let Some(v) = e.dpop_nonce.and_then(|n| HeaderValue::try_from(n).ok()) {
            res.headers_mut().insert(crate::dpop::DPOP_NONCE, v);
        }
        res.extensions_mut().insert(e.note);
        res
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

pub(crate) fn ok_json(status: StatusCode, body: Value, note: Note) -> ApiResult {
    let mut res = (status, axum::Json(body)).into_response();
    res.extensions_mut().insert(note);
    Ok(res)
}

// ---- bearer tokens ----------------------------------------------------

/// A request's caller, after its bearer token was judged.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The opaque customer id (`sub`).
    pub customer_id: String,
    /// The login session (refresh-token family).
    pub family: Family,
    /// Token expiry, ms.
    pub expires_at: Millis,
    /// The verified claims (for the profile check).
    pub claims: Claims,
}

impl Principal {
    /// Is this a representative's token (the desk's client)?
    pub fn is_agent(&self) -> bool {
        self.family.client_id == DESK_CLIENT_ID
    }

    /// The channel a customer's token writes on (its OAuth client's).
    pub fn channel(&self) -> Channel {
        if self.family.client_id == MESSENGER_CLIENT_ID {
            Channel::Messenger
        } else {
            Channel::Web
        }
    }
}

/// The bearer token of `headers`, if any. Several `Authorization` headers,
/// another scheme, or a token with characters outside RFC 6750's
/// `b64token` are `invalid_request`.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let malformed = || {
        let mut e = ApiError::bad_request("the Authorization header must be 'Bearer <token>'");
        e.www_authenticate = Some(r#"Bearer realm="chat", error="invalid_request""#.into());
        e.note.bearer = "malformed";
        e
    };
    if values.next().is_some() {
        return Err(malformed());
    }
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim_start_matches(' ');
    let b64token = !token.is_empty()
        && token.bytes().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
        });
    if !scheme.eq_ignore_ascii_case("bearer") || !b64token {
        return Err(malformed());
    }
    Ok(Some(token))
}

/// Judges an access token: chat-auth verification (signature, `typ`,
/// issuer, audience, expiry — the browser's rules), then a `sub` and a live
/// login session (`sid`). Errors carry the chat-auth code, or `revoked`.
pub async fn authenticate(
    state: &AppState,
    token: &str,
    now: Millis,
) -> Result<Principal, ApiError> {
    let claims = state
        .validator
        .verify(token, now)
        .map_err(|e| ApiError::invalid_token(e.code().as_str()))?;
    let (Some(sub), Some(sid)) = (claims.sub.clone(), claims.members.get_str("sid")) else {
        return Err(ApiError::invalid_token("malformed"));
    };
    let family = state
        .store
        .family(sid)
        .await
        .map_err(|e| ApiError::internal(e, state))?;
    match family {
        Some(f) if f.revoked_at.is_none() && f.customer_id == sub => Ok(Principal {
            customer_id: sub,
            family: f,
            expires_at: claims.expires_at_ms().unwrap_or(0),
            claims,
        }),
        _ => Err(ApiError::invalid_token("revoked")),
    }
}

/// The caller of a request that needs a customer's valid token: a
/// representative's token is 403.
pub(crate) async fn require_customer(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Principal, ApiError> {
    let p = require_token(state, headers).await?;
    if p.is_agent() {
        return Err(ApiError::insufficient_scope(&p));
    }
    Ok(p)
}

/// The caller of a request that needs any valid token of this server.
pub(crate) async fn require_token(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Principal, ApiError> {
    match bearer_token(headers)? {
        Some(token) => {
            let p = authenticate(state, token, state.now()).await?;
            check_binding(&p, headers)?;
            Ok(p)
        }
        None => {
            let mut e = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                "an access token is required",
            );
            e.www_authenticate = Some(r#"Bearer realm="chat""#.into());
            Err(e)
        }
    }
}

/// A DPoP-bound token (`cnf.jkt`) is only good with a proof by its key,
/// which [`crate::dpop::gate`] checked; as a plain bearer token it is
/// refused (RFC 9449 §7.2), and so is a token without a binding sent as
/// `DPoP`.
pub(crate) fn check_binding(p: &Principal, headers: &HeaderMap) -> Result<(), ApiError> {
    let proven = headers
        .get(crate::dpop::VERIFIED_JKT)
        .and_then(|v| v.to_str().ok());
    let bound = chat_auth::jose::dpop::bound_thumbprint(&p.claims.members);
    match (bound, proven) {
        (None, None) => Ok(()),
        (Some(b), Some(k)) if b == k => Ok(()),
        (Some(_), None) => Err(ApiError::invalid_token("dpop_bound")),
        (None, Some(_)) => Err(ApiError::invalid_token("dpop_unbound")),
        (Some(_), Some(_)) => Err(ApiError::invalid_token("dpop_key_mismatch")),
    }
}

pub(crate) fn customer_note(p: &Principal) -> Note {
    Note {
        bearer: "valid",
        customer: Some(p.customer_id.clone()),
        folded: 0,
    }
}

// ---- login and tokens -------------------------------------------------

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Constant-time equality of two digests.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn find_user(
    users: &'static [DemoUser],
    username: &str,
    password: &str,
) -> Option<&'static DemoUser> {
    let given = digest(password);
    // Every user's password is compared, so timing does not tell names apart.
    let mut found = None;
    for u in users {
        let matches = same_digest(&digest(u.password), &given);
        if matches && u.user_id == username {
            found = Some(u);
        }
    }
    found
}

/// The account of a login session: a representative's for the desk's
/// client, else a customer's.
pub(crate) fn account_of(family: &Family) -> Option<&'static DemoUser> {
    let users: &[DemoUser] = if family.client_id == DESK_CLIENT_ID {
        &DEMO_AGENTS
    } else {
        &DEMO_USERS
    };
    users.iter().find(|u| u.user_id == family.user_id)
}

/// Signs an access token for `family` and builds the OAuth 2.0 token
/// response (RFC 6749 §5.1) with `refresh_token`.
fn token_response(
    state: &AppState,
    family: &Family,
    refresh_token: &str,
    now: Millis,
    jkt: Option<&str>,
) -> ApiResult {
    let now_s = now.div_euclid(1000);
    let ttl = state.config.access_ttl_s;
    let claims = AccessClaims {
        iss: state.issuer.clone(),
        sub: family.customer_id.clone(),
        aud: state.config.audience.clone(),
        iat: now_s,
        exp: now_s + ttl,
        jti: random_token(""),
        sid: family.id.clone(),
        client_id: family.client_id.clone(),
        scope: scope_of(family).into(),
        cnf: jkt.map(|jkt| Confirmation {
            jkt: jkt.to_owned(),
        }),
    };
    let access = state
        .key
        .sign(&claims)
        .map_err(|e| ApiError::internal(e, state))?;
    let name = account_of(family).map_or("", |u| u.name);
    let body = json!({
        "access_token": access,
        // RFC 9449 §5: a bound token is of type DPoP.
        "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": ttl,
        "refresh_token": refresh_token,
        "scope": scope_of(family),
        // Not OAuth: what the page needs to call setCustomer (RFC 6749 §5.1
        // allows extra members).
        "customer_id": family.customer_id,
        "name": name,
    });
    let mut res = (StatusCode::OK, axum::Json(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res.extensions_mut().insert(Note {
        bearer: "none",
        customer: Some(family.customer_id.clone()),
        folded: 0,
    });
    Ok(res)
}

/// `desk` for a representative's session, `chat` for a customer's.
fn scope_of(family: &Family) -> &'static str {
    if family.client_id == DESK_CLIENT_ID {
        "desk"
    } else {
        "chat"
    }
}

pub(crate) fn json_body(body: &Bytes) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(ApiError::bad_request("the body must be a JSON object")),
    }
}

fn string_field<'a>(
    o: &'a serde_json::Map<String, Value>,
    name: &str,
    max: usize,
) -> Result<&'a str, ApiError> {
    match o.get(name) {
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= max => Ok(s),
        _ => Err(ApiError::bad_request(format!(
            "'{name}' must be a string of 1 to {max} characters"
        ))),
    }
}

/// `POST /auth/login` `{ username, password, client_id? }`: the site's own
/// login (demo users), for the web widget (`client_id` omitted or the
/// configured one) or the messenger channel (`chat-messenger`). Answers an
/// OAuth 2.0 token response plus `customer_id` and `name`. Failed attempts
/// are limited per user name (429 with `Retry-After`).
pub async fn login(State(state): Shared, headers: HeaderMap, body: Bytes) -> ApiResult {
    let o = json_body(&body)?;
    // A proof of possession binds the login session to its key (RFC 9449
    // §5): its refresh tokens and access tokens work only with that key.
    let jkt = match crate::dpop::proof_header(&headers).map_err(|e| dpop_refused(&state, &e))? {
        Some(proof) => {
            let url = crate::dpop::request_url(&state, &headers, "/auth/login");
            let what = crate::dpop::ProofFor {
                method: "POST",
                url: &url,
                access_token: None,
                bound: None,
                nonce: false,
            };
            // Checked now, recorded only after the password (in `log_in`).
            let verified = verify_proof(&state, proof, &what, state.now())?;
            Some(verified)
        }
        None => None,
    };
    let client = match o.get("client_id") {
        None | Some(Value::Null) => state.config.client_id.clone(),
        Some(Value::String(c)) if *c == state.config.client_id || c == MESSENGER_CLIENT_ID => {
            c.clone()
        }
        Some(_) => {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client_id",
            ))
        }
    };
    log_in(&state, &o, &DEMO_USERS, "", client, jkt).await
}

/// 400 for a refused proof at the login or token endpoint (RFC 9449 §5,
/// §8), with a fresh nonce when the proof needs one.
/// [`crate::dpop::DpopGuard::verify`], a refusal answered as the OAuth error.
fn verify_proof(
    state: &AppState,
    proof: &str,
    what: &crate::dpop::ProofFor<'_>,
    now: Millis,
) -> Result<crate::dpop::Verified, ApiError> {
    state
        .dpop
        .verify(proof, what, now)
        .map_err(|e| dpop_refused(state, &e))
}

/// [`crate::dpop::DpopGuard::record`]: the key's thumbprint, a replay
/// answered as the OAuth error, a store failure as an internal one.
async fn record_proof(
    state: &AppState,
    verified: crate::dpop::Verified,
    now: Millis,
) -> Result<String, ApiError> {
    state
        .dpop
        .record(&*state.store, verified, now)
        .await
        .map_err(|e| ApiError::internal(e, state))?
        .map_err(|e| dpop_refused(state, &e))
}

/// A bound session's token came without a proof: `invalid_dpop_proof`, with
/// a nonce for the retry.
fn dpop_proof_required(state: &AppState, what: &str) -> ApiError {
    let mut e = oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
        &format!("{what} is bound to a DPoP key: a proof by it is required"),
    );
    e.dpop_nonce = Some(state.dpop.nonce(state.now()));
    e
}

fn dpop_refused(state: &AppState, e: &chat_auth::Error) -> ApiError {
    let code = e.code().as_str();
    state.log.warn(
        "dpop_refused",
        json!({ "code": code, "detail": e.detail() }),
    );
    let mut err = ApiError::new(
        StatusCode::BAD_REQUEST,
        crate::dpop::oauth_error(e),
        format!("the DPoP proof was refused: {code}"),
    );
    err.dpop_nonce = Some(state.dpop.nonce(state.now()));
    err
}

/// `POST /desk/login` `{ username, password }`: a representative's login
/// (demo agents, never customers), for the desk's client `chat-desk`.
pub async fn desk_login(State(state): Shared, body: Bytes) -> ApiResult {
    let o = json_body(&body)?;
    log_in(
        &state,
        &o,
        &DEMO_AGENTS,
        "agent:",
        DESK_CLIENT_ID.to_owned(),
        None,
    )
    .await
}

/// Checks a login (limited per name) against `users` and starts a session
/// of `client`. `namespace` keeps representatives' ids apart from customers'.
async fn log_in(
    state: &Arc<AppState>,
    o: &serde_json::Map<String, Value>,
    users: &'static [DemoUser],
    namespace: &str,
    client: String,
    proof: Option<crate::dpop::Verified>,
) -> ApiResult {
    let username = string_field(o, "username", limits::MAX_USERNAME)?.trim();
    let password = string_field(o, "password", limits::MAX_PASSWORD)?;
    let now = state.now();
    let limited_name = format!("{namespace}{}", username.to_ascii_lowercase());
    // Counted before the password is checked, and in the database: parallel
    // guesses, on one instance or several, cannot pass the limit together.
    let attempt = state
        .store
        .login_attempt(&limited_name, state.login_limit, now)
        .await
        .map_err(|e| ApiError::internal(e, state))?;
    let attempt = match attempt {
        Ok(attempt) => attempt,
        Err(wait) => {
            state
                .log
                .warn("login_limited", json!({ "retry_after_s": wait }));
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("too many failed logins; try again in {wait} s"),
            );
            e.retry_after = Some(wait);
            return Err(e);
        }
    };
    let Some(user) = find_user(users, &username.to_ascii_lowercase(), password) else {
        // The attempt stays recorded: it counts as a failure for a minute.
        state.log.warn("login_failed", json!({}));
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "unknown user name or wrong password",
        ));
    };
    state
        .store
        .login_succeeded(attempt)
        .await
        .map_err(|e| ApiError::internal(e, state))?;
    // The proof's `jti` is recorded only now: a sender without the password
    // cannot fill the store (review 18 finding 1).
    let jkt = match proof {
        Some(verified) => Some(record_proof(state, verified, now).await?),
        None => None,
    };
    let customer_id = chat_auth::identifier::opaque_customer_id(
        &state.customer_secret,
        &format!("{namespace}{}", user.user_id),
    )
    .map_err(|e| ApiError::internal(e, state))?;
    let family = Family {
        id: random_token("s_"),
        customer_id,
        user_id: user.user_id.to_owned(),
        expires_at: now + state.config.refresh_ttl_s * 1000,
        revoked_at: None,
        client_id: client,
        jkt,
    };
    let refresh = random_token("rt_");
    state
        .store
        .create_family(&family, &hash_token(&refresh), now)
        .await
        .map_err(|e| ApiError::internal(e, state))?;
    state.log.info(
        "login",
        json!({ "customer": family.customer_id, "session": family.id, "client": family.client_id, "dpop": family.jkt.is_some() }),
    );
    token_response(state, &family, &refresh, now, family.jkt.as_deref())
}

/// Reads an `application/x-www-form-urlencoded` body; a repeated parameter
/// is `invalid_request` (RFC 6749 §3.1).
fn form(headers: &HeaderMap, body: &Bytes) -> Result<Vec<(String, String)>, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    {
        return Err(ApiError::bad_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(body)?;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(j, _)| j == k) {
            return Err(ApiError::bad_request(format!(
                "parameter '{k}' is repeated"
            )));
        }
    }
    Ok(pairs)
}

fn serde_urlencoded_pairs(body: &Bytes) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map_err(|_| ApiError::bad_request("the form body cannot be read"))
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> ApiError {
    ApiError::new(status, error, description)
}

/// `POST /oauth/token`: the `refresh_token` grant (RFC 6749 §6) for the
/// public client. Every refresh token works once: it is rotated; presenting
/// a rotated one again revokes its whole family (reuse detection).
pub async fn token(State(state): Shared, headers: HeaderMap, body: Bytes) -> ApiResult {
    let pairs = form(&headers, &body)?;
    match param(&pairs, "grant_type") {
        Some("refresh_token") => {}
        Some(_) => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the refresh_token grant is supported",
            ))
        }
        None => return Err(ApiError::bad_request("grant_type is required")),
    }
    let client = param(&pairs, "client_id").unwrap_or("");
    if !is_known_client(&state, client) {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client_id",
        ));
    }
    let Some(presented) = param(&pairs, "refresh_token") else {
        return Err(ApiError::bad_request("refresh_token is required"));
    };
    // A refresh token is bound to the client it was issued to (RFC 6749
    // §6): another client's presentation is refused without spending it.
    let owner = state
        .store
        .refresh_token(&hash_token(presented))
        .await
        .map_err(|e| ApiError::internal(e, &state))?;
    if owner.as_ref().is_some_and(|(f, _)| f.client_id != client) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the refresh token was issued to another client",
        ));
    }
    let now = state.now();
    // A bound family's refresh token needs a proof by its key; checked
    // before the token is spent, so a thief without the key spends nothing.
    let bound = owner.as_ref().and_then(|(f, _)| f.jkt.clone());
    let proof = crate::dpop::proof_header(&headers).map_err(|e| dpop_refused(&state, &e))?;
    let jkt = match (proof, bound.as_deref()) {
        (Some(proof), bound) => {
            let url = crate::dpop::request_url(&state, &headers, "/oauth/token");
            let what = crate::dpop::ProofFor {
                method: "POST",
                url: &url,
                access_token: None,
                bound,
                nonce: true,
            };
            let verified = verify_proof(&state, proof, &what, now)?;
            let jkt = verified.jkt.clone();
            // Recorded only for a refresh token the store knows: made-up
            // ones cannot fill the store (review 18 finding 1).
            if owner.is_some() {
                record_proof(&state, verified, now).await?;
            }
            // An unbound session stays unbound: its access token is bound.
            Some(jkt)
        }
        (None, Some(_)) => {
            state
                .log
                .warn("dpop_refused", json!({ "code": "dpop_required" }));
            return Err(dpop_proof_required(&state, "this refresh token"));
        }
        (None, None) => None,
    };
    let next = random_token("rt_");
    let rotation = state
        .store
        .rotate(&hash_token(presented), &hash_token(&next), now)
        .await
        .map_err(|e| ApiError::internal(e, &state))?;
    match rotation {
        Rotation::Rotated(family) => {
            state.log.info(
                "refresh",
                json!({ "customer": family.customer_id, "session": family.id }),
            );
            token_response(&state, &family, &next, now, jkt.as_deref())
        }
        Rotation::Reused(family) => {
            state.log.warn(
                "refresh_reuse",
                json!({ "customer": family.customer_id, "session": family.id, "action": "session revoked" }),
            );
            Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the refresh token was already used; the session is revoked",
            )
            .with_note(Note {
                bearer: "none",
                customer: Some(family.customer_id),
                folded: 0,
            }))
        }
        Rotation::Refused => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the refresh token is unknown, expired or revoked",
        )),
    }
}

fn is_known_client(state: &AppState, client: &str) -> bool {
    client == state.config.client_id || client == MESSENGER_CLIENT_ID || client == DESK_CLIENT_ID
}

/// The family a refresh token or (signature-valid) access token belongs to.
async fn family_of_token(state: &AppState, token: &str) -> Result<Option<Family>, ApiError> {
    if token.starts_with("rt_") {
        return state
            .store
            .refresh_token(&hash_token(token))
            .await
            .map(|found| found.map(|(family, _)| family))
            .map_err(|e| ApiError::internal(e, state));
    }
    Ok(authenticate(state, token, state.now())
        .await
        .ok()
        .map(|p| p.family))
}

/// `POST /oauth/revoke` (RFC 7009): revokes the login session of a refresh
/// token or access token. Answers 200 whether or not the token was known.
pub async fn revoke(State(state): Shared, headers: HeaderMap, body: Bytes) -> ApiResult {
    let pairs = form(&headers, &body)?;
    if let Some(client) = param(&pairs, "client_id") {
        if !is_known_client(&state, client) {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client_id",
            ));
        }
    }
    let Some(token) = param(&pairs, "token") else {
        return Err(ApiError::bad_request("token is required"));
    };
    if let Some(family) = family_of_token(&state, token).await? {
        // A bound session ends only with a proof by its key: a thief with
        // a stolen token cannot end it (review 18 finding 7).
        if let Some(bound) = family.jkt.as_deref() {
            let now = state.now();
            let Some(proof) =
                crate::dpop::proof_header(&headers).map_err(|e| dpop_refused(&state, &e))?
            else {
                return Err(dpop_proof_required(&state, "this token"));
            };
            let url = crate::dpop::request_url(&state, &headers, "/oauth/revoke");
            let what = crate::dpop::ProofFor {
                method: "POST",
                url: &url,
                access_token: None,
                bound: Some(bound),
                nonce: true,
            };
            let verified = verify_proof(&state, proof, &what, now)?;
            record_proof(&state, verified, now).await?;
        }
        if state
            .store
            .revoke_family(&family.id, state.now())
            .await
            .map_err(|e| ApiError::internal(e, &state))?
        {
            state.log.info(
                "revoked",
                json!({ "customer": family.customer_id, "session": family.id }),
            );
        }
    }
    ok_json(StatusCode::OK, json!({}), Note::default())
}

/// `POST /auth/logout` with the access token (a customer's or a
/// representative's): revokes its login session.
pub async fn logout(State(state): Shared, headers: HeaderMap) -> ApiResult {
    let p = require_token(&state, &headers).await?;
    state
        .store
        .revoke_family(&p.family.id, state.now())
        .await
        .map_err(|e| ApiError::internal(e, &state))?;
    state.log.info(
        "logout",
        json!({ "customer": p.customer_id, "session": p.family.id }),
    );
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.extensions_mut().insert(customer_note(&p));
    Ok(res)
}

/// `POST /oauth/introspect` (RFC 7662), for resource servers: HTTP Basic
/// `<audience>:<CHAT_INTROSPECTION_SECRET>`.
pub async fn introspect(State(state): Shared, headers: HeaderMap, body: Bytes) -> ApiResult {
    let authorized = match (&state.config.introspection_secret, basic_auth(&headers)) {
        (Some(secret), Some((id, given))) => {
            id == state.config.audience && same_digest(&digest(secret), &digest(&given))
        }
        _ => false,
    };
    if !authorized {
        let mut e = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "introspection needs the resource server's client credentials",
        );
        e.www_authenticate = Some(r#"Basic realm="introspection""#.into());
        return Err(e);
    }
    let pairs = form(&headers, &body)?;
    let Some(token) = param(&pairs, "token") else {
        return Err(ApiError::bad_request("token is required"));
    };
    let now = state.now();
    let answer = if token.starts_with("rt_") {
        let found = state
            .store
            .refresh_token(&hash_token(token))
            .await
            .map_err(|e| ApiError::internal(e, &state))?;
        // A spent refresh token is inactive even though its family lives on.
        match found {
            Some((f, false)) if f.revoked_at.is_none() && now < f.expires_at => json!({
                "active": true, "token_type": "refresh_token", "sub": f.customer_id,
                "client_id": f.client_id, "exp": f.expires_at / 1000,
                "iss": state.issuer, "scope": scope_of(&f),
            }),
            _ => json!({ "active": false }),
        }
    } else {
        match authenticate(&state, token, now).await {
            Ok(p) => {
                let mut answer = json!({
                    "active": true, "token_type": "Bearer", "sub": p.customer_id,
                    "client_id": p.family.client_id, "exp": p.expires_at / 1000,
                    "iss": state.issuer, "aud": state.config.audience, "scope": scope_of(&p.family),
                });
                // A bound token says so (RFC 9449 §6.2): a resource server
                // judging by introspection then requires the key's proof.
                if let Some(jkt) = chat_auth::jose::dpop::bound_thumbprint(&p.claims.members) {
                    answer["token_type"] = json!("DPoP");
                    answer["cnf"] = json!({ "jkt": jkt });
                }
                answer
            }
            Err(_) => json!({ "active": false }),
        }
    };
    ok_json(StatusCode::OK, answer, Note::default())
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = decode_base64(b64.trim())?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Standard base64 (with padding) → bytes.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let url: String = s
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    chat_auth::wire::base64url::decode(url.as_bytes())
}

/// `GET /.well-known/jwks.json`.
pub async fn jwks(State(state): Shared) -> ApiResult {
    ok_json(StatusCode::OK, state.key.jwks(), Note::default())
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414), plus what the
/// demo page needs to configure the SDK (`chat_audience`, `chat_client_id`).
pub async fn metadata(State(state): Shared) -> ApiResult {
    ok_json(
        StatusCode::OK,
        json!({
            "issuer": state.issuer,
            "token_endpoint": "/oauth/token",
            "jwks_uri": "/.well-known/jwks.json",
            "introspection_endpoint": "/oauth/introspect",
            "revocation_endpoint": "/oauth/revoke",
            "grant_types_supported": ["refresh_token"],
            "token_endpoint_auth_methods_supported": ["none"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "chat_audience": state.config.audience,
            "chat_client_id": state.config.client_id,
            "access_token_lifetime": state.config.access_ttl_s,
        }),
        Note::default(),
    )
}

/// `GET /api/me`: the customer's profile (for claim comparison).
pub async fn me(State(state): Shared, headers: HeaderMap) -> ApiResult {
    let p = require_customer(&state, &headers).await?;
    let user = account_of(&p.family);
    ok_json(
        StatusCode::OK,
        json!({
            "sub": p.customer_id,
            "name": user.map_or("", |u| u.name),
            "preferred_username": p.family.user_id,
        }),
        customer_note(&p),
    )
}

// ---- chat -------------------------------------------------------------

/// Whose conversation a chat request belongs to. A valid token: the
/// customer's, after folding the request's anonymous conversation into it.
/// No token: the anonymous conversation of `Chat-Anonymous-Id`. A token that
/// fails: 401, never the anonymous conversation.
async fn conversation(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Owner, Note, Option<Principal>), ApiError> {
    let mut anon = headers.get_all("chat-anonymous-id").iter();
    let anonymous_id = match (anon.next(), anon.next()) {
        (None, _) => None,
        (Some(v), None) => match v.to_str() {
            Ok(s) if limits::is_anonymous_id(s) => Some(s),
            _ => {
                return Err(ApiError::bad_request(
                    "Chat-Anonymous-Id must be a lowercase UUID v4",
                ))
            }
        },
        (Some(_), Some(_)) => return Err(ApiError::bad_request("Chat-Anonymous-Id is repeated")),
    };
    match bearer_token(headers)? {
        Some(token) => {
            let p = authenticate(state, token, state.now()).await?;
            check_binding(&p, headers)?;
            if p.is_agent() {
                return Err(ApiError::insufficient_scope(&p));
            }
            let mut note = customer_note(&p);
            if let Some(anon) = anonymous_id {
                note.folded = state
                    .store
                    .fold_anonymous(anon, &p.customer_id)
                    .await
                    .map_err(|e| ApiError::internal(e, state))?;
            }
            Ok((Owner::Customer(p.customer_id.clone()), note, Some(p)))
        }
        None => match anonymous_id {
            Some(anon) => Ok((Owner::Anonymous(anon.to_owned()), Note::default(), None)),
            None => Err(ApiError::bad_request(
                "a Chat-Anonymous-Id header or an access token is required",
            )),
        },
    }
}

pub(crate) fn message_json(m: &Message) -> Value {
    json!({
        "id": m.id,
        "author": m.author.as_str(),
        "text": m.text,
        "at": m.created_at,
        "clientId": m.client_id,
        "channel": m.channel.as_str(),
    })
}

/// `GET /api/messages`: the caller's conversation, oldest first (the last 200).
pub async fn list_messages(State(state): Shared, headers: HeaderMap) -> ApiResult {
    let (owner, note, principal) = conversation(&state, &headers).await?;
    if let Some(p) = &principal {
        crate::site::keep_profile_checked(&state, p, &headers).await?;
    }
    let messages = state
        .store
        .list(&owner, LIST_LIMIT)
        .await
        .map_err(|e| ApiError::internal(e, &state))?;
    let body = json!({
        "conversation": match &owner { Owner::Customer(_) => "customer", Owner::Anonymous(_) => "anonymous" },
        "customerId": note.customer,
        "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
    });
    ok_json(StatusCode::OK, body, note)
}

/// The canned bot's answer to the `n`th visitor message of a conversation.
fn bot_reply(owner: &Owner, visitor_messages: usize) -> &'static str {
    match (owner, visitor_messages) {
        (_, 1) => "Hi, I'm Ava from support. How can I help you today?",
        (Owner::Anonymous(_), _) => {
            "Thanks! If you log in, I can look at your account, and this conversation stays with you."
        }
        (Owner::Customer(_), n) if n % 2 == 0 => "Thanks, I'm looking into that for you now.",
        (Owner::Customer(_), _) => "Got it. Is there anything else I can help with?",
    }
}

/// `{ text, clientId? }` of a message body, checked.
pub(crate) fn message_body(
    o: &serde_json::Map<String, Value>,
) -> Result<(&str, Option<&str>), ApiError> {
    let text = match o.get("text") {
        Some(Value::String(t)) => limits::check_message(t).map_err(ApiError::bad_request)?,
        _ => return Err(ApiError::bad_request("'text' must be a string")),
    };
    let client_id = match o.get("clientId") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) if limits::is_client_id(c) => Some(c.as_str()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "'clientId' must be 1 to 64 of A-Z a-z 0-9 - _",
            ))
        }
    };
    Ok((text, client_id))
}

/// Does the canned bot answer now (`CHAT_AUTO_REPLY`)?
async fn bot_answers(state: &AppState, now: Millis) -> Result<bool, ApiError> {
    Ok(match state.config.auto_reply {
        AutoReply::Always => true,
        AutoReply::Never => false,
        AutoReply::Offline => {
            state
                .store
                .agents_seen_since(now - AGENT_ONLINE_MS)
                .await
                .map_err(|e| ApiError::internal(e, state))?
                == 0
        }
    })
}

/// `POST /api/messages` `{ text, clientId? }`: stores the message (once per
/// `clientId`) on the token's channel (anonymous: web) and, when no
/// representative is online, the canned bot's reply; answers both.
pub async fn send_message(State(state): Shared, headers: HeaderMap, body: Bytes) -> ApiResult {
    let (owner, note, principal) = conversation(&state, &headers).await?;
    let o = json_body(&body)?;
    let (text, client_id) = message_body(&o)?;
    if let Some(p) = &principal {
        crate::site::keep_profile_checked(&state, p, &headers).await?;
    }
    let channel = principal.as_ref().map_or(Channel::Web, Principal::channel);
    let now = state.now();
    let (message, stored) = state
        .store
        .append_on(&owner, Author::Visitor, text, client_id, channel, now)
        .await
        .map_err(|e| ApiError::internal(e, &state))?;
    let mut reply = Value::Null;
    if stored && bot_answers(&state, now).await? {
        let count = state
            .store
            .list(&owner, LIST_LIMIT)
            .await
            .map_err(|e| ApiError::internal(e, &state))?
            .iter()
            .filter(|m| m.author == Author::Visitor)
            .count();
        let (r, _) = state
            .store
            .append_on(
                &owner,
                Author::Bot,
                bot_reply(&owner, count),
                None,
                channel,
                now,
            )
            .await
            .map_err(|e| ApiError::internal(e, &state))?;
        reply = message_json(&r);
    }
    ok_json(
        if stored {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        json!({ "message": message_json(&message), "reply": reply }),
        note,
    )
}

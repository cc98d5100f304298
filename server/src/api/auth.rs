//! Login and sessions: the site's own login and the desk's, signing the
//! token response, the DPoP proof checks of the login and token endpoints,
//! and logout.

use super::bearer::{customer_note, require_token};
use super::error::{oauth_error, ApiError, ApiResult};
use super::Shared;
use crate::config::{DemoUser, DEMO_AGENTS, DEMO_USERS, DESK_CLIENT_ID, MESSENGER_CLIENT_ID};
use crate::limits;
use crate::store::{Family, Millis};
use crate::tokens::{hash_token, random_token, AccessClaims, Confirmation};
use crate::{AppState, Note};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub(super) fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Constant-time equality of two digests.
pub(super) fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
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
pub(super) fn token_response(
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
pub(super) fn scope_of(family: &Family) -> &'static str {
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
pub(super) fn verify_proof(
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
pub(super) async fn record_proof(
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
pub(super) fn dpop_proof_required(state: &AppState, what: &str) -> ApiError {
    let mut e = oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
        &format!("{what} is bound to a DPoP key: a proof by it is required"),
    );
    e.dpop_nonce = Some(state.dpop.nonce(state.now()));
    e
}

pub(super) fn dpop_refused(state: &AppState, e: &chat_auth::Error) -> ApiError {
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

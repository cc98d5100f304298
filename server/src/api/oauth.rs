//! The OAuth 2.0 endpoints: token (refresh grant), revocation,
//! introspection, the JWK Set and the authorization server's metadata.

use super::auth::{
    digest, dpop_proof_required, dpop_refused, record_proof, same_digest, scope_of, token_response,
    verify_proof,
};
use super::bearer::authenticate;
use super::error::{oauth_error, ok_json, ApiError, ApiResult};
use super::form::{form, param};
use super::Shared;
use crate::config::{DESK_CLIENT_ID, MESSENGER_CLIENT_ID};
use crate::store::{Family, Rotation};
use crate::tokens::{hash_token, random_token};
use crate::{AppState, Note};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::json;

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

pub(super) fn is_known_client(state: &AppState, client: &str) -> bool {
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

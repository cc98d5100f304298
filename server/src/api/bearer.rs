//! Bearer tokens: who a request's caller is. Every access token is checked
//! by [`authenticate`]: the chat-auth crate's verification rules, then the
//! server's own check that the token's login session (`sid`, a
//! refresh-token family) is alive.

use super::error::ApiError;
use crate::config::{DESK_CLIENT_ID, MESSENGER_CLIENT_ID};
use crate::store::{Channel, Family, Millis};
use crate::{AppState, Note};
use axum::http::{header, HeaderMap, StatusCode};
use chat_auth::jose::token::Claims;

/// A request's caller, after its bearer token was checked.
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

//! The site's own systems, as the demo plays them, and the chat server's
//! use of them: the UserProfile API (`GET /site/profile`, which answers for
//! the bearer of a customer's access token) and the profile check that
//! validates a customer against it.
//!
//! How the check is authorized: the chat server calls the profile API with
//! the customer's own access token, while the customer is active (a chat
//! request carrying it), and keeps only the outcome — verified or the
//! reason, the profile when verified, and when. No token is stored, and a
//! representative never holds one: the desk shows the last check with its
//! time, and a check older than `CHAT_PROFILE_MAX_AGE` shows as not
//! verified (`expired`).

use crate::api::{
    account_of, bearer_token, customer_note, ok_json, require_customer, ApiError, ApiResult,
    Principal, Shared,
};
use crate::store::{Millis, ProfileCheck};
use crate::AppState;
use async_trait::async_trait;
use axum::http::{HeaderMap, StatusCode};
use chat_auth::profile::{validate_profile, ProfileRules, TokenFacts};
use serde_json::{json, Value};

/// The header a page sends with the customer id its SDK was given.
pub const CUSTOMER_ID_HEADER: &str = "chat-customer-id";

/// A customer's profile is checked again after this long of activity.
pub const RECHECK_MS: Millis = 60_000;

/// The reason code when the profile API itself failed (not a crate code:
/// nothing was compared).
pub const PROFILE_UNAVAILABLE: &str = "profile_unavailable";

/// A site's UserProfile API, as the chat server calls it. The demo's is
/// [`DemoProfiles`] (this process plays the site); a real site implements
/// this with an HTTP call to its own API, passing `access_token` as the
/// bearer credential.
#[async_trait]
pub trait ProfileApi: Send + Sync {
    /// The profile of the bearer of `access_token`: the API's JSON object
    /// as text, or why the call failed (never shown to anyone but the log).
    async fn profile(&self, state: &AppState, access_token: &str) -> Result<String, String>;
}

/// The demo site's profile API: the same answer `GET /site/profile` gives.
pub struct DemoProfiles;

#[async_trait]
impl ProfileApi for DemoProfiles {
    async fn profile(&self, state: &AppState, access_token: &str) -> Result<String, String> {
        let p = crate::api::authenticate(state, access_token, state.now())
            .await
            .map_err(|_| "the profile API refused the token".to_owned())?;
        demo_profile(&p)
            .map(|v| v.to_string())
            .ok_or_else(|| "no profile for this customer".to_owned())
    }
}

/// The demo data of a customer: display name, tier, recent orders.
fn demo_profile(p: &Principal) -> Option<Value> {
    if p.is_agent() {
        return None;
    }
    let user = account_of(&p.family)?;
    let (tier, since, orders) = match user.user_id {
        "alice" => (
            "Gold",
            "2019-04-12",
            json!([
                { "id": "NW-1042", "placed": "2026-11-24", "total": "€86.40", "status": "In transit" },
                { "id": "NW-0998", "placed": "2026-10-02", "total": "€23.10", "status": "Delivered" },
            ]),
        ),
        "bob" => (
            "Silver",
            "2022-08-30",
            json!([
                { "id": "NW-1051", "placed": "2026-11-28", "total": "€142.00", "status": "Processing" },
            ]),
        ),
        _ => ("Standard", "2025-01-15", json!([])),
    };
    Some(json!({
        "customer_id": p.customer_id,
        "name": user.name,
        "tier": tier,
        "member_since": since,
        "orders": orders,
    }))
}

/// `GET /site/profile`: the site's UserProfile API, for the bearer of a
/// customer's access token (a representative's token is 403).
pub async fn site_profile(axum::extract::State(state): Shared, headers: HeaderMap) -> ApiResult {
    let p = require_customer(&state, &headers).await?;
    match demo_profile(&p) {
        Some(profile) => ok_json(StatusCode::OK, profile, customer_note(&p)),
        None => Err(ApiError::not_found("no profile")),
    }
}

/// Calls the profile API with the customer's token and judges the answer
/// with `chat_auth::profile`; stores and returns the outcome.
pub async fn check_profile(
    state: &AppState,
    p: &Principal,
    headers: &HeaderMap,
) -> Result<ProfileCheck, ApiError> {
    let token = bearer_token(headers)?.unwrap_or("");
    let sdk_id = sdk_customer_id(headers);
    let now = state.now();
    let answer = state.profile_api.profile(state, token).await;
    let outcome = match answer {
        Err(problem) => {
            state.log.warn(
                "profile_unavailable",
                json!({ "customer": p.customer_id, "problem": problem }),
            );
            Err(PROFILE_UNAVAILABLE)
        }
        Ok(text) => match chat_auth::wire::json::parse_object(text.as_bytes()) {
            Err(_) => Err("malformed"),
            Ok(profile) => validate_profile(
                TokenFacts::Jwt(&p.claims),
                &sdk_id,
                &profile,
                &ProfileRules::default(),
                now,
            )
            .map(|_| text)
            .map_err(|e| e.code().as_str()),
        },
    };
    let check = ProfileCheck {
        customer_id: p.customer_id.clone(),
        sdk_customer_id: sdk_id,
        verified: outcome.is_ok(),
        reason: outcome.as_ref().err().map(|r| (*r).to_owned()),
        data: outcome.ok(),
        checked_at: now,
    };
    if let Some(reason) = &check.reason {
        state.log.warn(
            "profile_not_verified",
            json!({ "customer": p.customer_id, "reason": reason }),
        );
    }
    state
        .store
        .put_profile_check(&check)
        .await
        .map_err(|e| ApiError::internal(e, state))?;
    Ok(check)
}

fn sdk_customer_id(headers: &HeaderMap) -> String {
    let mut values = headers.get_all(CUSTOMER_ID_HEADER).iter();
    match (values.next(), values.next()) {
        // Repeated or not text: nothing the SDK could have sent; "" fails
        // the check as customer_id_invalid.
        (Some(v), None) => v.to_str().unwrap_or("").to_owned(),
        _ => String::new(),
    }
}

/// Checks the profile again when the last check is missing, older than
/// [`RECHECK_MS`], or was made for another SDK customer id.
pub async fn keep_profile_checked(
    state: &AppState,
    p: &Principal,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let last = state
        .store
        .profile_check(&p.customer_id)
        .await
        .map_err(|e| ApiError::internal(e, state))?;
    let fresh = last.is_some_and(|c| {
        c.checked_at > state.now() - RECHECK_MS && c.sdk_customer_id == sdk_customer_id(headers)
    });
    if !fresh {
        check_profile(state, p, headers).await?;
    }
    Ok(())
}

/// A profile check as the desk and the widget show it: verified with the
/// profile, or not verified with the reason and no data. A check older than
/// `CHAT_PROFILE_MAX_AGE` is `expired`.
pub fn check_json(state: &AppState, check: Option<&ProfileCheck>) -> Value {
    let Some(c) = check else {
        return json!({ "verified": false, "reason": "not_checked" });
    };
    let stale = c.checked_at <= state.now() - state.config.profile_max_age_s * 1000;
    match (&c.data, stale) {
        (Some(data), false) if c.verified => json!({
            "verified": true,
            "checkedAt": c.checked_at,
            "profile": serde_json::from_str::<Value>(data).unwrap_or(Value::Null),
        }),
        (_, true) => json!({ "verified": false, "reason": "expired", "checkedAt": c.checked_at }),
        _ => json!({
            "verified": false,
            "reason": c.reason.as_deref().unwrap_or("not_checked"),
            "checkedAt": c.checked_at,
        }),
    }
}

/// `GET /api/profile`: the customer's own data, checked now ("directly to
/// the customer").
pub async fn my_profile(axum::extract::State(state): Shared, headers: HeaderMap) -> ApiResult {
    let p = require_customer(&state, &headers).await?;
    let check = check_profile(&state, &p, &headers).await?;
    ok_json(
        StatusCode::OK,
        check_json(&state, Some(&check)),
        customer_note(&p),
    )
}

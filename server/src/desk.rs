//! The representatives' desk API (`www/agent.html`): only a representative's
//! token (client `chat-desk`, from `POST /desk/login`) is accepted; none is
//! 401, a customer's is 403. Every desk request marks its representative
//! online, which turns the canned bot's auto-reply off (`CHAT_AUTO_REPLY`).

use crate::api::{
    customer_note, json_body, message_body, message_json, ok_json, require_token, ApiError,
    ApiResult, Principal, Shared,
};
use crate::limits::{self, LIST_LIMIT};
use crate::site::check_json;
use crate::store::{Author, Channel, Owner};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

/// Conversations the queue shows.
pub const QUEUE_LIMIT: usize = 100;

/// The representative of a desk request (401 without a valid token, 403
/// for a customer's), marked online.
async fn require_agent(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let p = require_token(state, headers).await?;
    if !p.is_agent() {
        return Err(ApiError::insufficient_scope(&p));
    }
    state
        .store
        .agent_seen(&p.family.user_id, state.now())
        .await
        .map_err(|e| ApiError::internal(e, state))?;
    Ok(p)
}

/// A conversation named in a desk URL: `anonymous/<uuid v4>` or
/// `customer/<customer id>`; anything else is 404.
fn owner_of(kind: &str, key: &str) -> Result<Owner, ApiError> {
    let valid = match kind {
        "anonymous" => limits::is_anonymous_id(key),
        "customer" => chat_auth::identifier::check_customer_id(key).is_ok(),
        _ => false,
    };
    match Owner::from_parts(kind, key) {
        Some(owner) if valid => Ok(owner),
        _ => Err(ApiError::not_found("no such conversation")),
    }
}

/// The profile block of a conversation (anonymous ones have none).
async fn profile_of(state: &AppState, owner: &Owner) -> Result<Value, ApiError> {
    match owner {
        Owner::Anonymous(_) => Ok(json!({ "verified": false, "reason": "anonymous" })),
        Owner::Customer(id) => {
            let check = state
                .store
                .profile_check(id)
                .await
                .map_err(|e| ApiError::internal(e, state))?;
            Ok(check_json(state, check.as_ref()))
        }
    }
}

/// `GET /desk/queue`: conversations, newest activity first, with unread
/// counts, the last message, and the customer's name when verified.
pub async fn queue(State(state): Shared, headers: HeaderMap) -> ApiResult {
    let p = require_agent(&state, &headers).await?;
    let entries = state
        .store
        .queue(QUEUE_LIMIT)
        .await
        .map_err(|e| ApiError::internal(e, &state))?;
    let mut out = Vec::with_capacity(entries.len());
    for e in &entries {
        let profile = profile_of(&state, &e.owner).await?;
        out.push(json!({
            "kind": e.owner.kind(),
            "id": e.owner.key(),
            "name": profile["profile"]["name"],
            "verified": profile["verified"],
            "unread": e.unread,
            "last": message_json(&e.last),
        }));
    }
    let me = crate::api::account_of(&p.family).map_or("", |u| u.name);
    ok_json(
        StatusCode::OK,
        json!({ "agent": me, "conversations": out }),
        customer_note(&p),
    )
}

/// `GET /desk/conversations/{kind}/{id}`: the merged history (every
/// channel, each message with its channel and time) and the customer's
/// profile check. Opening a conversation marks it read up to its newest
/// message.
pub async fn conversation(
    State(state): Shared,
    Path((kind, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let p = require_agent(&state, &headers).await?;
    let owner = owner_of(&kind, &key)?;
    let messages = state
        .store
        .list(&owner, LIST_LIMIT)
        .await
        .map_err(|e| ApiError::internal(e, &state))?;
    let Some(newest) = messages.last() else {
        return Err(ApiError::not_found("no such conversation"));
    };
    state
        .store
        .mark_read(&owner, newest.id)
        .await
        .map_err(|e| ApiError::internal(e, &state))?;
    let profile = profile_of(&state, &owner).await?;
    ok_json(
        StatusCode::OK,
        json!({
            "kind": owner.kind(),
            "id": owner.key(),
            "profile": profile,
            "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
        }),
        customer_note(&p),
    )
}

/// `POST /desk/conversations/{kind}/{id}/messages` `{ text, clientId? }`: a
/// representative's reply, on the channel the customer last wrote on. It
/// appears in the customer's widget (and every other channel) at its next
/// poll.
pub async fn reply(
    State(state): Shared,
    Path((kind, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = require_agent(&state, &headers).await?;
    let owner = owner_of(&kind, &key)?;
    let o = json_body(&body)?;
    let (text, client_id) = message_body(&o)?;
    let history = state
        .store
        .list(&owner, LIST_LIMIT)
        .await
        .map_err(|e| ApiError::internal(e, &state))?;
    if history.is_empty() {
        return Err(ApiError::not_found("no such conversation"));
    }
    let channel = history
        .iter()
        .rev()
        .find(|m| m.author == Author::Visitor)
        .map_or(Channel::Web, |m| m.channel);
    let (message, stored) = state
        .store
        .append_on(&owner, Author::Agent, text, client_id, channel, state.now())
        .await
        .map_err(|e| ApiError::internal(e, &state))?;
    ok_json(
        if stored {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        json!({ "message": message_json(&message) }),
        customer_note(&p),
    )
}

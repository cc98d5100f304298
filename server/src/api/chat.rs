//! The chat API: the customer's profile and one conversation per caller.

use super::auth::{account_of, json_body};
use super::bearer::{
    authenticate, bearer_token, check_binding, customer_note, require_customer, Principal,
};
use super::error::{ok_json, ApiError, ApiResult};
use super::Shared;
use crate::config::{AutoReply, AGENT_ONLINE_MS};
use crate::limits::{self, LIST_LIMIT};
use crate::store::{Author, Channel, Message, Millis, Owner};
use crate::{AppState, Note};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

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

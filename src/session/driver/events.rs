//! The `auth.on` events: their names ([`EVENTS`]) and detail objects.

use super::*;

/// Event names of `auth.on`.
pub const EVENTS: [&str; 6] = [
    "state",
    "authenticated",
    "refreshed",
    "refresh-failed",
    "auth-lost",
    "logged-out",
];

/// The `auth.on` name of `event`.
pub fn event_name(event: &Event) -> &'static str {
    match event {
        Event::State { .. } => EVENTS[0],
        Event::Authenticated { .. } => EVENTS[1],
        Event::Refreshed { .. } => EVENTS[2],
        Event::RefreshFailed { .. } => EVENTS[3],
        Event::AuthLost { .. } => EVENTS[4],
        Event::LoggedOut { .. } => EVENTS[5],
    }
}

/// The detail object of `event` for `auth.on` handlers, as JSON text:
/// `state` `{ state, previous }`, `authenticated` `{ customerId,
/// anonymousId, expiresAt }`, `refreshed` `{ expiresAt, source }`,
/// `refresh-failed` `{ code, attempt, retryInMs }`, `auth-lost` `{ code }`,
/// `logged-out` `{ customerId }` (absent values are `null`).
pub fn event_detail(event: &Event) -> String {
    let mut out = String::from("{");
    let mut put = |name: &str, value: Option<&str>, number: Option<i64>| {
        if out.len() > 1 {
            out.push(',');
        }
        crate::wire::json::write_string(&mut out, name);
        out.push(':');
        match (value, number) {
            (Some(v), _) => crate::wire::json::write_string(&mut out, v),
            (None, Some(n)) => crate::wire::json::write_int(&mut out, n),
            (None, None) => out.push_str("null"),
        }
    };
    match event {
        Event::State { state, previous } => {
            put("state", Some(state.as_str()), None);
            put("previous", Some(previous.as_str()), None);
        }
        Event::Authenticated {
            customer_id,
            anonymous_id,
            expires_at,
        } => {
            put("customerId", Some(customer_id), None);
            put("anonymousId", Some(anonymous_id), None);
            put("expiresAt", None, *expires_at);
        }
        Event::Refreshed { expires_at, source } => {
            put("expiresAt", None, *expires_at);
            put("source", Some(source.as_str()), None);
        }
        Event::RefreshFailed {
            code,
            attempt,
            retry_in_ms,
        } => {
            put("code", Some(code.as_str()), None);
            put("attempt", None, Some(i64::from(*attempt)));
            put("retryInMs", None, *retry_in_ms);
        }
        Event::AuthLost { code } => put("code", Some(code.as_str()), None),
        Event::LoggedOut { customer_id } => put("customerId", customer_id.as_deref(), None),
    }
    out.push('}');
    out
}

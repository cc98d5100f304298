//! The driver's values as foreign types: replies, headers, events, and
//! the storage keys' names.

use super::{HeaderPair, HostEvent, HostReply};
use chat_auth::error::Error;
use chat_auth::session::driver::{self, Driver, Reply, StorageKey};
use chat_auth::session::machine::Event;

fn reject(e: &Error) -> HostReply {
    HostReply::Reject {
        code: e.code().as_str().to_owned(),
        reason: e.message().to_owned(),
    }
}

fn headers(list: Vec<driver::Header>) -> Vec<HeaderPair> {
    list.into_iter()
        .map(|(name, value)| HeaderPair {
            name,
            value: value.secret().to_owned(),
        })
        .collect()
}

pub(super) fn reply(r: Reply) -> HostReply {
    match r {
        Reply::Done => HostReply::Done,
        Reply::Token(t) => HostReply::Token {
            token: t.map(|t| t.secret().to_owned()),
        },
        Reply::Headers(h) => HostReply::Headers {
            headers: headers(h),
        },
        Reply::Plain => HostReply::Plain,
        // The Kotlin host feeds every answer back (`FetchAnswered`), which
        // `settles_unless` always allows.
        Reply::Send {
            headers: h,
            manual_redirect,
            settles_unless: _,
        } => HostReply::Send {
            headers: headers(h),
            manual_redirect,
        },
        Reply::Replay { headers: h } => HostReply::Replay {
            headers: headers(h),
        },
        Reply::Response => HostReply::Response,
        Reply::Reject(e) => reject(&e),
        Reply::Rethrow => HostReply::Rethrow,
    }
}

pub(super) fn event(e: &Event) -> HostEvent {
    match e {
        Event::State { state, previous } => HostEvent::State {
            state: state.as_str().to_owned(),
            previous: previous.as_str().to_owned(),
        },
        Event::Authenticated {
            customer_id,
            anonymous_id,
            expires_at,
        } => HostEvent::Authenticated {
            customer_id: customer_id.clone(),
            anonymous_id: anonymous_id.clone(),
            expires_at: *expires_at,
        },
        Event::Refreshed { expires_at, source } => HostEvent::Refreshed {
            expires_at: *expires_at,
            source: source.as_str().to_owned(),
        },
        Event::RefreshFailed {
            code,
            attempt,
            retry_in_ms,
        } => HostEvent::RefreshFailed {
            code: code.as_str().to_owned(),
            attempt: *attempt,
            retry_in_ms: *retry_in_ms,
        },
        Event::AuthLost { code } => HostEvent::AuthLost {
            code: code.as_str().to_owned(),
        },
        Event::LoggedOut { customer_id } => HostEvent::LoggedOut {
            customer_id: customer_id.clone(),
        },
    }
}

pub(super) fn storage_key(driver: &Driver, name: &str) -> Option<StorageKey> {
    [StorageKey::AnonymousId, StorageKey::Token]
        .into_iter()
        .find(|&k| driver.storage_name(k) == name)
}

//! The HTTP endpoints. Every access token is checked by [`authenticate`]:
//! the chat-auth crate's verification rules, then the server's own check
//! that the token's login session (`sid`, a refresh-token family) is alive.
//!
//! One file per job: `error` (the error answer, [`ApiError`]), `bearer` (who
//! the caller is), `auth` (login, sessions, signing), `form` (the OAuth
//! endpoints' form body), `oauth` (token, revoke, introspect, JWKS,
//! metadata) and `chat` (the chat API).

mod auth;
mod bearer;
mod chat;
mod error;
mod form;
mod oauth;

pub(crate) use auth::{account_of, json_body};
pub use auth::{desk_login, login, logout};
pub use bearer::{authenticate, bearer_token, Principal};
pub(crate) use bearer::{customer_note, require_customer, require_token};
pub use chat::{list_messages, me, send_message};
pub(crate) use chat::{message_body, message_json};
pub(crate) use error::{ok_json, ApiResult};
pub use error::{ApiError, ErrorAnswer};
pub use oauth::{introspect, jwks, metadata, revoke, token};

use crate::AppState;
use axum::extract::State;
use std::sync::Arc;

/// The shared state, as the handlers extract it.
pub(crate) type Shared = State<Arc<AppState>>;

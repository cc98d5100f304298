//! The error answer of every endpoint, and the JSON success answer.

use super::bearer::{customer_note, Principal};
use crate::{AppState, Note};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

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
    pub(super) www_authenticate: Option<String>,
    pub(super) retry_after: Option<u64>,
    pub(super) dpop_nonce: Option<String>,
    pub(super) note: Note,
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
    pub(super) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> ApiError {
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

    pub(super) fn with_note(mut self, note: Note) -> ApiError {
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

/// An OAuth 2.0 error answer (RFC 6749 §5.2).
pub(super) fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> ApiError {
    ApiError::new(status, error, description)
}

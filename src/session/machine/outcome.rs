//! What the session hands back: [`Event`]s for `auth.on`, the [`Effects`]
//! of a transition, and a request's [`Access`].

use super::*;

/// Events for `auth.on`, queued in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// `state`: every state change.
    State {
        /// The new state.
        state: State,
        /// The state before.
        previous: State,
    },
    /// `authenticated`: the first token for a customer.
    Authenticated {
        /// The customer.
        customer_id: String,
        /// The anonymous id (sent as `Chat-Anonymous-Id`), for the site to
        /// fold the anonymous conversation into the customer's.
        anonymous_id: String,
        /// Expiry, page clock.
        expires_at: Option<Millis>,
    },
    /// `refreshed`: a later token.
    Refreshed {
        /// Expiry, page clock.
        expires_at: Option<Millis>,
        /// Where it came from.
        source: Source,
    },
    /// `refresh-failed`: one call failed.
    RefreshFailed {
        /// The failure's code.
        code: ErrorCode,
        /// Which call of the cycle (1-based).
        attempt: u32,
        /// When the next call comes, `None` after the last.
        retry_in_ms: Option<Millis>,
    },
    /// `auth-lost`: no token and no more retries.
    AuthLost {
        /// The last failure's code.
        code: ErrorCode,
    },
    /// `logged-out`.
    LoggedOut {
        /// The customer who logged out, if one was set.
        customer_id: Option<String>,
    },
}

/// What the shell must do after an input. Several may be set at once; do
/// them in field order.
#[derive(Debug, Default, PartialEq)]
#[must_use]
pub struct Effects {
    /// Abort this call (its `info.signal`) and ignore its answer.
    pub abort: Option<CallId>,
    /// Start this call now.
    pub call: Option<Call>,
    /// Wake every waiting request: `Ok` to ask again, `Err` to reject with it.
    pub release: Option<Result<()>>,
    /// Call `userLoginHandler` with this code.
    pub login_needed: Option<ErrorCode>,
}

/// What a request should do about its token.
#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    /// Send without a token (no customer).
    Anonymous,
    /// Send with [`Session::credential`].
    Ready,
    /// Wait for the next release, then ask again.
    Wait,
    /// Give up with this error.
    Fail(Error),
}

//! The session's vocabulary: its [`State`]s, why a cycle started
//! ([`Reason`]), where a token came from ([`Source`]), and the calls
//! ([`Call`], [`CallId`], [`Via`]).

use super::*;

/// Identifies one provider or token-endpoint call.
pub type CallId = u64;

/// The states of API.md's `auth.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No customer; requests go out anonymously.
    Anonymous,
    /// A customer is set and the first token is being fetched.
    Authenticating,
    /// A valid token is held.
    Authenticated,
    /// A token is held and a refresh is under way.
    Refreshing,
    /// Refresh failed for good (or the token expired with no way to refresh).
    Expired,
    /// The customer logged out; requests go out anonymously.
    LoggedOut,
    /// `destroy()` was called.
    Destroyed,
}

impl State {
    /// The state's contract name.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Anonymous => "anonymous",
            State::Authenticating => "authenticating",
            State::Authenticated => "authenticated",
            State::Refreshing => "refreshing",
            State::Expired => "expired",
            State::LoggedOut => "logged_out",
            State::Destroyed => "destroyed",
        }
    }
}

/// Why a provider is called (`info.reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The first token for a customer.
    Initial,
    /// The refresh timer fired.
    Scheduled,
    /// The server refused the token.
    After401,
    /// `getToken({ forceRefresh: true })`.
    Forced,
    /// A retry after a failure.
    Retry,
    /// `setCustomer` with another customer.
    CustomerChanged,
}

impl Reason {
    /// The contract name of the reason.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Initial => "initial",
            Reason::Scheduled => "scheduled",
            Reason::After401 => "after_401",
            Reason::Forced => "forced",
            Reason::Retry => "retry",
            Reason::CustomerChanged => "customer_changed",
        }
    }

    /// `needsRefresh`: false only when no token is held yet for this customer.
    pub const fn needs_refresh(self) -> bool {
        !matches!(self, Reason::Initial | Reason::CustomerChanged)
    }
}

/// Where a new token came from (`refreshed.source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The context provider.
    Provider,
    /// The OAuth token endpoint (refresh grant).
    TokenEndpoint,
    /// Another tab of the same origin.
    OtherTab,
}

impl Source {
    /// The contract name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Provider => "provider",
            Source::TokenEndpoint => "token_endpoint",
            Source::OtherTab => "other_tab",
        }
    }
}

/// Whom a call goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The site's context provider.
    Provider,
    /// The token endpoint, with the held refresh token.
    TokenEndpoint,
}

/// A call the shell must make now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    /// Matches the answer to the call.
    pub id: CallId,
    /// `info.reason`.
    pub reason: Reason,
    /// `needsRefresh`.
    pub needs_refresh: bool,
    /// When the call counts as timed out (`info.deadline`).
    pub deadline: Millis,
    /// 1 for the first call of a cycle, then 2, 3, …
    pub attempt: u32,
    /// Provider or token endpoint.
    pub via: Via,
    /// When the call went out (page clock): the time its answer then spends
    /// on the way (latency, a sleeping computer) is not issuer clock skew.
    pub started_at: Millis,
}

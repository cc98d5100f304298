//! The customer's session, on top of [`crate::jose`] and [`crate::options`]:
//!
//! - [`context`]: what a provider answer carries (token, customer, expiry);
//! - [`admit`]: accepting a provider or token-endpoint answer into the session;
//! - [`grant`], [`discovery`], [`fetch_retry`]: the refresh-token grant, the
//!   issuer's metadata and the bounded retry of their fetches;
//! - [`issuer`]: the token checks and the issuer's endpoints, for every host
//!   (keys, discovery, introspection as fetches; the signature the host's);
//! - [`schedule`]: the refresh timing, HTTP dates and the issuer clock offset,
//!   as pure functions of times;
//! - [`machine`]: the session state machine (sans I/O);
//! - [`driver`]: the session driver around it, which makes every decision of
//!   a host (commands in, effects out).

pub mod admit;
pub mod context;
pub mod discovery;
pub mod driver;
pub mod fetch_retry;
pub mod grant;
pub mod issuer;
pub mod machine;
pub mod schedule;

/// Removes and returns `list[at]` (`None` past the end): `Vec::remove`
/// without its panic path, for indices found by a search a moment before.
pub(crate) fn take_at<T>(list: &mut Vec<T>, at: usize) -> Option<T> {
    if at < list.len() {
        Some(list.remove(at))
    } else {
        None
    }
}

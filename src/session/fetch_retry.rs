//! Bounded retries of the fetches that judging an answer needs (the JWKS,
//! the introspection endpoint, the issuer's metadata).
//!
//! A failure there says nothing about the answer being judged: the token
//! endpoint already issued it (and rotated the refresh token), so the
//! fetch is retried, not the grant. A few quick tries with backoff, well
//! inside a call's deadline (`refresh.providerTimeoutSeconds`, 15 s by
//! default); after the last the call fails with `network` and the
//! session's own backoff takes over.

use crate::time::Millis;

/// Tries per fetch, the first included.
pub const FETCH_ATTEMPTS: u32 = 4;

/// How long to wait after failed try number `attempt` (1-based) before the
/// next: 250 ms, 500 ms, 1 s; `None` after the last try.
pub fn delay_after(attempt: u32) -> Option<Millis> {
    (1..FETCH_ATTEMPTS)
        .contains(&attempt)
        .then(|| 250 << (attempt - 1))
}

/// Whether an HTTP status is worth another try: timeouts, throttling and
/// server errors. A 4xx answer (404, 403 …) will not change by itself.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || (500..=599).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded() {
        let delays: Vec<_> = (1..=FETCH_ATTEMPTS + 1).map(delay_after).collect();
        assert_eq!(delays, [Some(250), Some(500), Some(1_000), None, None]);
        assert_eq!(delay_after(0), None);
        let total: Millis = (1..FETCH_ATTEMPTS).filter_map(delay_after).sum();
        assert!(total < crate::session::schedule::RefreshPolicy::default().provider_timeout_ms / 4);
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for s in [408, 425, 429, 500, 502, 503, 504] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [200, 301, 400, 401, 403, 404, 410] {
            assert!(!retryable_status(s), "{s}");
        }
    }
}

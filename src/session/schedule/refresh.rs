//! When to refresh: the margin, the jitter, the retry backoff and
//! `Retry-After`, and the longest single timer.

use crate::time::Millis;

/// The longest single timer, 2^31 − 1 ms (about 24.8 days): `setTimeout`
/// fires at once for anything longer, so longer waits are chained.
pub const MAX_TIMER_MS: Millis = 2_147_483_647;

/// The longest wait between two retries of a failed refresh: 30 s.
pub const MAX_BACKOFF_MS: Millis = 30_000;

// The policy is an option type (`refresh.*`), defined with the options;
// the schedule reads it.
pub use crate::options::RefreshPolicy;

/// When a token arrived and when it expires, both on the page clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenTimes {
    /// When the SDK received the token.
    pub received_at: Millis,
    /// When the token expires, already corrected for the issuer's clock
    /// offset ([`corrected_expiry`](super::corrected_expiry)).
    pub expires_at: Millis,
}

impl TokenTimes {
    /// `expires_at - received_at`, or 0 when the token arrived expired.
    pub fn lifetime_ms(&self) -> Millis {
        self.expires_at.saturating_sub(self.received_at).max(0)
    }
}

/// The margin actually used for a token: `min(policy.margin_ms, 25 % of its
/// lifetime)`, never negative (0 for a token that arrived expired).
///
/// ```
/// use chat_auth::session::schedule::{effective_margin, RefreshPolicy, TokenTimes};
///
/// let policy = RefreshPolicy::default(); // 60 s
/// let hour = TokenTimes { received_at: 0, expires_at: 3_600_000 };
/// assert_eq!(effective_margin(&hour, &policy), 60_000);
/// let five_s = TokenTimes { received_at: 0, expires_at: 5_000 };
/// assert_eq!(effective_margin(&five_s, &policy), 1_250);
/// ```
pub fn effective_margin(times: &TokenTimes, policy: &RefreshPolicy) -> Millis {
    policy.margin_ms.max(0).min(times.lifetime_ms() / 4)
}

/// Turns any `jitter` into `[0, 1)`: NaN and negatives become 0, values of 1
/// or more the largest `f64` below 1.
fn clamp_jitter(jitter: f64) -> f64 {
    const BELOW_ONE: f64 = 1.0 - f64::EPSILON / 2.0;
    if jitter >= 0.0 {
        jitter.min(BELOW_ONE)
    } else {
        0.0
    }
}

/// When to refresh: `expires_at - m + floor(m * jitter / 10)` with
/// `m = effective_margin`, i.e. inside the margin, moved later by at most 10 %
/// of it. `jitter` is meant to be uniform in `[0, 1)`; anything else (NaN,
/// negative, ≥ 1) is clamped into that range.
///
/// For a token with a positive lifetime the result lies in
/// `[received_at, expires_at - 1]`: the refresh always comes strictly before
/// expiry, even with a zero margin. A token that arrived expired gets
/// `expires_at` (it is already due).
///
/// ```
/// use chat_auth::session::schedule::{refresh_at, RefreshPolicy, TokenTimes};
///
/// let times = TokenTimes { received_at: 0, expires_at: 3_600_000 };
/// let policy = RefreshPolicy::default();
/// assert_eq!(refresh_at(&times, &policy, 0.0), 3_540_000);
/// assert_eq!(refresh_at(&times, &policy, 0.5), 3_543_000);
/// assert!(refresh_at(&times, &policy, 0.999_999) < 3_546_000);
/// ```
pub fn refresh_at(times: &TokenTimes, policy: &RefreshPolicy, jitter: f64) -> Millis {
    if times.lifetime_ms() == 0 {
        return times.expires_at;
    }
    let margin = effective_margin(times, policy);
    // margin <= lifetime / 4 < 2^61, so the product is far from overflow; the
    // cast saturates anyway.
    let jitter_ms = (margin as f64 * 0.1 * clamp_jitter(jitter)).floor() as Millis;
    times
        .expires_at
        .saturating_sub(margin)
        // max/min, not `clamp`: the same for 0 <= margin, without clamp's
        // assertion (a panic site that formats i64s).
        .saturating_add(jitter_ms.max(0).min(margin))
        .min(times.expires_at.saturating_sub(1))
        .max(times.received_at)
}

/// The wait before retry number `attempt` (1-based): 1 s, 2 s, 4 s, 8 s, 16 s,
/// then [`MAX_BACKOFF_MS`] (30 s) for every later attempt; 0 for attempt 0.
///
/// ```
/// use chat_auth::session::schedule::backoff_ms;
///
/// let waits: Vec<_> = (0..=7).map(backoff_ms).collect();
/// assert_eq!(waits, [0, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
/// assert_eq!(backoff_ms(u32::MAX), 30_000);
/// ```
pub fn backoff_ms(attempt: u32) -> Millis {
    match attempt {
        0 => 0,
        // 1000 << 5 = 32 000 already exceeds the cap.
        1..=5 => (1_000 << (attempt - 1)).min(MAX_BACKOFF_MS),
        _ => MAX_BACKOFF_MS,
    }
}

/// When to make retry number `attempt` of a refresh that failed at `now`.
///
/// Normally `now + backoff_ms(attempt)`. But while the current token still
/// works (`now < expires_at`) and that would reach or pass its expiry, the
/// retry moves to halfway between `now` and the expiry: it then has time to
/// finish while requests can still use the old token, successive retries
/// still spread out, and the result never exceeds `expires_at - 1` (it is
/// `now` itself when `now == expires_at - 1`). Once the token has expired (or
/// without an expiry) the plain backoff applies.
///
/// ```
/// use chat_auth::session::schedule::retry_at;
///
/// assert_eq!(retry_at(10_000, 1, None), 11_000);
/// assert_eq!(retry_at(10_000, 3, Some(60_000)), 14_000);
/// // 16 s of backoff would pass the expiry 10 s away: retry after 5 s.
/// assert_eq!(retry_at(50_000, 5, Some(60_000)), 55_000);
/// // Already expired: plain backoff.
/// assert_eq!(retry_at(70_000, 2, Some(60_000)), 72_000);
/// ```
pub fn retry_at(now: Millis, attempt: u32, expires_at: Option<Millis>) -> Millis {
    let plain = now.saturating_add(backoff_ms(attempt));
    match expires_at {
        Some(expires) if now < expires && plain >= expires => {
            // Exact midpoint in i128: now <= midpoint < expires, so it fits.
            let mid = i128::from(now) + (i128::from(expires) - i128::from(now)) / 2;
            Millis::try_from(mid).unwrap_or(now)
        }
        _ => plain,
    }
}

/// The longest `Retry-After` honoured, so that a misconfigured server cannot
/// park a session for hours: 10 minutes.
pub const MAX_RETRY_AFTER_MS: Millis = 600_000;

/// Moves a retry planned for `planned` to no earlier than the server's
/// `Retry-After` (ms from `now`, capped at [`MAX_RETRY_AFTER_MS`]). Unlike
/// the backoff this may pass the token's expiry: the server said it will
/// refuse calls until then.
///
/// ```
/// use chat_auth::session::schedule::{honour_retry_after, MAX_RETRY_AFTER_MS};
///
/// assert_eq!(honour_retry_after(11_000, 10_000, None), 11_000);
/// assert_eq!(honour_retry_after(11_000, 10_000, Some(5_000)), 15_000);
/// assert_eq!(honour_retry_after(11_000, 10_000, Some(500)), 11_000);
/// assert_eq!(honour_retry_after(11_000, 10_000, Some(i64::MAX)), 10_000 + MAX_RETRY_AFTER_MS);
/// ```
pub fn honour_retry_after(planned: Millis, now: Millis, retry_after_ms: Option<Millis>) -> Millis {
    match retry_after_ms {
        Some(ms) => planned.max(now.saturating_add(ms.clamp(0, MAX_RETRY_AFTER_MS))),
        None => planned,
    }
}

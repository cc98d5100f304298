//! The refresh schedule, as pure functions of times (API.md "Scheduling",
//! "Clock offset", `refresh.*` options).
//!
//! Keeping the arithmetic here, free of timers and I/O, lets every rule be
//! tested exhaustively; the session only asks [`next`] what to do and sets one
//! timer accordingly. The rules:
//!
//! - **Margin.** A token is refreshed [`RefreshPolicy::margin_ms`] before it
//!   expires, but never earlier than 75 % into its lifetime, so short-lived
//!   tokens are not refreshed the moment they arrive ([`effective_margin`]).
//! - **Jitter.** The refresh moves later by a random part of at most 10 % of the
//!   margin, so tabs and clients that received tokens together do not refresh
//!   together; it stays inside the margin, so the refresh always comes before
//!   expiry ([`refresh_at`]).
//! - **Retries.** Failed refreshes are retried after 1 s, 2 s, 4 s … capped at
//!   [`MAX_BACKOFF_MS`], but a retry is never scheduled past the expiry of a
//!   token that still works ([`backoff_ms`], [`retry_at`]).
//! - **Clock offset.** Expiry is moved onto the page clock using the issuer's
//!   clock offset, estimated from `iat` and the token endpoint's `Date`: a slow
//!   page clock always, a fast one only on evidence, two independent readings
//!   of the issuer's clock that agree ([`issuer_clock_offset`],
//!   [`ClockEvidence`], [`corrected_expiry`]).
//! - **Timers.** `setTimeout` cannot wait longer than [`MAX_TIMER_MS`]; longer
//!   waits are chained, and every wake-up (also a late one after sleep, or on
//!   `visibilitychange`/`focus`/`online`) simply asks [`next`] again.
//!
//! All arithmetic saturates: no input, however extreme, panics or overflows.

use crate::time::Millis;

/// The longest single timer, 2^31 − 1 ms (about 24.8 days): `setTimeout`
/// fires at once for anything longer, so longer waits are chained.
pub const MAX_TIMER_MS: Millis = 2_147_483_647;

/// The longest wait between two retries of a failed refresh: 30 s.
pub const MAX_BACKOFF_MS: Millis = 30_000;

/// The `refresh.*` options, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Refresh this long before expiry (`refresh.marginSeconds`); default
    /// 60 000 ms. Capped at 25 % of the token's lifetime; negative counts as 0.
    pub margin_ms: Millis,
    /// How many times a failed refresh is retried (`refresh.maxRetries`), so at
    /// most `1 + max_retries` calls per refresh; default 5.
    pub max_retries: u32,
    /// How long a provider may take before it counts as failed
    /// (`refresh.providerTimeoutSeconds`); default 15 000 ms.
    pub provider_timeout_ms: Millis,
}

impl Default for RefreshPolicy {
    /// 60 s margin, 5 retries, 15 s provider timeout.
    fn default() -> RefreshPolicy {
        RefreshPolicy {
            margin_ms: 60_000,
            max_retries: 5,
            provider_timeout_ms: 15_000,
        }
    }
}

/// When a token arrived and when it expires, both on the page clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenTimes {
    /// When the SDK received the token.
    pub received_at: Millis,
    /// When the token expires, already corrected for the issuer's clock
    /// offset ([`corrected_expiry`]).
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
        .saturating_add(jitter_ms.clamp(0, margin))
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

/// Reads an HTTP `Retry-After` value (RFC 9110 §10.2.3): delay-seconds, or
/// an HTTP-date ([`parse_http_date`]) compared with `now`. Returns the wait
/// in ms, `None` when the value is neither.
///
/// ```
/// use chat_auth::session::schedule::parse_retry_after;
///
/// assert_eq!(parse_retry_after("120", 0), Some(120_000));
/// assert_eq!(parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", 30_000), Some(30_000));
/// assert_eq!(parse_retry_after("Thursday, 01-Jan-70 00:01:00 GMT", 30_000), Some(30_000));
/// assert_eq!(parse_retry_after("Thu Jan  1 00:01:00 1970", 30_000), Some(30_000));
/// assert_eq!(parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", 90_000), Some(0));
/// assert_eq!(parse_retry_after("soon", 0), None);
/// ```
pub fn parse_retry_after(value: &str, now: Millis) -> Option<Millis> {
    let value = value.trim();
    if !value.is_empty() && value.len() <= 10 && value.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: Millis = value.parse().ok()?;
        return Some(seconds.saturating_mul(1000));
    }
    parse_http_date(value, now).map(|at| at.saturating_sub(now).max(0))
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Reads an HTTP-date (RFC 9110 §5.6.7) as ms since the epoch, in any of the
/// three forms recipients must accept:
///
/// - IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT` (what senders must send);
/// - RFC 850, `Sunday, 06-Nov-94 08:49:37 GMT`, whose two-digit year is the
///   one nearest `now` that is not more than 50 years after it;
/// - asctime, `Sun Nov  6 08:49:37 1994`.
///
/// Used for `Retry-After` and for the `Date` header of token-endpoint
/// answers (issuer clock offset). The day name must be letters of a day
/// name's length; it is not checked against the date.
///
/// ```
/// use chat_auth::session::schedule::parse_http_date;
///
/// let now = 1_700_000_000_000; // November 2023
/// assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(784_111_777_000));
/// assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", now), Some(784_111_777_000));
/// assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994", now), Some(784_111_777_000));
/// assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37", now), None);
/// assert_eq!(parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT", now), None);
/// ```
pub fn parse_http_date(value: &str, now: Millis) -> Option<Millis> {
    let v = value.trim();
    let b = v.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(r)?;
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let month = |r: std::ops::Range<usize>| -> Option<i64> {
        let name = b.get(r)?;
        MONTHS.iter().position(|m| name == *m).map(|i| i as i64 + 1)
    };
    let day_name = |name: &[u8]| name.iter().all(u8::is_ascii_alphabetic);
    // (day, month, year, offset of "HH:MM:SS").
    let (day, month, year, time) = if b.len() == 29 && &b[3..5] == b", " {
        // IMF-fixdate: "Www, DD Mmm YYYY HH:MM:SS GMT".
        let shape = day_name(&b[..3]) && b[7] == b' ' && b[11] == b' ' && b[16] == b' ';
        if !shape || &b[25..] != b" GMT" {
            return None;
        }
        (num(5..7)?, month(8..11)?, num(12..16)?, 17)
    } else if let Some(comma) = v.find(", ") {
        // RFC 850: "Weekday, DD-Mmm-YY HH:MM:SS GMT".
        let d = comma + 2;
        let shape = (6..=9).contains(&comma)
            && day_name(&b[..comma])
            && b.len() == d + 22
            && b[d + 2] == b'-'
            && b[d + 6] == b'-'
            && b[d + 9] == b' ';
        if !shape || &b[d + 18..] != b" GMT" {
            return None;
        }
        let yy = num(d + 7..d + 9)?;
        (
            num(d..d + 2)?,
            month(d + 3..d + 6)?,
            year_near(yy, now),
            d + 10,
        )
    } else if b.len() == 24 {
        // asctime: "Www Mmm DD HH:MM:SS YYYY", the day space-padded.
        let shape = day_name(&b[..3]) && b[3] == b' ' && b[7] == b' ' && b[10] == b' ';
        if !shape || b[19] != b' ' {
            return None;
        }
        let day = if b[8] == b' ' {
            num(9..10)?
        } else {
            num(8..10)?
        };
        (day, month(4..7)?, num(20..24)?, 11)
    } else {
        return None;
    };
    let (hour, minute, second) = (
        num(time..time + 2)?,
        num(time + 3..time + 5)?,
        num(time + 6..time + 8)?,
    );
    if b[time + 2] != b':' || b[time + 5] != b':' {
        return None;
    }
    civil_ms(year, month, day, hour, minute, second)
}

/// The full year for RFC 850's two-digit `yy`: the one with those last two
/// digits nearest before `now`'s year + 50 (RFC 9110 §5.6.7: a date more
/// than 50 years in the future means the most recent such year in the past).
/// `now`'s year is counted in average Gregorian years, which is off only in
/// the day around New Year, and only matters for a year exactly 50 ahead.
fn year_near(yy: i64, now: Millis) -> i64 {
    let latest = 1970 + now.div_euclid(86_400_000) * 400 / 146_097 + 50;
    latest - (latest - yy).rem_euclid(100)
}

/// Ms since the epoch of a valid UTC date and time, `None` otherwise (a
/// leap second, `:60`, is accepted as the next second).
fn civil_ms(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
) -> Option<Millis> {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day < 1
        || day > month_days[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days from civil (H. Hinnant), proleptic Gregorian.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000)
}

/// Estimates the issuer's clock minus the page's clock from an HTTP `Date`
/// header (whole seconds, truncated) read at `received_at`. Like
/// [`estimate_clock_offset`] only a positive estimate counts; since `Date`
/// is truncated, the estimate errs low, which schedules refreshes no later.
///
/// ```
/// use chat_auth::session::schedule::{clock_offset_from_date, parse_http_date};
///
/// let date = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", 0).unwrap();
/// assert_eq!(clock_offset_from_date(Some(date), date - 120_000), 120_000);
/// assert_eq!(clock_offset_from_date(Some(date), date + 5_000), 0);
/// assert_eq!(clock_offset_from_date(None, 0), 0);
/// ```
pub fn clock_offset_from_date(date: Option<Millis>, received_at: Millis) -> Millis {
    date.map_or(0, |d| d.saturating_sub(received_at).max(0))
}

/// The largest page-clock lead over the issuer that [`issuer_clock_offset`]
/// corrects for: 15 minutes.
pub const MAX_PAGE_CLOCK_LEAD_MS: Millis = 900_000;

/// The longest an answer may take (from the call going out to its receipt)
/// and still count as a reading of the issuer's clock: 10 s. A slower answer
/// (a slow provider, a computer that slept) pins the lead down too loosely
/// to agree with another reading by more than chance.
pub const MAX_READING_SPREAD_MS: Millis = 10_000;

/// One reading of how far the page clock runs ahead of the issuer's, from a
/// stamp the issuer wrote while answering (`iat`, or a `Date` header): whole
/// seconds, rounded down, written between the moment the call went out
/// (`asked_at`) and the receipt, so the lead lies in
/// `[asked_at - stamp - 1 s, received_at - stamp]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeadReading {
    /// The stamp, ms on the issuer's clock: a later stamp is a newer token.
    pub stamp_ms: Millis,
    /// The smallest lead consistent with the reading.
    pub low: Millis,
    /// The largest lead consistent with the reading.
    pub high: Millis,
}

impl LeadReading {
    /// The reading of a stamp (seconds) in an answer to a call that went out
    /// at `asked_at` and came back at `received_at`; `None` for a non-finite
    /// stamp or an answer slower than [`MAX_READING_SPREAD_MS`].
    ///
    /// ```
    /// use chat_auth::session::schedule::LeadReading;
    ///
    /// // Stamped 1 000 s, asked at 1 600 s, received 200 ms later: 10 min ahead.
    /// let r = LeadReading::new(1_000.0, 1_600_000, 1_600_200).unwrap();
    /// assert_eq!((r.low, r.high), (599_000, 600_200));
    /// assert_eq!(LeadReading::new(1_000.0, 1_600_000, 1_630_000), None);
    /// ```
    pub fn new(stamp_seconds: f64, asked_at: Millis, received_at: Millis) -> Option<LeadReading> {
        let asked_at = asked_at.min(received_at);
        if !stamp_seconds.is_finite()
            || received_at.saturating_sub(asked_at) > MAX_READING_SPREAD_MS
        {
            return None;
        }
        // `as` saturates; a stamp out of the i64 range gives a reading that
        // agrees with nothing real.
        let stamp_ms = (stamp_seconds * 1000.0).floor() as Millis;
        Some(LeadReading {
            stamp_ms,
            low: asked_at.saturating_sub(stamp_ms).saturating_sub(1_000),
            high: received_at.saturating_sub(stamp_ms),
        })
    }

    /// The leads consistent with both readings, if any.
    fn agree(&self, other: &LeadReading) -> Option<LeadReading> {
        let (low, high) = (self.low.max(other.low), self.high.min(other.high));
        (low <= high).then_some(LeadReading {
            stamp_ms: self.stamp_ms.max(other.stamp_ms),
            low,
            high,
        })
    }
}

/// What a session has seen of the issuer's clock: the evidence a fast page
/// clock must show before [`issuer_clock_offset`] corrects for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockEvidence {
    /// The reading of the last token judged, for the next one to agree with.
    pub last: Option<LeadReading>,
    /// The lead two independent readings agreed on; kept until the server
    /// refuses a token judged with it ([`ClockEvidence::refuted`]).
    pub agreed: Option<LeadReading>,
}

impl ClockEvidence {
    /// Evidence after the server refused a token judged with a fast-clock
    /// correction: none, so the next token is judged on the page clock again.
    pub fn refuted(self) -> ClockEvidence {
        ClockEvidence::default()
    }
}

/// How [`issuer_clock_offset`] judged one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockJudgement {
    /// Issuer clock minus page clock, ms, to apply to this token.
    pub offset: Millis,
    /// The session's evidence with this answer's reading added.
    pub evidence: ClockEvidence,
}

/// The issuer's clock minus the page's clock for a JWT asked for at
/// `asked_at` and received at `received_at`, from its `iat` (seconds), the
/// `Date` of the HTTP response that carried it (token endpoint), and what
/// the session saw before (`evidence`).
///
/// - A positive estimate (the page clock is slow: a stamp later than the
///   receipt) from `iat` or `Date` is always trusted: it only makes refreshes
///   earlier. It is the largest offset the stamps allow, so the corrected
///   expiry is never later than the real one.
/// - A negative one (the page clock is fast) needs evidence, because a
///   token the site cached looks exactly like a fresh token on a fast clock.
///   The reading of this answer ([`LeadReading`]) must agree with a second,
///   independent one: the response's `Date` (the issuer's clock itself), the
///   reading of an earlier token with an older `iat` (a cached token's
///   apparent lead grows with every look; a fresh token's stays put), or a
///   lead agreed on before. The lead used is the smallest one both allow,
///   at most [`MAX_PAGE_CLOCK_LEAD_MS`], so the corrected expiry is never
///   later than the real one.
/// - Without that evidence the token is judged on the page clock (offset 0):
///   one still unexpired there is taken, with an expiry that comes early; one
///   already past `exp` is refused (`expired`). Either way its reading is
///   kept, and the next answer (asked with `needsRefresh`) can agree with it.
///
/// ```
/// use chat_auth::session::schedule::{issuer_clock_offset, ClockEvidence};
///
/// let none = ClockEvidence::default();
/// // Page 10 s slow: iat after receipt. Asked at 989.9 s, so the issuer's
/// // clock is at most 11.1 s ahead (iat is whole seconds): expiry no later.
/// assert_eq!(issuer_clock_offset(Some(1_000.0), None, 989_900, 990_000, &none).offset, 11_100);
/// // Page 10 min fast (or a token cached for 10 min): one reading is no evidence.
/// let first = issuer_clock_offset(Some(1_000.0), None, 1_600_000, 1_600_100, &none);
/// assert_eq!(first.offset, 0);
/// // A newer token showing the same lead is: the page clock is fast.
/// let second = issuer_clock_offset(Some(1_002.0), None, 1_602_000, 1_602_100, &first.evidence);
/// assert_eq!(second.offset, -599_000);
/// // The same token again (a cache) shows a lead grown by the time between: no evidence.
/// let again = issuer_clock_offset(Some(1_000.0), None, 1_602_000, 1_602_100, &first.evidence);
/// assert_eq!(again.offset, 0);
/// // The token endpoint's Date agreeing with iat is evidence at once.
/// let date = Some(1_000_000);
/// assert_eq!(issuer_clock_offset(Some(1_000.0), date, 1_600_000, 1_600_100, &none).offset, -599_000);
/// ```
pub fn issuer_clock_offset(
    iat: Option<f64>,
    server_date: Option<Millis>,
    asked_at: Millis,
    received_at: Millis,
    evidence: &ClockEvidence,
) -> ClockJudgement {
    let reading = iat.and_then(|iat| LeadReading::new(iat, asked_at, received_at));
    let judged = |offset| ClockJudgement {
        offset,
        evidence: ClockEvidence {
            last: reading.or(evidence.last),
            agreed: evidence.agreed,
        },
    };
    let date = server_date.and_then(|d| LeadReading::new(d as f64 / 1000.0, asked_at, received_at));
    let ahead = estimate_clock_offset(iat, received_at)
        .max(clock_offset_from_date(server_date, received_at));
    if ahead > 0 {
        // A stamp after the receipt proves the issuer's clock ahead; the
        // largest offset its reading allows keeps the expiry no later than
        // the real one (a stamp is whole seconds, written before the receipt).
        let largest = [reading, date]
            .iter()
            .flatten()
            .map(|r| r.low.saturating_neg())
            .max();
        return judged(ahead.max(largest.unwrap_or(0)));
    }
    let Some(reading) = reading else {
        return judged(0);
    };
    let earlier = evidence
        .last
        .filter(|last| last.stamp_ms < reading.stamp_ms);
    let agreed = [date, evidence.agreed, earlier]
        .iter()
        .flatten()
        .filter_map(|other| reading.agree(other))
        .find(|both| both.low > 0 && both.low <= MAX_PAGE_CLOCK_LEAD_MS);
    match agreed {
        Some(both) => ClockJudgement {
            offset: -both.low,
            evidence: ClockEvidence {
                last: Some(reading),
                agreed: Some(both),
            },
        },
        None => judged(0),
    }
}

/// Estimates the issuer's clock minus the page's clock from a token's `iat`
/// (seconds) and the page time it was received, in ms (rounded up).
///
/// Only a positive estimate is trusted: an `iat` later than the receipt proves
/// the issuer's clock is ahead (the page clock is slow), and correcting for it
/// makes refreshes earlier. An `iat` in the past proves nothing, since the
/// site may have cached the token; trusting it would move expiry later and
/// risk sending expired tokens. So the result is 0 without `iat`, for a
/// non-finite `iat`, or when `iat` is not after the receipt.
///
/// ```
/// use chat_auth::session::schedule::estimate_clock_offset;
///
/// // Issued "at 1 000 s" but received at 990 s on the page clock: page is 10 s slow.
/// assert_eq!(estimate_clock_offset(Some(1_000.0), 990_000), 10_000);
/// // Issued 5 minutes before receipt: maybe cached, not trusted.
/// assert_eq!(estimate_clock_offset(Some(1_000.0), 1_300_000), 0);
/// assert_eq!(estimate_clock_offset(None, 1_300_000), 0);
/// ```
pub fn estimate_clock_offset(iat_seconds: Option<f64>, received_at: Millis) -> Millis {
    match iat_seconds {
        Some(iat) if iat.is_finite() => {
            let offset = (iat * 1000.0 - received_at as f64).ceil();
            if offset > 0.0 {
                // `as` saturates for values beyond i64.
                offset as Millis
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// A token's `exp` (seconds, issuer clock) on the page clock, in ms:
/// `floor(exp * 1000) - clock_offset`, saturating at the `i64` range. A NaN
/// `exp` gives `Millis::MIN` (long expired), never a far-future expiry.
///
/// ```
/// use chat_auth::session::schedule::corrected_expiry;
///
/// assert_eq!(corrected_expiry(2_000.0, 10_000), 1_990_000);
/// assert_eq!(corrected_expiry(f64::NAN, 0), i64::MIN);
/// assert_eq!(corrected_expiry(1e300, -5), i64::MAX);
/// ```
pub fn corrected_expiry(exp_seconds: f64, clock_offset: Millis) -> Millis {
    if exp_seconds.is_nan() {
        return Millis::MIN;
    }
    // `as` saturates at the i64 range (and maps ±inf to MIN/MAX).
    let exp_ms = (exp_seconds * 1000.0).floor() as Millis;
    exp_ms.saturating_sub(clock_offset)
}

/// What the refresh timer should do now (see [`next`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Nothing to wait for (no token expiry and no retry pending): set no timer.
    Idle,
    /// Set a timer for this many ms, in `1..=MAX_TIMER_MS`, then ask again.
    Wait(Millis),
    /// A refresh (or retry) is due: start it now.
    RefreshNow,
    /// The token has expired and no retry is pending.
    Expired,
}

/// Decides what the timer should do at `now`.
///
/// - `times`: the current token's times, `None` for an opaque token without
///   expiry or when anonymous.
/// - `refresh_at`: the planned refresh ([`refresh_at`]); capped at the expiry
///   when later, and when `None` (but `times` is known) the timer simply waits
///   for the expiry.
/// - `retry_at`: a pending retry ([`retry_at`]); it takes precedence over
///   `refresh_at` and over expiry.
///
/// Without a retry, `now >= expires_at` gives [`Next::Expired`]. Otherwise
/// `now >=` the due time gives [`Next::RefreshNow`], else
/// `Wait(min(due - now, MAX_TIMER_MS))`, which is at least 1 and never passes
/// the due time. A timer that fires late (after sleep) thus gets `RefreshNow`
/// or `Expired` at once, and one longer than [`MAX_TIMER_MS`] is chained.
/// Nothing to wait for gives [`Next::Idle`].
///
/// ```
/// use chat_auth::session::schedule::{next, Next, TokenTimes, MAX_TIMER_MS};
///
/// let times = TokenTimes { received_at: 0, expires_at: 3_600_000 };
/// assert_eq!(next(0, Some(&times), Some(3_540_000), None), Next::Wait(3_540_000));
/// assert_eq!(next(3_540_000, Some(&times), Some(3_540_000), None), Next::RefreshNow);
/// assert_eq!(next(3_600_000, Some(&times), Some(3_540_000), None), Next::Expired);
/// assert_eq!(next(3_600_000, Some(&times), Some(3_540_000), Some(3_601_000)), Next::Wait(1_000));
/// assert_eq!(next(0, None, None, None), Next::Idle);
///
/// let forty_days = TokenTimes { received_at: 0, expires_at: 40 * 86_400_000 };
/// assert_eq!(next(0, Some(&forty_days), Some(40 * 86_400_000 - 60_000), None), Next::Wait(MAX_TIMER_MS));
/// ```
pub fn next(
    now: Millis,
    times: Option<&TokenTimes>,
    refresh_at: Option<Millis>,
    retry_at: Option<Millis>,
) -> Next {
    let due = match (retry_at, times) {
        (Some(retry), _) => retry,
        (None, Some(t)) => {
            if now >= t.expires_at {
                return Next::Expired;
            }
            refresh_at.map_or(t.expires_at, |r| r.min(t.expires_at))
        }
        (None, None) => match refresh_at {
            Some(r) => r,
            None => return Next::Idle,
        },
    };
    if now >= due {
        Next::RefreshNow
    } else {
        // due > now, so the difference is >= 1 (saturating only upwards).
        Next::Wait(due.saturating_sub(now).clamp(1, MAX_TIMER_MS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(not(target_arch = "wasm32"))]
    use proptest::prelude::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const DAY: Millis = 86_400_000;

    fn times(received_at: Millis, expires_at: Millis) -> TokenTimes {
        TokenTimes {
            received_at,
            expires_at,
        }
    }

    #[test]
    fn defaults() {
        let p = RefreshPolicy::default();
        assert_eq!(p.margin_ms, 60_000);
        assert_eq!(p.max_retries, 5);
        assert_eq!(p.provider_timeout_ms, 15_000);
    }

    #[test]
    fn margin_is_capped_at_a_quarter_of_the_lifetime() {
        let p = RefreshPolicy::default();
        assert_eq!(effective_margin(&times(1_000, 6_000), &p), 1_250);
        assert_eq!(effective_margin(&times(0, 240_000), &p), 60_000);
        assert_eq!(effective_margin(&times(0, 200_000), &p), 50_000);
        assert_eq!(effective_margin(&times(0, 3), &p), 0);
        assert_eq!(effective_margin(&times(10, 5), &p), 0);
        let negative = RefreshPolicy { margin_ms: -5, ..p };
        assert_eq!(effective_margin(&times(0, 100_000), &negative), 0);
    }

    #[test]
    fn refresh_at_stays_inside_the_margin() {
        let p = RefreshPolicy::default();
        let t = times(0, 5_000);
        assert_eq!(refresh_at(&t, &p, 0.0), 3_750);
        assert_eq!(refresh_at(&t, &p, 0.5), 3_812);
        assert_eq!(refresh_at(&t, &p, 1.0), 3_874);
        assert_eq!(refresh_at(&t, &p, 7.0), 3_874);
        assert_eq!(refresh_at(&t, &p, f64::NAN), 3_750);
        assert_eq!(refresh_at(&t, &p, -1.0), 3_750);
        assert_eq!(refresh_at(&t, &p, f64::INFINITY), 3_874);
        assert_eq!(refresh_at(&t, &p, f64::NEG_INFINITY), 3_750);
    }

    #[test]
    fn refresh_at_is_strictly_before_expiry() {
        let zero = RefreshPolicy {
            margin_ms: 0,
            ..RefreshPolicy::default()
        };
        assert_eq!(refresh_at(&times(0, 100), &zero, 0.9), 99);
        let p = RefreshPolicy::default();
        assert_eq!(refresh_at(&times(0, 1), &p, 0.9), 0);
        assert_eq!(refresh_at(&times(0, 2), &p, 0.9), 1);
        // Arrived expired: already due.
        assert_eq!(refresh_at(&times(10, 5), &p, 0.5), 5);
    }

    #[test]
    fn backoff_sequence() {
        let secs: Vec<_> = (1..=7).map(|a| backoff_ms(a) / 1_000).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff_ms(0), 0);
        assert_eq!(backoff_ms(64), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(u32::MAX), MAX_BACKOFF_MS);
    }

    #[test]
    fn retry_never_passes_a_live_expiry() {
        assert_eq!(retry_at(0, 1, Some(100_000)), 1_000);
        assert_eq!(retry_at(0, 6, Some(100_000)), 30_000);
        assert_eq!(retry_at(90_000, 6, Some(100_000)), 95_000);
        // Plain backoff landing exactly on expiry also moves earlier.
        assert_eq!(retry_at(96_000, 3, Some(100_000)), 98_000);
        assert_eq!(retry_at(99_998, 1, Some(100_000)), 99_999);
        assert_eq!(retry_at(99_999, 1, Some(100_000)), 99_999);
        // Expired or no expiry: plain backoff.
        assert_eq!(retry_at(100_000, 1, Some(100_000)), 101_000);
        assert_eq!(retry_at(5, 2, None), 2_005);
        // Extremes.
        assert_eq!(retry_at(Millis::MAX, 6, None), Millis::MAX);
        assert_eq!(
            retry_at(Millis::MIN, 6, Some(Millis::MAX)),
            Millis::MIN + 30_000
        );
        assert_eq!(
            retry_at(Millis::MAX - 10, 6, Some(Millis::MAX)),
            Millis::MAX - 5
        );
    }

    #[test]
    fn clock_offset_is_positive_only() {
        assert_eq!(estimate_clock_offset(Some(1_000.0), 990_000), 10_000);
        assert_eq!(estimate_clock_offset(Some(1_000.0), 1_000_000), 0);
        assert_eq!(estimate_clock_offset(Some(1_000.0), 1_010_000), 0);
        assert_eq!(estimate_clock_offset(Some(1_000.000_4), 1_000_000), 1);
        assert_eq!(estimate_clock_offset(None, 0), 0);
        assert_eq!(estimate_clock_offset(Some(f64::NAN), 0), 0);
        assert_eq!(estimate_clock_offset(Some(f64::INFINITY), 0), 0);
        assert_eq!(estimate_clock_offset(Some(f64::NEG_INFINITY), 0), 0);
        assert_eq!(estimate_clock_offset(Some(1e300), Millis::MIN), Millis::MAX);
    }

    #[test]
    fn corrected_expiry_saturates() {
        assert_eq!(corrected_expiry(2_000.0, 0), 2_000_000);
        assert_eq!(corrected_expiry(2_000.5, 500), 2_000_000);
        assert_eq!(corrected_expiry(2_000.0, 10_000), 1_990_000);
        assert_eq!(corrected_expiry(f64::NAN, 0), Millis::MIN);
        assert_eq!(corrected_expiry(f64::INFINITY, 0), Millis::MAX);
        assert_eq!(corrected_expiry(f64::NEG_INFINITY, 0), Millis::MIN);
        assert_eq!(corrected_expiry(1e300, Millis::MIN), Millis::MAX);
        assert_eq!(corrected_expiry(-1e300, Millis::MAX), Millis::MIN);
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        // RFC 9110 §5.6.7's example instant in each form.
        let now = 1_795_000_000_000; // 2026
        let at = Some(784_111_777_000);
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "  Sun Nov  6 08:49:37 1994 ",
        ] {
            assert_eq!(parse_http_date(form, now), at, "{form}");
        }
        assert_eq!(
            parse_http_date("Thu Dec 31 23:59:60 2026", now),
            Some(1_798_761_600_000),
            "asctime, two-digit day, leap second"
        );
        // RFC 850's two-digit year: never more than 50 years ahead of now.
        assert_eq!(
            parse_http_date("Monday, 01-Jan-74 00:00:00 GMT", now),
            parse_http_date("Mon, 01 Jan 2074 00:00:00 GMT", now)
        );
        assert_eq!(
            parse_http_date("Friday, 01-Jan-77 00:00:00 GMT", now),
            parse_http_date("Fri, 01 Jan 1977 00:00:00 GMT", now)
        );
        for bad in [
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06-Nov-94 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun day, 06-Nov-94 08:49:37 GMT",
            "Sun, 06-Nov-94 08:49:37 GMT GMT",
            "Sunday, 31-Feb-94 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994",
            "Sun Nov  6 08:49:37 94",
            "Sun Nov  6 08-49-37 1994",
            "S1n Nov  6 08:49:37 1994",
            "Sun Nov 32 08:49:37 1994",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "",
            "Sunday, ",
        ] {
            assert_eq!(parse_http_date(bad, now), None, "{bad}");
        }
        // Retry-After takes every form.
        let in_a_minute = |now: Millis| {
            [
                "Sun, 06 Nov 1994 08:50:37 GMT",
                "Sunday, 06-Nov-94 08:50:37 GMT",
                "Sun Nov  6 08:50:37 1994",
            ]
            .map(|v| parse_retry_after(v, now))
        };
        assert_eq!(in_a_minute(784_111_777_000), [Some(60_000); 3]);
    }

    #[test]
    fn next_basics() {
        let t = times(0, 100_000);
        assert_eq!(next(0, None, None, None), Next::Idle);
        assert_eq!(next(0, Some(&t), Some(80_000), None), Next::Wait(80_000));
        assert_eq!(next(79_999, Some(&t), Some(80_000), None), Next::Wait(1));
        assert_eq!(next(80_000, Some(&t), Some(80_000), None), Next::RefreshNow);
        // A late timer (sleep) gets RefreshNow at once, or Expired.
        assert_eq!(next(99_000, Some(&t), Some(80_000), None), Next::RefreshNow);
        assert_eq!(next(100_000, Some(&t), Some(80_000), None), Next::Expired);
        assert_eq!(next(5 * DAY, Some(&t), Some(80_000), None), Next::Expired);
        // Without refresh_at: wait for expiry.
        assert_eq!(next(0, Some(&t), None, None), Next::Wait(100_000));
        // A refresh_at past expiry never makes the wait pass expiry.
        assert_eq!(next(0, Some(&t), Some(500_000), None), Next::Wait(100_000));
        // Only a retry: wait for it.
        assert_eq!(next(0, None, None, Some(2_000)), Next::Wait(2_000));
        assert_eq!(next(2_000, None, None, Some(2_000)), Next::RefreshNow);
        // Refresh time without token times (caller's choice) is honoured.
        assert_eq!(next(0, None, Some(10), None), Next::Wait(10));
    }

    #[test]
    fn retry_takes_precedence() {
        let t = times(0, 100_000);
        assert_eq!(
            next(80_000, Some(&t), Some(80_000), Some(81_000)),
            Next::Wait(1_000)
        );
        assert_eq!(
            next(81_000, Some(&t), Some(80_000), Some(81_000)),
            Next::RefreshNow
        );
        // After expiry a pending retry still runs rather than reporting Expired.
        assert_eq!(
            next(100_000, Some(&t), Some(80_000), Some(104_000)),
            Next::Wait(4_000)
        );
        assert_eq!(
            next(104_000, Some(&t), Some(80_000), Some(104_000)),
            Next::RefreshNow
        );
        // A retry earlier than the planned refresh wins too.
        assert_eq!(
            next(0, Some(&t), Some(80_000), Some(1_000)),
            Next::Wait(1_000)
        );
    }

    #[test]
    fn forty_day_token_chains_timers() {
        let p = RefreshPolicy::default();
        let t = times(0, 40 * DAY);
        let r = refresh_at(&t, &p, 0.3);
        assert_eq!(next(0, Some(&t), Some(r), None), Next::Wait(MAX_TIMER_MS));
        assert_eq!(
            next(MAX_TIMER_MS, Some(&t), Some(r), None),
            Next::Wait(r - MAX_TIMER_MS)
        );
        assert_eq!(next(r, Some(&t), Some(r), None), Next::RefreshNow);
    }

    #[test]
    fn extremes_do_not_panic() {
        let p = RefreshPolicy {
            margin_ms: Millis::MAX,
            max_retries: u32::MAX,
            provider_timeout_ms: Millis::MAX,
        };
        for &(a, b) in &[
            (Millis::MIN, Millis::MAX),
            (Millis::MAX, Millis::MIN),
            (Millis::MIN, Millis::MIN),
            (Millis::MAX, Millis::MAX),
            (0, Millis::MAX),
            (Millis::MIN, 0),
        ] {
            let t = times(a, b);
            for j in [f64::NAN, f64::INFINITY, -0.0, 0.999_999_999] {
                let r = refresh_at(&t, &p, j);
                if t.lifetime_ms() > 0 {
                    assert!(r >= a && r < b);
                }
                for now in [Millis::MIN, -1, 0, Millis::MAX] {
                    for retry in [None, Some(Millis::MIN), Some(Millis::MAX)] {
                        match next(now, Some(&t), Some(r), retry) {
                            Next::Wait(w) => assert!((1..=MAX_TIMER_MS).contains(&w)),
                            Next::Idle => panic!("token times given"),
                            _ => {}
                        }
                    }
                    let _ = retry_at(now, u32::MAX, Some(b));
                }
            }
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn policy_strategy() -> impl Strategy<Value = RefreshPolicy> {
        (0..=DAY, 0u32..10, 0..=60_000i64).prop_map(
            |(margin_ms, max_retries, provider_timeout_ms)| RefreshPolicy {
                margin_ms,
                max_retries,
                provider_timeout_ms,
            },
        )
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest! {
        #[test]
        fn refresh_at_lies_within_the_lifetime(
            received_at in -1_000_000_000_000i64..4_000_000_000_000,
            lifetime in 1..=400 * DAY,
            policy in policy_strategy(),
            jitter in 0.0f64..1.0,
        ) {
            let t = times(received_at, received_at + lifetime);
            let r = refresh_at(&t, &policy, jitter);
            prop_assert!(r >= t.received_at);
            prop_assert!(r < t.expires_at);
            // Inside the effective margin, at most 10 % later than its start.
            let m = effective_margin(&t, &policy);
            prop_assert!(m <= lifetime / 4);
            if m > 0 {
                prop_assert!(r >= t.expires_at - m);
                prop_assert!(r <= t.expires_at - m + m / 10);
            }
        }

        #[test]
        fn next_waits_are_in_range(
            received_at in -1_000_000_000_000i64..4_000_000_000_000,
            lifetime in 1..=400 * DAY,
            policy in policy_strategy(),
            jitter in 0.0f64..1.0,
            now in any::<i64>(),
            retry in proptest::option::of(any::<i64>()),
        ) {
            let t = times(received_at, received_at + lifetime);
            let r = refresh_at(&t, &policy, jitter);
            for n in [now, received_at, r, t.expires_at, now / 2] {
                if let Next::Wait(w) = next(n, Some(&t), Some(r), retry) {
                    prop_assert!((1..=MAX_TIMER_MS).contains(&w));
                    // Never past the due time.
                    let due = retry.unwrap_or(r);
                    prop_assert!(n.saturating_add(w) <= due);
                }
            }
        }

        #[test]
        fn chained_waits_reach_the_refresh_exactly_once(
            received_at in -1_000_000_000_000i64..4_000_000_000_000,
            lifetime in 1..=400 * DAY,
            policy in policy_strategy(),
            jitter in 0.0f64..1.0,
        ) {
            let t = times(received_at, received_at + lifetime);
            let r = refresh_at(&t, &policy, jitter);
            let mut now = received_at;
            let mut refreshed = false;
            for _ in 0..1_000 {
                match next(now, Some(&t), Some(r), None) {
                    Next::Wait(w) => {
                        prop_assert!((1..=MAX_TIMER_MS).contains(&w));
                        now += w;
                        prop_assert!(now <= r);
                    }
                    Next::RefreshNow => {
                        refreshed = true;
                        break;
                    }
                    other => prop_assert!(false, "unexpected {:?} at {}", other, now),
                }
            }
            prop_assert!(refreshed);
            prop_assert_eq!(now, r);
            prop_assert!(now < t.expires_at);
        }

        #[test]
        fn retry_stays_before_a_live_expiry(
            now in any::<i64>(),
            attempt in any::<u32>(),
            expires in any::<i64>(),
        ) {
            let at = retry_at(now, attempt, Some(expires));
            prop_assert!(at >= now);
            if now < expires.saturating_sub(1) {
                prop_assert!(at < expires);
            }
            if now >= expires {
                prop_assert_eq!(at, now.saturating_add(backoff_ms(attempt)));
            }
            prop_assert!(at <= now.saturating_add(MAX_BACKOFF_MS));
        }

        #[test]
        fn backoff_is_monotone_and_capped(a in any::<u32>()) {
            let b = backoff_ms(a);
            prop_assert!((0..=MAX_BACKOFF_MS).contains(&b));
            prop_assert!(backoff_ms(a.saturating_add(1)) >= b);
        }

        #[test]
        fn no_panics_on_any_input(
            a in any::<i64>(),
            b in any::<i64>(),
            margin in any::<i64>(),
            jitter in any::<f64>(),
            secs in any::<f64>(),
            now in any::<i64>(),
        ) {
            let p = RefreshPolicy { margin_ms: margin, ..RefreshPolicy::default() };
            let t = times(a, b);
            let m = effective_margin(&t, &p);
            prop_assert!(m >= 0);
            let r = refresh_at(&t, &p, jitter);
            if t.lifetime_ms() > 0 {
                prop_assert!(r >= a && r < b);
            }
            prop_assert!(estimate_clock_offset(Some(secs), now) >= 0);
            let _ = corrected_expiry(secs, now);
            if let Next::Wait(w) = next(now, Some(&t), Some(r), None) {
                prop_assert!((1..=MAX_TIMER_MS).contains(&w));
            }
            if let Next::Wait(w) = next(now, None, Some(r), Some(a)) {
                prop_assert!((1..=MAX_TIMER_MS).contains(&w));
            }
        }
    }
}

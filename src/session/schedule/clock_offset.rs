//! The issuer's clock against the page's: readings from `iat` and `Date`,
//! the evidence a fast page clock needs, and expiry on the page clock.

use crate::time::Millis;

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

/// What [`issuer_clock_offset`] found for one answer: the offset to apply
/// and the evidence to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IssuerOffset {
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
) -> IssuerOffset {
    let reading = iat.and_then(|iat| LeadReading::new(iat, asked_at, received_at));
    let with_offset = |offset| IssuerOffset {
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
        return with_offset(ahead.max(largest.unwrap_or(0)));
    }
    let Some(reading) = reading else {
        return with_offset(0);
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
        Some(both) => IssuerOffset {
            offset: -both.low,
            evidence: ClockEvidence {
                last: Some(reading),
                agreed: Some(both),
            },
        },
        None => with_offset(0),
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

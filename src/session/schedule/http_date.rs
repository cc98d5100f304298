//! HTTP dates (RFC 9110 §5.6.7, all three forms) and `Retry-After`
//! (RFC 9110 §10.2.3).

use crate::time::Millis;

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
    if !value.is_empty()
        && value.len() <= 10
        && crate::wire::all_bytes(value, |b| b.is_ascii_digit())
    {
        // At most ten digits: no overflow, and no `str::parse` machinery.
        let seconds = value
            .bytes()
            .fold(0, |n: Millis, d| n * 10 + Millis::from(d - b'0'));
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
    // Bytes by checked reads (0 past the end, never a panic site): each
    // shape below checks the length first, so the reads are in range anyway.
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let is = |r: std::ops::Range<usize>, want: &[u8]| b.get(r) == Some(want);
    let day_name = |r: std::ops::Range<usize>| {
        b.get(r)
            .is_some_and(|n| n.iter().all(u8::is_ascii_alphabetic))
    };
    // (day, month, year, offset of "HH:MM:SS").
    let (day, month, year, time) = if b.len() == 29 && is(3..5, b", ") {
        // IMF-fixdate: "Www, DD Mmm YYYY HH:MM:SS GMT".
        let shape = day_name(0..3) && at(7) == b' ' && at(11) == b' ' && at(16) == b' ';
        if !shape || !is(25..29, b" GMT") {
            return None;
        }
        (num(5..7)?, month(8..11)?, num(12..16)?, 17)
    } else if let Some(comma) = crate::wire::find(b, b", ") {
        // RFC 850: "Weekday, DD-Mmm-YY HH:MM:SS GMT".
        let d = comma + 2;
        let shape = (6..=9).contains(&comma)
            && day_name(0..comma)
            && b.len() == d + 22
            && at(d + 2) == b'-'
            && at(d + 6) == b'-'
            && at(d + 9) == b' ';
        if !shape || !is(d + 18..d + 22, b" GMT") {
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
        let shape = day_name(0..3) && at(3) == b' ' && at(7) == b' ' && at(10) == b' ';
        if !shape || at(19) != b' ' {
            return None;
        }
        let day = if at(8) == b' ' {
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
    if at(time + 2) != b':' || at(time + 5) != b':' {
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
        || month_days
            .get((month - 1) as usize)
            .is_none_or(|&days| day > days)
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

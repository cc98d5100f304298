//! The refresh schedule, as pure functions of times (the public contract's
//! "Scheduling" and "Clock offset" sections, `refresh.*` options), in three
//! files: `refresh` (margin, jitter, backoff, retries, `Retry-After`),
//! `http_date` (HTTP dates and `Retry-After` values) and `clock_offset` (the
//! issuer's clock against the page's). Their items are re-exported here.
//!
//! Keeping the arithmetic here, free of timers and I/O, lets every rule be
//! tested exhaustively; the session state machine keeps the times these
//! functions give and the driver sets one timer for the earliest. The rules:
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
//!   `visibilitychange`/`focus`/`online`) looks at the session's next wake
//!   again ([`crate::session::machine::Session::next_wake`]).
//!
//! All arithmetic saturates: no input, however extreme, panics or overflows.

mod clock_offset;
mod http_date;
mod refresh;

pub use clock_offset::{
    clock_offset_from_date, corrected_expiry, estimate_clock_offset, issuer_clock_offset,
    ClockEvidence, IssuerOffset, LeadReading, MAX_PAGE_CLOCK_LEAD_MS, MAX_READING_SPREAD_MS,
};
pub use http_date::{parse_http_date, parse_retry_after};
pub use refresh::{
    backoff_ms, effective_margin, honour_retry_after, refresh_at, retry_at, RefreshPolicy,
    TokenTimes, MAX_BACKOFF_MS, MAX_RETRY_AFTER_MS, MAX_TIMER_MS,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Millis;
    #[cfg(not(target_arch = "wasm32"))]
    use proptest::prelude::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[cfg(not(target_arch = "wasm32"))]
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
    fn retry_after_delay_seconds_are_plain_ascii_digits() {
        // What `str::parse::<u64>` took before the digits were folded by
        // hand (issue-13-drivesize): at most ten ASCII digits, leading
        // zeros fine, no sign, no fraction, no inner space.
        for (value, wait) in [
            ("0", Some(0)),
            ("007", Some(7_000)),
            (" 120\t", Some(120_000)),
            ("0000000000", Some(0)),
            ("9999999999", Some(9_999_999_999_000)),
            ("10000000000", None),
            ("+5", None),
            ("-5", None),
            ("1.5", None),
            ("1e3", None),
            ("1 2", None),
            ("\u{661}\u{662}", None),
            ("", None),
            ("   ", None),
        ] {
            assert_eq!(parse_retry_after(value, 0), wait, "{value:?}");
        }
    }

    #[test]
    fn http_dates_check_leap_years_and_their_separators_by_bytes() {
        let now = 1_795_000_000_000; // 2026
        for (date, valid) in [
            ("Tue, 29 Feb 2000 00:00:00 GMT", true),
            ("Thu, 29 Feb 1900 00:00:00 GMT", false),
            ("Thu, 29 Feb 2024 00:00:00 GMT", true),
            ("Wed, 29 Feb 2023 00:00:00 GMT", false),
            ("Tuesday, 29-Feb-00 00:00:00 GMT", true),
            ("Thursday, 29-Feb-24 00:00:00 GMT", true),
            ("Tuesday, 29-Feb-23 00:00:00 GMT", false),
            ("Tue Feb 29 00:00:00 2000", true),
            ("Thu Feb 29 00:00:00 1900", false),
            // A day name of letters only, found by its bytes.
            ("S\u{fc}nday, 06-Nov-94 08:49:37 GMT", false),
            ("Sunday,, 06-Nov-94 08:49:37 GMT", false),
            ("Sunday , 06-Nov-94 08:49:37 GMT", false),
            ("Sun,  06 Nov 1994 08:49:37 GMT", false),
            ("Sun, 06 Nov 1994 08:49:37 GMT\u{e9}", false),
        ] {
            assert_eq!(parse_http_date(date, now).is_some(), valid, "{date}");
        }
        assert_eq!(
            parse_http_date("Tuesday, 29-Feb-00 00:00:00 GMT", now),
            parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT", now)
        );
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
        }
    }
}

//! Input limits: id formats, message size, and the failed-login limit.

use crate::store::Millis;

/// Longest chat message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// Longest client message id.
pub const MAX_CLIENT_ID: usize = 64;
/// Longest user name accepted at login.
pub const MAX_USERNAME: usize = 64;
/// Longest password accepted at login.
pub const MAX_PASSWORD: usize = 256;
/// Messages returned by one list call.
pub const LIST_LIMIT: usize = 200;

/// An anonymous id as the SDK makes it: a lowercase UUID v4.
pub fn is_anonymous_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            14 => *c == b'4',
            19 => matches!(c, b'8' | b'9' | b'a' | b'b'),
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

/// A client message id: 1–64 of `A–Z a–z 0–9 - _`.
pub fn is_client_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_CLIENT_ID
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// Checks a message: not blank, at most [`MAX_MESSAGE_CHARS`], no control
/// characters but newline and tab. Returns the text trimmed.
pub fn check_message(text: &str) -> Result<&str, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the message is empty");
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err("the message is longer than 2000 characters");
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err("the message contains control characters");
    }
    Ok(text)
}

/// How far back the failed-login limit looks.
pub const LOGIN_WINDOW_MS: Millis = 60_000;

/// The failed-login limit: `per_name` attempts per user name in a sliding
/// minute, and ten names' worth in total (against password spraying across
/// names). Plain policy: the store counts the attempts in its database, in
/// the same transaction that records a new one, and asks [`LoginLimit::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimit {
    /// Attempts per user name per minute (`CHAT_LOGIN_LIMIT`, default 5).
    pub per_name: u32,
}

/// The attempts of the last [`LOGIN_WINDOW_MS`], as a store counted them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttemptCounts {
    /// Attempts for this user name.
    pub own: u64,
    /// The oldest of them.
    pub own_oldest: Option<Millis>,
    /// Attempts for every name.
    pub total: u64,
    /// The oldest of those.
    pub oldest: Option<Millis>,
}

impl LoginLimit {
    /// Attempts at or before this time are forgotten.
    pub fn forgotten_before(now: Millis) -> Millis {
        now - LOGIN_WINDOW_MS
    }

    /// `Err(retry_after_seconds)` while the name (or everybody) is at the limit.
    pub fn check(&self, counts: &AttemptCounts, now: Millis) -> Result<(), u64> {
        let per_name = u64::from(self.per_name);
        let over_own = counts.own >= per_name;
        let over_all = counts.total >= per_name * 10;
        if !over_own && !over_all {
            return Ok(());
        }
        let oldest = if over_own {
            counts.own_oldest
        } else {
            counts.oldest
        }
        .unwrap_or(now);
        let wait = (oldest + LOGIN_WINDOW_MS - now).max(1000);
        Err(((wait + 999) / 1000) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_ids() {
        assert!(is_anonymous_id("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!is_anonymous_id("0F8FAD5B-D9CB-469F-A165-70867728950E"));
        assert!(!is_anonymous_id("0f8fad5b-d9cb-169f-a165-70867728950e"));
        assert!(!is_anonymous_id("0f8fad5b-d9cb-469f-c165-70867728950e"));
        assert!(!is_anonymous_id("0f8fad5b"));
    }

    #[test]
    fn messages() {
        assert_eq!(check_message("  hi \n"), Ok("hi"));
        assert!(check_message(" ").is_err());
        assert!(check_message("a\u{0}b").is_err());
        assert!(check_message(&"x".repeat(2001)).is_err());
        assert!(check_message(&"é".repeat(2000)).is_ok());
        assert!(is_client_id("m_1-a") && !is_client_id("a b") && !is_client_id(""));
    }

    #[test]
    fn the_limit_counts_attempts_per_name_and_in_total() {
        let l = LoginLimit { per_name: 2 };
        let counts = |own, total| AttemptCounts {
            own,
            own_oldest: Some(0),
            total,
            oldest: Some(0),
        };
        assert!(l.check(&counts(1, 1), 1).is_ok());
        assert_eq!(l.check(&counts(2, 2), 2), Err(60));
        assert_eq!(l.check(&counts(2, 2), 59_500), Err(1));
        assert_eq!(l.check(&counts(0, 20), 30_000), Err(30));
        assert!(l.check(&counts(0, 19), 30_000).is_ok());
        assert_eq!(LoginLimit::forgotten_before(60_001), 1);
    }
}

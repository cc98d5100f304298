//! Input limits: id formats, message size, and the failed-login limiter.

use crate::store::Millis;
use std::collections::HashMap;
use std::sync::Mutex;

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

const WINDOW_MS: Millis = 60_000;

/// Failed logins per user name in a sliding minute, and in total (a cap of
/// ten users' worth, against password spraying across names).
pub struct LoginLimiter {
    per_name: u32,
    failures: Mutex<HashMap<String, Vec<Millis>>>,
}

impl LoginLimiter {
    /// `per_name` failures per name per minute.
    pub fn new(per_name: u32) -> LoginLimiter {
        LoginLimiter {
            per_name,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after_seconds)` while `name` (or everybody) is over the limit.
    pub fn check(&self, name: &str, now: Millis) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, v| {
            v.retain(|t| now - t < WINDOW_MS);
            !v.is_empty()
        });
        let total: usize = map.values().map(Vec::len).sum();
        let own = map.get(&name.to_ascii_lowercase());
        let over_own = own.is_some_and(|v| v.len() >= self.per_name as usize);
        let over_all = total >= self.per_name as usize * 10;
        if over_own || over_all {
            let oldest = if over_own {
                own.and_then(|v| v.first().copied())
            } else {
                map.values().filter_map(|v| v.first().copied()).min()
            }
            .unwrap_or(now);
            let wait = (oldest + WINDOW_MS - now).max(1000);
            return Err(((wait + 999) / 1000) as u64);
        }
        Ok(())
    }

    /// Records a failed login for `name`.
    pub fn failed(&self, name: &str, now: Millis) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_ascii_lowercase()).or_default().push(now);
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
    fn limiter_counts_failures_per_name_and_forgets_after_a_minute() {
        let l = LoginLimiter::new(2);
        l.failed("Alice", 0);
        assert!(l.check("alice", 1).is_ok());
        l.failed("alice", 1);
        assert_eq!(l.check("ALICE", 2), Err(60));
        assert!(l.check("bob", 2).is_ok());
        assert!(l.check("alice", 60_001).is_ok());
    }
}

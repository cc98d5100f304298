//! Randomness: version 4 UUIDs (anonymous ids, the tab id) and the refresh
//! jitter, from the injected [`Entropy`].

use super::{Driver, Effect, StorageKey};
use crate::secret::SecretString;

/// A version 4 UUID from 16 random bytes.
pub fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[(byte >> 4) as usize] as char);
        s.push(HEX[(byte & 15) as usize] as char);
    }
    s
}

/// Whether `s` has the shape of a version 4 UUID (lower-case hex).
pub fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            14 => *c == b'4',
            _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
        })
}

impl Driver {
    pub(super) fn random_bytes(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        self.entropy.fill(&mut b);
        b
    }

    /// A fresh anonymous id, written to `sessionStorage`.
    pub(super) fn new_anonymous_id(&mut self) -> String {
        let id = uuid_v4(self.random_bytes());
        if self.storage_ok {
            self.push(Effect::Store {
                key: StorageKey::AnonymousId,
                value: Some(SecretString::new(id.clone())),
            });
        }
        id
    }

    /// A jitter ∈ [0, 1).
    pub(super) fn jitter(&mut self) -> f64 {
        let mut b = [0u8; 8];
        self.entropy.fill(&mut b);
        (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
    }
}

//! Replay protection for servers: the [`ReplayCache`] trait, and natively
//! an in-memory, bounded [`MemoryReplayCache`].

use super::*;

/// Remembers proof ids for as long as their proofs could be accepted, so a
/// captured proof cannot be sent again (RFC 9449 §11.1). A server shares
/// one across its instances (a database table, a cache with expiry).
pub trait ReplayCache {
    /// Records `jti` of the key `jkt` until `until_ms`; `false` if it was
    /// already recorded and not yet past (a replay). Implementations may
    /// forget entries past `until_ms`.
    fn first_use(&self, jkt: &str, jti: &str, until_ms: Millis, now_ms: Millis) -> bool;
}

/// An in-memory [`ReplayCache`] for one process, bounded in memory: each
/// key (`jkt`) may hold at most `per_key` live proof ids, all keys together
/// `capacity`. A key over its quota has its proofs refused (fail closed:
/// nothing that could still be replayed is forgotten), other keys go on, so
/// one flooding key cannot lock everyone out; expired entries are swept at
/// most once a second of `now`, and a full key's own on the way. Record
/// only proofs of otherwise authenticated requests, so filling `capacity`
/// takes many accounts.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug)]
pub struct MemoryReplayCache {
    seen: std::sync::Mutex<Seen>,
    capacity: usize,
    per_key: usize,
}

#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Default)]
struct Seen {
    keys: std::collections::HashMap<String, std::collections::HashMap<String, Millis>>,
    total: usize,
    next_sweep: Millis,
}

#[cfg(not(target_arch = "wasm32"))]
impl Seen {
    fn sweep(&mut self, now_ms: Millis) {
        let mut total = 0;
        self.keys.retain(|_, ids| {
            ids.retain(|_, until| *until > now_ms);
            total += ids.len();
            !ids.is_empty()
        });
        self.total = total;
        self.next_sweep = now_ms.saturating_add(1000);
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl MemoryReplayCache {
    /// A cache holding at most `capacity` live proof ids, a sixteenth of
    /// them (at least one) per key.
    pub fn new(capacity: usize) -> MemoryReplayCache {
        MemoryReplayCache::with_quota(capacity, (capacity / 16).max(1))
    }

    /// A cache holding at most `capacity` live proof ids, `per_key` per key.
    pub fn with_quota(capacity: usize, per_key: usize) -> MemoryReplayCache {
        MemoryReplayCache {
            seen: std::sync::Mutex::new(Seen::default()),
            capacity,
            per_key,
        }
    }

    /// How many proof ids are held (live or not yet swept).
    pub fn len(&self) -> usize {
        self.seen.lock().map_or(0, |s| s.total)
    }

    /// Whether no proof id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl ReplayCache for MemoryReplayCache {
    fn first_use(&self, jkt: &str, jti: &str, until_ms: Millis, now_ms: Millis) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        if now_ms >= seen.next_sweep {
            seen.sweep(now_ms);
        }
        let Seen { keys, total, .. } = &mut *seen;
        let ids = keys.entry(jkt.to_owned()).or_default();
        match ids.get(jti) {
            Some(until) if *until > now_ms => return false,
            Some(_) => {
                ids.insert(jti.to_owned(), until_ms);
                return true;
            }
            None => {}
        }
        if ids.len() >= self.per_key {
            let before = ids.len();
            ids.retain(|_, until| *until > now_ms);
            *total -= before - ids.len();
            if ids.len() >= self.per_key {
                return false;
            }
        }
        if *total >= self.capacity {
            return false;
        }
        ids.insert(jti.to_owned(), until_ms);
        *total += 1;
        true
    }
}

//! Injected time. The core never reads the system clock itself, so every
//! schedule and expiry rule runs under a manual clock in tests.

use std::cell::Cell;
use std::rc::Rc;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// A source of the current time.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> Millis;
}

/// The operating system's clock (native builds).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        use std::time::{SystemTime, UNIX_EPOCH};
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis() as Millis,
            Err(e) => -(e.duration().as_millis() as Millis),
        }
    }
}

/// A clock that moves only when told to; clones share one time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Rc<Cell<Millis>>);

impl ManualClock {
    /// A clock standing at `now_ms`.
    pub fn new(now_ms: Millis) -> ManualClock {
        ManualClock(Rc::new(Cell::new(now_ms)))
    }

    /// Moves the clock forward (or back, for a negative `ms`).
    pub fn advance(&self, ms: Millis) {
        self.0.set(self.0.get() + ms);
    }

    /// Sets the clock.
    pub fn set(&self, now_ms: Millis) {
        self.0.set(now_ms);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.get()
    }
}

impl<F: Fn() -> Millis> Clock for F {
    fn now_ms(&self) -> Millis {
        self()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn manual_clock_clones_share_time() {
        let a = ManualClock::new(1_000);
        let b = a.clone();
        a.advance(500);
        assert_eq!(b.now_ms(), 1_500);
        b.set(42);
        assert_eq!(a.now_ms(), 42);
    }

    #[test]
    fn closures_are_clocks() {
        let c = || 7;
        assert_eq!(c.now_ms(), 7);
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }
}

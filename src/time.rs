//! Injected time. The core never reads the system clock itself: every
//! function takes the current time as an argument, so every schedule and
//! expiry rule is tested at chosen times.

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

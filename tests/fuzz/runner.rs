//! The loop and its report: the budget (cases, seconds, seed from the
//! environment), one stream of cases per target, each case measured and
//! caught, and a failure printed with its target, seed, case and input.

use crate::checks::{Finding, INPUT};
use crate::heap::{measured, MAX_CASE_HEAP};
use crate::inputs::Rng;
use crate::seeds::{seeds, Seeds};
use proptest::prelude::Rng as _;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

pub(crate) struct Budget {
    cases: u64,
    limit: Option<Duration>,
    seed: u64,
}

pub(crate) fn budget() -> Budget {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let cases = var("CHAT_AUTH_FUZZ_CASES")
        .map(|v| v.parse().expect("CHAT_AUTH_FUZZ_CASES must be a number"))
        .unwrap_or(8_000);
    let limit = var("CHAT_AUTH_FUZZ_SECONDS").map(|v| {
        Duration::from_secs_f64(v.parse().expect("CHAT_AUTH_FUZZ_SECONDS must be a number"))
    });
    let seed = var("CHAT_AUTH_FUZZ_SEED")
        .map(|v| v.parse().expect("CHAT_AUTH_FUZZ_SEED must be a number"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    Budget { cases, limit, seed }
}

thread_local! {
    static IN_FUZZ_LOOP: Cell<bool> = const { Cell::new(false) };
}

/// A panic inside a fuzz loop is caught and reported with its input; the
/// default hook's output would only bury that. Other panics print as usual.
pub(crate) fn quiet_panics_in_fuzz_loops() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_FUZZ_LOOP.with(Cell::get) {
                default(info);
            }
        }));
    });
}

pub(crate) type Target = fn(&mut Rng, &Seeds) -> Result<(), Finding>;

pub(crate) fn run(name: &str, target: Target) {
    let budget = budget();
    let seeds = seeds();
    // Each target gets its own stream, so one target's failure repeats alone.
    let seed = budget.seed
        ^ name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31) ^ b as u64);
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let mut done = 0u64;
    let mut peak_max = 0usize;
    quiet_panics_in_fuzz_loops();
    IN_FUZZ_LOOP.with(|f| f.set(true));
    let mut failure = None;
    while done < budget.cases && budget.limit.is_none_or(|l| started.elapsed() < l) {
        let case_rng_seed = rng.0.next_u64();
        let mut case_rng = Rng::new(case_rng_seed);
        let (outcome, peak) =
            measured(|| panic::catch_unwind(AssertUnwindSafe(|| target(&mut case_rng, &seeds))));
        peak_max = peak_max.max(peak);
        let problem = match outcome {
            Err(p) => Some(format!(
                "panicked: {}",
                p.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default()
            )),
            Ok(Err(Finding(why))) => Some(why),
            Ok(Ok(_)) if peak > MAX_CASE_HEAP => Some(format!("held {peak} bytes of heap")),
            Ok(Ok(_)) => None,
        };
        if let Some(why) = problem {
            let input = INPUT.with(|i| i.borrow().clone());
            failure = Some(format!(
                "fuzz {name}: {why}\n  case {done}, CHAT_AUTH_FUZZ_SEED={} (case seed {case_rng_seed})\n  input ({} bytes): {:?}",
                budget.seed,
                input.len(),
                input.chars().take(2000).collect::<String>()
            ));
            break;
        }
        done += 1;
    }
    IN_FUZZ_LOOP.with(|f| f.set(false));
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz {name}: {done} cases in {secs:.2} s ({:.0} cases/s), peak heap per case {} KiB, seed {}",
        done as f64 / secs.max(1e-9),
        peak_max / 1024,
        budget.seed
    );
    if let Some(f) = failure {
        panic!("{f}");
    }
}

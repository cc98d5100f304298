//! Deterministic simulation of the SDK under simulated time (issue 5,
//! point 4; issue 13).
//!
//! Every page runs the very session driver the browser host runs
//! ([`chat_auth::session::driver::Driver`]: commands in, effects out). The simulation
//! plays only the outside world ([`world`]): the clock and event queue, a
//! machine that sleeps (timers frozen or not, wake events or none), the
//! network, the app's requests, the site's context provider, the token
//! endpoint and the chat server, and Web Locks ([`locks`]), BroadcastChannel
//! and sessionStorage as Chromium behaves, sandboxed frames included. It
//! checks invariants after every step. No decision of the SDK's is copied
//! here: where the world needs one of its constants it takes the crate's. Each session is drawn from one seed ([`scenario`]), so
//! any failure is reproduced by its seed alone; a failing seed is shrunk
//! ([`shrink`]) and printed with its event trace ([`report`]).
//!
//! ```text
//! cargo test --test simulation                           # default size
//! cargo test --test simulation -- --sessions 200000 --seed 1
//! cargo test --test simulation -- --seed 42 --sessions 1 --trace
//! CHAT_AUTH_SIM_SESSIONS=50000 CHAT_AUTH_SIM_SEED=7 cargo test --test simulation
//! ```

// The crate root of a test target resolves modules beside it: point them
// into tests/simulation/.
#[path = "simulation/locks.rs"]
mod locks;
#[path = "simulation/report.rs"]
mod report;
#[path = "simulation/scenario.rs"]
mod scenario;
#[path = "simulation/shrink.rs"]
mod shrink;
#[path = "simulation/world.rs"]
mod world;

use chat_auth::session::driver::WAKE_CHECK_MS;
use report::{print_table, report_failure, FamilyTotals};
use scenario::{Family, Scenario, FAMILIES};
use shrink::{run_scenario, trace_scenario};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Mutex;
use std::time::Instant;
use world::Violation;

const DEFAULT_SESSIONS: usize = 10_000;
const DEFAULT_SEED: u64 = 1;

struct Options {
    sessions: usize,
    seed: u64,
    family: Option<Family>,
    trace: bool,
    threads: usize,
}

fn options() -> Option<Options> {
    let mut o = Options {
        sessions: std::env::var("CHAT_AUTH_SIM_SESSIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_SESSIONS),
        seed: std::env::var("CHAT_AUTH_SIM_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_SEED),
        family: None,
        trace: false,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next().unwrap_or_else(|| {
                eprintln!("simulation: {name} needs a value");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--sessions" => o.sessions = value("--sessions").parse().unwrap_or(o.sessions),
            "--seed" => o.seed = value("--seed").parse().unwrap_or(o.seed),
            "--threads" => o.threads = value("--threads").parse().unwrap_or(o.threads).max(1),
            "--family" => {
                let name = value("--family");
                o.family = Some(Family::parse(&name).unwrap_or_else(|| {
                    let names: Vec<_> = FAMILIES.iter().map(|f| f.name()).collect();
                    eprintln!(
                        "simulation: unknown family {name}; families: {}",
                        names.join(", ")
                    );
                    std::process::exit(2)
                }));
            }
            "--trace" => o.trace = true,
            "--list" => {
                println!("simulation: test");
                return None;
            }
            // libtest flags cargo may pass along: nothing to do.
            a if a.starts_with('-') => {}
            // A name filter (`cargo test some_test`) that is not ours: skip.
            filter => {
                if !"simulation".contains(filter) {
                    println!("simulation: filtered out");
                    return None;
                }
            }
        }
    }
    Some(o)
}

fn main() {
    let Some(opts) = options() else {
        return;
    };
    let started = Instant::now();
    let scenario = |i: usize| {
        let seed = opts.seed.wrapping_add(i as u64);
        Scenario::draw(seed, opts.family.unwrap_or_else(|| Family::of_seed(seed)))
    };
    if opts.trace {
        for i in 0..opts.sessions {
            let scn = scenario(i);
            println!(
                "seed {} ({}): {}",
                scn.seed,
                scn.family.name(),
                scn.describe()
            );
            let (result, trace) = trace_scenario(&scn);
            for line in trace {
                println!("  {line}");
            }
            match result {
                Err(v) => {
                    println!("{}", report_failure(&scn, &v));
                    std::process::exit(1);
                }
                Ok(_) => println!("  ok"),
            }
        }
        return;
    }
    let next = AtomicUsize::new(0);
    let totals: Mutex<BTreeMap<Family, FamilyTotals>> = Mutex::new(BTreeMap::new());
    let first_failure: Mutex<Option<(usize, Scenario, Violation)>> = Mutex::new(None);
    // (family, violation) → (failing sessions, lowest seed).
    type Kinds = BTreeMap<(Family, &'static str), (u64, u64)>;
    let kinds: Mutex<Kinds> = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..opts.threads {
            s.spawn(|| {
                let mut local: BTreeMap<Family, FamilyTotals> = BTreeMap::new();
                loop {
                    let i = next.fetch_add(1, AtomicOrdering::Relaxed);
                    if i >= opts.sessions {
                        break;
                    }
                    let scn = scenario(i);
                    match run_scenario(&scn) {
                        Ok(stats) => local.entry(scn.family).or_default().add(&scn, &stats),
                        Err(v) => {
                            let mut k = kinds.lock().unwrap_or_else(|e| e.into_inner());
                            let entry = k.entry((scn.family, v.kind)).or_insert((0, scn.seed));
                            entry.0 += 1;
                            entry.1 = entry.1.min(scn.seed);
                            drop(k);
                            let mut f = first_failure.lock().unwrap_or_else(|e| e.into_inner());
                            // Keep the lowest failing index: the same report on every run.
                            if f.as_ref().is_none_or(|(j, _, _)| i < *j) {
                                *f = Some((i, scn, v));
                            }
                        }
                    }
                }
                let mut t = totals.lock().unwrap_or_else(|e| e.into_inner());
                for (f, lt) in local {
                    t.entry(f).or_default().merge(&lt);
                }
            });
        }
    });
    let totals = totals.into_inner().unwrap_or_else(|e| e.into_inner());
    println!(
        "chat-auth simulation: {} sessions, seeds {}..{}, {} threads, {:.1} s",
        opts.sessions,
        opts.seed,
        opts.seed.wrapping_add(opts.sessions as u64),
        opts.threads,
        started.elapsed().as_secs_f64()
    );
    print_table(&totals);
    let kinds = kinds.into_inner().unwrap_or_else(|e| e.into_inner());
    if !kinds.is_empty() {
        println!("\nfailing sessions (not in the table):");
        for ((family, kind), (count, seed)) in &kinds {
            println!(
                "  {:<15} {kind:<20} {count:>6}  first seed {seed}",
                family.name()
            );
        }
    }
    if let Some((_, scn, v)) = first_failure
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
    {
        println!("{}", report_failure(&scn, &v));
        std::process::exit(1);
    }
    // Figures the issue requires, checked over the whole run.
    let mut all = FamilyTotals::default();
    for t in totals.values() {
        all.merge(t);
    }
    let mut problems = Vec::new();
    if all.expired_page > 0 || all.expired_server_answerable > 0 {
        problems.push("requests sent with an expired token");
    }
    if all.window_max_no_failure > 1 {
        problems.push("more than one provider call in a refresh window");
    }
    if all.lost > 0 {
        problems.push("requests lost");
    }
    if all.max_timer_ms > WAKE_CHECK_MS {
        problems.push("a timer longer than WAKE_CHECK_MS");
    }
    if !problems.is_empty() {
        println!("SIMULATION FAILED: {}", problems.join(", "));
        std::process::exit(1);
    }
    println!("simulation: ok");
}

//! Smaller variants of a failing scenario, tried until none fails the same way.

use crate::scenario::{Op, Scenario};
use crate::world::{Stats, Violation, World};

pub fn run_scenario(scn: &Scenario) -> Result<Stats, Violation> {
    World::new(scn, false).run().0
}

pub fn trace_scenario(scn: &Scenario) -> (Result<Stats, Violation>, Vec<String>) {
    let (result, trace) = World::new(scn, true).run();
    (result, trace.unwrap_or_default())
}

/// Smaller variants of a failing scenario, most drastic first.
pub fn shrink_candidates(s: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    // Drop a tab (its ops go; later tabs move down).
    if s.tabs() > 1 {
        for drop in (0..s.tabs()).rev() {
            let mut c = s.clone();
            c.open_at.remove(drop);
            c.sandboxed.remove(drop);
            c.silent_locks.remove(drop);
            c.ops = s
                .ops
                .iter()
                .filter(|(_, op)| op.tab() != Some(drop))
                .map(|&(at, op)| match op.tab() {
                    Some(t) if t > drop => (at, op.with_tab(t - 1)),
                    _ => (at, op),
                })
                .collect();
            out.push(c);
        }
    }
    for i in 0..s.ops.len() {
        let mut c = s.clone();
        c.ops.remove(i);
        out.push(c);
        if let (at, Op::Burst { tab, count }) = s.ops[i] {
            if count > 1 {
                let mut c = s.clone();
                c.ops[i] = (
                    at,
                    Op::Burst {
                        tab,
                        count: count / 2,
                    },
                );
                out.push(c);
            }
        }
    }
    if s.duration_ms > 60_000 {
        let mut c = s.clone();
        c.duration_ms = (s.duration_ms / 2).max(60_000);
        c.ops.retain(|(at, _)| *at < c.duration_ms);
        out.push(c);
    }
    for zero in 0..8 {
        let mut c = s.clone();
        match zero {
            0 => c.throttle_rate = 0.0,
            1 => c.forced_rate = 0.0,
            2 => c.bad_answer_rate = 0.0,
            3 => c.timeout_rate = 0.0,
            4 => c.open_at.iter_mut().for_each(|t| *t = 0),
            5 => c.storage_failure_rate = 0.0,
            6 => c.sync_answer_rate = 0.0,
            _ => c.latency_ms = (c.latency_ms.0, c.latency_ms.0),
        }
        if c.throttle_rate != s.throttle_rate
            || c.forced_rate != s.forced_rate
            || c.bad_answer_rate != s.bad_answer_rate
            || c.timeout_rate != s.timeout_rate
            || c.open_at != s.open_at
            || c.storage_failure_rate != s.storage_failure_rate
            || c.sync_answer_rate != s.sync_answer_rate
            || c.latency_ms != s.latency_ms
        {
            out.push(c);
        }
    }
    out
}

pub fn shrink(scn: &Scenario, kind: &'static str) -> Scenario {
    let mut best = scn.clone();
    let mut runs = 0;
    'outer: while runs < 400 {
        for c in shrink_candidates(&best) {
            runs += 1;
            if let Err(v) = run_scenario(&c) {
                if v.kind == kind {
                    best = c;
                    continue 'outer;
                }
            }
            if runs >= 400 {
                break 'outer;
            }
        }
        break;
    }
    best
}

//! The per-family table and the failure report.

use crate::scenario::{human, Family, Scenario};
use crate::shrink::{shrink, trace_scenario};
use crate::world::{Stats, Violation};
use chat_auth::session::driver::WAKE_CHECK_MS;
use chat_auth::time::Millis;
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub fn report_failure(scn: &Scenario, violation: &Violation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nSIMULATION FAILED: seed {} (family {}): {}: {}",
        scn.seed,
        scn.family.name(),
        violation.kind,
        violation.message
    );
    let _ = writeln!(
        out,
        "rerun exactly this seed:\n  cargo test --test simulation -- --seed {} --sessions 1 --family {} --trace",
        scn.seed,
        scn.family.name()
    );
    let _ = writeln!(out, "scenario: {}", scn.describe());
    let small = shrink(scn, violation.kind);
    match trace_scenario(&small) {
        (Err(v), trace) => {
            let _ = writeln!(out, "shrunk to: {}", small.describe());
            let _ = writeln!(out, "shrunk failure: {}: {}", v.kind, v.message);
            let _ = writeln!(out, "trace of the shrunk scenario:");
            for line in trace {
                let _ = writeln!(out, "  {line}");
            }
        }
        (Ok(_), _) => {
            let _ = writeln!(out, "(shrinking lost the failure; the full trace follows)");
            for line in trace_scenario(scn).1 {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    out
}

#[derive(Default)]
pub struct FamilyTotals {
    pub sessions: u64,
    pub answerable: u64,
    pub steps: u64,
    pub requests: u64,
    pub expired_page: u64,
    pub expired_server: u64,
    pub expired_server_answerable: u64,
    pub calls: u64,
    pub windows: u64,
    pub window_calls_sum: u64,
    pub window_min: Option<u32>,
    pub window_max: u32,
    pub window_max_no_failure: u32,
    pub max_attempt: u32,
    pub max_timer_ms: Millis,
    pub lock_failures: u64,
    pub storage_failures: u64,
    pub timers_after_sleep: u64,
    pub lost: u64,
    pub unauthorized: u64,
    pub died: u64,
    pub auth_lost: u64,
    pub max_wait_ms: Millis,
    pub rejected: BTreeMap<&'static str, u64>,
}

impl FamilyTotals {
    pub fn add(&mut self, scn: &Scenario, s: &Stats) {
        self.sessions += 1;
        self.answerable += u64::from(scn.answerable());
        self.steps += s.steps;
        self.requests += s.requests;
        self.expired_page += s.expired_page;
        self.expired_server += s.expired_server;
        self.expired_server_answerable += s.expired_server_avoidable;
        self.calls += s.calls;
        for &(c, orphaned) in &s.window_calls {
            self.windows += 1;
            self.window_calls_sum += u64::from(c);
            self.window_min = Some(self.window_min.map_or(c, |m| m.min(c)));
            self.window_max = self.window_max.max(c);
            if scn.no_failure() && !orphaned {
                self.window_max_no_failure = self.window_max_no_failure.max(c);
            }
        }
        self.max_attempt = self.max_attempt.max(s.max_attempt);
        self.max_timer_ms = self.max_timer_ms.max(s.max_timer_ms);
        self.lock_failures += s.lock_failures;
        self.storage_failures += s.storage_failures;
        self.timers_after_sleep += s.timers_after_sleep;
        self.lost += s.lost;
        self.unauthorized += s.unauthorized;
        self.died += s.died;
        self.auth_lost += s.auth_lost;
        self.max_wait_ms = self.max_wait_ms.max(s.max_wait_ms);
        for (k, v) in &s.rejected {
            *self.rejected.entry(k).or_default() += v;
        }
    }

    pub fn merge(&mut self, o: &FamilyTotals) {
        self.sessions += o.sessions;
        self.answerable += o.answerable;
        self.steps += o.steps;
        self.requests += o.requests;
        self.expired_page += o.expired_page;
        self.expired_server += o.expired_server;
        self.expired_server_answerable += o.expired_server_answerable;
        self.calls += o.calls;
        self.windows += o.windows;
        self.window_calls_sum += o.window_calls_sum;
        if let Some(m) = o.window_min {
            self.window_min = Some(self.window_min.map_or(m, |x| x.min(m)));
        }
        self.window_max = self.window_max.max(o.window_max);
        self.window_max_no_failure = self.window_max_no_failure.max(o.window_max_no_failure);
        self.max_attempt = self.max_attempt.max(o.max_attempt);
        self.max_timer_ms = self.max_timer_ms.max(o.max_timer_ms);
        self.lock_failures += o.lock_failures;
        self.storage_failures += o.storage_failures;
        self.timers_after_sleep += o.timers_after_sleep;
        self.lost += o.lost;
        self.unauthorized += o.unauthorized;
        self.died += o.died;
        self.auth_lost += o.auth_lost;
        self.max_wait_ms = self.max_wait_ms.max(o.max_wait_ms);
        for (k, v) in &o.rejected {
            *self.rejected.entry(k).or_default() += v;
        }
    }
}

pub fn print_table(totals: &BTreeMap<Family, FamilyTotals>) {
    println!(
        "\n{:<15} {:>8} {:>7} {:>10} {:>9} {:>13} {:>9} {:>16} {:>8} {:>9} {:>5} {:>6} {:>8} {:>15}  rejected (by code)",
        "family",
        "sessions",
        "answ.",
        "steps",
        "requests",
        "expired p/s",
        "calls",
        "calls/window",
        "max try",
        "max timer",
        "lost",
        "401",
        "max wait",
        "lock/store/late"
    );
    let mut all = FamilyTotals::default();
    let mut rows: Vec<(String, &FamilyTotals)> = totals
        .iter()
        .map(|(f, t)| (f.name().to_owned(), t))
        .collect();
    for (_, t) in &rows {
        all.merge(t);
    }
    rows.push(("all".to_owned(), &all));
    for (name, t) in rows {
        let mean = if t.windows > 0 {
            t.window_calls_sum as f64 / t.windows as f64
        } else {
            0.0
        };
        let rejected: Vec<String> = t.rejected.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "{:<15} {:>8} {:>7} {:>10} {:>9} {:>13} {:>9} {:>16} {:>8} {:>9} {:>5} {:>6} {:>8} {:>15}  {}",
            name,
            t.sessions,
            t.answerable,
            t.steps,
            t.requests,
            format!(
                "{}/{} ({})",
                t.expired_page, t.expired_server, t.expired_server_answerable
            ),
            t.calls,
            format!(
                "{}/{:.3}/{} ({})",
                t.window_min.unwrap_or(0),
                mean,
                t.window_max,
                t.window_max_no_failure
            ),
            format!("{}", t.max_attempt),
            human(t.max_timer_ms),
            t.lost,
            t.unauthorized,
            human(t.max_wait_ms),
            format!(
                "{}/{}/{}",
                t.lock_failures, t.storage_failures, t.timers_after_sleep
            ),
            if rejected.is_empty() {
                "-".to_owned()
            } else {
                rejected.join(", ")
            }
        );
    }
    println!(
        "\nexpired p/s: requests sent with a token expired on the page clock / reaching the server expired \
         (in answerable sessions: must be 0). calls/window: provider calls per refresh window min/mean/max \
         (max in no-failure sessions: must be 1). max try: most calls in one cycle (bound: max_retries + 1 ≤ 7). \
         max timer: longest single timer (bound {}); lost: requests never ended (must be 0); 401: refusals handed \
         to the app; max wait: longest a request waited. lock/store/late: Web Locks requests that failed \
         (sandboxed frames), sessionStorage writes that threw, timers that fired after a sleep passed their time.",
        human(WAKE_CHECK_MS)
    );
}

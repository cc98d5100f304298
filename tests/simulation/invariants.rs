//! The invariants checked after every step and at the end of a session,
//! and what a session measured.

use super::{human, Kind, ReqEnd, State, Stats, StorageKey, World, T0, WAKE_CHECK_MS};

impl World<'_> {
    pub(super) fn check_step(&mut self) {
        for tab in 0..self.tabs.len() {
            let Some(d) = self.tabs[tab].driver.as_ref() else {
                continue;
            };
            if let Some(by) = self.tabs[tab].recheck_by.filter(|&by| self.now > by) {
                let msg = format!(
                    "tab{tab} has not re-checked its deadlines {} after the machine woke (due by {:.3}s)",
                    human(self.now - by + WAKE_CHECK_MS + self.scn.throttle_max_ms),
                    (by - T0) as f64 / 1000.0
                );
                self.fail("no-recheck-after-sleep", msg);
                return;
            }
            let waiting = self.tabs[tab].waiting;
            if d.session().waiters() != waiting {
                let msg = format!(
                    "tab{tab}: the session counts {} waiters, the app waits on {waiting} requests",
                    d.session().waiters(),
                );
                self.fail("waiters", msg);
                return;
            }
            let has_customer = d.customer_id().is_some();
            let token_key = d.storage_name(StorageKey::Token).to_owned();
            let t = &mut self.tabs[tab];
            t.had_customer |= has_customer;
            // A page that never had a customer did not write what an
            // earlier page of the tab left (a logout it could not hear
            // while it loaded); its next setCustomer replaces it.
            let logged_out = !has_customer && t.had_customer;
            let stored = t.storage.contains_key(&token_key);
            if stored && (logged_out || !self.scn.storage_session) {
                let msg = format!(
                    "tab{tab} keeps a token in sessionStorage (customer set: {has_customer}, storage 'session': {})",
                    self.scn.storage_session
                );
                self.fail("token-left-in-storage", msg);
                return;
            }
        }
    }

    pub(super) fn check_end(&mut self) {
        let scn = self.scn;
        for r in 0..self.reqs.len() {
            let tab = self.reqs[r].tab;
            match self.reqs[r].end {
                None => {
                    let created = self.reqs[r].created_at - T0;
                    let state = self.tabs[tab]
                        .driver
                        .as_ref()
                        .map_or("gone", |d| d.state().as_str());
                    self.fail(
                        "request-lost",
                        format!(
                            "request {r} ({:?}) of tab{tab} (made at {:.3}s) never ended; tab state {state}",
                            self.reqs[r].kind,
                            created as f64 / 1000.0,
                        ),
                    );
                    return;
                }
                Some(end) if self.reqs[r].is_final && scn.admissible() => {
                    let ok = matches!(end, ReqEnd::Sent { with_token: true })
                        || (!self.logged_in && matches!(end, ReqEnd::Sent { .. }));
                    if !ok && self.logged_in {
                        self.fail(
                            "stuck",
                            format!("tab{tab}'s request after recovery ended {end:?}, not sent with a token"),
                        );
                        return;
                    }
                }
                _ => {}
            }
        }
        for tab in 0..self.tabs.len() {
            let Some(d) = self.tabs[tab].driver.as_ref() else {
                continue;
            };
            let s = d.session();
            if s.waiters() != 0 {
                let msg = format!("tab{tab} ends with {} waiters", s.waiters());
                self.fail("waiters-left", msg);
                return;
            }
            if self.logged_in
                && scn.admissible()
                && !matches!(s.state(), State::Authenticated | State::Refreshing)
            {
                let msg = format!("tab{tab} ends {}", s.state().as_str());
                self.fail("stuck", msg);
                return;
            }
        }
    }

    pub(super) fn finish_stats(mut self) -> Stats {
        for r in &self.reqs {
            if matches!(r.kind, Kind::SetCustomer | Kind::ClearCustomer) {
                continue;
            }
            match r.end {
                None => self.stats.lost += 1,
                Some(ReqEnd::Rejected(code)) => {
                    *self.stats.rejected.entry(code.as_str()).or_default() += 1
                }
                Some(ReqEnd::Died) => self.stats.died += 1,
                Some(_) => {}
            }
        }
        self.stats.window_calls = self
            .windows
            .iter()
            .filter(|w| w.closed_by_mint)
            .map(|w| (w.calls, w.orphaned || w.unelected))
            .collect();
        self.stats
    }
}

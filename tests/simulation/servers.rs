//! The servers: the site's context provider (its backend), the token
//! endpoint (rotating refresh tokens) and the chat server. They judge and
//! answer on the issuer's clock; they do not sleep with the page.

use super::{
    base64url, schedule, Call, CallId, CallRec, Error, ErrorCode, Ev, GrantAnswer, HttpAnswer,
    Input, Millis, Outcome, ProviderAnswer, ProviderFailure, SecretString, Via, Window, World,
    CUSTOMER, MAX_RETRY_AFTER_S, OTHER_CUSTOMER,
};

impl World<'_> {
    pub(super) fn make_call(&mut self, tab: usize, call: Call, refresh_token: Option<String>) {
        let scn = self.scn;
        let page = self.tabs[tab].page;
        if call.attempt > scn.max_retries + 1 {
            self.fail(
                "retries",
                format!(
                    "call {} is attempt {} of a cycle allowing {}",
                    call.id,
                    call.attempt,
                    scn.max_retries + 1
                ),
            );
        }
        let group = self.window_group(tab);
        let window = self.window[group];
        let w = &self.windows[window];
        // A page whose Web Locks never answer elects no refresher: it
        // refreshes when its own timer says so and races the other pages of
        // its origin (on tokens and refresh tokens alike), so none of them
        // is held to one call per window.
        let origin = self.group(tab);
        let elected =
            !(0..self.tabs.len()).any(|t| self.tabs[t].silent_locks && self.group(t) == origin);
        if scn.no_failure() && elected && w.calls >= 1 && !w.orphaned {
            self.fail(
                "calls-per-window",
                format!(
                    "tab{tab} makes a second provider call (#{}, {}) in one refresh window",
                    call.id,
                    call.reason.as_str()
                ),
            );
        }
        self.windows[window].calls += 1;
        self.windows[window].unelected |= !elected;
        self.stats.calls += 1;
        let latency = self.rng.range(scn.latency_ms.0, scn.latency_ms.1);
        let outcome = if !self.network_online {
            Outcome::Offline
        } else if self.recovered {
            Outcome::Success
        } else if self.rng.chance(scn.timeout_rate) {
            Outcome::Timeout
        } else if call.via == Via::TokenEndpoint && self.rng.chance(scn.busy_rate) {
            Outcome::Busy {
                retry_after_s: self.rng.range(0, MAX_RETRY_AFTER_S),
            }
        } else if call.via == Via::TokenEndpoint
            && scn.refuses_rotations()
            && (self.refused_rotations == 0 || self.rng.chance(scn.refused_rotation_rate))
        {
            self.refused_rotations += 1;
            Outcome::RefusedRotation
        } else if self.rng.chance(scn.failure_rate) {
            Outcome::Fail
        } else if self.rng.chance(scn.bad_answer_rate) {
            match self.rng.range(0, 3) {
                0 => Outcome::Malformed,
                1 => Outcome::ExpiredAnswer,
                2 => Outcome::WrongCustomer,
                _ => Outcome::Unchanged,
            }
        } else {
            Outcome::Success
        };
        // A provider that answers from its cache does so before returning.
        let sync = call.via == Via::Provider
            && !matches!(outcome, Outcome::Timeout | Outcome::Offline)
            && self.rng.chance(scn.sync_answer_rate);
        let latency = if sync { 0 } else { latency };
        // A token endpoint that times out is slow, not deaf: it rotates the
        // refresh token, and its answer comes after the call's deadline, or
        // never once the host aborted the POST at its bound.
        let late_grant = matches!(outcome, Outcome::Timeout) && call.via == Via::TokenEndpoint;
        let latency = if late_grant {
            scn.policy().provider_timeout_ms
                + self
                    .rng
                    .range(1, 2 * chat_auth::session::driver::GRANT_TIMEOUT_MS)
        } else {
            latency
        };
        self.log(|| {
            let presents = refresh_token.as_deref().unwrap_or("-");
            format!(
                "tab{tab} calls {:?} #{} ({}, attempt {}, refresh token {presents}) → {outcome:?} in {latency} ms",
                call.via,
                call.id,
                call.reason.as_str(),
                call.attempt
            )
        });
        let key = self.calls.len();
        self.calls.push(CallRec {
            tab,
            page,
            id: call.id,
            via: call.via,
            started_at: self.now,
            latency,
            outcome,
            refresh_token,
            epoch: self.epoch,
            window,
            group,
            answered: false,
            dropped: false,
            token: None,
        });
        self.call_index.insert((tab, page, call.id), key);
        if late_grant && latency >= chat_auth::session::driver::GRANT_TIMEOUT_MS {
            let e = Error::new(
                ErrorCode::ProviderTimeout,
                "the token endpoint did not answer in time",
            );
            let abort = Ev::grant(tab, page, call.id, Err(e));
            self.push(
                self.now + chat_auth::session::driver::GRANT_TIMEOUT_MS,
                abort,
            );
        }
        match outcome {
            Outcome::Timeout if !late_grant => {}
            Outcome::Offline => {
                let answer = match call.via {
                    Via::Provider => {
                        Ev::provider(tab, page, call.id, Err(ProviderFailure::Rejected))
                    }
                    Via::TokenEndpoint => {
                        let e = Error::new(ErrorCode::Network, "the network request failed");
                        Ev::grant(tab, page, call.id, Err(e))
                    }
                };
                let at = self.now + self.rng.range(1, 30);
                self.push(at, answer);
            }
            _ if sync => {
                if let Some(Ev::Answer { mut input, .. }) = self.answer(key) {
                    self.calls[key].answered = true;
                    if let Input::ProviderFailed { failure, .. } = &mut input {
                        // Failing before it returns: it throws.
                        *failure = ProviderFailure::Threw;
                    }
                    self.feed_now(tab, input);
                }
            }
            _ => self.push(self.now + latency / 2, Ev::Mint { call: key }),
        }
        let owner = (tab, page);
        if self.tabs[tab].die_after_call && self.locks.holds_exclusive(owner) {
            self.tabs[tab].die_after_call = false;
            self.kill(tab);
            self.tabs[tab].closed = true;
        }
    }

    /// The provider's backend (or token endpoint) answers a call.
    pub(super) fn mint(&mut self, key: usize) {
        let (started_at, latency) = (self.calls[key].started_at, self.calls[key].latency);
        let answer = self.answer(key);
        // A grant slower than the host's bound is processed all the same;
        // its answer is lost to the abort (fed in `make_call`).
        let lost = self.calls[key].via == Via::TokenEndpoint
            && latency >= chat_auth::session::driver::GRANT_TIMEOUT_MS;
        if let Some(answer) = answer.filter(|_| !lost) {
            self.push(started_at + latency, answer);
        }
    }

    /// The answer the provider's backend or the token endpoint gives call
    /// `key` now, as the event that brings it to the page.
    pub(super) fn answer(&mut self, key: usize) -> Option<Ev> {
        let (tab, page, id, via, outcome) = {
            let c = &self.calls[key];
            (c.tab, c.page, c.id, c.via, c.outcome)
        };
        let issuer_now = self.now + self.scn.issuer_offset_ms;
        let ttl_s = self.scn.ttl_ms / 1000;
        let provider = |answer: ProviderAnswer| Ev::provider(tab, page, id, answer);
        let grant = |answer: GrantAnswer| Ev::grant(tab, page, id, answer);
        let failed = |status: u16, retry_after: Option<String>| {
            grant(Ok(HttpAnswer {
                status,
                date: Some(http_date(issuer_now)),
                retry_after,
                body: SecretString::new(""),
                dpop_nonce: None,
            }))
        };
        let answer = match outcome {
            Outcome::Timeout if via == Via::TokenEndpoint => {
                return Some(self.grant_token(key, outcome, issuer_now));
            }
            Outcome::Timeout | Outcome::Offline => return None,
            Outcome::Fail => match via {
                Via::Provider => provider(Err(ProviderFailure::Rejected)),
                Via::TokenEndpoint => failed(500, None),
            },
            Outcome::Busy { retry_after_s } => {
                let status = if retry_after_s % 2 == 0 { 429 } else { 503 };
                failed(status, Some(retry_after_s.to_string()))
            }
            Outcome::Malformed => match via {
                Via::Provider => provider(Ok(Some(r#"{"Auth":{"Token":""}}"#.into()))),
                Via::TokenEndpoint => failed(200, None),
            },
            Outcome::ExpiredAnswer => {
                // A stale cached token: expired a minute ago.
                let exp = issuer_now / 1000 - 60;
                let token = jwt(CUSTOMER, exp - ttl_s, exp, &format!("stale{key}"));
                self.tokens.insert(token.clone(), (CUSTOMER, exp * 1000));
                self.context(via, tab, page, id, &token, None, issuer_now)
            }
            Outcome::WrongCustomer => {
                let iat = issuer_now / 1000;
                let token = jwt(OTHER_CUSTOMER, iat, iat + ttl_s, &format!("other{key}"));
                self.tokens
                    .insert(token.clone(), (OTHER_CUSTOMER, (iat + ttl_s) * 1000));
                self.context(via, tab, page, id, &token, None, issuer_now)
            }
            Outcome::Unchanged => match self.tabs[tab].last_token.clone() {
                Some(t) => self.context(via, tab, page, id, &t, None, issuer_now),
                // `JSON.stringify` of something that is no JSON object.
                None => provider(Ok(None)),
            },
            Outcome::Success | Outcome::RefusedRotation => {
                return Some(self.grant_token(key, outcome, issuer_now));
            }
        };
        Some(answer)
    }

    /// A successful answer, or a refused rotation, or the token endpoint
    /// refusing a spent refresh token.
    pub(super) fn grant_token(&mut self, key: usize, outcome: Outcome, issuer_now: Millis) -> Ev {
        let (tab, page, id, via, group) = {
            let c = &self.calls[key];
            (c.tab, c.page, c.id, c.via, c.group)
        };
        let ttl_s = self.scn.ttl_ms / 1000;
        let presented = self.calls[key].refresh_token.clone();
        let chain = presented
            .as_ref()
            .and_then(|p| self.refresh_chain.get(p).copied());
        if via == Via::TokenEndpoint {
            let Some(chain) = chain else {
                self.fail(
                    "unknown-refresh-token",
                    format!("tab{tab} presented a refresh token never issued on call #{id}"),
                );
                return self.refused(tab, page, id, issuer_now);
            };
            if presented.as_deref() != Some(self.chain_latest[chain].0.as_str()) {
                // Rotation: a spent refresh token is refused (400). Fine
                // when the page that got the newer one went with it. That
                // is the call that spent this one, not the chain's newest
                // minter: a grant slow on the wire arrives after several.
                let spent_by = presented.as_ref().and_then(|p| self.spent_by.get(p));
                let spent_by = spent_by.copied().unwrap_or(self.chain_latest[chain].1);
                let c = &self.calls[spent_by];
                let spent_by_gone = !self.live(c.tab, c.page)
                    || !self.live(tab, page)
                    || self.windows[self.calls[key].window].orphaned;
                // Pages that do not elect one refresher (Web Locks broken
                // in one of them) may race on one refresh token.
                let unelected = c.group != group;
                if spent_by_gone {
                    let w = self.calls[key].window;
                    self.windows[w].orphaned = true;
                } else if self.scn.rotations_answered()
                    && self.calls[key].epoch == self.epoch
                    && !unelected
                {
                    self.fail(
                        "refresh-token-race",
                        format!("tab{tab} presented a spent refresh token on call #{id}"),
                    );
                }
                return self.refused(tab, page, id, issuer_now);
            }
        }
        self.minted += 1;
        let iat = issuer_now / 1000;
        let exp = iat + ttl_s;
        let customer = if matches!(outcome, Outcome::RefusedRotation) {
            // The refresh token rotates; the access token is another
            // customer's, so the page refuses it.
            OTHER_CUSTOMER
        } else {
            CUSTOMER
        };
        let token = jwt(customer, iat, exp, &format!("g{}", self.minted));
        self.tokens.insert(token.clone(), (customer, exp * 1000));
        let refresh = self.scn.token_endpoint.then(|| format!("r{}", self.minted));
        if let Some(r) = &refresh {
            let chain = chain.unwrap_or_else(|| {
                self.chain_latest.push((String::new(), key));
                self.chain_latest.len() - 1
            });
            self.chain_latest[chain] = (r.clone(), key);
            self.refresh_chain.insert(r.clone(), chain);
            if let Some(p) = presented.filter(|_| via == Via::TokenEndpoint) {
                self.spent_by.insert(p, key);
            }
            self.log(|| format!("call #{id} of tab{tab} is issued refresh token {r}"));
        }
        if customer == CUSTOMER {
            self.calls[key].token = Some(token.clone());
            self.tabs[tab].last_token = Some(token.clone());
            if self.calls[key].epoch == self.epoch {
                let w = self.window[group];
                self.windows[w].closed_by_mint = true;
                self.windows.push(Window::default());
                self.window[group] = self.windows.len() - 1;
            }
        }
        self.context(via, tab, page, id, &token, refresh.as_deref(), issuer_now)
    }

    pub(super) fn refused(&self, tab: usize, page: u32, call: CallId, issuer_now: Millis) -> Ev {
        let answer = HttpAnswer {
            status: 400,
            date: Some(http_date(issuer_now)),
            retry_after: None,
            body: SecretString::new(r#"{"error":"invalid_grant"}"#),
            dpop_nonce: None,
        };
        Ev::grant(tab, page, call, Ok(answer))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn context(
        &self,
        via: Via,
        tab: usize,
        page: u32,
        call: CallId,
        token: &str,
        refresh: Option<&str>,
        issuer_now: Millis,
    ) -> Ev {
        let refresh = refresh
            .map(|r| format!(r#","refresh_token":"{r}""#))
            .unwrap_or_default();
        match via {
            Via::Provider => {
                let context = format!(r#"{{"Auth":{{"Token":"{token}"{refresh}}}}}"#);
                Ev::provider(tab, page, call, Ok(Some(context)))
            }
            Via::TokenEndpoint => {
                let answer = HttpAnswer {
                    status: 200,
                    // The issuer's clock, whole seconds.
                    date: Some(http_date(issuer_now)),
                    retry_after: None,
                    body: SecretString::new(format!(
                        r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{}{refresh}}}"#,
                        self.scn.ttl_ms / 1000
                    )),
                    dpop_nonce: None,
                };
                Ev::grant(tab, page, call, Ok(answer))
            }
        }
    }

    /// The chat server judges the token on the issuer's clock.
    pub(super) fn arrive(&mut self, r: usize) {
        let server_now = self.now + self.scn.issuer_offset_ms;
        let status = match self.reqs[r].token_used.as_deref() {
            None => 200,
            Some(token) => match self.tokens.get(token) {
                Some(&(_, exp)) if server_now < exp => 200,
                Some(_) => {
                    self.stats.expired_server += 1;
                    if self.scn.answerable() && !self.slept_tokens.contains(token) {
                        self.stats.expired_server_avoidable += 1;
                        let tab = self.reqs[r].tab;
                        self.fail(
                            "expired-at-server",
                            format!("request {r} from tab{tab} reached the server with an expired token although the provider answers in time"),
                        );
                    }
                    401
                }
                None => 401,
            },
        };
        let (lo, hi) = self.scn.request_latency_ms;
        let at = self.now + self.rng.range(lo, hi);
        let status = Some(status);
        self.push(at, Ev::Response { req: r, status });
    }
}

/// An unsigned JWT (the sim's sessions check no signatures).
pub(super) fn jwt(sub: &str, iat: i64, exp: i64, id: &str) -> String {
    let header = base64url::encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = base64url::encode(
        format!(r#"{{"sub":"{sub}","iat":{iat},"exp":{exp},"jti":"{id}"}}"#).as_bytes(),
    );
    format!("{header}.{payload}.c2ln")
}

/// The HTTP `Date` header (IMF-fixdate) for `ms` since the epoch.
pub(super) fn http_date(ms: Millis) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let date = format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    debug_assert_eq!(schedule::parse_http_date(&date, ms), Some(secs * 1000));
    date
}

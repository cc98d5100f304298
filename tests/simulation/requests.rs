//! The app's requests — `auth.fetch` (to the chat API and elsewhere),
//! `getToken`, `authHeaders`, `setCustomer`, `clearCustomer` — and what the
//! world checks of the driver's answers to them.

use super::{
    driver, Ev, Input, Kind, Reply, ReqEnd, Request, RequestId, StorageKey, World, CHAT_ORIGIN,
    CUSTOMER, FOREIGN_ORIGIN, T0,
};

impl World<'_> {
    /// The app in `tab` asks for something: `auth.fetch`, `getToken`, …
    pub(super) fn request(&mut self, tab: usize, kind: Kind, is_final: bool) {
        let page = self.tabs[tab].page;
        let Some(d) = self.tabs[tab].driver.as_ref() else {
            return;
        };
        let has_customer = d.customer_id().is_some();
        if !matches!(kind, Kind::SetCustomer | Kind::ClearCustomer) {
            self.stats.requests += 1;
        }
        let r = self.reqs.len();
        self.reqs.push(Request {
            tab,
            page,
            kind,
            created_at: self.now,
            token_used: None,
            on_wire: false,
            last_status: None,
            end: None,
            is_final: is_final && has_customer,
        });
        self.tabs[tab].waiting += 1;
        let request = r as RequestId;
        let origin = |o: &str| Some(o.to_owned());
        let input = match kind {
            Kind::Fetch | Kind::ForeignFetch => Input::Fetch {
                request,
                origin: origin(if kind == Kind::Fetch {
                    CHAT_ORIGIN
                } else {
                    FOREIGN_ORIGIN
                }),
                follows_redirects: true,
                replayable: true,
                target: None,
            },
            Kind::ForcedToken => Input::GetToken {
                request,
                force: true,
            },
            Kind::Headers => Input::AuthHeaders {
                request,
                origin: origin(CHAT_ORIGIN),
                target: None,
            },
            Kind::ForeignHeaders => Input::AuthHeaders {
                request,
                origin: origin(FOREIGN_ORIGIN),
                target: None,
            },
            Kind::SetCustomer => Input::SetCustomer {
                request,
                customer_id: CUSTOMER.into(),
                provider: false,
                stored: self.read_storage(tab, StorageKey::Token),
            },
            Kind::ClearCustomer => Input::ClearCustomer { request },
        };
        self.feed(tab, input);
    }

    pub(super) fn end_request(&mut self, r: usize, end: ReqEnd) {
        if self.reqs[r].end.is_none() {
            self.reqs[r].end = Some(end);
            let waited = self.now - self.reqs[r].created_at;
            self.stats.max_wait_ms = self.stats.max_wait_ms.max(waited);
            self.log(|| format!("request {r} ends: {end:?}"));
        }
    }

    pub(super) fn on_reply(&mut self, tab: usize, r: usize, reply: Reply) {
        let Some(req) = self.reqs.get(r) else {
            self.fail("reply", format!("tab{tab} answers request {r}, never made"));
            return;
        };
        if req.tab != tab || req.end.is_some() || req.on_wire {
            self.fail(
                "reply",
                format!(
                    "tab{tab} answers request {r} ({:?}) that does not wait for it: {reply:?}",
                    req.end
                ),
            );
            return;
        }
        let kind = req.kind;
        // Answered: sent on, or ended.
        self.tabs[tab].waiting -= 1;
        match (kind, reply) {
            (_, Reply::Reject(e)) => self.end_request(r, ReqEnd::Rejected(e.code())),
            (Kind::SetCustomer | Kind::ClearCustomer, Reply::Done) => {
                self.end_request(r, ReqEnd::Done)
            }
            (Kind::ForcedToken, Reply::Token(token)) => {
                if let Some(t) = &token {
                    self.token_sent(tab, r, t.secret());
                }
                self.end_request(
                    r,
                    ReqEnd::Sent {
                        with_token: token.is_some(),
                    },
                );
            }
            (Kind::Headers, Reply::Headers(headers)) => {
                let token = bearer(&headers);
                if let Some(t) = &token {
                    self.token_sent(tab, r, t);
                }
                self.end_request(
                    r,
                    ReqEnd::Sent {
                        with_token: token.is_some(),
                    },
                );
            }
            (Kind::ForeignHeaders, Reply::Headers(headers)) if headers.is_empty() => {
                self.end_request(r, ReqEnd::Sent { with_token: false })
            }
            (Kind::ForeignFetch, Reply::Plain) => {
                // Sent as the app built it: nothing added.
                self.transmit(tab, r, &[], false)
            }
            (Kind::ForeignFetch, Reply::Response) => {
                self.end_request(r, ReqEnd::Sent { with_token: false })
            }
            (Kind::ForeignHeaders | Kind::ForeignFetch, reply) => self.fail(
                "token-leak",
                format!("tab{tab} answers request {r} to {FOREIGN_ORIGIN} with {reply:?}"),
            ),
            (Kind::Fetch, Reply::Send { headers, .. }) => self.transmit(tab, r, &headers, false),
            (Kind::Fetch, Reply::Replay { headers }) => {
                if self.reqs[r].last_status != Some(401) {
                    self.fail(
                        "replay",
                        format!("tab{tab} replays request {r}, which got no 401"),
                    );
                }
                self.transmit(tab, r, &headers, true)
            }
            (Kind::Fetch, Reply::Response) => {
                let end = if self.reqs[r].last_status == Some(401) {
                    self.stats.unauthorized += 1;
                    ReqEnd::Unauthorized
                } else {
                    ReqEnd::Sent {
                        with_token: self.reqs[r].token_used.is_some(),
                    }
                };
                self.end_request(r, end);
            }
            (kind, reply) => self.fail(
                "reply",
                format!("tab{tab} answers {kind:?} request {r} with {reply:?}"),
            ),
        }
    }

    /// A token the page hands out now (a header, `getToken`): it must be
    /// this customer's, minted, and not expired on the page clock.
    pub(super) fn token_sent(&mut self, tab: usize, r: usize, token: &str) {
        self.stats.sent_with_token += 1;
        match self.tokens.get(token) {
            None => {
                self.fail(
                    "unknown-token",
                    format!("request {r} carries a token never minted"),
                );
                return;
            }
            Some(&(customer, _)) if customer != CUSTOMER => {
                self.fail(
                    "foreign-token",
                    format!("tab{tab} sends request {r} with {customer}'s token"),
                );
                return;
            }
            Some(_) => {}
        }
        let now = self.now;
        let expired = self.tabs[tab]
            .driver
            .as_ref()
            .and_then(|d| d.session().credential())
            .filter(|c| c.token.secret() == token)
            .and_then(|c| (!c.is_valid_at(now)).then_some(c.expires_at));
        if let Some(exp) = expired {
            self.stats.expired_page += 1;
            self.fail(
                "expired-on-page",
                format!(
                    "tab{tab} sends request {r} with a token that expired at {} (now {})",
                    exp.unwrap_or(0) - T0,
                    now - T0
                ),
            );
        }
    }

    /// `fetch` with the driver's headers.
    pub(super) fn transmit(
        &mut self,
        tab: usize,
        r: usize,
        headers: &[driver::Header],
        replay: bool,
    ) {
        let plain = self.reqs[r].kind == Kind::ForeignFetch;
        if !plain && !headers.iter().any(|(n, _)| n == "Chat-Anonymous-Id") {
            self.fail(
                "headers",
                format!("tab{tab} sends request {r} without Chat-Anonymous-Id"),
            );
        }
        let token = bearer(headers);
        if let Some(t) = &token {
            self.token_sent(tab, r, t);
        }
        let customer = self.tabs[tab].driver.as_ref().and_then(|d| d.customer_id());
        if let (false, None, Some(customer)) = (plain, &token, customer) {
            let msg = format!("tab{tab} sends request {r} without a token while {customer} is set");
            self.fail("sent-without-token", msg);
        }
        self.log(|| format!("tab{tab} sends request {r} (replay: {replay})"));
        self.reqs[r].token_used = token;
        self.reqs[r].on_wire = true;
        if !self.network_online {
            let at = self.now + self.rng.range(1, 30);
            self.push(
                at,
                Ev::Response {
                    req: r,
                    status: None,
                },
            );
            return;
        }
        let (lo, hi) = self.scn.request_latency_ms;
        let at = self.now + self.rng.range(lo, hi);
        self.push(at, Ev::Arrive { req: r });
    }
}

/// The token of an `Authorization: Bearer …` header.
pub(super) fn bearer(headers: &[driver::Header]) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n == "Authorization")
        .and_then(|(_, v)| v.secret().strip_prefix("Bearer "))
        .map(str::to_owned)
}

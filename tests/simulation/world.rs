//! The outside world around the drivers, one per page: the clock and event
//! queue, a machine that sleeps, the network, the site's context provider,
//! the token endpoint, the chat server, and the browser's Web Locks,
//! BroadcastChannel, sessionStorage and timers. Each page runs the very
//! [`Driver`] the browser host runs; the world only carries out its effects
//! as a browser and servers would, and checks invariants after every step.

use crate::locks::{Grant, LockManager, Mode, Owner};
use crate::scenario::{human, Op, Rng, Scenario, CHAT_ORIGIN, FOREIGN_ORIGIN};
use chat_auth::error::{Error, ErrorCode};
use chat_auth::options::Config;
use chat_auth::secret::SecretString;
use chat_auth::session::driver::{
    self, Driver, Effect, Entropy, Environment, HttpAnswer, Input, LockId, ProviderFailure, Reply,
    RequestId, StorageKey, ANONYMOUS_ID_KEY, WAKE_CHECK_MS,
};
use chat_auth::session::machine::{Call, CallId, Event, State, Via, FAILED_COOL_DOWN_MS};
use chat_auth::session::schedule;
use chat_auth::time::Millis;
use chat_auth::wire::base64url;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

#[path = "invariants.rs"]
mod invariants;
#[path = "requests.rs"]
mod requests;
#[path = "servers.rs"]
mod servers;

/// The page clock (true time) at the start of every session.
pub const T0: Millis = 1_700_000_000_000;
pub const CUSTOMER: &str = "cust-1";
/// Whose tokens a confused backend sometimes hands out.
const OTHER_CUSTOMER: &str = "cust-2";
/// The longest `Retry-After` the token endpoint sends when busy.
pub const MAX_RETRY_AFTER_S: i64 = 60;

// ---------------------------------------------------------------------------
// The world's events.

#[derive(Clone, Copy, Debug)]
enum Outcome {
    Timeout,
    Offline,
    Fail,
    Busy {
        retry_after_s: i64,
    },
    Malformed,
    ExpiredAnswer,
    WrongCustomer,
    Unchanged,
    /// Rotates the refresh token; the access token is refused.
    RefusedRotation,
    Success,
}

/// What the provider's promise settles with.
type ProviderAnswer = Result<Option<String>, ProviderFailure>;
/// What the token endpoint's `fetch` settles with.
type GrantAnswer = Result<HttpAnswer, Error>;

#[derive(Debug)]
enum Ev {
    // The pages' events (`page` is the tab's page load they belong to):
    // they wait while the machine sleeps.
    Open {
        tab: usize,
    },
    Timer {
        tab: usize,
        page: u32,
        id: u64,
    },
    /// The provider's or the token endpoint's answer to `call`.
    Answer {
        tab: usize,
        page: u32,
        call: CallId,
        input: Input,
    },
    Lock {
        tab: usize,
        page: u32,
        lock: LockId,
        granted: bool,
    },
    PresenceFailed {
        tab: usize,
        page: u32,
    },
    Peers {
        tab: usize,
        page: u32,
        /// The other instances' tab ids.
        peers: Vec<String>,
    },
    Msg {
        to: usize,
        page: u32,
        text: String,
    },
    /// A chat request's answer: its status, or `None` when `fetch`
    /// rejected (offline).
    Response {
        req: usize,
        status: Option<u16>,
    },
    NetChange {
        online: bool,
    },
    SetCustomer {
        tab: usize,
    },
    Wake {
        events: bool,
    },
    Op(Op),
    Final,
    // The outside world's: servers do not sleep with the page.
    Mint {
        call: usize,
    },
    Arrive {
        req: usize,
    },
    Sleep {
        ms: Millis,
        wake_events: bool,
    },
    Network {
        online: bool,
    },
    Recover,
}

impl Ev {
    fn provider(tab: usize, page: u32, call: CallId, answer: ProviderAnswer) -> Ev {
        let input = match answer {
            Ok(context) => Input::ProviderAnswered { call, context },
            Err(failure) => Input::ProviderFailed { call, failure },
        };
        Ev::answer(tab, page, call, input)
    }

    fn grant(tab: usize, page: u32, call: CallId, answer: GrantAnswer) -> Ev {
        let input = match answer {
            Ok(answer) => Input::TokenEndpointAnswered { call, answer },
            Err(error) => Input::TokenEndpointFailed { call, error },
        };
        Ev::answer(tab, page, call, input)
    }

    /// A lock request's outcome reaching the page.
    fn lock((tab, page): Owner, lock: LockId, granted: bool) -> Ev {
        Ev::Lock {
            tab,
            page,
            lock,
            granted,
        }
    }

    fn answer(tab: usize, page: u32, call: CallId, input: Input) -> Ev {
        Ev::Answer {
            tab,
            page,
            call,
            input,
        }
    }

    fn waits_for_wake(&self) -> bool {
        !matches!(
            self,
            Ev::Mint { .. }
                | Ev::Arrive { .. }
                | Ev::Sleep { .. }
                | Ev::Network { .. }
                | Ev::Recover
                | Ev::Op(Op::Sleep { .. } | Op::Offline { .. })
        )
    }
}

struct Queued {
    at: Millis,
    /// Original time: events delayed by sleep keep their order.
    order: Millis,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse for earliest first.
        (other.at, other.order, other.seq).cmp(&(self.at, self.order, self.seq))
    }
}

// ---------------------------------------------------------------------------
// Pages, requests, calls.

/// `crypto.getRandomValues` for one page: seeded, so a seed replays.
struct SeededEntropy(Rng);

impl Entropy for SeededEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.0.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

struct Tab {
    /// The open page's driver; `None` before it opens and once it is gone.
    driver: Option<Driver>,
    /// Which page load of this tab is open (a reload starts the next).
    page: u32,
    /// The tab was closed (or crashed) for good.
    closed: bool,
    sandboxed: bool,
    /// Its Web Locks are a stub that never answers.
    silent_locks: bool,
    /// This tab's sessionStorage: it outlives the page, not the tab.
    storage: HashMap<String, String>,
    /// The one timer of the page: its id and when it fires.
    timer: Option<(u64, Millis)>,
    /// After the machine woke: by when the page must have re-checked its
    /// deadlines (its timer fired, or it re-armed it) without any wake
    /// event to tell it.
    recheck_by: Option<Millis>,
    die_after_call: bool,
    /// The open page has had a customer.
    had_customer: bool,
    /// The page's requests that wait for the driver's answer (not sent,
    /// not ended).
    waiting: usize,
    /// What the provider's backend last gave this tab (its cache).
    last_token: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `auth.fetch` to the chat API.
    Fetch,
    /// `getToken({ forceRefresh: true })`.
    ForcedToken,
    /// `authHeaders(chat URL)`.
    Headers,
    /// `auth.fetch` to another origin.
    ForeignFetch,
    /// `authHeaders(other URL)`.
    ForeignHeaders,
    SetCustomer,
    ClearCustomer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqEnd {
    Sent {
        with_token: bool,
    },
    Done,
    Rejected(ErrorCode),
    /// The server's 401 went to the app (after the one replay, or with no
    /// better token to replay with).
    Unauthorized,
    Died,
}

struct Request {
    tab: usize,
    page: u32,
    kind: Kind,
    created_at: Millis,
    token_used: Option<String>,
    /// Sent and not answered yet (not waiting in the driver).
    on_wire: bool,
    last_status: Option<u16>,
    end: Option<ReqEnd>,
    /// Made after recovery by a tab with a customer: it must go out with a
    /// token.
    is_final: bool,
}

struct CallRec {
    tab: usize,
    page: u32,
    id: CallId,
    via: Via,
    started_at: Millis,
    latency: Millis,
    outcome: Outcome,
    /// The refresh token the grant presented.
    refresh_token: Option<String>,
    epoch: u64,
    window: usize,
    /// Its page's window group ([`World::window_group`]).
    group: usize,
    answered: bool,
    /// Aborted, and the provider honours its signal: no answer comes.
    dropped: bool,
    /// The token it minted, if any.
    token: Option<String>,
}

#[derive(Default)]
struct Window {
    calls: u32,
    /// A caller died before its answer: another tab must call again.
    orphaned: bool,
    /// Its pages elect no refresher (silent Web Locks).
    unelected: bool,
    closed_by_mint: bool,
}

/// What one session measured.
#[derive(Clone, Default)]
pub struct Stats {
    pub steps: u64,
    pub requests: u64,
    pub sent_with_token: u64,
    pub expired_page: u64,
    pub expired_server: u64,
    /// Of those, in answerable sessions with a token that did not wait out
    /// a sleep: must be 0.
    pub expired_server_avoidable: u64,
    pub calls: u64,
    /// Calls in each refresh window that ended with a new token, and
    /// whether more than one may be right: a caller died in it (another
    /// tab then had to call again), or its pages elect no refresher.
    pub window_calls: Vec<(u32, bool)>,
    pub max_attempt: u32,
    pub max_timer_ms: Millis,
    pub lost: u64,
    pub rejected: BTreeMap<&'static str, u64>,
    pub unauthorized: u64,
    pub died: u64,
    pub auth_lost: u64,
    pub max_wait_ms: Millis,
    /// Web Locks requests that failed (a sandboxed frame).
    pub lock_failures: u64,
    /// sessionStorage writes that threw.
    pub storage_failures: u64,
    /// Timers that fired after the machine slept through their time.
    pub timers_after_sleep: u64,
}

pub struct Violation {
    pub kind: &'static str,
    pub message: String,
}

pub struct World<'a> {
    scn: &'a Scenario,
    config: Config,
    rng: Rng,
    now: Millis,
    seq: u64,
    queue: BinaryHeap<Queued>,
    tabs: Vec<Tab>,
    locks: LockManager,
    /// Granted locks whose grant reached the page, and those the page let
    /// go of before it did (released as soon as it does).
    delivered: HashSet<(Owner, LockId)>,
    release_early: HashSet<(Owner, LockId)>,
    next_timer: u64,
    last_msg: HashMap<(usize, usize), Millis>,
    reqs: Vec<Request>,
    calls: Vec<CallRec>,
    call_index: HashMap<(usize, u32, CallId), usize>,
    windows: Vec<Window>,
    /// The open refresh window of each group of pages that share a
    /// channel and locks: 0 for the site's own pages, 1 + tab for a
    /// sandboxed frame (an opaque origin of its own).
    window: Vec<usize>,
    epoch: u64,
    minted: u64,
    /// Token → (customer, expiry on the issuer's clock, ms).
    tokens: HashMap<String, (&'static str, Millis)>,
    /// Refresh token → its chain (one per provider grant); each chain's
    /// newest token and the call that minted it.
    refresh_chain: HashMap<String, usize>,
    chain_latest: Vec<(String, usize)>,
    /// Refresh token → the call that presented it and was issued the next
    /// one: whom a later presentation of it raced.
    spent_by: HashMap<String, usize>,
    /// Token-endpoint answers that rotated the refresh token with a refused
    /// access token.
    refused_rotations: u64,
    /// Tokens whose answer reached the page only after a sleep.
    slept_tokens: HashSet<String>,
    asleep_until: Millis,
    /// When a page last lost its auth, and how much later than planned
    /// the final requests go out because of it.
    last_lost: Millis,
    final_delay: Millis,
    network_online: bool,
    recovered: bool,
    logged_in: bool,
    stats: Stats,
    violation: Option<Violation>,
    trace: Option<Vec<String>>,
}

impl<'a> World<'a> {
    pub fn new(scn: &'a Scenario, trace: bool) -> World<'a> {
        let tabs = (0..scn.tabs())
            .map(|t| Tab {
                driver: None,
                page: 0,
                closed: false,
                sandboxed: scn.sandboxed[t],
                silent_locks: scn.silent_locks[t],
                storage: HashMap::new(),
                timer: None,
                recheck_by: None,
                die_after_call: false,
                had_customer: false,
                waiting: 0,
                last_token: None,
            })
            .collect();
        let mut w = World {
            scn,
            config: scn.config(),
            rng: Rng::new(scn.seed, 2),
            now: T0,
            seq: 0,
            queue: BinaryHeap::new(),
            tabs,
            locks: LockManager::default(),
            delivered: HashSet::new(),
            release_early: HashSet::new(),
            next_timer: 0,
            last_msg: HashMap::new(),
            reqs: Vec::new(),
            calls: Vec::new(),
            call_index: HashMap::new(),
            windows: (0..=scn.tabs()).map(|_| Window::default()).collect(),
            window: (0..=scn.tabs()).collect(),
            epoch: 0,
            minted: 0,
            tokens: HashMap::new(),
            refresh_chain: HashMap::new(),
            chain_latest: Vec::new(),
            spent_by: HashMap::new(),
            refused_rotations: 0,
            slept_tokens: HashSet::new(),
            asleep_until: T0,
            last_lost: 0,
            final_delay: 0,
            network_online: true,
            recovered: false,
            logged_in: true,
            stats: Stats::default(),
            violation: None,
            trace: trace.then(Vec::new),
        };
        for (tab, &at) in scn.open_at.iter().enumerate() {
            w.push(T0 + at, Ev::Open { tab });
        }
        for &(at, op) in &scn.ops {
            let ev = match op {
                Op::Sleep { ms, wake_events } => Ev::Sleep { ms, wake_events },
                op => Ev::Op(op),
            };
            w.push(T0 + at, ev);
        }
        w.push(T0 + scn.duration_ms, Ev::Recover);
        w.push(T0 + scn.duration_ms + scn.recovery_ms(), Ev::Final);
        w
    }

    /// The final requests go out at `duration + recovery`; they may queue
    /// behind one failing cycle per tab when tokens can never be admitted.
    fn end(&self) -> Millis {
        let scn = self.scn;
        let policy = scn.policy();
        let cycle = (Millis::from(policy.max_retries) + 1)
            * (policy.provider_timeout_ms + schedule::MAX_BACKOFF_MS + scn.latency_ms.1)
            + driver::ROUND_TIMEOUT_MS;
        let queued = if scn.admissible() {
            0
        } else {
            scn.tabs() as Millis * cycle
        };
        // Time for the final requests: a refresh through the lock queue.
        // (A throttled timer of the tab holding the lock delays them all.)
        let settle = if scn.no_failure() { 20_000 } else { 60_000 } + 2 * scn.throttle_max_ms;
        T0 + scn.duration_ms + scn.recovery_ms() + settle + 2 * scn.latency_ms.1 + queued
    }

    fn push(&mut self, at: Millis, ev: Ev) {
        self.seq += 1;
        self.queue.push(Queued {
            at,
            order: at,
            seq: self.seq,
            ev,
        });
    }

    fn log(&mut self, line: impl FnOnce() -> String) {
        if let Some(t) = self.trace.as_mut() {
            let at = self.now - T0;
            t.push(format!("{:>12.3}s  {}", at as f64 / 1000.0, line()));
        }
    }

    fn fail(&mut self, kind: &'static str, message: String) {
        if self.violation.is_none() {
            self.log(|| format!("VIOLATION {kind}: {message}"));
            self.violation = Some(Violation { kind, message });
        }
    }

    /// The tab's page `page` is open.
    fn live(&self, tab: usize, page: u32) -> bool {
        self.tabs[tab].driver.is_some() && self.tabs[tab].page == page
    }

    fn open_page(&self, tab: usize) -> Option<u32> {
        self.tabs[tab].driver.as_ref().map(|_| self.tabs[tab].page)
    }

    fn owner(&self, tab: usize) -> Owner {
        (tab, self.tabs[tab].page)
    }

    /// The pages that share a channel: a sandboxed frame is an origin of
    /// its own.
    fn group(&self, tab: usize) -> usize {
        if self.tabs[tab].sandboxed {
            1 + tab
        } else {
            0
        }
    }

    /// The pages that elect one refresher: those whose Web Locks work.
    fn window_group(&self, tab: usize) -> usize {
        let t = &self.tabs[tab];
        if t.sandboxed || t.silent_locks {
            1 + tab
        } else {
            0
        }
    }

    fn tab_delay(&mut self) -> Millis {
        self.rng.range(0, self.scn.tab_latency_ms)
    }

    // ---- the run ------------------------------------------------------

    pub fn run(mut self) -> (Result<Stats, Violation>, Option<Vec<String>>) {
        let end = self.end();
        while let Some(q) = self.queue.pop() {
            if q.at > end + self.final_delay {
                break;
            }
            if q.ev.waits_for_wake() && q.at < self.asleep_until {
                // The machine sleeps: the page runs this when it wakes, in
                // the order it was due. A token that waits out the sleep
                // may arrive with less life left than a request's trip.
                if let Ev::Answer {
                    tab, page, call, ..
                } = &q.ev
                {
                    let token = self
                        .call_index
                        .get(&(*tab, *page, *call))
                        .and_then(|&k| self.calls[k].token.clone());
                    if let Some(token) = token {
                        self.slept_tokens.insert(token);
                    }
                }
                self.queue.push(Queued {
                    at: self.asleep_until,
                    ..q
                });
                continue;
            }
            self.now = q.at;
            self.stats.steps += 1;
            self.handle(q.ev);
            self.check_step();
            if self.violation.is_some() {
                break;
            }
        }
        if self.violation.is_none() {
            self.check_end();
        }
        let trace = self.trace.take();
        match self.violation.take() {
            Some(v) => (Err(v), trace),
            None => (Ok(self.finish_stats()), trace),
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Open { tab } => self.open(tab),
            Ev::Timer { tab, page, id } => {
                let t = &self.tabs[tab];
                let due = match t.timer {
                    Some((armed, due)) if armed == id && t.page == page => due,
                    _ => return,
                };
                if self.now < due {
                    // Moved on by a sleep its clock did not count.
                    return;
                }
                self.tabs[tab].timer = None;
                if due < self.now {
                    self.stats.timers_after_sleep += 1;
                }
                self.log(|| format!("tab{tab} timer"));
                self.tabs[tab].recheck_by = None;
                self.feed(tab, Input::TimerFired);
            }
            Ev::Answer {
                tab,
                page,
                call,
                input,
            } => {
                if self.answered(tab, page, call) {
                    self.feed(tab, input);
                }
            }
            Ev::Lock {
                tab,
                page,
                lock,
                granted,
            } => {
                if !self.live(tab, page) {
                    return;
                }
                if !granted {
                    self.stats.lock_failures += 1;
                    self.log(|| format!("tab{tab} lock request {lock} rejected"));
                    self.feed(tab, Input::LockFailed { lock });
                    return;
                }
                let owner = (tab, page);
                if self.release_early.remove(&(owner, lock)) {
                    // Let go of before it came: released at once.
                    let grants = self.locks.release(owner, Some(lock));
                    self.deliver_grants(grants);
                    return;
                }
                self.delivered.insert((owner, lock));
                self.log(|| format!("tab{tab} granted lock {lock}"));
                self.feed(tab, Input::LockGranted { lock });
            }
            Ev::PresenceFailed { tab, page } => {
                if self.live(tab, page) {
                    self.stats.lock_failures += 1;
                    self.feed(tab, Input::PresenceFailed);
                }
            }
            Ev::Peers { tab, page, peers } => {
                if self.live(tab, page) {
                    self.feed(tab, Input::PeersCounted { peers });
                }
            }
            Ev::Msg { to, page, text } => {
                if self.live(to, page) {
                    self.feed(to, Input::Message(SecretString::new(text)));
                }
            }
            Ev::Response { req, status } => {
                let r = &self.reqs[req];
                if r.end.is_some() || !r.on_wire || !self.live(r.tab, r.page) {
                    return;
                }
                let tab = r.tab;
                self.reqs[req].on_wire = false;
                self.tabs[tab].waiting += 1;
                self.reqs[req].last_status = status;
                let request = req as RequestId;
                let input = match status {
                    Some(status) => Input::FetchAnswered {
                        request,
                        status,
                        opaque_redirect: false,
                        dpop: Default::default(),
                    },
                    None => Input::FetchFailed {
                        request,
                        aborted: false,
                    },
                };
                self.feed(tab, input);
            }
            Ev::NetChange { online } => {
                self.log(|| format!("pages go {}", if online { "online" } else { "offline" }));
                for tab in 0..self.tabs.len() {
                    if self.tabs[tab].driver.is_some() {
                        self.feed(tab, Input::Online(online));
                    }
                }
            }
            Ev::SetCustomer { tab } => {
                if self.tabs[tab].driver.is_some() && self.logged_in {
                    self.set_customer(tab);
                }
            }
            Ev::Wake { events } => {
                self.log(|| format!("machine wakes (wake events: {events})"));
                for tab in 0..self.tabs.len() {
                    if self.tabs[tab].driver.is_none() {
                        continue;
                    }
                    if events {
                        // visibilitychange / focus.
                        self.feed(tab, Input::Wake);
                    } else if self.tabs[tab].timer.is_some() {
                        // Only the timer can tell the page: capped, it
                        // fires within a minute of awake time.
                        let by = self.now + WAKE_CHECK_MS + self.scn.throttle_max_ms;
                        self.tabs[tab].recheck_by = Some(by);
                    }
                }
            }
            Ev::Op(op) => self.on_op(op),
            Ev::Final => {
                // A failure planted before recovery (a tab that died with
                // the rotated refresh token) may surface only at the next
                // refresh: requests then fail fast for the cool-down.
                let settled = self.last_lost + FAILED_COOL_DOWN_MS + 1_000;
                if self.now < settled {
                    self.final_delay = settled - self.now;
                    self.push(settled, Ev::Final);
                    return;
                }
                self.log(|| "final requests".into());
                for tab in 0..self.tabs.len() {
                    if self.tabs[tab].driver.is_some() {
                        self.request(tab, Kind::Fetch, true);
                    }
                }
            }
            Ev::Mint { call } => self.mint(call),
            Ev::Arrive { req } => self.arrive(req),
            Ev::Sleep { ms, wake_events } => self.sleep(ms, wake_events),
            Ev::Network { online } => {
                self.network_online = online;
                self.push(self.now, Ev::NetChange { online });
            }
            Ev::Recover => {
                self.log(|| "provider recovers, network back".into());
                self.recovered = true;
                // Nothing fails from here on, tab deaths included.
                for t in &mut self.tabs {
                    t.die_after_call = false;
                }
                if !self.network_online {
                    self.network_online = true;
                    self.push(self.now, Ev::NetChange { online: true });
                }
            }
        }
    }

    /// Marks an answer to `call` as arrived; whether its page still runs.
    fn answered(&mut self, tab: usize, page: u32, call: CallId) -> bool {
        if let Some(&key) = self.call_index.get(&(tab, page, call)) {
            self.calls[key].answered = true;
            if self.calls[key].dropped {
                return false;
            }
        }
        self.live(tab, page)
    }

    fn sleep(&mut self, ms: Millis, wake_events: bool) {
        self.log(|| format!("machine sleeps {}", human(ms)));
        self.asleep_until = self.now + ms;
        for t in &mut self.tabs {
            // The page cannot re-check while the machine sleeps again.
            if let Some(by) = t.recheck_by.as_mut() {
                *by += ms;
            }
        }
        if !self.scn.timers_count_sleep {
            // A monotonic clock that stops in sleep: every pending timer
            // fires that much later.
            for tab in 0..self.tabs.len() {
                if let Some((id, due)) = self.tabs[tab].timer {
                    if due > self.now {
                        self.tabs[tab].timer = Some((id, due + ms));
                        let page = self.tabs[tab].page;
                        self.push(due + ms, Ev::Timer { tab, page, id });
                    }
                }
            }
        }
        let at = self.asleep_until;
        self.seq += 1;
        // Ordered after everything that came due during the sleep.
        self.queue.push(Queued {
            at,
            order: at,
            seq: u64::MAX - self.seq,
            ev: Ev::Wake {
                events: wake_events,
            },
        });
    }

    fn open(&mut self, tab: usize) {
        if self.tabs[tab].closed || self.tabs[tab].driver.is_some() {
            return;
        }
        let stored_anonymous_id = self.read_storage(tab, StorageKey::AnonymousId);
        let env = Environment {
            has_provider: true,
            stored_anonymous_id: stored_anonymous_id.clone(),
            online: self.network_online,
            channel: true,
            locks: true,
        };
        let page = self.tabs[tab].page;
        let entropy = SeededEntropy(Rng::new(self.scn.seed, 100 + 64 * tab as u64 + page as u64));
        match Driver::new(self.config.clone(), env, Box::new(entropy), self.now) {
            Ok(d) => {
                if let Some(id) = stored_anonymous_id.filter(|id| id != d.anonymous_id()) {
                    self.fail(
                        "anonymous-id-lost",
                        format!(
                            "tab{tab} page {page} took anonymous id {} though sessionStorage holds {id}",
                            d.anonymous_id()
                        ),
                    );
                }
                self.tabs[tab].driver = Some(d);
            }
            Err(e) => {
                self.fail("open", format!("new ChatAuth failed: {e:?}"));
                return;
            }
        }
        self.log(|| format!("tab{tab} opens page {page}"));
        self.pump(tab);
        if self.logged_in {
            self.set_customer(tab);
        }
    }

    fn set_customer(&mut self, tab: usize) {
        self.request(tab, Kind::SetCustomer, false);
    }

    fn on_op(&mut self, op: Op) {
        match op {
            Op::Burst { tab, count } => {
                if self.tabs[tab].driver.is_none() {
                    return;
                }
                self.log(|| format!("tab{tab} burst of {count} requests"));
                for _ in 0..count {
                    let kind = if self.rng.chance(self.scn.forced_rate) {
                        Kind::ForcedToken
                    } else {
                        match self.rng.range(0, 99) {
                            0..=1 => Kind::ForeignFetch,
                            2 => Kind::ForeignHeaders,
                            3..=5 => Kind::Headers,
                            _ => Kind::Fetch,
                        }
                    };
                    self.request(tab, kind, false);
                }
            }
            Op::Sleep { .. } => {}
            Op::Offline { ms } => {
                self.log(|| format!("network down for {}", human(ms)));
                self.network_online = false;
                self.push(self.now, Ev::NetChange { online: false });
                let back = self.now + ms;
                self.push(back, Ev::Network { online: true });
            }
            Op::Die { tab } => {
                self.kill(tab);
                self.tabs[tab].closed = true;
            }
            Op::DieHolding { tab } => self.tabs[tab].die_after_call = true,
            Op::Destroy { tab } => self.destroy(tab),
            Op::Reload { tab } => {
                if self.tabs[tab].driver.is_none() {
                    return;
                }
                self.log(|| format!("tab{tab} reloads"));
                self.kill(tab);
                self.tabs[tab].page += 1;
                let at = self.now + self.rng.range(50, 1_000);
                self.push(at, Ev::Open { tab });
            }
            Op::Logout { tab } => {
                let has_customer = self.tabs[tab]
                    .driver
                    .as_ref()
                    .is_some_and(|d| d.customer_id().is_some());
                if !has_customer {
                    return;
                }
                self.log(|| format!("tab{tab} clearCustomer"));
                self.logged_in = false;
                self.new_epoch();
                self.request(tab, Kind::ClearCustomer, false);
            }
            Op::Login => {
                self.log(|| "the site logs the customer in again".into());
                self.logged_in = true;
                // Each tab's page hears of the login after the logout's
                // broadcast reached it.
                for tab in 0..self.tabs.len() {
                    let lat = self.scn.tab_latency_ms;
                    let at = self.now + self.rng.range(lat + 1, lat + 2_000);
                    self.push(at, Ev::SetCustomer { tab });
                }
            }
        }
    }

    fn new_epoch(&mut self) {
        self.epoch += 1;
        for g in 0..self.window.len() {
            self.windows.push(Window::default());
            self.window[g] = self.windows.len() - 1;
        }
    }

    /// `destroy()`: every request waiting in the driver is answered at
    /// once and the page lets go of its locks; then the tab closes.
    fn destroy(&mut self, tab: usize) {
        if self.tabs[tab].driver.is_none() {
            return;
        }
        self.log(|| format!("tab{tab} destroy()"));
        self.feed(tab, Input::Destroy);
        let owner = self.owner(tab);
        if self.tabs[tab].waiting != 0 || self.locks.holds_exclusive(owner) {
            let msg = format!(
                "tab{tab} destroyed with {} requests unanswered, holding the refresh lock: {}",
                self.tabs[tab].waiting,
                self.locks.holds_exclusive(owner)
            );
            self.fail("destroy", msg);
        }
        self.kill(tab);
        self.tabs[tab].closed = true;
    }

    /// The tab's page goes (closed, crashed, navigated away): the browser
    /// lets go of its locks; its requests die with it.
    fn kill(&mut self, tab: usize) {
        if self.tabs[tab].driver.is_none() {
            return;
        }
        let owner = self.owner(tab);
        let holding = self.locks.holds_exclusive(owner);
        self.log(|| format!("tab{tab} page goes (holding the lock: {holding})"));
        self.tabs[tab].driver = None;
        self.tabs[tab].timer = None;
        self.tabs[tab].recheck_by = None;
        self.tabs[tab].had_customer = false;
        self.tabs[tab].waiting = 0;
        for r in 0..self.reqs.len() {
            if (self.reqs[r].tab, self.reqs[r].page) == owner && self.reqs[r].end.is_none() {
                self.reqs[r].end = Some(ReqEnd::Died);
            }
        }
        for c in &self.calls {
            if (c.tab, c.page) == owner && !c.answered {
                self.windows[c.window].orphaned = true;
            }
        }
        let grants = self.locks.drop_owner(owner);
        self.deliver_grants(grants);
    }

    // ---- carrying out a driver's effects ------------------------------

    /// Feeds `input` to the tab's page and carries out what it asks.
    fn feed(&mut self, tab: usize, input: Input) {
        let now = self.now;
        if let Some(d) = self.tabs[tab].driver.as_mut() {
            d.handle(now, input);
            self.pump(tab);
        }
    }

    /// An input that arrives while an effect is carried out (a provider
    /// answering synchronously, a storage write that throws): its effects
    /// queue behind the rest.
    fn feed_now(&mut self, tab: usize, input: Input) {
        let now = self.now;
        if let Some(d) = self.tabs[tab].driver.as_mut() {
            d.handle(now, input);
        }
    }

    fn pump(&mut self, tab: usize) {
        loop {
            let now = self.now;
            let Some(fx) = self.tabs[tab].driver.as_mut().and_then(|d| d.poll(now)) else {
                return;
            };
            self.execute(tab, fx);
        }
    }

    fn execute(&mut self, tab: usize, fx: Effect) {
        let page = self.tabs[tab].page;
        match fx {
            Effect::Reply { request, reply } => self.on_reply(tab, request as usize, reply),
            Effect::CallProvider(call) => self.make_call(tab, call, None),
            Effect::PostRefreshGrant { call, body, .. } => {
                let presented = form_value(body.secret(), "refresh_token");
                let current = self.tabs[tab]
                    .driver
                    .as_ref()
                    .and_then(|d| d.session().current_call())
                    .filter(|c| c.id == call);
                match (current, presented) {
                    (Some(c), Some(p)) => self.make_call(tab, c, Some(p)),
                    _ => self.fail(
                        "refresh-grant",
                        format!("tab{tab} posts a refresh grant for call {call} that is not under way, or without a refresh token"),
                    ),
                }
            }
            Effect::CheckToken { call, .. } => self.fail(
                "check-token",
                format!("tab{tab} asks to check call {call}'s token, with no key configured"),
            ),
            Effect::AbortCall(id) => {
                self.log(|| format!("tab{tab} aborts call {id}"));
                if let Some(&k) = self.call_index.get(&(tab, page, id)) {
                    // Half of the providers honour the signal.
                    self.calls[k].dropped = !self.calls[k].answered && self.rng.chance(0.5);
                }
            }
            Effect::ArmTimer { delay_ms } => self.arm_timer(tab, Millis::from(delay_ms)),
            Effect::ClearTimer => {
                self.tabs[tab].timer = None;
                self.tabs[tab].recheck_by = None;
            }
            Effect::Emit(event) => self.on_event(tab, event),
            Effect::LoginNeeded { code, reason } => {
                self.log(|| format!("tab{tab} userLoginHandler({}, {reason})", code.as_str()))
            }
            Effect::Store { key, value } => {
                let value = value.map(|v| v.secret().to_owned());
                self.write_storage(tab, key, value)
            }
            Effect::Post(text) => self.broadcast(tab, text.secret().to_owned()),
            Effect::AcquireLock { lock, name } => {
                if self.tabs[tab].sandboxed || self.tabs[tab].silent_locks {
                    // An opaque origin: the request rejects (SecurityError).
                    // A stub never answers, nor does its query(): the host
                    // gives up after LOCK_WAIT_MS, then its query's bound.
                    let at = if self.tabs[tab].sandboxed {
                        self.now + 1
                    } else {
                        self.now + 2 * Millis::from(driver::LOCK_WAIT_MS)
                    };
                    self.push(at, Ev::lock((tab, page), lock, false));
                    return;
                }
                let grants = self
                    .locks
                    .request((tab, page), Some(lock), name, Mode::Exclusive);
                self.deliver_grants(grants);
            }
            Effect::ReleaseLock(lock) => {
                let owner = (tab, page);
                if self.delivered.remove(&(owner, lock)) {
                    self.log(|| format!("tab{tab} releases lock {lock}"));
                    let grants = self.locks.release(owner, Some(lock));
                    self.deliver_grants(grants);
                } else {
                    self.release_early.insert((owner, lock));
                }
            }
            Effect::HoldPresence { name } => {
                if self.tabs[tab].sandboxed {
                    self.push(self.now + 1, Ev::PresenceFailed { tab, page });
                    return;
                }
                if self.tabs[tab].silent_locks {
                    return;
                }
                let grants = self.locks.request((tab, page), None, name, Mode::Shared);
                self.deliver_grants(grants);
            }
            Effect::CountPeers { prefix, own } => {
                let (peers, at) = if self.tabs[tab].sandboxed {
                    // query() rejects: no peer can be counted.
                    (Vec::new(), self.now + 1)
                } else if self.tabs[tab].silent_locks {
                    (Vec::new(), self.now + Millis::from(driver::LOCK_WAIT_MS))
                } else {
                    let held = self.locks.held_names(&prefix).filter(|n| *n != own);
                    let ids = held.filter_map(|n| n.strip_prefix(prefix.as_str()));
                    (
                        ids.map(str::to_owned).collect(),
                        self.now + self.tab_delay(),
                    )
                };
                self.push(at, Ev::Peers { tab, page, peers });
            }
            Effect::Close => {
                let grants = self.locks.drop_owner((tab, page));
                self.deliver_grants(grants);
            }
            // The simulation runs without `dpop`: these never come.
            Effect::LoadProofKey { .. } | Effect::SignProof { .. } => {
                unreachable!("dpop is off in the simulation: {fx:?}")
            }
        }
    }

    /// A lock grant runs its callback in the page a little later.
    fn deliver_grants(&mut self, grants: Vec<Grant>) {
        for Grant { owner, lock } in grants {
            if let Some(lock) = lock {
                let at = self.now + self.tab_delay();
                self.push(at, Ev::lock(owner, lock, true));
            }
        }
    }

    fn arm_timer(&mut self, tab: usize, delay: Millis) {
        if delay > WAKE_CHECK_MS {
            self.fail(
                "timer",
                format!("tab{tab} arms a timer of {delay} ms, over WAKE_CHECK_MS"),
            );
        }
        self.stats.max_timer_ms = self.stats.max_timer_ms.max(delay);
        // A background tab's timers run late (throttling).
        let late = if self.rng.chance(self.scn.throttle_rate) {
            self.rng.range(0, self.scn.throttle_max_ms)
        } else {
            0
        };
        self.next_timer += 1;
        self.tabs[tab].recheck_by = None;
        let (id, due, page) = (
            self.next_timer,
            self.now + delay + late,
            self.tabs[tab].page,
        );
        self.tabs[tab].timer = Some((id, due));
        self.push(due, Ev::Timer { tab, page, id });
    }

    fn on_event(&mut self, tab: usize, event: Event) {
        match event {
            Event::RefreshFailed {
                code,
                attempt,
                retry_in_ms,
            } => {
                self.stats.max_attempt = self.stats.max_attempt.max(attempt);
                if attempt > self.scn.max_retries + 1 {
                    self.fail(
                        "retries",
                        format!(
                            "tab{tab}: failure of attempt {attempt} in a cycle allowing {}",
                            self.scn.max_retries + 1
                        ),
                    );
                }
                self.log(|| {
                    format!(
                        "tab{tab} refresh failed: {} attempt {attempt}, retry in {retry_in_ms:?}",
                        code.as_str()
                    )
                });
            }
            Event::AuthLost { code } => {
                self.stats.auth_lost += 1;
                self.last_lost = self.now;
                self.log(|| format!("tab{tab} auth lost: {}", code.as_str()));
            }
            Event::State { state, .. } => self.log(|| format!("tab{tab} state {}", state.as_str())),
            other => self.log(|| format!("tab{tab} {}", driver::event_name(&other))),
        }
    }

    /// `key`'s `sessionStorage` name, as the tab's driver names it (the
    /// anonymous id is read before the page's driver exists).
    fn storage_name(&self, tab: usize, key: StorageKey) -> String {
        match (&self.tabs[tab].driver, key) {
            (Some(d), _) => d.storage_name(key).to_owned(),
            (None, StorageKey::AnonymousId) => ANONYMOUS_ID_KEY.to_owned(),
            (None, StorageKey::Token) => {
                unreachable!("the token is read and written by an open page")
            }
        }
    }

    fn read_storage(&self, tab: usize, key: StorageKey) -> Option<String> {
        let t = &self.tabs[tab];
        // A sandboxed frame's sessionStorage getter throws.
        (!t.sandboxed)
            .then(|| t.storage.get(&self.storage_name(tab, key)).cloned())
            .flatten()
    }

    fn write_storage(&mut self, tab: usize, key: StorageKey, value: Option<String>) {
        let throws = self.tabs[tab].sandboxed
            || (value.is_some() && self.rng.chance(self.scn.storage_failure_rate));
        if throws {
            self.stats.storage_failures += 1;
            let name = self.storage_name(tab, key);
            self.log(|| format!("tab{tab} sessionStorage write of {name} throws"));
            self.feed_now(tab, Input::StorageFailed { key });
            return;
        }
        let name = self.storage_name(tab, key);
        let storage = &mut self.tabs[tab].storage;
        match value {
            Some(v) => storage.insert(name, v),
            None => storage.remove(&name),
        };
    }

    /// `postMessage` on the channel: every other page of the same origin
    /// gets it, in the order each sender posted.
    fn broadcast(&mut self, from: usize, text: String) {
        let group = self.group(from);
        for to in 0..self.tabs.len() {
            if to == from || self.group(to) != group {
                continue;
            }
            let Some(page) = self.open_page(to) else {
                continue;
            };
            let at =
                (self.now + self.tab_delay()).max(*self.last_msg.get(&(from, to)).unwrap_or(&0));
            self.last_msg.insert((from, to), at);
            self.push(
                at,
                Ev::Msg {
                    to,
                    page,
                    text: text.clone(),
                },
            );
        }
    }
}

/// One parameter of a form body (the sim's values need no decoding).
fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .map(str::to_owned)
}

//! Deterministic simulation of the session core (issue 5, point 4).
//!
//! Drives the pure core — [`Session`] and [`schedule`] — the way the browser
//! shell does (`src/bindings/runtime.rs`, `tabs.rs`), with a simulated clock,
//! event queue, network, provider, token endpoint, chat server, Web Locks and
//! BroadcastChannel. There is no copy of session logic here: the simulation
//! only plays the shell's part and the outside world's, and checks invariants
//! after every step. Each session is drawn from one seed, so any failure is
//! reproduced by its seed alone; a failing seed is shrunk and printed with its
//! event trace.
//!
//! ```text
//! cargo test --test simulation                           # default size
//! cargo test --test simulation -- --sessions 200000 --seed 1
//! cargo test --test simulation -- --seed 42 --sessions 1 --trace
//! CHAT_AUTH_SIM_SESSIONS=50000 CHAT_AUTH_SIM_SEED=7 cargo test --test simulation
//! ```

use chat_auth::admit::{self, Candidate, Rules};
use chat_auth::base64url;
use chat_auth::clock::Millis;
use chat_auth::config::ValidationConfig;
use chat_auth::error::{Error, ErrorCode};
use chat_auth::grant;
use chat_auth::schedule::{self, RefreshPolicy, MAX_TIMER_MS};
use chat_auth::secret::SecretString;
use chat_auth::session::{
    Access, Call, CallId, Credential, Effects, Event, Session, SessionConfig, Source, State, Via,
};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Mutex;
use std::time::Instant;

/// The page clock (true time) at the start of every session.
const T0: Millis = 1_700_000_000_000;
const CUSTOMER: &str = "cust-1";
/// `tabs.rs`: how long a tab waits for the others' `have` answers.
const ROUND_TIMEOUT_MS: Millis = 500;
/// `runtime.rs`: a request asks for a token at most this often.
const MAX_ASKS: u32 = 16;
const PROVIDER_TIMEOUT_MS: Millis = 15_000;
const DEFAULT_SESSIONS: usize = 10_000;
const DEFAULT_SEED: u64 = 1;

// ---------------------------------------------------------------------------
// Randomness: SplitMix64, so a seed means the same run on every machine.

#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xA24B_AED4_963E_E407));
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// Log-uniform in `lo..=hi` (both > 0): as many short values as long ones.
    fn log_range(&mut self, lo: i64, hi: i64) -> i64 {
        let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
        ((a + (b - a) * self.unit()).exp().round() as i64).clamp(lo, hi)
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }
}

// ---------------------------------------------------------------------------
// Scenarios.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    Steady,
    Short,
    Long,
    Skew,
    Sleep,
    Flaky,
    Offline,
    Busy,
    ManyTabs,
    TabDeath,
    RefusedRotation,
}

const FAMILIES: [Family; 11] = [
    Family::Steady,
    Family::Short,
    Family::Long,
    Family::Skew,
    Family::Sleep,
    Family::Flaky,
    Family::Offline,
    Family::Busy,
    Family::ManyTabs,
    Family::TabDeath,
    Family::RefusedRotation,
];

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Steady => "steady",
            Family::Short => "short-lived",
            Family::Long => "long-lived",
            Family::Skew => "clock-skew",
            Family::Sleep => "sleep",
            Family::Flaky => "flaky-provider",
            Family::Offline => "offline",
            Family::Busy => "429/503",
            Family::ManyTabs => "many-tabs",
            Family::TabDeath => "tab-death",
            Family::RefusedRotation => "refused-rotation",
        }
    }

    fn parse(name: &str) -> Option<Family> {
        FAMILIES.into_iter().find(|f| f.name() == name)
    }

    fn of_seed(seed: u64) -> Family {
        FAMILIES[(seed % FAMILIES.len() as u64) as usize]
    }
}

/// Something that happens to the page or the machine at a planned time.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    /// `count` concurrent chat requests in `tab`.
    Burst { tab: usize, count: u32 },
    /// The whole machine sleeps: no timer or task runs for `ms`.
    Sleep { ms: Millis },
    /// The network is down for `ms`.
    Offline { ms: Millis },
    /// The tab closes (or crashes).
    Die { tab: usize },
    /// The tab dies right after it next makes a call holding the lock.
    DieHolding { tab: usize },
    /// `clearCustomer` in `tab`.
    Logout { tab: usize },
    /// The site logs the customer in again (`setCustomer` in every tab).
    Login,
}

impl Op {
    fn tab(&self) -> Option<usize> {
        match *self {
            Op::Burst { tab, .. }
            | Op::Die { tab }
            | Op::DieHolding { tab }
            | Op::Logout { tab } => Some(tab),
            _ => None,
        }
    }

    fn with_tab(self, tab: usize) -> Op {
        match self {
            Op::Burst { count, .. } => Op::Burst { tab, count },
            Op::Die { .. } => Op::Die { tab },
            Op::DieHolding { .. } => Op::DieHolding { tab },
            Op::Logout { .. } => Op::Logout { tab },
            other => other,
        }
    }
}

#[derive(Clone, Debug)]
struct Scenario {
    seed: u64,
    family: Family,
    /// When each tab opens (tab 0 at 0).
    open_at: Vec<Millis>,
    /// Token lifetime, whole seconds.
    ttl_ms: Millis,
    /// Issuer clock minus true time (the page clock is true time).
    issuer_offset_ms: Millis,
    /// Provider / token endpoint round trip.
    latency_ms: (Millis, Millis),
    /// Chat request, one way.
    request_latency_ms: (Millis, Millis),
    /// Longest delay of a BroadcastChannel message or a lock grant.
    tab_latency_ms: Millis,
    failure_rate: f64,
    timeout_rate: f64,
    bad_answer_rate: f64,
    token_endpoint: bool,
    busy_rate: f64,
    /// The token endpoint rotates the refresh token but its access token is
    /// refused (another customer's): the first answer always, later ones at
    /// this rate.
    refused_rotation_rate: f64,
    throttle_rate: f64,
    throttle_max_ms: Millis,
    forced_rate: f64,
    max_retries: u32,
    duration_ms: Millis,
    ops: Vec<(Millis, Op)>,
}

impl Scenario {
    fn draw(seed: u64, family: Family) -> Scenario {
        let mut r = Rng::new(seed, 1);
        let sec = 1_000;
        let min = 60 * sec;
        let hour = 60 * min;
        let day = 24 * hour;
        let ttl_s = match family {
            Family::Short => r.log_range(5, 60),
            Family::Long => r.log_range(day / sec, 40 * day / sec),
            Family::Skew => r.log_range(5, 2 * hour / sec),
            Family::Sleep => r.log_range(5, day / sec),
            Family::Flaky | Family::Offline | Family::Busy | Family::RefusedRotation => {
                r.log_range(5, hour / sec)
            }
            _ => r.log_range(60, day / sec),
        };
        let ttl_ms = ttl_s * sec;
        let tabs = match family {
            Family::ManyTabs => r.range(5, 8),
            Family::TabDeath => r.range(2, 8),
            _ => r.range(1, 4),
        } as usize;
        let issuer_offset_ms = match family {
            Family::Skew => r.range(-10 * min, 10 * min),
            _ => r.range(-2 * sec, 2 * sec),
        };
        let lat_lo = r.range(0, 300);
        let latency_ms = (lat_lo, lat_lo + r.log_range(1, 4_000));
        let req_lo = r.range(1, 40);
        let request_latency_ms = (req_lo, req_lo + r.log_range(1, 250));
        let duration_ms = (ttl_ms * r.range(2, 5)).max(min);
        let mut s = Scenario {
            seed,
            family,
            open_at: vec![0; tabs],
            ttl_ms,
            issuer_offset_ms,
            latency_ms,
            request_latency_ms,
            tab_latency_ms: r.log_range(1, 50),
            failure_rate: 0.0,
            timeout_rate: 0.0,
            bad_answer_rate: 0.0,
            token_endpoint: false,
            busy_rate: 0.0,
            refused_rotation_rate: 0.0,
            throttle_rate: 0.1,
            throttle_max_ms: sec,
            forced_rate: 0.02,
            max_retries: if r.chance(0.7) {
                5
            } else {
                r.range(0, 6) as u32
            },
            duration_ms,
            ops: Vec::new(),
        };
        for t in 1..tabs {
            if r.chance(0.5) {
                s.open_at[t] = r.range(0, duration_ms / 2);
            }
        }
        match family {
            Family::Flaky => {
                s.failure_rate = r.unit() * 0.5;
                s.timeout_rate = r.unit() * 0.2;
                s.bad_answer_rate = r.unit() * 0.3;
            }
            Family::Offline => {
                s.failure_rate = r.unit() * 0.2;
                for _ in 0..r.range(1, 3) {
                    let at = r.range(0, duration_ms - sec);
                    let ms = r.log_range(sec, 10 * min).min(duration_ms - at);
                    s.ops.push((at, Op::Offline { ms }));
                }
            }
            Family::RefusedRotation => {
                s.token_endpoint = true;
                s.refused_rotation_rate = r.unit() * 0.4;
            }
            Family::Busy => {
                s.token_endpoint = true;
                s.busy_rate = r.unit() * 0.5;
                s.failure_rate = r.unit() * 0.1;
            }
            Family::Sleep => {
                s.throttle_rate = 0.5;
                s.throttle_max_ms = min;
                let mut at = 0;
                for _ in 0..r.range(1, 4) {
                    at += r.range(0, duration_ms / 3);
                    let ms = r.log_range(sec, (3 * ttl_ms).max(2 * sec));
                    if at + ms >= duration_ms {
                        break;
                    }
                    s.ops.push((at, Op::Sleep { ms }));
                    at += ms + 1;
                }
            }
            Family::TabDeath => {
                for _ in 0..r.range(1, 3) {
                    let tab = r.range(0, tabs as i64 - 1) as usize;
                    s.ops.push((r.range(0, duration_ms), Op::Die { tab }));
                }
                for _ in 0..r.range(1, 2) {
                    let tab = r.range(0, tabs as i64 - 1) as usize;
                    s.ops
                        .push((r.range(0, duration_ms / 2), Op::DieHolding { tab }));
                }
            }
            _ => {}
        }
        if matches!(
            family,
            Family::Steady | Family::Short | Family::ManyTabs | Family::TabDeath
        ) {
            // The refresh grant with a rotating refresh token, where tabs
            // racing on one refresh token would be refused.
            s.token_endpoint = r.chance(0.25);
        }
        let (bursts, burst_max) = match family {
            Family::ManyTabs => (r.range(4, 16), 20),
            _ => (r.range(2, 10), 8),
        };
        for _ in 0..bursts {
            let tab = r.range(0, tabs as i64 - 1) as usize;
            let at = r.range(s.open_at[tab], duration_ms);
            let count = r.range(1, burst_max) as u32;
            s.ops.push((at, Op::Burst { tab, count }));
            if family == Family::ManyTabs && r.chance(0.5) {
                // The same moment in every tab (a reconnect, a broadcast
                // UI action), where forced refreshes and lock queues meet.
                for other in (0..tabs).filter(|&t| t != tab) {
                    let count = r.range(1, burst_max) as u32;
                    s.ops
                        .push((at + r.range(0, 100), Op::Burst { tab: other, count }));
                }
            }
        }
        if family == Family::ManyTabs {
            s.forced_rate = r.unit() * 0.3;
        }
        if r.chance(0.1) {
            let at = r.range(0, duration_ms * 3 / 4);
            let tab = r.range(0, tabs as i64 - 1) as usize;
            s.ops.push((at, Op::Logout { tab }));
            s.ops.push((at + r.range(sec, 30 * sec), Op::Login));
        }
        s.ops.sort_by_key(|(at, _)| *at);
        s
    }

    fn tabs(&self) -> usize {
        self.open_at.len()
    }

    fn offline_periods(&self) -> bool {
        self.ops
            .iter()
            .any(|(_, op)| matches!(op, Op::Offline { .. }))
    }

    /// The provider answers every call in time (latency only).
    fn no_failure(&self) -> bool {
        self.rotations_answered() && self.refused_rotation_rate == 0.0 && !self.refuses_rotations()
    }

    /// Every call is answered, though some answers may be refused rotations:
    /// then no tab may ever present a spent refresh token.
    fn rotations_answered(&self) -> bool {
        self.failure_rate == 0.0
            && self.timeout_rate == 0.0
            && self.bad_answer_rate == 0.0
            && self.busy_rate == 0.0
            && !self.offline_periods()
    }

    fn refuses_rotations(&self) -> bool {
        self.family == Family::RefusedRotation
    }

    /// The page's view of a token's lifetime at worst: the answer's latency
    /// plus `iat`'s whole seconds eat into it. A page clock running ahead is
    /// corrected (`schedule::issuer_clock_offset`) once two readings of the
    /// issuer's clock agree: until then a token is judged on the page clock,
    /// where the first one looks shorter-lived, or already expired (refused;
    /// the next answer's reading then agrees with its reading).
    fn page_lifetime_min(&self) -> Millis {
        let corrected = self.ttl_ms - self.latency_ms.1 - 1_000;
        let first = corrected + self.issuer_offset_ms.min(0);
        if first <= 0 {
            corrected
        } else {
            first.min(corrected)
        }
    }

    /// Tokens arrive with enough life left for the session to work at all.
    fn admissible(&self) -> bool {
        self.page_lifetime_min() > self.latency_ms.1 + 1_000
    }

    /// The provider can answer before expiry: no failures, and the refresh
    /// margin (at least 90 % of min(60 s, lifetime / 4), jitter included)
    /// covers a request's trip plus the error of the page's estimate of the
    /// expiry (with the issuer ahead, `iat` tells the offset only up to the
    /// answer's latency and `iat`'s truncation to seconds).
    fn answerable(&self) -> bool {
        let margin = (self.page_lifetime_min() / 4).min(60_000);
        // Whenever `iat` sets the offset with the issuer ahead, the estimate
        // errs late by up to the answer's latency and `iat`'s truncation to
        // whole seconds. A page clock ahead is corrected by the smallest lead
        // two readings allow, which never errs late.
        let corrected = self.issuer_offset_ms > 0;
        let estimate_error = if corrected {
            self.latency_ms.1 + 1_000
        } else {
            0
        };
        self.no_failure()
            && self.admissible()
            && (self.request_latency_ms.1 + estimate_error) * 10 < margin * 9
    }

    /// How long after the failures stop every session must have recovered:
    /// a call under way times out, a retry waits its backoff or Retry-After,
    /// a cool-down runs out.
    fn recovery_ms(&self) -> Millis {
        // A tab that dies after spending the rotating refresh token makes
        // the others' next refresh-grant fail once.
        let deaths = self
            .ops
            .iter()
            .any(|(_, op)| matches!(op, Op::Die { .. } | Op::DieHolding { .. }));
        if self.no_failure() && self.admissible() && !(deaths && self.token_endpoint) {
            15_000
        } else {
            PROVIDER_TIMEOUT_MS + 60_000 + chat_auth::session::FAILED_COOL_DOWN_MS + 15_000
        }
    }

    fn describe(&self) -> String {
        format!(
            "tabs {} (open at {:?}), ttl {}, issuer offset {} ms, provider latency {:?} ms, request latency {:?} ms, tab latency {} ms, \
             failure {:.2}, timeout {:.2}, bad answers {:.2}, token endpoint {}, 429/503 {:.2}, throttle {:.2} up to {} ms, \
             forced {:.2}, max retries {}, duration {}, ops {:?}",
            self.tabs(),
            self.open_at,
            human(self.ttl_ms),
            self.issuer_offset_ms,
            self.latency_ms,
            self.request_latency_ms,
            self.tab_latency_ms,
            self.failure_rate,
            self.timeout_rate,
            self.bad_answer_rate,
            self.token_endpoint,
            self.busy_rate,
            self.throttle_rate,
            self.throttle_max_ms,
            self.forced_rate,
            self.max_retries,
            human(self.duration_ms),
            self.ops
        )
    }
}

fn human(ms: Millis) -> String {
    match ms {
        ms if ms >= 86_400_000 => format!("{:.1} d", ms as f64 / 86_400_000.0),
        ms if ms >= 3_600_000 => format!("{:.1} h", ms as f64 / 3_600_000.0),
        ms if ms >= 60_000 => format!("{:.1} min", ms as f64 / 60_000.0),
        ms => format!("{:.1} s", ms as f64 / 1_000.0),
    }
}

// ---------------------------------------------------------------------------
// The world's events.

#[derive(Clone, Debug)]
enum Msg {
    Token(String),
    /// `tabs.rs` `refresh`: a rotated refresh token and when it arrived
    /// (every message with a token carries one too: sent just before it).
    Refresh(String, Millis),
    Logout(String),
    Want {
        round: u64,
        customer: String,
    },
    Have {
        round: u64,
        credential: Option<String>,
    },
}

#[derive(Clone, Debug)]
enum Answer {
    /// JSON text of a context or token response, and the `Date` header.
    Context {
        text: String,
        server_date: Option<Millis>,
    },
    Fail(Error),
}

#[derive(Clone, Copy, Debug)]
enum Outcome {
    Timeout,
    Offline,
    Fail,
    Busy {
        retry_after_ms: Millis,
    },
    Malformed,
    ExpiredAnswer,
    WrongCustomer,
    Unchanged,
    /// Rotates the refresh token; the access token is refused.
    RefusedRotation,
    Success,
}

#[derive(Debug)]
enum Ev {
    // The page's events: they wait while the machine sleeps.
    Open {
        tab: usize,
    },
    Timer {
        tab: usize,
        token: u64,
    },
    Answer {
        tab: usize,
        call: CallId,
        answer: Answer,
    },
    Grant {
        tab: usize,
        call: CallId,
    },
    RoundTimeout {
        tab: usize,
        round: u64,
    },
    Msg {
        to: usize,
        from: usize,
        msg: Msg,
    },
    Response {
        req: usize,
        status: u16,
    },
    NetChange {
        online: bool,
    },
    SetCustomer {
        tab: usize,
    },
    Wake,
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
    },
    Network {
        online: bool,
    },
    Recover,
}

impl Ev {
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
// Tabs, requests, calls.

struct RoundState {
    id: u64,
    customer: String,
    missing: usize,
    offers: Vec<String>,
}

struct Tab {
    session: Session,
    open: bool,
    alive: bool,
    timer_token: u64,
    /// When the armed timer is due (before any throttling).
    timer_due: Option<Millis>,
    holds_lock: bool,
    round: Option<RoundState>,
    waiting: Vec<usize>,
    die_after_call: bool,
    online: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqEnd {
    Sent {
        with_token: bool,
    },
    Rejected(ErrorCode),
    /// The server's 401 went to the app (after the one replay, or with no
    /// better token to replay with).
    Unauthorized,
    Died,
}

struct Request {
    tab: usize,
    created_at: Millis,
    force: bool,
    asks: u32,
    /// Waiting for a token to replay with after a 401.
    after_401: bool,
    replayed: bool,
    token_used: Option<String>,
    end: Option<ReqEnd>,
    /// Made after recovery by a tab with a customer: it must go out with a
    /// token.
    is_final: bool,
}

struct CallRec {
    tab: usize,
    id: CallId,
    via: Via,
    started_at: Millis,
    latency: Millis,
    outcome: Outcome,
    refresh_token: Option<String>,
    epoch: u64,
    window: usize,
    answered: bool,
    /// The token it minted, if any.
    token: Option<String>,
}

#[derive(Default)]
struct Window {
    calls: u32,
    /// A caller died before its answer: another tab must call again.
    orphaned: bool,
    closed_by_mint: bool,
}

/// What one session measured.
#[derive(Clone, Default)]
struct Stats {
    steps: u64,
    requests: u64,
    sent_with_token: u64,
    expired_page: u64,
    expired_server: u64,
    /// Of those, in answerable sessions with a token that did not wait out
    /// a sleep: must be 0.
    expired_server_avoidable: u64,
    calls: u64,
    /// Calls in each refresh window that ended with a new token, and
    /// whether a caller died in it (another tab then had to call again).
    window_calls: Vec<(u32, bool)>,
    max_attempt: u32,
    max_timer_ms: Millis,
    chained_timers: u64,
    lost: u64,
    rejected: BTreeMap<&'static str, u64>,
    unauthorized: u64,
    died: u64,
    auth_lost: u64,
    max_wait_ms: Millis,
}

struct Violation {
    kind: &'static str,
    message: String,
}

struct World<'a> {
    scn: &'a Scenario,
    rng: Rng,
    now: Millis,
    seq: u64,
    queue: BinaryHeap<Queued>,
    tabs: Vec<Tab>,
    lock_holder: Option<usize>,
    lock_queue: VecDeque<(usize, CallId)>,
    next_round: u64,
    last_msg: HashMap<(usize, usize), Millis>,
    reqs: Vec<Request>,
    micro: VecDeque<usize>,
    calls: Vec<CallRec>,
    call_index: HashMap<(usize, CallId), usize>,
    windows: Vec<Window>,
    window: usize,
    epoch: u64,
    minted: u64,
    /// Token → expiry on the issuer's clock (ms).
    tokens: HashMap<String, Millis>,
    latest_refresh: Option<String>,
    /// Token-endpoint answers that rotated the refresh token with a refused
    /// access token.
    refused_rotations: u64,
    /// Tokens whose answer reached the page only after a sleep.
    slept_tokens: HashSet<String>,
    stored: HashMap<(String, Millis, Option<Millis>), String>,
    restored: HashMap<String, Option<Credential>>,
    latest_refresh_call: Option<usize>,
    asleep_until: Millis,
    network_online: bool,
    recovered: bool,
    logged_in: bool,
    anon: u64,
    stats: Stats,
    violation: Option<Violation>,
    trace: Option<Vec<String>>,
}

impl<'a> World<'a> {
    fn new(scn: &'a Scenario, trace: bool) -> World<'a> {
        let config = SessionConfig {
            policy: RefreshPolicy {
                margin_ms: 60_000,
                max_retries: scn.max_retries,
                provider_timeout_ms: PROVIDER_TIMEOUT_MS,
            },
            has_provider: true,
            has_token_endpoint: scn.token_endpoint,
        };
        let tabs = (0..scn.tabs())
            .map(|t| Tab {
                session: Session::new(format!("anon-{t}-0"), config.clone()),
                open: false,
                alive: true,
                timer_token: 0,
                timer_due: None,
                holds_lock: false,
                round: None,
                waiting: Vec::new(),
                die_after_call: false,
                online: true,
            })
            .collect();
        let mut w = World {
            scn,
            rng: Rng::new(scn.seed, 2),
            now: T0,
            seq: 0,
            queue: BinaryHeap::new(),
            tabs,
            lock_holder: None,
            lock_queue: VecDeque::new(),
            next_round: 1,
            last_msg: HashMap::new(),
            reqs: Vec::new(),
            micro: VecDeque::new(),
            calls: Vec::new(),
            call_index: HashMap::new(),
            windows: vec![Window::default()],
            window: 0,
            epoch: 0,
            minted: 0,
            tokens: HashMap::new(),
            latest_refresh: None,
            refused_rotations: 0,
            slept_tokens: HashSet::new(),
            stored: HashMap::new(),
            restored: HashMap::new(),
            latest_refresh_call: None,
            asleep_until: T0,
            network_online: true,
            recovered: false,
            logged_in: true,
            anon: 0,
            stats: Stats::default(),
            violation: None,
            trace: trace.then(Vec::new),
        };
        for (tab, &at) in scn.open_at.iter().enumerate() {
            w.push(T0 + at, Ev::Open { tab });
        }
        for &(at, op) in &scn.ops {
            let ev = match op {
                Op::Sleep { ms } => Ev::Sleep { ms },
                Op::Offline { ms } => Ev::Op(Op::Offline { ms }),
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
        let cycle = (Millis::from(scn.max_retries) + 1)
            * (PROVIDER_TIMEOUT_MS + schedule::MAX_BACKOFF_MS + scn.latency_ms.1)
            + ROUND_TIMEOUT_MS;
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

    fn live(&self, tab: usize) -> bool {
        self.tabs[tab].alive && self.tabs[tab].open
    }

    fn jitter(&mut self) -> f64 {
        self.rng.unit()
    }

    // ---- the run ------------------------------------------------------

    fn run(mut self) -> (Result<Stats, Violation>, Option<Vec<String>>) {
        let end = self.end();
        while let Some(q) = self.queue.pop() {
            if q.at > end {
                break;
            }
            if q.ev.waits_for_wake() && q.at < self.asleep_until {
                // The machine sleeps: the page runs this when it wakes, in
                // the order it was due. A token that waits out the sleep
                // may arrive with less life left than a request's trip.
                if let Ev::Answer { tab, call, .. } = &q.ev {
                    let token = self
                        .call_index
                        .get(&(*tab, *call))
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
            while let Some(r) = self.micro.pop_front() {
                self.ask(r);
            }
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
            Ev::Timer { tab, token } => {
                if self.live(tab) && self.tabs[tab].timer_token == token {
                    self.tabs[tab].timer_due = None;
                    let now = self.now;
                    let fx = self.tabs[tab].session.tick(now);
                    self.log(|| format!("tab{tab} timer"));
                    self.after(tab, fx);
                }
            }
            Ev::Answer { tab, call, answer } => self.on_answer(tab, call, answer),
            Ev::Grant { tab, call } => self.on_grant(tab, call),
            Ev::RoundTimeout { tab, round } => {
                if self.live(tab) && self.tabs[tab].round.as_ref().is_some_and(|r| r.id == round) {
                    self.log(|| format!("tab{tab} round {round} timed out"));
                    self.finish_round(tab);
                }
            }
            Ev::Msg { to, from, msg } => self.on_msg(to, from, msg),
            Ev::Response { req, status } => self.on_response(req, status),
            Ev::NetChange { online } => {
                for tab in 0..self.tabs.len() {
                    if self.live(tab) && self.tabs[tab].online != online {
                        self.tabs[tab].online = online;
                        let now = self.now;
                        let fx = self.tabs[tab].session.set_online(online, now);
                        self.log(|| {
                            format!("tab{tab} {}", if online { "online" } else { "offline" })
                        });
                        self.after(tab, fx);
                    }
                }
            }
            Ev::SetCustomer { tab } => {
                if self.live(tab) && self.logged_in {
                    self.set_customer(tab);
                }
            }
            Ev::Wake => {
                self.log(|| "machine wakes".into());
                for tab in 0..self.tabs.len() {
                    if self.live(tab) {
                        // visibilitychange / focus: re-check at once.
                        let now = self.now;
                        let fx = self.tabs[tab].session.tick(now);
                        self.after(tab, fx);
                    }
                }
            }
            Ev::Op(op) => self.on_op(op),
            Ev::Final => {
                self.log(|| "final requests".into());
                for tab in 0..self.tabs.len() {
                    if self.live(tab) {
                        let r = self.new_request(tab, false, true);
                        self.ask(r);
                    }
                }
            }
            Ev::Mint { call } => self.mint(call),
            Ev::Arrive { req } => self.arrive(req),
            Ev::Sleep { ms } => {
                self.log(|| format!("machine sleeps {}", human(ms)));
                self.asleep_until = self.now + ms;
                let at = self.asleep_until;
                self.seq += 1;
                // Ordered after everything that came due during the sleep.
                self.queue.push(Queued {
                    at,
                    order: at,
                    seq: u64::MAX - self.seq,
                    ev: Ev::Wake,
                });
            }
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

    fn open(&mut self, tab: usize) {
        if !self.tabs[tab].alive {
            return;
        }
        self.tabs[tab].open = true;
        self.log(|| format!("tab{tab} opens"));
        if !self.network_online {
            self.tabs[tab].online = false;
            let now = self.now;
            let fx = self.tabs[tab].session.set_online(false, now);
            self.after(tab, fx);
        }
        if self.logged_in {
            self.set_customer(tab);
        }
    }

    fn set_customer(&mut self, tab: usize) {
        let now = self.now;
        match self.tabs[tab].session.set_customer(CUSTOMER, now) {
            Ok(fx) => {
                self.log(|| format!("tab{tab} setCustomer"));
                self.after(tab, fx);
            }
            Err(e) => self.fail("set-customer", format!("setCustomer refused: {e:?}")),
        }
    }

    fn on_op(&mut self, op: Op) {
        match op {
            Op::Burst { tab, count } => {
                if !self.live(tab) {
                    return;
                }
                self.log(|| format!("tab{tab} burst of {count} requests"));
                for _ in 0..count {
                    let force = self.rng.chance(self.scn.forced_rate);
                    let r = self.new_request(tab, force, false);
                    self.ask(r);
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
            Op::Die { tab } => self.kill(tab),
            Op::DieHolding { tab } => self.tabs[tab].die_after_call = true,
            Op::Logout { tab } => {
                if !self.live(tab) || self.tabs[tab].session.customer_id().is_none() {
                    return;
                }
                self.log(|| format!("tab{tab} clearCustomer"));
                self.logged_in = false;
                self.new_epoch();
                let anon = self.next_anon(tab);
                match self.tabs[tab].session.clear_customer(anon) {
                    Ok(fx) => self.after(tab, fx),
                    Err(e) => self.fail("logout", format!("clearCustomer refused: {e:?}")),
                }
                self.broadcast(tab, Msg::Logout(CUSTOMER.into()));
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

    fn next_anon(&mut self, tab: usize) -> String {
        self.anon += 1;
        format!("anon-{tab}-{}", self.anon)
    }

    fn new_epoch(&mut self) {
        self.epoch += 1;
        self.windows.push(Window::default());
        self.window = self.windows.len() - 1;
    }

    fn kill(&mut self, tab: usize) {
        if !self.tabs[tab].alive {
            return;
        }
        let holding = self.tabs[tab].holds_lock;
        self.log(|| format!("tab{tab} dies (holding the lock: {holding})"));
        self.tabs[tab].alive = false;
        for r in 0..self.reqs.len() {
            if self.reqs[r].tab == tab && self.reqs[r].end.is_none() {
                self.reqs[r].end = Some(ReqEnd::Died);
            }
        }
        self.tabs[tab].waiting.clear();
        for c in &self.calls {
            if c.tab == tab && !c.answered {
                self.windows[c.window].orphaned = true;
            }
        }
        // The browser lets go of a dead tab's locks.
        self.lock_queue.retain(|&(t, _)| t != tab);
        if self.lock_holder == Some(tab) {
            self.tabs[tab].holds_lock = false;
            self.lock_holder = None;
            self.grant_next();
        }
    }

    // ---- the shell: effects ------------------------------------------

    /// `Runtime::after`: events, abort, call, release, login, timer, lock.
    fn after(&mut self, tab: usize, fx: Effects) {
        let events = self.tabs[tab].session.drain_events();
        for ev in events {
            match ev {
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
                        format!("tab{tab} refresh failed: {} attempt {attempt}, retry in {retry_in_ms:?}", code.as_str())
                    });
                }
                Event::AuthLost { code } => {
                    self.stats.auth_lost += 1;
                    self.log(|| format!("tab{tab} auth lost: {}", code.as_str()));
                }
                Event::State { state, .. } => {
                    self.log(|| format!("tab{tab} state {}", state.as_str()))
                }
                _ => {}
            }
        }
        if let Some(id) = fx.abort {
            self.log(|| format!("tab{tab} aborts call {id}"));
        }
        if let Some(call) = fx.call {
            self.start_call(tab, call);
        }
        if let Some(result) = fx.release {
            let waiters = std::mem::take(&mut self.tabs[tab].waiting);
            for r in waiters {
                match &result {
                    Ok(()) => self.micro.push_back(r),
                    Err(e) => self.end_request(r, ReqEnd::Rejected(e.code())),
                }
            }
        }
        self.arm_timer(tab);
        self.release_lock_when_done(tab);
    }

    fn arm_timer(&mut self, tab: usize) {
        let Some(wake) = self.tabs[tab].session.next_wake() else {
            self.tabs[tab].timer_token += 1;
            self.tabs[tab].timer_due = None;
            return;
        };
        let wanted = wake - self.now;
        let delay = wanted.clamp(0, MAX_TIMER_MS);
        if self.tabs[tab].timer_due == Some(self.now + delay) {
            // Re-arming for the same moment changes nothing.
            return;
        }
        self.tabs[tab].timer_token += 1;
        self.tabs[tab].timer_due = Some(self.now + delay);
        if wanted > MAX_TIMER_MS {
            self.stats.chained_timers += 1;
        }
        if delay > MAX_TIMER_MS {
            self.fail("timer", format!("timer of {delay} ms exceeds MAX_TIMER_MS"));
        }
        self.stats.max_timer_ms = self.stats.max_timer_ms.max(delay);
        let late = if self.rng.chance(self.scn.throttle_rate) {
            self.rng.range(0, self.scn.throttle_max_ms)
        } else {
            0
        };
        let token = self.tabs[tab].timer_token;
        self.push(self.now + delay + late, Ev::Timer { tab, token });
    }

    fn release_lock_when_done(&mut self, tab: usize) {
        let t = &self.tabs[tab];
        if t.holds_lock && !t.session.refreshing() {
            self.log(|| format!("tab{tab} releases the lock"));
            self.tabs[tab].holds_lock = false;
            self.lock_holder = None;
            self.grant_next();
        }
    }

    fn grant_next(&mut self) {
        while self.lock_holder.is_none() {
            let Some((tab, call)) = self.lock_queue.pop_front() else {
                return;
            };
            if !self.tabs[tab].alive {
                continue;
            }
            self.lock_holder = Some(tab);
            let at = self.now + self.rng.range(0, self.scn.tab_latency_ms);
            self.push(at, Ev::Grant { tab, call });
        }
    }

    /// `Runtime::start_call`.
    fn start_call(&mut self, tab: usize, call: Call) {
        let has_customer = self.tabs[tab].session.customer_id().is_some();
        if has_customer && !self.tabs[tab].holds_lock {
            self.log(|| {
                format!(
                    "tab{tab} call {} ({}) waits for the lock",
                    call.id,
                    call.reason.as_str()
                )
            });
            self.tabs[tab].session.await_grant(call.id);
            if self.lock_holder.is_none() && self.lock_queue.is_empty() {
                self.lock_holder = Some(tab);
                let at = self.now + self.rng.range(0, self.scn.tab_latency_ms);
                self.push(at, Ev::Grant { tab, call: call.id });
            } else {
                self.lock_queue.push_back((tab, call.id));
            }
            return;
        }
        let now = self.now;
        if let Some(call) = self.tabs[tab].session.call_granted(call.id, now) {
            self.make_call(tab, call);
        }
    }

    /// `Tabs::acquire`'s grant and `Runtime::lock_granted`, up to the
    /// round: the grant serves whichever call waits for it now (the one it
    /// was requested for may have been replaced meanwhile).
    fn on_grant(&mut self, tab: usize, requested_for: CallId) {
        if !self.tabs[tab].alive {
            return;
        }
        if self.tabs[tab].holds_lock {
            self.fail("lock", format!("tab{tab} granted the lock it holds"));
            return;
        }
        self.tabs[tab].holds_lock = true;
        let waiting = self.tabs[tab].session.call_awaiting_grant();
        let customer = self.tabs[tab].session.customer_id().map(str::to_owned);
        self.log(|| {
            format!("tab{tab} granted the lock (requested for call {requested_for}, waiting {waiting:?})")
        });
        let peers = (0..self.tabs.len())
            .filter(|&u| u != tab && self.live(u))
            .count();
        match customer {
            Some(customer) if waiting.is_some() && peers > 0 => {
                let id = self.next_round;
                self.next_round += 1;
                self.tabs[tab].round = Some(RoundState {
                    id,
                    customer: customer.clone(),
                    missing: peers,
                    offers: Vec::new(),
                });
                self.broadcast(
                    tab,
                    Msg::Want {
                        round: id,
                        customer,
                    },
                );
                let at = self.now + ROUND_TIMEOUT_MS;
                self.push(at, Ev::RoundTimeout { tab, round: id });
            }
            _ => self.grant_call(tab),
        }
    }

    fn finish_round(&mut self, tab: usize) {
        let Some(round) = self.tabs[tab].round.take() else {
            return;
        };
        for text in round.offers {
            if self.tabs[tab].session.customer_id() != Some(round.customer.as_str()) {
                break;
            }
            if let Some(credential) = self.restore(&text, &round.customer) {
                self.adopt(tab, credential);
            }
        }
        self.grant_call(tab);
    }

    /// The end of `Runtime::lock_granted`: the call still waiting for the
    /// lock goes out while the lock is still held.
    fn grant_call(&mut self, tab: usize) {
        let waiting = self.tabs[tab].session.call_awaiting_grant();
        if let (Some(id), true) = (waiting, self.tabs[tab].holds_lock) {
            let now = self.now;
            if let Some(call) = self.tabs[tab].session.call_granted(id, now) {
                self.make_call(tab, call);
            }
        }
        self.after(tab, Effects::default());
    }

    fn adopt(&mut self, tab: usize, credential: Credential) {
        let now = self.now;
        let jitter = self.jitter();
        let fx = self.tabs[tab].session.adopt(credential, now, jitter);
        if fx != Effects::default() {
            self.log(|| format!("tab{tab} adopts another tab's token"));
        }
        self.after(tab, fx);
    }

    /// `admit::store`, memoised: a pure function of the credential, and
    /// the simulation's hottest path in a debug build.
    fn store(&mut self, customer: &str, c: &Credential) -> String {
        let key = (c.token.secret().to_owned(), c.received_at, c.expires_at);
        if let Some(text) = self.stored.get(&key) {
            return text.clone();
        }
        let text = admit::store(customer, c);
        self.stored.insert(key, text.clone());
        text
    }

    /// `admit::restore`, memoised likewise.
    fn restore(&mut self, text: &str, customer: &str) -> Option<Credential> {
        if let Some(c) = self.restored.get(text) {
            return c.clone();
        }
        let c = admit::restore(text, customer);
        self.restored.insert(text.to_owned(), c.clone());
        c
    }

    /// `Tabs::share_refresh_token` (to every tab), or the refresh token a
    /// `have` answer carries (to the asker): the sender's newest.
    fn share_refresh_token(&mut self, from: usize, to: Option<usize>) {
        let s = &self.tabs[from].session;
        let (Some(refresh), Some(at)) = (s.refresh_token(), s.refresh_token_at()) else {
            return;
        };
        let msg = Msg::Refresh(refresh.secret().to_owned(), at);
        match to {
            Some(to) => self.send_to(from, to, msg),
            None => self.broadcast(from, msg),
        }
    }

    fn broadcast(&mut self, from: usize, msg: Msg) {
        for to in 0..self.tabs.len() {
            if to != from && self.live(to) {
                let at = (self.now + self.rng.range(0, self.scn.tab_latency_ms))
                    .max(*self.last_msg.get(&(from, to)).unwrap_or(&0));
                self.last_msg.insert((from, to), at);
                self.push(
                    at,
                    Ev::Msg {
                        to,
                        from,
                        msg: msg.clone(),
                    },
                );
            }
        }
    }

    fn send_to(&mut self, from: usize, to: usize, msg: Msg) {
        let at = (self.now + self.rng.range(0, self.scn.tab_latency_ms))
            .max(*self.last_msg.get(&(from, to)).unwrap_or(&0));
        self.last_msg.insert((from, to), at);
        self.push(at, Ev::Msg { to, from, msg });
    }

    fn on_msg(&mut self, to: usize, from: usize, msg: Msg) {
        if !self.live(to) {
            return;
        }
        let customer = self.tabs[to].session.customer_id().map(str::to_owned);
        match msg {
            Msg::Refresh(refresh, at) => {
                if customer.is_some() {
                    self.tabs[to]
                        .session
                        .share_refresh_token(SecretString::new(refresh), at);
                }
            }
            Msg::Token(text) => {
                if let Some(credential) = customer.and_then(|c| self.restore(&text, &c)) {
                    self.adopt(to, credential);
                }
            }
            Msg::Logout(who) => {
                if customer.as_deref() == Some(who.as_str()) {
                    self.log(|| format!("tab{to} logged out by tab{from}"));
                    let anon = self.next_anon(to);
                    if let Ok(fx) = self.tabs[to].session.clear_customer(anon) {
                        self.after(to, fx);
                    }
                }
            }
            Msg::Want {
                round,
                customer: asked,
            } => {
                let now = self.now;
                let credential = self.tabs[to]
                    .session
                    .credential()
                    .filter(|c| customer.as_deref() == Some(asked.as_str()) && c.is_valid_at(now))
                    .cloned()
                    .map(|c| self.store(&asked, &c));
                if credential.is_some() {
                    self.share_refresh_token(to, Some(from));
                }
                self.send_to(to, from, Msg::Have { round, credential });
            }
            Msg::Have { round, credential } => {
                let done = match self.tabs[to].round.as_mut() {
                    Some(r) if r.id == round => {
                        if let Some(text) = credential {
                            r.offers.push(text);
                        }
                        r.missing = r.missing.saturating_sub(1);
                        r.missing == 0
                    }
                    _ => false,
                };
                if done {
                    self.finish_round(to);
                }
            }
        }
    }

    // ---- calls: provider and token endpoint ---------------------------

    fn make_call(&mut self, tab: usize, call: Call) {
        let scn = self.scn;
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
        let window = &self.windows[self.window];
        if scn.no_failure() && window.calls >= 1 && !window.orphaned {
            self.fail(
                "calls-per-window",
                format!(
                    "tab{tab} makes a second provider call (#{}, {}) in one refresh window",
                    call.id,
                    call.reason.as_str()
                ),
            );
        }
        self.windows[self.window].calls += 1;
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
                retry_after_ms: self.rng.range(0, 60) * 1_000,
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
        let refresh_token = self.tabs[tab]
            .session
            .refresh_token()
            .map(|r| r.secret().to_owned());
        self.log(|| {
            format!(
                "tab{tab} calls {:?} #{} ({}, attempt {}) → {outcome:?} in {latency} ms",
                call.via,
                call.id,
                call.reason.as_str(),
                call.attempt
            )
        });
        let key = self.calls.len();
        self.calls.push(CallRec {
            tab,
            id: call.id,
            via: call.via,
            started_at: self.now,
            latency,
            outcome,
            refresh_token,
            epoch: self.epoch,
            window: self.window,
            answered: false,
            token: None,
        });
        self.call_index.insert((tab, call.id), key);
        match outcome {
            Outcome::Timeout => {}
            Outcome::Offline => {
                let error = match call.via {
                    Via::Provider => {
                        Error::new(ErrorCode::ProviderFailed, "the context provider failed")
                    }
                    Via::TokenEndpoint => {
                        Error::new(ErrorCode::Network, "the network request failed")
                    }
                };
                let at = self.now + self.rng.range(1, 30);
                self.push(
                    at,
                    Ev::Answer {
                        tab,
                        call: call.id,
                        answer: Answer::Fail(error),
                    },
                );
            }
            _ => self.push(self.now + latency / 2, Ev::Mint { call: key }),
        }
        if self.tabs[tab].die_after_call && self.tabs[tab].holds_lock {
            self.tabs[tab].die_after_call = false;
            self.kill(tab);
        }
    }

    /// The provider's backend (or token endpoint) answers a call.
    fn mint(&mut self, key: usize) {
        let (tab, id, via, outcome, started_at, latency) = {
            let c = &self.calls[key];
            (c.tab, c.id, c.via, c.outcome, c.started_at, c.latency)
        };
        let issuer_now = self.now + self.scn.issuer_offset_ms;
        let answer = match outcome {
            Outcome::Timeout | Outcome::Offline => return,
            Outcome::Fail => Answer::Fail(match via {
                Via::Provider => {
                    Error::new(ErrorCode::ProviderFailed, "the context provider failed")
                }
                Via::TokenEndpoint => Error::new(ErrorCode::Network, "the token endpoint failed"),
            }),
            Outcome::Busy { retry_after_ms } => Answer::Fail(
                Error::new(ErrorCode::Network, "the token endpoint failed")
                    .with_retry_after(retry_after_ms),
            ),
            Outcome::Malformed => Answer::Context {
                text: r#"{"Auth":{"Token":""}}"#.into(),
                server_date: None,
            },
            Outcome::ExpiredAnswer => {
                // A stale cached token: expired a minute ago.
                let exp = issuer_now / 1000 - 60;
                let token = jwt(
                    CUSTOMER,
                    exp - self.scn.ttl_ms / 1000,
                    exp,
                    &format!("stale{key}"),
                );
                self.tokens.insert(token.clone(), exp * 1000);
                self.context(via, &token, None, issuer_now)
            }
            Outcome::WrongCustomer => {
                let iat = issuer_now / 1000;
                let exp = iat + self.scn.ttl_ms / 1000;
                let token = jwt("cust-2", iat, exp, &format!("other{key}"));
                self.tokens.insert(token.clone(), exp * 1000);
                self.context(via, &token, None, issuer_now)
            }
            Outcome::Unchanged => {
                let s = &self.tabs[tab].session;
                match s.refused_token().or(s.credential().map(|c| &c.token)) {
                    Some(t) => {
                        let t = t.secret().to_owned();
                        self.context(via, &t, None, issuer_now)
                    }
                    None => Answer::Context {
                        text: "not json".into(),
                        server_date: None,
                    },
                }
            }
            Outcome::Success | Outcome::RefusedRotation => {
                let presented = self.calls[key].refresh_token.clone();
                if via == Via::TokenEndpoint && presented != self.latest_refresh {
                    // Rotation: a spent refresh token is refused (400). Fine
                    // when the tab that got the newer one died with it.
                    let spent_by_dead = self
                        .latest_refresh_call
                        .is_some_and(|c| !self.tabs[self.calls[c].tab].alive)
                        || !self.tabs[tab].alive
                        || self.windows[self.calls[key].window].orphaned;
                    if spent_by_dead {
                        let w = self.calls[key].window;
                        self.windows[w].orphaned = true;
                    } else if self.scn.rotations_answered() && self.calls[key].epoch == self.epoch {
                        self.fail(
                            "refresh-token-race",
                            format!("tab{tab} presented a spent refresh token on call #{id}"),
                        );
                    }
                    Answer::Fail(Error::new(
                        ErrorCode::RefreshFailed,
                        "the token endpoint refused the refresh token",
                    ))
                } else if matches!(outcome, Outcome::RefusedRotation) {
                    // The refresh token rotates; the access token is
                    // another customer's, so the page refuses it.
                    self.minted += 1;
                    let iat = issuer_now / 1000;
                    let exp = iat + self.scn.ttl_ms / 1000;
                    let token = jwt("cust-2", iat, exp, &format!("g{}", self.minted));
                    self.tokens.insert(token.clone(), exp * 1000);
                    let refresh = format!("r{}", self.minted);
                    self.latest_refresh = Some(refresh.clone());
                    self.latest_refresh_call = Some(key);
                    self.context(via, &token, Some(&refresh), issuer_now)
                } else {
                    self.minted += 1;
                    let iat = issuer_now / 1000;
                    let exp = iat + self.scn.ttl_ms / 1000;
                    let token = jwt(CUSTOMER, iat, exp, &format!("g{}", self.minted));
                    self.tokens.insert(token.clone(), exp * 1000);
                    self.calls[key].token = Some(token.clone());
                    let refresh = self.scn.token_endpoint.then(|| format!("r{}", self.minted));
                    self.latest_refresh = refresh.clone();
                    self.latest_refresh_call = Some(key);
                    if self.calls[key].epoch == self.epoch {
                        self.windows[self.window].closed_by_mint = true;
                        self.windows.push(Window::default());
                        self.window = self.windows.len() - 1;
                    }
                    self.context(via, &token, refresh.as_deref(), issuer_now)
                }
            }
        };
        let at = started_at + latency;
        self.push(
            at,
            Ev::Answer {
                tab,
                call: id,
                answer,
            },
        );
    }

    fn context(&self, via: Via, token: &str, refresh: Option<&str>, issuer_now: Millis) -> Answer {
        let refresh = refresh
            .map(|r| format!(r#","refresh_token":"{r}""#))
            .unwrap_or_default();
        match via {
            Via::Provider => Answer::Context {
                text: format!(r#"{{"Auth":{{"Token":"{token}"{refresh}}}}}"#),
                server_date: None,
            },
            Via::TokenEndpoint => Answer::Context {
                text: format!(
                    r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{}{refresh}}}"#,
                    self.scn.ttl_ms / 1000
                ),
                // The Date header: the issuer's clock, whole seconds.
                server_date: Some(issuer_now / 1000 * 1000),
            },
        }
    }

    /// `Runtime::on_answer` + `finish_call`: judge with the real
    /// `admit::Candidate`, then succeed or fail the call.
    fn on_answer(&mut self, tab: usize, id: CallId, answer: Answer) {
        if let Some(&key) = self.call_index.get(&(tab, id)) {
            self.calls[key].answered = true;
        }
        if !self.live(tab) {
            return;
        }
        // `Runtime::keep_issued_refresh_token`: before any judgement, and
        // for a stale call too (the endpoint spent the old refresh token).
        let via = self.call_index.get(&(tab, id)).map(|&k| self.calls[k].via);
        if let (Some(Via::TokenEndpoint), Answer::Context { text, .. }) = (via, &answer) {
            if let Some(refresh) = grant::issued_refresh_token(text) {
                let now = self.now;
                if self.tabs[tab]
                    .session
                    .refresh_token_issued(id, refresh, now)
                {
                    self.share_refresh_token(tab, None);
                }
            }
        }
        let Some(call) = self.tabs[tab].session.current_call().filter(|c| c.id == id) else {
            self.log(|| format!("tab{tab} ignores the answer to stale call {id}"));
            return;
        };
        let now = self.now;
        let judged = match answer {
            Answer::Fail(e) => Err(e),
            Answer::Context { text, server_date } => {
                let session = &self.tabs[tab].session;
                let validation = ValidationConfig::default();
                let customer = session.customer_id().unwrap_or_default().to_owned();
                let refused = session.refused_token().cloned();
                let rules = Rules {
                    validation: &validation,
                    customer_id: &customer,
                    refused: refused.as_ref(),
                    needs_refresh: call.needs_refresh,
                    asked_at: Some(call.started_at),
                    clock: session.clock_evidence(),
                };
                Candidate::read(&text)
                    .and_then(|c| c.with_server_date(server_date).admit(&rules, now, None))
            }
        };
        match judged {
            Ok(credential) => {
                let source = match call.via {
                    Via::Provider => Source::Provider,
                    Via::TokenEndpoint => Source::TokenEndpoint,
                };
                let broadcast = credential.clone();
                let jitter = self.jitter();
                let fx = self.tabs[tab]
                    .session
                    .call_succeeded(id, credential, source, jitter);
                self.log(|| format!("tab{tab} call {id} succeeded"));
                // Announced before `after` lets go of the refresh lock.
                if fx.release.is_some() {
                    if let Some(customer) = self.tabs[tab].session.customer_id() {
                        let customer = customer.to_owned();
                        let text = self.store(&customer, &broadcast);
                        self.share_refresh_token(tab, None);
                        self.broadcast(tab, Msg::Token(text));
                    }
                }
                self.after(tab, fx);
            }
            Err(e) => {
                self.log(|| format!("tab{tab} call {id} failed: {}", e.code().as_str()));
                if e.code() == ErrorCode::RefreshFailed {
                    // `judge::refresh_grant`: the refresh token presented.
                    let presented = self
                        .call_index
                        .get(&(tab, id))
                        .and_then(|&k| self.calls[k].refresh_token.clone());
                    if let Some(presented) = presented {
                        self.tabs[tab]
                            .session
                            .forget_refresh_token(&SecretString::new(presented));
                    }
                }
                let fx = self.tabs[tab].session.call_failed(id, e, now);
                self.after(tab, fx);
            }
        }
    }

    // ---- requests -------------------------------------------------------

    fn new_request(&mut self, tab: usize, force: bool, is_final: bool) -> usize {
        self.stats.requests += 1;
        self.reqs.push(Request {
            tab,
            created_at: self.now,
            force,
            asks: 0,
            after_401: false,
            replayed: false,
            token_used: None,
            end: None,
            is_final: is_final && self.tabs[tab].session.customer_id().is_some(),
        });
        self.reqs.len() - 1
    }

    fn end_request(&mut self, r: usize, end: ReqEnd) {
        if self.reqs[r].end.is_none() {
            self.reqs[r].end = Some(end);
            let waited = self.now - self.reqs[r].created_at;
            self.stats.max_wait_ms = self.stats.max_wait_ms.max(waited);
            self.log(|| format!("request {r} ends: {end:?}"));
        }
    }

    /// `Runtime::credential`, one pass of its loop.
    fn ask(&mut self, r: usize) {
        let tab = self.reqs[r].tab;
        if self.reqs[r].end.is_some() || !self.tabs[tab].alive {
            return;
        }
        self.reqs[r].asks += 1;
        if self.reqs[r].asks > MAX_ASKS {
            self.end_request(r, ReqEnd::Rejected(ErrorCode::RefreshFailed));
            return;
        }
        let force = std::mem::take(&mut self.reqs[r].force);
        let now = self.now;
        let (access, fx) = self.tabs[tab].session.access(now, force);
        match access {
            Access::Anonymous => {
                self.after(tab, fx);
                self.proceed(r, None);
            }
            Access::Ready => {
                self.after(tab, fx);
                let credential = self.tabs[tab].session.credential().cloned();
                if credential.is_none() {
                    self.fail(
                        "ready-without-token",
                        format!("tab{tab}: access Ready but no credential"),
                    );
                }
                self.proceed(r, credential);
            }
            Access::Fail(e) => {
                self.after(tab, fx);
                self.end_request(r, ReqEnd::Rejected(e.code()));
            }
            Access::Wait => {
                self.tabs[tab].waiting.push(r);
                self.after(tab, fx);
            }
        }
    }

    /// The credential is known: send, or (after a 401) replay or give up.
    fn proceed(&mut self, r: usize, credential: Option<Credential>) {
        if self.reqs[r].after_401 {
            let used = self.reqs[r].token_used.clone();
            match credential {
                Some(c) if Some(c.token.secret()) != used.as_deref() => {
                    self.reqs[r].after_401 = false;
                    self.reqs[r].replayed = true;
                    self.send(r, Some(c));
                }
                _ => self.end_request(r, ReqEnd::Unauthorized),
            }
        } else {
            self.send(r, credential);
        }
    }

    fn send(&mut self, r: usize, credential: Option<Credential>) {
        let tab = self.reqs[r].tab;
        if !self.network_online {
            self.end_request(r, ReqEnd::Rejected(ErrorCode::Network));
            return;
        }
        if let Some(c) = &credential {
            self.stats.sent_with_token += 1;
            if !c.is_valid_at(self.now) {
                self.stats.expired_page += 1;
                self.fail(
                    "expired-on-page",
                    format!(
                        "tab{tab} sends request {r} with a token that expired at {} (now {})",
                        c.expires_at.unwrap_or(0) - T0,
                        self.now - T0
                    ),
                );
            }
        }
        self.reqs[r].token_used = credential.map(|c| c.token.secret().to_owned());
        let (lo, hi) = self.scn.request_latency_ms;
        let at = self.now + self.rng.range(lo, hi);
        self.push(at, Ev::Arrive { req: r });
    }

    /// The chat server judges the token on the issuer's clock.
    fn arrive(&mut self, r: usize) {
        let server_now = self.now + self.scn.issuer_offset_ms;
        let status = match self.reqs[r].token_used.as_deref() {
            None => 200,
            Some(token) => match self.tokens.get(token) {
                Some(&exp) if server_now < exp => 200,
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
                None => {
                    self.fail(
                        "unknown-token",
                        format!("request {r} carries a token never minted"),
                    );
                    401
                }
            },
        };
        let (lo, hi) = self.scn.request_latency_ms;
        let at = self.now + self.rng.range(lo, hi);
        self.push(at, Ev::Response { req: r, status });
    }

    /// `transport.rs`: a 401 refreshes once and replays once.
    fn on_response(&mut self, r: usize, status: u16) {
        let tab = self.reqs[r].tab;
        if self.reqs[r].end.is_some() || !self.tabs[tab].alive {
            return;
        }
        if status != 401 {
            let with_token = self.reqs[r].token_used.is_some();
            self.end_request(r, ReqEnd::Sent { with_token });
            return;
        }
        if self.reqs[r].replayed || self.reqs[r].token_used.is_none() {
            self.end_request(r, ReqEnd::Unauthorized);
            return;
        }
        self.reqs[r].after_401 = true;
        let now = self.now;
        let used = self.reqs[r].token_used.clone();
        let (access, fx) = self.tabs[tab].session.unauthorized(used.as_deref(), now);
        self.log(|| format!("tab{tab} request {r} got 401 → {access:?}"));
        match access {
            Access::Wait => {
                self.tabs[tab].waiting.push(r);
                self.after(tab, fx);
            }
            Access::Ready => {
                self.after(tab, fx);
                let credential = self.tabs[tab].session.credential().cloned();
                self.proceed(r, credential);
            }
            Access::Anonymous => {
                self.after(tab, fx);
                self.end_request(r, ReqEnd::Unauthorized);
            }
            Access::Fail(e) => {
                self.after(tab, fx);
                self.end_request(r, ReqEnd::Rejected(e.code()));
            }
        }
    }

    // ---- invariants ------------------------------------------------------

    fn check_step(&mut self) {
        for tab in 0..self.tabs.len() {
            if !self.live(tab) {
                continue;
            }
            let t = &self.tabs[tab];
            if t.session.waiters() != t.waiting.len() {
                let msg = format!(
                    "tab{tab}: the session counts {} waiters, the shell holds {}",
                    t.session.waiters(),
                    t.waiting.len()
                );
                self.fail("waiters", msg);
                return;
            }
            if t.holds_lock && self.lock_holder != Some(tab) {
                self.fail(
                    "lock",
                    format!(
                        "tab{tab} thinks it holds the lock held by {:?}",
                        self.lock_holder
                    ),
                );
            }
        }
    }

    fn check_end(&mut self) {
        let scn = self.scn;
        for r in 0..self.reqs.len() {
            let tab = self.reqs[r].tab;
            match self.reqs[r].end {
                None => {
                    let created = self.reqs[r].created_at - T0;
                    self.fail(
                        "request-lost",
                        format!(
                            "request {r} of tab{tab} (made at {:.3}s) never ended; tab state {}, waiters {}",
                            created as f64 / 1000.0,
                            self.tabs[tab].session.state().as_str(),
                            self.tabs[tab].session.waiters()
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
            if !self.live(tab) {
                continue;
            }
            let s = &self.tabs[tab].session;
            if s.waiters() != 0 || !self.tabs[tab].waiting.is_empty() {
                let msg = format!(
                    "tab{tab} ends with {} waiters ({} in the shell)",
                    s.waiters(),
                    self.tabs[tab].waiting.len()
                );
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

    fn finish_stats(mut self) -> Stats {
        for r in &self.reqs {
            match r.end {
                None => self.stats.lost += 1,
                Some(ReqEnd::Rejected(code)) => {
                    *self.stats.rejected.entry(code.as_str()).or_default() += 1
                }
                Some(ReqEnd::Unauthorized) => self.stats.unauthorized += 1,
                Some(ReqEnd::Died) => self.stats.died += 1,
                Some(ReqEnd::Sent { .. }) => {}
            }
        }
        self.stats.window_calls = self
            .windows
            .iter()
            .filter(|w| w.closed_by_mint)
            .map(|w| (w.calls, w.orphaned))
            .collect();
        self.stats
    }
}

/// An unsigned JWT (the sim's sessions check no signatures).
fn jwt(sub: &str, iat: i64, exp: i64, id: &str) -> String {
    let header = base64url::encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = base64url::encode(
        format!(r#"{{"sub":"{sub}","iat":{iat},"exp":{exp},"jti":"{id}"}}"#).as_bytes(),
    );
    format!("{header}.{payload}.c2ln")
}

// ---------------------------------------------------------------------------
// Running, shrinking, reporting.

fn run_scenario(scn: &Scenario) -> Result<Stats, Violation> {
    World::new(scn, false).run().0
}

fn trace_scenario(scn: &Scenario) -> (Result<Stats, Violation>, Vec<String>) {
    let (result, trace) = World::new(scn, true).run();
    (result, trace.unwrap_or_default())
}

/// Smaller variants of a failing scenario, most drastic first.
fn shrink_candidates(s: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    // Drop a tab (its ops go; later tabs move down).
    if s.tabs() > 1 {
        for drop in (0..s.tabs()).rev() {
            let mut c = s.clone();
            c.open_at.remove(drop);
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
    for zero in 0..6 {
        let mut c = s.clone();
        match zero {
            0 => c.throttle_rate = 0.0,
            1 => c.forced_rate = 0.0,
            2 => c.bad_answer_rate = 0.0,
            3 => c.timeout_rate = 0.0,
            4 => c.open_at.iter_mut().for_each(|t| *t = 0),
            _ => c.latency_ms = (c.latency_ms.0, c.latency_ms.0),
        }
        if c.throttle_rate != s.throttle_rate
            || c.forced_rate != s.forced_rate
            || c.bad_answer_rate != s.bad_answer_rate
            || c.timeout_rate != s.timeout_rate
            || c.open_at != s.open_at
            || c.latency_ms != s.latency_ms
        {
            out.push(c);
        }
    }
    out
}

fn shrink(scn: &Scenario, kind: &'static str) -> Scenario {
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

fn report_failure(scn: &Scenario, violation: &Violation) -> String {
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
struct FamilyTotals {
    sessions: u64,
    answerable: u64,
    steps: u64,
    requests: u64,
    expired_page: u64,
    expired_server: u64,
    expired_server_answerable: u64,
    calls: u64,
    windows: u64,
    window_calls_sum: u64,
    window_min: Option<u32>,
    window_max: u32,
    window_max_no_failure: u32,
    max_attempt: u32,
    max_timer_ms: Millis,
    chained_timers: u64,
    lost: u64,
    unauthorized: u64,
    died: u64,
    auth_lost: u64,
    max_wait_ms: Millis,
    rejected: BTreeMap<&'static str, u64>,
}

impl FamilyTotals {
    fn add(&mut self, scn: &Scenario, s: &Stats) {
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
        self.chained_timers += s.chained_timers;
        self.lost += s.lost;
        self.unauthorized += s.unauthorized;
        self.died += s.died;
        self.auth_lost += s.auth_lost;
        self.max_wait_ms = self.max_wait_ms.max(s.max_wait_ms);
        for (k, v) in &s.rejected {
            *self.rejected.entry(k).or_default() += v;
        }
    }

    fn merge(&mut self, o: &FamilyTotals) {
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
        self.chained_timers += o.chained_timers;
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

fn print_table(totals: &BTreeMap<Family, FamilyTotals>) {
    println!(
        "\n{:<15} {:>8} {:>7} {:>10} {:>9} {:>13} {:>9} {:>16} {:>8} {:>9} {:>5} {:>6} {:>8}  rejected (by code)",
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
        "max wait"
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
            "{:<15} {:>8} {:>7} {:>10} {:>9} {:>13} {:>9} {:>16} {:>8} {:>9} {:>5} {:>6} {:>8}  {}",
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
         to the app; max wait: longest a request waited.",
        human(MAX_TIMER_MS)
    );
}

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
    if all.max_timer_ms > MAX_TIMER_MS {
        problems.push("a timer longer than MAX_TIMER_MS");
    }
    if !problems.is_empty() {
        println!("SIMULATION FAILED: {}", problems.join(", "));
        std::process::exit(1);
    }
    println!("simulation: ok");
}

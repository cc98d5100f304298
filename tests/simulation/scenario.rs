//! What a session is made of: a seed's draw of tabs, token lifetimes,
//! clocks, latencies, failure rates and the ops that happen to the page.

use chat_auth::options::Config;
use chat_auth::session::schedule::RefreshPolicy;
use chat_auth::time::Millis;
use chat_auth::wire::json;

/// The chat API's origin (`apiOrigins`), and one that is not allowed.
pub const CHAT_ORIGIN: &str = "https://chat.example";
pub const FOREIGN_ORIGIN: &str = "https://ads.example";
pub const TOKEN_ENDPOINT: &str = "https://auth.example/token";
// ---------------------------------------------------------------------------
// Randomness: SplitMix64, so a seed means the same run on every machine.

#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xA24B_AED4_963E_E407));
        r.next();
        r
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// Log-uniform in `lo..=hi` (both > 0): as many short values as long ones.
    pub fn log_range(&mut self, lo: i64, hi: i64) -> i64 {
        let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
        ((a + (b - a) * self.unit()).exp().round() as i64).clamp(lo, hi)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }
}

// ---------------------------------------------------------------------------
// Scenarios.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
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
    Sandboxed,
    Reload,
}

pub const FAMILIES: [Family; 13] = [
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
    Family::Sandboxed,
    Family::Reload,
];

impl Family {
    pub fn name(self) -> &'static str {
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
            Family::Sandboxed => "sandboxed-frame",
            Family::Reload => "storage-reload",
        }
    }

    pub fn parse(name: &str) -> Option<Family> {
        FAMILIES.into_iter().find(|f| f.name() == name)
    }

    pub fn of_seed(seed: u64) -> Family {
        FAMILIES[(seed % FAMILIES.len() as u64) as usize]
    }
}

/// Something that happens to the page or the machine at a planned time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// `count` concurrent chat requests in `tab`.
    Burst { tab: usize, count: u32 },
    /// The whole machine sleeps: no timer or task runs for `ms`; when it
    /// wakes, the page gets `focus` / `visibilitychange` only if
    /// `wake_events` (a laptop woken by the network, a locked screen: none).
    Sleep { ms: Millis, wake_events: bool },
    /// The network is down for `ms`.
    Offline { ms: Millis },
    /// The tab closes (or crashes).
    Die { tab: usize },
    /// The tab dies right after it next makes a call holding the lock.
    DieHolding { tab: usize },
    /// `destroy()` in the tab, then the page goes.
    Destroy { tab: usize },
    /// `clearCustomer` in `tab`.
    Logout { tab: usize },
    /// The tab navigates (or reloads): its page and driver go, its
    /// sessionStorage stays for the next page.
    Reload { tab: usize },
    /// The site logs the customer in again (`setCustomer` in every tab).
    Login,
}

impl Op {
    pub fn tab(&self) -> Option<usize> {
        match *self {
            Op::Burst { tab, .. }
            | Op::Die { tab }
            | Op::DieHolding { tab }
            | Op::Destroy { tab }
            | Op::Logout { tab }
            | Op::Reload { tab } => Some(tab),
            _ => None,
        }
    }

    pub fn with_tab(self, tab: usize) -> Op {
        match self {
            Op::Burst { count, .. } => Op::Burst { tab, count },
            Op::Die { .. } => Op::Die { tab },
            Op::DieHolding { .. } => Op::DieHolding { tab },
            Op::Destroy { .. } => Op::Destroy { tab },
            Op::Logout { .. } => Op::Logout { tab },
            Op::Reload { .. } => Op::Reload { tab },
            other => other,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub family: Family,
    /// When each tab opens (tab 0 at 0).
    pub open_at: Vec<Millis>,
    /// Which tabs are `<iframe sandbox="allow-scripts">` (an opaque origin:
    /// Web Locks reject, sessionStorage throws, the BroadcastChannel reaches
    /// no other page).
    pub sandboxed: Vec<bool>,
    /// Which tabs have a Web Locks stub that never answers (an extension,
    /// a test harness): the host gives up on it after `LOCK_WAIT_MS`.
    pub silent_locks: Vec<bool>,
    /// `storage: 'session'`.
    pub storage_session: bool,
    /// A sessionStorage write throws (quota) at this rate.
    pub storage_failure_rate: f64,
    /// The machine's timers count the time it sleeps (else, like Linux's
    /// and macOS's monotonic clocks, they resume where they stopped).
    pub timers_count_sleep: bool,
    /// The provider answers synchronously (from its cache) at this rate.
    pub sync_answer_rate: f64,
    /// Token lifetime, whole seconds.
    pub ttl_ms: Millis,
    /// Issuer clock minus true time (the page clock is true time).
    pub issuer_offset_ms: Millis,
    /// Provider / token endpoint round trip.
    pub latency_ms: (Millis, Millis),
    /// Chat request, one way.
    pub request_latency_ms: (Millis, Millis),
    /// Longest delay of a BroadcastChannel message or a lock grant.
    pub tab_latency_ms: Millis,
    pub failure_rate: f64,
    pub timeout_rate: f64,
    pub bad_answer_rate: f64,
    pub token_endpoint: bool,
    pub busy_rate: f64,
    /// The token endpoint rotates the refresh token but its access token is
    /// refused (another customer's): the first answer always, later ones at
    /// this rate.
    pub refused_rotation_rate: f64,
    pub throttle_rate: f64,
    pub throttle_max_ms: Millis,
    pub forced_rate: f64,
    pub max_retries: u32,
    pub duration_ms: Millis,
    pub ops: Vec<(Millis, Op)>,
}

impl Scenario {
    pub fn draw(seed: u64, family: Family) -> Scenario {
        let mut r = Rng::new(seed, 1);
        let sec = 1_000;
        let min = 60 * sec;
        let hour = 60 * min;
        let day = 24 * hour;
        let ttl_s = match family {
            Family::Short => r.log_range(5, 60),
            // Every page re-checks at least once a minute (the driver's
            // timer cap), so a day of page time costs 1,440 steps a tab:
            // long-lived stays within days (the cap makes weeks no harder).
            Family::Long => r.log_range(12 * hour / sec, 3 * day / sec),
            Family::Skew => r.log_range(5, 2 * hour / sec),
            Family::Sleep => r.log_range(5, day / sec),
            Family::Flaky | Family::Offline | Family::Busy | Family::RefusedRotation => {
                r.log_range(5, hour / sec)
            }
            // Up to 6 h: longer ones are long-lived's (see there).
            _ => r.log_range(60, 6 * hour / sec),
        };
        let ttl_ms = ttl_s * sec;
        let tabs = match family {
            Family::ManyTabs => r.range(5, 8),
            Family::TabDeath => r.range(2, 8),
            Family::Long => r.range(1, 2),
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
        let duration_ms = match family {
            // One or two refreshes.
            Family::Long => ttl_ms + ttl_ms * r.range(3, 15) / 10,
            _ => (ttl_ms * r.range(2, 5)).max(min),
        };
        let mut s = Scenario {
            seed,
            family,
            open_at: vec![0; tabs],
            sandboxed: vec![false; tabs],
            silent_locks: vec![false; tabs],
            storage_session: r.chance(0.25),
            storage_failure_rate: 0.0,
            timers_count_sleep: r.chance(0.5),
            sync_answer_rate: if r.chance(0.2) { r.unit() * 0.5 } else { 0.0 },
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
                    let wake_events = r.chance(0.5);
                    s.ops.push((at, Op::Sleep { ms, wake_events }));
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
            Family::Sandboxed => {
                // At least one framed page, and at least one other.
                if tabs == 1 {
                    s.open_at.push(r.range(0, duration_ms / 2));
                    s.sandboxed.push(false);
                    s.silent_locks.push(false);
                }
                for t in 0..s.tabs() {
                    s.sandboxed[t] = r.chance(0.4);
                }
                let framed = r.range(0, s.tabs() as i64 - 1) as usize;
                s.sandboxed[framed] = true;
                for t in 0..s.tabs() {
                    s.silent_locks[t] = !s.sandboxed[t] && r.chance(0.3);
                }
                s.storage_session = r.chance(0.5);
            }
            Family::Reload => {
                s.storage_session = true;
                s.token_endpoint = r.chance(0.5);
                s.storage_failure_rate = if r.chance(0.7) { r.unit() * 0.5 } else { 0.0 };
                for _ in 0..r.range(1, 4) {
                    let tab = r.range(0, tabs as i64 - 1) as usize;
                    let at = r.range(s.open_at[tab], duration_ms);
                    s.ops.push((at, Op::Reload { tab }));
                }
            }
            _ => {}
        }
        if matches!(
            family,
            Family::Steady
                | Family::Short
                | Family::ManyTabs
                | Family::TabDeath
                | Family::Sandboxed
        ) {
            // The refresh grant with a rotating refresh token, where tabs
            // racing on one refresh token would be refused.
            s.token_endpoint = r.chance(0.25);
        }
        let tabs = s.tabs();
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
        if s.token_endpoint && s.timeout_rate == 0.0 {
            // A slow token endpoint (its own stream: the other draws stay
            // what they were): it rotates, and answers after the call's
            // deadline or not before the host's bound.
            let mut r = Rng::new(seed, 4);
            if r.chance(0.25) {
                s.timeout_rate = r.unit() * 0.3;
            }
        }
        if family == Family::TabDeath {
            // Its own stream: the other draws stay what they were.
            let mut r = Rng::new(seed, 3);
            if r.chance(0.3) {
                let tab = r.range(0, tabs as i64 - 1) as usize;
                s.ops.push((r.range(0, duration_ms), Op::Destroy { tab }));
            }
        }
        s.ops.sort_by_key(|(at, _)| *at);
        s
    }

    pub fn tabs(&self) -> usize {
        self.open_at.len()
    }

    pub fn offline_periods(&self) -> bool {
        self.ops
            .iter()
            .any(|(_, op)| matches!(op, Op::Offline { .. }))
    }

    /// The provider answers every call in time (latency only).
    pub fn no_failure(&self) -> bool {
        self.rotations_answered()
            && self.timeout_rate == 0.0
            && self.refused_rotation_rate == 0.0
            && !self.refuses_rotations()
    }

    /// Every rotation reaches the page, or the page knows it may have been
    /// made: some answers may be refused rotations, and some grants time out
    /// (answered after their deadline, or never, once the host's bound
    /// aborted them). Then no tab may ever present a spent refresh token.
    pub fn rotations_answered(&self) -> bool {
        self.failure_rate == 0.0
            && self.bad_answer_rate == 0.0
            && self.busy_rate == 0.0
            && !self.offline_periods()
    }

    pub fn refuses_rotations(&self) -> bool {
        self.family == Family::RefusedRotation
    }

    /// The page's view of a token's lifetime at worst: the answer's latency
    /// plus `iat`'s whole seconds eat into it. A page clock running ahead is
    /// corrected (`schedule::issuer_clock_offset`) once two readings of the
    /// issuer's clock agree: until then a token is judged on the page clock,
    /// where the first one looks shorter-lived, or already expired (refused;
    /// the next answer's reading then agrees with its reading).
    pub fn page_lifetime_min(&self) -> Millis {
        let corrected = self.ttl_ms - self.latency_ms.1 - 1_000;
        let first = corrected + self.issuer_offset_ms.min(0);
        if first <= 0 {
            corrected
        } else {
            first.min(corrected)
        }
    }

    /// Tokens arrive with enough life left for the session to work at all.
    pub fn admissible(&self) -> bool {
        self.page_lifetime_min() > self.latency_ms.1 + 1_000
    }

    /// The provider can answer before expiry: no failures, and the refresh
    /// margin (at least 90 % of min(60 s, lifetime / 4), jitter included)
    /// covers a request's trip plus the error of the page's estimate of the
    /// expiry (with the issuer ahead, `iat` tells the offset only up to the
    /// answer's latency and `iat`'s truncation to seconds).
    pub fn answerable(&self) -> bool {
        let margin = (self.page_lifetime_min() / 4).min(self.policy().margin_ms);
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
    pub fn recovery_ms(&self) -> Millis {
        // A tab that dies after spending the rotating refresh token makes
        // the others' next refresh-grant fail once.
        let deaths = self.ops.iter().any(|(_, op)| {
            matches!(
                op,
                Op::Die { .. } | Op::DieHolding { .. } | Op::Destroy { .. } | Op::Reload { .. }
            )
        });
        if self.no_failure() && self.admissible() && !(deaths && self.token_endpoint) {
            15_000
        } else {
            self.policy().provider_timeout_ms
                + crate::world::MAX_RETRY_AFTER_S * 1000
                + chat_auth::session::machine::FAILED_COOL_DOWN_MS
                + 15_000
        }
    }

    /// The `refresh.*` options every tab runs with.
    pub fn policy(&self) -> RefreshPolicy {
        RefreshPolicy {
            max_retries: self.max_retries,
            ..RefreshPolicy::default()
        }
    }

    /// The options every page passes to `new ChatAuth(...)`, as a site
    /// writes them.
    pub fn config(&self) -> Config {
        let mut options = format!(
            r#"{{"apiOrigins":["{CHAT_ORIGIN}"],"refresh":{{"maxRetries":{}}},"storage":"{}""#,
            self.max_retries,
            if self.storage_session {
                "session"
            } else {
                "memory"
            }
        );
        if self.token_endpoint {
            options.push_str(&format!(r#","tokenEndpoint":"{TOKEN_ENDPOINT}""#));
        }
        options.push('}');
        let object = json::parse_object(options.as_bytes()).expect("the options are JSON");
        let config = Config::from_json(&object).expect("the options are valid");
        assert_eq!(config.policy, self.policy());
        config
    }

    pub fn describe(&self) -> String {
        format!(
            "tabs {} (open at {:?}), ttl {}, issuer offset {} ms, provider latency {:?} ms, request latency {:?} ms, tab latency {} ms, \
             failure {:.2}, timeout {:.2}, bad answers {:.2}, token endpoint {}, 429/503 {:.2}, throttle {:.2} up to {} ms, \
             forced {:.2}, max retries {}, duration {}, sandboxed {:?}, silent locks {:?}, storage session {} (failures {:.2}), \
             timers count sleep {}, sync answers {:.2}, ops {:?}",
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
            self.sandboxed,
            self.silent_locks,
            self.storage_session,
            self.storage_failure_rate,
            self.timers_count_sleep,
            self.sync_answer_rate,
            self.ops
        )
    }
}

pub fn human(ms: Millis) -> String {
    match ms {
        ms if ms >= 86_400_000 => format!("{:.1} d", ms as f64 / 86_400_000.0),
        ms if ms >= 3_600_000 => format!("{:.1} h", ms as f64 / 3_600_000.0),
        ms if ms >= 60_000 => format!("{:.1} min", ms as f64 / 60_000.0),
        ms => format!("{:.1} s", ms as f64 / 1_000.0),
    }
}

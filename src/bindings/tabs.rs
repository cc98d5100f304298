//! Tabs of one origin share one refresh, its token and logouts (`crossTab`).
//!
//! - A `BroadcastChannel` carries tokens (`token`), rotated refresh tokens
//!   (`refresh`, sent the moment the token endpoint answers, before its
//!   access token is judged), logouts (`logout`) and a small request/answer
//!   round (`want` → `have`) in which a tab asks the others for their token.
//!   Every message with a token also carries the sender's newest refresh
//!   token, which may be newer than the one that came with that token.
//! - Web Locks elect the refresher: a tab about to call its provider first
//!   takes the exclusive lock `chat-auth:refresh:<customer>`, then asks the
//!   others for their token, and calls only if none satisfies its refresh
//!   ([`crate::session::Session::adopt`]). It keeps the lock for its whole
//!   cycle, retries included, and announces the token before releasing it; the
//!   browser releases the locks of a tab that closes or crashes. Asking after
//!   the grant closes the race between the announcement and the next tab's
//!   grant, and lets a tab that just opened or woke take a token without a
//!   provider call.
//! - Each instance holds a shared presence lock `chat-auth:tab:<id>` so a tab
//!   knows how many answers to wait for (at most [`ROUND_TIMEOUT_MS`], for a
//!   frozen tab).
//!
//! Without BroadcastChannel each tab refreshes on its own; without Web Locks
//! tabs still share tokens and logouts, and adopt an announced token. Web
//! Locks that fail (an opaque origin such as `<iframe sandbox>` rejects them,
//! a stub never grants) count as missing from then on: a call waiting for
//! the lock goes ahead in this tab alone ([`Runtime::lock_unavailable`]).

use super::js;
use super::runtime::Runtime;
use crate::clock::Millis;
use crate::secret::SecretString;
use crate::session::{Credential, Session};
use gloo_timers::callback::Timeout;
use js_sys::{Function, Object, Promise};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BroadcastChannel, MessageEvent};

const CHANNEL: &str = "chat-auth";
const REFRESH_LOCK: &str = "chat-auth:refresh:";
const PRESENCE_LOCK: &str = "chat-auth:tab:";

/// How long a tab waits for the others' answers before calling its provider.
pub const ROUND_TIMEOUT_MS: u32 = 500;

/// How long a lock request may go ungranted, while no other tab holds the
/// lock, before Web Locks count as broken; also the bound on `query()`.
pub const LOCK_WAIT_MS: u32 = 500;

#[wasm_bindgen(module = "/js/locks.js")]
extern "C" {
    #[wasm_bindgen(js_name = locksAvailable)]
    fn locks_available() -> bool;
    #[wasm_bindgen(js_name = acquireLock)]
    fn acquire_lock(name: &str, wait_ms: u32, done: &JsValue);
    #[wasm_bindgen(js_name = holdLock)]
    fn hold_lock(name: &str, failed: &Function) -> Function;
    #[wasm_bindgen(js_name = countHeld)]
    fn count_held(prefix: &str, own: &str, ms: u32) -> Promise;
}

/// A held refresh lock.
struct Held {
    customer: String,
    release: Function,
}

/// A `want` round waiting for answers.
struct Round {
    nonce: u32,
    missing: usize,
    offers: Vec<Credential>,
    done: Option<Function>,
    _timeout: Timeout,
}

/// The open channel, the locks and their listeners (dropped on close).
pub struct Tabs {
    channel: BroadcastChannel,
    _on_message: Closure<dyn Fn(MessageEvent)>,
    id: String,
    presence: Option<Function>,
    /// Web Locks failed here once: calls no longer wait for the lock.
    locks_failed: Rc<Cell<bool>>,
    _on_locks_failed: Closure<dyn Fn()>,
    held: RefCell<Option<Held>>,
    round: RefCell<Option<Round>>,
    next_nonce: Cell<u32>,
}

impl Tabs {
    /// Opens the channel (and the presence lock where Web Locks exist), or
    /// `None` where `BroadcastChannel` is missing.
    pub fn open(rt: Weak<Runtime>) -> Option<Rc<Tabs>> {
        let channel = BroadcastChannel::new(CHANNEL).ok()?;
        let id = js::uuid_v4();
        let locks_failed = Rc::new(Cell::new(false));
        let flag = locks_failed.clone();
        let on_locks_failed = Closure::<dyn Fn()>::new(move || flag.set(true));
        let presence = locks_available().then(|| {
            hold_lock(
                &[PRESENCE_LOCK, &id].concat(),
                on_locks_failed.as_ref().unchecked_ref(),
            )
        });
        let tabs = Rc::new_cyclic(|me: &Weak<Tabs>| {
            let me = me.clone();
            let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
                if let (Some(rt), Some(tabs)) = (rt.upgrade(), me.upgrade()) {
                    tabs.receive(&rt, &ev.data());
                }
            });
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            Tabs {
                channel,
                _on_message: on_message,
                id,
                presence,
                locks_failed,
                _on_locks_failed: on_locks_failed,
                held: RefCell::new(None),
                round: RefCell::new(None),
                next_nonce: Cell::new(1),
            }
        });
        Some(tabs)
    }

    /// Whether calls go through the refresh lock: Web Locks exist and have
    /// not failed.
    pub fn elects(&self) -> bool {
        self.presence.is_some() && !self.locks_failed.get()
    }

    /// Whether this tab holds the refresh lock for `customer`.
    pub fn holds(&self, customer: &str) -> bool {
        self.held
            .borrow()
            .as_ref()
            .is_some_and(|h| h.customer == customer)
    }

    /// Queues for the refresh lock of `customer`; [`Runtime::lock_granted`]
    /// runs once it is held, or [`Runtime::lock_unavailable`] when Web Locks
    /// fail (see `js/locks.js`). A grant while this tab already holds a lock
    /// (an earlier request of its own) is handed straight back.
    pub fn acquire(self: &Rc<Self>, rt: &Rc<Runtime>, customer: &str) {
        let (tabs, rt, owner) = (Rc::downgrade(self), Rc::downgrade(rt), customer.to_owned());
        let done = Closure::once_into_js(move |release: JsValue| {
            let Some(release) = release.dyn_into::<Function>().ok() else {
                if let (Some(tabs), Some(rt)) = (tabs.upgrade(), rt.upgrade()) {
                    tabs.locks_failed.set(true);
                    rt.lock_unavailable();
                }
                return;
            };
            match (tabs.upgrade(), rt.upgrade()) {
                (Some(tabs), Some(rt)) if tabs.held.borrow().is_none() => {
                    tabs.held.replace(Some(Held {
                        customer: owner,
                        release,
                    }));
                    wasm_bindgen_futures::spawn_local(async move {
                        rt.lock_granted().await;
                    });
                }
                // Held already, or the instance is gone: let the next tab have it.
                _ => {
                    let _ = release.call0(&JsValue::NULL);
                }
            }
        });
        acquire_lock(&[REFRESH_LOCK, customer].concat(), LOCK_WAIT_MS, &done);
    }

    /// Releases the refresh lock unless this tab still refreshes for the
    /// customer it was taken for.
    pub fn release_unless(&self, refreshing_for: Option<&str>) {
        let keep = self
            .held
            .borrow()
            .as_ref()
            .is_some_and(|h| Some(h.customer.as_str()) == refreshing_for);
        if !keep {
            if let Some(held) = self.held.take() {
                let _ = held.release.call0(&JsValue::NULL);
            }
        }
    }

    /// Asks the other tabs for their token for `customer`: the offers that
    /// arrived from every live tab, or within [`ROUND_TIMEOUT_MS`].
    pub async fn ask(&self, customer: &str) -> Vec<Credential> {
        let own = [PRESENCE_LOCK, &self.id].concat();
        if !self.elects() {
            // Without working locks no peer can be counted.
            return Vec::new();
        }
        let peers = match JsFuture::from(count_held(PRESENCE_LOCK, &own, LOCK_WAIT_MS)).await {
            Ok(n) => n.as_f64().unwrap_or(0.0) as usize,
            Err(_) => 0,
        };
        if peers == 0 {
            return Vec::new();
        }
        // Answers go `to` this tab; the nonce tells this round from an
        // earlier one that timed out.
        let nonce = self.next_nonce.get();
        self.next_nonce.set(nonce.wrapping_add(1));
        let mut done = None;
        let settled = Promise::new(&mut |resolve, _| done = Some(resolve));
        let on_timeout = done.clone();
        self.round.replace(Some(Round {
            nonce,
            missing: peers,
            offers: Vec::new(),
            done,
            _timeout: Timeout::new(ROUND_TIMEOUT_MS, move || {
                if let Some(f) = on_timeout {
                    let _ = f.call0(&JsValue::NULL);
                }
            }),
        }));
        let msg = Object::new();
        js::set(&msg, "type", &"want".into());
        js::set(&msg, "from", &self.id.as_str().into());
        js::set(&msg, "nonce", &JsValue::from_f64(f64::from(nonce)));
        js::set(&msg, "customerId", &customer.into());
        let _ = self.channel.post_message(&msg);
        let _ = JsFuture::from(settled).await;
        self.round
            .take()
            .map(|round| round.offers)
            .unwrap_or_default()
    }

    /// Tells the other tabs about a new token for the session's customer.
    pub fn announce_token(&self, session: &Session, credential: &Credential) {
        if let Some(msg) = token_message(session, credential) {
            js::set(&msg, "type", &"token".into());
            let _ = self.channel.post_message(&msg);
        }
    }

    /// Hands the session's newest refresh token to the other tabs (the token
    /// endpoint just rotated it).
    pub fn share_refresh_token(&self, session: &Session) {
        let Some(customer) = session.customer_id() else {
            return;
        };
        let msg = Object::new();
        js::set(&msg, "type", &"refresh".into());
        js::set(&msg, "customerId", &customer.into());
        add_refresh_token(&msg, session);
        let _ = self.channel.post_message(&msg);
    }

    /// Tells the other tabs that `customer_id` logged out.
    pub fn announce_logout(&self, customer_id: &str) {
        let msg = Object::new();
        js::set(&msg, "type", &"logout".into());
        js::set(&msg, "customerId", &customer_id.into());
        let _ = self.channel.post_message(&msg);
    }

    /// Closes the channel and lets go of every lock.
    pub fn close(&self) {
        self.channel.set_onmessage(None);
        self.channel.close();
        self.release_unless(None);
        if let Some(release) = &self.presence {
            let _ = release.call0(&JsValue::NULL);
        }
        if let Some(round) = self.round.take() {
            if let Some(done) = round.done {
                let _ = done.call0(&JsValue::NULL);
            }
        }
    }

    fn receive(&self, rt: &Rc<Runtime>, data: &JsValue) {
        let kind = js::get(data, "type").as_string();
        let customer = rt.session.borrow().customer_id().map(str::to_owned);
        if let Some((refresh_token, at)) = read_refresh_token(data, customer.as_deref()) {
            rt.session
                .borrow_mut()
                .share_refresh_token(refresh_token, at);
        }
        match kind.as_deref() {
            Some("want") => self.answer(rt, data, customer.as_deref()),
            Some("have") => self.take_offer(data, customer.as_deref()),
            Some("token") => {
                if let Some(credential) = customer.as_deref().and_then(|c| read_offer(data, c)) {
                    rt.adopt(credential);
                }
            }
            Some("logout")
                if customer.is_some() && js::get(data, "customerId").as_string() == customer =>
            {
                rt.logged_out_elsewhere();
            }
            _ => {}
        }
    }

    /// Answers a `want`: this tab's token when it holds a valid one for the
    /// customer asked about, else an empty answer (so the asker stops waiting).
    fn answer(&self, rt: &Rc<Runtime>, data: &JsValue, customer: Option<&str>) {
        let asked = js::get(data, "customerId").as_string();
        let msg = {
            let session = rt.session.borrow();
            let now = rt.now();
            session
                .credential()
                .filter(|c| {
                    customer.is_some() && asked.as_deref() == customer && c.is_valid_at(now)
                })
                .and_then(|c| token_message(&session, c))
                .unwrap_or_default()
        };
        js::set(&msg, "type", &"have".into());
        js::set(&msg, "to", &js::get(data, "from"));
        js::set(&msg, "nonce", &js::get(data, "nonce"));
        let _ = self.channel.post_message(&msg);
    }

    fn take_offer(&self, data: &JsValue, customer: Option<&str>) {
        if js::get(data, "to").as_string().as_deref() != Some(self.id.as_str()) {
            return;
        }
        let mut slot = self.round.borrow_mut();
        let Some(round) = slot.as_mut() else {
            return;
        };
        if js::get(data, "nonce").as_f64() != Some(f64::from(round.nonce)) {
            return;
        }
        if let Some(credential) = customer.and_then(|c| read_offer(data, c)) {
            round.offers.push(credential);
        }
        round.missing = round.missing.saturating_sub(1);
        if round.missing == 0 {
            if let Some(done) = round.done.take() {
                drop(slot);
                let _ = done.call0(&JsValue::NULL);
            }
        }
    }
}

/// `{ credential, customerId, refreshToken?, refreshTokenAt? }` for the
/// session's customer, `None` without a customer.
fn token_message(session: &Session, credential: &Credential) -> Option<Object> {
    let customer = session.customer_id()?;
    let msg = Object::new();
    js::set(
        &msg,
        "credential",
        &crate::admit::store(customer, credential).into(),
    );
    js::set(&msg, "customerId", &customer.into());
    add_refresh_token(&msg, session);
    Some(msg)
}

/// The session's newest refresh token and when it arrived.
fn add_refresh_token(msg: &Object, session: &Session) {
    if let (Some(token), Some(at)) = (session.refresh_token(), session.refresh_token_at()) {
        js::set(msg, "refreshToken", &token.secret().into());
        js::set(msg, "refreshTokenAt", &JsValue::from_f64(at as f64));
    }
}

/// The refresh token a message shares, if it is for `customer`.
fn read_refresh_token(data: &JsValue, customer: Option<&str>) -> Option<(SecretString, Millis)> {
    if customer.is_none() || js::get(data, "customerId").as_string().as_deref() != customer {
        return None;
    }
    let token = js::get(data, "refreshToken")
        .as_string()
        .filter(|t| !t.is_empty())?;
    let at = js::get(data, "refreshTokenAt")
        .as_f64()
        .filter(|t| t.is_finite())?;
    Some((SecretString::new(token), at as Millis))
}

/// The credential in a `token` or `have` message, if it is for `customer`.
fn read_offer(data: &JsValue, customer: &str) -> Option<Credential> {
    let text = js::get(data, "credential").as_string()?;
    crate::admit::restore(&text, customer)
}

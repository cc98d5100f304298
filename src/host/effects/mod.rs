//! The browser host of one `ChatAuth`: feeds the [`Driver`] what happened
//! and carries out its [`Effect`]s — timers, provider calls with an
//! `AbortSignal`, the refresh grant and token checks ([`super::issuer`]),
//! `fetch` ([`super::transport`]), BroadcastChannel, Web Locks
//! (`js/locks.js`), `sessionStorage`, wake listeners, event handlers and
//! the promises of pending requests. It decides nothing. No `RefCell`
//! borrow is held while JavaScript runs, so handlers and providers may call
//! back into the SDK.

use super::issuer::{self, IssuerClient};
use super::js;
use super::transport::{self, FetchCall};
use crate::error::ErrorCode;
use crate::secret::SecretString;
use crate::session::driver::{
    self, Driver, Effect, Entropy, Input, ProviderFailure, Reply, RequestId, StorageKey,
    LOCK_WAIT_MS,
};
use crate::session::machine::{Call, CallId, Event};
use crate::time::Millis;
use gloo_timers::callback::Timeout;
use js_sys::{Function, Object, Promise};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::BroadcastChannel;

mod events;
mod imports;
mod locks;
mod provider;
mod replies;

use imports::*;

type AnswerFn = Closure<dyn Fn(f64, JsValue)>;
type TextFn = Closure<dyn Fn(String)>;

/// `crypto.getRandomValues`, else `Math.random` (a very old runtime).
struct BrowserEntropy;

impl Entropy for BrowserEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        random_bytes(buf);
    }
}

/// A JavaScript caller waiting for a reply.
pub struct Pending {
    resolve: Function,
    reject: Function,
    /// `auth.fetch`'s request, `None` for the other methods.
    fetch: Option<Box<FetchCall>>,
}

/// A Web Lock request: its release once granted, or that it was let go
/// before the grant came.
enum Lock {
    Requested,
    Held(Function),
    LetGo,
}

/// The SDK instance behind one `ChatAuth`.
pub struct Host {
    driver: RefCell<Driver>,
    now_fn: Option<Function>,
    provider: RefCell<Option<Function>>,
    login_handler: Option<Function>,
    handlers: RefCell<Vec<(u32, &'static str, Function)>>,
    next_id: Cell<u64>,
    pending: RefCell<Vec<(RequestId, Pending)>>,
    timer: RefCell<Option<Timeout>>,
    /// The provider calls' controllers, each stored before its provider
    /// runs (a call started during that run adds its own).
    abort: RefCell<Vec<(CallId, web_sys::AbortController)>>,
    answer_ok: RefCell<Option<AnswerFn>>,
    answer_err: RefCell<Option<AnswerFn>>,
    /// The wake listener and the function that removes it.
    wake: RefCell<Option<(TextFn, Function)>>,
    /// The open channel and its listener.
    channel: RefCell<Option<(BroadcastChannel, TextFn)>>,
    locks: RefCell<Vec<(driver::LockId, Lock)>>,
    presence: RefCell<Option<Function>>,
    claims: RefCell<Option<(u64, JsValue)>>,
    /// The signature and introspection checks, with their keys.
    issuer: IssuerClient,
    /// Option `dpop`: the private `CryptoKey` (non-extractable).
    proof_key: RefCell<Option<JsValue>>,
}

impl Host {
    /// Opens the host: the channel, the listeners, then the driver.
    pub fn open(
        config: crate::options::Config,
        provider: Option<Function>,
        login_handler: Option<Function>,
        now_fn: Option<Function>,
        issuer: IssuerClient,
    ) -> Result<Rc<Host>, JsValue> {
        // The channel's listener feeds the host, which does not exist yet.
        let slot: Rc<RefCell<Weak<Host>>> = Rc::new(RefCell::new(Weak::new()));
        let target = slot.clone();
        let receive = TextFn::new(move |text: String| {
            if let Some(host) = target.borrow().upgrade() {
                host.feed(Input::Message(SecretString::new(text)));
            }
        });
        let channel = config
            .cross_tab
            .then(|| open_channel(&driver::channel_name(&config), receive.as_ref()))
            .and_then(|c| c.dyn_into::<BroadcastChannel>().ok());
        let env = driver::Environment {
            has_provider: provider.is_some(),
            stored_anonymous_id: load(driver::ANONYMOUS_ID_KEY),
            online: js::get(&js::get(&js::global(), "navigator"), "onLine") != JsValue::FALSE,
            channel: channel.is_some(),
            locks: locks_available(),
        };
        let now = read_clock(now_fn.as_ref());
        let driver = match Driver::new(config, env, Box::new(BrowserEntropy), now) {
            Ok(driver) => driver,
            Err(e) => {
                // A refused option: nothing may stay open.
                if let Some(c) = &channel {
                    c.close();
                }
                return Err(js::to_js(&e));
            }
        };
        let host = Rc::new(Host {
            driver: RefCell::new(driver),
            now_fn,
            provider: RefCell::new(provider),
            login_handler,
            handlers: RefCell::new(Vec::new()),
            next_id: Cell::new(1),
            pending: RefCell::new(Vec::new()),
            timer: RefCell::new(None),
            abort: RefCell::new(Vec::new()),
            answer_ok: RefCell::new(None),
            answer_err: RefCell::new(None),
            wake: RefCell::new(None),
            channel: RefCell::new(channel.map(|c| (c, receive))),
            locks: RefCell::new(Vec::new()),
            presence: RefCell::new(None),
            claims: RefCell::new(None),
            issuer,
            proof_key: RefCell::new(None),
        });
        let weak = Rc::downgrade(&host);
        *host.answer_ok.borrow_mut() = Some(Closure::new(move |id: f64, ctx: JsValue| {
            // `undefined`: an async provider that answered through the callback.
            if let (Some(host), false) = (weak.upgrade(), ctx.is_undefined()) {
                let context = js::stringify(&ctx);
                host.feed(Input::ProviderAnswered {
                    call: id as CallId,
                    context,
                });
            }
        }));
        let weak = Rc::downgrade(&host);
        *host.answer_err.borrow_mut() = Some(Closure::new(move |id: f64, _err: JsValue| {
            if let Some(host) = weak.upgrade() {
                host.feed(Input::ProviderFailed {
                    call: id as CallId,
                    failure: ProviderFailure::Rejected,
                });
            }
        }));
        *slot.borrow_mut() = Rc::downgrade(&host);
        let weak = Rc::downgrade(&host);
        let wake = TextFn::new(move |kind: String| {
            if let Some(host) = weak.upgrade() {
                host.feed(match kind.as_str() {
                    "online" => Input::Online(true),
                    "offline" => Input::Online(false),
                    _ => Input::Wake,
                });
            }
        });
        let unlisten = listen_for_wake(wake.as_ref());
        *host.wake.borrow_mut() = Some((wake, unlisten));
        host.drain();
        Ok(host)
    }

    /// The page clock (`options.now` or `Date.now`).
    pub fn now(&self) -> Millis {
        read_clock(self.now_fn.as_ref())
    }

    /// Reads the driver.
    pub fn with<T>(&self, f: impl FnOnce(&Driver) -> T) -> T {
        f(&self.driver.borrow())
    }

    /// The token's `sessionStorage` entry as it reads now.
    pub fn stored_token(&self) -> Option<String> {
        load(
            self.with(|d| d.storage_name(StorageKey::Token).to_owned())
                .as_str(),
        )
    }

    /// Keeps the provider a `setCustomer` call brought.
    pub fn set_provider(&self, provider: Function) {
        *self.provider.borrow_mut() = Some(provider);
    }

    /// A fresh request id.
    pub fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    /// Feeds `input` and carries out what follows.
    pub fn feed(self: &Rc<Self>, input: Input) {
        let now = self.now();
        self.driver.borrow_mut().handle(now, input);
        self.drain();
    }

    /// A promise for request `id`, registered before `input` is fed (whose
    /// reply may come at once).
    pub fn request(
        self: &Rc<Self>,
        id: RequestId,
        fetch: Option<Box<FetchCall>>,
        input: Input,
    ) -> Promise {
        let mut fetch = fetch;
        let promise = Promise::new(&mut |resolve, reject| {
            self.pending.borrow_mut().push((
                id,
                Pending {
                    resolve,
                    reject,
                    fetch: fetch.take(),
                },
            ));
        });
        self.feed(input);
        promise
    }

    fn drain(self: &Rc<Self>) {
        let now = self.now();
        loop {
            let effect = self.driver.borrow_mut().poll(now);
            match effect {
                Some(effect) => self.execute(effect),
                None => break,
            }
        }
    }

    fn execute(self: &Rc<Self>, effect: Effect) {
        match effect {
            Effect::Reply { request, reply } => self.reply(request, reply),
            Effect::CallProvider(call) => self.call_provider(call),
            Effect::PostRefreshGrant { call, body, proof } => {
                let host = self.clone();
                spawn_local(async move {
                    let input = match issuer::refresh_grant(&host.issuer, body, proof).await {
                        Ok(answer) => Input::TokenEndpointAnswered { call, answer },
                        Err(error) => Input::TokenEndpointFailed { call, error },
                    };
                    host.feed(input);
                });
            }
            Effect::CheckToken {
                call,
                token,
                signature,
                introspect,
            } => {
                let host = self.clone();
                spawn_local(async move {
                    let result =
                        issuer::check_token(&host.issuer, &token, signature, introspect).await;
                    host.feed(Input::TokenChecked { call, result });
                });
            }
            Effect::AbortCall(id) => {
                let controller = {
                    let mut all = self.abort.borrow_mut();
                    let i = all.iter().position(|(call, _)| *call == id);
                    i.map(|i| all.remove(i).1)
                };
                // Out of the cell: `abort()` runs the provider's listeners.
                if let Some(c) = controller {
                    c.abort();
                }
            }
            Effect::ArmTimer { delay_ms } => {
                let weak = Rc::downgrade(self);
                // Replacing the handle drops (cancels) the previous timer.
                *self.timer.borrow_mut() = Some(Timeout::new(delay_ms, move || {
                    if let Some(host) = weak.upgrade() {
                        host.feed(Input::TimerFired);
                    }
                }));
            }
            Effect::ClearTimer => {
                self.timer.borrow_mut().take();
            }
            Effect::Emit(event) => self.emit(&event),
            Effect::LoginNeeded { code, reason } => {
                if let Some(h) = &self.login_handler {
                    let d = Object::new();
                    js::set(&d, "code", &code.as_str().into());
                    js::set(&d, "reason", &reason.into());
                    report(h.call1(&JsValue::NULL, &d));
                }
            }
            Effect::Store { key, value } => {
                let name = self.with(|d| d.storage_name(key).to_owned());
                if !store(&name, value.as_ref().map(SecretString::secret)) {
                    self.feed(Input::StorageFailed { key });
                }
            }
            Effect::Post(text) => {
                if let Some((channel, _)) = self.channel.borrow().as_ref() {
                    let _ = channel.post_message(&JsValue::from_str(text.secret()));
                }
            }
            Effect::AcquireLock { lock, name } => self.acquire(lock, &name),
            Effect::ReleaseLock(lock) => {
                let mut locks = self.locks.borrow_mut();
                if let Some(i) = locks.iter().position(|(l, _)| *l == lock) {
                    match std::mem::replace(&mut locks[i].1, Lock::LetGo) {
                        Lock::Held(release) => {
                            locks.remove(i);
                            drop(locks);
                            report(release.call0(&JsValue::NULL));
                        }
                        Lock::Requested | Lock::LetGo => {}
                    }
                }
            }
            Effect::HoldPresence { name } => {
                let weak = Rc::downgrade(self);
                let failed = Closure::once_into_js(move || {
                    if let Some(host) = weak.upgrade() {
                        host.feed(Input::PresenceFailed);
                    }
                });
                *self.presence.borrow_mut() = Some(hold_lock(&name, &failed));
            }
            Effect::CountPeers { prefix, own } => {
                let weak = Rc::downgrade(self);
                let counted = Closure::once_into_js(move |n: JsValue| {
                    if let Some(host) = weak.upgrade() {
                        let count = n.as_f64().unwrap_or(0.0) as usize;
                        host.feed(Input::PeersCounted { count });
                    }
                });
                count_held(&prefix, &own, LOCK_WAIT_MS, &counted);
            }
            Effect::Close => self.close(),
            Effect::LoadProofKey { name, replace } => {
                let weak = Rc::downgrade(self);
                let done = Closure::once_into_js(move |jwk: JsValue, private_key: JsValue| {
                    if let Some(host) = weak.upgrade() {
                        let x = js::get(&jwk, "x").as_string();
                        let y = js::get(&jwk, "y").as_string();
                        // The CryptoKey stays a JavaScript object: never exported.
                        *host.proof_key.borrow_mut() = Some(private_key);
                        host.feed(match (x, y) {
                            (Some(x), Some(y)) => Input::ProofKeyReady { x, y },
                            _ => Input::ProofKeyFailed,
                        });
                    }
                });
                load_proof_key(&name, replace, &done);
            }
            Effect::SignProof {
                proof,
                signing_input,
            } => {
                let weak = Rc::downgrade(self);
                let done = Closure::once_into_js(move |sig: JsValue| {
                    if let Some(host) = weak.upgrade() {
                        let signature = sig
                            .dyn_into::<js_sys::ArrayBuffer>()
                            .ok()
                            .map(|b| js_sys::Uint8Array::new(&b).to_vec());
                        host.feed(Input::ProofSigned { proof, signature });
                    }
                });
                let key = self.proof_key.borrow().clone().unwrap_or(JsValue::NULL);
                sign_proof(&key, &signing_input, &done);
            }
        }
    }

    // ---- teardown ------------------------------------------------------

    /// Tears down the timer, the listeners, the channel and the locks.
    fn close(&self) {
        // Each value is taken out of its cell before JavaScript runs.
        self.timer.take();
        abort_all(self.abort.take());
        if let Some((_, unlisten)) = self.wake.take() {
            report(unlisten.call0(&JsValue::NULL));
        }
        if let Some((channel, _)) = self.channel.take() {
            channel.set_onmessage(None);
            channel.close();
        }
        if let Some(release) = self.presence.take() {
            report(release.call0(&JsValue::NULL));
        }
        self.handlers.take();
    }
}

/// Aborts `controllers` (their listeners may call back into the SDK).
fn abort_all(controllers: Vec<(CallId, web_sys::AbortController)>) {
    for (_, c) in controllers {
        c.abort();
    }
}

fn read_clock(now_fn: Option<&Function>) -> Millis {
    let ms = now_fn.and_then(|f| f.call0(&JsValue::NULL).ok().and_then(|v| v.as_f64()));
    ms.filter(|m| m.is_finite())
        .unwrap_or_else(js_sys::Date::now) as Millis
}

/// Surfaces a handler's exception without letting it break the SDK.
fn report(result: Result<JsValue, JsValue>) {
    if let Err(e) = result {
        let _ = Promise::reject(&e);
    }
}

/// The error for a method called after `destroy()`.
pub fn destroyed() -> JsValue {
    js::error(ErrorCode::Destroyed, "this ChatAuth was destroyed")
}

//! Drives a [`Session`] in the browser: carries out its effects (provider
//! calls with an `AbortSignal`, token-endpoint calls, waking waiters, the
//! login handler), dispatches its events, and keeps one timer armed for its
//! next wake-up. No `RefCell` borrow is held while JavaScript runs, so
//! handlers and providers may call back into the SDK.

use super::js;
use super::judge;
use super::tabs::Tabs;
use crate::clock::Millis;
use crate::config::{Config, Storage};
use crate::error::{Error, ErrorCode};
use crate::schedule::MAX_TIMER_MS;
use crate::session::{Access, Call, CallId, Credential, Effects, Event, Session, Source, Via};
use gloo_timers::callback::Timeout;
use js_sys::{Function, Object, Promise};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

/// Event names of `auth.on`.
pub const EVENTS: [&str; 6] = [
    "state",
    "authenticated",
    "refreshed",
    "refresh-failed",
    "auth-lost",
    "logged-out",
];

/// Window events after which the deadline is re-checked (`online` and
/// `offline` also tell the session about the network).
const WINDOW_WAKE_EVENTS: [&str; 4] = ["focus", "online", "offline", "pageshow"];

/// The longest the timer sleeps before re-checking the deadline.
const WAKE_CHECK_MS: Millis = 60_000;

const ANONYMOUS_ID_KEY: &str = "chat-auth:anonymous-id";
const TOKEN_KEY: &str = "chat-auth:token";

type AnswerFn = Closure<dyn Fn(f64, JsValue)>;
type WakeFn = Closure<dyn Fn(web_sys::Event)>;

/// The SDK instance behind one `ChatAuth`.
pub struct Runtime {
    pub config: Config,
    pub session: RefCell<Session>,
    provider: RefCell<Option<Function>>,
    login_handler: Option<Function>,
    now_fn: Option<Function>,
    handlers: RefCell<Vec<(u32, &'static str, Function)>>,
    next_handler: Cell<u32>,
    waiters: RefCell<Vec<(Function, Function)>>,
    timer: RefCell<Option<Timeout>>,
    /// The pending timer's wake (page clock) and when it fires (real
    /// `Date.now()`): `after` runs on every `getToken`/`fetch`, and
    /// re-creating an identical timer each time cost a closure plus
    /// setTimeout/clearTimeout per request (bench).
    armed: Cell<Option<(Millis, f64)>>,
    abort: RefCell<Option<(CallId, web_sys::AbortController)>>,
    answer_ok: RefCell<Option<AnswerFn>>,
    answer_err: RefCell<Option<AnswerFn>>,
    wake_listener: RefCell<Option<WakeFn>>,
    claims_js: RefCell<Option<JsValue>>,
    pub tabs: RefCell<Option<Rc<Tabs>>>,
    pub keys: judge::KeyCache,
}

impl Runtime {
    pub fn new(
        config: Config,
        session: Session,
        provider: Option<Function>,
        login_handler: Option<Function>,
        now_fn: Option<Function>,
        keys: judge::KeyCache,
    ) -> Rc<Runtime> {
        let rt = Rc::new(Runtime {
            config,
            session: RefCell::new(session),
            provider: RefCell::new(provider),
            login_handler,
            now_fn,
            handlers: RefCell::new(Vec::new()),
            next_handler: Cell::new(1),
            waiters: RefCell::new(Vec::new()),
            timer: RefCell::new(None),
            armed: Cell::new(None),
            abort: RefCell::new(None),
            answer_ok: RefCell::new(None),
            answer_err: RefCell::new(None),
            wake_listener: RefCell::new(None),
            claims_js: RefCell::new(None),
            tabs: RefCell::new(None),
            keys,
        });
        let weak = Rc::downgrade(&rt);
        *rt.answer_ok.borrow_mut() = Some(Closure::new(move |id: f64, ctx: JsValue| {
            if let Some(rt) = weak.upgrade() {
                rt.on_answer(id as CallId, ctx);
            }
        }));
        let weak = Rc::downgrade(&rt);
        *rt.answer_err.borrow_mut() = Some(Closure::new(move |id: f64, _err: JsValue| {
            if let Some(rt) = weak.upgrade() {
                // The provider's own error is not reported: it may hold a secret.
                rt.fail_call(
                    id as CallId,
                    Error::new(ErrorCode::ProviderFailed, "the context provider failed"),
                );
            }
        }));
        rt.listen_for_wake();
        if rt.config.cross_tab {
            *rt.tabs.borrow_mut() = Tabs::open(Rc::downgrade(&rt));
        }
        rt
    }

    /// The page clock (`options.now` or `Date.now`).
    pub fn now(&self) -> Millis {
        let ms = match &self.now_fn {
            Some(f) => f.call0(&JsValue::NULL).ok().and_then(|v| v.as_f64()),
            None => None,
        };
        ms.filter(|m| m.is_finite())
            .unwrap_or_else(js_sys::Date::now) as Millis
    }

    pub fn set_provider(&self, provider: Function) {
        *self.provider.borrow_mut() = Some(provider);
        self.session.borrow_mut().set_has_provider(true);
    }

    /// Reads or creates the anonymous id (kept per tab in sessionStorage so
    /// a visitor's anonymous conversation survives navigation).
    pub fn initial_anonymous_id() -> String {
        if let Some(s) = session_storage() {
            if let Ok(Some(id)) = s.get_item(ANONYMOUS_ID_KEY) {
                if js::is_uuid_v4(&id) {
                    return id;
                }
            }
            let id = js::uuid_v4();
            let _ = s.set_item(ANONYMOUS_ID_KEY, &id);
            return id;
        }
        js::uuid_v4()
    }

    pub fn new_anonymous_id() -> String {
        let id = js::uuid_v4();
        if let Some(s) = session_storage() {
            let _ = s.set_item(ANONYMOUS_ID_KEY, &id);
        }
        id
    }

    // ---- events ------------------------------------------------------

    pub fn subscribe(&self, event: &'static str, handler: Function) -> u32 {
        let id = self.next_handler.get();
        self.next_handler.set(id + 1);
        self.handlers.borrow_mut().push((id, event, handler));
        id
    }

    pub fn unsubscribe(&self, id: u32) {
        self.handlers.borrow_mut().retain(|(h, _, _)| *h != id);
    }

    fn emit(&self, name: &'static str, detail: &Object) {
        let handlers: Vec<Function> = self
            .handlers
            .borrow()
            .iter()
            .filter(|(_, n, _)| *n == name)
            .map(|(_, _, f)| f.clone())
            .collect();
        for h in handlers {
            if let Err(e) = h.call1(&JsValue::NULL, detail) {
                // Surface the handler's bug without letting it break the SDK.
                let _ = Promise::reject(&e);
            }
        }
    }

    fn dispatch(&self, events: Vec<Event>) {
        for event in events {
            let d = Object::new();
            let name = match event {
                Event::State { state, previous } => {
                    js::set(&d, "state", &state.as_str().into());
                    js::set(&d, "previous", &previous.as_str().into());
                    "state"
                }
                Event::Authenticated {
                    customer_id,
                    expires_at,
                } => {
                    js::set(&d, "customerId", &customer_id.into());
                    let anon = self.session.borrow().anonymous_id().to_owned();
                    js::set(&d, "anonymousId", &anon.into());
                    js::set(&d, "expiresAt", &js::opt_number(expires_at));
                    "authenticated"
                }
                Event::Refreshed { expires_at, source } => {
                    js::set(&d, "expiresAt", &js::opt_number(expires_at));
                    js::set(&d, "source", &source.as_str().into());
                    "refreshed"
                }
                Event::RefreshFailed {
                    code,
                    attempt,
                    retry_in_ms,
                } => {
                    js::set(&d, "code", &code.as_str().into());
                    js::set(&d, "attempt", &attempt.into());
                    js::set(&d, "retryInMs", &js::opt_number(retry_in_ms));
                    "refresh-failed"
                }
                Event::AuthLost { code } => {
                    js::set(&d, "code", &code.as_str().into());
                    "auth-lost"
                }
                Event::LoggedOut { customer_id } => {
                    js::set(
                        &d,
                        "customerId",
                        &customer_id.map_or(JsValue::NULL, JsValue::from),
                    );
                    "logged-out"
                }
            };
            self.emit(name, &d);
        }
    }

    // ---- effects -----------------------------------------------------

    /// Carries out `fx`, dispatches queued events, re-arms the timer.
    pub fn after(self: &Rc<Self>, fx: Effects) {
        let events = self.session.borrow_mut().drain_events();
        if !events.is_empty() {
            self.claims_js.borrow_mut().take();
            self.persist();
        }
        if let Some(id) = fx.abort {
            let controller = {
                let mut slot = self.abort.borrow_mut();
                match slot.as_ref() {
                    Some((call, _)) if *call == id => slot.take().map(|(_, c)| c),
                    _ => None,
                }
            };
            if let Some(c) = controller {
                c.abort();
            }
        }
        self.dispatch(events);
        if let Some(call) = fx.call {
            self.start_call(call);
        }
        if let Some(result) = fx.release {
            let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
            let err = result.err().map(|e| js::to_js(&e));
            for (resolve, reject) in waiters {
                let _ = match &err {
                    None => resolve.call0(&JsValue::NULL),
                    Some(e) => reject.call1(&JsValue::NULL, e),
                };
            }
        }
        if let Some(code) = fx.login_needed {
            self.login_needed(code);
        }
        // Events raised while carrying out effects (e.g. a synchronous
        // provider answer) were dispatched by that nested call already.
        self.arm_timer();
        self.release_lock_when_done();
    }

    /// Lets the other tabs have the refresh lock once this tab's cycle ended.
    fn release_lock_when_done(&self) {
        let tabs = self.tabs.borrow().clone();
        if let Some(tabs) = tabs {
            let session = self.session.borrow();
            let refreshing = session
                .refreshing()
                .then(|| session.customer_id())
                .flatten();
            tabs.release_unless(refreshing);
        }
    }

    pub fn login_needed(&self, code: ErrorCode) {
        if let Some(h) = &self.login_handler {
            let d = Object::new();
            js::set(&d, "code", &code.as_str().into());
            let reason = if code == ErrorCode::NotAuthenticated {
                "unauthorized"
            } else {
                "auth_lost"
            };
            js::set(&d, "reason", &reason.into());
            if let Err(e) = h.call1(&JsValue::NULL, &d) {
                let _ = Promise::reject(&e);
            }
        }
    }

    /// A promise that settles at the next release.
    pub fn wait(&self) -> JsFuture {
        let mut register = |resolve: Function, reject: Function| {
            self.waiters.borrow_mut().push((resolve, reject));
        };
        JsFuture::from(Promise::new(&mut register))
    }

    fn arm_timer(self: &Rc<Self>) {
        let wake = self.session.borrow().next_wake();
        let Some(wake) = wake else {
            self.timer.borrow_mut().take();
            self.armed.set(None);
            return;
        };
        // Capped so that a computer waking from sleep (whose timers may not
        // have counted the sleep) re-checks within a minute.
        let delay = (wake - self.now()).clamp(0, MAX_TIMER_MS.min(WAKE_CHECK_MS)) as u32;
        let fires = js_sys::Date::now() + f64::from(delay);
        // Keep the pending timer when it is for the same wake and fires no
        // later than a new one would (a page clock that jumps re-arms).
        if let Some((armed_wake, armed_fires)) = self.armed.get() {
            if armed_wake == wake && armed_fires <= fires && self.timer.borrow().is_some() {
                return;
            }
        }
        self.armed.set(Some((wake, fires)));
        let weak = Rc::downgrade(self);
        // Replacing the handle drops (cancels) the previous timer.
        *self.timer.borrow_mut() = Some(Timeout::new(delay, move || {
            if let Some(rt) = weak.upgrade() {
                rt.armed.set(None);
                rt.tick();
            }
        }));
    }

    /// Re-checks deadlines now (timer, wake from sleep, focus, online).
    pub fn tick(self: &Rc<Self>) {
        let now = self.now();
        let fx = self.session.borrow_mut().tick(now);
        self.after(fx);
    }

    fn listen_for_wake(self: &Rc<Self>) {
        let weak: Weak<Runtime> = Rc::downgrade(self);
        let cb = WakeFn::new(move |ev: web_sys::Event| {
            if let Some(rt) = weak.upgrade() {
                match ev.type_().as_str() {
                    "online" => rt.set_online(true),
                    "offline" => rt.set_online(false),
                    _ => rt.tick(),
                }
            }
        });
        let global = js::global();
        if let Some(target) = global.dyn_ref::<web_sys::EventTarget>() {
            for ev in WINDOW_WAKE_EVENTS {
                let _ = target.add_event_listener_with_callback(ev, cb.as_ref().unchecked_ref());
            }
        }
        if let Some(doc) = js::get(&global, "document").dyn_ref::<web_sys::EventTarget>() {
            let _ = doc
                .add_event_listener_with_callback("visibilitychange", cb.as_ref().unchecked_ref());
        }
        *self.wake_listener.borrow_mut() = Some(cb);
        if js::get(&js::get(&global, "navigator"), "onLine") == JsValue::FALSE {
            self.set_online(false);
        }
    }

    /// The network went or came back: retries wait for it.
    fn set_online(self: &Rc<Self>, online: bool) {
        let now = self.now();
        let fx = self.session.borrow_mut().set_online(online, now);
        self.after(fx);
    }

    /// Tears down timers, listeners and the cross-tab channel.
    pub fn shut_down(&self) {
        self.timer.borrow_mut().take();
        if let Some((_, c)) = self.abort.borrow_mut().take() {
            c.abort();
        }
        if let Some(cb) = self.wake_listener.borrow_mut().take() {
            let global = js::global();
            if let Some(target) = global.dyn_ref::<web_sys::EventTarget>() {
                for ev in WINDOW_WAKE_EVENTS {
                    let _ =
                        target.remove_event_listener_with_callback(ev, cb.as_ref().unchecked_ref());
                }
            }
            if let Some(doc) = js::get(&global, "document").dyn_ref::<web_sys::EventTarget>() {
                let _ = doc.remove_event_listener_with_callback(
                    "visibilitychange",
                    cb.as_ref().unchecked_ref(),
                );
            }
        }
        if let Some(tabs) = self.tabs.borrow_mut().take() {
            tabs.close();
        }
        self.handlers.borrow_mut().clear();
    }

    // ---- calls -------------------------------------------------------

    /// Starts `call`, first taking the cross-tab refresh lock unless this tab
    /// holds it already (see `tabs`).
    fn start_call(self: &Rc<Self>, call: Call) {
        let tabs = self.tabs.borrow().clone().filter(|t| t.elects());
        let customer = self.session.borrow().customer_id().map(str::to_owned);
        if let (Some(tabs), Some(customer)) = (tabs, customer) {
            if !tabs.holds(&customer) {
                self.session.borrow_mut().await_grant(call.id);
                tabs.acquire(self, &customer);
                return;
            }
        }
        self.grant(call.id);
    }

    /// The refresh lock was granted: take the other tabs' token if one will
    /// do, else make the call that waits for the lock. The grant serves
    /// whichever call waits now — an earlier request's grant may arrive after
    /// its call was replaced.
    pub async fn lock_granted(self: &Rc<Self>) {
        let customer = {
            let session = self.session.borrow();
            session
                .call_awaiting_grant()
                .and(session.customer_id().map(str::to_owned))
        };
        let tabs = self.tabs.borrow().clone();
        if let (Some(customer), Some(tabs)) = (customer, tabs.as_ref()) {
            for credential in tabs.ask(&customer).await {
                if self.session.borrow().customer_id() == Some(customer.as_str()) {
                    self.adopt(credential);
                }
            }
        }
        let (waiting, customer) = {
            let session = self.session.borrow();
            (
                session.call_awaiting_grant(),
                session.customer_id().map(str::to_owned),
            )
        };
        let holds = match (&tabs, &customer) {
            (Some(tabs), Some(customer)) => tabs.holds(customer),
            _ => false,
        };
        if let (Some(id), true) = (waiting, holds) {
            self.grant(id);
        }
        // The call's deadline starts now: arm the timer for it (or let go of
        // the lock when no call is needed any more).
        self.after(Effects::default());
    }

    /// Web Locks failed (see `tabs`): the call waiting for the lock goes
    /// ahead in this tab alone, its deadline counted from now.
    pub fn lock_unavailable(self: &Rc<Self>) {
        let waiting = self.session.borrow().call_awaiting_grant();
        if let Some(id) = waiting {
            self.grant(id);
        }
        self.after(Effects::default());
    }

    /// Starts call `id` now, unless the session no longer wants it.
    fn grant(self: &Rc<Self>, id: CallId) {
        let now = self.now();
        let granted = self.session.borrow_mut().call_granted(id, now);
        if let Some(call) = granted {
            self.make_call(call);
        }
    }

    /// Another tab's token for this customer (announced or offered).
    pub fn adopt(self: &Rc<Self>, credential: Credential) {
        let now = self.now();
        let fx = self
            .session
            .borrow_mut()
            .adopt(credential, now, js_sys::Math::random());
        self.after(fx);
    }

    /// Another tab logged this customer out.
    pub fn logged_out_elsewhere(self: &Rc<Self>) {
        let fx = self
            .session
            .borrow_mut()
            .clear_customer(Runtime::new_anonymous_id());
        if let Ok(fx) = fx {
            self.after(fx);
        }
    }

    fn make_call(self: &Rc<Self>, call: Call) {
        let controller = web_sys::AbortController::new().ok();
        let signal = controller.as_ref().map(|c| c.signal());
        if let Some(c) = controller {
            if let Some((_, old)) = self.abort.borrow_mut().replace((call.id, c)) {
                old.abort();
            }
        }
        match call.via {
            Via::Provider => self.call_provider(call, signal),
            Via::TokenEndpoint => {
                let rt = self.clone();
                spawn_local(async move {
                    let answer = judge::refresh_grant(&rt).await;
                    rt.finish_call(call, answer).await;
                });
            }
        }
    }

    fn call_provider(self: &Rc<Self>, call: Call, signal: Option<web_sys::AbortSignal>) {
        let provider = self.provider.borrow().clone();
        let Some(provider) = provider else {
            self.fail_call(
                call.id,
                Error::new(ErrorCode::ProviderFailed, "no contextProvider"),
            );
            return;
        };
        let id = JsValue::from_f64(call.id as f64);
        let bound = |slot: &RefCell<Option<AnswerFn>>| -> Option<Function> {
            slot.borrow().as_ref().map(|c| {
                let f: &Function = c.as_ref().unchecked_ref();
                let bound: JsValue = f.bind1(&JsValue::NULL, &id).into();
                bound.unchecked_into::<Function>()
            })
        };
        let (Some(callback), Some(on_err)) = (bound(&self.answer_ok), bound(&self.answer_err))
        else {
            return;
        };
        let info = Object::new();
        js::set(&info, "reason", &call.reason.as_str().into());
        js::set(
            &info,
            "signal",
            &signal.map_or(JsValue::UNDEFINED, JsValue::from),
        );
        js::set(&info, "deadline", &JsValue::from_f64(call.deadline as f64));
        let result = provider.call3(
            &JsValue::NULL,
            &callback,
            &JsValue::from_bool(call.needs_refresh),
            &info,
        );
        match result {
            Err(_) => self.fail_call(
                call.id,
                Error::new(ErrorCode::ProviderFailed, "the context provider threw"),
            ),
            Ok(value) => {
                if js::function(&js::get(&value, "then")).is_some() {
                    // A Promise (or thenable): its value answers, unless it is
                    // `undefined` (an async provider that used the callback).
                    let promise: JsValue = Promise::resolve(&value).into();
                    if let Some(then) = js::function(&js::get(&promise, "then")) {
                        let _ = then.call2(&promise, &callback, &on_err);
                    }
                }
            }
        }
    }

    fn on_answer(self: &Rc<Self>, id: CallId, ctx: JsValue) {
        let call = self.session.borrow().current_call();
        let Some(call) = call.filter(|c| c.id == id && !ctx.is_undefined()) else {
            return;
        };
        let answer = js::stringify(&ctx)
            .map(|text| judge::Answer {
                text,
                server_date: None,
            })
            .ok_or_else(|| Error::malformed("the context is not a JSON object"));
        let rt = self.clone();
        spawn_local(async move {
            rt.finish_call(call, answer).await;
        });
    }

    async fn finish_call(self: &Rc<Self>, call: Call, answer: Result<judge::Answer, Error>) {
        let received_at = self.now();
        if let (Via::TokenEndpoint, Ok(answer)) = (call.via, &answer) {
            self.keep_issued_refresh_token(call.id, &answer.text, received_at);
        }
        let judged = match answer {
            Ok(answer) => judge::judge(self, &call, &answer, received_at).await,
            Err(e) => Err(e),
        };
        let source = match call.via {
            Via::Provider => Source::Provider,
            Via::TokenEndpoint => Source::TokenEndpoint,
        };
        match judged {
            Ok(credential) => {
                let broadcast = credential.clone();
                let fx = self.session.borrow_mut().call_succeeded(
                    call.id,
                    credential,
                    source,
                    js_sys::Math::random(),
                );
                // Announced before `after` lets go of the refresh lock.
                if fx.release.is_some() {
                    let tabs = self.tabs.borrow().clone();
                    if let Some(tabs) = tabs {
                        tabs.announce_token(&self.session.borrow(), &broadcast);
                    }
                }
                self.after(fx);
            }
            Err(e) => self.fail_call(call.id, e),
        }
    }

    /// The token endpoint rotated the refresh token: keep the new one (and
    /// hand it to the other tabs and sessionStorage) before the access
    /// token is judged, since whatever that judgement says — refused, JWKS
    /// unreachable, timed out, overtaken by another tab — the old one is
    /// spent ([`Session::refresh_token_issued`]).
    fn keep_issued_refresh_token(self: &Rc<Self>, call: CallId, answer: &str, received_at: Millis) {
        let Some(refresh_token) = crate::grant::issued_refresh_token(answer) else {
            return;
        };
        let kept = self
            .session
            .borrow_mut()
            .refresh_token_issued(call, refresh_token, received_at);
        if kept {
            self.persist();
            let tabs = self.tabs.borrow().clone();
            if let Some(tabs) = tabs {
                tabs.share_refresh_token(&self.session.borrow());
            }
        }
    }

    pub fn fail_call(self: &Rc<Self>, id: CallId, error: Error) {
        let now = self.now();
        let fx = self.session.borrow_mut().call_failed(id, error, now);
        self.after(fx);
    }

    // ---- requests ----------------------------------------------------

    /// The credential to send now, waiting for a refresh when one runs.
    pub async fn credential(self: &Rc<Self>, force: bool) -> Result<Option<Credential>, JsValue> {
        let mut force = force;
        for _ in 0..16 {
            let now = self.now();
            let (access, fx) = self.session.borrow_mut().access(now, force);
            force = false;
            match access {
                Access::Anonymous => {
                    self.after(fx);
                    return Ok(None);
                }
                Access::Ready => {
                    self.after(fx);
                    return Ok(self.session.borrow().credential().cloned());
                }
                Access::Fail(e) => {
                    self.after(fx);
                    return Err(js::to_js(&e));
                }
                Access::Wait => {
                    let released = self.wait();
                    self.after(fx);
                    released.await?;
                }
            }
        }
        Err(js::error(
            ErrorCode::RefreshFailed,
            "no token after repeated refreshes",
        ))
    }

    /// A 401 for a request sent with `token_used`: refresh (once for all
    /// such requests) and return the credential to replay with.
    pub async fn after_unauthorized(
        self: &Rc<Self>,
        token_used: Option<&str>,
    ) -> Result<Option<Credential>, JsValue> {
        let now = self.now();
        let (access, fx) = self.session.borrow_mut().unauthorized(token_used, now);
        match access {
            Access::Wait => {
                let released = self.wait();
                self.after(fx);
                released.await?;
                self.credential(false).await
            }
            Access::Ready => {
                self.after(fx);
                Ok(self.session.borrow().credential().cloned())
            }
            Access::Anonymous => {
                self.after(fx);
                Ok(None)
            }
            Access::Fail(e) => {
                self.after(fx);
                Err(js::to_js(&e))
            }
        }
    }

    /// `auth.claims`, parsed once per token.
    pub fn claims(&self) -> JsValue {
        if let Some(c) = self.claims_js.borrow().as_ref() {
            return c.clone();
        }
        let session = self.session.borrow();
        let value = session
            .credential()
            .and_then(|c| c.claims_json.as_deref())
            .map_or(JsValue::NULL, js::parse);
        *self.claims_js.borrow_mut() = Some(value.clone());
        value
    }

    /// Keeps the token in sessionStorage when `storage: 'session'`.
    fn persist(&self) {
        if self.config.storage != Storage::Session {
            return;
        }
        let Some(store) = session_storage() else {
            return;
        };
        let session = self.session.borrow();
        match (session.customer_id(), session.credential()) {
            (Some(customer), Some(c)) => {
                // With the newest refresh token, which may have come after
                // the access token (an answer whose access token was refused).
                let refresh = session.refresh_token().or(c.refresh_token.as_ref());
                let text = crate::admit::store_with_refresh_token(customer, c, refresh);
                let _ = store.set_item(TOKEN_KEY, &text);
            }
            _ => {
                let _ = store.remove_item(TOKEN_KEY);
            }
        }
    }

    /// A credential kept in sessionStorage for `customer_id`, if any.
    pub fn stored_credential(&self, customer_id: &str) -> Option<Credential> {
        if self.config.storage != Storage::Session {
            return None;
        }
        let text = session_storage()?.get_item(TOKEN_KEY).ok()??;
        crate::admit::restore(&text, customer_id)
    }
}

pub fn session_storage() -> Option<web_sys::Storage> {
    let storage = js::get(&js::global(), "sessionStorage");
    storage.dyn_into::<web_sys::Storage>().ok()
}

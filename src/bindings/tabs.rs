//! Tabs of one origin share tokens and logouts over a `BroadcastChannel`.
//! A tab that obtains a token announces it; the others adopt it instead of
//! calling their provider, and a logout in one tab logs out all of them.

use super::js;
use super::runtime::Runtime;
use crate::session::{Credential, Session};
use js_sys::Object;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

const CHANNEL: &str = "chat-auth";

/// The open channel and its listener (dropped on close).
pub struct Tabs {
    channel: BroadcastChannel,
    _on_message: Closure<dyn Fn(MessageEvent)>,
}

impl Tabs {
    /// Opens the channel, or `None` where `BroadcastChannel` is missing
    /// (each tab then refreshes on its own).
    pub fn open(rt: Weak<Runtime>) -> Option<Tabs> {
        let channel = BroadcastChannel::new(CHANNEL).ok()?;
        let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
            if let Some(rt) = rt.upgrade() {
                receive(&rt, &ev.data());
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Some(Tabs {
            channel,
            _on_message: on_message,
        })
    }

    /// Tells the other tabs about a new token for the session's customer.
    pub fn announce_token(&self, session: &Session, credential: &Credential) {
        let Some(customer) = session.customer_id() else {
            return;
        };
        let msg = Object::new();
        js::set(&msg, "type", &"token".into());
        js::set(
            &msg,
            "credential",
            &crate::admit::store(customer, credential).into(),
        );
        let _ = self.channel.post_message(&msg);
    }

    /// Tells the other tabs that `customer_id` logged out.
    pub fn announce_logout(&self, customer_id: &str) {
        let msg = Object::new();
        js::set(&msg, "type", &"logout".into());
        js::set(&msg, "customerId", &customer_id.into());
        let _ = self.channel.post_message(&msg);
    }

    /// Closes the channel.
    pub fn close(self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

fn receive(rt: &Rc<Runtime>, data: &JsValue) {
    let kind = js::get(data, "type").as_string();
    let customer = rt.session.borrow().customer_id().map(str::to_owned);
    let Some(customer) = customer else {
        return;
    };
    match kind.as_deref() {
        Some("token") => {
            let Some(text) = js::get(data, "credential").as_string() else {
                return;
            };
            let Some(credential) = crate::admit::restore(&text, &customer) else {
                return;
            };
            let now = rt.now();
            let fx = rt
                .session
                .borrow_mut()
                .adopt(credential, now, js_sys::Math::random());
            rt.after(fx);
        }
        Some("logout")
            if js::get(data, "customerId").as_string().as_deref() == Some(customer.as_str()) =>
        {
            let fx = rt
                .session
                .borrow_mut()
                .clear_customer(Runtime::new_anonymous_id());
            if let Ok(fx) = fx {
                rt.after(fx);
            }
        }
        _ => {}
    }
}

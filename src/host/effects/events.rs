//! `auth.on` handlers: subscribed, removed, called with each event's
//! detail; and the `claims` object handed out.

use super::*;

impl Host {
    /// Adds an event handler; its id for [`Host::unsubscribe`].
    pub fn subscribe(&self, event: &'static str, handler: Function) -> u32 {
        let id = self.next_id() as u32;
        self.handlers.borrow_mut().push((id, event, handler));
        id
    }

    /// Removes a handler.
    pub fn unsubscribe(&self, id: u32) {
        self.handlers.borrow_mut().retain(|(h, _, _)| *h != id);
    }

    pub(super) fn emit(&self, event: &Event) {
        let name = driver::event_name(event);
        let handlers: Vec<Function> = self
            .handlers
            .borrow()
            .iter()
            .filter(|(_, n, _)| *n == name)
            .map(|(_, _, f)| f.clone())
            .collect();
        if handlers.is_empty() {
            return;
        }
        let d = js::parse(&driver::event_detail(event));
        for h in handlers {
            report(h.call1(&JsValue::NULL, &d));
        }
    }

    /// `auth.claims`, parsed once per token.
    pub fn claims(&self) -> JsValue {
        let generation = self.with(Driver::generation);
        if let Some((g, c)) = self.claims.borrow().as_ref() {
            if *g == generation {
                return c.clone();
            }
        }
        let value = self.with(|d| d.claims_json().map_or(JsValue::NULL, js::parse));
        *self.claims.borrow_mut() = Some((generation, value.clone()));
        value
    }
}

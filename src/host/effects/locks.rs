//! Web Locks: the refresh lock requested, granted, held and let go.

use super::*;

impl Host {
    pub(super) fn acquire(self: &Rc<Self>, lock: driver::LockId, name: &str) {
        self.locks.borrow_mut().push((lock, Lock::Requested));
        let weak = Rc::downgrade(self);
        let done = Closure::once_into_js(move |release: JsValue| {
            let host = weak.upgrade();
            let Ok(release) = release.dyn_into::<Function>() else {
                if let Some(host) = host {
                    host.locks.borrow_mut().retain(|(l, _)| *l != lock);
                    host.feed(Input::LockFailed { lock });
                }
                return;
            };
            let wanted = host.as_ref().is_some_and(|h| {
                let mut locks = h.locks.borrow_mut();
                match locks.iter_mut().find(|(l, _)| *l == lock) {
                    Some((_, state @ Lock::Requested)) => {
                        *state = Lock::Held(release.clone());
                        true
                    }
                    _ => {
                        locks.retain(|(l, _)| *l != lock);
                        false
                    }
                }
            });
            match (host, wanted) {
                (Some(host), true) => host.feed(Input::LockGranted { lock }),
                // Let go before the grant came, or the instance is gone.
                _ => report(release.call0(&JsValue::NULL)),
            }
        });
        acquire_lock(name, LOCK_WAIT_MS, &done);
    }
}

//! Web Locks as Chromium's lock manager keeps them for one origin: requests
//! queue in order per name, an exclusive lock is granted when nothing holds
//! its name and no earlier request for it waits, a shared one when no
//! exclusive holds or waits before it; `query()` lists what is held; a page
//! that goes away loses its locks and its queued requests.

use chat_auth::session::driver::LockId;

/// The page that asked: its tab and which page load of that tab.
pub type Owner = (usize, u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Exclusive,
    Shared,
}

#[derive(Debug)]
struct Entry {
    owner: Owner,
    /// The driver's id for an exclusive request; `None` for presence.
    lock: Option<LockId>,
    name: String,
    mode: Mode,
}

/// A request the manager just granted.
pub struct Grant {
    pub owner: Owner,
    pub lock: Option<LockId>,
}

#[derive(Default)]
pub struct LockManager {
    held: Vec<Entry>,
    queue: Vec<Entry>,
}

impl LockManager {
    /// `navigator.locks.request(name, { mode }, …)`: what it granted.
    pub fn request(
        &mut self,
        owner: Owner,
        lock: Option<LockId>,
        name: String,
        mode: Mode,
    ) -> Vec<Grant> {
        self.queue.push(Entry {
            owner,
            lock,
            name,
            mode,
        });
        self.grant()
    }

    /// The holder lets go of `lock` (its callback's promise settled).
    pub fn release(&mut self, owner: Owner, lock: Option<LockId>) -> Vec<Grant> {
        self.held.retain(|e| !(e.owner == owner && e.lock == lock));
        self.grant()
    }

    /// The page is gone: the browser drops its locks and its requests.
    pub fn drop_owner(&mut self, owner: Owner) -> Vec<Grant> {
        self.held.retain(|e| e.owner != owner);
        self.queue.retain(|e| e.owner != owner);
        self.grant()
    }

    pub fn holds_exclusive(&self, owner: Owner) -> bool {
        self.held
            .iter()
            .any(|e| e.owner == owner && e.mode == Mode::Exclusive)
    }

    /// `query().held`, names only, those starting with `prefix`.
    pub fn held_names<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.held
            .iter()
            .map(|e| e.name.as_str())
            .filter(move |n| n.starts_with(prefix))
    }

    fn grant(&mut self) -> Vec<Grant> {
        let mut granted = Vec::new();
        let mut i = 0;
        while i < self.queue.len() {
            let e = &self.queue[i];
            let earlier = &self.queue[..i];
            let free = match e.mode {
                Mode::Exclusive => {
                    !self.held.iter().any(|h| h.name == e.name)
                        && !earlier.iter().any(|q| q.name == e.name)
                }
                Mode::Shared => {
                    !self
                        .held
                        .iter()
                        .any(|h| h.name == e.name && h.mode == Mode::Exclusive)
                        && !earlier
                            .iter()
                            .any(|q| q.name == e.name && q.mode == Mode::Exclusive)
                }
            };
            if free {
                let e = self.queue.remove(i);
                granted.push(Grant {
                    owner: e.owner,
                    lock: e.lock,
                });
                self.held.push(e);
            } else {
                i += 1;
            }
        }
        granted
    }
}

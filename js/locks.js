// Web Locks for cross-tab refresh (src/bindings/tabs.rs). Kept in JS because
// web-sys only exposes LockManager behind --cfg=web_sys_unstable_apis.
//
// Each ChatAuth instance with crossTab holds a shared "presence" lock for its
// lifetime, so a tab can count its live peers with navigator.locks.query();
// the browser releases every lock of a tab that closes or crashes.

const manager = () => globalThis.navigator?.locks;

/** Whether this browser has the Web Locks API. */
export function locksAvailable() {
  return typeof manager()?.request === 'function';
}

/**
 * Requests the exclusive lock `name`; `granted(release)` runs once it is held,
 * and the lock is kept until `release()` is called.
 */
export function acquireLock(name, granted) {
  manager()
    .request(name, { mode: 'exclusive' }, () => new Promise((release) => granted(release)))
    .catch(() => {});
}

/** Holds the shared lock `name` until the returned function is called. */
export function holdLock(name) {
  let release = () => {};
  const held = new Promise((resolve) => {
    release = resolve;
  });
  manager()
    .request(name, { mode: 'shared' }, () => held)
    .catch(() => {});
  return () => release();
}

/** How many held locks start with `prefix`, not counting `own`. */
export async function countHeld(prefix, own) {
  const { held = [] } = await manager().query();
  return held.filter((lock) => lock.name.startsWith(prefix) && lock.name !== own).length;
}

// Web Locks for cross-tab refresh: src/session/driver/tabs/ decides, js/chat_auth_host.js calls these.
// Kept in JS because web-sys only exposes LockManager behind --cfg=web_sys_unstable_apis.
//
// Each ChatAuth instance with crossTab holds a shared "presence" lock for its
// lifetime, so a tab can count its live peers with navigator.locks.query();
// the browser releases every lock of a tab that closes or crashes.
//
// Web Locks fail in real pages: an opaque origin (<iframe sandbox>) rejects
// every call with SecurityError, an extension or test may stub them, a getter
// may throw. Every function here reports such a failure instead of throwing or
// waiting, and nothing waits on the browser without a bound.

const manager = () => {
  try {
    return globalThis.navigator?.locks;
  } catch {
    return undefined;
  }
};

/** Whether this browser has the Web Locks API. */
export function locksAvailable() {
  try {
    return typeof manager()?.request === 'function';
  } catch {
    return false;
  }
}

const SLOW = 'slow';

/** The held locks, from query() within `ms`; rejects with SLOW when it takes longer, with the error when it fails. */
function heldLocks(ms) {
  return new Promise((resolve, reject) => {
    setTimeout(() => reject(SLOW), ms);
    manager()
      .query()
      .then(({ held = [] }) => resolve(held), reject);
  });
}

/** How many slow query() answers in a row a waiting lock request sits out (each `waitMs`) before giving up. */
const SLOW_CHECKS = 20;

/**
 * Requests the exclusive lock `name`; `done` runs exactly once:
 * `done(release)` once the lock is held (kept until `release()` is called),
 * or `done(null)` when Web Locks do not work here: the request throws or
 * rejects, or it has not been granted after `waitMs` while no other tab holds
 * the lock (checked again every `waitMs` while one does: that tab's own cycle
 * is bounded, and the browser releases a closed tab's locks). A query() slower
 * than `waitMs` (a long task on this tab's main thread) proves nothing: it is
 * asked again, up to SLOW_CHECKS times in a row. A grant that comes after
 * giving up is let go at once.
 */
export function acquireLock(name, waitMs, done) {
  let settled = false;
  const fail = () => {
    if (!settled) {
      settled = true;
      done(null);
    }
  };
  let slow = 0;
  const check = () =>
    settled ||
    heldLocks(waitMs).then(
      (held) => {
        slow = 0;
        if (held.some((lock) => lock.name === name)) setTimeout(check, waitMs);
        else fail();
      },
      (error) => {
        if (error === SLOW && ++slow < SLOW_CHECKS) setTimeout(check, 0);
        else fail();
      },
    );
  try {
    manager()
      .request(name, { mode: 'exclusive' }, () => {
        if (settled) return undefined;
        settled = true;
        return new Promise((release) => done(release));
      })
      .catch(fail);
  } catch {
    fail();
  }
  setTimeout(check, waitMs);
}

/**
 * Holds the shared lock `name` until the returned function is called;
 * `failed()` runs if Web Locks refuse it.
 */
export function holdLock(name, failed) {
  let release = () => {};
  const held = new Promise((resolve) => {
    release = resolve;
  });
  try {
    manager()
      .request(name, { mode: 'shared' }, () => held)
      .catch(() => failed());
  } catch {
    failed();
  }
  return () => release();
}

/**
 * Calls `done(ids)`: the held locks whose name starts with `prefix`, except `own`, each less `prefix`, space-separated
 * ('' when query() fails, answers oddly or takes over `ms`).
 */
export function countHeld(prefix, own, ms, done) {
  heldLocks(ms)
    .then((held) =>
      held
        .map((lock) => String(lock?.name))
        .filter((name) => name.startsWith(prefix) && name !== own)
        .map((name) => name.slice(prefix.length))
        .join(' '),
    )
    .catch(() => '')
    .then(done);
}

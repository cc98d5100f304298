// In-page helpers for the e2e scenarios (window.T). Plain browser JS, no dependencies.
// Every wait is bounded.

const EVENT_NAMES = ['state', 'authenticated', 'refreshed', 'refresh-failed', 'auth-lost', 'logged-out'];

/** A JSON-safe copy of a value (Maps become objects, functions and symbols are dropped). */
function plain(value, depth = 0) {
  if (depth > 8) return '[too deep]';
  if (value === null || value === undefined) return value ?? null;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'function' || typeof value === 'symbol') return `[${typeof value}]`;
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), plain(v, depth + 1)]));
  if (Array.isArray(value)) return value.map((v) => plain(v, depth + 1));
  if (typeof AbortSignal !== 'undefined' && value instanceof AbortSignal) return { aborted: value.aborted };
  const out = {};
  for (const key of Object.keys(value)) out[key] = plain(value[key], depth + 1);
  return out;
}

/** What a test needs to know about a thrown/rejected value. */
function err(e) {
  const sdk = window.sdk;
  return {
    threw: true,
    isError: e instanceof Error,
    isChatAuthError: !!(sdk && sdk.ChatAuthError && e instanceof sdk.ChatAuthError),
    sdkExportsChatAuthError: !!(sdk && typeof sdk.ChatAuthError === 'function'),
    name: e && e.name,
    code: e && e.code,
    detail: e && e.detail,
    message: e && e.message,
    string: String(e),
  };
}

/** Run `fn`; resolve to { threw: false, value } or err(e). Works for sync throws and rejections. */
async function attempt(fn) {
  try {
    const value = await fn();
    return { threw: false, value: plain(value) };
  } catch (e) {
    return err(e);
  }
}

/** Like attempt, but for a call that must throw synchronously: { sync: true|false, ... }. */
function attemptSync(fn) {
  try {
    const value = fn();
    return { threw: false, sync: true, value: value instanceof Promise ? '[Promise]' : plain(value) };
  } catch (e) {
    return { ...err(e), sync: true };
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `pred` every `interval` ms until truthy; throws after `timeout` ms naming `what`. */
async function waitFor(pred, { timeout = 10000, interval = 20, what = 'condition' } = {}) {
  const start = Date.now();
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() - start > timeout) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

/**
 * Wait (bounded) until auth.state is one of `wanted`; the timeout message shows the state and the
 * events recorded so far, so a failure reads as "stuck in X after events Y".
 */
async function waitState(auth, wanted, { timeout = 10000 } = {}) {
  const list = Array.isArray(wanted) ? wanted : [wanted];
  const start = Date.now();
  for (;;) {
    const st = auth.state;
    if (list.includes(st)) return st;
    if (Date.now() - start > timeout) {
      const ev = (window.events || []).map((e) => `${e.name}${JSON.stringify(e.detail)}`).join(', ');
      throw new Error(`state is '${st}' after ${timeout} ms, wanted ${list.join('|')}; events: [${ev}]; providerCalls=${window.providerCalls}`);
    }
    await sleep(20);
  }
}

/** Reject with a clear message if `promise` has not settled within `ms`. */
function within(promise, ms, what = 'operation') {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function getJson(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(`${url} → HTTP ${r.status}`);
  return r.json();
}

/** Mint a JWT at the test server: { token, exp, iat, claims, header }. */
const mint = (params = {}) => getJson(`/control/mint?${new URLSearchParams(params)}`);
const mintOpaque = (params = {}) => getJson(`/control/mint-opaque?${new URLSearchParams(params)}`);
const mintOAuth = (params = {}) => getJson(`/control/mint-oauth?${new URLSearchParams(params)}`);
const key = () => getJson('/control/key');
const revoke = async (token) => {
  const r = await fetch('/control/revoke', { method: 'POST', body: token });
  if (!r.ok) throw new Error(`revoke → HTTP ${r.status}`);
};
const protectedMode = (mode) => getJson(`/control/protected?mode=${encodeURIComponent(mode)}`);

/**
 * Subscribe to every documented event of `auth`; returns the array the events land in:
 * [{ name, detail, at }]. Also stored as window.events unless `store` is false.
 */
function record(auth, { store = true } = {}) {
  const events = [];
  for (const name of EVENT_NAMES) {
    auth.on(name, (detail) => events.push({ name, detail: plain(detail), at: Date.now() }));
  }
  if (store) window.events = events;
  return events;
}

/** The events of one name (from window.events by default). */
const eventsNamed = (name, events = window.events || []) => events.filter((e) => e.name === name);

/** Find a header in a plain object regardless of case. */
function header(obj, name) {
  if (!obj) return undefined;
  if (obj instanceof Headers) return obj.get(name) ?? undefined;
  const plainObj = plain(obj);
  const k = Object.keys(plainObj).find((key) => key.toLowerCase() === name.toLowerCase());
  return k === undefined ? undefined : plainObj[k];
}

/** Read a Response into { status, ok, json|text }. */
async function read(response) {
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: response.status, ok: response.ok, json: body, text: body ? undefined : text.slice(0, 500) };
}

/** A customer id that is opaque and PII-free (letters only, so no digit run looks like a phone/card). */
function customerId() {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  return `cust_${[...bytes].map((b) => letters[b % letters.length]).join('')}`;
}

/** Every string in localStorage / sessionStorage (keys and values) and document.cookie. */
function storageDump() {
  const dump = (s) => {
    const out = {};
    for (let i = 0; i < s.length; i++) {
      const k = s.key(i);
      out[k] = s.getItem(k);
    }
    return out;
  };
  return { local: dump(localStorage), session: dump(sessionStorage), cookie: document.cookie };
}

/** An unsigned RS256-headed JWT for `sub` issued now, living `ttl` seconds (for pages that check no signature). */
function unsignedJwt(sub, ttl) {
  const b64 = (text) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const now = Date.now() / 1000;
  return `${b64('{"alg":"RS256","typ":"JWT"}')}.${b64(JSON.stringify({ sub, iat: Math.floor(now), exp: Math.floor(now + ttl) }))}.c2ln`;
}

/**
 * A ContextProvider minting `ttl`-second tokens for `sub` from the test server. Resets and counts
 * `window.providerCalls` and logs `{ needsRefresh, reason }` (plus `at` when `timed`) per call in
 * `window.providerLog`.
 */
function mintingProvider(sub, { ttl = 300, timed = false } = {}) {
  window.providerCalls = 0;
  window.providerLog = [];
  return async (callback, needsRefresh, info) => {
    window.providerCalls++;
    window.providerLog.push(timed ? { needsRefresh, reason: info?.reason, at: Date.now() } : { needsRefresh, reason: info?.reason });
    const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(sub)}&ttl=${ttl}`)).json();
    return { Auth: { Token: m.token } };
  };
}

window.T = {
  mintingProvider,
  unsignedJwt,
  plain,
  err,
  attempt,
  attemptSync,
  sleep,
  waitFor,
  waitState,
  within,
  getJson,
  mint,
  mintOpaque,
  mintOAuth,
  key,
  revoke,
  protectedMode,
  record,
  eventsNamed,
  header,
  read,
  customerId,
  storageDump,
  EVENT_NAMES,
};

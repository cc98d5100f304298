// The browser host's small primitives (src/bindings/host.rs, transport.rs): plain JS where
// web-sys would need a binding per type and a closure per callback (size). They decide nothing.

/** Whether `init.body` can be sent twice as it is (no stream, nothing consumed); false when reading it throws. */
export function replayableBody(init) {
  let body;
  try {
    body = init == null ? undefined : init.body;
  } catch {
    return false;
  }
  return (
    body == null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    (typeof FormData !== 'undefined' && body instanceof FormData)
  );
}

// Every RequestInit member, read by name: an init whose members are getters (a class instance, a
// Request) has no own enumerable properties for Object.assign to copy.
const INIT_MEMBERS = ['method', 'headers', 'body', 'mode', 'credentials', 'cache', 'redirect', 'referrer', 'referrerPolicy', 'integrity', 'keepalive', 'signal', 'priority', 'duplex', 'window'];

/**
 * A copy of `init`'s RequestInit members with `headers` set over its own (and `redirect: 'manual'`);
 * null when `init` cannot be read or its headers are invalid (a getter throws, a bad header name),
 * which the caller turns into a rejected ChatAuthError: nothing may throw into the wasm module.
 */
export function withHeaders(init, headers, manual) {
  try {
    const out = {};
    if (init != null) for (const name of INIT_MEMBERS) if (init[name] !== undefined) out[name] = init[name];
    const merged = new Headers(out.headers);
    for (const name of Object.keys(headers)) merged.set(name, headers[name]);
    out.headers = merged;
    if (manual) out.redirect = 'manual';
    return out;
  } catch {
    return null;
  }
}

/**
 * Calls the context provider for call `id`: `provider(callback, needsRefresh, { reason, signal,
 * deadline })` with `controller`'s signal (the host stored it first); `ok(id, context)` /
 * `err(id, error)` get its answer: through the callback, or returned, as a context or a promise of
 * one (the ContextProvider type allows both). Returns true when the provider threw.
 */
export function callProvider(provider, ok, err, id, needsRefresh, reason, deadline, controller) {
  const callback = (context) => ok(id, context);
  let value;
  try {
    value = provider(callback, needsRefresh, { reason, signal: controller && controller.signal, deadline });
  } catch {
    return true;
  }
  if (value !== undefined && value !== null) Promise.resolve(value).then(callback, (e) => err(id, e));
  return false;
}

/** sessionStorage.setItem (or removeItem for null); false when it throws or is missing. */
export function store(key, value) {
  try {
    if (value == null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
    return true;
  } catch {
    return false;
  }
}

/** sessionStorage.getItem, null when it throws or is missing. */
export function load(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

const WAKE_EVENTS = ['focus', 'online', 'offline', 'pageshow'];

/** Calls `wake(type)` on focus, online, offline, pageshow and visibilitychange; returns the function that stops it. */
export function listenForWake(wake) {
  const on = (event) => wake(event.type);
  const doc = globalThis.document;
  const each = (method) => {
    if (typeof globalThis[method] === 'function') for (const type of WAKE_EVENTS) globalThis[method](type, on);
    if (doc) doc[method]('visibilitychange', on);
  };
  each('addEventListener');
  return () => each('removeEventListener');
}

/** Fills `bytes` from crypto.getRandomValues (Math.random where WebCrypto is missing). */
export function randomBytes(bytes) {
  try {
    crypto.getRandomValues(bytes);
  } catch {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  }
}

/** A BroadcastChannel named `name` whose string messages go to `receive`; null where it cannot be opened. */
export function openChannel(name, receive) {
  try {
    const channel = new BroadcastChannel(name);
    channel.onmessage = (event) => typeof event.data === 'string' && receive(event.data);
    return channel;
  } catch {
    return null;
  }
}

// The browser host's small primitives, used by js/chat_auth_host.js (and randomBytes by the wasm's
// entropy, src/exports/): the provider call, storage, wake listeners, the channel, fetch's body and
// header helpers, DPoP keys and signatures, WebCrypto verify. They decide nothing.

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
const INIT_MEMBERS = [
  'method',
  'headers',
  'body',
  'mode',
  'credentials',
  'cache',
  'redirect',
  'referrer',
  'referrerPolicy',
  'integrity',
  'keepalive',
  'signal',
  'priority',
  'duplex',
  'window',
];

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

// ---------------------------------------------------------------- DPoP keys
// Option `dpop` (RFC 9449). Decides nothing: the driver says which key, and what to sign. (Kept in
// this module rather than its own: wasm-bindgen's test runner serves each JS snippet on its own
// connection, and its server stalls once Chrome holds more than four of them open.)
//
// One ECDSA P-256 key pair per name, made by WebCrypto with `extractable: false` and kept in
// IndexedDB as CryptoKey objects (structured clone, never exported), so every tab of the origin
// proves with the same key and a reload keeps it. Where IndexedDB is refused (some private
// modes) the tab keeps its own key in memory. A logout replaces the pair (the driver says which
// one), so customers of one browser are not linked by the key's thumbprint.

const KEY_DB = 'chat-auth-dpop';
const KEY_STORE = 'keys';

function idbRequest(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openKeyDb() {
  const req = indexedDB.open(KEY_DB, 1);
  req.onupgradeneeded = () => req.result.createObjectStore(KEY_STORE);
  const opened = idbRequest(req);
  // Blocked (another tab's upgrade or deleteDatabase pending): this tab keeps a key in memory
  // rather than wait; the driver bounds every other wait (PROOF_WAIT_MS).
  const blocked = new Promise((_, reject) => {
    req.onblocked = () => reject(new Error('IndexedDB open blocked'));
  });
  // An open that succeeds after all is closed, not leaked.
  blocked.catch(() =>
    opened.then(
      (db) => db.close(),
      () => {},
    ),
  );
  return Promise.race([opened, blocked]);
}

const usablePair = (pair) => pair != null && pair.privateKey instanceof CryptoKey && pair.publicKey instanceof CryptoKey;

/** Stores `pair` (public `x`) as `name` unless a usable pair is there already that is not the one
 * being replaced (`replace`: its `x`), in one readwrite transaction, so two tabs making (or
 * replacing) keys at once end up with the same one; resolves with the pair kept. */
function keepPair(db, name, pair, replace) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(KEY_STORE, 'readwrite');
    const store = tx.objectStore(KEY_STORE);
    let kept = pair;
    const get = store.get(name);
    get.onsuccess = () => {
      const found = get.result;
      if (usablePair(found) && (replace == null || (found.x != null && found.x !== replace))) kept = found;
      else store.put(pair, name);
    };
    tx.oncomplete = () => resolve(kept);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

async function generatePair() {
  const made = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const jwk = await crypto.subtle.exportKey('jwk', made.publicKey);
  return { privateKey: made.privateKey, publicKey: made.publicKey, x: jwk.x };
}

async function loadPair(name, replace) {
  let db = null;
  try {
    db = await openKeyDb();
  } catch {
    return generatePair();
  }
  try {
    if (replace == null) {
      const found = await idbRequest(db.transaction(KEY_STORE, 'readonly').objectStore(KEY_STORE).get(name));
      if (usablePair(found)) return found;
    }
    return await keepPair(db, name, await generatePair(), replace);
  } finally {
    db.close();
  }
}

/** Loads (or makes and keeps) key pair `name`, a new one when the stored one's `x` is `replace`
 * (after a logout: the next customer gets a key of their own): `done(publicJwk, privateKey)`, or
 * `done(null)`. */
export function loadProofKey(name, replace, done) {
  loadPair(name, replace ?? null)
    .then(async (pair) => done(await crypto.subtle.exportKey('jwk', pair.publicKey), pair.privateKey))
    .catch(() => done(null, null));
}

/** Signs the ASCII `input` with `privateKey` (ES256): `done(ArrayBuffer)` (raw R ‖ S), or `done(null)`. */
export function signProof(privateKey, input, done) {
  let signing;
  try {
    signing = crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, new TextEncoder().encode(input));
  } catch {
    signing = Promise.reject();
  }
  signing.then(done, () => done(null));
}

// ---------------------------------------------------------------- signatures
// The token checks' and verifyToken's WebCrypto step: the core names the key (an id it never
// reuses for another key, 0 for an HMAC secret), hands over the bytes and, when asked, the key's
// import (src/exports/webcrypto.rs); this only runs them and keeps the imported keys.

const fromBase64url = (text) => {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
};

/** Imported public keys with their verify algorithm, by the core's key id, at most 16 (an RSA import
 * costs more than a verify); never secrets (id 0). */
const imported = new Map();

/**
 * WebCrypto's answer: whether `signature` over `data` verifies under key `id`, imported from
 * `request()` (`{ i, v, k | r }`: import and verify algorithms, JWK or base64url secret) when no key
 * is kept under `id`; false when it cannot verify, null where there is no WebCrypto (not a secure
 * context). `request` is called, if at all, before this returns.
 */
export async function verifySignature(id, request, data, signature) {
  if (!globalThis.crypto?.subtle) return null;
  try {
    let kept = imported.get(id);
    if (!kept) {
      const c = request();
      kept = [await crypto.subtle.importKey(c.k ? 'jwk' : 'raw', c.k ?? fromBase64url(c.r), c.i, false, ['verify']), c.v];
      if (id) {
        if (imported.size >= 16) imported.delete(imported.keys().next().value);
        imported.set(id, kept);
      }
    }
    return (await crypto.subtle.verify(kept[1], kept[0], signature, data)) === true;
  } catch {
    // A key WebCrypto cannot import, a malformed signature or request: it verifies nothing.
    return false;
  }
}

/** The token checks' request `{ id, i, v, k | r, d, s }` (src/exports/webcrypto.rs `crypto_request`,
 * bytes base64url) through {@link verifySignature}. */
export async function webVerify(c) {
  let data;
  let signature;
  try {
    data = fromBase64url(c.d);
    signature = fromBase64url(c.s);
  } catch {
    return false;
  }
  return verifySignature(c.id, () => c, data, signature);
}

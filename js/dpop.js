// DPoP keys (option `dpop`, RFC 9449) for the browser host (src/bindings/host.rs). It decides
// nothing: the driver says which key, and what to sign.
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
  blocked.catch(() => opened.then((db) => db.close(), () => {}));
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

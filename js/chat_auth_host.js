// The browser host of chat-auth: the public `ChatAuth` class over the wasm session driver
// (src/exports/). Each call feeds the driver one input as JSON and carries out the
// effects it hands back (src/session/driver/codec.rs names them): timers, provider calls with an
// AbortSignal, fetch, the refresh grant, BroadcastChannel, Web Locks, sessionStorage, wake
// listeners, events, DPoP keys and signatures. It decides nothing. scripts/postbuild.mjs inlines
// this file into pkg/chat_auth.js (its imports name code that is inlined there too).
import { Driver, anonymousIdKey, checkCustomerIdJson, decodeTokenJson, verifyPrepare, verifyKey, verifyFinish } from './glue.js';
import { ChatAuthError } from './error.js';
import {
  callProvider,
  store,
  load,
  listenForWake,
  openChannel,
  loadProofKey,
  signProof,
  replayableBody,
  withHeaders,
  webVerify,
  verifySignature,
} from './host.js';
import { locksAvailable, acquireLock, holdLock, countHeld } from './locks.js';
import { installAsappWith } from './asapp.js';

const EVENTS = ['state', 'authenticated', 'refreshed', 'refresh-failed', 'auth-lost', 'logged-out'];
/** The inputs that carry a request id (a pending promise) at [1]. */
const REQUESTS = ['setCustomer', 'clearCustomer', 'getToken', 'authHeaders', 'fetch'];
const METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];

const error = (code, message, detail) => new ChatAuthError(code, message, detail);
const thrown = (text) => {
  const [code, message, detail] = JSON.parse(text);
  return error(code, message, detail);
};
const invalidRequest = () => error('network', 'invalid request: check the URL and options');
const destroyedError = () => error('destroyed', 'this ChatAuth was destroyed');
/** Surfaces a handler's exception without letting it break the SDK. */
const report = (f) => {
  try {
    f();
  } catch (e) {
    Promise.reject(e);
  }
};
const isFunction = (f) => typeof f === 'function';
/** `object[name]`, undefined when its getter throws (the send then rejects with `network`). */
const member = (object, name) => {
  try {
    return object?.[name];
  } catch {
    return undefined;
  }
};

/** `url` resolved as `fetch` would (against document.baseURI): { href, origin, method }, or null. */
function destination(url, method) {
  // Always the browser's URL parser: the exact-origin allow-list sees what fetch will resolve.
  let parsed;
  try {
    const base = globalThis.document?.baseURI ?? globalThis.location?.href;
    parsed = base === undefined ? new URL(url) : new URL(url, base);
  } catch {
    return null;
  }
  const m = method ?? 'GET';
  return { href: parsed.href, origin: parsed.origin, method: METHODS.find((n) => n === String(m).toUpperCase()) ?? m };
}

/** The page's own fetch, looked up when called (a page's wrapper or a test double is honoured). */
function pageFetch(input, init) {
  try {
    return Promise.resolve(globalThis.fetch(input, init));
  } catch (e) {
    return Promise.reject(e);
  }
}

export class ChatAuth {
  #d;
  #now;
  #provider;
  #login;
  #handlers = [];
  #pending = new Map();
  #nextId = 1;
  #timer = null;
  /** The timers of the checks' delayed retries (`http` effects with a delay), cleared on close. */
  #delays = new Set();
  #aborts = [];
  #channel = null;
  #unlisten = null;
  #locks = new Map();
  #presence = null;
  #claims = null;
  #proofKey = null;
  /** Inputs fed while effects are being carried out (a listener calling a method): run after them, in order. */
  #queue = null;
  /** [set, headers]: the header set the driver's `fetch` last numbered (its token included), until the next set or destroy(). */
  #sendHeaders = null;

  constructor(options) {
    if (options === null || typeof options !== 'object') throw error('invalid_config', 'options must be an object');
    const functions = Object.keys(options).filter((k) => isFunction(options[k]));
    for (const key of ['contextProvider', 'userLoginHandler', 'now']) {
      const v = options[key];
      if (v != null && !isFunction(v)) throw error('invalid_config', `option '${key}' must be a function`);
    }
    this.#provider = options.contextProvider ?? null;
    this.#login = options.userLoginHandler ?? null;
    this.#now = options.now ?? null;
    let text;
    try {
      text = JSON.stringify(options);
    } catch {
      text = undefined;
    }
    if (text === undefined) throw error('invalid_config', 'options must be JSON-like');
    const driver = new Driver(text, functions);
    const customerId = driver.initialCustomer;
    const name = driver.channelName;
    if (name != null) this.#channel = openChannel(name, (msg) => this.#feed(['message', msg]));
    const env = {
      provider: this.#provider !== null,
      anonymousId: load(anonymousIdKey()),
      online: globalThis.navigator?.onLine !== false,
      channel: this.#channel !== null,
      locks: locksAvailable(),
    };
    try {
      driver.open(JSON.stringify(env), this.#clock());
    } catch (e) {
      // A refused option: nothing may stay open.
      this.#channel?.close();
      throw e;
    }
    this.#d = driver;
    this.#unlisten = listenForWake((kind) => this.#feed(kind === 'online' ? ['online', true] : kind === 'offline' ? ['online', false] : ['wake']));
    this.#feed(null);
    // Errors surface as events (`refresh-failed`, `auth-lost`).
    if (customerId != null) this.#feed(['setCustomer', this.#id(), customerId, false, load(driver.tokenKey)]);
  }

  #clock() {
    let ms;
    if (this.#now) {
      try {
        ms = this.#now();
      } catch {
        ms = undefined;
      }
    }
    return typeof ms === 'number' && Number.isFinite(ms) ? ms : Date.now();
  }

  #id() {
    return this.#nextId++;
  }

  /**
   * Feeds one input (null: none) and carries out the effects that follow, in order. An input fed
   * while effects run (an event listener or userLoginHandler calling a method, a destroy()) waits
   * for the earlier effects: run at once it would have them carried out after it (a provider
   * called or a timer armed after destroy).
   */
  #feed(input) {
    if (this.#queue !== null) {
      this.#queue.push(input);
      return;
    }
    this.#queue = [input];
    try {
      while (this.#queue.length > 0) this.#step(this.#queue.shift());
    } finally {
      this.#queue = null;
    }
  }

  #step(input) {
    this.#effects(this.#d.step(this.#clock(), input === null ? '' : JSON.stringify(input)), input);
  }

  /** Carries out the effects (`text`, a JSON array) that followed `input`. */
  #effects(text, input) {
    for (const effect of JSON.parse(text)) {
      if (effect[0] !== 'error') this.#execute(effect);
      else {
        // A request's input the driver could not read: that request rejects (no promise stays pending).
        const failure = error(effect[1], effect[2], effect[3]);
        const pending = REQUESTS.includes(input?.[0]) ? this.#pending.get(input[1]) : undefined;
        if (pending) {
          this.#pending.delete(input[1]);
          pending.reject(failure);
        } else
          report(() => {
            throw failure;
          });
      }
    }
  }

  /** A promise for request `id`, registered before `input` is fed (its reply may come at once). */
  #request(id, input) {
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#feed(input);
    });
  }

  #execute(e) {
    switch (e[0]) {
      case 'reply':
        return this.#reply(e[1], e.slice(2));
      case 'provider':
        return this.#callProvider(e[1], e[2], e[3], e[4]);
      case 'grant':
        return this.#grant(e[1], e[2], e[3], e[4], e[5]);
      case 'http':
        return this.#http(e[1], e[2], e[3], e[4]);
      case 'verify':
        return webVerify(e[2]).then((ok) => this.#feed(['verified', e[1], ok]));
      case 'abort': {
        const i = this.#aborts.findIndex(([call]) => call === e[1]);
        if (i >= 0) this.#aborts.splice(i, 1)[0][1].abort();
        return;
      }
      case 'arm':
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => this.#feed(['timer']), e[1]);
        return;
      case 'clear':
        clearTimeout(this.#timer);
        this.#timer = null;
        return;
      case 'emit':
        return this.#emit(e[1], e[2]);
      case 'login':
        if (this.#login) report(() => this.#login({ code: e[1], reason: e[2] }));
        return;
      case 'store':
        if (!store(e[1], e[2])) this.#feed(['storageFailed', e[1]]);
        return;
      case 'post':
        try {
          this.#channel?.postMessage(e[1]);
        } catch {
          /* a closed channel */
        }
        return;
      case 'lock':
        return this.#acquire(e[1], e[2], e[3]);
      case 'release': {
        const held = this.#locks.get(e[1]);
        if (isFunction(held)) {
          this.#locks.delete(e[1]);
          report(held);
        } else if (held === 'requested') this.#locks.set(e[1], 'let-go');
        return;
      }
      case 'presence':
        this.#presence = holdLock(e[1], () => this.#feed(['presenceFailed']));
        return;
      case 'peers':
        return countHeld(e[1], e[2], e[3], (ids) => this.#feed(['peers', ids]));
      case 'close':
        return this.#close();
      case 'loadKey':
        return loadProofKey(e[1], e[2], (jwk, key) => {
          this.#proofKey = key;
          this.#feed(['proofKey', jwk?.x ?? null, jwk?.y ?? null]);
        });
      case 'sign':
        return signProof(this.#proofKey, e[2], (sig) => this.#feed(['signed', e[1], sig ? base64url(new Uint8Array(sig)) : null]));
      default:
        // An effect this host does not know (a driver newer than it): surfaced, never dropped silently.
        report(() => {
          throw error('invalid_config', `chat-auth host: unknown effect '${e[0]}'`);
        });
    }
  }

  #reply(id, [kind, a, b, c]) {
    const pending = this.#pending.get(id);
    if (!pending) return;
    if (kind === 'plain' || kind === 'send' || kind === 'replay') return this.#send(id, pending, kind, a, b, c);
    this.#pending.delete(id);
    const { resolve, reject, call } = pending;
    switch (kind) {
      case 'done':
        return resolve(undefined);
      case 'token':
        return resolve(a);
      case 'headers':
        return resolve(a);
      case 'response':
        return resolve(call?.response);
      case 'rethrow':
        return reject(call?.error);
      case 'reject':
        return reject(error(a, b, c ?? undefined));
    }
  }

  #callProvider(id, needsRefresh, reason, deadline) {
    // A new call supersedes the earlier ones.
    for (const [, c] of this.#aborts.splice(0)) c.abort();
    const controller = new AbortController();
    this.#aborts.push([id, controller]);
    const provider = this.#provider;
    const threw = provider
      ? callProvider(
          provider,
          (call, context) => {
            if (context === undefined) return;
            let text = null;
            try {
              text = JSON.stringify(context) ?? null;
            } catch {
              text = null;
            }
            this.#feed(['providerAnswered', call, text]);
          },
          (call) => this.#feed(['providerFailed', call, 'rejected']),
          id,
          needsRefresh,
          reason,
          deadline,
          controller,
        )
      : null;
    if (threw !== false) this.#feed(['providerFailed', id, threw ? 'threw' : 'missing']);
  }

  async #grant(call, body, proof, endpoint, timeoutMs) {
    const input = await this.#postGrant(body, proof, endpoint, timeoutMs);
    this.#feed([input[0], call, ...input.slice(1)]);
  }

  /** A GET (`form` null) or form POST of the checks, after `delay` ms: `[status, text]` fed back (0: failed). */
  #http(x, url, form, delay) {
    const go = async () => {
      const init =
        form == null
          ? {}
          : { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }, body: form, redirect: 'error' };
      let status = 0;
      let text = '';
      try {
        const response = await pageFetch(url, init);
        status = response.status;
        text = await response.text();
      } catch {
        if (status >= 200 && status < 300) status = 0;
      }
      if (!this.#destroyed) this.#feed(['httpAnswered', x, status, text]);
    };
    if (delay > 0) {
      const timer = setTimeout(() => {
        this.#delays.delete(timer);
        go();
      }, delay);
      this.#delays.add(timer);
    } else go();
  }

  async #postGrant(body, proof, endpoint, timeoutMs) {
    const signal = AbortSignal.timeout(timeoutMs);
    const headers = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
    if (proof != null) headers.DPoP = proof;
    const failed = () =>
      signal.aborted ? ['tokenFailed', 'provider_timeout', 'the token endpoint timed out'] : ['tokenFailed', 'network', 'the network request failed'];
    let response;
    try {
      // The body holds a refresh token: a 307/308 redirect would post it elsewhere.
      response = await pageFetch(endpoint, { method: 'POST', headers, body, signal, redirect: 'error' });
    } catch {
      return failed();
    }
    let text;
    try {
      text = await response.text();
    } catch {
      if (response.ok) return failed();
      text = '';
    }
    const h = (n) => response.headers.get(n);
    return ['tokenAnswered', response.status, h('Date'), h('Retry-After'), text, h('DPoP-Nonce')];
  }

  #acquire(lock, name, waitMs) {
    this.#locks.set(lock, 'requested');
    acquireLock(name, waitMs, (release) => {
      if (!isFunction(release)) {
        this.#locks.delete(lock);
        return this.#feed(['lockFailed', lock]);
      }
      if (this.#locks.get(lock) === 'requested') {
        this.#locks.set(lock, release);
        this.#feed(['lockGranted', lock]);
      } else {
        this.#locks.delete(lock);
        report(release);
      }
    });
  }

  #emit(name, detail) {
    const handlers = this.#handlers.filter((h) => h.name === name);
    for (const h of handlers) report(() => h.fn(detail));
  }

  /**
   * Sends request `id` as the driver's reply says. `settlesUnless` (a `send` reply's): a response
   * with another status that is no opaque redirect is already known to be the caller's as it is,
   * so it resolves at once and the driver is only told (`settled`), with no step and no JSON.
   */
  #send(id, pending, kind, headers, manual, settlesUnless) {
    const call = pending.call;
    if (!call) return;
    let sent;
    if (kind === 'plain') sent = call.request ? pageFetch(call.request) : pageFetch(call.input, call.init);
    else if (call.request) {
      let request = call.request;
      if (kind === 'send' && manual) {
        try {
          request = new Request(request, { redirect: 'manual' });
        } catch (e) {
          request = null;
          sent = Promise.reject(e);
        }
      }
      if (request) {
        // Kept before sending: a replay sends a clone of what was sent.
        call.request = request;
        const out = request.clone();
        for (const name of Object.keys(headers)) out.headers.set(name, headers[name]);
        sent = pageFetch(out);
      }
    } else if (kind === 'replay' && call.built) sent = Promise.reject(invalidRequest());
    else {
      const init = withHeaders(call.init, headers, kind === 'send' && manual);
      if (init === null) sent = Promise.reject(invalidRequest());
      else {
        if (kind === 'send') call.init = init;
        sent = pageFetch(call.input, init);
      }
    }
    const quick = kind === 'send' && typeof settlesUnless === 'number';
    sent.then(
      (response) => {
        // Read without throwing: a page's fetch wrapper may resolve with anything (a throw here
        // would leave the caller's promise pending for ever).
        const status = member(response, 'status');
        const opaque = member(response, 'type') === 'opaqueredirect';
        // A plain request's answer is always its response as it is: nothing to tell the driver.
        if (kind === 'plain' || (quick && status !== settlesUnless && !opaque)) {
          if (quick) this.#d.settled(id);
          if (this.#pending.get(id) === pending) {
            this.#pending.delete(id);
            pending.resolve(response);
          }
          return;
        }
        call.response = response;
        const header = (name) => {
          try {
            return member(response, 'headers')?.get(name) ?? null;
          } catch {
            return null;
          }
        };
        this.#feed(['fetchAnswered', id, status | 0, opaque, header('DPoP-Nonce'), header('WWW-Authenticate')]);
      },
      (e) => {
        call.error = e;
        // `member`: a wrapper's rejection reason may have a throwing `name` getter.
        this.#feed(['fetchFailed', id, member(e, 'name') === 'AbortError']);
      },
    );
  }

  #close() {
    clearTimeout(this.#timer);
    this.#timer = null;
    for (const timer of this.#delays) clearTimeout(timer);
    this.#delays.clear();
    for (const [, c] of this.#aborts.splice(0)) c.abort();
    if (this.#unlisten) report(this.#unlisten);
    this.#unlisten = null;
    if (this.#channel) {
      this.#channel.onmessage = null;
      this.#channel.close();
      this.#channel = null;
    }
    if (this.#presence) report(this.#presence);
    this.#presence = null;
    this.#handlers = [];
    this.#sendHeaders = null;
  }

  get #destroyed() {
    return this.state === 'destroyed';
  }

  setCustomer(customerId, contextProvider) {
    if (this.#destroyed) return Promise.reject(destroyedError());
    const given = contextProvider != null;
    if (given) {
      if (!isFunction(contextProvider)) return Promise.reject(error('invalid_config', "option 'contextProvider' must be a function"));
      this.#provider = contextProvider;
    }
    if (typeof customerId !== 'string') return Promise.reject(error('customer_id_invalid', 'customer id must be a string'));
    const id = this.#id();
    return this.#request(id, ['setCustomer', id, customerId, given, load(this.#d.tokenKey)]);
  }

  clearCustomer() {
    const id = this.#id();
    return this.#request(id, ['clearCustomer', id]);
  }

  getToken(opts) {
    const id = this.#id();
    return this.#request(id, ['getToken', id, member(opts, 'forceRefresh') === true]);
  }

  authHeaders(url, opts) {
    const method = member(opts, 'method');
    const to = typeof url === 'string' ? destination(url, typeof method === 'string' ? method : undefined) : null;
    const id = this.#id();
    return this.#request(id, ['authHeaders', id, to?.origin ?? null, to?.method ?? null, to?.href ?? null]);
  }

  fetch(input, init) {
    const id = this.#id();
    let url = null;
    if (typeof input === 'string') url = input;
    else if (input instanceof URL) url = input.href;
    const call = { input, init, request: null, built: false, response: undefined, error: undefined };
    let to;
    let follows;
    let replayable;
    if (url !== null && replayableBody(init)) {
      const redirect = member(init, 'redirect');
      const method = member(init, 'method');
      follows = redirect == null || redirect === 'follow';
      to = destination(url, typeof method === 'string' ? method : undefined);
      if (to) call.input = to.href;
      replayable = true;
    } else {
      let r;
      try {
        r = new Request(input, init);
      } catch {
        return Promise.reject(invalidRequest());
      }
      follows = r.redirect === 'follow';
      replayable = !r.bodyUsed;
      to = destination(r.url, r.method);
      call.request = r;
      call.built = true;
    }
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, call });
      this.#fetchInput(id, to, follows, replayable);
    });
  }

  /**
   * `fetch`'s input, as #feed would run it, through the driver's typed `fetch`: its common answer (a
   * `send`, nothing else) is a number naming the header set and the send's flags, so neither the
   * input nor the token crosses as JSON per request; anything else comes as the usual effects.
   */
  #fetchInput(id, to, follows, replayable) {
    if (this.#queue !== null) return void this.#queue.push(['fetch', id, to?.origin ?? null, follows, replayable, to?.method ?? null, to?.href ?? null]);
    this.#queue = [];
    try {
      const n = this.#d.fetch(this.#clock(), id, (follows ? 1 : 0) + (replayable ? 2 : 0), to ? `${to.origin} ${to.href} ${to.method}` : '');
      if (n > 0) {
        const set = Math.floor(n / 4);
        if (this.#sendHeaders?.[0] !== set) this.#sendHeaders = [set, JSON.parse(this.#d.sendHeaders())];
        this.#reply(id, ['send', this.#sendHeaders[1], n % 2 === 1, n % 4 >= 2 ? 401 : null]);
      } else this.#effects(this.#d.effects(), ['fetch', id]);
      while (this.#queue.length > 0) this.#step(this.#queue.shift());
    } finally {
      this.#queue = null;
    }
  }

  on(event, handler) {
    if (this.#destroyed) throw destroyedError();
    if (!EVENTS.includes(event)) throw error('invalid_config', 'unknown event name');
    if (!isFunction(handler)) throw error('invalid_config', 'event handler must be a function');
    const entry = { name: event, fn: handler };
    this.#handlers.push(entry);
    return () => {
      this.#handlers = this.#handlers.filter((h) => h !== entry);
    };
  }

  destroy() {
    this.#feed(['destroy']);
  }

  /** The driver's `[state, customerId, anonymousId, expiresAt, refreshAt, generation, claimsJson]`. */
  get #view() {
    return JSON.parse(this.#d.snapshot());
  }

  get state() {
    return this.#view[0];
  }

  get customerId() {
    return this.#view[1];
  }

  get anonymousId() {
    return this.#view[2];
  }

  get expiresAt() {
    return this.#view[3];
  }

  get refreshAt() {
    return this.#view[4];
  }

  get claims() {
    const [, , , , , generation, text] = this.#view;
    if (this.#claims?.[0] !== generation) this.#claims = [generation, text == null ? null : JSON.parse(text)];
    return this.#claims[1];
  }
}

function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `checkCustomerId(id)`: throws `customer_id_invalid` or `customer_id_pii`. */
export function checkCustomerId(id) {
  if (typeof id !== 'string') throw error('customer_id_invalid', 'customer id must be a string');
  const failed = checkCustomerIdJson(id);
  if (failed != null) throw thrown(failed);
}

/** `decodeToken(token)`: `{ header, claims, expiresAt }`, without verification. */
export function decodeToken(token) {
  if (typeof token !== 'string') throw error('malformed', 'token must be a string');
  const out = JSON.parse(decodeTokenJson(token));
  if (Array.isArray(out)) throw thrown(JSON.stringify(out));
  return out;
}

/** `verifyToken(token, options)`: resolves to the claims. */
export async function verifyToken(token, options) {
  if (typeof token !== 'string') throw error('malformed', 'token must be a string');
  let text;
  try {
    text = JSON.stringify(options);
  } catch {
    text = undefined;
  }
  if (typeof text !== 'string') throw error('invalid_config', 'options must be an object');
  // [id, keyId, n] (f64), then the signing input (n bytes) and the signature; id 0: an error's JSON.
  const bytes = verifyPrepare(token, text);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const x = view.getFloat64(0, true);
  if (!x) throw thrown(new TextDecoder().decode(bytes.subarray(24)));
  const n = 24 + view.getFloat64(16, true);
  const ok = await verifySignature(view.getFloat64(8, true), () => JSON.parse(verifyKey(x)), bytes.subarray(24, n), bytes.subarray(n));
  const out = verifyFinish(x, ok === true, Date.now());
  if (ok === null) throw error('invalid_config', 'WebCrypto is not available (a secure context is required)');
  if (out.startsWith('[')) throw thrown(out);
  return JSON.parse(out);
}

/** `installAsapp(target = globalThis)`: defines `target.ASAPP(command, …)`. */
export function installAsapp(target) {
  installAsappWith(target ?? globalThis, (options) => new ChatAuth(options));
}

// chat-auth e2e: Web Locks and storage that fail must not hang a session (README "Resilience").
// - A widget in <iframe sandbox="allow-scripts"> (an opaque origin: navigator.locks.* reject and
//   sessionStorage throws with SecurityError) authenticates, refreshes 4 s tokens and sends requests.
// - In a normal page, navigator.locks.request stubbed to reject or to never settle, a throwing
//   navigator.locks getter, a query() that never settles, a BroadcastChannel that throws: refreshes
//   still come before each token expires.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { close, listen, staticHandler } from '../../scripts/serve.mjs';
import { REPO_ROOT } from './harness.mjs';
import { customerId, suite } from './support/e2e.mjs';

const e2e = suite();

const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * The sandboxed widget's server: CORS open on everything (the iframe's origin is `null`), the
 * package, the iframe pages, `/mint?sub=&ttl=` (unsigned JWTs: the widget checks no signature) and
 * `/api/echo`, which records the bearer token and whether it had expired on receipt.
 */
async function startSandboxServer() {
  const cors = {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Headers': 'authorization, chat-anonymous-id',
    'Cache-Control': 'no-store',
  };
  const files = staticHandler({
    root: join(REPO_ROOT, 'tests', 'e2e', 'pages'),
    mounts: { '/pkg/': process.env.CHAT_AUTH_E2E_PKG || join(REPO_ROOT, 'pkg') },
    headers: cors,
  });
  const tokens = new Map();
  const echoes = [];
  const send = (res, body, type = 'application/json') => {
    res.writeHead(200, { ...cors, 'Content-Type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors);
      return res.end();
    }
    if (url.pathname === '/outer.html') {
      return send(res, '<!doctype html><title>outer</title><iframe sandbox="allow-scripts" src="/inner.html"></iframe>', 'text/html');
    }
    if (url.pathname === '/inner.html') {
      return send(res, '<!doctype html><title>widget</title><script type="module" src="/sandboxed.js"></script>', 'text/html');
    }
    if (url.pathname === '/mint') {
      const iat = Math.floor(Date.now() / 1000);
      const exp = iat + Number(url.searchParams.get('ttl'));
      const claims = { sub: url.searchParams.get('sub'), iat, exp, jti: `${tokens.size + 1}` };
      const token = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}.c2ln`;
      tokens.set(token, exp);
      return send(res, { token });
    }
    if (url.pathname === '/api/echo') {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? null;
      const at = Date.now();
      echoes.push({ token, known: tokens.has(token), expired: tokens.has(token) && at >= tokens.get(token) * 1000, origin: req.headers.origin });
      return send(res, { authorization: req.headers.authorization ?? null });
    }
    return files(req, res);
  });
  const url = await listen(server, { port: 0, host: '127.0.0.1' });
  return { origin: url.replace(/\/$/, ''), echoes, close: () => close(server) };
}

/** How a test breaks Web Locks in a normal page (a name of `stubs` in `refreshing`). */
const BROKEN_LOCKS = {
  reject: 'request rejects',
  hang: 'request never settles',
  getter: 'the navigator.locks getter throws',
  query: 'query() never settles',
  channel: 'BroadcastChannel throws',
};

/**
 * In the page (or frame): a ChatAuth with crossTab on and 4 s tokens from `mintPath`; setCustomer,
 * then requests for `runMs`. `breakLocks` (a key of BROKEN_LOCKS) stubs Web Locks first.
 */
async function refreshing(target, { origin, mintPath, cid, options = {}, breakLocks = null, runMs = 10_000 }) {
  return target.evaluate(
    async ({ origin, mintPath, cid, options, breakLocks, runMs }) => {
      const within = (p, ms, what) =>
        Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms))]);
      const denied = () => new DOMException('stubbed', 'SecurityError');
      const stubs = {
        reject: () => {
          navigator.locks.request = () => Promise.reject(denied());
        },
        hang: () => {
          navigator.locks.request = () => new Promise(() => {});
        },
        getter: () => {
          Object.defineProperty(navigator, 'locks', {
            configurable: true,
            get() {
              throw denied();
            },
          });
        },
        query: () => {
          navigator.locks.query = () => new Promise(() => {});
        },
        channel: () => {
          window.BroadcastChannel = function BroadcastChannel() {
            throw denied();
          };
        },
      };
      if (breakLocks) stubs[breakLocks]();
      const { ChatAuth } = window.sdk;
      const calls = [];
      const auth = new ChatAuth({
        apiOrigins: [origin],
        ...options,
        contextProvider: async (callback, needsRefresh, info) => {
          calls.push({ at: Date.now(), reason: info.reason });
          const m = await (await fetch(`${origin}${mintPath}?sub=${encodeURIComponent(cid)}&ttl=4`)).json();
          return { Auth: { Token: m.token } };
        },
      });
      const events = [];
      for (const name of ['refreshed', 'refresh-failed', 'auth-lost']) auth.on(name, (d) => events.push({ name, code: d.code }));
      const started = Date.now();
      let set = null;
      try {
        await within(auth.setCustomer(cid), 5_000, 'setCustomer');
      } catch (e) {
        set = `${e.code ?? e.name}: ${e.message}`;
      }
      const settledIn = Date.now() - started;
      const results = [];
      while (!set && Date.now() - started < runMs) {
        try {
          const res = await within(auth.fetch(`${origin}/api/echo`), 5_000, 'auth.fetch');
          results.push({ status: res.status, bearer: ((await res.json()).authorization ?? '').startsWith('Bearer ') });
        } catch (e) {
          results.push({ error: `${e.code ?? e.name}: ${e.message}` });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const state = auth.state;
      auth.destroy();
      return { set, settledIn, results, events, calls, state, origin: self.origin };
    },
    { origin, mintPath, cid, options, breakLocks, runMs },
  );
}

/** A session that worked through `runMs`: quick login, ≥ 2 refreshes, every request sent with a token. */
function assertRefreshed(r, what) {
  assert.equal(r.set, null, `${what}: setCustomer failed: ${r.set}`);
  assert.ok(r.settledIn < 2_000, `${what}: setCustomer took ${r.settledIn} ms`);
  const failed = r.results.filter((x) => x.error || x.status !== 200 || !x.bearer);
  assert.equal(failed.length, 0, `${what}: requests failed: ${JSON.stringify(failed.slice(0, 3))}`);
  assert.ok(r.results.length >= 30, `${what}: only ${r.results.length} requests`);
  const refreshed = r.events.filter((e) => e.name === 'refreshed').length;
  assert.ok(refreshed >= 2, `${what}: ${refreshed} refreshes of 4 s tokens in 10 s: ${JSON.stringify(r.events)}`);
  assert.ok(!r.events.some((e) => e.name !== 'refreshed'), `${what}: failures: ${JSON.stringify(r.events)}`);
  assert.equal(r.state, 'authenticated', what);
}

e2e.test('locks: a widget in <iframe sandbox="allow-scripts"> authenticates, refreshes 4 s tokens and sends requests', async (s) => {
  const srv = await startSandboxServer();
  try {
    await s.page.goto(`${srv.origin}/outer.html`);
    const frame = await (async () => {
      for (let i = 0; i < 200; i++) {
        const f = s.page.frames().find((x) => x.url().endsWith('/inner.html'));
        if (f && (await f.evaluate(() => !!(window.sdk || window.initError)))) return f;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('the sandboxed frame did not load the package');
    })();
    const env = await frame.evaluate(async () => ({
      initError: window.initError ?? null,
      origin: self.origin,
      locks: await navigator.locks
        .request('probe', () => 'granted')
        .then(
          (v) => v,
          (e) => e.name,
        ),
      storage: (() => {
        try {
          return typeof sessionStorage.length;
        } catch (e) {
          return e.name;
        }
      })(),
    }));
    // The environment really is hostile: opaque origin, Web Locks and storage refused.
    assert.deepEqual(env, { initError: null, origin: 'null', locks: 'SecurityError', storage: 'SecurityError' });
    const r = await refreshing(frame, { origin: srv.origin, mintPath: '/mint', cid: customerId(), options: { storage: 'session' } });
    assert.equal(r.origin, 'null');
    assertRefreshed(r, 'sandboxed iframe');
    assert.ok(
      srv.echoes.length >= 30 && srv.echoes.every((e) => e.known && !e.expired && e.origin === 'null'),
      `server saw: ${JSON.stringify(srv.echoes.slice(0, 3))}`,
    );
  } finally {
    await srv.close();
  }
});

for (const [breakLocks, name] of Object.entries(BROKEN_LOCKS)) {
  e2e.test(`locks: ${name}: the refresh still comes before each 4 s token expires`, async (s) => {
    const r = await refreshing(s.page, { origin: s.originA, mintPath: '/control/mint', cid: customerId(), breakLocks });
    assertRefreshed(r, name);
    // Every request reached the server with an unexpired token (the suite checks this after every
    // test too), and each scheduled refresh came before the token it replaced expired.
    const echoes = s.server.entries({ path: '/api/echo' });
    assert.ok(echoes.length >= 30 && echoes.every((e) => e.tokenKnown && !e.expiredAtReceipt), 'a request went without a valid token');
  });
}

// chat-auth e2e: auth.fetch — 401 → refresh → replay, the origin allow-list, cross-origin redirects,
// the anonymous id before/after login and after logout.
// Contract: API.md (the public contract, outside this repo). Backend: ./support/chat-server.mjs.
import assert from 'node:assert/strict';
import { assertChatAuthError, assertNothingReachedOtherOrigins, Checks, customerId, suite, UUID_V4 } from './support/e2e.mjs';

const e2e = suite();

e2e.test('7. 401 → refresh (needsRefresh, after_401) → replay once → 200; a POST body is replayed too', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      const provider = T.mintingProvider(cid);
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      const token1 = await auth.getToken();
      await T.revoke(token1); // the server now answers 401 to token1
      const get = await T.attempt(async () => T.read(await T.within(auth.fetch('/api/protected'), 10_000, 'auth.fetch(GET /api/protected)')));
      const token2 = await auth.getToken();
      await T.revoke(token2);
      const post = await T.attempt(async () =>
        T.read(
          await T.within(
            auth.fetch('/api/protected', { method: 'POST', body: 'message=hello', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }),
            10_000,
            'auth.fetch(POST /api/protected)',
          ),
        ),
      );
      const token3 = await auth.getToken();
      return { token1, token2, token3, get, post, providerCalls: window.providerCalls, providerLog: window.providerLog, events, state: auth.state };
    },
    { origin: s.originA, cid },
  );
  assert.equal(r.get.threw, false, `GET rejected: ${JSON.stringify(r.get)}`);
  assert.equal(r.get.value.status, 200, 'GET replayed after the refresh succeeds');
  assert.notEqual(r.token2, r.token1, 'a new token after the 401');
  assert.deepEqual(r.providerLog[1], { needsRefresh: true, reason: 'after_401' }, `second provider call: ${JSON.stringify(r.providerLog)}`);
  assert.equal(r.post.threw, false, `POST rejected: ${JSON.stringify(r.post)}`);
  assert.equal(r.post.value.status, 200, 'POST replayed after the refresh succeeds');
  assert.equal(r.providerCalls, 3, 'initial + one refresh per 401');
  assert.deepEqual(r.providerLog[2], { needsRefresh: true, reason: 'after_401' });
  const prot = s.server.entries({ path: '/api/protected' });
  assert.deepEqual(
    prot.map((e) => [e.method, e.authorization, e.body]),
    [
      ['GET', `Bearer ${r.token1}`, ''],
      ['GET', `Bearer ${r.token2}`, ''],
      ['POST', `Bearer ${r.token2}`, 'message=hello'],
      ['POST', `Bearer ${r.token3}`, 'message=hello'],
    ].map(([m, a, b]) => [m, a, b]),
    'each request replayed exactly once, with the new token (and the same body)',
  );
  assert.ok(
    prot.every((e) => e.anonymousId),
    'replays carry Chat-Anonymous-Id',
  );
  assert.equal(r.state, 'authenticated');
  assert.ok(r.events.filter((e) => e.name === 'refreshed').length >= 2);
});

e2e.test('7b. a second 401 (after a successful refresh) is returned as-is: one replay, no loop', async (s) => {
  const cid = customerId();
  s.server.setProtectedMode('always');
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      const provider = T.mintingProvider(cid);
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider });
      T.record(auth);
      await T.waitState(auth, 'authenticated');
      const res = await T.attempt(async () => T.read(await T.within(auth.fetch('/api/protected'), 10_000, 'auth.fetch')));
      const callsAtResult = window.providerCalls;
      await T.sleep(2000); // any loop would show up here
      return { res, callsAtResult, providerCalls: window.providerCalls, providerLog: window.providerLog };
    },
    { origin: s.originA, cid },
  );
  assert.equal(r.res.threw, false, `auth.fetch rejected instead of returning the second 401: ${JSON.stringify(r.res)}`);
  assert.equal(r.res.value.status, 401, 'the second 401 is returned as-is');
  assert.equal(r.callsAtResult, 2, 'initial + one refresh after the 401');
  assert.equal(r.providerCalls, 2, 'no further provider calls (no loop)');
  assert.deepEqual(r.providerLog[1], { needsRefresh: true, reason: 'after_401' });
  const prot = s.server.entries({ path: '/api/protected' });
  assert.equal(prot.length, 2, `request + exactly one replay, got ${prot.length}`);
  assert.notEqual(prot[0].authorization, prot[1].authorization, 'the replay used the new token');
});

e2e.test('7c. a provider that hands back the refused token → token_unchanged, bounded provider calls, no replay loop', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.providerLog = [];
      window.cached = null;
      // A naive caching provider: ignores needsRefresh and always returns the same token.
      const provider = async (callback, needsRefresh, info) => {
        window.providerCalls++;
        window.providerLog.push({ needsRefresh, reason: info?.reason, at: Date.now() });
        if (!window.cached) window.cached = (await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json()).token;
        return { Auth: { Token: window.cached } };
      };
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider, refresh: { maxRetries: 1 } });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      await T.revoke(window.cached);
      const res = await T.attempt(async () => T.read(await T.within(auth.fetch('/api/protected'), 10_000, 'auth.fetch')));
      await T.waitFor(() => events.some((e) => e.name === 'auth-lost'), { timeout: 5000, what: "'auth-lost' after token_unchanged" }).catch(() => {});
      const callsAfterLost = window.providerCalls;
      await T.sleep(1500);
      return { res, events, callsAfterLost, providerCalls: window.providerCalls, providerLog: window.providerLog, state: auth.state };
    },
    { origin: s.originA, cid },
  );
  const failed = r.events.filter((e) => e.name === 'refresh-failed').map((e) => e.detail);
  assert.ok(failed.length >= 1 && failed.every((d) => d.code === 'token_unchanged'), `refresh-failed token_unchanged: ${JSON.stringify(failed)}`);
  assert.deepEqual(r.providerLog[1] && { n: r.providerLog[1].needsRefresh, reason: r.providerLog[1].reason }, { n: true, reason: 'after_401' });
  assert.ok(r.providerCalls >= 2 && r.providerCalls <= 3, `provider calls bounded by 1 + 1 + maxRetries(1): ${r.providerCalls}`);
  assert.equal(r.providerCalls, r.callsAfterLost, 'provider still being called after auth-lost');
  assert.deepEqual(
    r.events.filter((e) => e.name === 'auth-lost').map((e) => e.detail),
    [{ code: 'token_unchanged' }],
    "'auth-lost' with token_unchanged",
  );
  if (r.res.threw) {
    assert.equal(r.res.isChatAuthError, true, `auth.fetch rejected with a non-ChatAuthError: ${JSON.stringify(r.res)}`);
  } else {
    assert.equal(r.res.value.status, 401, 'the 401 is returned as-is when no new token can be had');
  }
  const prot = s.server.entries({ path: '/api/protected' });
  assert.ok(prot.length >= 1 && prot.length <= 2, `protected requests: ${prot.length}`);
  assert.equal(r.state, 'expired');
});

e2e.test('8. origin allow-list: authHeaders() is {} for another host, port or scheme', async (s) => {
  const cid = customerId();
  const portB = new URL(s.originB).port;
  const r = await s.eval(
    async ({ origin, cid, urls }) => {
      const { ChatAuth } = window.sdk;
      const provider = async () => ({ Auth: { Token: (await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json()).token } });
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider });
      T.record(auth);
      await T.waitState(auth, 'authenticated');
      const out = {};
      for (const [name, url] of Object.entries(urls)) {
        out[name] = await T.attempt(() => T.within(auth.authHeaders(url), 5000, `authHeaders(${url})`));
      }
      return { out, token: await auth.getToken(), anonymousId: auth.anonymousId };
    },
    {
      origin: s.originA,
      cid,
      urls: {
        allowed: `${s.originA}/api/echo`,
        otherHost: `${s.originC}/api/echo`,
        otherPort: `${s.originB}/api/echo`,
        otherScheme: `${s.otherScheme}/api/echo`,
        userinfoTrick: `http://127.0.0.1:${new URL(s.originA).port}@127.0.0.1:${portB}/api/echo`,
        subdomainTrick: `http://127.0.0.1.nip.test:${new URL(s.originA).port}/api/echo`,
      },
    },
  );
  const { allowed, ...others } = r.out;
  assert.equal(allowed.threw, false, JSON.stringify(allowed));
  const lower = Object.fromEntries(Object.entries(allowed.value).map(([k, v]) => [k.toLowerCase(), v]));
  assert.equal(lower.authorization, `Bearer ${r.token}`, `authHeaders(allowed origin): ${JSON.stringify(Object.keys(allowed.value))}`);
  assert.equal(lower['chat-anonymous-id'], r.anonymousId, 'authHeaders(allowed origin) carries Chat-Anonymous-Id');
  for (const [name, res] of Object.entries(others)) {
    assert.equal(res.threw, false, `authHeaders for ${name} rejected: ${JSON.stringify(res)}`);
    assert.deepEqual(res.value, {}, `authHeaders for ${name} must be {}`);
  }
});

e2e.test('8b. auth.fetch to another port / another host: plain fetch, no Authorization, no Chat-Anonymous-Id, own headers kept', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid, originB, originC }) => {
      const { ChatAuth } = window.sdk;
      const provider = async () => ({ Auth: { Token: (await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json()).token } });
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider });
      T.record(auth);
      await T.waitState(auth, 'authenticated');
      const go = (input, init) => T.attempt(async () => T.read(await T.within(auth.fetch(input, init), 5000, `auth.fetch(${input})`)));
      return {
        b: await go(`${originB}/api/echo`),
        bUrl: await go(new URL(`${originB}/api/echo?as=url`)),
        bRequest: await go(new Request(`${originB}/api/echo?as=request`)),
        bOwnHeader: await go(`${originB}/api/echo?own=1`, { headers: { 'X-Site-Header': 'kept' } }),
        c: await go(`${originC}/api/echo`),
        a: await go(`${origin}/api/echo`),
      };
    },
    { origin: s.originA, cid, originB: s.originB, originC: s.originC },
  );
  for (const k of ['b', 'bUrl', 'bRequest', 'bOwnHeader', 'c']) {
    assert.equal(r[k].threw, false, `${k}: ${JSON.stringify(r[k])}`);
    assert.equal(r[k].value.status, 200, `${k}: status`);
    assert.equal(r[k].value.json.authorization, null, `${k}: Authorization reached another origin`);
    assert.equal(r[k].value.json.anonymousId, null, `${k}: Chat-Anonymous-Id reached another origin`);
  }
  assert.ok(r.a.value.json.authorization?.startsWith('Bearer '), 'positive control: origin A gets the token');
  const own = s.server.entries({ server: 'B' }).find((e) => e.url.includes('own=1') && e.method === 'GET');
  assert.equal(own?.headers['x-site-header'], 'kept', "the caller's own header must pass through unchanged");
  assert.ok(s.server.entries({ server: 'B' }).length >= 4, 'B saw the requests');
  assert.ok(s.server.entries({ server: 'C' }).length >= 1, 'C (localhost) saw the request');
  assertNothingReachedOtherOrigins(s.server);
});

e2e.test('8d. context Auth.Headers and token_type go to allowed origins only', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid, originB }) => {
      const { ChatAuth } = window.sdk;
      const provider = async () => {
        const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json();
        return { Auth: { access_token: m.token, token_type: 'Bearer', expires_in: 300, Headers: { 'X-Chat-Tenant': 'acme' } } };
      };
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider });
      T.record(auth);
      await T.waitState(auth, 'authenticated');
      const headers = T.plain(await auth.authHeaders(`${origin}/api/echo`));
      await T.within(auth.fetch('/api/echo?to=a'), 5000, 'fetch A');
      await T.within(auth.fetch(`${originB}/api/echo?to=b`), 5000, 'fetch B');
      return { headers, token: await auth.getToken() };
    },
    { origin: s.originA, cid, originB: s.originB },
  );
  const lower = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v]));
  assert.equal(lower['x-chat-tenant'], 'acme', `authHeaders() includes Auth.Headers: ${JSON.stringify(Object.keys(r.headers))}`);
  assert.equal(lower.authorization, `Bearer ${r.token}`, 'token_type Bearer');
  const a = s.server.entries({ server: 'A', path: '/api/echo' })[0];
  assert.equal(a?.headers['x-chat-tenant'], 'acme', 'Auth.Headers sent to the allowed origin');
  const b = s.server.entries({ server: 'B', path: '/api/echo' });
  assert.ok(
    b.length >= 1 && b.every((e) => !('x-chat-tenant' in e.headers) && !/x-chat-tenant/.test(e.requestedHeaders)),
    'Auth.Headers must not reach another origin',
  );
});

e2e.test(
  '8c. cross-origin redirect: A → 302 → B / C never delivers the token',
  async (s) => {
    const cid = customerId();
    const r = await s.eval(
      async ({ origin, cid, targets }) => {
        const { ChatAuth } = window.sdk;
        const provider = async () => ({ Auth: { Token: (await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json()).token } });
        const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider });
        T.record(auth);
        await T.waitState(auth, 'authenticated');
        const out = {};
        for (const [name, target] of Object.entries(targets)) {
          out[name] = await T.attempt(async () =>
            T.read(await T.within(auth.fetch(`${origin}/api/redirect?to=${encodeURIComponent(target)}`), 5000, `auth.fetch(redirect → ${name})`)),
          );
        }
        return { out, token: await auth.getToken() };
      },
      { origin: s.originA, cid, targets: { B: `${s.originB}/api/echo?via=redirect`, C: `${s.originC}/api/echo?via=redirect` } },
    );
    // The redirect itself went to A with the token (allowed) …
    const hops = s.server.entries({ path: '/api/redirect' });
    assert.ok(hops.length >= 2 && hops.every((e) => e.authorization === `Bearer ${r.token}`), 'the first hop (origin A) carries the token');
    // … and whatever happened next (followed without the header, manual, or error), B and C never got it.
    for (const who of ['B', 'C']) {
      const seen = s.server.entries({ server: who });
      const leaked = seen.filter((e) => e.authorization || /\bauthorization\b/.test(e.requestedHeaders));
      assert.equal(
        leaked.length,
        0,
        `origin ${who} received the token through a redirect: ${JSON.stringify(leaked.map((e) => [e.method, e.url, e.requestedHeaders]))}`,
      );
      const res = r.out[who];
      if (!res.threw && res.value.json) assert.equal(res.value.json.authorization, null, `${who}: echo shows an Authorization header`);
    }
    assertNothingReachedOtherOrigins(s.server, { anonymousId: false });
  },
  { invariants: false },
);

e2e.test('9. anonymous id: UUID v4 before login, same after login, new after clearCustomer (logged_out); no Authorization after logout', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      const provider = async () => {
        window.providerCalls++;
        return { Auth: { Token: (await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json()).token } };
      };
      const echo = async (auth, tag) => T.read(await T.within(auth.fetch(`/api/echo?phase=${tag}`), 5000, `auth.fetch (${tag})`));
      const auth = new ChatAuth({ apiOrigins: [origin] });
      const events = T.record(auth);
      const before = {
        state: auth.state,
        anonymousId: auth.anonymousId,
        customerId: auth.customerId,
        token: await T.attempt(() => auth.getToken()),
        echo: await echo(auth, 'anonymous'),
      };
      await T.within(auth.setCustomer(cid, provider), 10_000, 'setCustomer');
      await T.waitState(auth, 'authenticated');
      const during = {
        state: auth.state,
        anonymousId: auth.anonymousId,
        customerId: auth.customerId,
        token: await auth.getToken(),
        echo: await echo(auth, 'customer'),
      };
      await T.within(auth.clearCustomer(), 5000, 'clearCustomer');
      const after = {
        state: auth.state,
        anonymousId: auth.anonymousId,
        customerId: auth.customerId,
        expiresAt: auth.expiresAt,
        claims: T.plain(auth.claims),
        token: await T.attempt(() => auth.getToken()),
        echo: await echo(auth, 'logged-out'),
        headers: await T.attempt(() => auth.authHeaders(`${origin}/api/echo`)),
      };
      return { before, during, after, events, providerCalls: window.providerCalls };
    },
    { origin: s.originA, cid },
  );
  const { before, during, after } = r;
  const c = new Checks();
  c.check('', () => assert.equal(before.state, 'anonymous', 'state before login'));
  c.check('', () => assert.equal(before.customerId, null, 'customerId is null when anonymous (API: string | null)'));
  c.check('', () => assert.match(before.anonymousId, UUID_V4, 'anonymousId is a UUID v4'));
  c.check('', () => assert.deepEqual(before.token, { threw: false, value: null }, 'getToken() is null when anonymous'));
  c.check('', () => assert.equal(before.echo.json.anonymousId, before.anonymousId, 'Chat-Anonymous-Id sent before login'));
  c.check('', () => assert.equal(before.echo.json.authorization, null, 'no Authorization before login'));
  c.check('', () => assert.equal(during.state, 'authenticated', 'state after setCustomer'));
  c.check('', () => assert.equal(during.customerId, cid, 'customerId after login'));
  c.check('', () => assert.equal(during.anonymousId, before.anonymousId, 'the anonymous id survives login (history merge)'));
  c.check('', () => assert.equal(during.echo.json.anonymousId, before.anonymousId, 'Chat-Anonymous-Id after login'));
  c.check('', () => assert.equal(during.echo.json.authorization, `Bearer ${during.token}`, 'Authorization after login'));
  c.check('', () => assert.equal(after.state, 'logged_out', 'state after clearCustomer'));
  c.check('', () => assert.equal(after.customerId, null, 'customerId is null after logout'));
  c.check('', () => assert.match(after.anonymousId, UUID_V4, 'new anonymousId is a UUID v4'));
  c.check('', () => assert.notEqual(after.anonymousId, before.anonymousId, 'clearCustomer() starts a new anonymous id'));
  c.check('', () => assert.deepEqual(after.token, { threw: false, value: null }, 'getToken() is null after logout'));
  c.check('', () => assert.equal(after.expiresAt, null, 'expiresAt is null after logout'));
  c.check('', () => assert.equal(after.claims, null, 'claims is null after logout'));
  c.check('', () => assert.equal(after.echo.json.authorization, null, 'no Authorization after logout'));
  c.check('', () => assert.equal(after.echo.json.anonymousId, after.anonymousId, 'the new anonymous id is sent after logout'));
  c.check('', () => assert.equal(after.headers.threw, false, 'authHeaders after logout'));
  c.check('', () =>
    assert.deepEqual(
      Object.fromEntries(Object.entries(after.headers.value).map(([k, v]) => [k.toLowerCase(), v])),
      { 'chat-anonymous-id': after.anonymousId },
      'authHeaders() after logout: only Chat-Anonymous-Id',
    ),
  );
  const loggedOut = r.events.filter((e) => e.name === 'logged-out').map((e) => e.detail);
  c.check('', () => assert.deepEqual(loggedOut, [{ customerId: cid }], "one 'logged-out' { customerId }"));
  const states = r.events.filter((e) => e.name === 'state').map((e) => e.detail);
  c.check('', () => assert.deepEqual(states.at(-1), { state: 'logged_out', previous: 'authenticated' }, `state events: ${JSON.stringify(states)}`));
  const phases = s.server.entries({ path: '/api/echo' }).map((e) => [new URL(e.url, 'http://x').searchParams.get('phase'), !!e.authorization, e.anonymousId]);
  c.check('', () =>
    assert.deepEqual(
      phases,
      [
        ['anonymous', false, before.anonymousId],
        ['customer', true, before.anonymousId],
        ['logged-out', false, after.anonymousId],
      ],
      'server view per phase: [phase, has Authorization, Chat-Anonymous-Id]',
    ),
  );
  c.check('', () => assert.equal(r.providerCalls, 1, 'provider calls'));
  c.done();
});

e2e.test('an init whose members are getters (a class instance) keeps its method, body and headers', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: T.mintingProvider(cid) });
      T.record(auth);
      await T.waitState(auth, 'authenticated');
      class Init {
        get method() {
          return 'POST';
        }
        get body() {
          return 'message=from-getters';
        }
        get headers() {
          return { 'X-Site-Header': 'kept' };
        }
      }
      return await T.attempt(async () => T.read(await T.within(auth.fetch('/api/echo?r9=1', new Init()), 5000, 'auth.fetch(url, new Init())')));
    },
    { origin: s.originA, cid },
  );
  assert.equal(r.threw, false, JSON.stringify(r));
  const seen = s.server.entries({ path: '/api/echo' }).filter((e) => e.url.includes('r9=1'));
  assert.deepEqual(
    seen.map((e) => [e.method, e.body, e.headers['x-site-header'], Boolean(e.authorization)]),
    [['POST', 'message=from-getters', 'kept', true]],
    `the init's getters were read: ${JSON.stringify(seen)}`,
  );
});

e2e.test('when the request cannot be rebuilt with redirect: manual it is not sent (network), never sent following redirects', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: T.mintingProvider(cid) });
      T.record(auth);
      await T.waitState(auth, 'authenticated');
      const Original = window.Request;
      const input = new Original('/api/echo?r7=1', { method: 'POST', body: 'x' });
      // A Request constructor that refuses redirect: 'manual' (as an old or patched runtime may).
      window.Request = new Proxy(Original, {
        construct(target, args) {
          if (args[1] && args[1].redirect === 'manual') throw new TypeError('redirect: manual refused');
          return Reflect.construct(target, args);
        },
      });
      try {
        return await T.attempt(async () => T.read(await T.within(auth.fetch(input), 5000, 'auth.fetch(Request)')));
      } finally {
        window.Request = Original;
      }
    },
    { origin: s.originA, cid },
  );
  assert.equal(r.threw, true, `the request went out: ${JSON.stringify(r)}`);
  assert.equal(r.code, 'network');
  const seen = s.server.entries({ path: '/api/echo' }).filter((e) => e.url.includes('r7=1'));
  assert.equal(seen.length, 0, `a request following redirects carried the SDK's headers: ${JSON.stringify(seen)}`);
});

e2e.test('invalid caller headers reject with a ChatAuthError (network), whether the token is ready or awaited; nothing stalls behind them', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      let release;
      const answered = new Promise((resolve) => (release = resolve));
      const provider = T.mintingProvider(cid);
      const auth = new ChatAuth({ apiOrigins: [origin], crossTab: false });
      const bad = { headers: { 'bad name': '1' } };
      // Awaited: the request waits for the provider's answer.
      const login = auth.setCustomer(cid, async (...args) => {
        await answered;
        return provider(...args);
      });
      let threwSync = null;
      let waiting;
      try {
        waiting = T.attempt(() => auth.fetch('/api/echo?case=bad-waiting', bad));
      } catch (e) {
        threwSync = String(e);
      }
      release();
      await T.within(login, 10_000, 'setCustomer');
      const out = { threwSync, waiting: await T.within(waiting, 10_000, 'the waiting bad fetch') };
      // Ready: the token is there.
      out.ready = await T.attempt(() => T.within(auth.fetch('/api/echo?case=bad-ready', bad), 10_000, 'the bad fetch'));
      // What comes next is answered at once.
      const t = performance.now();
      out.token = await T.within(auth.getToken(), 2000, 'getToken after the bad fetches');
      out.tokenMs = performance.now() - t;
      out.good = await T.attempt(async () => T.read(await T.within(auth.fetch('/api/echo?case=good'), 10_000, 'a good fetch')));
      auth.destroy();
      return out;
    },
    { origin: s.originA, cid },
  );
  const c = new Checks();
  c.check('nothing thrown synchronously', () => assert.equal(r.threwSync, null));
  c.check('awaited: network ChatAuthError', () => assertChatAuthError(r.waiting, 'network'));
  c.check('ready: network ChatAuthError', () => assertChatAuthError(r.ready, 'network'));
  c.check('getToken right after: answered at once', () => assert.ok(r.token && r.tokenMs < 1000, `${r.tokenMs} ms`));
  c.check('a good request after them carries the token', () => assert.match(r.good.value.json.authorization ?? '', /^Bearer /));
  c.check('the bad requests were not sent', () =>
    assert.deepEqual(
      s.server
        .entries({ path: '/api/echo' })
        .filter((e) => /case=bad/.test(e.url))
        .map((e) => e.url),
      [],
    ),
  );
  c.done();
});

e2e.test('a context provider may return the context itself (not a promise, no callback), as its type allows', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json();
      let calls = 0;
      const auth = new ChatAuth({ apiOrigins: [origin], crossTab: false, refresh: { providerTimeoutSeconds: 2, maxRetries: 0 } });
      const result = await T.attempt(() =>
        T.within(
          auth.setCustomer(cid, () => {
            calls += 1;
            return { Auth: { Token: m.token } };
          }),
          10_000,
          'setCustomer',
        ),
      );
      const out = { result, calls, state: auth.state, same: (await auth.getToken()) === m.token };
      auth.destroy();
      return out;
    },
    { origin: s.originA, cid },
  );
  assert.equal(r.result.threw, false, JSON.stringify(r.result));
  assert.deepEqual({ calls: r.calls, state: r.state, same: r.same }, { calls: 1, state: 'authenticated', same: true });
});

e2e.test('review 18 finding 5: a Request-object auth.fetch (dpop) answered after nonce challenge → 401 → refresh → replay', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      const provider = async () => {
        window.providerCalls++;
        const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json();
        return { Auth: { access_token: m.token, token_type: 'DPoP' } };
      };
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider, dpop: true, crossTab: false });
      await T.waitState(auth, 'authenticated');
      const token1 = await auth.getToken();
      await T.revoke(token1); // the nonce retry then meets a refused token
      const res = await T.attempt(async () => T.read(await T.within(auth.fetch(new Request(`${origin}/api/nonce-protected`)), 10_000, 'auth.fetch(Request)')));
      const token2 = await auth.getToken();
      auth.destroy();
      return { res, token1, token2, providerCalls: window.providerCalls };
    },
    { origin: s.originA, cid },
  );
  assert.equal(r.res.threw, false, `rejected: ${JSON.stringify(r.res)}`);
  assert.equal(r.res.value.status, 200, JSON.stringify(r.res.value));
  assert.notEqual(r.token2, r.token1);
  assert.equal(r.providerCalls, 2, 'initial + one refresh after the 401');
  const sent = s.server.entries({ path: '/api/nonce-protected' });
  assert.deepEqual(
    sent.map((e) => e.authorization),
    [`DPoP ${r.token1}`, `DPoP ${r.token1}`, `DPoP ${r.token2}`],
    'challenge, nonce retry, replay after the refresh',
  );
  assert.ok(
    sent.every((e) => e.headers.dpop),
    'each with a proof',
  );
});

// chat-auth e2e: the token goes nowhere it should not (issue 8, "leak tests").
//
// Every test hands the SDK unique canary secrets (an opaque access token, a refresh token and an
// Auth.Headers value, plus a JWT minted by the test server), drives it through the paths that could
// leak them, and then searches everything it can see for the canaries: the request log of every origin
// (headers, URLs, bodies), every URL the page loaded (Resource Timing), the page URL, the console and
// page errors, every error's message / String() / JSON / stack, event details, localStorage,
// sessionStorage and document.cookie.
// Contract: API.md (the public contract, outside this repo) (fetch, Secrets, storage). Backend: ./support/chat-server.mjs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { assertChatAuthError, assertNoExpiredTokenSent, assertNoSecretInUrls, Checks, customerId, suite } from './support/e2e.mjs';

const e2e = suite();

/** Unique, header-safe canary strings for one test. */
function canaries() {
  const tag = () => randomBytes(18).toString('base64url');
  return {
    token: `canaryAT_${tag()}`,
    refresh: `canaryRT_${tag()}`,
    header: `canaryHDR_${tag()}`,
  };
}

/** Every place a server log entry can hold a secret, as one string. */
const entryText = (e) => JSON.stringify([e.url, e.headers, e.body, e.requestedHeaders]);

/** [where, excerpt] for each occurrence of a secret in `text`. */
function findIn(where, text, secrets) {
  const hits = [];
  for (const secret of secrets) {
    const at = String(text).indexOf(secret);
    if (at >= 0) hits.push(`${where}: …${String(text).slice(Math.max(0, at - 40), at)}<SECRET>…`);
  }
  return hits;
}

/** Search the server's request log: no secret at origins B/C at all, none in any URL anywhere. */
function searchServer(server, secrets) {
  const hits = [];
  for (const e of server.log) {
    if (e.server !== 'A') hits.push(...findIn(`request #${e.seq} to origin ${e.server} ${e.method} ${e.path}`, entryText(e), secrets));
    if (!e.path.startsWith('/control/')) hits.push(...findIn(`URL of request #${e.seq} (${e.server})`, e.url, secrets));
  }
  return hits;
}

e2e.test('leak 1: token, Auth.Headers and Chat-Anonymous-Id never reach another host, port or scheme, nor follow a redirect there', async (s) => {
  const cid = customerId();
  const secret = canaries();
  const r = await s.eval(
    async ({ origin, cid, secret, originB, originC, otherScheme }) => {
      const { ChatAuth } = window.sdk;
      const provider = async () => ({
        Auth: { Token: secret.token, ExpiresAt: Math.floor(Date.now() / 1000) + 600, refresh_token: secret.refresh, Headers: { 'X-Chat-Key': secret.header } },
      });
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider, crossTab: false });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      const go = (input, init) => T.attempt(async () => T.read(await T.within(auth.fetch(input, init), 10_000, `auth.fetch(${input})`)));
      const redirect = (to, init) => go(`${origin}/api/redirect?to=${encodeURIComponent(to)}`, init);
      const out = {
        // Positive control: the allowed origin gets all three.
        allowed: await go(`${origin}/api/echo?case=allowed`),
        otherPort: await go(`${originB}/api/echo?case=port`),
        otherHost: await go(`${originC}/api/echo?case=host`),
        otherScheme: await go(`${otherScheme}/api/echo?case=scheme`),
        otherPortPost: await go(`${originB}/api/echo?case=post`, { method: 'POST', body: 'hello' }),
        otherPortRequest: await go(new Request(`${originB}/api/echo?case=request`, { headers: { 'X-Own': 'kept' } })),
        redirectToPort: await redirect(`${originB}/api/echo?case=redirect-port`),
        redirectToHost: await redirect(`${originC}/api/echo?case=redirect-host`),
        redirectToScheme: await redirect(`${otherScheme}/api/echo?case=redirect-scheme`),
        redirectPostToPort: await redirect(`${originB}/api/echo?case=redirect-post`, { method: 'POST', body: 'hello' }),
        redirectSameOrigin: await redirect(`${origin}/api/echo?case=redirect-same`),
        redirectManual: await T.attempt(async () => {
          const res = await T.within(
            auth.fetch(`${origin}/api/redirect?to=${encodeURIComponent(`${originB}/api/echo?case=manual`)}`, { redirect: 'manual' }),
            10_000,
            'manual',
          );
          return { type: res.type, status: res.status };
        }),
        redirectError: await redirect(`${originB}/api/echo?case=redirect-error`, { redirect: 'error' }),
      };
      const headers = {};
      for (const [name, url] of Object.entries({
        allowed: `${origin}/api/echo`,
        port: `${originB}/api/echo`,
        host: `${originC}/api/echo`,
        scheme: `${otherScheme}/api/echo`,
        userinfo: `http://user:pass@${new URL(originB).host}/api/echo`,
        dataUrl: 'data:text/plain,hi',
        javascript: 'javascript:alert(1)',
        notAUrl: 'http://',
        protocolRelative: `//${new URL(originB).host}/api/echo`,
      })) {
        headers[name] = await T.attempt(() => T.within(auth.authHeaders(url), 5000, `authHeaders(${url})`));
      }
      return { out, headers, events, anonymousId: auth.anonymousId };
    },
    { origin: s.originA, cid, secret, originB: s.originB, originC: s.originC, otherScheme: s.otherScheme },
  );
  const secrets = [secret.token, secret.refresh, secret.header, r.anonymousId];
  const c = new Checks();
  const lower = (o) => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  // Positive control: what must not leak is really sent where it belongs.
  c.check('allowed origin', () => {
    assert.equal(r.out.allowed.threw, false, JSON.stringify(r.out.allowed));
    const got = s.server.entries({ server: 'A', path: '/api/echo' }).find((e) => e.url.includes('case=allowed'));
    assert.equal(got?.authorization, `Bearer ${secret.token}`);
    assert.equal(got?.headers['x-chat-key'], secret.header);
    assert.equal(got?.anonymousId, r.anonymousId);
  });
  c.check('authHeaders(allowed)', () =>
    assert.deepEqual(lower(r.headers.allowed.value), {
      authorization: `Bearer ${secret.token}`,
      'x-chat-key': secret.header,
      'chat-anonymous-id': r.anonymousId,
    }),
  );
  for (const [name, res] of Object.entries(r.headers)) {
    if (name === 'allowed') continue;
    c.check(`authHeaders(${name})`, () => assert.deepEqual(res, { threw: false, value: {} }));
  }
  // Other origins: plain fetch, nothing added.
  for (const k of ['otherPort', 'otherHost', 'otherPortPost', 'otherPortRequest']) {
    c.check(k, () => {
      assert.equal(r.out[k].threw, false, JSON.stringify(r.out[k]));
      assert.equal(r.out[k].value.json.authorization, null);
      assert.equal(r.out[k].value.json.anonymousId, null);
    });
  }
  c.check("the caller's own header reaches another origin untouched", () => {
    const e = s.server.entries({ server: 'B' }).find((x) => x.url.includes('case=request') && x.method === 'GET');
    assert.equal(e?.headers['x-own'], 'kept');
  });
  c.check('otherScheme (nothing listens for TLS): a network ChatAuthError', () => assertChatAuthError(r.out.otherScheme, 'network', { secrets }));
  // Redirects from the allowed origin: not followed with the SDK's headers.
  for (const k of ['redirectToPort', 'redirectToHost', 'redirectToScheme', 'redirectPostToPort', 'redirectSameOrigin']) {
    c.check(`${k}: rejected with network, naming the redirect`, () => {
      assertChatAuthError(r.out[k], 'network', { secrets });
      assert.match(r.out[k].message, /redirect/);
    });
  }
  c.check("redirect: 'manual' is the caller's: the opaque redirect comes back", () =>
    assert.deepEqual(r.out.redirectManual, { threw: false, value: { type: 'opaqueredirect', status: 0 } }),
  );
  c.check("redirect: 'error' is the caller's: a network error", () => assertChatAuthError(r.out.redirectError, 'network', { secrets }));
  c.check('the redirect hops themselves went to origin A with the headers', () => {
    const hops = s.server.entries({ path: '/api/redirect' });
    assert.ok(hops.length >= 7, `${hops.length} hops`);
    assert.ok(hops.every((e) => e.authorization === `Bearer ${secret.token}` && e.server === 'A'));
  });
  c.check('no redirect target was requested', () => {
    const followed = s.server.log.filter((e) => /case=(redirect|manual)/.test(e.url) && e.path !== '/api/redirect');
    assert.deepEqual(
      followed.map((e) => `${e.server} ${e.url}`),
      [],
    );
  });
  c.check('origins B and C never saw a secret or the anonymous id (headers, URL, body, preflight)', () =>
    assert.deepEqual(searchServer(s.server, secrets), []),
  );
  c.check('B and C saw no preflight asking for SDK headers', () => {
    const asked = s.server.log.filter((e) => e.server !== 'A' && /authorization|chat-anonymous-id|x-chat-key/.test(e.requestedHeaders));
    assert.deepEqual(
      asked.map((e) => e.requestedHeaders),
      [],
    );
  });
  c.check('events carry no secret', () => assert.deepEqual(findIn('events', JSON.stringify(r.events), secrets.slice(0, 3)), []));
  c.check('console and page errors carry no secret', () => assert.deepEqual(findIn('console', s.logs().join('\n'), secrets.slice(0, 3)), []));
  c.done();
});

e2e.test(
  'leak 2: no secret in URLs, console, error messages, events, localStorage, sessionStorage or cookies (storage: memory)',
  async (s) => {
    const cid = customerId();
    const secret = canaries();
    const minted = (await (await fetch(`${s.originA}/control/mint?sub=someone-else&ttl=300`)).json()).token;
    const expired = (await (await fetch(`${s.originA}/control/mint?sub=${cid}&ttl=-120`)).json()).token;
    const r = await s.eval(
      async ({ origin, cid, secret, minted, expired }) => {
        const { ChatAuth, verifyToken, decodeToken } = window.sdk;
        const errors = {};
        const keep = async (name, fn) => {
          try {
            await fn();
            errors[name] = { threw: false };
          } catch (e) {
            errors[name] = { ...T.err(e), json: JSON.stringify(e), stack: String(e && e.stack), keys: Object.keys(e ?? {}) };
          }
        };
        const key = await T.key();
        const hugeCanary = `${secret.token}.${'A'.repeat(20000)}.${secret.token}`;
        // verifyToken / decodeToken with tokens that carry the canaries.
        await keep('verify-malformed', () =>
          verifyToken(`${secret.token}.${secret.token}.${secret.token}`, { algorithms: ['RS256'], publicKey: key.publicKeyPem }),
        );
        await keep('verify-too-large', () => verifyToken(hugeCanary, { algorithms: ['RS256'], publicKey: key.publicKeyPem }));
        await keep('verify-claim-mismatch', () => verifyToken(minted, { algorithms: ['RS256'], publicKey: key.publicKeyPem, customerId: cid }));
        await keep('verify-expired', () => verifyToken(expired, { algorithms: ['RS256'], jwks: key.jwks }));
        await keep('verify-bad-signature', () =>
          verifyToken(`${minted.slice(0, minted.lastIndexOf('.'))}.${expired.split('.')[2]}`, { algorithms: ['RS256'], publicKey: key.publicKeyPem }),
        );
        await keep('verify-secret-in-bad-options', () => verifyToken(minted, { algorithms: ['HS256'], secret: secret.token.slice(0, 30), issuer: 'x' }));
        await keep('decode-malformed', () => decodeToken(`eyJhbGciOiJIUzI1NiJ9.${secret.token}.x`));
        await keep('decode-too-large', () => decodeToken(hugeCanary));
        // Sessions whose provider hands over refused or failing contexts.
        const session = async (name, provider, extra = {}, waitMs = 0) => {
          const auth = new ChatAuth({ apiOrigins: [origin], contextProvider: provider, crossTab: false, refresh: { maxRetries: 0 }, ...extra });
          const events = T.record(auth, { store: false });
          await keep(name, () => T.within(auth.setCustomer(cid), 10_000, name));
          await T.sleep(waitMs);
          await keep(`${name}-getToken`, () => T.within(auth.getToken(), 10_000, name));
          await keep(`${name}-fetch`, () => T.within(auth.fetch(`${origin}/api/echo?case=${name}`), 10_000, name));
          auth.destroy();
          await keep(`${name}-destroyed`, () => auth.getToken());
          return events;
        };
        const events = {
          wrongCustomer: await session('wrong-customer', async () => ({ Auth: { Token: minted } })),
          expired: await session('expired-token', async () => ({ Auth: { Token: expired } })),
          providerThrows: await session('provider-throws', async () => {
            throw new Error(`provider failed while holding ${secret.token}`);
          }),
          providerRejectsWithToken: await session('provider-rejects-string', () => Promise.reject(secret.token)),
          badContext: await session('bad-context', async () => ({ Auth: { Token: `${secret.token} with spaces`, Headers: { Authorization: secret.header } } })),
          wrongIssuer: await session('wrong-issuer', async () => ({ Auth: { Token: minted } }), {
            validation: { algorithms: ['RS256'], publicKey: (await T.key()).publicKeyPem, customerIdClaim: null, issuer: 'https://elsewhere.test' },
          }),
          refreshRefused: await session(
            'refresh-refused',
            async () => ({ Auth: { access_token: secret.token, token_type: 'Bearer', expires_in: 1, refresh_token: secret.refresh } }),
            { tokenEndpoint: `${origin}/oauth/token`, clientId: 'web' },
            1500,
          ),
        };
        const view = await (async () => ({
          storage: T.storageDump(),
          href: location.href,
          resources: performance.getEntriesByType('resource').map((e) => e.name),
        }))();
        // Anything the page kept on window (the SDK adds nothing there).
        let globals = '';
        for (const k of Object.keys(window)) {
          if (['T', 'sdk', 'events', 'providerLog'].includes(k)) continue;
          try {
            const v = window[k];
            if (typeof v === 'string') globals += `${k}=${v}\n`;
          } catch {
            // A getter that throws to be read holds no string of the page's.
          }
        }
        return { errors, events, view, globals };
      },
      { origin: s.originA, cid, secret, minted, expired },
      { timeout: 90_000 },
    );
    const secrets = [secret.token, secret.token.slice(0, 30), secret.refresh, secret.header, minted, minted.split('.')[2], expired, expired.split('.')[2]];
    const c = new Checks();
    const expectCodes = {
      'verify-malformed': 'malformed',
      'verify-too-large': 'token_too_large',
      'verify-claim-mismatch': 'claim_mismatch',
      'verify-expired': 'expired',
      'verify-bad-signature': 'bad_signature',
      'verify-secret-in-bad-options': 'invalid_config',
      'decode-malformed': 'malformed',
      'decode-too-large': 'token_too_large',
      'wrong-customer': 'claim_mismatch',
      'expired-token': 'expired',
      'provider-throws': 'provider_failed',
      'provider-rejects-string': 'provider_failed',
      'bad-context': 'malformed',
      'wrong-issuer': 'issuer_mismatch',
      'wrong-customer-destroyed': 'destroyed',
    };
    for (const [name, code] of Object.entries(expectCodes)) {
      c.check(`error ${name}`, () => assertChatAuthError(r.errors[name], code, { secrets }));
    }
    c.check('the refused refresh grant is reported', () => {
      const failed = r.events.refreshRefused.filter((e) => e.name === 'refresh-failed' || e.name === 'auth-lost');
      assert.ok(s.server.oauthCalls.length >= 1, 'the token endpoint was called');
      assert.ok(failed.length >= 1, `refresh-failed/auth-lost: ${JSON.stringify(r.events.refreshRefused.map((e) => e.name))}`);
    });
    c.check('the refresh token went only in the POST body to the token endpoint', () => {
      const carrying = s.server.log.filter((e) => entryText(e).includes(secret.refresh));
      assert.ok(carrying.length >= 1, 'the refresh grant was sent');
      assert.deepEqual([...new Set(carrying.map((e) => `${e.server} ${e.method} ${e.path}`))], ['A POST /oauth/token']);
      assert.ok(carrying.every((e) => !e.url.includes(secret.refresh) && e.body.includes(secret.refresh)));
    });
    // Search every error in every form.
    for (const [name, e] of Object.entries(r.errors)) {
      c.check(`error ${name}: message, String(), JSON, stack carry no secret`, () => assert.deepEqual(findIn(name, JSON.stringify(e), secrets), []));
    }
    c.check('event details carry no secret', () => assert.deepEqual(findIn('events', JSON.stringify(r.events), secrets), []));
    c.check('console and page errors carry no secret', () => assert.deepEqual(findIn('console', s.logs().join('\n'), secrets), []));
    c.check('no secret in localStorage, sessionStorage or document.cookie', () =>
      assert.deepEqual(findIn('storage', JSON.stringify(r.view.storage), secrets), []),
    );
    c.check('no secret in the page URL or any URL the page loaded', () =>
      assert.deepEqual(findIn('URLs', JSON.stringify([r.view.href, r.view.resources]), secrets), []),
    );
    c.check('no secret in string globals', () => assert.deepEqual(findIn('window', r.globals, secrets), []));
    c.check('no secret at origins B/C or in a URL any origin saw', () => assert.deepEqual(searchServer(s.server, secrets), []));
    c.done();
  },
  { timeout: 120_000 },
);

e2e.test("leak 3: storage: 'session' keeps the token in sessionStorage only; never localStorage or cookies; logout clears it", async (s) => {
  const cid = customerId();
  const secret = canaries();
  const r = await s.eval(
    async ({ origin, cid, secret }) => {
      const { ChatAuth } = window.sdk;
      sessionStorage.clear();
      localStorage.clear();
      const provider = async () => ({
        Auth: { Token: secret.token, ExpiresAt: Math.floor(Date.now() / 1000) + 600, Headers: { 'X-Chat-Key': secret.header } },
      });
      const memory = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider, crossTab: false });
      await T.waitState(memory, 'authenticated');
      const memoryDump = T.storageDump();
      memory.destroy();
      const session = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider, crossTab: false, storage: 'session' });
      await T.waitState(session, 'authenticated');
      await session.fetch(`${origin}/api/echo?case=session`);
      const sessionDump = T.storageDump();
      await session.clearCustomer();
      const afterLogout = T.storageDump();
      session.destroy();
      return { memoryDump, sessionDump, afterLogout };
    },
    { origin: s.originA, cid, secret },
  );
  const has = (dump, where) => [secret.token, secret.header].some((x) => JSON.stringify(dump[where]).includes(x));
  const c = new Checks();
  c.check('memory: nowhere', () =>
    assert.deepEqual(
      { local: has(r.memoryDump, 'local'), session: has(r.memoryDump, 'session'), cookie: has(r.memoryDump, 'cookie') },
      { local: false, session: false, cookie: false },
    ),
  );
  c.check('session: in sessionStorage (positive control)', () =>
    assert.equal(has(r.sessionDump, 'session'), true, JSON.stringify(Object.keys(r.sessionDump.session))),
  );
  c.check('session: never localStorage or cookies', () =>
    assert.deepEqual({ local: has(r.sessionDump, 'local'), cookie: has(r.sessionDump, 'cookie') }, { local: false, cookie: false }),
  );
  c.check('session: clearCustomer forgets it', () =>
    assert.deepEqual(
      { local: has(r.afterLogout, 'local'), session: has(r.afterLogout, 'session'), cookie: has(r.afterLogout, 'cookie') },
      { local: false, session: false, cookie: false },
    ),
  );
  c.check('console carries no secret', () => assert.deepEqual(findIn('console', s.logs().join('\n'), [secret.token, secret.header]), []));
  c.done();
});

e2e.test('leak 4: a token endpoint or introspection endpoint that redirects (307) does not get the refresh or access token re-posted elsewhere', async (s) => {
  const cid = customerId();
  const secret = canaries();
  const opaque = `canaryOPQ_${randomBytes(18).toString('base64url')}`;
  const r = await s.eval(
    async ({ origin, cid, secret, opaque, originB }) => {
      const { ChatAuth } = window.sdk;
      const via307 = (what) => `${origin}/api/redirect?status=307&to=${encodeURIComponent(`${originB}/api/echo?case=${what}`)}`;
      // A refresh by the OAuth refresh_token grant, to an endpoint that answers 307.
      const grant = new ChatAuth({
        apiOrigins: [origin],
        customerId: cid,
        crossTab: false,
        refresh: { maxRetries: 0 },
        tokenEndpoint: via307('token-endpoint'),
        clientId: 'web',
        contextProvider: async () => ({ Auth: { access_token: secret.token, token_type: 'Bearer', expires_in: 2, refresh_token: secret.refresh } }),
      });
      const grantEvents = T.record(grant, { store: false });
      await T.waitState(grant, 'authenticated');
      await T.waitFor(() => grantEvents.some((e) => e.name === 'refresh-failed' || e.name === 'auth-lost'), {
        timeout: 8000,
        what: 'the refresh grant to fail',
      });
      grant.destroy();
      // An opaque token without expiry, judged by an introspection endpoint that answers 307.
      const intro = new ChatAuth({
        apiOrigins: [origin],
        crossTab: false,
        refresh: { maxRetries: 0 },
        introspectionEndpoint: via307('introspection'),
        contextProvider: async () => ({ Auth: { Token: opaque } }),
      });
      const introResult = await T.attempt(() => T.within(intro.setCustomer(cid), 10_000, 'setCustomer'));
      intro.destroy();
      return { grantEvents, introResult };
    },
    { origin: s.originA, cid, secret, opaque, originB: s.originB },
  );
  const secrets = [secret.token, secret.refresh, opaque];
  const c = new Checks();
  c.check('the refresh grant failed', () =>
    assert.ok(
      r.grantEvents.some((e) => e.name === 'refresh-failed' && e.detail.code === 'network'),
      JSON.stringify(r.grantEvents.map((e) => [e.name, e.detail.code])),
    ),
  );
  c.check('introspection failed with network', () => assertChatAuthError(r.introResult, 'network', { secrets }));
  c.check('positive control: the endpoints on origin A got the secrets in POST bodies', () => {
    const hops = s.server.entries({ server: 'A', path: '/api/redirect', method: 'POST' });
    assert.ok(
      hops.some((e) => e.body.includes(secret.refresh)),
      'refresh token posted to the token endpoint',
    );
    assert.ok(
      hops.some((e) => e.body.includes(opaque)),
      'access token posted to the introspection endpoint',
    );
  });
  c.check('nothing was re-posted to origin B', () =>
    assert.deepEqual(
      s.server.entries({ server: 'B' }).map((e) => `${e.method} ${e.url}`),
      [],
    ),
  );
  c.check('no secret at origins B/C or in a URL', () => assert.deepEqual(searchServer(s.server, secrets), []));
  c.done();
});

e2e.test('leak 5: a relative URL is judged where fetch sends it, against the document base URL: a <base href> on another origin gets no token', async (s) => {
  const cid = customerId();
  const secret = canaries();
  const r = await s.eval(
    async ({ origin, cid, secret, originB }) => {
      const { ChatAuth } = window.sdk;
      const auth = new ChatAuth({
        apiOrigins: [origin],
        customerId: cid,
        crossTab: false,
        contextProvider: async () => ({
          Auth: { Token: secret.token, ExpiresAt: Math.floor(Date.now() / 1000) + 600, Headers: { 'X-Chat-Key': secret.header } },
        }),
      });
      await T.waitState(auth, 'authenticated');
      const go = (input, init) => T.attempt(async () => T.read(await T.within(auth.fetch(input, init), 10_000, `auth.fetch(${input})`)));
      const base = document.createElement('base');
      base.href = `${originB}/app/`;
      document.head.append(base);
      try {
        const out = {
          baseURI: document.baseURI,
          path: await go('/api/echo?case=base-path'),
          post: await go('/api/echo?case=base-post', { method: 'POST', body: 'hello' }),
          headers: await T.attempt(() => T.within(auth.authHeaders('/api/echo'), 5000, 'authHeaders(/api/echo)')),
        };
        // Positive control: a base on the allowed origin still gets the token.
        base.href = `${origin}/app/`;
        out.allowed = await go('/api/echo?case=base-allowed');
        out.allowedHeaders = await T.attempt(() => T.within(auth.authHeaders('/api/echo'), 5000, 'authHeaders(/api/echo), allowed base'));
        return { out, anonymousId: auth.anonymousId };
      } finally {
        base.remove();
        auth.destroy();
      }
    },
    { origin: s.originA, cid, secret, originB: s.originB },
  );
  const secrets = [secret.token, secret.header, r.anonymousId];
  const c = new Checks();
  c.check('the base URL names origin B', () => assert.equal(new URL(r.out.baseURI).origin, s.originB));
  for (const k of ['path', 'post']) {
    c.check(`${k}: sent to origin B, as fetch resolves it, without the SDK's headers`, () => {
      assert.equal(r.out[k].threw, false, JSON.stringify(r.out[k]));
      assert.equal(r.out[k].value.json.authorization, null);
      assert.equal(r.out[k].value.json.anonymousId, null);
      assert.ok(s.server.entries({ server: 'B', path: '/api/echo' }).some((e) => e.url.includes(`case=base-${k}`)));
    });
  }
  c.check('authHeaders(relative URL) against the base on origin B: {}', () => assert.deepEqual(r.out.headers, { threw: false, value: {} }));
  c.check('positive control: a base on the allowed origin gets the token', () => {
    assert.equal(r.out.allowed.threw, false, JSON.stringify(r.out.allowed));
    assert.equal(r.out.allowed.value.json.authorization, `Bearer ${secret.token}`);
    assert.equal(r.out.allowedHeaders.value.Authorization ?? r.out.allowedHeaders.value.authorization, `Bearer ${secret.token}`);
  });
  c.check('origin B never saw a secret or the anonymous id', () => assert.deepEqual(searchServer(s.server, secrets), []));
  c.done();
});

e2e.test(
  'leak 6: two instances of a page with other apiOrigins never share a token (no channel, lock or stored entry in common)',
  async (s) => {
    const cid = customerId();
    const chatToken = `canaryCHAT_${randomBytes(18).toString('base64url')}`;
    const msgToken = `canaryMSG_${randomBytes(18).toString('base64url')}`;
    const r = await s.eval(
      async ({ origin, originB, cid, chatToken, msgToken }) => {
        const { ChatAuth } = window.sdk;
        const calls = [];
        const provider = (name, token) => async () => {
          calls.push(name);
          return { Auth: { Token: token, ExpiresAt: Math.floor(Date.now() / 1000) + 600 } };
        };
        // A chat widget and a messenger: provider-only, each for its own API.
        const chat = new ChatAuth({ apiOrigins: [origin], storage: 'session' });
        const messenger = new ChatAuth({ apiOrigins: [originB], storage: 'session' });
        try {
          await T.within(chat.setCustomer(cid, provider('chat', chatToken)), 10_000, 'chat.setCustomer');
          await T.within(messenger.setCustomer(cid, provider('messenger', msgToken)), 10_000, 'messenger.setCustomer');
          const out = { chat: await chat.getToken(), messenger: await messenger.getToken() };
          out.sentB = await T.attempt(async () => T.read(await T.within(messenger.fetch(`${originB}/api/echo?case=messenger`), 10_000, 'messenger.fetch')));
          out.sentA = await T.attempt(async () => T.read(await T.within(chat.fetch(`${origin}/api/echo?case=chat`), 10_000, 'chat.fetch')));
          out.calls = calls;
          out.stored = Object.keys(sessionStorage).filter((k) => k.startsWith('chat-auth:token'));
          return out;
        } finally {
          chat.destroy();
          messenger.destroy();
          sessionStorage.clear();
        }
      },
      { origin: s.originA, originB: s.originB, cid, chatToken, msgToken },
    );
    const c = new Checks();
    c.check('each instance holds its own token', () => assert.deepEqual([r.chat, r.messenger], [chatToken, msgToken]));
    c.check('each provider was called', () => assert.deepEqual([...r.calls].sort(), ['chat', 'messenger']));
    c.check("origin B got the messenger's token only", () => assert.equal(r.sentB.value.json.authorization, `Bearer ${msgToken}`));
    c.check("origin A got the chat's token only", () => assert.equal(r.sentA.value.json.authorization, `Bearer ${chatToken}`));
    c.check('two stored entries', () => assert.equal(r.stored.length, 2, JSON.stringify(r.stored)));
    c.check("the chat's token never reached origin B", () =>
      assert.deepEqual(
        searchServer(s.server, [chatToken]).filter((h) => h.includes('origin B')),
        [],
      ),
    );
    c.check("the messenger's token never reached origin A", () =>
      assert.deepEqual(
        s.server
          .entries({ server: 'A' })
          .filter((e) => entryText(e).includes(msgToken))
          .map((e) => e.url),
        [],
      ),
    );
    // The suite's invariants, but origin B is the messenger's own API here.
    c.check('no expired token sent, no secret in a URL', () => {
      assertNoExpiredTokenSent(s.server);
      assertNoSecretInUrls(s.server);
    });
    c.done();
  },
  { invariants: false },
);

e2e.test('leak 7: a request that waits for the token goes where it was judged to go, even if a <base> or its URL object changes meanwhile', async (s) => {
  const cid = customerId();
  const secret = canaries();
  const r = await s.eval(
    async ({ origin, originB, cid, secret }) => {
      const { ChatAuth } = window.sdk;
      let release;
      const answered = new Promise((resolve) => (release = resolve));
      const auth = new ChatAuth({ apiOrigins: [origin], crossTab: false });
      const base = document.createElement('base');
      try {
        const login = auth.setCustomer(cid, async () => {
          await answered;
          return { Auth: { Token: secret.token, ExpiresAt: Math.floor(Date.now() / 1000) + 600 } };
        });
        // Both wait for the provider's answer, judged for origin A.
        const relative = auth.fetch('/api/echo?case=wait-relative');
        const url = new URL(`${origin}/api/echo?case=wait-url`);
        const object = auth.fetch(url);
        // Meanwhile an injected <base> names origin B, and the caller's URL object changes.
        base.href = `${originB}/app/`;
        document.head.append(base);
        url.href = `${originB}/api/echo?case=wait-url-moved`;
        release();
        await T.within(login, 10_000, 'setCustomer');
        const read = async (p) => T.attempt(async () => T.read(await T.within(p, 10_000, 'auth.fetch')));
        return { relative: await read(relative), object: await read(object) };
      } finally {
        base.remove();
        auth.destroy();
      }
    },
    { origin: s.originA, originB: s.originB, cid, secret },
  );
  const c = new Checks();
  for (const [k, tag] of [
    ['relative', 'wait-relative'],
    ['object', 'wait-url'],
  ]) {
    c.check(`${k}: sent to origin A, where it was judged, with the token`, () => {
      assert.equal(r[k].threw, false, JSON.stringify(r[k]));
      assert.equal(r[k].value.json.authorization, `Bearer ${secret.token}`);
      assert.ok(s.server.entries({ server: 'A', path: '/api/echo' }).some((e) => e.url.includes(`case=${tag}`)));
    });
  }
  c.check('origin B saw no request and no secret', () => {
    assert.deepEqual(
      s.server.entries({ server: 'B' }).map((e) => e.url),
      [],
    );
    assert.deepEqual(searchServer(s.server, [secret.token]), []);
  });
  c.done();
});

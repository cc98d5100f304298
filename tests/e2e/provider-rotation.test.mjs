// chat-auth e2e (issue 14): what a real identity provider needs of the refresh grant.
//  - a rotated refresh token is never lost: an answer whose access token is refused, or whose
//    new signing key's JWKS fetch fails once, still hands in its refresh token, and no spent
//    refresh token ever goes back to a provider that revokes the login on reuse (RFC 9700 §4.14);
//  - `scope` (RFC 6749 §3.3) and `resource` (RFC 8707) go with every refresh grant;
//  - discovery from `issuer` (OpenID Connect Discovery 1.0 / RFC 8414): metadata fetched once per
//    page, explicit endpoints win, another issuer inside → issuer_mismatch, unreachable → network.
// Backend: ./support/chat-server.mjs (its knobs: rotateKey, jwksFailures, grantFaults,
// reuseRevokesFamily, oauthIssuer, metadataMode).
import assert from 'node:assert/strict';
import { assertChatAuthError, customerId, suite } from './support/e2e.mjs';

const e2e = suite();

/**
 * In the page: log `cid` in with an OAuth token response from the provider (5 s tokens, a refresh
 * token), let chat-auth refresh by the grant for `ms` while requests flow, and report.
 */
async function runGrantSession(s, { cid, options = {}, ms = 9_000 }) {
  return s.eval(
    async ({ origin, cid, options, ms }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      const provider = async () => {
        window.providerCalls++;
        const r = await fetch(`/control/mint-oauth?sub=${encodeURIComponent(cid)}&ttl=5`);
        return { Auth: await r.json() };
      };
      const auth = new ChatAuth({
        apiOrigins: [origin],
        customerId: cid,
        contextProvider: provider,
        tokenEndpoint: `${origin}/oauth/token`,
        clientId: 'chat-web',
        refresh: { marginSeconds: 1 },
        ...options,
      });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      await fetch('/control/counts'); // a marker in the log: the login is done
      window.loggedIn = true;
      const results = [];
      const start = Date.now();
      while (Date.now() - start < ms) {
        try {
          const res = await T.within(auth.fetch('/api/echo'), 8000, 'auth.fetch');
          results.push({ status: res.status });
        } catch (e) {
          results.push({ error: T.err(e) });
        }
        await T.sleep(200);
      }
      const state = auth.state;
      auth.destroy();
      return { providerCalls: window.providerCalls, events, results, state };
    },
    { origin: s.originA, cid, options, ms },
    { timeout: ms + 20_000 },
  );
}

/** The grants the server saw: none presented a spent refresh token, each the previous one's. */
function assertRotationKept(s, label) {
  const calls = s.server.oauthCalls;
  const reused = calls.filter((c) => c.reused);
  assert.equal(
    reused.length,
    0,
    `${label}: a spent refresh token was presented ${reused.length}× (the provider revokes the login): ${JSON.stringify(calls.map((c) => ({ fault: c.fault, reused: c.reused, error: c.error })))}`,
  );
  // Per login (refresh-token family): each grant presents what the one before issued.
  const last = new Map();
  for (const [i, c] of calls.entries()) {
    if (last.has(c.family))
      assert.equal(c.refreshToken, last.get(c.family), `${label}: grant ${i} must present the refresh token the login's previous grant issued`);
    last.set(c.family, c.issuedRefreshToken);
  }
}

e2e.test('rotation: an answer whose access token is refused still hands in its rotated refresh token (no reuse, no second login)', async (s) => {
  s.server.reuseRevokesFamily = true;
  s.server.grantFaults = ['wrong-sub'];
  const r = await runGrantSession(s, { cid: customerId() });
  assertRotationKept(s, 'refused access token');
  const calls = s.server.oauthCalls;
  assert.ok(calls.length >= 2, `grants: ${calls.length}`);
  assert.equal(calls[0].fault, 'wrong-sub', 'the first grant answered with a token for someone else');
  const failed = r.events.filter((e) => e.name === 'refresh-failed');
  assert.equal(failed[0]?.detail.code, 'claim_mismatch', `the refused answer: ${JSON.stringify(failed)}`);
  assert.equal(r.providerCalls, 1, 'the login was not lost: the provider (a new login) was never called again');
  assert.ok(!r.events.some((e) => e.name === 'auth-lost'), 'no auth-lost');
  assert.equal(r.state, 'authenticated');
  assert.ok(
    r.results.every((x) => x.status === 200),
    `requests: ${JSON.stringify(r.results.filter((x) => x.status !== 200).slice(0, 3))}`,
  );
});

e2e.test('rotation: a key rotation whose JWKS fetch fails once retries the fetch, not the grant', async (s) => {
  s.server.reuseRevokesFamily = true;
  const cid = customerId();
  const run = runGrantSession(s, { cid, options: { validation: { jwksUrl: `${s.originA}/jwks.json`, algorithms: ['RS256'] } } });
  // Once logged in (old key cached), the provider rotates its signing key and the next JWKS
  // fetch (for the new kid) gets a 503.
  await s.page.waitForFunction(() => window.loggedIn === true, null, { timeout: 15_000 });
  const grantsBefore = s.server.oauthCalls.length;
  s.server.rotateKey();
  s.server.jwksFailures = 1;
  const r = await run;
  assertRotationKept(s, 'JWKS 503 once');
  assert.equal(s.server.jwksFailures, 0, 'the failing JWKS fetch happened');
  assert.ok(s.server.entries({ path: '/jwks.json' }).length >= 3, 'JWKS: at login, the 503, its retry');
  assert.ok(s.server.oauthCalls.length - grantsBefore >= 1, 'a grant after the rotation');
  const failed = r.events.filter((e) => e.name === 'refresh-failed');
  assert.equal(failed.length, 0, `the JWKS fetch was retried inside the judgement, no grant failed: ${JSON.stringify(failed)}`);
  assert.equal(r.providerCalls, 1);
  assert.equal(r.state, 'authenticated');
  assert.ok(r.results.every((x) => x.status === 200));
});

e2e.test('rotation: tabs share the rotated refresh token the moment it arrives (BroadcastChannel)', async (s) => {
  s.server.reuseRevokesFamily = true;
  s.server.grantFaults = ['wrong-sub'];
  const cid = customerId();
  const tab2 = await s.openTab();
  const options = (origin) => ({ apiOrigins: [origin], tokenEndpoint: `${origin}/oauth/token`, refresh: { marginSeconds: 1, maxRetries: 0 } });
  // Tab 2 logs in; tab 1 takes its token (and refresh token) from it, refreshes once by the grant,
  // gets an answer whose access token it refuses, and goes away. 60 s tokens: no scheduled refresh.
  await tab2.eval(
    async ({ cid, opts }) => {
      const provider = async () => ({ Auth: await (await fetch(`/control/mint-oauth?sub=${encodeURIComponent(cid)}&ttl=60`)).json() });
      window.auth2 = new window.sdk.ChatAuth({ ...opts, customerId: cid, contextProvider: provider });
      window.events2 = T.record(window.auth2, { store: false });
      await T.waitState(window.auth2, 'authenticated');
    },
    { cid, opts: options(s.originA) },
  );
  const r = await s.eval(
    async ({ cid, opts }) => {
      const provider = async () => ({ Auth: await (await fetch(`/control/mint-oauth?sub=${encodeURIComponent(cid)}&ttl=60`)).json() });
      const auth = new window.sdk.ChatAuth({ ...opts, customerId: cid, contextProvider: provider, crossTab: true });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      await T.attempt(() => auth.getToken({ forceRefresh: true }));
      auth.destroy();
      return { events };
    },
    { cid, opts: options(s.originA) },
  );
  assert.ok(
    r.events.some((e) => e.name === 'refresh-failed' && e.detail.code === 'claim_mismatch'),
    `tab 1's answer was refused: ${JSON.stringify(r.events)}`,
  );
  const spoiled = s.server.oauthCalls.find((c) => c.fault === 'wrong-sub');
  assert.ok(spoiled, 'the spoiled grant happened');
  // Tab 2 refreshes next: it must present the refresh token tab 1's refused answer brought.
  const t2 = await tab2.eval(async () => {
    const token = await T.attempt(() => window.auth2.getToken({ forceRefresh: true }));
    return { token, state: window.auth2.state };
  });
  assert.equal(t2.token.threw, false, `tab 2 refreshed: ${JSON.stringify(t2)}`);
  const after = s.server.oauthCalls.slice(s.server.oauthCalls.indexOf(spoiled) + 1);
  assert.ok(after.length >= 1, 'tab 2 made a grant');
  assert.equal(after[0].refreshToken, spoiled.issuedRefreshToken, 'tab 2 presented the refresh token rotated in by tab 1’s refused answer');
  assert.ok(!s.server.oauthCalls.some((c) => c.reused), 'no spent refresh token presented');
  assert.equal(t2.state, 'authenticated');
});

e2e.test('grant parameters: scope and every resource go with each refresh grant; bad values are invalid_config', async (s) => {
  const r = await runGrantSession(s, {
    cid: customerId(),
    ms: 6_000,
    options: { scope: ['openid', 'chat:write'], resource: ['https://chat.example.com/api', 'urn:example:chat'] },
  });
  const calls = s.server.oauthCalls;
  assert.ok(calls.length >= 1, `grants: ${calls.length}`);
  for (const [i, c] of calls.entries()) {
    assert.equal(c.scope, 'openid chat:write', `grant ${i}: scope`);
    assert.deepEqual(c.resources, ['https://chat.example.com/api', 'urn:example:chat'], `grant ${i}: resource`);
    assert.equal(c.clientId, 'chat-web', `grant ${i}: client_id`);
  }
  assert.equal(r.state, 'authenticated');
  const before = s.server.oauthCalls.length;
  const one = await runGrantSession(s, { cid: customerId(), ms: 5_000, options: { scope: 'chat', resource: 'https://chat.example.com' } });
  assert.equal(one.state, 'authenticated');
  const second = s.server.oauthCalls.slice(before);
  assert.ok(second.length >= 1, 'the second login refreshed');
  assert.ok(
    second.every((c) => c.scope === 'chat' && c.resources.length === 1 && c.resources[0] === 'https://chat.example.com'),
    JSON.stringify(second.map((c) => [c.scope, c.resources])),
  );
  const bad = await s.eval(
    ({ origin }) => {
      const make = (extra) => T.attemptSync(() => new window.sdk.ChatAuth({ apiOrigins: [origin], ...extra }));
      return {
        scope: make({ scope: 'a  b' }),
        scopeType: make({ scope: 5 }),
        resource: make({ resource: '/relative' }),
        fragment: make({ resource: ['https://a.example#x'] }),
        empty: make({ resource: [] }),
        issuer: make({ issuer: 'id.example.com' }),
      };
    },
    { origin: s.originA },
  );
  for (const [key, result] of Object.entries(bad)) {
    assertChatAuthError(result, 'invalid_config', {
      messageIncludes: key === 'scopeType' ? 'scope' : key === 'fragment' || key === 'empty' ? 'resource' : key,
    });
  }
});

/** In the page: a ChatAuth configured by `issuer` only; the provider's tokens carry that `iss`. */
async function discoverySession(s, { cid, extra = {}, instances = 1, ms = 6_500 }) {
  return s.eval(
    async ({ origin, cid, extra, instances, ms }) => {
      const { ChatAuth } = window.sdk;
      const provider = async () => ({ Auth: await (await fetch(`/control/mint-oauth?sub=${encodeURIComponent(cid)}&ttl=5`)).json() });
      const all = [];
      for (let i = 0; i < instances; i++) {
        const auth = new ChatAuth({
          apiOrigins: [origin],
          issuer: origin,
          clientId: 'chat-web',
          refresh: { marginSeconds: 1, maxRetries: 1 },
          crossTab: false,
          ...extra,
        });
        const events = T.record(auth, { store: false });
        const login = await T.attempt(() => T.within(auth.setCustomer(cid, provider), 15_000, 'setCustomer'));
        all.push({ auth, events, login });
      }
      await T.sleep(ms);
      const out = all.map(({ auth, events, login }) => ({ events, login, state: auth.state }));
      for (const { auth } of all) auth.destroy();
      return out;
    },
    { origin: s.originA, cid, extra, instances, ms },
    { timeout: ms + 40_000 },
  );
}

e2e.test('discovery: issuer alone finds jwks_uri and token_endpoint; metadata fetched once per page; explicit tokenEndpoint wins', async (s) => {
  s.server.oauthIssuer = s.originA;
  const [a, b] = await discoverySession(s, { cid: customerId(), instances: 2 });
  for (const x of [a, b]) {
    assert.equal(x.login.threw, false, `setCustomer: ${JSON.stringify(x.login)}`);
    assert.equal(x.state, 'authenticated');
    assert.ok(
      x.events.some((e) => e.name === 'refreshed' && e.detail.source === 'token_endpoint'),
      `refreshed by the discovered token endpoint: ${JSON.stringify(x.events)}`,
    );
  }
  const metadata = s.server.entries({ path: '/.well-known/openid-configuration' });
  assert.equal(metadata.length, 1, 'metadata fetched once for the page, for both instances');
  assert.ok(s.server.entries({ path: '/jwks.json' }).length >= 1, 'signatures checked with the discovered jwks_uri');
  assert.ok(s.server.oauthCalls.length >= 2 && s.server.oauthCalls.every((c) => c.url === '/oauth/token'));
  assertRotationKept(s, 'discovered endpoint');

  // A new page (a new cache): the OpenID location answers 404, so RFC 8414's is used.
  s.server.reset();
  s.server.oauthIssuer = s.originA;
  s.server.metadataMode = 'oauth-only';
  await s.load();
  const [explicit] = await discoverySession(s, { cid: customerId(), extra: { tokenEndpoint: `${s.originA}/oauth/token?explicit=1` }, ms: 5_000 });
  assert.equal(explicit.state, 'authenticated');
  assert.ok(
    s.server.oauthCalls.length >= 1 && s.server.oauthCalls.every((c) => c.url === '/oauth/token?explicit=1'),
    `explicit tokenEndpoint used: ${JSON.stringify(s.server.oauthCalls.map((c) => c.url))}`,
  );
  assert.equal(s.server.entries({ path: '/.well-known/oauth-authorization-server' }).length, 1, 'RFC 8414 metadata when the OpenID location is 404');
});

/** A login whose discovery fails (`metadataMode`): setCustomer rejects with `code`, auth-lost once. */
async function failedDiscovery(s, mode, code, ms) {
  s.server.oauthIssuer = s.originA;
  s.server.metadataMode = mode;
  const [x] = await discoverySession(s, { cid: customerId(), ms });
  assertChatAuthError(x.login, code);
  assert.equal(x.state, 'expired');
  assert.deepEqual(
    x.events.filter((e) => e.name === 'auth-lost').map((e) => e.detail.code),
    [code],
  );
}

e2e.test('discovery: metadata naming another issuer is refused with issuer_mismatch, its keys never fetched', async (s) => {
  await failedDiscovery(s, 'mismatch', 'issuer_mismatch', 500);
  assert.equal(s.server.entries({ path: '/jwks.json' }).length, 0, 'no key fetched from the impostor metadata');
  assert.equal(s.server.oauthCalls.length, 0);
});

e2e.test('discovery: unreachable metadata is network after bounded retries, then auth-lost without a loop', async (s) => {
  await failedDiscovery(s, 'down', 'network', 3_000);
  // maxRetries 1 → 2 provider answers judged, each: 4 tries at the OpenID path + 4 at RFC 8414's;
  // counted 3 s after auth-lost, so nothing loops.
  const fetched = s.server.entries({ path: /^\/\.well-known\// }).length;
  assert.equal(fetched, 16, `metadata requests: ${fetched}`);
});

e2e.test('destroy() during the metadata retries: the pending retry is cancelled, no request after destroy', async (s) => {
  s.server.oauthIssuer = s.originA;
  s.server.metadataMode = 'down';
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      const pageFetch = window.fetch;
      let metadata = 0;
      let answered = 0;
      window.fetch = (input, init) => {
        const wellKnown = String(input instanceof Request ? input.url : input).includes('/.well-known/');
        if (wellKnown) metadata += 1;
        const p = pageFetch(input, init);
        if (wellKnown) p.finally(() => (answered += 1));
        return p;
      };
      try {
        const provider = async () => ({ Auth: await (await pageFetch(`/control/mint-oauth?sub=${encodeURIComponent(cid)}&ttl=5`)).json() });
        const auth = new ChatAuth({ apiOrigins: [origin], issuer: origin, clientId: 'chat-web', crossTab: false });
        const login = auth.setCustomer(cid, provider).then(
          () => 'resolved',
          (e) => e.code,
        );
        await T.waitFor(() => answered >= 1, { timeout: 5000, what: 'the first metadata answer' });
        // The 503 is fed back and the first retry (250 ms) armed.
        await T.sleep(50);
        auth.destroy();
        const atDestroy = metadata;
        await T.sleep(2000);
        return { atDestroy, after: metadata, login: await login };
      } finally {
        window.fetch = pageFetch;
      }
    },
    { origin: s.originA, cid: customerId() },
    { timeout: 30_000 },
  );
  assert.equal(r.login, 'destroyed');
  assert.equal(r.after, r.atDestroy, `metadata requests after destroy: ${JSON.stringify(r)}`);
});

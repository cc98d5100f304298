// chat-auth e2e: refresh — scheduled refresh under load, single flight, backoff, provider timeout,
// OAuth refresh_token grant with rotation, RFC 7662 introspection.
// Contract: API.md (the public contract, outside this repo). Backend: ./support/chat-server.mjs.
import assert from 'node:assert/strict';
import { assertChatAuthError, customerId, suite } from './support/e2e.mjs';

const e2e = suite();

e2e.test('5. refresh before expiry while requests flow: 5 s tokens, ≥ 2 refreshes, no expired token ever sent, no failed request', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      const provider = T.mintingProvider(cid, { ttl: 5, timed: true });
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider, refresh: { marginSeconds: 1 } });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      const results = [];
      const start = Date.now();
      for (let i = 0; i < 600 && Date.now() - start < 12_000; i++) {
        try {
          const res = await T.within(auth.fetch(`/api/echo?i=${i}`), 5000, `auth.fetch #${i}`);
          const body = await res.json();
          results.push({ i, status: res.status, authorization: body.authorization, expiredAtReceipt: body.expiredAtReceipt });
        } catch (e) {
          results.push({ i, error: T.err(e) });
        }
        await T.sleep(40);
      }
      return { results, events, providerCalls: window.providerCalls, providerLog: window.providerLog, state: auth.state };
    },
    { origin: s.originA, cid },
    { timeout: 25_000 },
  );
  const failures = r.results.filter((x) => x.error || x.status !== 200 || !x.authorization?.startsWith('Bearer ') || x.expiredAtReceipt !== false);
  assert.equal(
    failures.length,
    0,
    `${failures.length}/${r.results.length} requests failed or went without a valid token: ${JSON.stringify(failures.slice(0, 5))}`,
  );
  assert.ok(r.results.length >= 50, `only ${r.results.length} requests in 12 s`);
  const refreshed = r.events.filter((e) => e.name === 'refreshed');
  assert.ok(refreshed.length >= 2, `≥ 2 'refreshed' events in ~12 s with 5 s tokens, got ${refreshed.length}: ${JSON.stringify(r.events)}`);
  assert.ok(
    refreshed.every((e) => e.detail.source === 'provider'),
    `refreshed.source: ${JSON.stringify(refreshed)}`,
  );
  assert.ok(r.providerCalls >= 3, `provider calls: ${r.providerCalls}`);
  assert.deepEqual(
    r.providerLog.slice(1).map((c) => [c.reason, c.needsRefresh]),
    r.providerLog.slice(1).map(() => ['scheduled', true]),
    'scheduled refreshes: reason scheduled, needsRefresh true',
  );
  assert.ok(!r.events.some((e) => e.name === 'auth-lost' || e.name === 'refresh-failed'), 'no failure events');
  assert.ok(!r.events.some((e) => e.name === 'state' && e.detail.state === 'expired'), 'never expired');
  assert.equal(r.state, 'authenticated');
  // The server's view: every echo carried a token it minted for this customer, unexpired on receipt.
  const echoes = s.server.entries({ path: '/api/echo' });
  assert.equal(echoes.length, r.results.length);
  const bad = echoes.filter((e) => !e.tokenKnown || e.expiredAtReceipt || e.tokenSub !== cid);
  assert.equal(
    bad.length,
    0,
    `server saw bad tokens: ${JSON.stringify(bad.slice(0, 3).map((e) => ({ seq: e.seq, at: e.at, exp: e.tokenExp, known: e.tokenKnown })))}`,
  );
  assert.ok(new Set(echoes.map((e) => e.token)).size >= 3, 'requests used ≥ 3 successive tokens');
});

e2e.test('6. single flight: 50 concurrent auth.fetch during a forced refresh → one provider call, all succeed with the new token', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.providerLog = [];
      window.minted = [];
      window.slow = false;
      const provider = async (callback, needsRefresh, info) => {
        window.providerCalls++;
        window.providerLog.push({ needsRefresh, reason: info?.reason });
        if (window.slow) await T.sleep(500);
        const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json();
        window.minted.push(m.token);
        return { Auth: { Token: m.token } };
      };
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      const oldToken = await auth.getToken();
      window.slow = true;
      const callsBefore = window.providerCalls;
      const forced = T.attempt(() => T.within(auth.getToken({ forceRefresh: true }), 8000, 'getToken({forceRefresh:true})'));
      const stateDuring = auth.state;
      const fetches = Array.from({ length: 50 }, (_, i) =>
        T.attempt(async () => {
          const res = await T.within(auth.fetch(`/api/echo?n=${i}`), 8000, `auth.fetch #${i}`);
          return { status: res.status, authorization: (await res.json()).authorization };
        }),
      );
      const also = T.attempt(() => T.within(auth.getToken(), 8000, 'getToken()'));
      // More forced refreshes while one is in flight join it ("however many getToken calls arrive").
      const moreForced = Array.from({ length: 5 }, () =>
        T.attempt(() => T.within(auth.getToken({ forceRefresh: true }), 8000, 'getToken({forceRefresh:true}) #2..6')),
      );
      const results = await Promise.all(fetches);
      const forcedResult = await forced;
      const alsoResult = await also;
      const moreForcedResults = await Promise.all(moreForced);
      return {
        oldToken,
        newToken: window.minted.at(-1),
        forcedCalls: window.providerCalls - callsBefore,
        forcedLog: window.providerLog.slice(callsBefore),
        stateDuring,
        results,
        forcedResult,
        alsoResult,
        moreForcedResults,
        events,
      };
    },
    { origin: s.originA, cid },
  );
  assert.equal(r.forcedCalls, 1, `provider calls for the forced refresh + 50 fetches: ${r.forcedCalls}`);
  assert.deepEqual(r.forcedLog[0], { needsRefresh: true, reason: 'forced' }, 'forced refresh: reason forced, needsRefresh true');
  assert.notEqual(r.newToken, r.oldToken);
  assert.deepEqual(r.forcedResult, { threw: false, value: r.newToken }, 'getToken({forceRefresh:true}) resolves to the new token');
  assert.deepEqual(r.alsoResult, { threw: false, value: r.newToken }, 'getToken() during the refresh awaits it and resolves to the new token');
  assert.ok(
    r.moreForcedResults.every((x) => !x.threw && x.value === r.newToken),
    `getToken({forceRefresh:true}) calls made during the refresh join it: ${JSON.stringify(r.moreForcedResults.map((x) => (x.threw ? x.code : x.value === r.newToken ? 'new' : 'other')))}`,
  );
  const bad = r.results.filter((x) => x.threw || x.value.status !== 200 || x.value.authorization !== `Bearer ${r.newToken}`);
  assert.equal(
    bad.length,
    0,
    `${bad.length}/50 fetches failed or did not carry the new token: ${JSON.stringify(bad.slice(0, 3).map((x) => (x.threw ? x : { status: x.value.status, sameAsOld: x.value.authorization === `Bearer ${r.oldToken}` })))}`,
  );
  const stateEvents = r.events.filter((e) => e.name === 'state').map((e) => e.detail.state);
  assert.ok(
    r.stateDuring === 'refreshing' || stateEvents.includes('refreshing'),
    `state 'refreshing' during the forced refresh (was ${r.stateDuring}; states: ${stateEvents})`,
  );
  const refreshed = r.events.filter((e) => e.name === 'refreshed');
  assert.equal(refreshed.length, 1, `one 'refreshed' event: ${JSON.stringify(refreshed)}`);
  // Server view: the 50 requests all carried the new token.
  const echoes = s.server.entries({ path: '/api/echo' });
  assert.equal(echoes.length, 50);
  assert.ok(
    echoes.every((e) => e.authorization === `Bearer ${r.newToken}`),
    'a request went out with the old token during the refresh',
  );
});

e2e.test('6b. single flight after 401s: 20 concurrent requests refused with the same token → one provider call, all replayed and succeed', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.providerLog = [];
      window.minted = [];
      const provider = async (callback, needsRefresh, info) => {
        window.providerCalls++;
        window.providerLog.push({ needsRefresh, reason: info?.reason });
        if (window.providerCalls > 1) await T.sleep(300);
        const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json();
        window.minted.push(m.token);
        return { Auth: { Token: m.token } };
      };
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      const oldToken = await auth.getToken();
      await T.revoke(oldToken);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          T.attempt(async () => {
            const res = await T.within(auth.fetch(`/api/protected?n=${i}`), 10_000, `auth.fetch #${i}`);
            return { status: res.status };
          }),
        ),
      );
      return { oldToken, newToken: window.minted.at(-1), results, providerCalls: window.providerCalls, providerLog: window.providerLog, events };
    },
    { origin: s.originA, cid },
  );
  assert.equal(r.providerCalls, 2, `initial + ONE refresh for 20 concurrent 401s; provider log: ${JSON.stringify(r.providerLog)}`);
  assert.deepEqual(r.providerLog[1], { needsRefresh: true, reason: 'after_401' });
  const bad = r.results.filter((x) => x.threw || x.value.status !== 200);
  assert.equal(bad.length, 0, `${bad.length}/20 requests did not end in 200: ${JSON.stringify(bad.slice(0, 3))}`);
  const prot = s.server.entries({ path: '/api/protected' });
  assert.equal(prot.length, 40, `20 requests + 20 replays, got ${prot.length}`);
  assert.equal(prot.filter((e) => e.authorization === `Bearer ${r.oldToken}`).length, 20, 'each request sent once with the refused token');
  assert.equal(prot.filter((e) => e.authorization === `Bearer ${r.newToken}`).length, 20, 'each replayed once with the new token');
});

e2e.test('10. provider failures → backoff 1 s, 2 s → auth-lost provider_failed + userLoginHandler, state expired', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.providerLog = [];
      window.loginCalls = [];
      const provider = async (callback, needsRefresh, info) => {
        window.providerCalls++;
        window.providerLog.push({ needsRefresh, reason: info?.reason, at: Date.now() });
        throw new Error('identity service unavailable');
      };
      const auth = new ChatAuth({
        apiOrigins: [origin],
        customerId: cid,
        contextProvider: provider,
        userLoginHandler: (detail) => window.loginCalls.push({ detail: T.plain(detail), at: Date.now() }),
        refresh: { maxRetries: 2 },
      });
      const events = T.record(auth);
      await T.waitFor(() => events.some((e) => e.name === 'auth-lost'), { timeout: 10_000, what: "'auth-lost'" });
      const lostAt = Date.now();
      await T.sleep(1500); // nothing more may happen
      return { events, providerCalls: window.providerCalls, providerLog: window.providerLog, loginCalls: window.loginCalls, state: auth.state, lostAt };
    },
    { origin: s.originA, cid },
  );
  assert.equal(r.providerCalls, 3, 'maxRetries: 2 → exactly 3 provider calls');
  assert.deepEqual(
    r.providerLog.map((c) => [c.reason, c.needsRefresh]),
    [
      ['initial', false],
      ['retry', true],
      ['retry', true],
    ],
    'provider call reasons / needsRefresh',
  );
  const gaps = [r.providerLog[1].at - r.providerLog[0].at, r.providerLog[2].at - r.providerLog[1].at];
  assert.ok(gaps[0] >= 900 && gaps[0] <= 2000, `first backoff ≈ 1 s, was ${gaps[0]} ms`);
  assert.ok(gaps[1] >= 1900 && gaps[1] <= 3200, `second backoff ≈ 2 s, was ${gaps[1]} ms`);
  const failed = r.events.filter((e) => e.name === 'refresh-failed').map((e) => e.detail);
  assert.equal(failed.length, 3, `three 'refresh-failed' events: ${JSON.stringify(failed)}`);
  assert.deepEqual(
    failed.map((d) => [d.code, d.attempt]),
    [
      ['provider_failed', 1],
      ['provider_failed', 2],
      ['provider_failed', 3],
    ],
  );
  assert.equal(failed[0].retryInMs, 1000, `attempt 1 retryInMs: ${JSON.stringify(failed)}`);
  assert.equal(failed[1].retryInMs, 2000, `attempt 2 retryInMs: ${JSON.stringify(failed)}`);
  assert.ok(!(failed[2].retryInMs > 0), `the last attempt schedules no retry: retryInMs=${failed[2].retryInMs}`);
  const lost = r.events.filter((e) => e.name === 'auth-lost').map((e) => e.detail);
  assert.deepEqual(lost, [{ code: 'provider_failed' }], "one 'auth-lost' { code: 'provider_failed' }");
  assert.equal(r.state, 'expired');
  assert.equal(r.loginCalls.length, 1, `userLoginHandler called once: ${JSON.stringify(r.loginCalls)}`);
  const order = r.events.map((e) => e.name).filter((n) => n === 'refresh-failed' || n === 'auth-lost');
  assert.deepEqual(order, ['refresh-failed', 'refresh-failed', 'refresh-failed', 'auth-lost']);
});

e2e.test('11. provider timeout: providerTimeoutSeconds 1, a provider that never answers → provider_timeout, info.signal aborted', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.calls = [];
      const provider = (callback, needsRefresh, info) => {
        window.providerCalls++;
        window.calls.push({ signal: info?.signal, deadline: info?.deadline, at: Date.now(), abortedAt: null });
        const entry = window.calls.at(-1);
        info?.signal?.addEventListener?.('abort', () => (entry.abortedAt = Date.now()));
        return new Promise(() => {});
      };
      const auth = new ChatAuth({
        apiOrigins: [origin],
        customerId: cid,
        contextProvider: provider,
        refresh: { providerTimeoutSeconds: 1, maxRetries: 0 },
      });
      const events = T.record(auth);
      const pending = T.attempt(() => T.within(auth.getToken(), 6000, 'getToken'));
      await T.waitFor(() => events.some((e) => e.name === 'auth-lost'), { timeout: 6000, what: "'auth-lost' after the provider timeout" });
      const pendingResult = await pending;
      return {
        events,
        providerCalls: window.providerCalls,
        calls: window.calls.map((c) => ({
          aborted: c.signal?.aborted,
          isSignal: c.signal instanceof AbortSignal,
          deadline: c.deadline,
          at: c.at,
          abortedAt: c.abortedAt,
        })),
        state: auth.state,
        pendingResult,
      };
    },
    { origin: s.originA, cid },
  );
  assert.equal(r.providerCalls, 1);
  const c = r.calls[0];
  assert.equal(c.isSignal, true, 'info.signal is an AbortSignal');
  assert.equal(c.aborted, true, 'info.signal aborted on timeout');
  assert.ok(Math.abs(c.deadline - (c.at + 1000)) <= 250, `info.deadline ${c.deadline} ≈ call time + 1 s (${c.at + 1000})`);
  assert.ok(c.abortedAt - c.at >= 900 && c.abortedAt - c.at <= 2500, `aborted ~1 s after the call (${c.abortedAt - c.at} ms)`);
  const failed = r.events.filter((e) => e.name === 'refresh-failed').map((e) => e.detail);
  assert.equal(failed[0]?.code, 'provider_timeout', `refresh-failed: ${JSON.stringify(failed)}`);
  assert.deepEqual(
    r.events.filter((e) => e.name === 'auth-lost').map((e) => e.detail),
    [{ code: 'provider_timeout' }],
  );
  assert.equal(r.state, 'expired');
  assertChatAuthError(r.pendingResult, 'provider_timeout');
});

e2e.test('15. OAuth refresh_token grant: refresh via tokenEndpoint with rotation, provider called once, source token_endpoint', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.initial = null;
      const provider = async () => {
        window.providerCalls++;
        // An RFC 6749 §5.1 token response, as-is: access_token, token_type, expires_in, refresh_token, scope.
        const tokenResponse = await (await fetch(`/control/mint-oauth?sub=${encodeURIComponent(cid)}&ttl=5`)).json();
        window.initial = tokenResponse;
        return { Auth: tokenResponse };
      };
      const auth = new ChatAuth({
        apiOrigins: [origin],
        customerId: cid,
        contextProvider: provider,
        tokenEndpoint: `${origin}/oauth/token`,
        clientId: 'chat-web',
        refresh: { marginSeconds: 1 },
      });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      const results = [];
      const start = Date.now();
      for (let i = 0; i < 100 && Date.now() - start < 11_000; i++) {
        try {
          const res = await T.within(auth.fetch('/api/echo'), 5000, 'auth.fetch');
          results.push({ status: res.status, authorization: (await res.json()).authorization });
        } catch (e) {
          results.push({ error: T.err(e) });
        }
        await T.sleep(250);
      }
      const tokenNow = await auth.getToken();
      return {
        providerCalls: window.providerCalls,
        initialRefresh: window.initial.refresh_token,
        initialAccess: window.initial.access_token,
        events,
        results,
        tokenNow,
        state: auth.state,
        storage: T.storageDump(),
      };
    },
    { origin: s.originA, cid },
    { timeout: 25_000 },
  );
  assert.equal(r.providerCalls, 1, 'with a refresh_token the SDK refreshes via tokenEndpoint, not the provider');
  const calls = s.server.oauthCalls;
  assert.ok(calls.length >= 2, `≥ 2 token-endpoint refreshes in ~11 s with 5 s tokens, got ${calls.length}`);
  assert.equal(s.server.counts.oauthRejected, 0, `the token endpoint rejected requests (reused refresh token?): ${JSON.stringify(calls.map((c) => c.error))}`);
  calls.forEach((c, i) => {
    assert.equal(c.grantType, 'refresh_token', `call ${i}: grant_type`);
    assert.equal(c.clientId, 'chat-web', `call ${i}: client_id`);
    assert.match(c.contentType ?? '', /^application\/x-www-form-urlencoded/, `call ${i}: form body`);
    const expected = i === 0 ? r.initialRefresh : calls[i - 1].issuedRefreshToken;
    assert.equal(c.refreshToken, expected, `call ${i} must use the refresh token rotated in by the previous response`);
  });
  const tokenPosts = s.server.entries({ path: '/oauth/token' });
  assert.ok(
    tokenPosts.every((e) => e.method === 'POST'),
    'token endpoint requests are POSTs',
  );
  const refreshed = r.events.filter((e) => e.name === 'refreshed');
  assert.ok(refreshed.length >= 2, `'refreshed' events: ${JSON.stringify(refreshed)}`);
  assert.ok(
    refreshed.every((e) => e.detail.source === 'token_endpoint'),
    `refreshed.source: ${JSON.stringify(refreshed.map((e) => e.detail))}`,
  );
  const issued = calls.map((c) => c.issuedAccessToken);
  assert.ok(issued.slice(-2).includes(r.tokenNow), 'getToken() returns the latest access token from the token endpoint');
  const failures = r.results.filter((x) => x.error || x.status !== 200);
  assert.equal(failures.length, 0, `failed requests: ${JSON.stringify(failures.slice(0, 3))}`);
  const echoes = s.server.entries({ path: '/api/echo' });
  assert.ok(
    echoes.every((e) => e.tokenKnown && !e.expiredAtReceipt),
    'every API request carried a valid minted token',
  );
  assert.ok(new Set(echoes.map((e) => e.token)).size >= 2, 'API requests used the refreshed access tokens');
  assert.ok(!echoes.some((e) => Object.values(e.headers).some((v) => String(v).includes('rt_'))), 'a refresh token was sent to the API');
  const dump = JSON.stringify(r.storage);
  assert.ok(!s.server.allSecrets().some((t) => t.startsWith('rt_') && dump.includes(t)), 'a refresh token is in web storage or cookies');
  assert.equal(r.state, 'authenticated');
});

e2e.test('16. introspection: opaque token without expiry → expiresAt = introspection exp * 1000', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.opaque = null;
      const provider = async () => {
        window.providerCalls++;
        window.opaque = await (await fetch(`/control/mint-opaque?sub=${encodeURIComponent(cid)}&ttl=600`)).json();
        return { Auth: { Token: window.opaque.token } };
      };
      const auth = new ChatAuth({
        apiOrigins: [origin],
        customerId: cid,
        contextProvider: provider,
        introspectionEndpoint: `${origin}/introspect`,
      });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      const echo = await T.read(await T.within(auth.fetch('/api/echo'), 5000, 'auth.fetch'));
      return {
        expiresAt: auth.expiresAt,
        claims: T.plain(auth.claims),
        opaque: window.opaque,
        token: await auth.getToken(),
        echo,
        events,
        providerCalls: window.providerCalls,
      };
    },
    { origin: s.originA, cid },
  );
  const calls = s.server.introspectCalls;
  assert.ok(calls.length >= 1, 'the introspection endpoint was called');
  assert.equal(calls[0].method, 'POST');
  assert.equal(calls[0].token, r.opaque.token, 'RFC 7662 form body token=<the opaque token>');
  assert.match(calls[0].contentType ?? '', /^application\/x-www-form-urlencoded/);
  assert.equal(r.expiresAt, r.opaque.exp * 1000, 'expiresAt equals the server exp * 1000');
  assert.equal(r.claims, null, 'claims is null for an opaque token');
  assert.equal(r.token, r.opaque.token);
  assert.equal(r.echo.json?.authorization, `Bearer ${r.opaque.token}`);
  assert.equal(r.providerCalls, 1);
  const auth = r.events.filter((e) => e.name === 'authenticated');
  assert.equal(auth[0]?.detail.expiresAt, r.opaque.exp * 1000, "'authenticated' detail.expiresAt");
});

e2e.test('21. clock offset: a page clock 2 min slow (now option) accepts fresh tokens, expiresAt on the page clock, refreshes in time', async (s) => {
  const cid = customerId();
  const SKEW = 120_000;
  const r = await s.eval(
    async ({ origin, cid, skew }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.minted = [];
      const provider = async () => {
        window.providerCalls++;
        const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=6`)).json();
        window.minted.push(m);
        return { Auth: { Token: m.token } };
      };
      // The page's clock runs 2 min behind the issuer's: every token's iat looks 2 min in the future.
      const now = () => Date.now() - skew;
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider, now, refresh: { marginSeconds: 1 } });
      const events = T.record(auth);
      await T.waitState(auth, ['authenticated', 'expired'], { timeout: 8000 });
      const first = { state: auth.state, expiresAt: auth.expiresAt, pageNow: now(), exp: window.minted[0]?.exp };
      const results = [];
      const start = Date.now();
      for (let i = 0; i < 200 && Date.now() - start < 8000; i++) {
        try {
          const res = await T.within(auth.fetch(`/api/echo?i=${i}`), 5000, 'auth.fetch');
          results.push({ status: res.status, expiredAtReceipt: (await res.json()).expiredAtReceipt });
        } catch (e) {
          results.push({ error: T.err(e) });
        }
        await T.sleep(100);
      }
      // The loop may end while a scheduled refresh is under way ('refreshing'): the session must settle
      // back to 'authenticated', not be sampled mid-refresh.
      const state = await T.waitState(auth, 'authenticated', { timeout: 5000 }).catch((e) => e.message);
      return { first, results, events, providerCalls: window.providerCalls, state };
    },
    { origin: s.originA, cid, skew: SKEW },
  );
  assert.equal(
    r.first.state,
    'authenticated',
    `a fresh token must not be refused because the page clock is slow: ${JSON.stringify(r.events.filter((e) => e.name === 'refresh-failed'))}`,
  );
  const expected = r.first.exp * 1000 - SKEW;
  assert.ok(
    Math.abs(r.first.expiresAt - expected) <= 2000,
    `expiresAt ${r.first.expiresAt} should be on the page clock ≈ exp*1000 − 120 s = ${expected} (diff ${r.first.expiresAt - expected} ms)`,
  );
  const failures = r.results.filter((x) => x.error || x.status !== 200 || x.expiredAtReceipt !== false);
  assert.equal(failures.length, 0, `failed requests: ${JSON.stringify(failures.slice(0, 3))}`);
  assert.ok(
    r.events.filter((e) => e.name === 'refreshed').length >= 1,
    `refreshed on the corrected schedule within 8 s of 6 s tokens: ${JSON.stringify(r.events)}`,
  );
  assert.equal(r.state, 'authenticated');
});

e2e.test('a token-endpoint 400 whose body cannot be read still forgets the refused refresh token', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      const provider = async () => {
        window.providerCalls++;
        return { Auth: await (await fetch(`/control/mint-oauth?sub=${encodeURIComponent(cid)}&ttl=300`)).json() };
      };
      const auth = new ChatAuth({
        apiOrigins: [origin],
        customerId: cid,
        contextProvider: provider,
        tokenEndpoint: `${origin}/oauth/token`,
        clientId: 'chat-web',
      });
      T.record(auth);
      await T.waitState(auth, 'authenticated');
      // The token endpoint refuses the grant; the answer's body breaks off while it is read.
      const pageFetch = window.fetch;
      let grants = 0;
      window.fetch = (input, init) => {
        if (!String(input.url ?? input).includes('/oauth/token')) return pageFetch(input, init);
        grants++;
        const body = new ReadableStream({ start: (c) => c.error(new TypeError('connection reset')) });
        return Promise.resolve(new Response(body, { status: 400, headers: { 'Content-Type': 'application/json' } }));
      };
      try {
        const first = await T.attempt(() => T.within(auth.getToken({ forceRefresh: true }), 10_000, 'getToken({ forceRefresh }) #1'));
        const second = await T.attempt(() => T.within(auth.getToken({ forceRefresh: true }), 10_000, 'getToken({ forceRefresh }) #2'));
        return { grants, first, second, providerCalls: window.providerCalls };
      } finally {
        window.fetch = pageFetch;
      }
    },
    { origin: s.originA, cid },
    { timeout: 25_000 },
  );
  assert.equal(r.grants, 1, `the refused refresh token was presented again: ${JSON.stringify(r)}`);
  assert.equal(r.second.threw, false, JSON.stringify(r.second));
});

e2e.test(
  'auth.refreshAt: expiresAt − margin (capped at 25 % of the lifetime) + ≤ 10 % jitter, the time the refresh happens, null when anonymous, refreshing or logged out',
  async (s) => {
    const cid = customerId();
    const r = await s.eval(
      async ({ origin, cid }) => {
        const { ChatAuth } = window.sdk;
        const mint = T.mintingProvider(cid, { ttl: 6, timed: true });
        let auth;
        const seenWhileRefreshing = [];
        const provider = (callback, needsRefresh, info) => {
          if (info.reason === 'scheduled') seenWhileRefreshing.push({ state: auth.state, refreshAt: auth.refreshAt });
          return mint(callback, needsRefresh, info);
        };
        // Margin 1 s (under 25 % of 6 s); then the default 60 s, capped at 25 % of the lifetime.
        auth = new ChatAuth({ apiOrigins: [origin], contextProvider: provider, refresh: { marginSeconds: 1 } });
        const anonymous = auth.refreshAt;
        const planned = [];
        auth.on('authenticated', () => planned.push({ expiresAt: auth.expiresAt, refreshAt: auth.refreshAt }));
        auth.on('refreshed', () => planned.push({ expiresAt: auth.expiresAt, refreshAt: auth.refreshAt }));
        await auth.setCustomer(cid);
        await T.waitFor(() => planned.length >= 3, { timeout: 15_000, what: 'two scheduled refreshes' });
        await auth.clearCustomer();
        const loggedOut = auth.refreshAt;
        auth.destroy();
        const calls = window.providerLog; // the next mintingProvider starts a new log

        const capped = new ChatAuth({ apiOrigins: [origin], contextProvider: T.mintingProvider(cid, { ttl: 8 }) });
        const before = Date.now();
        await capped.setCustomer(cid);
        const cap = { before, after: Date.now(), expiresAt: capped.expiresAt, refreshAt: capped.refreshAt };
        capped.destroy();
        return { anonymous, planned, loggedOut, calls, seenWhileRefreshing, cap };
      },
      { origin: s.originA, cid },
      { timeout: 30_000 },
    );
    assert.equal(r.anonymous, null, 'anonymous: no refresh planned');
    assert.equal(r.loggedOut, null, 'logged out: no refresh planned');
    for (const p of r.planned) {
      const lead = p.expiresAt - p.refreshAt;
      assert.ok(lead >= 900 && lead <= 1000, `refreshAt ${lead} ms before expiry, want 1 s − ≤ 10 % jitter: ${JSON.stringify(p)}`);
    }
    // Each scheduled provider call came at the refreshAt read after the token before it arrived.
    const scheduled = r.calls.filter((c) => c.reason === 'scheduled');
    assert.ok(scheduled.length >= 2, JSON.stringify(r.calls));
    for (const [i, call] of scheduled.slice(0, 2).entries()) {
      const late = call.at - r.planned[i].refreshAt;
      assert.ok(late >= -5 && late < 500, `refresh ${i + 1} came ${late} ms after refreshAt`);
    }
    assert.ok(
      r.seenWhileRefreshing.every((x) => x.state === 'refreshing' && x.refreshAt === null),
      JSON.stringify(r.seenWhileRefreshing),
    );
    // Default margin 60 s on an 8 s token: 25 % of the lifetime the SDK measured from receipt.
    const lead = r.cap.expiresAt - r.cap.refreshAt;
    const most = (r.cap.expiresAt - r.cap.before) / 4;
    const least = ((r.cap.expiresAt - r.cap.after) / 4) * 0.9;
    assert.ok(lead >= least - 1 && lead <= most + 1, `capped margin ${lead} ms, want ${least}…${most}: ${JSON.stringify(r.cap)}`);
  },
);

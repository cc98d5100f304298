// chat-auth e2e: resilience (issue 5) — one refresher across three tabs (Web Locks + BroadcastChannel),
// a tab that opens adopts the others' token, logout reaches every tab, a tab that dies holding the lock
// does not block the rest, a frozen (sleeping) page, a provider that fails then recovers, 429 +
// Retry-After from the token endpoint, and the network going offline.
// Contract: API.md (the public contract, outside this repo) ("Single flight", "Scheduling", crossTab). Backend: ./support/chat-server.mjs.
import assert from 'node:assert/strict';
import { customerId, suite } from './support/e2e.mjs';

const e2e = suite();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** In a tab: a ChatAuth for `cid` whose provider mints `ttl`-second tokens and logs its calls. */
const startTab = (tab, cid, { ttl = 300, hangOn = null } = {}) =>
  tab.eval(
    async ({ origin, cid, ttl, hangOn }) => {
      const { ChatAuth } = window.sdk;
      window.providerLog = [];
      const provider = async (callback, needsRefresh, info) => {
        window.providerLog.push({ reason: info?.reason, at: Date.now() });
        if (info?.reason === hangOn) return new Promise(() => {});
        const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=${ttl}`)).json();
        return { Auth: { Token: m.token } };
      };
      window.auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider, refresh: { marginSeconds: 1 } });
      T.record(window.auth);
      await T.waitState(window.auth, 'authenticated');
      return { providerCalls: window.providerLog.length };
    },
    { origin: tab.originA, cid, ttl, hangOn },
  );

/** In a tab: `auth.fetch('/api/protected')` every `every` ms for `ms`; every result. */
const requestLoop = (tab, ms, every = 150) =>
  tab.eval(
    async ({ ms, every }) => {
      const out = [];
      const start = Date.now();
      for (let i = 0; i < 500 && Date.now() - start < ms; i++) {
        try {
          const res = await T.within(window.auth.fetch(`/api/protected?i=${i}`), 8000, `fetch #${i}`);
          out.push({ status: res.status });
        } catch (e) {
          out.push({ error: T.err(e) });
        }
        await T.sleep(every);
      }
      return out;
    },
    { ms, every },
    { timeout: ms + 20_000 },
  );

e2e.test('R1. three tabs, 4 s tokens: tabs that open adopt the token, then one provider call per refresh window across all of them', async (s) => {
  const cid = customerId();
  const tab2 = await s.openTab();
  const tab3 = await s.openTab();
  const tabs = [s, tab2, tab3];
  assert.equal((await startTab(s, cid, { ttl: 4 })).providerCalls, 1);
  // Tabs 2 and 3 open while tab 1 holds a fresh token: they ask for it instead of calling.
  assert.equal((await startTab(tab2, cid, { ttl: 4 })).providerCalls, 0, 'tab 2 called its provider on open');
  assert.equal((await startTab(tab3, cid, { ttl: 4 })).providerCalls, 0, 'tab 3 called its provider on open');
  const started = Date.now();
  const results = await Promise.all(tabs.map((t) => requestLoop(t, 11_000)));
  const elapsed = Date.now() - started;
  const failed = results.flat().filter((x) => x.error || x.status !== 200);
  assert.equal(failed.length, 0, `requests failed: ${JSON.stringify(failed.slice(0, 5))}`);
  const calls = (await Promise.all(tabs.map((t) => t.eval(() => window.providerLog)))).flat().sort((a, b) => a.at - b.at);
  const scheduled = calls.filter((c) => c.reason !== 'initial');
  // `exp` counts whole seconds, so a "4 s" token lives 3–4 s and is refreshed 1 s before expiry (25 % of
  // its lifetime at most): one refresh window lasts ≥ 2 s. Two calls closer than that served one window.
  for (let i = 1; i < calls.length; i++) {
    assert.ok(calls[i].at - calls[i - 1].at >= 1800, `two provider calls ${calls[i].at - calls[i - 1].at} ms apart (one window): ${JSON.stringify(calls)}`);
  }
  assert.ok(scheduled.length >= 2, `refreshes in ${elapsed} ms: ${scheduled.length}`);
  assert.ok(scheduled.length <= Math.ceil(elapsed / 2000) + 1, `${scheduled.length} refreshes in ${elapsed} ms across 3 tabs`);
  const tokens = await Promise.all(
    tabs.map((t) =>
      t.eval(async () => {
        await T.waitState(window.auth, 'authenticated');
        return window.auth.getToken();
      }),
    ),
  );
  assert.equal(new Set(tokens).size, 1, 'the three tabs hold one token');
  assert.equal(s.server.counts.mint, calls.length, 'every minted token came from one logged provider call');
});

e2e.test('R2. clearCustomer in one of three tabs logs out all three', async (s) => {
  const cid = customerId();
  const tab2 = await s.openTab();
  const tab3 = await s.openTab();
  for (const t of [s, tab2, tab3]) await startTab(t, cid);
  await tab2.eval(() => T.within(window.auth.clearCustomer(), 5000, 'clearCustomer'));
  for (const [i, t] of [s, tab3].entries()) {
    const r = await t.eval(async () => {
      await T.waitState(window.auth, 'logged_out', { timeout: 5000 });
      return { headers: await window.auth.authHeaders(), loggedOut: T.eventsNamed('logged-out').length };
    });
    assert.equal(r.loggedOut, 1, `tab ${i === 0 ? 1 : 3}: one logged-out event`);
    assert.equal(r.headers.Authorization, undefined, 'no Authorization after logout');
  }
});

e2e.test('R3. a tab that dies holding the refresh lock does not block the others', async (s) => {
  const cid = customerId();
  const tab2 = await s.openTab();
  // Tab 1's provider never answers a forced refresh: tab 1 keeps the lock for as long as it lives
  // (its own timeout is the default 15 s, longer than this test waits).
  await startTab(s, cid, { hangOn: 'forced' });
  await startTab(tab2, cid);
  await s.eval(() => {
    window.auth.getToken({ forceRefresh: true }).catch(() => {});
  });
  await s.eval(() => T.waitFor(() => window.providerLog.some((c) => c.reason === 'forced'), { what: 'the forced call in tab 1' }));
  const before = await tab2.eval(() => {
    window.forced = T.attempt(() => window.auth.getToken({ forceRefresh: true }));
    return window.providerLog.length;
  });
  await sleep(1500);
  assert.equal(await tab2.eval(() => window.providerLog.length), before, 'tab 2 called its provider while tab 1 held the lock');
  await s.page.close();
  const r = await tab2.eval(async () => {
    const forced = await T.within(window.forced, 8000, "tab 2's forced refresh after tab 1 closed");
    return { forced, calls: window.providerLog.map((c) => c.reason) };
  });
  assert.equal(r.forced.threw, false, JSON.stringify(r.forced));
  assert.deepEqual(r.calls.slice(before), ['forced'], 'tab 2 made the forced call once the lock was free');
});

e2e.test('R4. a page frozen past its token expiry (sleep) refreshes at once on waking and never sends the expired token', async (s) => {
  const cid = customerId();
  await startTab(s, cid, { ttl: 4 });
  const cdp = await s.page.context().newCDPSession(s.page);
  await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
  await sleep(5500);
  await cdp.send('Page.setWebLifecycleState', { state: 'active' });
  const r = await s.eval(async () => {
    const woke = Date.now();
    const res = await T.within(window.auth.fetch('/api/protected?after=sleep'), 8000, 'the first request after waking');
    await T.waitFor(() => T.eventsNamed('refreshed').length > 0, { what: "'refreshed' after waking" });
    return { status: res.status, refreshedAfter: T.eventsNamed('refreshed')[0].at - woke, state: window.auth.state };
  });
  assert.equal(r.status, 200);
  assert.ok(r.refreshedAfter < 5000, `refreshed ${r.refreshedAfter} ms after waking`);
  const afterSleep = s.server.entries({ path: '/api/protected' });
  assert.ok(afterSleep.length >= 1 && afterSleep.every((e) => e.tokenKnown && !e.expiredAtReceipt), 'the request after waking carried a fresh token');
});

e2e.test('R5. a provider that fails, then recovers: refresh-failed with retries, then refreshed; no request fails or is dropped', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerLog = [];
      const provider = async (callback, needsRefresh, info) => {
        window.providerLog.push({ reason: info?.reason, at: Date.now() });
        // Calls 2 and 3 (the first refresh and its first retry) fail.
        if (window.providerLog.length === 2 || window.providerLog.length === 3) throw new Error('identity service down');
        const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=4`)).json();
        return { Auth: { Token: m.token } };
      };
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider, refresh: { marginSeconds: 2, maxRetries: 4 } });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      const pending = [];
      const start = Date.now();
      for (let i = 0; i < 80 && Date.now() - start < 7000; i++) {
        pending.push(T.attempt(() => T.within(auth.fetch(`/api/protected?i=${i}`), 10_000, `fetch #${i}`).then((res) => res.status)));
        await T.sleep(100);
      }
      const results = await Promise.all(pending);
      return { results, events, calls: window.providerLog.map((c) => c.reason), state: auth.state };
    },
    { origin: s.originA, cid },
    { timeout: 30_000 },
  );
  const bad = r.results.filter((x) => x.threw || x.value !== 200);
  assert.equal(bad.length, 0, `${bad.length}/${r.results.length} requests failed: ${JSON.stringify(bad.slice(0, 3))}`);
  const failed = r.events.filter((e) => e.name === 'refresh-failed').map((e) => e.detail);
  assert.deepEqual(
    failed.slice(0, 2).map((d) => [d.code, d.attempt]),
    [
      ['provider_failed', 1],
      ['provider_failed', 2],
    ],
  );
  assert.ok(
    failed.slice(0, 2).every((d) => d.retryInMs > 0),
    JSON.stringify(failed),
  );
  assert.deepEqual(r.calls.slice(0, 4), ['initial', 'scheduled', 'retry', 'retry']);
  assert.ok(
    r.events.some((e) => e.name === 'refreshed'),
    'refreshed after recovery',
  );
  assert.ok(!r.events.some((e) => e.name === 'auth-lost'), 'no auth-lost');
  assert.equal(r.state, 'authenticated');
});

e2e.test('R6. token endpoint 429 with Retry-After: the retry waits for it, then refreshes; requests wait and succeed', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      const provider = async () => ({ Auth: await (await fetch(`/control/mint-oauth?sub=${encodeURIComponent(cid)}&ttl=4`)).json() });
      const auth = new ChatAuth({
        apiOrigins: [origin],
        customerId: cid,
        contextProvider: provider,
        tokenEndpoint: `${origin}/oauth/token`,
        refresh: { marginSeconds: 1 },
      });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      await T.getJson('/control/oauth-busy?count=1&status=429&retryAfter=3');
      await T.waitFor(() => T.eventsNamed('refreshed').length > 0, { timeout: 12_000, what: "'refreshed' after the 429" });
      const res = await T.within(auth.fetch('/api/protected'), 8000, 'fetch after the refresh');
      return { events, status: res.status };
    },
    { origin: s.originA, cid },
    { timeout: 30_000 },
  );
  assert.equal(r.status, 200);
  const failed = r.events.filter((e) => e.name === 'refresh-failed').map((e) => e.detail);
  assert.equal(failed.length, 1, JSON.stringify(failed));
  assert.equal(failed[0].code, 'network');
  assert.ok(failed[0].retryInMs >= 2900, `retryInMs ${failed[0].retryInMs} honours Retry-After: 3`);
  const calls = s.server.oauthCalls;
  assert.equal(calls.length, 2, JSON.stringify(calls.map((c) => c.error)));
  assert.ok(calls[1].at - calls[0].at >= 2900, `second /oauth/token call ${calls[1].at - calls[0].at} ms after the 429`);
  assert.equal(calls[1].accepted, true);
});

e2e.test('R7. offline: retries wait for the network, and run at once when it returns', async (s) => {
  const cid = customerId();
  await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerLog = [];
      const provider = async (callback, needsRefresh, info) => {
        window.providerLog.push({ reason: info?.reason, at: Date.now(), online: navigator.onLine });
        const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json();
        return { Auth: { Token: m.token } };
      };
      window.auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider });
      T.record(window.auth);
      await T.waitState(window.auth, 'authenticated');
    },
    { origin: s.originA, cid },
  );
  await s.page.context().setOffline(true);
  await s.eval(() => {
    window.forced = T.attempt(() => window.auth.getToken({ forceRefresh: true }));
  });
  // The forced call fails offline; its retry (normally 1 s later) must wait for the network.
  await sleep(3500);
  const offline = await s.eval(() => ({ calls: window.providerLog.length, failed: T.eventsNamed('refresh-failed').length }));
  assert.equal(offline.calls, 2, 'initial + the forced call made offline, no retry while offline');
  assert.equal(offline.failed, 1);
  await s.page.context().setOffline(false);
  const r = await s.eval(async () => {
    const back = Date.now();
    const forced = await T.within(window.forced, 8000, 'the forced refresh after the network returned');
    return { forced, retryAfter: window.providerLog[2].at - back, reasons: window.providerLog.map((c) => c.reason) };
  });
  assert.equal(r.forced.threw, false, JSON.stringify(r.forced));
  assert.deepEqual(r.reasons, ['initial', 'forced', 'retry']);
  assert.ok(r.retryAfter < 1000, `retry ${r.retryAfter} ms after the network returned`);
});

// chat-auth e2e: crossTab (default true) — tabs of one origin share one refresh and one logout.
// Two pages in one browser context (same origin: BroadcastChannel and Web Locks are shared).
// Contract: API.md (the public contract, outside this repo) (crossTab option, "Single flight", 'refreshed' source 'other_tab',
// 'logged-out' "also when another tab logged out"). Backend: ./support/chat-server.mjs.
import assert from 'node:assert/strict';
import { customerId, suite } from './support/e2e.mjs';

const e2e = suite();

/** In a tab: a ChatAuth for `cid` whose provider counts its calls; resolves once authenticated. */
const startTab = (tab, cid) =>
  tab.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.providerLog = [];
      const provider = async (callback, needsRefresh, info) => {
        window.providerCalls++;
        window.providerLog.push({ needsRefresh, reason: info?.reason });
        if (info?.reason === 'forced') await T.sleep(300);
        const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json();
        return { Auth: { Token: m.token } };
      };
      window.auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider });
      T.record(window.auth);
      await T.waitState(window.auth, 'authenticated');
      return { token: await window.auth.getToken(), providerCalls: window.providerCalls };
    },
    { origin: tab.originA, cid },
  );

e2e.test('22. crossTab: a refresh in one tab reaches the other (source other_tab, no provider call there)', async (s) => {
  const cid = customerId();
  const tab2 = await s.openTab();
  await startTab(s, cid);
  await startTab(tab2, cid);
  const calls2Before = await tab2.eval(() => window.providerCalls);
  const fresh = await s.eval(async () => T.within(window.auth.getToken({ forceRefresh: true }), 8000, 'forced refresh in tab 1'));
  const r2 = await tab2.eval(
    async ({ fresh }) => {
      await T.waitFor(async () => (await window.auth.getToken()) === fresh, { timeout: 5000, what: 'tab 2 to hold the token tab 1 refreshed' }).catch(() => {});
      return { token: await window.auth.getToken(), providerCalls: window.providerCalls, events: window.events, state: window.auth.state };
    },
    { fresh },
  );
  assert.ok(r2.token === fresh, "tab 2 should receive tab 1's refreshed token");
  assert.equal(r2.providerCalls, calls2Before, "tab 2's provider must not be called for tab 1's refresh");
  const refreshed = r2.events.filter((e) => e.name === 'refreshed').map((e) => e.detail);
  assert.ok(
    refreshed.some((d) => d.source === 'other_tab'),
    `tab 2 'refreshed' with source other_tab: ${JSON.stringify(refreshed)}`,
  );
  assert.equal(r2.state, 'authenticated');
});

e2e.test('22b. crossTab: a forced refresh in both tabs at once calls one provider once (shared single flight)', async (s) => {
  const cid = customerId();
  const tab2 = await s.openTab();
  await startTab(s, cid);
  await startTab(tab2, cid);
  const before = (await s.eval(() => window.providerCalls)) + (await tab2.eval(() => window.providerCalls));
  const [t1, t2] = await Promise.all([
    s.eval(async () => T.attempt(() => T.within(window.auth.getToken({ forceRefresh: true }), 8000, 'forced refresh tab 1'))),
    tab2.eval(async () => T.attempt(() => T.within(window.auth.getToken({ forceRefresh: true }), 8000, 'forced refresh tab 2'))),
  ]);
  const after = (await s.eval(() => window.providerCalls)) + (await tab2.eval(() => window.providerCalls));
  assert.equal(t1.threw, false, JSON.stringify(t1));
  assert.equal(t2.threw, false, JSON.stringify(t2));
  // Interpretation: Web Locks serialise refreshes across tabs; the tab that gets the lock second finds a
  // context fresher than the one it asked to replace (from the other tab) and uses it.
  assert.equal(
    after - before,
    1,
    `provider calls across both tabs for two simultaneous forced refreshes (API.md "Single flight … With crossTab, one tab refreshes and the others receive the new context"): ${after - before}`,
  );
  assert.ok(t1.value === t2.value, 'both tabs end with the same token');
});

e2e.test('22c. crossTab: clearCustomer in one tab logs out the other (logged-out event, logged_out, no Authorization)', async (s) => {
  const cid = customerId();
  const tab2 = await s.openTab();
  await startTab(s, cid);
  await startTab(tab2, cid);
  await s.eval(async () => T.within(window.auth.clearCustomer(), 5000, 'clearCustomer in tab 1'));
  const r2 = await tab2.eval(async () => {
    await T.waitState(window.auth, 'logged_out', { timeout: 5000 }).catch(() => {});
    const echo = await T.read(await T.within(window.auth.fetch('/api/echo?tab=2'), 5000, 'fetch in tab 2'));
    return { state: window.auth.state, events: window.events, token: await T.attempt(() => window.auth.getToken()), echo, customerId: window.auth.customerId };
  });
  assert.equal(r2.state, 'logged_out', 'tab 2 state after tab 1 logged out');
  assert.deepEqual(
    r2.events.filter((e) => e.name === 'logged-out').map((e) => e.detail),
    [{ customerId: cid }],
    "tab 2 'logged-out' { customerId }",
  );
  assert.deepEqual(r2.token, { threw: false, value: null }, 'tab 2 getToken() is null');
  assert.equal(r2.customerId, null);
  assert.equal(r2.echo.json?.authorization, null, 'tab 2 sends no Authorization after the logout');
});

e2e.test('22d. crossTab: scheduled refreshes of 5 s tokens are shared — both tabs end on the same token, other_tab refreshes seen', async (s) => {
  const cid = customerId();
  const tab2 = await s.openTab();
  const setup = async (tab) =>
    tab.eval(
      async ({ origin, cid }) => {
        const { ChatAuth } = window.sdk;
        window.providerCalls = 0;
        window.providerLog = [];
        const provider = async (callback, needsRefresh, info) => {
          window.providerCalls++;
          window.providerLog.push({ reason: info?.reason, at: Date.now() });
          const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=5`)).json();
          return { Auth: { Token: m.token } };
        };
        window.auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider, refresh: { marginSeconds: 1 } });
        T.record(window.auth);
        await T.waitState(window.auth, 'authenticated');
      },
      { origin: tab.originA, cid },
    );
  await setup(s);
  await setup(tab2);
  await new Promise((r) => setTimeout(r, 9000));
  const read = (tab) =>
    tab.eval(async () => {
      await T.waitState(window.auth, 'authenticated', { timeout: 3000 });
      return {
        token: await window.auth.getToken(),
        scheduled: window.providerLog.filter((c) => c.reason === 'scheduled').length,
        refreshed: window.events.filter((e) => e.name === 'refreshed').map((e) => e.detail.source),
      };
    });
  let a = await read(s);
  let b = await read(tab2);
  for (let i = 0; i < 10 && a.token !== b.token; i++) {
    await new Promise((r) => setTimeout(r, 200));
    a = await read(s);
    b = await read(tab2);
  }
  const otherTab = [...a.refreshed, ...b.refreshed].filter((x) => x === 'other_tab').length;
  assert.ok(otherTab >= 1, `no 'refreshed' { source: 'other_tab' } in either tab: tab1 ${JSON.stringify(a.refreshed)}, tab2 ${JSON.stringify(b.refreshed)}`);
  assert.ok(a.token === b.token, 'the two tabs hold different tokens: each refreshed on its own');
  assert.ok(
    a.scheduled + b.scheduled <= 3,
    `scheduled provider calls across both tabs in 9 s of 5 s tokens: ${a.scheduled} + ${b.scheduled} (one tab per cycle expected)`,
  );
});

e2e.test(
  "22e. crossTab: a Web Locks query() slower than its bound (a long task) does not switch locks off: the waiting instance does not call its provider beside the lock holder's",
  async (s) => {
    const cid = customerId();
    const r = await s.eval(
      async ({ origin, cid }) => {
        const { ChatAuth } = window.sdk;
        const calls = [];
        const provider = (name, ms) => async () => {
          calls.push({ name, at: performance.now() });
          await T.sleep(ms);
          const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json();
          return { Auth: { Token: m.token } };
        };
        // For its first 2 s every query() answers after 700 ms, past the SDK's 500 ms bound.
        const locks = navigator.locks;
        const query = locks.query.bind(locks);
        const t0 = performance.now();
        locks.query = () => (performance.now() - t0 < 2000 ? T.sleep(700).then(query) : query());
        try {
          // One source: the second instance waits for the first one's lock (held 2.5 s by its provider).
          const first = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider('first', 2500) });
          await T.waitFor(() => calls.length === 1, { timeout: 5000, what: 'the first provider call' });
          const second = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider('second', 0) });
          await T.waitState(first, 'authenticated', { timeout: 10_000 });
          await T.waitState(second, 'authenticated', { timeout: 10_000 });
          const out = { calls: calls.map((c) => c.name), same: (await first.getToken()) === (await second.getToken()) };
          first.destroy();
          second.destroy();
          return out;
        } finally {
          locks.query = query;
        }
      },
      { origin: s.originA, cid },
    );
    assert.deepEqual(r, { calls: ['first'], same: true }, JSON.stringify(r));
  },
);

e2e.test(
  "22f. crossTab: a tab whose Web Locks never answer (so never counted) answers a round first: the asking tab still waits for the counted tab's token instead of calling its provider",
  async (s) => {
    const cid = customerId();
    const tab2 = await s.openTab();
    const silent = await s.openTab();
    // Tab 1 (the counted peer) handles every `want` 300 ms late, inside the round's 500 ms.
    await s.eval(() => {
      const Real = window.BroadcastChannel;
      window.BroadcastChannel = class extends Real {
        get onmessage() {
          return super.onmessage;
        }
        set onmessage(fn) {
          super.onmessage =
            fn &&
            ((event) => {
              const want = typeof event.data === 'string' && event.data.startsWith('{"type":"want"');
              if (want) setTimeout(() => fn.call(this, event), 300);
              else fn.call(this, event);
            });
        }
      };
    });
    const t1 = await startTab(s, cid);
    // The silent tab: its lock requests never settle (no presence lock to count), its provider never
    // answers, so it answers a `want` at once, without a token.
    await silent.eval(
      async ({ origin, cid }) => {
        const { ChatAuth } = window.sdk;
        navigator.locks.request = () => new Promise(() => {});
        window.auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: () => new Promise(() => {}) });
        await T.waitState(window.auth, 'authenticating');
      },
      { origin: silent.originA, cid },
    );
    const t2 = await startTab(tab2, cid);
    assert.equal(t2.providerCalls, 0, "tab 2 called its provider: its round ended on the silent tab's answer");
    assert.ok(t2.token === t1.token, "tab 2 adopted tab 1's token");
  },
);

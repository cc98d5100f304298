// chat-auth e2e: the ASAPP-compatible facade (installAsapp / window.ASAPP).
// Contract: API.md (the public contract, outside this repo) ("ASAPP-compatible facade"). Backend: ./support/chat-server.mjs.
import assert from 'node:assert/strict';
import { customerId, suite } from './support/e2e.mjs';

const e2e = suite();

/** In the page: install the facade, ASAPP('load', …) with a callback-style provider, wait until authenticated. */
async function loadAsapp(s, cid) {
  return s.eval(
    async ({ origin, cid }) => {
      const { installAsapp } = window.sdk;
      window.providerCalls = 0;
      window.providerArgs = [];
      window.tokens = [];
      window.loadCompleteCalls = 0;
      installAsapp(window);
      if (typeof window.ASAPP !== 'function') throw new Error('installAsapp(window) did not define window.ASAPP');
      // ASAPP-style provider: (callback, needsRefresh) → callback(context), returns nothing.
      const ContextProvider = (callback, needsRefresh) => {
        window.providerCalls++;
        window.providerArgs.push({ needsRefresh, callbackIsFunction: typeof callback === 'function' });
        fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)
          .then((r) => r.json())
          .then((m) => {
            window.tokens.push(m.token);
            callback({ Auth: { Token: m.token }, CustomerInfo: { Region: 'north' } });
          });
      };
      const loadResult = await T.attempt(() =>
        window.ASAPP('load', {
          APIHostname: origin,
          AppId: 'x',
          CustomerId: cid,
          ContextProvider,
          onLoadComplete: () => window.loadCompleteCalls++,
        }),
      );
      await T.waitFor(() => window.loadCompleteCalls > 0, { timeout: 10_000, what: 'onLoadComplete' });
      await T.waitFor(() => T.plain(window.ASAPP('getState'))?.isAuthenticated === true, { timeout: 10_000, what: "ASAPP('getState').isAuthenticated" });
      return { loadResult, providerArgs: window.providerArgs, loadCompleteCalls: window.loadCompleteCalls };
    },
    { origin: s.originA, cid },
  );
}

e2e.test('17. ASAPP facade: load → authenticated; getState (+callback); getChatAuth; unloadAndClearSession', async (s) => {
  const cid = customerId();
  const loaded = await loadAsapp(s, cid);
  assert.equal(loaded.loadResult.threw, false, `ASAPP('load') threw: ${JSON.stringify(loaded.loadResult)}`);
  assert.equal(loaded.loadCompleteCalls, 1, 'onLoadComplete fires once');
  assert.deepEqual(loaded.providerArgs[0], { needsRefresh: false, callbackIsFunction: true }, 'ASAPP-style provider called as (callback, false)');

  const r = await s.eval(
    async ({ origin }) => {
      const { ChatAuth } = window.sdk;
      const state = T.plain(window.ASAPP('getState'));
      let cbState = null;
      let cbCalls = 0;
      const returned = T.plain(
        window.ASAPP('getState', (st) => {
          cbCalls++;
          cbState = T.plain(st);
        }),
      );
      await T.sleep(50);
      const auth = window.ASAPP('getChatAuth');
      const isChatAuth = auth instanceof ChatAuth;
      const info = { state: auth?.state, customerId: auth?.customerId, token: await auth?.getToken() };
      const echo = await T.read(await T.within(auth.fetch('/api/echo'), 5000, 'auth.fetch'));
      const headers = await auth.authHeaders(`${origin}/api/echo`);
      const events = T.record(auth, { store: false });
      const unload = await T.attempt(() => T.within(Promise.resolve(window.ASAPP('unloadAndClearSession')), 5000, "ASAPP('unloadAndClearSession')"));
      await T.waitFor(() => auth.state === 'destroyed', { timeout: 5000, what: "state 'destroyed' after unloadAndClearSession" }).catch(() => {});
      const stateAfter = await T.attempt(() => window.ASAPP('getState'));
      return {
        state,
        returned,
        cbCalls,
        cbState,
        isChatAuth,
        info,
        tokens: window.tokens,
        echo,
        headerNames: Object.keys(T.plain(headers))
          .map((k) => k.toLowerCase())
          .sort(),
        unload,
        finalState: auth.state,
        events,
        stateAfter,
        storage: T.storageDump(),
      };
    },
    { origin: s.originA },
  );
  assert.deepEqual(r.state, { hasContext: true, hasCustomerId: true, isLoggingIn: false, isAuthenticated: true }, "ASAPP('getState')");
  assert.deepEqual(r.returned, r.state, "ASAPP('getState', cb) returns the state object");
  assert.equal(r.cbCalls, 1, "ASAPP('getState', cb) calls cb once");
  assert.deepEqual(r.cbState, r.state, 'cb receives the state object');
  assert.equal(r.isChatAuth, true, "ASAPP('getChatAuth') is a ChatAuth");
  assert.equal(r.info.state, 'authenticated');
  assert.equal(r.info.customerId, cid);
  assert.equal(r.info.token, r.tokens.at(-1));
  assert.equal(r.echo.json?.authorization, `Bearer ${r.info.token}`, 'APIHostname with a scheme → that origin is allowed');
  assert.deepEqual(r.headerNames, ['authorization', 'chat-anonymous-id']);

  assert.equal(r.unload.threw, false, `unloadAndClearSession failed: ${JSON.stringify(r.unload)}`);
  assert.equal(r.finalState, 'destroyed', 'unloadAndClearSession = clearCustomer then destroy');
  const loggedOut = r.events.filter((e) => e.name === 'logged-out').map((e) => e.detail);
  assert.deepEqual(loggedOut, [{ customerId: cid }], "'logged-out' fired by the clearCustomer half");
  if (!r.stateAfter.threw) {
    assert.equal(r.stateAfter.value?.isAuthenticated, false, `getState after unload: ${JSON.stringify(r.stateAfter.value)}`);
  }
  const dump = JSON.stringify(r.storage);
  assert.ok(!r.tokens.some((t) => dump.includes(t.split('.')[2])), 'a token stayed in web storage after unloadAndClearSession');
});

e2e.test("17b. ASAPP('set', 'Auth', auth) replaces the context's Auth", async (s) => {
  const cid = customerId();
  await loadAsapp(s, cid);
  const newer = s.server.mint({ sub: cid, ttl: 300 });
  const r = await s.eval(
    async ({ token }) => {
      const auth = window.ASAPP('getChatAuth');
      const callsBefore = window.providerCalls;
      const set = await T.attempt(() => Promise.resolve(window.ASAPP('set', 'Auth', { Token: token })));
      await T.waitFor(async () => (await auth.getToken()) === token, { timeout: 5000, what: 'getToken() to return the token given by set Auth' }).catch(
        () => {},
      );
      const now = await auth.getToken();
      const echo = await T.read(await T.within(auth.fetch('/api/echo'), 5000, 'auth.fetch'));
      return { set, now, echo, providerCallsDuring: window.providerCalls - callsBefore, state: auth.state };
    },
    { token: newer.token },
  );
  assert.equal(r.set.threw, false, JSON.stringify(r.set));
  assert.equal(r.now, newer.token, "getToken() after ASAPP('set','Auth',…)");
  assert.equal(r.echo.json?.authorization, `Bearer ${newer.token}`);
  assert.equal(r.state, 'authenticated');
});

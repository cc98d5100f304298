// chat-auth e2e: session lifecycle — authenticate, refused contexts, long-lived tokens, destroy, storage.
// Contract: API.md (the public contract, outside this repo). Backend: ./support/chat-server.mjs. Runs in Chromium via ../harness.mjs.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { DEFAULT_ISSUER } from './support/chat-server.mjs';
import { assertChatAuthError, customerId, suite } from './support/e2e.mjs';

const e2e = suite();

e2e.test('1. authenticate: customerId + contextProvider → authenticated, event, getToken, claims, expiresAt', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.providerLog = [];
      window.minted = [];
      const provider = async (callback, needsRefresh, info) => {
        window.providerCalls++;
        window.providerLog.push({
          needsRefresh,
          reason: info?.reason,
          deadline: info?.deadline,
          hasSignal: info?.signal instanceof AbortSignal,
          at: Date.now(),
        });
        const res = await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`);
        const m = await res.json();
        window.minted.push(m);
        return { Auth: { Token: m.token } };
      };
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider });
      window.auth = auth;
      const events = T.record(auth);
      const stateRightAfterConstruct = auth.state;
      await T.waitState(auth, 'authenticated');
      const token = await T.within(auth.getToken(), 5000, 'getToken');
      const echo = await T.read(await T.within(auth.fetch('/api/echo'), 5000, 'auth.fetch'));
      return {
        stateRightAfterConstruct,
        state: auth.state,
        customerId: auth.customerId,
        anonymousId: auth.anonymousId,
        expiresAt: auth.expiresAt,
        claims: T.plain(auth.claims),
        token,
        minted: window.minted,
        providerCalls: window.providerCalls,
        providerLog: window.providerLog,
        events,
        echo,
        now: Date.now(),
      };
    },
    { origin: s.originA, cid },
  );
  assert.ok(['anonymous', 'authenticating'].includes(r.stateRightAfterConstruct), `state right after the constructor: ${r.stateRightAfterConstruct}`);
  assert.equal(r.state, 'authenticated');
  assert.equal(r.providerCalls, 1, 'provider calls');
  assert.deepEqual(
    { needsRefresh: r.providerLog[0].needsRefresh, reason: r.providerLog[0].reason, hasSignal: r.providerLog[0].hasSignal },
    { needsRefresh: false, reason: 'initial', hasSignal: true },
    'first provider call: needsRefresh=false, info.reason=initial, info.signal an AbortSignal',
  );
  const { deadline, at } = r.providerLog[0];
  assert.equal(typeof deadline, 'number', 'info.deadline is a number (ms)');
  assert.ok(deadline > at && deadline <= at + 15_000 + 1_000, `info.deadline ${deadline} should be ~15 s after the call (${at})`);

  const m = r.minted[0];
  assert.equal(r.token, m.token, 'getToken() returns the token the provider handed over');
  assert.equal(r.customerId, cid);
  assert.equal(r.claims?.sub, cid, 'claims.sub');
  assert.equal(r.claims?.exp, m.exp, 'claims.exp');
  assert.ok(Math.abs(r.expiresAt - m.exp * 1000) <= 2000, `expiresAt ${r.expiresAt} should be ≈ exp*1000 = ${m.exp * 1000}`);

  const authenticated = r.events.filter((e) => e.name === 'authenticated');
  assert.equal(authenticated.length, 1, `one 'authenticated' event: ${JSON.stringify(r.events)}`);
  assert.deepEqual(authenticated[0].detail, { customerId: cid, anonymousId: r.anonymousId, expiresAt: r.expiresAt }, "'authenticated' detail");
  const states = r.events.filter((e) => e.name === 'state').map((e) => e.detail);
  assert.deepEqual(states.at(-1), { state: 'authenticated', previous: 'authenticating' }, `last 'state' event: ${JSON.stringify(states)}`);

  assert.equal(r.echo.status, 200);
  assert.equal(r.echo.json.authorization, `Bearer ${m.token}`, 'auth.fetch sends Authorization: Bearer <token>');
  assert.equal(r.echo.json.anonymousId, r.anonymousId, 'auth.fetch sends Chat-Anonymous-Id');
});

/**
 * A provider hands over a context that must be refused with `code`; `refresh.maxRetries: 0` so the
 * refusal ends the attempt at once. The refused token must never be attached to a request.
 */
async function refusedContext(s, { code, tokenFor, options = {} }) {
  const cid = customerId();
  const bad = tokenFor(cid);
  const r = await s.eval(
    async ({ origin, cid, badToken, options }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.loginCalls = [];
      const provider = async () => {
        window.providerCalls++;
        return { Auth: { Token: badToken } };
      };
      const auth = new ChatAuth({
        apiOrigins: [origin],
        customerId: cid,
        contextProvider: provider,
        userLoginHandler: (detail) => window.loginCalls.push(T.plain(detail)),
        refresh: { maxRetries: 0 },
        ...options,
      });
      const events = T.record(auth);
      await T.waitFor(() => events.some((e) => e.name === 'auth-lost'), { timeout: 8000, what: "'auth-lost' after the refused context" }).catch(() => {});
      const stateAfter = auth.state;
      const getToken = await T.attempt(() => T.within(auth.getToken(), 5000, 'getToken'));
      const fetched = await T.attempt(async () => T.read(await T.within(auth.fetch('/api/echo'), 5000, 'auth.fetch')));
      return { stateAfter, events, getToken, fetched, providerCalls: window.providerCalls, loginCalls: window.loginCalls };
    },
    { origin: s.originA, cid, badToken: bad, options },
  );
  const failed = r.events.filter((e) => e.name === 'refresh-failed').map((e) => e.detail);
  assert.ok(failed.length >= 1, `a 'refresh-failed' event: ${JSON.stringify(r.events)}`);
  assert.equal(failed[0].code, code, `refresh-failed code: ${JSON.stringify(failed)}`);
  assert.equal(failed[0].attempt, 1, `refresh-failed attempt: ${JSON.stringify(failed)}`);
  const lost = r.events.filter((e) => e.name === 'auth-lost').map((e) => e.detail);
  assert.deepEqual(lost[0], { code }, `'auth-lost' with the refusal's code (maxRetries: 0): ${JSON.stringify(r.events)}`);
  assert.equal(r.stateAfter, 'expired', 'state after retries are exhausted');
  assert.ok(r.loginCalls.length >= 1, 'userLoginHandler called when auth is lost');
  assert.ok(!r.events.some((e) => e.name === 'authenticated'), 'never authenticated with a refused context');

  // Never handed out, never attached.
  if (!r.getToken.threw) assert.notEqual(r.getToken.value, bad, 'getToken() returned the refused token');
  else assert.equal(r.getToken.isChatAuthError, true, `getToken rejected with a non-ChatAuthError: ${JSON.stringify(r.getToken)}`);
  if (!r.fetched.threw) assert.ok(!String(r.fetched.value.json?.authorization ?? '').includes(bad), 'the refused token was sent');
  else assert.equal(r.fetched.isChatAuthError, true, `auth.fetch rejected with a non-ChatAuthError: ${JSON.stringify(r.fetched)}`);
  const carried = s.server.log.filter((e) => e.authorization?.includes(bad) || e.body?.includes(bad));
  assert.equal(carried.length, 0, `the refused token reached the server: ${carried.map((e) => `${e.method} ${e.path}`).join(', ')}`);
}

e2e.test('3. claim mismatch: a token for another sub is refused (claim_mismatch) and never attached', async (s) => {
  await refusedContext(s, { code: 'claim_mismatch', tokenFor: () => s.server.mint({ sub: customerId(), ttl: 300 }).token });
});

e2e.test('4. expired from the provider: refused with expired and never attached', async (s) => {
  // A stale cached token: issued 7 min ago, expired 2 min ago (beyond the default 30 s leeway).
  // (An iat in the past must not be read as "the issuer's clock is 7 min behind".)
  await refusedContext(s, { code: 'expired', tokenFor: (cid) => s.server.mint({ sub: cid, ttl: -120, iatOffset: -420 }).token });
});

e2e.test('4b. validation.issuer: a token from another issuer is refused (issuer_mismatch)', async (s) => {
  await refusedContext(s, {
    code: 'issuer_mismatch',
    tokenFor: (cid) => s.server.mint({ sub: cid, ttl: 300, iss: 'https://evil.test' }).token,
    options: { validation: { issuer: DEFAULT_ISSUER } },
  });
});

e2e.test('4c. validation.publicKey: a token signed by another key is refused (bad_signature)', async (s) => {
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  await refusedContext(s, {
    code: 'bad_signature',
    tokenFor: (cid) => s.server.mint({ sub: cid, ttl: 300, signingKey: other }).token,
    options: { validation: { publicKey: s.server.publicKeyPem } },
  });
});

e2e.test('12. a token expiring in 40 days does not refresh at once (timer > 2^31-1 ms is chained)', async (s) => {
  const cid = customerId();
  const ttl = 40 * 24 * 3600;
  const r = await s.eval(
    async ({ origin, cid, ttl }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.minted = [];
      const provider = async () => {
        window.providerCalls++;
        const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=${ttl}`)).json();
        window.minted.push(m);
        return { Auth: { Token: m.token } };
      };
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      await T.sleep(3000);
      const echo = await T.read(await T.within(auth.fetch('/api/echo'), 5000, 'auth.fetch'));
      return { state: auth.state, expiresAt: auth.expiresAt, now: Date.now(), providerCalls: window.providerCalls, minted: window.minted, events, echo };
    },
    { origin: s.originA, cid, ttl },
  );
  assert.equal(r.providerCalls, 1, `the provider was called ${r.providerCalls} times in ~3 s (should be once)`);
  assert.equal(r.state, 'authenticated');
  assert.ok(!r.events.some((e) => e.name === 'refreshed' || e.name === 'refresh-failed'), `no refresh: ${JSON.stringify(r.events)}`);
  assert.ok(Math.abs(r.expiresAt - r.minted[0].exp * 1000) <= 2000, `expiresAt ${r.expiresAt} ≈ ${r.minted[0].exp * 1000}`);
  assert.ok(r.expiresAt - r.now > 39 * 24 * 3600 * 1000, 'expiresAt is ~40 days away');
  assert.equal(r.echo.json?.authorization, `Bearer ${r.minted[0].token}`);
});

e2e.test('13. destroy: pending getToken rejects destroyed, later calls reject/throw destroyed, provider signal aborted', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.signals = [];
      // A provider that never answers: the SDK is 'authenticating' when destroy() comes.
      const provider = (callback, needsRefresh, info) => {
        window.providerCalls++;
        window.signals.push(info?.signal);
        return new Promise(() => {});
      };
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider });
      T.record(auth);
      const pending = T.attempt(() => auth.getToken());
      await T.waitFor(() => window.providerCalls === 1, { timeout: 5000, what: 'the provider call' });
      const signal = window.signals[0];
      const abortedBefore = signal?.aborted;
      let abortEvent = false;
      signal?.addEventListener?.('abort', () => (abortEvent = true));
      const destroyCall = T.attemptSync(() => auth.destroy());
      const pendingResult = await T.within(pending, 3000, 'the pending getToken after destroy()');
      const later = {};
      later.getToken = await T.attempt(() => T.within(auth.getToken(), 3000, 'getToken'));
      later.forceRefresh = await T.attempt(() => T.within(auth.getToken({ forceRefresh: true }), 3000, 'getToken(force)'));
      later.setCustomer = await T.attempt(() => T.within(auth.setCustomer(cid), 3000, 'setCustomer'));
      later.clearCustomer = await T.attempt(() => T.within(auth.clearCustomer(), 3000, 'clearCustomer'));
      later.authHeaders = await T.attempt(() => T.within(auth.authHeaders(`${origin}/api/echo`), 3000, 'authHeaders'));
      later.fetch = await T.attempt(() => T.within(auth.fetch('/api/echo'), 3000, 'fetch'));
      const on = T.attemptSync(() => auth.on('state', () => {}));
      return {
        hasSignal: signal instanceof AbortSignal,
        abortedBefore,
        abortedAfter: signal?.aborted,
        abortEvent,
        destroyCall,
        pendingResult,
        state: auth.state,
        later,
        on,
        providerCalls: window.providerCalls,
      };
    },
    { origin: s.originA, cid },
  );
  assert.equal(r.destroyCall.threw, false, `destroy() threw: ${JSON.stringify(r.destroyCall)}`);
  assertChatAuthError(r.pendingResult, 'destroyed');
  assert.equal(r.state, 'destroyed');
  assert.equal(r.hasSignal, true, 'info.signal is an AbortSignal');
  assert.equal(r.abortedBefore, false, 'signal not aborted before destroy()');
  assert.equal(r.abortedAfter, true, 'destroy() aborts the pending provider call (info.signal.aborted)');
  for (const [name, res] of Object.entries(r.later)) {
    try {
      assertChatAuthError(res, 'destroyed');
    } catch (err) {
      err.message = `auth.${name}() after destroy(): ${err.message}`;
      throw err;
    }
  }
  // on() is synchronous: "everything … later … throws, for synchronous calls, with destroyed".
  try {
    assertChatAuthError(r.on, 'destroyed');
  } catch (err) {
    err.message = `auth.on() after destroy() should throw synchronously: ${err.message}`;
    throw err;
  }
  assert.equal(r.providerCalls, 1, 'no provider call after destroy()');
  assert.equal(s.server.entries({ path: '/api/echo' }).length, 0, 'no request went out after destroy()');
});

e2e.test('13b. destroy cancels the refresh timer: no provider call after destroy()', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      const provider = async () => {
        window.providerCalls++;
        const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=4`)).json();
        return { Auth: { Token: m.token } };
      };
      const auth = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: provider, refresh: { marginSeconds: 1 } });
      T.record(auth);
      await T.waitState(auth, 'authenticated');
      auth.destroy();
      await T.sleep(5000); // past the scheduled refresh (~3 s) and the expiry (4 s)
      return { providerCalls: window.providerCalls, state: auth.state };
    },
    { origin: s.originA, cid },
  );
  assert.equal(r.providerCalls, 1, 'the scheduled refresh still ran after destroy()');
  assert.equal(r.state, 'destroyed');
});

e2e.test("14b. storage: 'session' with two instances of different credential sources: each reload resumes its own token", async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      const calls = { widget: 0, desk: 0 };
      const provider = (aud) => async () => {
        calls[aud] += 1;
        const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300&aud=${aud}`)).json();
        return { Auth: { Token: m.token } };
      };
      const open = (aud) =>
        new ChatAuth({
          apiOrigins: [origin],
          customerId: cid,
          contextProvider: provider(aud),
          storage: 'session',
          crossTab: false,
          validation: { audience: aud },
        });
      sessionStorage.clear();
      const widget = open('widget');
      await T.waitState(widget, 'authenticated');
      const widgetToken = await widget.getToken();
      // The second source logs in after the first: on one key it would replace the first's entry.
      const desk = open('desk');
      await T.waitState(desk, 'authenticated');
      const deskToken = await desk.getToken();
      widget.destroy();
      desk.destroy();
      const before = { ...calls };
      // A reload: each instance resumes from sessionStorage, without a provider call.
      const widget2 = open('widget');
      await T.waitState(widget2, 'authenticated');
      const desk2 = open('desk');
      await T.waitState(desk2, 'authenticated');
      const out = {
        widgetToken,
        deskToken,
        widget2: await widget2.getToken(),
        desk2: await desk2.getToken(),
        before,
        after: { ...calls },
        keys: Object.keys(sessionStorage),
      };
      widget2.destroy();
      desk2.destroy();
      sessionStorage.clear();
      return out;
    },
    { origin: s.originA, cid },
  );
  assert.notEqual(r.widgetToken, r.deskToken);
  assert.equal(r.widget2, r.widgetToken, 'the widget resumed its own token');
  assert.equal(r.desk2, r.deskToken, 'the desk resumed its own token');
  assert.deepEqual(r.after, r.before, 'no provider call on the reload');
  assert.equal(r.keys.filter((k) => k.startsWith('chat-auth:token')).length, 2, JSON.stringify(r.keys));
});

e2e.test('14. storage: no token in localStorage/sessionStorage/cookies by default; storage:"session" → sessionStorage only', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      const mintProvider = async () => {
        const m = await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json();
        window.tokens.push(m.token);
        return { Auth: { Token: m.token } };
      };
      window.tokens = [];
      const memory = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: mintProvider });
      await T.waitState(memory, 'authenticated');
      await T.within(memory.fetch('/api/echo'), 5000, 'fetch');
      const defaultDump = T.storageDump();
      const memoryToken = await memory.getToken();
      memory.destroy();
      localStorage.clear();
      sessionStorage.clear();

      const session = new ChatAuth({ apiOrigins: [origin], customerId: cid, contextProvider: mintProvider, storage: 'session' });
      await T.waitState(session, 'authenticated');
      await T.within(session.fetch('/api/echo'), 5000, 'fetch');
      const sessionToken = await session.getToken();
      const sessionDump = T.storageDump();
      await T.within(session.clearCustomer(), 5000, 'clearCustomer');
      const afterLogoutDump = T.storageDump();
      session.destroy();
      return { defaultDump, memoryToken, sessionDump, sessionToken, afterLogoutDump };
    },
    { origin: s.originA, cid },
  );
  const contains = (dump, token) => {
    const sig = token.split('.')[2];
    const strings = [...Object.entries(dump.local).flat(), ...Object.entries(dump.session).flat(), dump.cookie];
    return {
      local: Object.entries(dump.local)
        .flat()
        .some((v) => v.includes(sig)),
      session: Object.entries(dump.session)
        .flat()
        .some((v) => v.includes(sig)),
      cookie: dump.cookie.includes(sig),
      any: strings.some((v) => v.includes(sig)),
    };
  };
  const d = contains(r.defaultDump, r.memoryToken);
  assert.deepEqual(
    d,
    { local: false, session: false, cookie: false, any: false },
    `default storage 'memory' put the token somewhere: ${JSON.stringify(Object.keys(r.defaultDump.local))} / ${JSON.stringify(Object.keys(r.defaultDump.session))}`,
  );
  const sd = contains(r.sessionDump, r.sessionToken);
  assert.equal(sd.session, true, `storage:'session' should keep the token in sessionStorage (keys: ${JSON.stringify(Object.keys(r.sessionDump.session))})`);
  assert.equal(sd.local, false, "storage:'session' must never write the token to localStorage");
  assert.equal(sd.cookie, false, 'the token must not be in document.cookie');
  const ad = contains(r.afterLogoutDump, r.sessionToken);
  assert.equal(ad.any, false, 'clearCustomer() forgets the token: it is still in web storage');
});

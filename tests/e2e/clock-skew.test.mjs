// chat-auth e2e: a page clock 10 minutes off the issuer's (the `now` option) with 6 s tokens, and a
// provider that hands back a cached, really expired token (README "Resilience", Time).
// Contract: API.md (the public contract, outside this repo) ("Clock offset"). Backend: ./support/chat-server.mjs.
import assert from 'node:assert/strict';
import { customerId, suite } from './support/e2e.mjs';

const e2e = suite();
const TEN_MINUTES = 600_000;

/**
 * In the page: a ChatAuth whose clock runs `leadMs` ahead of the issuer (the test server), with a
 * provider minting 6 s tokens; setCustomer, then requests for `runMs`. Returns what the test checks.
 */
async function skewedSession(s, leadMs, runMs = 14_000) {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid, leadMs, runMs }) => {
      const { ChatAuth } = window.sdk;
      const provider = T.mintingProvider(cid, { ttl: 6, timed: true });
      const auth = new ChatAuth({ apiOrigins: [origin], contextProvider: provider, now: () => Date.now() + leadMs });
      const events = T.record(auth);
      const started = Date.now();
      const set = await T.attempt(() => T.within(auth.setCustomer(cid), 10_000, 'setCustomer'));
      const settledIn = Date.now() - started;
      const expiresAt = auth.expiresAt;
      const claims = auth.claims;
      const results = [];
      while (set.threw === false && Date.now() - started < runMs) {
        try {
          const res = await T.within(auth.fetch('/api/echo'), 5000, 'auth.fetch');
          results.push({ status: res.status, authorization: (await res.json()).authorization });
        } catch (e) {
          results.push({ error: T.err(e) });
        }
        await T.sleep(100);
      }
      return { set, settledIn, expiresAt, claims, results, events, providerLog: window.providerLog, state: auth.state };
    },
    { origin: s.originA, cid, leadMs, runMs },
    { timeout: runMs + 15_000 },
  );
  return { cid, ...r };
}

/** The checks shared by both directions of skew. */
function assertWorksOnTheIssuersSchedule(s, r, leadMs) {
  assert.equal(r.set.threw, false, `setCustomer resolves: ${JSON.stringify(r.set)} ${JSON.stringify(r.events)}`);
  assert.ok(r.settledIn < 5_000, `setCustomer took ${r.settledIn} ms`);
  // expiresAt is on the page clock: the real expiry plus the lead, never later.
  const realExpiry = r.claims.exp * 1000 + leadMs;
  assert.ok(r.expiresAt <= realExpiry, `expiresAt ${r.expiresAt} is after the real expiry ${realExpiry} on the page clock`);
  assert.ok(r.expiresAt > realExpiry - 2_500, `expiresAt ${r.expiresAt} is far before the real expiry ${realExpiry}`);
  const failed = r.results.filter((x) => x.error || x.status !== 200 || !x.authorization?.startsWith('Bearer '));
  assert.equal(failed.length, 0, `requests failed: ${JSON.stringify(failed.slice(0, 3))}`);
  assert.ok(r.results.length >= 40, `only ${r.results.length} requests`);
  const refreshed = r.events.filter((e) => e.name === 'refreshed');
  assert.ok(refreshed.length >= 2, `≥ 2 refreshes of 6 s tokens in 14 s: ${JSON.stringify(r.events.map((e) => e.name))}`);
  assert.ok(!r.events.some((e) => e.name === 'auth-lost'), 'no auth-lost');
  assert.equal(r.state, 'authenticated');
  // The server's view: every request carried an unexpired token of its own (the suite also checks this
  // after every test), and the scheduled refreshes came before each token's real expiry.
  const echoes = s.server.entries({ path: '/api/echo' });
  assert.ok(
    echoes.every((e) => e.tokenKnown && !e.expiredAtReceipt && e.tokenSub === r.cid),
    'a request reached the server with an expired or unknown token',
  );
  const tokens = [...new Set(echoes.map((e) => e.token))];
  assert.ok(tokens.length >= 3, `requests used ${tokens.length} tokens`);
  const scheduled = r.providerLog.filter((c) => c.reason === 'scheduled');
  for (const [i, token] of tokens.slice(0, -1).entries()) {
    const { at: first, tokenExp } = echoes.find((e) => e.token === token);
    const exp = tokenExp * 1000;
    const refresh = scheduled.find((c) => c.at >= first);
    assert.ok(refresh && refresh.at < exp, `token ${i + 1}: refresh at ${refresh?.at} not before its real expiry ${exp}`);
  }
}

e2e.test('clock: a page clock 10 min fast authenticates with fresh 6 s tokens and refreshes on the issuer’s schedule', async (s) => {
  const r = await skewedSession(s, TEN_MINUTES);
  assertWorksOnTheIssuersSchedule(s, r, TEN_MINUTES);
  // Evidence first: the first answer alone cannot tell a fast clock from a cached token; the second
  // (asked with needsRefresh) agrees with it, and from then on each answer is judged at once.
  const log = r.providerLog.map((c) => [c.reason, c.needsRefresh]);
  assert.deepEqual(
    log.slice(0, 2),
    [
      ['initial', false],
      ['retry', true],
    ],
    `provider calls: ${JSON.stringify(log)}`,
  );
  assert.ok(
    log.slice(2).every(([reason]) => reason === 'scheduled'),
    `later calls are scheduled refreshes only: ${JSON.stringify(log)}`,
  );
});

e2e.test('clock: a page clock 10 min slow authenticates with fresh 6 s tokens and refreshes on the issuer’s schedule', async (s) => {
  const r = await skewedSession(s, -TEN_MINUTES);
  assertWorksOnTheIssuersSchedule(s, r, -TEN_MINUTES);
  const log = r.providerLog.map((c) => c.reason);
  assert.deepEqual(log.slice(0, 1), ['initial']);
  assert.ok(
    log.slice(1).every((reason) => reason === 'scheduled'),
    `one call per refresh: ${JSON.stringify(log)}`,
  );
});

e2e.test('clock: a provider’s cached, really expired token is never sent; the next call asks with needsRefresh', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid }) => {
      const { ChatAuth } = window.sdk;
      // A 6 s token issued 66 s ago: expired a minute ago on the issuer's clock and the page's.
      const cached = await T.mint({ sub: cid, ttl: -60, iatOffset: -66 });
      const calls = [];
      const auth = new ChatAuth({
        apiOrigins: [origin],
        contextProvider: async (callback, needsRefresh, info) => {
          calls.push({ needsRefresh, reason: info.reason });
          if (!needsRefresh) return { Auth: { Token: cached.token } };
          const fresh = await T.mint({ sub: cid, ttl: 6 });
          return { Auth: { Token: fresh.token } };
        },
      });
      const events = T.record(auth);
      const set = await T.attempt(() => T.within(auth.setCustomer(cid), 10_000, 'setCustomer'));
      const token = await auth.getToken();
      const res = await auth.fetch('/api/echo');
      const echo = await res.json();
      auth.destroy();
      // A provider that only ever has the stale token: refused every time, never sent.
      const stuck = new ChatAuth({
        apiOrigins: [origin],
        refresh: { maxRetries: 2 },
        contextProvider: async (callback, needsRefresh, info) => {
          calls.push({ stuck: true, needsRefresh, reason: info.reason });
          return { Auth: { Token: cached.token } };
        },
      });
      const stuckEvents = T.record(stuck, { store: false });
      const stuckSet = await T.attempt(() => T.within(stuck.setCustomer(cid), 15_000, 'setCustomer (stale only)'));
      return { cached: cached.token, set, token, echo, calls, events, stuckSet, stuckEvents, stuckState: stuck.state };
    },
    { origin: s.originA, cid },
    { timeout: 40_000 },
  );
  assert.equal(r.set.threw, false, `setCustomer: ${JSON.stringify(r.set)}`);
  assert.notEqual(r.token, r.cached, 'the session holds the fresh token');
  assert.equal(r.echo.authorization, `Bearer ${r.token}`);
  const first = r.calls.filter((c) => !c.stuck);
  assert.deepEqual(
    first.map((c) => [c.reason, c.needsRefresh]),
    [
      ['initial', false],
      ['retry', true],
    ],
    'refused once, then asked with needsRefresh',
  );
  const refused = r.events.filter((e) => e.name === 'refresh-failed').map((e) => e.detail.code);
  assert.deepEqual(refused, ['expired']);
  // The stale-only provider: every call after the first says needsRefresh; the session gives up with
  // `expired` and sends requests anonymously rather than with the stale token.
  const stuck = r.calls.filter((c) => c.stuck);
  assert.equal(stuck.length, 3, `1 + maxRetries calls: ${JSON.stringify(stuck)}`);
  assert.ok(
    stuck.slice(1).every((c) => c.needsRefresh),
    `needsRefresh after the first refusal: ${JSON.stringify(stuck)}`,
  );
  assert.equal(r.stuckSet.threw, true);
  assert.equal(r.stuckSet.code, 'expired', JSON.stringify(r.stuckSet));
  assert.equal(r.stuckState, 'expired');
  // The cached token never reached the server.
  const sent = s.server.log.filter((e) => e.token === r.cached);
  assert.equal(sent.length, 0, `the cached expired token was sent ${sent.length} time(s)`);
});

// chat-auth e2e: requests are bound to the customer they were made for. A customer change
// (setCustomer with another id, clearCustomer) while requests wait or are on the wire never hands
// the next customer's token to them: waiting ones reject with `not_authenticated`, and a 401 to a
// request sent as the customer who left is handed back as it is (no refresh, no replay).
// Contract: API.md (the public contract, outside this repo). Backend: ./support/chat-server.mjs.
import assert from 'node:assert/strict';
import { Checks, customerId, suite } from './support/e2e.mjs';

const e2e = suite();

e2e.test("S1. setCustomer(Y) while setCustomer(X) and X's requests wait: X's promises reject not_authenticated, X's POST is never sent as Y", async (s) => {
  const x = customerId();
  const y = customerId();
  const r = await s.eval(
    async ({ origin, x, y }) => {
      const { ChatAuth } = window.sdk;
      const auth = new ChatAuth({ apiOrigins: [origin], crossTab: false });
      // X's provider never answers: X's requests wait for X's first token.
      const pX = T.attempt(() => auth.setCustomer(x, () => new Promise(() => {})));
      const fX = T.attempt(async () => T.read(await auth.fetch('/api/echo?case=queued-for-X', { method: 'POST', body: 'message from X' })));
      const tX = T.attempt(() => auth.getToken());
      const hX = T.attempt(() => auth.authHeaders('/api/echo'));
      const pY = await T.attempt(() => T.within(auth.setCustomer(y, T.mintingProvider(y)), 10_000, 'setCustomer(Y)'));
      const settle = (p, what) => T.within(p, 5_000, what);
      const out = {
        pY,
        pX: await settle(pX, "setCustomer(X)'s promise"),
        fX: await settle(fX, "X's fetch"),
        tX: await settle(tX, "X's getToken"),
        hX: await settle(hX, "X's authHeaders"),
      };
      // Y's own request goes out as Y.
      out.fY = await T.attempt(async () => T.read(await auth.fetch('/api/echo?case=for-Y', { method: 'POST', body: 'message from Y' })));
      out.customerId = auth.customerId;
      out.state = auth.state;
      return out;
    },
    { origin: s.originA, x, y },
  );
  const c = new Checks();
  c.check('', () => assert.equal(r.pY.threw, false, `setCustomer(Y): ${JSON.stringify(r.pY)}`));
  for (const [name, got] of Object.entries({ 'setCustomer(X)': r.pX, "X's fetch": r.fX, "X's getToken": r.tX, "X's authHeaders": r.hX })) {
    c.check('', () => assert.equal(got.threw, true, `${name} must reject (X was never authenticated): ${JSON.stringify(got)}`));
    c.check('', () => assert.equal(got.isChatAuthError, true, `${name}: a ChatAuthError`));
    c.check('', () => assert.equal(got.code, 'not_authenticated', `${name}: code`));
    c.check('', () => assert.match(String(got.message), /customer changed/, `${name}: message`));
  }
  c.check('', () => assert.equal(r.customerId, y));
  c.check('', () => assert.equal(r.state, 'authenticated'));
  c.check('', () => assert.equal(r.fY.threw, false, `Y's fetch: ${JSON.stringify(r.fY)}`));
  const forX = s.server.entries({ path: '/api/echo' }).filter((e) => e.url.includes('queued-for-X'));
  c.check('', () =>
    assert.deepEqual(
      forX.map((e) => e.tokenSub),
      [],
      "X's queued POST is never sent (least of all with Y's token)",
    ),
  );
  const forY = s.server.entries({ path: '/api/echo' }).filter((e) => e.url.includes('for-Y'));
  c.check('', () =>
    assert.deepEqual(
      forY.map((e) => e.tokenSub),
      [y],
      "Y's POST carries Y's token",
    ),
  );
  c.done();
});

e2e.test("S2. a request sent as X and refused (401) after clearCustomer + setCustomer(Y) is handed back: never replayed with Y's token", async (s) => {
  const x = customerId();
  const y = customerId();
  const r = await s.eval(
    async ({ origin, x, y }) => {
      const { ChatAuth } = window.sdk;
      // Hold X's request on the way (the page's fetch is the one chat-auth calls) until Y is in.
      const pageFetch = window.fetch;
      let open;
      const gate = new Promise((res) => (open = res));
      window.fetch = async (input, init) => {
        if (String(input).includes('case=sent-by-X')) await gate;
        return pageFetch(input, init);
      };
      const auth = new ChatAuth({ apiOrigins: [origin], crossTab: false });
      await T.within(auth.setCustomer(x, T.mintingProvider(x)), 10_000, 'setCustomer(X)');
      const tokX = await auth.getToken();
      const slow = T.attempt(async () => T.read(await auth.fetch('/api/protected?case=sent-by-X', { method: 'POST', body: 'message from X' })));
      await T.within(auth.clearCustomer(), 5_000, 'clearCustomer');
      await T.within(auth.setCustomer(y, T.mintingProvider(y)), 10_000, 'setCustomer(Y)');
      const providerCallsForY = window.providerCalls;
      await T.revoke(tokX); // X logged out: the server refuses X's token
      open();
      const res = await T.within(slow, 10_000, "X's request");
      await T.sleep(300); // a replay, had there been one, shows up here
      window.fetch = pageFetch;
      return { res, providerCallsForY, providerCalls: window.providerCalls, state: auth.state, customerId: auth.customerId };
    },
    { origin: s.originA, x, y },
  );
  const c = new Checks();
  c.check('', () => assert.equal(r.res.threw, false, `X's request: ${JSON.stringify(r.res)}`));
  c.check('', () => assert.equal(r.res.value?.status, 401, 'the 401 is handed back as it is'));
  c.check('', () => assert.equal(r.providerCalls, r.providerCallsForY, 'no refresh for a customer who left'));
  c.check('', () => assert.equal(r.state, 'authenticated'));
  c.check('', () => assert.equal(r.customerId, y));
  const sent = s.server.entries({ path: '/api/protected' }).filter((e) => e.url.includes('sent-by-X'));
  c.check('', () =>
    assert.deepEqual(
      sent.map((e) => [e.method, e.tokenSub, e.body]),
      [['POST', x, 'message from X']],
      "X's request reached the server once, as X, and was never replayed with Y's token",
    ),
  );
  c.done();
});

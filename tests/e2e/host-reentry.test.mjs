// chat-auth e2e: the browser host when the page's code runs inside one of its effects — a provider
// call started during the previous provider run keeps its own AbortSignal (js/chat_auth_host.js, `#callProvider`).
// Contract: API.md (the public contract, outside this repo). Backend: ./support/chat-server.mjs.
import assert from 'node:assert/strict';
import { customerId, suite } from './support/e2e.mjs';

const e2e = suite();

// A provider whose first call answers synchronously and whose later calls never answer; an
// `authenticated` handler forces a refresh, so call 2 starts while call 1's provider still runs.
const nestedCall = async ({ origin, cid, timeoutSeconds, destroy }) => {
  const { ChatAuth } = window.sdk;
  const token = (await (await fetch(`/control/mint?sub=${encodeURIComponent(cid)}&ttl=300`)).json()).token;
  const signals = [];
  const provider = (callback, needsRefresh, info) => {
    signals.push(info.signal);
    if (signals.length === 1) callback({ Auth: { Token: token } });
  };
  const auth = new ChatAuth({
    apiOrigins: [origin],
    customerId: cid,
    contextProvider: provider,
    refresh: { providerTimeoutSeconds: timeoutSeconds, maxRetries: 0 },
  });
  let forced = null;
  auth.on('authenticated', () => {
    forced ??= T.attempt(() => auth.getToken({ forceRefresh: true }));
  });
  await T.waitFor(() => signals.length >= 2, { timeout: 5000, what: 'the second provider call' });
  if (destroy) auth.destroy();
  await T.waitFor(() => signals[1].aborted, { timeout: 3000, what: "the second call's signal to abort" }).catch(() => {});
  const settled = await T.within(forced, 5000, 'getToken({ forceRefresh: true })');
  auth.destroy();
  return { aborted: signals.map((s) => s.aborted), settled };
};

e2e.test('a provider call started during the previous provider run is aborted on its timeout', async (s) => {
  const r = await s.eval(nestedCall, { origin: s.originA, cid: customerId(), timeoutSeconds: 0.5, destroy: false });
  assert.equal(r.aborted[1], true, `the second call's signal did not abort on its timeout: ${JSON.stringify(r)}`);
  assert.equal(r.settled.threw, true, 'getToken({ forceRefresh }) rejects when the provider times out');
  assert.equal(r.settled.code, 'provider_timeout');
});

e2e.test('destroy() aborts a provider call started during the previous provider run', async (s) => {
  const r = await s.eval(nestedCall, { origin: s.originA, cid: customerId(), timeoutSeconds: 15, destroy: true });
  assert.equal(r.aborted[1], true, `destroy() did not abort the second call's signal: ${JSON.stringify(r)}`);
  assert.equal(r.settled.code, 'destroyed');
});

// DPoP (RFC 9449, option `dpop`) in Chromium: the demo (`?dpop=1`) against the real reference
// backend (server/, in-memory SQLite, 4 s tokens, 2 s nonces): every API request and refresh grant
// carries a proof and the token is bound to the browser's key through three token lifetimes while
// the server's nonce rotates; a stolen access token or refresh token is refused without the key;
// the private key is not extractable and every tab uses the same one; nothing reaches another origin.
import assert from 'node:assert/strict';
import { createHash, webcrypto } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { launchBrowser, newPage, requireBuild } from './harness.mjs';
import { openDemoPage } from './support/demo-page.mjs';
import { startDemoServer } from './support/demo-server.mjs';

const TTL_S = 4;
const NONCE_S = 2;

let browser;
let srv;

before(async () => {
  if (!process.env.CHAT_AUTH_E2E_PKG) requireBuild();
  srv = await startDemoServer({ tokenTtl: TTL_S, env: { CHAT_DPOP_NONCE_TTL: String(NONCE_S) } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const code = await srv?.close();
  assert.equal(code, 0, 'the server stops cleanly on SIGTERM');
});

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const decode = (seg) => JSON.parse(Buffer.from(seg, 'base64url').toString('utf8'));
const thumbprint = ({ x, y }) =>
  b64url(
    createHash('sha256')
      .update(JSON.stringify({ crv: 'P-256', kty: 'EC', x, y }))
      .digest(),
  );

/** Every request of `page` to the demo server, with its headers, and every token response. */
function record(page) {
  const seen = { requests: [], logins: [], grants: [] };
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.origin + '/' !== srv.url) return;
    seen.requests.push({ method: r.method(), path: url.pathname, headers: r.headers(), at: Date.now() });
  });
  page.on('response', async (r) => {
    const path = new URL(r.url()).pathname;
    if (path !== '/auth/login' && path !== '/oauth/token') return;
    const body = await r.json().catch(() => null);
    const entry = { status: r.status(), body, nonce: r.headers()['dpop-nonce'] };
    (path === '/auth/login' ? seen.logins : seen.grants).push(entry);
  });
  return seen;
}

async function openDpopPage(context) {
  const page = context ? await context.newPage() : null;
  if (page) {
    await page.goto(srv.url + '?dpop=1');
    await page.waitForSelector('body[data-ready="true"]');
    return page;
  }
  return openDemoPage(browser, srv.url + '?dpop=1');
}

async function login(page, user = 'alice', password = 'wonderland') {
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.click('#login');
  await page.waitForFunction(() => window.chatAuth.state === 'authenticated');
  await page.waitForSelector('#user-view:not([hidden])');
}

async function sendMessage(page, text) {
  await page.fill('#message', text);
  await page.click('#send');
  await page.waitForFunction((t) => [...document.querySelectorAll('.bubble.visitor p')].some((p) => p.textContent === t), text);
}

/** A proof by `key` (a node WebCrypto pair) for `method` `url`: what a thief with its own key sends. */
async function proofBy(key, method, url, { token, nonce } = {}) {
  const jwk = await webcrypto.subtle.exportKey('jwk', key.publicKey);
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } };
  const claims = { jti: b64url(webcrypto.getRandomValues(new Uint8Array(16))), htm: method, htu: url, iat: Math.floor(Date.now() / 1000) };
  if (token) claims.ath = b64url(createHash('sha256').update(token).digest());
  if (nonce) claims.nonce = nonce;
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, new TextEncoder().encode(input));
  return `${input}.${b64url(sig)}`;
}

const thiefKey = () => webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);

test('DPoP through three token lifetimes: every request proves, the nonce rotates, nothing fails', async () => {
  const page = await openDpopPage();
  const seen = record(page);
  await login(page);
  const authenticatedAt = Date.now();
  const login0 = seen.logins[0];
  assert.equal(login0.status, 200);
  assert.equal(login0.body.token_type, 'DPoP', 'the login was bound by its proof');
  const loginRequest = seen.requests.find((r) => r.path === '/auth/login');
  assert.ok(loginRequest.headers.dpop, 'the login request carries a proof');
  assert.equal(loginRequest.headers.authorization, undefined);
  const loginProof = loginRequest.headers.dpop.split('.');
  const key = decode(loginProof[0]).jwk;
  const jkt = thumbprint(key);
  assert.equal(decode(loginProof[1]).htu, `${srv.url}auth/login`);

  let refreshed = 0;
  await page.exposeFunction('__refreshed', () => refreshed++);
  await page.evaluate(() => window.chatAuth.on('refreshed', () => window.__refreshed()));
  const sent = [];
  const deadline = Date.now() + 3 * TTL_S * 1000 + 1500;
  for (let i = 0; Date.now() < deadline; i++) {
    const text = `dpop message ${i}`;
    await sendMessage(page, text);
    sent.push(text);
    await page.waitForTimeout(700);
  }
  assert.ok(refreshed >= 3, `three token lifetimes: ${refreshed} refreshes`);
  assert.deepEqual(await page.$$eval('.bubble.visitor p', (ps) => ps.map((p) => p.textContent).filter((t) => t.startsWith('dpop message'))), sent);

  const claims = await page.evaluate(() => window.chatAuth.claims);
  assert.equal(claims.cnf.jkt, jkt, "the token is bound to the page's key");
  assert.match(await page.textContent('#binding'), /^DPoP · key /);

  // The page polls its history every 2 s from load: a poll that went out before the login landed is
  // anonymous, proved but with no token to bind (no `ath`). Every request after it carries the token.
  const api = seen.requests.filter((r) => r.path.startsWith('/api/'));
  const anonymous = api.filter((r) => r.at < authenticatedAt && r.headers.authorization === undefined);
  for (const r of anonymous) {
    assert.ok(r.headers.dpop, `${r.method} ${r.path} before the login carries a proof`);
    const c = decode(r.headers.dpop.split('.')[1]);
    assert.equal(c.htm, r.method);
    assert.equal(c.htu, srv.url + r.path.slice(1));
    assert.equal(c.ath, undefined, 'an anonymous request proves no token');
  }
  const authenticated = api.filter((r) => !anonymous.includes(r));
  assert.ok(authenticated.length >= 10, `API requests: ${authenticated.length}`);
  const nonces = new Set();
  for (const r of authenticated) {
    assert.match(r.headers.authorization, /^DPoP /, `${r.method} ${r.path} carries a DPoP token`);
    const [h, p] = r.headers.dpop.split('.');
    assert.equal(thumbprint(decode(h).jwk), jkt, 'one key for every proof');
    const c = decode(p);
    assert.equal(c.htm, r.method);
    assert.equal(c.htu, srv.url + r.path.slice(1));
    assert.equal(c.ath, b64url(createHash('sha256').update(r.headers.authorization.slice(5)).digest()));
    if (c.nonce) nonces.add(c.nonce);
  }
  assert.ok(nonces.size >= 3, `the server's nonce rotated: ${nonces.size} nonces used`);
  const grants = seen.requests.filter((r) => r.path === '/oauth/token');
  assert.ok(grants.length >= 3);
  for (const g of grants) {
    const c = decode(g.headers.dpop.split('.')[1]);
    assert.equal(c.htu, `${srv.url}oauth/token`);
    assert.equal(c.ath, undefined, 'a refresh grant proof has no ath');
  }
  for (const g of seen.grants.filter((g) => g.status === 200)) assert.equal(g.body.token_type, 'DPoP');
  // A stale nonce was answered with use_dpop_nonce and retried once; no proof was refused for any
  // other reason (a token that expired on the wire under load is the 401 rule's, not DPoP's).
  const refusals = srv
    .requests()
    .filter((r) => r.status === 401 && r.path.startsWith('/api/') && r.bearer.startsWith('dpop_') && r.bearer !== 'dpop_nonce_required');
  assert.deepEqual(refusals, [], 'no API request refused for DPoP except for a nonce');
  assert.ok(
    seen.grants.every((g) => g.status === 200 || g.body?.error === 'use_dpop_nonce'),
    JSON.stringify(seen.grants.map((g) => g.status)),
  );
  await page.context().close();
});

test('a stolen access token is refused without the key: as Bearer, with another key, or replayed', async () => {
  const page = await openDpopPage();
  const seen = record(page);
  await login(page);
  await sendMessage(page, 'hello with a bound token');
  const last = seen.requests.filter((r) => r.path === '/api/messages').at(-1);
  const token = last.headers.authorization.slice(5);
  const url = `${srv.url}api/messages`;
  // The page's own proof, captured and sent again at once (its nonce, from the answer just before,
  // is still current): refused as a replay, and only as one (review 18 §9.1).
  const replayed = await fetch(url, { method: last.method, headers: { Authorization: last.headers.authorization, DPoP: last.headers.dpop } });
  assert.equal(replayed.status, 401);
  assert.match(replayed.headers.get('www-authenticate'), /error_description="dpop_replayed"/);
  const bearer = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(bearer.status, 401);
  assert.match(bearer.headers.get('www-authenticate'), /dpop_bound/);
  // A thief's own key, with the server's current nonce: not the key the token is bound to.
  const probe = await fetch(url, { headers: { Authorization: `DPoP ${token}`, DPoP: await proofBy(await thiefKey(), 'GET', url, { token }) } });
  const nonce = probe.headers.get('dpop-nonce');
  assert.ok(nonce);
  const other = await fetch(url, { headers: { Authorization: `DPoP ${token}`, DPoP: await proofBy(await thiefKey(), 'GET', url, { token, nonce }) } });
  assert.equal(other.status, 401);
  assert.match(other.headers.get('www-authenticate'), /invalid_dpop_proof.*dpop_key_mismatch/);
  // The page itself goes on.
  await sendMessage(page, 'still chatting');
  await page.context().close();
});

test('a stolen refresh token is useless without the key, and is not spent by the thief', async () => {
  const page = await openDpopPage();
  const seen = record(page);
  await login(page);
  const refreshToken = seen.logins[0].body.refresh_token;
  const tokenUrl = `${srv.url}oauth/token`;
  const grant = () => new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'chat-demo' });
  const bare = await fetch(tokenUrl, { method: 'POST', body: grant() });
  assert.equal(bare.status, 400);
  assert.equal((await bare.json()).error, 'invalid_dpop_proof');
  const nonce = bare.headers.get('dpop-nonce');
  const key = await thiefKey();
  const stolen = await fetch(tokenUrl, { method: 'POST', body: grant(), headers: { DPoP: await proofBy(key, 'POST', tokenUrl, { nonce }) } });
  assert.equal(stolen.status, 400);
  assert.equal((await stolen.json()).error, 'invalid_dpop_proof');
  // The page's refresh (with the same refresh token, unspent) still works.
  const rotated = page.waitForResponse((r) => new URL(r.url()).pathname === '/oauth/token' && r.status() === 200);
  await page.evaluate(() => window.chatAuth.getToken({ forceRefresh: true }));
  const answer = await (await rotated).json();
  assert.equal(answer.token_type, 'DPoP');
  assert.notEqual(answer.refresh_token, refreshToken);
  assert.equal(await page.evaluate(() => window.chatAuth.state), 'authenticated');
  await page.context().close();
});

test('the private key is not extractable, every tab proves with the same key, a logout replaces it', async () => {
  // Two tabs of a fresh profile (no key yet) start at once: both make a key, one is kept (the
  // race keepPair's one transaction exists for; review 18 §9.2).
  const context = await browser.newContext();
  const [first, second] = await Promise.all([openDpopPage(context), openDpopPage(context)]);
  const seenA = record(first);
  const seenB = record(second);
  await login(first);
  await second.waitForFunction(() => window.chatAuth.state === 'authenticated' || window.chatAuth.customerId === null);
  const report = await first.evaluate(async () => {
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open('chat-auth-dpop');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const names = db.objectStoreNames.length ? [...db.objectStoreNames] : [];
    const all = await new Promise((resolve) => {
      const r = db.transaction('keys').objectStore('keys').getAll();
      r.onsuccess = () => resolve(r.result);
    });
    db.close();
    const out = { names, pairs: all.length };
    const pair = all[0];
    out.extractable = pair.privateKey.extractable;
    out.type = pair.privateKey.type;
    out.usages = pair.privateKey.usages;
    for (const format of ['jwk', 'pkcs8']) {
      try {
        await crypto.subtle.exportKey(format, pair.privateKey);
        out[format] = 'exported';
      } catch (e) {
        out[format] = e.name;
      }
    }
    return out;
  });
  assert.deepEqual(report.names, ['keys']);
  assert.equal(report.pairs, 1, 'one key pair for the configuration');
  assert.equal(report.type, 'private');
  assert.equal(report.extractable, false);
  assert.deepEqual(report.usages, ['sign']);
  assert.equal(report.jwk, 'InvalidAccessError');
  assert.equal(report.pkcs8, 'InvalidAccessError');
  // Both tabs prove with the one key.
  await first.evaluate(() => window.chatAuth.fetch('/api/messages'));
  await second.evaluate(() => window.chatAuth.fetch('/api/messages'));
  const keyOf = (seen) =>
    thumbprint(
      decode(
        seen.requests
          .filter((r) => r.headers.dpop)
          .at(-1)
          .headers.dpop.split('.')[0],
      ).jwk,
    );
  const alicesKey = keyOf(seenA);
  assert.equal(keyOf(seenB), alicesKey);
  // A logout replaces the key in both tabs (the next customer is not linked to the last one by
  // its thumbprint), and the tabs still share one key (the second tab has no customer: its
  // requests are anonymous, with proofs).
  await first.click('#logout');
  await first.waitForFunction(() => window.chatAuth.customerId === null);
  await second.waitForFunction(() => window.chatAuth.customerId === null);
  await login(first, 'bob', 'builder');
  await first.evaluate(() => window.chatAuth.fetch('/api/messages'));
  await second.evaluate(() => window.chatAuth.fetch('/api/messages'));
  const bobsKey = keyOf(seenA);
  assert.notEqual(bobsKey, alicesKey, 'a new key after the logout');
  assert.equal(keyOf(seenB), bobsKey, 'the tabs agree on the new key');
  const binding = decode(seenA.logins.at(-1).body.access_token.split('.')[1]).cnf?.jkt;
  assert.equal(binding, bobsKey, 'the new login is bound to the new key');
  await context.close();
});

test('no proof and no token reach an origin outside apiOrigins', async () => {
  const arrived = [];
  const foreign = createServer((req, res) => {
    arrived.push(req.headers);
    res.writeHead(200, { 'Access-Control-Allow-Origin': '*', 'Content-Type': 'text/plain' });
    res.end('ok');
  });
  await new Promise((resolve) => foreign.listen(0, '127.0.0.1', resolve));
  const foreignUrl = `http://127.0.0.1:${foreign.address().port}/collect?x=1`;
  try {
    // The demo's CSP (connect-src 'self') would stop the request before it left: bypassed, so the
    // foreign server sees exactly what the SDK sends.
    const page = await newPage(browser, { bypassCSP: true });
    await page.goto(srv.url + '?dpop=1');
    await page.waitForSelector('body[data-ready="true"]');
    await login(page);
    const status = await page.evaluate(async (u) => (await window.chatAuth.fetch(u, { method: 'POST', body: 'x' })).status, foreignUrl);
    assert.equal(status, 200);
    const headers = await page.evaluate((u) => window.chatAuth.authHeaders(u, { method: 'POST' }), foreignUrl);
    assert.deepEqual(headers, {});
    assert.equal(arrived.length, 1);
    assert.equal(arrived[0].authorization, undefined);
    assert.equal(arrived[0].dpop, undefined);
    assert.equal(arrived[0]['chat-anonymous-id'], undefined);
    await page.context().close();
  } finally {
    await new Promise((resolve) => foreign.close(resolve));
  }
});

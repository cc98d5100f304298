// The demo (www/) against the real reference backend (server/, in-memory
// SQLite, 5 s tokens) in Chromium: anonymous chat → login → merged history,
// chatting through several token lifetimes without a failed send or an
// expired token on the wire, refresh-token reuse detection, logout, a second
// context with the same history, the ASAPP-style page, a strict CSP with no
// violation, and logs without tokens. Saves target/artifacts/demo.png.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, REPO_ROOT, requireBuild } from './harness.mjs';
import { cspViolations, openDemoPage } from './support/demo-page.mjs';
import { startDemoServer } from './support/demo-server.mjs';
import { CSP } from '../../scripts/serve.mjs';

const TTL_S = 5;
const ARTIFACTS = join(REPO_ROOT, 'target', 'artifacts');

let browser;
let srv;
/** Every access and refresh token the server handed to any page. */
const secrets = new Set();
/** Every CSP violation any page reported. */
const violations = [];

before(async () => {
  if (!process.env.CHAT_AUTH_E2E_PKG) requireBuild();
  srv = await startDemoServer({ tokenTtl: TTL_S });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const code = await srv?.close();
  assert.equal(code, 0, 'the server stops cleanly on SIGTERM');
});

/** A new page (own context) that records CSP violations and the tokens it receives. */
function openPage(path = '') {
  return openDemoPage(browser, srv.url + path, {
    prepare: (page) =>
      page.on('response', async (r) => {
        if (!/\/(auth\/login|oauth\/token)$/.test(new URL(r.url()).pathname)) return;
        const body = await r.json().catch(() => null);
        for (const k of ['access_token', 'refresh_token']) if (body?.[k]) secrets.add(body[k]);
      }),
  });
}

async function cspCheck(page) {
  violations.push(...(await cspViolations(page)));
}

const state = (page) => page.evaluate(() => window.chatAuth.state);

async function login(page, user, password) {
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

const visitorTexts = (page) => page.$$eval('.bubble.visitor p', (ps) => ps.map((p) => p.textContent));

test('anonymous chat, login, merged history, and chatting through three token lifetimes', async () => {
  const page = await openPage();
  assert.equal(await state(page), 'anonymous');
  await sendMessage(page, 'Hi, my parcel has not arrived');
  await page.waitForSelector('.bubble.agent');
  await sendMessage(page, 'Order 1042, placed last week');
  const anonymousId = await page.evaluate(() => window.chatAuth.anonymousId);

  const since = srv.logs.length;
  await login(page, 'alice', 'wonderland');
  // The anonymous messages are now the customer's, in order, exactly once.
  await page.waitForFunction(() => document.querySelector('#chat-who').textContent.includes('Alice'));
  assert.deepEqual(await visitorTexts(page), ['Hi, my parcel has not arrived', 'Order 1042, placed last week']);
  const folds = srv.logs.slice(since).filter((l) => l.folded);
  assert.equal(folds.length, 1, 'folded once');
  assert.equal(folds[0].folded, 4, 'two messages and two replies folded');
  assert.equal(await page.evaluate(() => window.chatAuth.anonymousId), anonymousId);

  // Chat for more than three token lifetimes (polling runs too).
  const sent = [];
  const until = Date.now() + (3 * TTL_S + 2) * 1000;
  for (let i = 1; Date.now() < until; i++) {
    const text = `Message ${i} while the token rotates`;
    await sendMessage(page, text);
    sent.push(text);
    await page.waitForTimeout(700);
  }
  const refreshed = await page.$$eval('#events li b', (bs) => bs.filter((b) => b.textContent === 'refreshed').length);
  assert.ok(refreshed >= 3, `at least three refreshes, saw ${refreshed}`);
  const texts = await visitorTexts(page);
  assert.deepEqual(texts.slice(2), sent, 'every message arrived, in order');

  const chat = srv.requests({ path: '/api/messages' }).filter((r) => r.bearer !== 'none');
  assert.ok(chat.length >= sent.length, 'authenticated chat requests were made');
  assert.deepEqual(srv.requests({ bearer: 'expired' }), [], 'no request carried an expired token');
  const failedSends = srv.requests({ path: '/api/messages', method: 'POST' }).filter((r) => r.status >= 400);
  assert.deepEqual(failedSends, [], 'no send failed');
  assert.deepEqual(await page.$$eval('#events li.bad', (lis) => lis.map((li) => li.textContent)), [], 'no failure in the event log');

  await cspCheck(page);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.setViewportSize({ width: 1280, height: 820 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(ARTIFACTS, 'demo.png') });
  await page.context().close();
});

test('a second browser context logged in as the same customer sees the same history', async () => {
  const a = await openPage();
  await sendMessage(a, 'Guest question from the laptop');
  await login(a, 'bob', 'builder');
  await sendMessage(a, 'Logged in on the laptop');

  const b = await openPage();
  await login(b, 'bob', 'builder');
  await b.waitForFunction(() => document.querySelectorAll('.bubble.visitor').length >= 2);
  assert.deepEqual(await visitorTexts(b), ['Guest question from the laptop', 'Logged in on the laptop']);
  // A message from one device shows up on the other (polling).
  await sendMessage(b, 'Now from the phone');
  await a.waitForFunction(() => [...document.querySelectorAll('.bubble.visitor p')].some((p) => p.textContent === 'Now from the phone'));
  assert.deepEqual(await visitorTexts(a), await visitorTexts(b));
  const customers = await Promise.all([a, b].map((p) => p.evaluate(() => window.chatAuth.customerId)));
  assert.equal(customers[0], customers[1]);
  await cspCheck(a);
  await cspCheck(b);
  await a.context().close();
  await b.context().close();
});

test('replaying a rotated refresh token revokes the session; the page asks to log in again', async () => {
  const page = await openPage();
  await login(page, 'carol', 'singing');
  // Wait for the SDK's first rotation, so the page's first refresh token is spent.
  await page.waitForFunction(() => [...document.querySelectorAll('#events li b')].some((b) => b.textContent === 'refreshed'), null, {
    timeout: (TTL_S + 5) * 1000,
  });
  await page.click('#replay');
  await page.waitForFunction(() => [...document.querySelectorAll('#events li')].some((li) => li.textContent.includes('refused: invalid_grant')));
  assert.ok(
    srv.logs.some((l) => l.event === 'refresh_reuse'),
    'the server logged the reuse',
  );
  // The SDK's own token is revoked with the session: its next request or
  // refresh fails, and the page asks the visitor to log in again.
  await page.waitForFunction(() => window.chatAuth.state === 'expired', null, { timeout: 20_000 });
  await page.waitForSelector('#login-view:not([hidden])');
  assert.match(await page.textContent('#login-reason'), /session ended/i);
  await cspCheck(page);
  await page.context().close();
});

test('logout revokes the session and starts a new guest conversation', async () => {
  const page = await openPage();
  await login(page, 'alice', 'wonderland');
  const before = await page.evaluate(() => ({ anon: window.chatAuth.anonymousId, customer: window.chatAuth.customerId }));
  await page.waitForFunction(() => document.querySelectorAll('.bubble.visitor').length > 0);
  await page.click('#logout');
  await page.waitForFunction(() => window.chatAuth.state === 'logged_out');
  await page.waitForSelector('#login-view:not([hidden])');
  const afterLogout = await page.evaluate(() => ({ anon: window.chatAuth.anonymousId, customer: window.chatAuth.customerId }));
  assert.notEqual(afterLogout.anon, before.anon, 'a new anonymous id');
  assert.equal(afterLogout.customer, null);
  assert.deepEqual(await visitorTexts(page), [], "the customer's history is not shown any more");
  assert.ok(srv.logs.some((l) => l.event === 'logout' && l.customer === before.customer));
  const since = srv.logs.length;
  await sendMessage(page, 'A guest again');
  const sends = srv.requests({ path: '/api/messages', method: 'POST' }).filter((r) => srv.logs.indexOf(r) >= since);
  assert.deepEqual(
    sends.map((r) => r.bearer),
    ['none'],
  );
  await cspCheck(page);
  await page.context().close();
});

test('the ASAPP-style page logs in through the facade and chats', async () => {
  const page = await openPage('asapp.html');
  const stateOf = () => page.evaluate(() => window.ASAPP('getState'));
  assert.deepEqual(await stateOf(), { hasContext: true, hasCustomerId: false, isLoggingIn: false, isAuthenticated: false });
  await page.fill('#username', 'alice');
  await page.fill('#password', 'wonderland');
  await page.click('#login');
  await page.waitForFunction(() => window.ASAPP('getState').isAuthenticated);
  // Alice's history from the first test is here too: one history everywhere.
  await page.waitForFunction(() => document.querySelectorAll('.bubble.visitor').length > 0);
  assert.ok((await visitorTexts(page)).includes('Order 1042, placed last week'));
  await page.fill('#message', 'Hello from the ASAPP page');
  await page.click('#send');
  await page.waitForFunction(() => [...document.querySelectorAll('.bubble.visitor p')].some((p) => p.textContent === 'Hello from the ASAPP page'));
  // The page's own ContextProvider refreshes across a token lifetime.
  const refreshesBefore = srv.logs.filter((l) => l.event === 'refresh').length;
  await page.waitForTimeout(TTL_S * 1000 + 500);
  await page.fill('#message', 'Still here after a refresh');
  await page.click('#send');
  await page.waitForFunction(() => [...document.querySelectorAll('.bubble.visitor p')].some((p) => p.textContent === 'Still here after a refresh'));
  assert.ok(srv.logs.filter((l) => l.event === 'refresh').length > refreshesBefore, 'the provider refreshed');
  assert.equal((await stateOf()).isAuthenticated, true);
  await cspCheck(page);
  await page.context().close();
});

test('no CSP violation on any page, no expired token on the wire, and no token in the server log', async () => {
  assert.deepEqual(violations, []);
  // The detector works: an inline style attribute is a violation under this CSP.
  const page = await openPage();
  await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<div style="color: red">x</div>'));
  await page.waitForFunction(() => (window.__cspViolations || []).length > 0);
  assert.match((await cspViolations(page))[0], /^style-src/);
  await page.context().close();
  assert.deepEqual(srv.requests({ bearer: 'expired' }), []);
  assert.ok(secrets.size >= 10, `tokens seen: ${secrets.size}`);
  const log = srv.logText();
  for (const s of secrets) {
    assert.ok(!log.includes(s), 'a token is in the server log');
    assert.ok(!log.includes(s.split('.').pop()), 'a token signature is in the server log');
  }
});

test('one CSP: the backend and `node scripts/serve.mjs` send server/content-security-policy.txt', async () => {
  const file = readFileSync(join(REPO_ROOT, 'server', 'content-security-policy.txt'), 'utf8').trim();
  assert.equal(CSP, file, 'serve.mjs exports the file');
  const backend = await fetch(srv.url);
  assert.equal(backend.headers.get('content-security-policy'), file, 'the backend sends the file');
  // The static demo server, started as `npm run serve` starts it (a free port).
  const child = spawn(process.execPath, ['scripts/serve.mjs'], { cwd: REPO_ROOT, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('scripts/serve.mjs did not start within 10 s')), 10_000);
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const m = /chat-auth demo: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on('exit', (code) => reject(new Error(`scripts/serve.mjs exited (${code}): ${out}`)));
    });
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-security-policy'), file, 'serve.mjs sends the file with the demo page');
  } finally {
    child.kill('SIGTERM');
  }
});

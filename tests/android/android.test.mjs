// The Kotlin SDK (android/) on the JVM against the real reference backend
// (server/, in-memory SQLite, 4 s tokens), through the UniFFI library
// (ffi/): each test runs one scenario of android/src/test (`java …
// chatauth.test.ScenariosKt <scenario> <url>`), which asserts what the app
// sees, and checks here what the server saw. The last test is one
// conversation across the web widget (Chromium) and the app.
//
// Built by `node scripts/android.mjs` (the `android` tier); needs `npm run build`
// for the web widget and `cargo build -p chat-auth-server`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { classpath, JAR, NATIVE_DIR } from '../../scripts/android.mjs';
import { REPO_ROOT, launchBrowser, requireBuild } from '../e2e/harness.mjs';
import { openDemoPage } from '../e2e/support/demo-page.mjs';
import { ERROR_CODES } from '../e2e/support/e2e.mjs';
import { startDemoServer } from '../e2e/support/demo-server.mjs';

const TTL_S = 4;
/** The longest one scenario may take (the refresh one chats for 3 lifetimes + 2 s). */
const SCENARIO_TIMEOUT_MS = 90_000;

let srv;

before(async () => {
  if (!existsSync(JAR)) throw new Error(`${JAR} missing: run \`node scripts/android.mjs --build\``);
  srv = await startDemoServer({ tokenTtl: TTL_S });
});

after(async () => {
  const code = await srv?.close();
  assert.equal(code, 0, 'the server stops cleanly on SIGTERM');
});

/** Runs one Kotlin scenario; resolves to its `result:` JSON. */
function scenario(name, ...args) {
  return new Promise((resolve, reject) => {
    // jna.library.path: where the ffi library is; jna.nosys=false: JNA's own libjnidispatch comes
    // from the system (Debian's libjna-jni), as Debian's jna.jar has none bundled.
    const child = spawn(
      'java',
      [`-Djna.library.path=${NATIVE_DIR}`, '-Djna.nosys=false', '-cp', classpath(), 'chatauth.test.ScenariosKt', name, srv.url, ...args],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), SCENARIO_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`scenario ${name} exited ${code ?? signal}:\n${out}\n${err}`));
      const line = out.split('\n').find((l) => l.startsWith('result: '));
      if (!line) return reject(new Error(`scenario ${name} printed no result:\n${out}\n${err}`));
      resolve(JSON.parse(line.slice('result: '.length)));
    });
  });
}

/** The server's request log lines after the first `mark`, matching `filter`. */
function requestsSince(mark, filter = {}) {
  return srv
    .requests()
    .slice(mark)
    .filter((r) => Object.entries(filter).every(([k, v]) => r[k] === v));
}

test('checkCustomerId, decodeToken, verifyToken and options: the stable codes reach Kotlin', async (t) => {
  const r = await scenario('api');
  t.diagnostic(JSON.stringify(r));
  // The same list as the browser's (e2e helpers: checked against js/error.d.ts there).
  assert.deepEqual([...r.codes].sort(), [...ERROR_CODES].sort());
});

test('login, authenticated requests, refresh before expiry through three lifetimes, the allow-list', async (t) => {
  const mark = srv.requests().length;
  const r = await scenario('refresh', String(TTL_S));
  t.diagnostic(JSON.stringify(r));
  assert.ok(r.refreshed >= 3, `three refreshes, saw ${r.refreshed}`);
  const sends = requestsSince(mark, { path: '/api/messages', method: 'POST' });
  assert.equal(sends.length, r.sent, 'every message went out once');
  assert.ok(
    sends.every((s) => s.status === 201 && s.bearer === 'valid'),
    'every send carried a valid token',
  );
  assert.deepEqual(requestsSince(mark, { bearer: 'expired' }), [], 'no request carried an expired token');
  t.diagnostic(`sends ${sends.length}, token refreshes ${requestsSince(mark, { path: '/oauth/token', status: 200 }).length}, expired bearers 0`);
  assert.ok(requestsSince(mark, { path: '/oauth/token' }).filter((t) => t.status === 200).length >= 3, 'refreshed at the token endpoint');
  const foreign = requestsSince(mark, { path: '/api/me' });
  assert.equal(foreign.length, 1);
  assert.equal(foreign[0].bearer, 'none', 'no token for another origin');
});

test('a 401: one refresh, one replay', async (t) => {
  const mark = srv.requests().length;
  const r = await scenario('replay');
  t.diagnostic(JSON.stringify(r));
  assert.ok(r.asked >= 2);
  const gets = requestsSince(mark, { path: '/api/messages', method: 'GET' }).map((g) => g.status);
  t.diagnostic(`GET /api/messages statuses: ${gets.join(', ')}`);
  assert.deepEqual(gets, [200, 401, 200], 'the request, its 401, and exactly one replay');
});

test('the provider fails: auth-lost, the login handler, getToken fails', async (t) => {
  const r = await scenario('provider-failure');
  t.diagnostic(JSON.stringify(r));
  assert.ok(['provider_failed', 'refresh_failed'].includes(r.getToken), r.getToken);
  assert.ok(r.logins >= 1);
});

test('logout: the session ends on the server, requests go on anonymously', async () => {
  const mark = srv.requests().length;
  await scenario('logout');
  const [logout] = requestsSince(mark, { path: '/auth/logout' });
  assert.equal(logout.status, 204);
  assert.equal(logout.bearer, 'valid');
  const last = requestsSince(mark, { path: '/api/messages' }).at(-1);
  assert.equal(last.bearer, 'none', 'after logout no token goes out');
});

test('eight threads at once across refreshes: every request gets through, one refresh per window', async (t) => {
  const mark = srv.requests().length;
  const r = await scenario('threads', String(TTL_S));
  t.diagnostic(JSON.stringify(r));
  const gets = requestsSince(mark, { path: '/api/messages', method: 'GET' });
  assert.equal(gets.length, r.requests, 'each request went out once (no 401, no replay)');
  assert.ok(gets.every((g) => g.status === 200 && g.bearer === 'valid'));
  const refreshes = requestsSince(mark, { path: '/oauth/token' });
  assert.ok(refreshes.length >= 1, 'the session refreshed while the threads ran');
  // A 4 s token is refreshed at most once per ≥ 2 s window, whatever the number of threads.
  assert.ok(refreshes.length <= Math.ceil(r.elapsedMs / 2000) + 1, `${refreshes.length} refreshes in ${r.elapsedMs} ms`);
});

test('a restarted app resumes the session from its store (storage: session)', async () => {
  const mark = srv.requests().length;
  await scenario('restart');
  assert.equal(requestsSince(mark, { path: '/auth/login' }).length, 1, 'one login: the second app did not log in');
});

test('one conversation across the web widget and the app', async (t) => {
  if (!process.env.CHAT_AUTH_E2E_PKG) requireBuild();
  const browser = await launchBrowser();
  try {
    const page = await openDemoPage(browser, srv.url);
    await page.fill('#username', 'alice');
    await page.fill('#password', 'wonderland');
    await page.click('#login');
    await page.waitForFunction(() => window.chatAuth.state === 'authenticated');
    const webText = 'Asked on the website: where is order 1042?';
    await page.fill('#message', webText);
    await page.click('#send');
    await page.waitForFunction((t) => [...document.querySelectorAll('.bubble.visitor p')].some((p) => p.textContent === t), webText);
    const webCustomer = await page.evaluate(() => window.chatAuth.customerId);

    const appText = 'Following up from the app';
    const r = await scenario('history', appText);
    t.diagnostic(`the app's history ends with: ${JSON.stringify(r.messages.slice(-4))}`);
    const texts = r.messages.map(([, , text]) => text);
    assert.ok(texts.includes(webText), 'the app sees the web message');
    assert.deepEqual(r.messages.find(([, , t]) => t === webText)[0], 'web');
    assert.deepEqual(r.messages.find(([, , t]) => t === appText)[0], 'messenger', 'the app writes on its own channel');
    assert.ok(texts.indexOf(webText) < texts.indexOf(appText), 'in order');
    // The web widget shows the app's message (it polls).
    await page.waitForFunction((t) => [...document.querySelectorAll('.bubble.visitor p')].some((p) => p.textContent === t), appText);
    const customers = srv
      .requests({ path: '/api/messages', method: 'POST' })
      .map((q) => q.customer)
      .filter(Boolean);
    assert.ok(customers.length >= 2 && customers.slice(-2).every((c) => c === webCustomer), 'one customer on both channels');
  } finally {
    await browser.close();
  }
});

test('no token in the server log', () => {
  const text = srv.logText();
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/.test(text), 'no JWT in the log');
  assert.ok(!/rt_[A-Za-z0-9_-]{16,}/.test(text), 'no refresh token in the log');
});

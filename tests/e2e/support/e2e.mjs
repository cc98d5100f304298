// Suite plumbing for the chat-auth e2e tests: one test backend + one Chromium per test file,
// a fresh browser context per test, bounded page.evaluate, and failures that carry the page's
// console/page errors and the tail of the server's request log.
//
//   import { suite } from './support/e2e.mjs';
//   const e2e = suite();
//   e2e.test('does X', async (s) => {
//     const r = await s.eval(async ({ a }) => { ... window.sdk ... window.T ... }, { a: 1 });
//     s.server.entries({ path: '/api/echo' });
//   });
//
// Uses launchBrowser / newPage / requireBuild from ../harness.mjs (owned by another engineer).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, launchBrowser, newPage, requireBuild } from '../harness.mjs';
import { startChatServer } from './chat-server.mjs';

export const PAGE_LIMIT_MS = 30_000;
export const LOAD_LIMIT_MS = 20_000;
export const TEST_LIMIT_MS = 60_000;

/**
 * Every code of API.md: the `ChatAuthErrorCode` union of js/error.d.ts, which tests/contract_lists.rs
 * checks against the crate's `ErrorCode::ALL` (so this holds no copy that could drift).
 */
export const ERROR_CODES = codesOf(readFileSync(join(REPO_ROOT, 'js', 'error.d.ts'), 'utf8'));

function codesOf(dts) {
  const union = /export type ChatAuthErrorCode =([^;]*);/.exec(dts)?.[1] ?? '';
  const codes = [...union.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]);
  if (codes.length === 0) throw new Error('js/error.d.ts: no ChatAuthErrorCode union');
  return codes;
}

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Reject after `ms` with `what` in the message; `promise` gets a no-op catch so it never goes unhandled. */
function bounded(promise, ms, what) {
  promise.catch(() => {});
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** One test's browser page + the shared server. */
export class Scenario {
  constructor(page, server) {
    this.page = page;
    this.server = server;
    this.originA = server.originA;
    this.originB = server.originB;
    this.originC = server.originC;
    this.otherScheme = server.otherScheme;
  }

  /** Open /e2e.html on origin A and wait (bounded) for the wasm to initialise. */
  async load() {
    await this.page.goto(`${this.originA}/e2e.html`, { timeout: LOAD_LIMIT_MS });
    const start = Date.now();
    for (;;) {
      const st = await this.page.evaluate(() => ({ ready: !!window.ready, initError: window.initError ?? null, helpers: !!window.T }));
      if (st.initError) throw new Error(`the page could not load pkg/chat_auth.js: ${st.initError}`);
      if (st.ready && st.helpers) return;
      if (Date.now() - start > LOAD_LIMIT_MS) {
        throw new Error(`the page did not initialise chat-auth within ${LOAD_LIMIT_MS / 1000} s (ready=${st.ready}, helpers=${st.helpers})`);
      }
      await sleep(50);
    }
  }

  /**
   * A second tab: a new page in the same browser context (same origin → shares BroadcastChannel,
   * Web Locks and sessionStorage is per-tab), loaded and ready. Closed with the context.
   */
  async openTab() {
    const page = await this.page.context().newPage();
    page.logs = [];
    page.on('console', (m) => page.logs.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => page.logs.push(`pageerror: ${e.message}`));
    const tab = new Scenario(page, this.server);
    await tab.load();
    const mine = this.page.logs;
    // Fold the tab's logs into this scenario's diagnostics.
    page.on('console', (m) => mine?.push(`[tab 2] console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => mine?.push(`[tab 2] pageerror: ${e.message}`));
    return tab;
  }

  /** page.evaluate with a bound (default 30 s). */
  eval(fn, arg, { timeout = PAGE_LIMIT_MS, what = 'page.evaluate' } = {}) {
    return bounded(this.page.evaluate(fn, arg), timeout, what);
  }

  /** Console messages, page errors, failed requests and ≥ 400 responses seen by the page. */
  logs() {
    return this.page.logs ?? [];
  }

  /** Human-readable context for a failing assertion. */
  diag() {
    const logs = this.logs();
    const serverTail = this.server.log.slice(-40).map((e) => {
      const auth = e.authorization
        ? e.tokenKnown
          ? `Bearer ${this.server.nameOf(e.token)}${e.expiredAtReceipt ? ` EXPIRED on receipt (at=${e.at})` : ''}`
          : `${e.authorization.split(' ')[0]} <not minted here, ${e.authorization.length} chars>`
        : '-';
      return `  #${e.seq} ${e.server} ${e.method} ${e.path} auth=${auth} anon=${e.anonymousId ? 'yes' : '-'}`;
    });
    return [
      '--- page console / errors (last 60) ---',
      ...(logs.length ? logs.slice(-60).map((l) => `  ${l}`) : ['  (none)']),
      '--- server request log (last 40) ---',
      ...(serverTail.length ? serverTail : ['  (none)']),
    ].join('\n');
  }

  /** Page console/page errors only (for "no error happened" checks). */
  pageErrors() {
    return this.logs().filter((l) => l.startsWith('pageerror:') || l.startsWith('console.error:'));
  }

  /** Invariants that hold in every scenario; run after each passing test body. */
  checkInvariants() {
    assertNoExpiredTokenSent(this.server);
    assertNothingReachedOtherOrigins(this.server);
    assertNoSecretInUrls(this.server);
    assertNoSecretInConsole(this.logs(), this.server.allSecrets());
  }
}

/** Every request that carried a token minted by the server carried it before its exp (server clock). */
export function assertNoExpiredTokenSent(server, entries = server.log) {
  const bad = entries.filter((e) => e.tokenKnown && e.expiredAtReceipt);
  assert.equal(
    bad.length,
    0,
    `requests carried an expired token:\n${bad.map((e) => `  #${e.seq} ${e.method} ${e.path} at ${e.at} exp ${e.tokenExp * 1000} (${e.at - e.tokenExp * 1000} ms late)`).join('\n')}`,
  );
}

/** Origins B and C never received Authorization (nor asked for it in a preflight). */
export function assertNothingReachedOtherOrigins(server, { anonymousId = true } = {}) {
  const other = server.log.filter((e) => e.server !== 'A');
  const leaks = other.filter(
    (e) =>
      e.authorization || /\bauthorization\b/.test(e.requestedHeaders) || (anonymousId && (e.anonymousId || /\bchat-anonymous-id\b/.test(e.requestedHeaders))),
  );
  assert.equal(
    leaks.length,
    0,
    `a request to another origin carried SDK headers:\n${leaks
      .map(
        (e) =>
          `  #${e.seq} ${e.server} ${e.method} ${e.host}${e.path} authorization=${e.authorization ? 'PRESENT' : '-'} chat-anonymous-id=${e.anonymousId ?? '-'} preflight-asked=[${e.requestedHeaders}]`,
      )
      .join('\n')}`,
  );
}

/** No URL the server saw (other than the test's own control API) contained a token or refresh token. */
export function assertNoSecretInUrls(server) {
  const secrets = server.allSecrets();
  const bad = server.log.filter((e) => !e.path.startsWith('/control/') && secrets.some((t) => e.url.includes(t)));
  assert.equal(bad.length, 0, `a token appeared in a request URL: ${bad.map((e) => `#${e.seq} ${e.method} ${e.path}`).join(', ')}`);
}

/** The page's console never printed a token (or its signature segment). */
export function assertNoSecretInConsole(logs, secrets) {
  const fragments = secrets.map((t) => (t.split('.').length === 3 ? t.split('.')[2] : t));
  const bad = logs.filter((l) => fragments.some((f) => f.length >= 16 && l.includes(f)));
  assert.equal(bad.length, 0, `a token was printed to the console:\n${bad.map((l) => `  ${l.slice(0, 200)}`).join('\n')}`);
}

/** Assert `r` (from T.attempt / T.err) is a ChatAuthError with `code`; `secrets` must not be in its message. */
export function assertChatAuthError(r, code, { secrets = [], detail, messageIncludes } = {}) {
  const shown = JSON.stringify(r);
  assert.equal(r.threw, true, `expected a ChatAuthError '${code}', but nothing was thrown/rejected: ${shown}`);
  assert.equal(r.isError, true, `the error is not an instanceof Error: ${shown}`);
  assert.equal(
    r.isChatAuthError,
    true,
    r.sdkExportsChatAuthError === false
      ? `pkg/chat_auth.js does not export ChatAuthError (postbuild not run, or pkg/ was being rebuilt during the test): ${shown}`
      : `the error is not an instanceof sdk.ChatAuthError: ${shown}`,
  );
  assert.equal(r.name, 'ChatAuthError', `error.name: ${shown}`);
  assert.equal(r.code, code, `error.code: ${shown}`);
  assert.ok(ERROR_CODES.includes(r.code), `'${r.code}' is not one of API.md's codes`);
  assert.equal(typeof r.message, 'string', `error.message is not a string: ${shown}`);
  assert.ok(r.message.length > 0, `error.message is empty: ${shown}`);
  if (detail !== undefined) assert.equal(r.detail, detail, `error.detail: ${shown}`);
  if (messageIncludes !== undefined) {
    assert.ok(r.message.includes(messageIncludes), `error.message should name '${messageIncludes}': ${JSON.stringify(r.message)}`);
  }
  for (const s of secrets) {
    const parts = [s, ...s.split('.').filter((p) => p.length >= 16)];
    for (const p of parts) {
      assert.ok(!r.message.includes(p), `error.message contains token text: ${JSON.stringify(r.message.slice(0, 300))}`);
      assert.ok(!String(r.string).includes(p), `String(error) contains token text`);
    }
  }
}

/**
 * Soft assertions: run every check, then fail once listing all failures (so one run shows the lead
 * everything that is unfinished, not just the first mismatch).
 *   const c = new Checks(); c.check('label', () => assert…); c.done();
 */
export class Checks {
  constructor() {
    this.failures = [];
  }
  check(label, fn) {
    try {
      fn();
    } catch (err) {
      this.failures.push(label ? `${label}: ${err.message}` : err.message);
    }
  }
  done() {
    if (this.failures.length) {
      assert.fail(`${this.failures.length} check(s) failed:\n- ${this.failures.join('\n- ')}`);
    }
  }
}

/** A customer id that is opaque and PII-free (letters only). */
export function customerId() {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let out = 'cust_';
  for (let i = 0; i < 20; i++) out += letters[Math.floor(Math.random() * letters.length)];
  return out;
}

/**
 * Make a failure readable: minted tokens in the message/stack/actual/expected become short names
 * (`<JWT #3 sub=… exp=…>`), and the page's console/page errors + the server log tail are appended.
 */
function decorate(err, s) {
  try {
    if (!(err instanceof Error)) return;
    const redact = (v) => s.server.redact(v);
    const original = err.message;
    const full = `${redact(original)}\n${s.diag()}`;
    const stack = typeof err.stack === 'string' ? redact(err.stack) : '';
    err.message = full;
    const at = stack.indexOf(redact(original));
    err.stack = at >= 0 ? `${stack.slice(0, at)}${full}${stack.slice(at + redact(original).length)}` : `${stack}\n${s.diag()}`;
    if ('actual' in err && typeof err.actual === 'string') err.actual = redact(err.actual);
    if ('expected' in err && typeof err.expected === 'string') err.expected = redact(err.expected);
  } catch {
    // keep the original error as it is
  }
}

/**
 * Register the per-file hooks (server + browser) and return { test, server, browser }.
 * `e2e.test(name, fn, { timeout })` runs fn(scenario) in a fresh context on /e2e.html; on failure the
 * error message gets the page diagnostics appended; after a passing body the invariants are checked.
 */
export function suite() {
  const env = { server: null, browser: null };
  before(async () => {
    // $CHAT_AUTH_E2E_PKG serves /pkg/ from another directory (e.g. a stand-in build); else pkg/ must be built.
    if (!process.env.CHAT_AUTH_E2E_PKG) requireBuild();
    env.server = await startChatServer();
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close().catch(() => {});
    await env.server?.close();
  });

  // `todo` names the open issue whose feature the test proves; node:test runs
  // it and reports it, without failing the run.
  env.test = (name, fn, { timeout = TEST_LIMIT_MS, invariants = true, todo } = {}) =>
    test(name, { timeout, todo }, async () => {
      env.server.reset();
      const page = await newPage(env.browser);
      const s = new Scenario(page, env.server);
      try {
        await s.load();
        await fn(s);
        if (invariants) s.checkInvariants();
      } catch (err) {
        decorate(err, s);
        throw err;
      } finally {
        await page
          .context()
          .close()
          .catch(() => {});
      }
    });
  return env;
}

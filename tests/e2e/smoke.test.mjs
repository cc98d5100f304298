// Smoke test: the built package loads in Chromium under the demo's CSP and exports ChatAuth.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PAGE_TIMEOUT_MS, launchBrowser, newPage, requireBuild, startStaticServer } from './harness.mjs';

let server;
let browser;

before(async () => {
  requireBuild();
  server = await startStaticServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('pkg/chat_auth.js loads (init) in Chromium and exports ChatAuth', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}tests/e2e/pages/smoke.html`);
  let result;
  try {
    result = await (await page.waitForFunction(() => window.__smoke, null, { timeout: PAGE_TIMEOUT_MS })).jsonValue();
  } catch (err) {
    assert.fail(`the page did not finish loading chat-auth within ${PAGE_TIMEOUT_MS / 1000} s: ${err.message}\n${page.logs.join('\n')}`);
  }
  assert.ok(result.ok, `loading chat-auth failed: ${result.error}\n${page.logs.join('\n')}`);
  assert.equal(result.types.ChatAuth, 'function', `pkg/chat_auth.js has no ChatAuth class; exports: ${result.exports.join(', ') || '(none)'}`);
  assert.equal(result.types.ChatAuthError, 'function', `pkg/chat_auth.js does not export ChatAuthError; exports: ${result.exports.join(', ')}`);
});

// Helpers for the JS end-to-end tests (node:test + playwright-core + Debian's Chromium).
//
//   import { launchBrowser, newPage, startStaticServer, requireBuild } from './harness.mjs';
//
// Nothing here downloads a browser: playwright-core drives /usr/bin/chromium
// (override with CHROMIUM_PATH). Every launch gets a fresh temporary profile.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { close, createStaticServer, listen } from '../../scripts/serve.mjs';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Upper bound for any single page wait (navigation, waitForFunction, …). */
export const PAGE_TIMEOUT_MS = 30_000;

/** Launch headless Chromium (temporary profile, deleted on `browser.close()`). */
export async function launchBrowser(options = {}) {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} not found: run \`npm run setup\` (installs Debian's chromium)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: PAGE_TIMEOUT_MS,
    ...options,
  });
}

/**
 * A new page in its own context, with PAGE_TIMEOUT_MS as the default timeout.
 * `page.logs` collects console messages, uncaught page errors and failed requests,
 * to put in assertion messages.
 */
export async function newPage(browser, contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  context.setDefaultTimeout(PAGE_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(PAGE_TIMEOUT_MS);
  const page = await context.newPage();
  page.logs = [];
  page.on('console', (m) => page.logs.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => page.logs.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => page.logs.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    if (r.status() >= 400) page.logs.push(`http ${r.status()}: ${r.url()}`);
  });
  return page;
}

/**
 * Serve `root` (default: the repo root, so /pkg/chat_auth.js and /tests/e2e/pages/… are reachable)
 * on 127.0.0.1 with scripts/serve.mjs's handler and MIME types; HTML pages get SCRIPT_CSP, the
 * demo CSP's script rule (the pages call other origins on purpose).
 * `mounts` adds URL prefixes for other folders, e.g. `{ '/pkg/': join(REPO_ROOT, 'pkg') }`.
 * @returns {Promise<{ url: string, server: import('node:http').Server, close: () => Promise<void> }>}
 *          `url` ends in `/`.
 */
export async function startStaticServer({ root = REPO_ROOT, mounts = {}, headers = {}, port = 0, host = '127.0.0.1' } = {}) {
  const server = createStaticServer({ root, mounts, headers });
  const url = await listen(server, { port, host });
  return { url, server, close: () => close(server) };
}

/** Throw a clear error when pkg/ has not been built (the e2e tier runs after `npm run build`). */
export function requireBuild() {
  const glue = join(REPO_ROOT, 'pkg', 'chat_auth.js');
  if (!existsSync(glue) || !existsSync(join(REPO_ROOT, 'pkg', 'chat_auth_bg.wasm'))) {
    throw new Error('pkg/chat_auth.js or pkg/chat_auth_bg.wasm missing: run `npm run build` first');
  }
}

// The packaged-install tier (issue 14): chat-auth as a site installs it.
//  1. `npm pack`: the tarball holds only what a site needs.
//  2. A fresh Vite + TypeScript (strict) app installs the tarball, type-checks against the shipped
//     declarations, builds, is served with the demo's CSP and runs in Chromium: plain ChatAuth, and
//     the React binding `chat-auth/react` under StrictMode (one instance, re-rendered by events,
//     destroyed on unmount).
//  3. A plain HTML page imports the installed package's pkg/chat_auth.js with no bundler.
// Nothing is fetched from a registry: the app installs the tarball offline, and finds vite,
// typescript and React in this repository's node_modules (links, as a monorepo would).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { staticHandler } from '../../scripts/serve.mjs';
import { REPO_ROOT, launchBrowser, newPage, requireBuild } from '../e2e/harness.mjs';

/** Exactly the files a site needs (npm always adds package.json, README.md and the licence files). */
const SHIPPED = [
  'LICENSE-APACHE',
  'LICENSE-MIT',
  'README.md',
  'js/react.d.ts',
  'js/react.js',
  'package.json',
  'pkg/chat_auth.d.ts',
  'pkg/chat_auth.js',
  'pkg/chat_auth_bg.wasm',
];
const LINKED = ['react', 'react-dom', 'scheduler', '@types/react', '@types/react-dom', 'csstype'];

const env = {};

/** Run a command; a failure's message carries its output. */
function run(cmd, args, cwd) {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** Serve `root` with the demo's CSP; `/api/echo` answers with the request's SDK headers. */
async function serve(root, mounts = {}) {
  const files = staticHandler({ root, mounts });
  const server = createServer((req, res) => {
    if (req.url.startsWith('/api/echo')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ authorization: req.headers.authorization ?? null, anonymousId: req.headers['chat-anonymous-id'] ?? null }));
    }
    return files(req, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

const APP_FILES = {
  'package.json': JSON.stringify({ name: 'chat-site', private: true, type: 'module' }, null, 2),
  'tsconfig.json': JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: 'ESNext',
        moduleResolution: 'bundler',
        // ESNext.Disposable: the generated declarations name Symbol.dispose.
        lib: ['ES2022', 'ESNext.Disposable', 'DOM', 'DOM.Iterable'],
        jsx: 'react-jsx',
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        skipLibCheck: false,
        types: [],
      },
      include: ['src'],
    },
    null,
    2,
  ),
  'vite.config.mjs': "export default { esbuild: { jsx: 'automatic' }, build: { target: 'es2022' } };\n",
  'index.html':
    '<!doctype html><html><head><meta charset="utf-8"><title>site</title></head><body><div id="root"></div><script type="module" src="/src/main.tsx"></script></body></html>\n',
  'src/main.tsx': `import init, { ChatAuth, ChatAuthError, checkCustomerId } from 'chat-auth';
import { ChatAuthProvider, useChatAuth } from 'chat-auth/react';
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';

declare global {
  interface Window {
    result: Record<string, unknown>;
    renders: string[];
    unmount: () => void;
  }
}
window.result = {};
window.renders = [];

const b64 = (o: object): string => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\\+/g, '-').replace(/\\//g, '_');
const token = (sub: string): string =>
  \`\${b64({ alg: 'RS256', typ: 'JWT' })}.\${b64({ sub, exp: Math.floor(Date.now() / 1000) + 600, iat: Math.floor(Date.now() / 1000) })}.c2ln\`;

async function plain(): Promise<void> {
  await init();
  const auth = new ChatAuth({ apiOrigins: [location.origin], crossTab: false });
  let code: string | undefined;
  try {
    checkCustomerId('jane@example.com');
  } catch (e) {
    code = e instanceof ChatAuthError ? e.code : 'not a ChatAuthError';
  }
  const res = await auth.fetch('/api/echo', {});
  window.result.plain = { state: auth.state, anonymousId: auth.anonymousId, pii: code, echo: await res.json() };
  auth.destroy();
}

const seen = new Set<unknown>();

function Widget() {
  const { auth, state, customerId, expiresAt, fetch, setCustomer, clearCustomer } = useChatAuth();
  if (auth) seen.add(auth);
  window.renders.push(state);
  const [echo, setEcho] = useState<string | null>(null);
  useEffect(() => {
    if (state !== 'anonymous') return;
    void setCustomer('cust_site_1', async () => ({ Auth: { Token: token('cust_site_1') } }))
      .then(() => fetch('/api/echo'))
      .then((r) => r.json())
      .then((j: { authorization: string | null }) => setEcho(j.authorization));
  }, [state, setCustomer, fetch]);
  useEffect(() => {
    if (echo === null) return;
    window.result.react = { customerId, expiresAt, echo, instances: seen.size };
    void clearCustomer().then(() => {
      window.result.afterClear = true;
    });
  }, [echo]);
  return (
    <p id="state">
      {state} {customerId ?? '-'} {expiresAt ?? '-'}
    </p>
  );
}

function App() {
  const [shown, setShown] = useState(true);
  window.unmount = () => setShown(false);
  return shown ? (
    <ChatAuthProvider options={{ apiOrigins: [location.origin] }}>
      <Widget />
    </ChatAuthProvider>
  ) : (
    <p id="state">unmounted</p>
  );
}

void plain().then(() => {
  const root = document.getElementById('root');
  if (root) createRoot(root).render(<StrictMode><App /></StrictMode>);
  window.result.seen = () => [...seen].map((a) => (a as ChatAuth).state);
});
`,
};

before(async () => {
  requireBuild();
  env.dir = mkdtempSync(join(tmpdir(), 'chat-auth-pack-'));
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', env.dir], REPO_ROOT));
  env.pack = packed[0];
  env.app = join(env.dir, 'app');
  for (const [name, text] of Object.entries(APP_FILES)) {
    mkdirSync(join(env.app, name, '..'), { recursive: true });
    writeFileSync(join(env.app, name), text);
  }
  run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', join(env.dir, env.pack.filename)], env.app);
  for (const name of LINKED) {
    mkdirSync(join(env.app, 'node_modules', name, '..'), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules', name), join(env.app, 'node_modules', name), 'dir');
  }
  env.browser = await launchBrowser();
});

after(async () => {
  await env.browser?.close().catch(() => {});
  if (env.dir) rmSync(env.dir, { recursive: true, force: true });
});

test('npm pack: the tarball holds only what a site needs', () => {
  const files = env.pack.files.map((f) => f.path).sort();
  assert.deepEqual(files, SHIPPED);
  const wasm = env.pack.files.find((f) => f.path === 'pkg/chat_auth_bg.wasm');
  assert.ok(wasm.size > 50_000, 'the wasm is in it');
});

test('Vite + TypeScript strict app: type-checks, builds, runs in Chromium (plain API and chat-auth/react under StrictMode)', { timeout: 180_000 }, async () => {
  run(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', env.app], env.app);
  run(process.execPath, [join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], env.app);
  const site = await serve(join(env.app, 'dist'));
  const page = await newPage(env.browser);
  try {
    await page.goto(`${site.url}/`);
    await page.waitForFunction(() => window.result?.afterClear === true, null, { timeout: 30_000 });
    const r = await page.evaluate(async () => {
      const held = async () => ((await navigator.locks.query()).held ?? []).filter((l) => l.name.startsWith('chat-auth:tab:')).length;
      const before = { renders: [...window.renders], text: document.getElementById('state')?.textContent, instancesLive: await held() };
      window.unmount();
      await new Promise((res) => setTimeout(res, 200));
      return { ...window.result, seen: window.result.seen(), before, instancesAfterUnmount: await held() };
    });
    assert.deepEqual(
      page.logs.filter((l) => l.startsWith('pageerror')),
      [],
    );
    assert.equal(r.plain.state, 'anonymous');
    assert.match(r.plain.anonymousId, /^[0-9a-f-]{36}$/);
    assert.equal(r.plain.pii, 'customer_id_pii', 'ChatAuthError is the exported class');
    assert.equal(r.plain.echo.authorization, null);
    assert.equal(r.plain.echo.anonymousId, r.plain.anonymousId, 'auth.fetch added Chat-Anonymous-Id');
    assert.equal(r.react.customerId, 'cust_site_1');
    assert.ok(typeof r.react.expiresAt === 'number' && r.react.expiresAt > Date.now());
    assert.match(r.react.echo, /^Bearer ey/, 'the hook’s fetch attached the token');
    assert.equal(r.react.instances, 1, 'StrictMode: one ChatAuth');
    assert.equal(r.before.instancesLive, 1, 'one live instance (its presence lock)');
    for (const s of ['loading', 'anonymous', 'authenticated', 'logged_out'])
      assert.ok(r.before.renders.includes(s), `re-rendered in state ${s}: ${r.before.renders}`);
    assert.match(r.before.text, /^logged_out - -/);
    assert.deepEqual(r.seen, ['destroyed'], 'destroyed on unmount');
    assert.equal(r.instancesAfterUnmount, 0);
  } finally {
    await page
      .context()
      .close()
      .catch(() => {});
    await site.close();
  }
});

test('plain HTML page imports the installed pkg/chat_auth.js without a bundler', async () => {
  const root = join(env.dir, 'plain');
  mkdirSync(root);
  writeFileSync(
    join(root, 'index.html'),
    '<!doctype html><html><head><meta charset="utf-8"><script type="module" src="/main.js"></script></head><body></body></html>\n',
  );
  writeFileSync(
    join(root, 'main.js'),
    `import init, { ChatAuth, ChatAuthError, decodeToken } from '/chat-auth/pkg/chat_auth.js';
await init();
const auth = new ChatAuth({ apiOrigins: [location.origin] });
let error;
try { decodeToken('not a token'); } catch (e) { error = { isClass: e instanceof ChatAuthError, code: e.code }; }
const res = await auth.fetch('/api/echo');
window.result = { state: auth.state, error, echo: await res.json(), anonymousId: auth.anonymousId };
`,
  );
  const site = await serve(root, { '/chat-auth/': join(env.app, 'node_modules', 'chat-auth') });
  const page = await newPage(env.browser);
  try {
    await page.goto(`${site.url}/index.html`);
    await page.waitForFunction(() => window.result !== undefined, null, { timeout: 20_000 });
    const r = await page.evaluate(() => window.result);
    assert.equal(r.state, 'anonymous');
    assert.deepEqual(r.error, { isClass: true, code: 'malformed' });
    assert.equal(r.echo.anonymousId, r.anonymousId);
  } finally {
    await page
      .context()
      .close()
      .catch(() => {});
    await site.close();
  }
});

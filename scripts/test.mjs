#!/usr/bin/env node
// npm test: every test tier in order, stopping at the first failure.
//
//   node scripts/test.mjs              setup, fmt, eslint, prettier, clippy, clippy-wasm, doc, native, postgres, build, size, types, wasm, server, e2e,
//                                      android, package, examples, provider
//   node scripts/test.mjs wasm e2e     only the named tiers (or groups: lint, js-lint)
//
// Tiers:
//   setup   node scripts/setup.mjs (installs whatever is missing, skips the rest)
//   fmt     cargo fmt --check
//   eslint  eslint . (eslint.config.mjs: @eslint/js recommended over js/, www/, scripts/, tests/)
//   prettier prettier --check . (.prettierrc.json; .prettierignore keeps it to the .js/.mjs files)
//   clippy  cargo clippy --workspace --all-targets -- -D warnings (the crate and server/)
//   doc     RUSTDOCFLAGS='-D warnings' cargo doc --no-deps --workspace (broken doc links fail)
//   native  cargo test --workspace (the crate, and the reference backend in server/ on SQLite)
//   postgres node scripts/test-postgres.mjs (server/tests store, api, races on a throwaway PostgreSQL cluster)
//   build   node scripts/build.mjs (wasm-pack build --target web --release + postbuild)
//   size    node scripts/size.mjs (gzip -9 of wasm + glue within the budget; needs `build`)
//   types   tsc --strict on tests/types/usage.ts against pkg/chat_auth.d.ts (typescript devDependency; needs `build`)
//   server  cargo build -p chat-auth-server (the demo backend the e2e demo tests start)
//   wasm    wasm-pack test --headless --chrome --mode no-install (every wasm_bindgen_test in headless Chromium)
//   e2e     node --test tests/e2e/**/*.test.mjs (JS in Chromium via playwright-core; needs `build`)
//   android   node scripts/android.mjs (ffi/ built with its own uniffi-bindgen, Kotlin bindings generated, android/
//             compiled with kotlinc, then node --test tests/android/: the Kotlin SDK on the JVM against the
//             reference backend, and one conversation with the web widget in Chromium; needs `build` and `server`)
//   package   node --test tests/package/ (npm pack → a fresh Vite + TypeScript strict app and a plain
//             HTML page, both in Chromium, with chat-auth/react under StrictMode; needs `build`)
//   examples  cargo build --examples (examples/resource_server/, the chat API of `provider`)
//   provider  node --test tests/provider/*.test.mjs (oidc-provider on 127.0.0.1, login in Chromium,
//             the Rust chat API validating with the crate; needs `build` and `examples`)
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, run, seconds, toolEnv } from './lib.mjs';

const CHROMEDRIVER = process.env.CHROMEDRIVER || '/usr/bin/chromedriver';

/** Test files under tests/e2e (recursively), sorted; harness and helpers are not tests. */
function e2eFiles(dir = join(ROOT, 'tests', 'e2e')) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? e2eFiles(join(dir, e.name)) : /\.test\.m?js$/.test(e.name) ? [join(dir, e.name)] : []))
    .sort();
}

/** `node --test` over the test files under tests/<folder>, or null when there are none. */
function nodeTests(folder) {
  const files = e2eFiles(join(ROOT, 'tests', folder));
  if (files.length === 0) return null;
  return [process.execPath, ['--test', '--test-concurrency=1', ...files.map((f) => relative(ROOT, f))]];
}

const TIERS = {
  setup: () => [process.execPath, ['scripts/setup.mjs']],
  fmt: () => ['cargo', ['fmt', '--check']],
  // The JavaScript: ESLint's findings, then Prettier's layout (`npm run format` rewrites it).
  eslint: () => [process.execPath, ['node_modules/eslint/bin/eslint.js', '--max-warnings', '0', '.']],
  prettier: () => [process.execPath, ['node_modules/prettier/bin/prettier.cjs', '--check', '.']],
  clippy: () => ['cargo', ['clippy', '--workspace', '--all-targets', '--', '-D', 'warnings']],
  // The wasm exports (src/exports) only compile for wasm32: lint them there too,
  // with the tests as the wasm tier builds them (native-only parts cfg'd out).
  'clippy-wasm': () => ['cargo', ['clippy', '--target', 'wasm32-unknown-unknown', '--lib', '--tests', '--', '-D', 'warnings']],
  // Every crate's docs, with rustdoc's warnings (broken intra-doc links) as errors.
  doc: () => ['cargo', ['doc', '--no-deps', '--workspace', '--quiet'], { RUSTDOCFLAGS: '-D warnings' }],
  native: () => ['cargo', ['test', '--workspace']],
  postgres: () => [process.execPath, ['scripts/test-postgres.mjs']],
  build: () => [process.execPath, ['scripts/build.mjs']],
  // gzip -9 of pkg/chat_auth_bg.wasm + pkg/chat_auth.js within SIZE_BUDGET_BYTES (scripts/size.mjs).
  size: () => [process.execPath, ['scripts/size.mjs']],
  // A strict TypeScript project using the package by name, with @ts-expect-error misuse lines.
  types: () => [process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tests/types/tsconfig.json']],
  // Debug, like the native tier: the dependencies are already built there.
  server: () => ['cargo', ['build', '-p', 'chat-auth-server']],
  // `wasm-pack test --headless --chrome`, the command a Rust + wasm user runs:
  // every wasm_bindgen_test (the core's unit tests and
  // tests/wasm_vectors.rs) in headless Chromium. --mode no-install: wasm-pack
  // downloads nothing; it uses setup's wasm-bindgen-cli and the chromedriver
  // on PATH, Debian's /usr/bin/chromedriver (CHROMEDRIVER names the same one).
  wasm: () => [
    'wasm-pack',
    ['test', '--headless', '--chrome', '--mode', 'no-install'],
    { CHROMEDRIVER, WASM_BINDGEN_TEST_TIMEOUT: process.env.WASM_BINDGEN_TEST_TIMEOUT || '120' },
  ],
  e2e: () => nodeTests('e2e'),
  android: () => [process.execPath, ['scripts/android.mjs']],
  package: () => nodeTests('package'),
  examples: () => ['cargo', ['build', '--examples']],
  provider: () => nodeTests('provider'),
};
const GROUPS = {
  all: [
    'setup',
    'fmt',
    'eslint',
    'prettier',
    'clippy',
    'clippy-wasm',
    'doc',
    'native',
    'postgres',
    'build',
    'size',
    'types',
    'wasm',
    'server',
    'e2e',
    'android',
    'package',
    'examples',
    'provider',
  ],
  lint: ['fmt', 'eslint', 'prettier', 'clippy', 'clippy-wasm', 'doc'],
  'js-lint': ['eslint', 'prettier'],
};

const requested = process.argv.slice(2);
const names = (requested.length ? requested : ['all']).flatMap((n) => GROUPS[n] ?? [n]);
const unknown = names.filter((n) => !TIERS[n]);
if (unknown.length) {
  console.error(`test: unknown tier ${unknown.join(', ')}; tiers: ${Object.keys(TIERS).join(', ')}; groups: ${Object.keys(GROUPS).join(', ')}`);
  process.exit(2);
}

const started = Date.now();
const results = [];
for (const [i, name] of names.entries()) {
  const spec = TIERS[name]();
  const header = `[${i + 1}/${names.length}] ${name}`;
  if (!spec) {
    console.log(`\n=== ${header}: no test files yet; skipped`);
    results.push(`${name} skipped`);
    continue;
  }
  const [cmd, args, env = {}] = spec;
  const shown = cmd === process.execPath ? 'node' : cmd;
  console.log(`\n=== ${header}: ${shown} ${args.join(' ')}`);
  const tierStart = Date.now();
  const code = await run(cmd, args, { env: toolEnv(env) });
  const took = seconds(tierStart);
  if (code !== 0) {
    console.log(`=== ${header}: FAILED (exit ${code}) after ${took} s`);
    console.log(`\ntest: FAILED at tier ${name} after ${seconds(started)} s${results.length ? `; passed before it: ${results.join(', ')}` : ''}`);
    process.exit(code);
  }
  console.log(`=== ${header}: ok in ${took} s`);
  results.push(`${name} ${took} s`);
}
console.log(`\ntest: all ${names.length} tier(s) passed in ${seconds(started)} s (${results.join(', ')})`);

// The npm tarball as `npm pack` builds it: the licence files package.json's `MIT OR Apache-2.0`
// promises, the built package, and types without `any` in the public API.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, requireBuild } from './harness.mjs';

test('npm pack ships LICENSE-MIT, LICENSE-APACHE and the built package', () => {
  requireBuild();
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const [packed] = JSON.parse(execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 }));
  const files = packed.files.map((f) => f.path);
  for (const f of ['LICENSE-MIT', 'LICENSE-APACHE', 'package.json', 'pkg/chat_auth.js', 'pkg/chat_auth_bg.wasm', 'pkg/chat_auth.d.ts']) {
    assert.ok(files.includes(f), `${f} is not in the tarball: ${files.join(', ')}`);
  }
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.license, 'MIT OR Apache-2.0');
  assert.match(readFileSync(join(REPO_ROOT, 'LICENSE-MIT'), 'utf8'), /Permission is hereby granted, free of charge/);
  assert.match(readFileSync(join(REPO_ROOT, 'LICENSE-APACHE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004/);
});

test('pkg/chat_auth.d.ts types the public API without `any`', () => {
  requireBuild();
  const dts = readFileSync(join(REPO_ROOT, 'pkg', 'chat_auth.d.ts'), 'utf8');
  // wasm-bindgen's own init types (from `export type InitInput` on) use `any` for raw wasm exports.
  const api = dts.slice(0, dts.indexOf('export type InitInput'));
  assert.ok(api.includes('export class ChatAuth'), 'ChatAuth declared');
  const code = api.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const anys = code.split('\n').filter((l) => /\bany\b/.test(l));
  assert.deepEqual(anys, [], 'the API declarations use `any`');
});

#!/usr/bin/env node
// npm run build: `wasm-pack build --target web --release` into pkg/, then scripts/postbuild.mjs.
//
// Runs wasm-pack with node_modules/.bin first on PATH, so it optimises with
// binaryen 132's wasm-opt (Debian's 108 produces modules that fail to load),
// and with `--mode no-install`, so wasm-pack never downloads wasm-bindgen or
// wasm-opt by itself: `npm run setup` installs them. Extra arguments go to
// wasm-pack (e.g. `npm run build -- --dev`).
import { checkWasmOpt, run, seconds } from './lib.mjs';

const started = Date.now();
try {
  const { path, version } = checkWasmOpt();
  console.log(`build: wasm-opt ${path} (${version})`);
} catch (e) {
  console.error(`build: FAILED ${e.message}`);
  process.exit(1);
}
const extra = process.argv.slice(2);
const profile = extra.some((a) => a === '--dev' || a === '--profiling' || a === '--debug') ? [] : ['--release'];
const args = ['build', '--target', 'web', ...profile, '--mode', 'no-install', ...extra];
console.log(`build: wasm-pack ${args.join(' ')}`);
let code = await run('wasm-pack', args);
if (code === 0) code = await run(process.execPath, ['scripts/postbuild.mjs']);
console.log(code === 0 ? `build: done in ${seconds(started)} s` : `build: FAILED (exit ${code}) after ${seconds(started)} s`);
process.exit(code);

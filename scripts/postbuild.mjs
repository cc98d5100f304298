#!/usr/bin/env node
// Runs after `wasm-pack build --target web`:
//  (a) re-exports ChatAuthError from pkg/chat_auth.js (wasm-bindgen cannot
//      re-export a class that lives in a module snippet) and appends
//      js/error.d.ts to pkg/chat_auth.d.ts;
//  (b) prints the gzip -9 sizes of pkg/chat_auth_bg.wasm and pkg/chat_auth.js.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT } from './lib.mjs';

const PKG = join(ROOT, 'pkg');
const GLUE = join(PKG, 'chat_auth.js');
const DTS = join(PKG, 'chat_auth.d.ts');
const WASM = join(PKG, 'chat_auth_bg.wasm');
const MARK = '// chat-auth postbuild';

function fail(msg) {
  console.error(`postbuild: FAILED ${msg}`);
  process.exit(1);
}

for (const f of [GLUE, WASM]) if (!existsSync(f)) fail(`${relative(ROOT, f)} missing; run wasm-pack build first`);

// ---------------------------------------------------------------- (a) ChatAuthError
/** The snippet folder holding js/error.js: the one chat_auth.js imports, else the only one on disk. */
function findErrorSnippet(glue) {
  const imported = [...glue.matchAll(/from\s+['"](\.\/snippets\/[^'"]+\/js\/error\.js)['"]/g)].map((m) => m[1]);
  if (new Set(imported).size === 1) return imported[0];
  const snippets = join(PKG, 'snippets');
  const onDisk = existsSync(snippets)
    ? readdirSync(snippets).filter((d) => existsSync(join(snippets, d, 'js', 'error.js'))).map((d) => `./snippets/${d}/js/error.js`)
    : [];
  if (onDisk.length === 1) return onDisk[0];
  if (onDisk.length > 1) fail(`several snippet folders hold js/error.js (${onDisk.join(', ')}); delete pkg/ and rebuild`);
  return null;
}

if (!existsSync(join(ROOT, 'js', 'error.js'))) {
  console.warn('postbuild: WARNING js/error.js does not exist; not re-exporting ChatAuthError');
} else {
  let glue = readFileSync(GLUE, 'utf8');
  const snippet = findErrorSnippet(glue);
  if (!snippet) {
    fail(
      'no pkg/snippets/*/js/error.js: the crate must import makeError with ' +
        '#[wasm_bindgen(module = "/js/error.js")] so wasm-pack ships the ChatAuthError class',
    );
  }
  if (!glue.includes(MARK)) {
    glue = `${glue.trimEnd()}\n\n${MARK}: the error class lives in a wasm-bindgen snippet\nexport { ChatAuthError } from '${snippet}';\n`;
    writeFileSync(GLUE, glue);
    console.log(`postbuild: pkg/chat_auth.js re-exports ChatAuthError from ${snippet}`);
  }
  const errorDts = join(ROOT, 'js', 'error.d.ts');
  if (existsSync(DTS) && existsSync(errorDts)) {
    let dts = readFileSync(DTS, 'utf8');
    if (!dts.includes(MARK)) {
      dts = `${dts.trimEnd()}\n\n${MARK}: from js/error.d.ts\n${readFileSync(errorDts, 'utf8').trimEnd()}\n`;
      writeFileSync(DTS, dts);
      console.log('postbuild: pkg/chat_auth.d.ts declares ChatAuthError (from js/error.d.ts)');
    }
  } else if (existsSync(errorDts)) {
    console.warn('postbuild: WARNING pkg/chat_auth.d.ts missing (built with --no-typescript?); ChatAuthError types not added');
  }
}

// ---------------------------------------------------------------- (b) sizes
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const rows = [WASM, GLUE].map((f) => {
  const raw = readFileSync(f);
  return { name: relative(ROOT, f), raw: raw.length, gz: gzipSync(raw, { level: 9 }).length };
});
const total = rows.reduce((s, r) => s + r.gz, 0);
console.log('postbuild: sizes (gzip -9)');
for (const r of rows) console.log(`  ${r.name.padEnd(24)} ${kb(r.gz).padStart(9)}   (raw ${kb(r.raw)})`);
console.log(`  ${'total'.padEnd(24)} ${kb(total).padStart(9)}`);

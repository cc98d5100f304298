#!/usr/bin/env node
// Runs after `wasm-pack build --target web`:
//  (t) replaces wasm-bindgen's `any`-typed API declarations in pkg/chat_auth.d.ts with js/chat_auth.d.ts
//      (keeping its init types), failing when an export has no declaration there;
//  (a) re-exports ChatAuthError from pkg/chat_auth.js (wasm-bindgen cannot
//      re-export a class that lives in a module snippet) and appends
//      js/error.d.ts to pkg/chat_auth.d.ts;
//  (c) inlines the module snippets (js/error.js, js/asapp.js) into pkg/chat_auth.js;
//  (d) minifies pkg/chat_auth.js with terser (POSTBUILD_MINIFY=0 skips it);
//  (b) prints the gzip -9 sizes of pkg/chat_auth_bg.wasm and pkg/chat_auth.js.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { minify } from 'terser';
import { ROOT } from './lib.mjs';

const PKG = join(ROOT, 'pkg');
const GLUE = join(PKG, 'chat_auth.js');
const DTS = join(PKG, 'chat_auth.d.ts');
const WASM = join(PKG, 'chat_auth_bg.wasm');
const MARK = '// chat-auth postbuild';
const MINIFIED_MARK = '/* chat-auth postbuild: minified */';
// The wasm exports (src/exports/) that only js/chat_auth_host.js calls (see (h)).
const EXPORT_LAYER = ['Driver', 'anonymousIdKey', 'checkCustomerIdJson', 'decodeTokenJson', 'verifyPrepare', 'verifyKey', 'verifyFinish'];

function fail(msg) {
  console.error(`postbuild: FAILED ${msg}`);
  process.exit(1);
}

for (const f of [GLUE, WASM]) if (!existsSync(f)) fail(`${relative(ROOT, f)} missing; run wasm-pack build first`);

// ---------------------------------------------------------------- (t) precise types
// wasm-bindgen types every JsValue parameter and result `any` (and makes optional parameters
// required); the public API's types are written by hand in js/chat_auth.d.ts. Everything from
// `export type InitInput` on (init, initSync, InitOutput) is wasm-bindgen's and stays, with its
// `any` (the raw wasm exports' externref values) read as `unknown`: nothing there is for a site to
// call, and `unknown` keeps a misuse of it from type-checking.
const TYPES = join(ROOT, 'js', 'chat_auth.d.ts');
const TYPES_MARK = '// chat-auth postbuild: API types from js/chat_auth.d.ts';
if (existsSync(DTS) && existsSync(TYPES)) {
  const dts = readFileSync(DTS, 'utf8');
  if (!dts.includes(TYPES_MARK)) {
    const cut = dts.indexOf('export type InitInput');
    if (cut < 0) fail('pkg/chat_auth.d.ts has no `export type InitInput`: wasm-bindgen changed its output; update postbuild (t)');
    const types = readFileSync(TYPES, 'utf8');
    const declared = (text) => [...text.matchAll(/^export (?:declare )?(?:class|function) (\w+)/gm)].map((m) => m[1]);
    const missing = declared(dts.slice(0, cut)).filter((name) => !declared(types).includes(name) && !EXPORT_LAYER.includes(name));
    if (missing.length) fail(`js/chat_auth.d.ts does not declare ${missing.join(', ')} (exported by the crate)`);
    writeFileSync(
      DTS,
      `${TYPES_MARK}
${types.trimEnd()}

${dts.slice(cut).replace(/\bany\b/g, 'unknown')}`,
    );
    console.log('postbuild: pkg/chat_auth.d.ts declares the API from js/chat_auth.d.ts');
  }
}

// ---------------------------------------------------------------- (a) ChatAuthError
/** The snippet folder holding js/error.js: the one chat_auth.js imports, else the only one on disk. */
function findErrorSnippet(glue) {
  const imported = [...glue.matchAll(/from\s+['"](\.\/snippets\/[^'"]+\/js\/error\.js)['"]/g)].map((m) => m[1]);
  if (new Set(imported).size === 1) return imported[0];
  const snippets = join(PKG, 'snippets');
  const onDisk = existsSync(snippets)
    ? readdirSync(snippets)
        .filter((d) => existsSync(join(snippets, d, 'js', 'error.js')))
        .map((d) => `./snippets/${d}/js/error.js`)
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
  if (!glue.includes(MARK) && !glue.includes(MINIFIED_MARK)) {
    glue = `${glue.trimEnd()}\n\n${MARK}: the error class lives in a wasm-bindgen snippet\nexport { ChatAuthError } from '${snippet}';\n`;
    writeFileSync(GLUE, glue);
    console.log(`postbuild: pkg/chat_auth.js re-exports ChatAuthError from ${snippet}`);
  }
  const errorDts = join(ROOT, 'js', 'error.d.ts');
  if (existsSync(DTS) && existsSync(errorDts)) {
    let dts = readFileSync(DTS, 'utf8');
    if (!dts.includes(`${MARK}: from js/error.d.ts`)) {
      dts = `${dts.trimEnd()}\n\n${MARK}: from js/error.d.ts\n${readFileSync(errorDts, 'utf8').trimEnd()}\n`;
      writeFileSync(DTS, dts);
      console.log('postbuild: pkg/chat_auth.d.ts declares ChatAuthError (from js/error.d.ts)');
    }
  } else if (existsSync(errorDts)) {
    console.warn('postbuild: WARNING pkg/chat_auth.d.ts missing (built with --no-typescript?); ChatAuthError types not added');
  }
}

// ---------------------------------------------------------------- (c) inline snippets
// wasm-bindgen loads every `module = "/js/…"` snippet as a file of its own, which a page
// discovers only once chat_auth.js has arrived: one more round trip before init() can even
// start fetching the wasm (npm run bench, cold load). The snippets are small and always
// needed, so they go into chat_auth.js; pkg/snippets stays for tools that look for it.
const INLINE_MARK = '// chat-auth postbuild: snippets inlined';
function inlineSnippets(glue) {
  const importRe = /^import\s+(?:\{([^}]*)\}|\*\s+as\s+(\w+))\s+from\s+['"](\.\/snippets\/[^'"]+)['"];?[ \t]*$/gm;
  const found = [...glue.matchAll(importRe)];
  const specs = new Set(found.map((m) => m[3]));
  const exported = new Set();
  const inlined = new Map(); // spec → the names it exports; a file imported twice is inlined once
  for (const [line, named, namespace, spec] of found) {
    let code = '';
    if (!inlined.has(spec)) {
      code = readFileSync(join(PKG, spec), 'utf8');
      // Imports between snippets point at code that is inlined too: drop them.
      code = code.replace(/^import\s+\{[^}]*\}\s+from\s+['"](\.{1,2}\/[^'"]+)['"];?[ \t]*$/gm, (l, rel) => {
        const target = `./${relative(PKG, join(PKG, dirname(spec), rel))}`;
        if (!specs.has(target)) fail(`${spec} imports ${rel}, which chat_auth.js does not import; cannot inline`);
        return '';
      });
      const names = [];
      code = code.replace(/^export\s+(?=(?:async\s+)?(?:function|class|const|let)\s+(\w+))/gm, (_, name) => {
        if (exported.has(name)) fail(`two snippets export ${name}; cannot inline`);
        exported.add(name);
        names.push(name);
        return '';
      });
      if (/^export\s/m.test(code)) fail(`${spec} has an export form postbuild cannot inline`);
      inlined.set(spec, names);
      code = `// inlined from ${spec}\n${code.trim()}\n`;
    }
    const names = inlined.get(spec);
    if (named && named.split(',').some((n) => !names.includes(n.trim()))) fail(`${line.trim()}: not every name is exported by ${spec}`);
    const ns = namespace ? `const ${namespace} = { __proto__: null, ${names.join(', ')} };\n` : '';
    glue = glue.replace(line, `${code}${ns}`);
  }
  glue = glue.replace(/^export\s+\{([^}]*)\}\s+from\s+['"]\.\/snippets\/[^'"]+['"];?[ \t]*$/gm, (line, names) => {
    if (names.split(',').some((n) => !exported.has(n.trim()))) fail(`${line.trim()}: name not inlined`);
    return `export {${names}};`;
  });
  return `${glue.trimEnd()}\n${INLINE_MARK}\n`;
}
{
  const glue = readFileSync(GLUE, 'utf8');
  if (!glue.includes(INLINE_MARK) && !glue.includes(MINIFIED_MARK)) {
    writeFileSync(GLUE, inlineSnippets(glue));
    console.log('postbuild: pkg/chat_auth.js inlines its snippets (one round trip less before init)');
  }
}

// ---------------------------------------------------------------- (h) the JS host
// The wasm exports a `Driver` handle and the pure functions (src/exports/); the public API is
// js/chat_auth_host.js: it goes into chat_auth.js after the glue, its imports
// resolved to what is inlined there (module snippets the glue imports, else js/<name>.js itself),
// and the export layer's names stop being exports of the package.
const HOST_MARK = '// chat-auth postbuild: JS host inlined';
const HOST = join(ROOT, 'js', 'chat_auth_host.js');
function inlineHost(glue) {
  let host = readFileSync(HOST, 'utf8');
  const importRe = /^import\s+\{([^}]*)\}\s+from\s+['"]\.\/([\w.]+)\.js['"];?[ \t]*$/gm;
  let extra = '';
  for (const [line, names, file] of [...host.matchAll(importRe)]) {
    const wanted = names.split(',').map((n) => n.trim());
    if (file === 'glue') {
      for (const name of wanted) {
        const re = new RegExp(`^export (class|function) ${name}\\b`, 'm');
        if (!re.test(glue)) fail(`js/chat_auth_host.js imports ${name}, which the glue does not export (src/exports/ changed?)`);
        glue = glue.replace(re, '$1 ' + name);
      }
    } else if (!new RegExp(`^// inlined from \\./snippets/[^\\n]*/js/${file}\\.js$`, 'm').test(glue)) {
      let code = readFileSync(join(ROOT, 'js', `${file}.js`), 'utf8');
      code = code.replace(importRe, (l, n, f) => {
        if (f !== 'error') fail(`js/${file}.js imports ./${f}.js; cannot inline`);
        return '';
      });
      code = code.replace(/^export\s+(?=(?:async\s+)?(?:function|class|const|let)\s)/gm, '');
      extra += `// inlined from js/${file}.js\n${code.trim()}\n`;
    }
    host = host.replace(line, '');
  }
  return `${glue.trimEnd()}\n${extra}// from js/chat_auth_host.js\n${host.trim()}\n${HOST_MARK}\n`;
}
{
  const glue = readFileSync(GLUE, 'utf8');
  if (/^export class Driver\b/m.test(glue) && !glue.includes(HOST_MARK) && !glue.includes(MINIFIED_MARK)) {
    writeFileSync(GLUE, inlineHost(glue));
    console.log('postbuild: pkg/chat_auth.js inlines the JS host (js/chat_auth_host.js)');
  }
}

// ---------------------------------------------------------------- (d) minify
// The glue is loaded on every page view: terser takes it from ~8 KB to ~6 KB gzip. Class and
// function names are kept (ChatAuth.name, ChatAuthError.name, readable stack frames), and
// so is the @ts-self-types directive. POSTBUILD_MINIFY=0 leaves the glue readable for debugging.
{
  const glue = readFileSync(GLUE, 'utf8');
  if (!glue.includes(MINIFIED_MARK) && process.env.POSTBUILD_MINIFY !== '0') {
    const out = await minify(glue, {
      module: true,
      ecma: 2020,
      compress: { passes: 2 },
      mangle: true,
      keep_classnames: true,
      keep_fnames: true,
      format: { comments: /@ts-self-types/, preamble: MINIFIED_MARK },
    }).catch((e) => fail(`terser could not minify pkg/chat_auth.js: ${e.message}`));
    writeFileSync(GLUE, `${out.code}\n`);
    console.log(`postbuild: pkg/chat_auth.js minified (${glue.length} → ${out.code.length} bytes)`);
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

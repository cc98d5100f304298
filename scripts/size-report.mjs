#!/usr/bin/env node
// npm run size:report: where the wasm bytes go, by function and by module.
//
// Builds the wasm exactly as `npm run build` does (cargo build --release for wasm32, default features;
// wasm-bindgen --target web; wasm-opt from binaryen 132 with Cargo.toml's wasm-pack arguments) but keeps the function names
// (wasm-bindgen --keep-debug, wasm-opt -g), into target/size-report/ (never pkg/). Then reads the
// module itself (no twiggy, no wabt): each function's body size from the code section, its name from
// the name section, and the data section's size, and prints
//   - the section sizes, and the gzip -9 of the module without its custom sections (≈ the shipped one);
//   - the top N functions;
//   - by group (each layer: src/wire, src/jose, src/options, src/session, src/exports, the top-level files) and a
//     by-module table (each file or folder under src/, as `session/driver`), then std/core/alloc (fmt, str, panic …),
//     the dependencies (js_sys, wasm_bindgen, talc …) and wasm-bindgen's generated shims;
//   - the panic sites left, by source file (each links a Location and keeps core::fmt's panic path).
// It writes the same figures to target/size-report/report.json; `--compare OLD.json` prints the
// change per module against an earlier report (copy report.json away before a cut, compare after).
//
//   npm run size:report                       build, then report (top 40)
//   npm run size:report -- --top 80           more functions
//   npm run size:report -- --no-build         report on the last build in target/size-report/
//   npm run size:report -- --strings 40       also the 40 longest printable runs in the data section
//   npm run size:report -- --module jose/keys/pem   only the functions of one module (as named in the table)
//   npm run size:report -- --compare before.json   (per module, then the functions that changed most)
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { checkWasmOpt, ROOT, run } from './lib.mjs';

const OUT = join(ROOT, 'target', 'size-report');
const CARGO_WASM = join(ROOT, 'target', 'wasm32-unknown-unknown', 'release', 'chat_auth.wasm');
const BINDGEN_WASM = join(OUT, 'chat_auth_bg.wasm');
const NAMED_WASM = join(OUT, 'chat_auth_bg.named.wasm');
/** The wasm-opt arguments wasm-pack uses: Cargo.toml's [package.metadata.wasm-pack.profile.release]. */
function wasmOptArgs() {
  const toml = readFileSync(join(ROOT, 'Cargo.toml'), 'utf8');
  const line = toml.match(/\[package\.metadata\.wasm-pack\.profile\.release\][^[]*?wasm-opt\s*=\s*\[([^\]]*)\]/);
  if (!line) fail('Cargo.toml has no [package.metadata.wasm-pack.profile.release] wasm-opt = [...]');
  return [...line[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]);
}

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
}
const TOP = Number(option('--top', 40));
const STRINGS = Number(option('--strings', 0));
const ONLY_MODULE = option('--module', null);
const COMPARE = option('--compare', null);

function fail(msg) {
  console.error(`size-report: FAILED ${msg}`);
  process.exit(1);
}

async function build() {
  const wasmOpt = checkWasmOpt().path;
  mkdirSync(OUT, { recursive: true });
  const steps = [
    ['cargo', ['build', '--lib', '--release', '--target', 'wasm32-unknown-unknown']],
    ['wasm-bindgen', ['--target', 'web', '--keep-debug', '--out-dir', OUT, CARGO_WASM]],
    [wasmOpt, [...wasmOptArgs(), '-g', BINDGEN_WASM, '-o', NAMED_WASM]],
  ];
  for (const [cmd, args] of steps) {
    console.log(`size-report: ${cmd.split('/').pop()} ${args.map((a) => a.replace(`${ROOT}/`, '')).join(' ')}`);
    const code = await run(cmd, args);
    if (code !== 0) fail(`${cmd} exited ${code}`);
  }
}

// ------------------------------------------------------------------ reading the module
/** A cursor over the module bytes with LEB128 readers. */
class Reader {
  constructor(bytes, pos = 0) {
    this.bytes = bytes;
    this.pos = pos;
  }
  u8() {
    return this.bytes[this.pos++];
  }
  u32() {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  }
  name() {
    const len = this.u32();
    const s = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }
}

const SECTION_NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'datacount', 'tag'];

/** Sections, function bodies (index, size) and the name section's function names. */
function readModule(bytes) {
  if (bytes.readUInt32LE(0) !== 0x6d736100) fail('not a wasm module');
  const r = new Reader(bytes, 8);
  const sections = [];
  let importedFunctions = 0;
  const bodies = [];
  const names = new Map();
  let data = null;
  while (r.pos < bytes.length) {
    const id = r.u8();
    const size = r.u32();
    const start = r.pos;
    const end = start + size;
    let label = SECTION_NAMES[id] ?? `section ${id}`;
    if (id === 0) {
      const inner = new Reader(bytes, start);
      label = `custom "${inner.name()}"`;
      if (label === 'custom "name"') readNames(bytes, inner.pos, end, names);
    } else if (id === 2) {
      const s = new Reader(bytes, start);
      for (let n = s.u32(); n > 0; n--) {
        s.name();
        s.name();
        const kind = s.u8();
        if (kind === 0) {
          s.u32();
          importedFunctions++;
        } else if (kind === 1) {
          s.u8();
          limits(s);
        } else if (kind === 2) limits(s);
        else if (kind === 3) s.pos += 2;
        else if (kind === 4) s.pos += 2;
      }
    } else if (id === 10) {
      const s = new Reader(bytes, start);
      for (let n = s.u32(), i = 0; i < n; i++) {
        const len = s.u32();
        bodies.push({ index: importedFunctions + i, size: len });
        s.pos += len;
      }
    } else if (id === 11) {
      data = { start, end };
    }
    sections.push({ id, label, size, start: start - 1 - lebLength(size), end });
    r.pos = end;
  }
  return { sections, bodies, names, data };
}

function limits(s) {
  const flags = s.u8();
  s.u32();
  if (flags & 1) s.u32();
}

function lebLength(n) {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function readNames(bytes, pos, end, names) {
  const r = new Reader(bytes, pos);
  while (r.pos < end) {
    const sub = r.u8();
    const size = r.u32();
    const next = r.pos + size;
    if (sub === 1) {
      for (let n = r.u32(); n > 0; n--) {
        const index = r.u32();
        names.set(index, r.name());
      }
    }
    r.pos = next;
  }
}

/** The module without its custom sections (names, producers): what ships. */
function stripped(bytes, sections) {
  const parts = [bytes.subarray(0, 8)];
  for (const s of sections) if (s.id !== 0) parts.push(bytes.subarray(s.start, s.end));
  return Buffer.concat(parts);
}

/** Linear memory as the data section initialises it (active segments only), with its base address. */
function memoryImage(bytes, data) {
  const r = new Reader(bytes, data.start);
  const segments = [];
  for (let n = r.u32(); n > 0; n--) {
    const flags = r.u32();
    let offset = 0;
    if (flags === 0 || flags === 2) {
      if (flags === 2) r.u32();
      if (r.u8() !== 0x41) return null; // i32.const
      offset = r.u32();
      r.u8(); // end
    }
    const len = r.u32();
    if (flags !== 1) segments.push({ offset, bytes: bytes.subarray(r.pos, r.pos + len) });
    r.pos += len;
  }
  if (segments.length === 0) return null;
  const base = Math.min(...segments.map((g) => g.offset));
  const end = Math.max(...segments.map((g) => g.offset + g.bytes.length));
  const mem = Buffer.alloc(end - base);
  for (const g of segments) mem.set(g.bytes, g.offset - base);
  return { mem, base };
}

/**
 * Panic sites by source file: each `core::panic::Location` (file pointer, length, line, column) in
 * the data. Every site is 16 bytes of data plus the call that passes it, and any panic path links
 * core::fmt's panic message machinery; the count says where `unwrap`, indexing, slicing and
 * `RefCell` borrows still are.
 */
function panicSites(image) {
  if (!image) return [];
  const { mem, base } = image;
  const counts = new Map();
  for (let a = 0; a + 16 <= mem.length; a += 4) {
    const ptr = mem.readUInt32LE(a) - base;
    const len = mem.readUInt32LE(a + 4);
    const line = mem.readUInt32LE(a + 8);
    const column = mem.readUInt32LE(a + 12);
    if (ptr < 0 || ptr + len > mem.length || len < 4 || len > 300 || line === 0 || line > 100_000 || column > 1000) continue;
    const file = mem.toString('latin1', ptr, ptr + len);
    if (!/^[\x20-\x7e]+\.rs$/.test(file)) continue;
    const short = file.replace(/^.*\/library\//, 'std: ').replace(/^.*\/registry\/src\/[^/]+\//, '');
    counts.set(short, (counts.get(short) ?? 0) + 1);
  }
  return [...counts].sort((x, y) => y[1] - x[1]);
}

// ------------------------------------------------------------------ which module a function is
const STD_CRATES = new Set(['core', 'alloc', 'std']);

/** The crate's modules as `chat_auth` paths (`session::driver::tabs`), read from src/'s files. */
function crateModules(dir = join(ROOT, 'src'), prefix = []) {
  const found = new Set();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (entry.name === 'tests') continue;
      found.add([...prefix, entry.name].join('::'));
      for (const m of crateModules(join(dir, entry.name), [...prefix, entry.name])) found.add(m);
    } else if (entry.name.endsWith('.rs') && !['lib.rs', 'mod.rs', 'tests.rs'].includes(entry.name)) {
      found.add([...prefix, entry.name.slice(0, -3)].join('::'));
    }
  }
  return found;
}
const CRATE_MODULES = crateModules();

/**
 * The module a function belongs to: the longest module of the crate that the first `chat_auth::…`
 * path in its name starts with, written as a path under src/ (`session/driver/tabs`; so
 * `drop_in_place<chat_auth::session::machine::Session>` counts for session/machine, where the bytes come
 * from; `lib.rs` for the crate root), else `core::fmt` / `alloc::string` … for std's crates, else the
 * dependency crate, else wasm-bindgen's generated shims (`__wbg_…`, export wrappers) and compiler builtins
 * (memcpy …).
 */
export function moduleOf(name) {
  const own = name.match(/(?<![\w])chat_auth((?:::[A-Za-z_][A-Za-z0-9_]*)+)/);
  if (own) {
    const segments = own[1].slice(2).split('::');
    for (let n = segments.length; n > 0; n--) {
      const path = segments.slice(0, n).join('::');
      if (CRATE_MODULES.has(path)) return path.replaceAll('::', '/');
    }
    return 'lib.rs';
  }
  if (/^(__rustc|memcpy|memmove|memset|memcmp|__multi3|__udivti3|__umodti3|__ashlti3|__lshrti3)/.test(name)) return 'compiler_builtins';
  const path = name.match(/(?<![\w])([a-z_][a-z0-9_]*)::([A-Za-z_][A-Za-z0-9_]*)/);
  if (path) return STD_CRATES.has(path[1]) ? `${path[1]}::${path[2]}` : path[1];
  return 'wasm-bindgen shims';
}

/** A group for the summary: each layer of the crate (its folder under src/), std, dependencies, generated. */
function groupOf(module) {
  if (module.includes('::') || module === 'compiler_builtins') return 'std (core/alloc/std)';
  if (module === 'wasm-bindgen shims') return 'wasm-bindgen shims';
  if (/^(js_sys|web_sys|wasm_bindgen|wasm_bindgen_futures|talc|gloo_timers|gloo_utils|once_cell)$/.test(module)) return 'dependencies';
  const layer = module.split('/')[0];
  if (layer === 'exports') return 'exports (src/exports)';
  if (['wire', 'jose', 'options', 'session'].includes(layer)) return `core: src/${layer}`;
  return 'core: src/*.rs';
}

// `::h0123…` hashes and `core[c593…]` crate disambiguators say nothing to a reader.
const short = (name) => name.replace(/::h[0-9a-f]{16}\b/g, '').replace(/\[[0-9a-f]{16}\]/g, '');
const kb = (n) => (n / 1024).toFixed(1);
const fmt = (n) => n.toLocaleString('en-US');

// ------------------------------------------------------------------ main
if (!process.argv.includes('--no-build')) await build();
if (!existsSync(NAMED_WASM)) fail(`${NAMED_WASM} missing: run without --no-build`);
const bytes = readFileSync(NAMED_WASM);
const { sections, bodies, names, data } = readModule(bytes);
if (names.size === 0) fail('the module has no name section: was it built with --keep-debug and wasm-opt -g?');

const functions = bodies
  .map((b) => {
    const name = names.get(b.index) ?? `func[${b.index}]`;
    return { name: short(name), size: b.size, module: moduleOf(short(name)) };
  })
  .sort((a, b) => b.size - a.size);
const code = functions.reduce((s, f) => s + f.size, 0);
const byModule = new Map();
for (const f of functions) {
  const m = byModule.get(f.module) ?? { module: f.module, group: groupOf(f.module), size: 0, count: 0 };
  m.size += f.size;
  m.count++;
  byModule.set(f.module, m);
}
const modules = [...byModule.values()].sort((a, b) => b.size - a.size);
const shipped = stripped(bytes, sections);
const glue = join(OUT, 'chat_auth.js');
const dataSize = data ? data.end - data.start : 0;

console.log(`\nsize-report: ${NAMED_WASM.replace(`${ROOT}/`, '')}`);
console.log(
  `  without custom sections: ${fmt(shipped.length)} bytes raw, ${fmt(gzipSync(shipped, { level: 9 }).length)} gzip -9 (pkg/ has the same code; its glue is also minified)`,
);
if (existsSync(glue)) console.log(`  glue (wasm-bindgen output, not minified): ${fmt(readFileSync(glue).length)} bytes raw`);
console.log('\nsections (bytes):');
for (const s of sections) console.log(`  ${s.label.padEnd(28)} ${fmt(s.end - s.start).padStart(9)}`);
console.log(`\ncode: ${fmt(code)} bytes in ${functions.length} functions; data: ${fmt(dataSize)} bytes`);

const groups = new Map();
for (const m of modules) groups.set(m.group, (groups.get(m.group) ?? 0) + m.size);
console.log('\nby group:');
for (const [g, size] of [...groups].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${g.padEnd(24)} ${fmt(size).padStart(8)}  ${kb(size).padStart(6)} KB  ${((size / code) * 100).toFixed(1).padStart(5)} %`);
}

console.log('\nby module (code bytes, functions):');
for (const m of modules)
  console.log(`  ${m.module.padEnd(30)} ${fmt(m.size).padStart(8)}  ${kb(m.size).padStart(6)} KB  ${String(m.count).padStart(4)}  ${m.group}`);

const listed = ONLY_MODULE ? functions.filter((f) => f.module === ONLY_MODULE) : functions.slice(0, TOP);
console.log(ONLY_MODULE ? `\nfunctions of ${ONLY_MODULE}:` : `\ntop ${TOP} functions:`);
for (const f of listed) console.log(`  ${fmt(f.size).padStart(7)}  ${f.module.padEnd(22)} ${f.name.length > 110 ? `${f.name.slice(0, 107)}...` : f.name}`);

const sites = data ? panicSites(memoryImage(bytes, data)) : [];
console.log(`\npanic sites (core::panic::Location in the data, 16 bytes each): ${sites.reduce((n, [, c]) => n + c, 0)}`);
for (const [file, count] of sites) console.log(`  ${String(count).padStart(4)}  ${file}`);

if (STRINGS > 0 && data) {
  const text = bytes.subarray(data.start, data.end).toString('latin1');
  const runs = [...text.matchAll(/[\x20-\x7e]{8,}/g)].map((m) => m[0]).sort((a, b) => b.length - a.length);
  const total = runs.reduce((s, x) => s + x.length, 0);
  console.log(`\ndata: ${fmt(total)} bytes in ${runs.length} printable runs of 8+; the ${STRINGS} longest:`);
  for (const s of runs.slice(0, STRINGS)) console.log(`  ${String(s.length).padStart(5)}  ${s.length > 120 ? `${s.slice(0, 117)}...` : s}`);
}

const report = {
  shippedRaw: shipped.length,
  shippedGzip: gzipSync(shipped, { level: 9 }).length,
  code,
  data: dataSize,
  modules: Object.fromEntries(modules.map((m) => [m.module, m.size])),
  panicSites: Object.fromEntries(sites),
  functions: functions.map((f) => [f.name, f.size]),
};
writeFileSync(join(OUT, 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
console.log(`\nsize-report: wrote ${join(OUT, 'report.json').replace(`${ROOT}/`, '')}`);

if (COMPARE) {
  if (!existsSync(COMPARE)) fail(`${COMPARE} does not exist`);
  const old = JSON.parse(readFileSync(COMPARE, 'utf8'));
  const keys = new Set([...Object.keys(old.modules), ...Object.keys(report.modules)]);
  const rows = [...keys]
    .map((k) => [k, (report.modules[k] ?? 0) - (old.modules[k] ?? 0)])
    .filter(([, d]) => d !== 0)
    .sort((a, b) => a[1] - b[1]);
  const sign = (d) => (d > 0 ? `+${fmt(d)}` : fmt(d));
  console.log(`\ncompared with ${COMPARE}:`);
  console.log(
    `  shipped gzip ${sign(report.shippedGzip - old.shippedGzip)}, raw ${sign(report.shippedRaw - old.shippedRaw)}, code ${sign(report.code - old.code)}, data ${sign(report.data - old.data)}`,
  );
  for (const [k, d] of rows) console.log(`  ${k.padEnd(30)} ${sign(d).padStart(8)}`);
  // Functions by name (several may share one after the hash is cut: sum them). wasm-opt's own unnamed
  // helpers (`func[N]`) change index from build to build, so they are left out here.
  const sums = (list) => list.filter(([n]) => !n.startsWith('func[')).reduce((m, [n, size]) => m.set(n, (m.get(n) ?? 0) + size), new Map());
  const before = sums(old.functions ?? []);
  const after = sums(report.functions);
  const changed = [...new Set([...before.keys(), ...after.keys()])]
    .map((n) => [n, (after.get(n) ?? 0) - (before.get(n) ?? 0)])
    .filter(([, d]) => d !== 0)
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
    .slice(0, TOP);
  console.log(`\nfunctions that changed most (top ${TOP}; + new or grown, - gone or shrunk):`);
  for (const [n, d] of changed) console.log(`  ${sign(d).padStart(8)}  ${n.length > 110 ? `${n.slice(0, 107)}...` : n}`);
}

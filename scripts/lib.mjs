// Small helpers shared by the scripts in this folder. No dependencies.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, homedir, totalmem } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const BIN = join(ROOT, 'node_modules', '.bin');
export const CARGO_BIN = join(process.env.CARGO_HOME || join(homedir(), '.cargo'), 'bin');

/**
 * The environment every tool runs in: node_modules/.bin first (so wasm-pack
 * finds binaryen 132's wasm-opt, never Debian's 108, whose output fails to load), then
 * cargo's bin folder (wasm-pack, wasm-bindgen), then the inherited PATH.
 */
export function toolEnv(extra = {}) {
  const path = [BIN, CARGO_BIN, process.env.PATH || ''].join(delimiter);
  return { ...process.env, PATH: path, ...extra };
}

/** Run a command, inheriting stdio; resolves to its exit code (signals map to 128+n style 1). */
export function run(cmd, args = [], { env = toolEnv(), cwd = ROOT } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: 'inherit' });
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('error', (err) => {
      console.error(`${cmd}: ${err.message}`);
      resolve(127);
    });
    child.on('close', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/** Run a command quietly; returns trimmed stdout, or null when it cannot run or fails. */
export function capture(cmd, args = [], { env = toolEnv(), cwd = ROOT } = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0) return null;
  return r.stdout.trim();
}

/** The path of `name` on the tool PATH, or null. */
export function which(name, env = toolEnv()) {
  for (const dir of (env.PATH || '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** `wasm-opt --version` must say 132: Debian's 108 breaks wasm-bindgen 0.2.130 output. */
export function checkWasmOpt() {
  const path = which('wasm-opt');
  const version = path && capture(path, ['--version']);
  if (!version || !/\bversion 132\b/.test(version)) {
    throw new Error(
      `wasm-opt on PATH is ${path ?? 'missing'} (${version ?? 'no version'}); ` +
        'need binaryen 132 from node_modules/.bin: run `npm run setup` (it runs `npm ci`).',
    );
  }
  return { path, version };
}

/**
 * Does `dir`/node_modules hold exactly what `dir`/package-lock.json pins? Null when it does, else why not.
 * By content, not mtime: a checkout touches mtimes.
 */
export function npmStale(dir) {
  const lockPath = join(dir, 'package-lock.json');
  if (!existsSync(join(dir, 'node_modules'))) return 'node_modules missing';
  if (!existsSync(lockPath)) return 'package-lock.json missing';
  const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    if (!key.startsWith('node_modules/') || !entry.version || entry.link) continue;
    const manifest = join(dir, key, 'package.json');
    if (!existsSync(manifest)) {
      if (entry.optional) continue; // platform-specific optional dependency
      return `${key.slice('node_modules/'.length)} not installed`;
    }
    const installedVersion = JSON.parse(readFileSync(manifest, 'utf8')).version;
    if (installedVersion !== entry.version) {
      return `${key.slice('node_modules/'.length)} is ${installedVersion}, package-lock.json pins ${entry.version}`;
    }
  }
  return null;
}

export const seconds = (start) => ((Date.now() - start) / 1000).toFixed(1);

/** One line about this machine for benchmark reports: CPU, cores, memory, OS, Node. */
export function machine() {
  let cpu = cpus()[0]?.model ?? 'unknown CPU';
  try {
    const l = execFileSync('lscpu', { encoding: 'utf8' });
    cpu = l.match(/Model name:\s*(.+)/)?.[1]?.trim() ?? cpu;
  } catch {
    // lscpu missing: keep node's view.
  }
  let os = process.platform;
  try {
    os = readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="([^"]+)"/)?.[1] ?? os;
  } catch {
    // Not Linux.
  }
  return `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${os}, Node ${process.version}`;
}

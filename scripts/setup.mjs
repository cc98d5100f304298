#!/usr/bin/env node
// Installs what building and testing chat-auth needs, and skips whatever is
// already there. Idempotent, non-interactive (works with CI=true and no stdin),
// safe to call from inside an npm script (`npm test`, `npm start`).
//
//   rust target wasm32-unknown-unknown, components rustfmt + clippy  (rustup)
//   wasm-pack                                 (cargo install --locked)
//   wasm-bindgen-cli = Cargo.lock's wasm-bindgen version (cargo install)
//   chromium + chromium-driver               (apt, only when missing)
//   postgresql (Debian's; the `postgres` test tier and bench:server)  (apt, only when missing)
//   default-jdk-headless, libjna-java, libokhttp-java (the `android` tier: the Kotlin SDK on the JVM)  (apt, only when missing)
//   node_modules: binaryen 132 (wasm-opt), playwright-core, axe-core (accessibility tests), terser (glue minifier),
//                 esbuild + the small bench peers (`npm run bench` installs the big ones itself, in bench/peers),
//                 oidc-provider 9.13.3 (the real-provider tier's identity provider), vite 7,
//                 typescript 5 (also the types tier), react + react-dom 19 and their types (the packaged-install tier),
//                 kotlin-compiler 2.4.20 (kotlinc, the `android` tier),
//                 eslint 9 + @eslint/js + globals and prettier 3 (the `eslint` and `prettier` tiers)  (npm ci)
//
// Nothing here downloads a browser or a prebuilt toolchain binary by itself.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CARGO_BIN, ROOT, capture, checkWasmOpt, npmStale, run, seconds, toolEnv, which } from './lib.mjs';
import { postgresBin } from './postgres.mjs';

const started = Date.now();
const installed = [];
const skipped = [];

const skip = (what, why) => {
  skipped.push(what);
  console.log(`setup: skip     ${what} (${why})`);
};
const install = (what, how) => {
  installed.push(what);
  console.log(`setup: install  ${what}: ${how}`);
};
const fail = (msg) => {
  console.error(`setup: FAILED   ${msg}`);
  process.exit(1);
};

async function must(cmd, args, opts) {
  const code = await run(cmd, args, opts);
  if (code !== 0) fail(`\`${cmd} ${args.join(' ')}\` exited with ${code}`);
}

// ---------------------------------------------------------------- rust
function checkRust() {
  for (const tool of ['cargo', 'rustup']) {
    if (!which(tool)) fail(`${tool} not found on PATH; install Rust with rustup first (this script does not download toolchains)`);
  }
}

async function rustTarget() {
  const target = 'wasm32-unknown-unknown';
  const list = capture('rustup', ['target', 'list', '--installed']) ?? '';
  if (list.split('\n').includes(target)) return skip(`rust target ${target}`, 'installed');
  install(`rust target ${target}`, `rustup target add ${target}`);
  await must('rustup', ['target', 'add', target]);
}

async function rustComponents() {
  const list = (capture('rustup', ['component', 'list', '--installed']) ?? '').split('\n');
  const missing = ['rustfmt', 'clippy'].filter((c) => !list.some((l) => l === c || l.startsWith(`${c}-`)));
  if (missing.length === 0) return skip('rust components rustfmt, clippy', 'installed');
  install(`rust components ${missing.join(', ')}`, `rustup component add ${missing.join(' ')}`);
  await must('rustup', ['component', 'add', ...missing]);
}

/** Pids of other processes running `cargo install … <crate> …`. */
function cargoInstallsOf(crate) {
  const pids = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let argv;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue; // gone, or not ours to read
    }
    const cargoAt = argv.findIndex((a) => a === 'cargo' || a.endsWith('/cargo'));
    if (cargoAt >= 0 && argv[cargoAt + 1] === 'install' && argv.slice(cargoAt + 2).includes(crate)) pids.push(pid);
  }
  return pids;
}

/** Another session may be installing the same crate right now: wait for it instead of racing it. */
async function waitForOtherInstall(crate, limitMinutes = 30) {
  let pids = cargoInstallsOf(crate);
  if (pids.length === 0) return;
  console.log(`setup: wait     \`cargo install ${crate}\` already running (pid ${pids.join(', ')}); waiting for it`);
  const waitStart = Date.now();
  let lastNote = Date.now();
  while (pids.length > 0) {
    if (Date.now() - waitStart > limitMinutes * 60_000) {
      console.log(`setup: wait     gave up after ${limitMinutes} min; installing ${crate} here`);
      return;
    }
    await new Promise((r) => setTimeout(r, 5000));
    if (Date.now() - lastNote > 60_000) {
      console.log(`setup: wait     still waiting for \`cargo install ${crate}\` (${seconds(waitStart)} s)`);
      lastNote = Date.now();
    }
    pids = cargoInstallsOf(crate);
  }
  console.log(`setup: wait     the other \`cargo install ${crate}\` finished after ${seconds(waitStart)} s`);
}

async function wasmPack() {
  const have = () => capture('wasm-pack', ['--version']);
  let version = have();
  if (!version) {
    await waitForOtherInstall('wasm-pack');
    version = have();
  }
  if (version) return skip('wasm-pack', version);
  install('wasm-pack', 'cargo install --locked wasm-pack (~3 min)');
  await must('cargo', ['install', '--locked', 'wasm-pack']);
  if (!have()) fail(`wasm-pack does not answer after installing it; is ${CARGO_BIN} on PATH?`);
}

/** The `wasm-bindgen` version in Cargo.lock (creating the lock file when there is none). */
async function lockedWasmBindgenVersion() {
  const lockPath = join(ROOT, 'Cargo.lock');
  if (!existsSync(lockPath)) {
    console.log('setup: note     Cargo.lock missing; running `cargo generate-lockfile`');
    await must('cargo', ['generate-lockfile']);
  }
  const lock = readFileSync(lockPath, 'utf8');
  const versions = [...lock.matchAll(/\[\[package\]\]\r?\nname = "wasm-bindgen"\r?\nversion = "([^"]+)"/g)].map((m) => m[1]);
  if (versions.length !== 1) {
    fail(`expected exactly one wasm-bindgen in Cargo.lock, found ${versions.length ? versions.join(', ') : 'none'}`);
  }
  return versions[0];
}

async function wasmBindgen() {
  const want = await lockedWasmBindgenVersion();
  const have = () => capture('wasm-bindgen', ['--version'])?.split(/\s+/)[1] ?? null;
  let version = have();
  if (version !== want) {
    await waitForOtherInstall('wasm-bindgen-cli');
    version = have();
  }
  if (version === want) return skip(`wasm-bindgen-cli ${want}`, 'matches Cargo.lock');
  install(`wasm-bindgen-cli ${want}`, `cargo install wasm-bindgen-cli --version ${want} (~2.5 min; ${version ? `replaces ${version}` : 'Cargo.lock pins it'})`);
  // Not --locked: the CLI's own lock file does not build with current toolchains.
  await must('cargo', ['install', 'wasm-bindgen-cli', '--version', want, ...(version ? ['--force'] : [])]);
  if (have() !== want) fail(`wasm-bindgen --version is still ${have()} after installing ${want}; is ${CARGO_BIN} on PATH?`);
}

// ---------------------------------------------------------------- browser
async function chromium() {
  const missing = ['/usr/bin/chromium', '/usr/bin/chromedriver'].filter((p) => !existsSync(p));
  if (missing.length === 0) {
    const v = capture('/usr/bin/chromium', ['--version']) ?? 'present';
    return skip('chromium + chromium-driver', v.replace(/\s+built on.*/, ''));
  }
  install('chromium + chromium-driver', `apt-get install (missing ${missing.join(', ')})`);
  await aptInstall(['chromium', 'chromium-driver']);
}

let aptUpdated = false;
/** `apt-get install -y` (after one `apt-get update` per run), non-interactive; through `sudo -n` unless root. */
async function aptInstall(packages) {
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const env = toolEnv({ DEBIAN_FRONTEND: 'noninteractive' });
  const apt = (args) => (sudo.length ? must(sudo[0], [...sudo.slice(1), 'apt-get', ...args], { env }) : must('apt-get', args, { env }));
  if (!aptUpdated) {
    await apt(['update']);
    aptUpdated = true;
  }
  await apt(['install', '-y', ...packages]);
}

// ---------------------------------------------------------------- database
async function postgresql() {
  const bin = postgresBin();
  if (bin) return skip('postgresql', bin);
  install('postgresql', "apt-get install (the `postgres` test tier's throwaway cluster)");
  await aptInstall(['postgresql']);
  if (!postgresBin()) fail('postgresql installed, but /usr/lib/postgresql/<version>/bin/initdb is still missing');
}

// ---------------------------------------------------------------- JVM
/** The `android` tier's JVM side: a JDK (kotlinc runs on it), JNA (UniFFI's Kotlin bindings), OkHttp 3 (+ Okio). */
const JVM_PACKAGES = [
  ['/usr/bin/javac', 'default-jdk-headless'],
  ['/usr/share/java/jna.jar', 'libjna-java'],
  ['/usr/share/java/okhttp.jar', 'libokhttp-java'],
  ['/usr/share/java/okio.jar', 'libokhttp-java'],
];

async function jvm() {
  const missing = [...new Set(JVM_PACKAGES.filter(([path]) => !existsSync(path)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return skip('JDK, JNA, OkHttp 3', capture('javac', ['-version']) ?? 'present');
  install(missing.join(', '), `apt-get install (the \`android\` tier; missing ${missing.join(', ')})`);
  await aptInstall(missing);
  const still = JVM_PACKAGES.filter(([path]) => !existsSync(path)).map(([path]) => path);
  if (still.length) fail(`installed ${missing.join(', ')}, but ${still.join(', ')} still missing`);
}

// ---------------------------------------------------------------- npm
async function npmDeps() {
  const why = npmStale(ROOT);
  if (!why) return skip('node_modules', 'matches package-lock.json');
  const hasLock = existsSync(join(ROOT, 'package-lock.json'));
  const args = hasLock ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'];
  install('node_modules', `npm ${args[0]} (${why})`);
  await must('npm', args);
}

// ---------------------------------------------------------------- main
checkRust();
await npmDeps();
await chromium();
await postgresql();
await jvm();
await rustTarget();
await rustComponents();
await wasmPack();
await wasmBindgen();
try {
  const { version } = checkWasmOpt();
  console.log(`setup: check    ${version} from node_modules/.bin`);
} catch (e) {
  fail(e.message);
}
console.log(
  installed.length
    ? `setup: done in ${seconds(started)} s; installed: ${installed.join('; ')}`
    : `setup: done in ${seconds(started)} s; everything was already installed, nothing to do`,
);

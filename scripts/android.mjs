#!/usr/bin/env node
// The Kotlin SDK on the JVM (the `android` test tier):
//
//   1. cargo build -p chat-auth-ffi --features bindgen   (debug, like the native and server tiers:
//      it reuses their artifacts; builds libchat_auth_ffi.so and the crate's own uniffi-bindgen)
//   2. uniffi-bindgen generate --library … --language kotlin   (target/android/bindings, not committed)
//   3. kotlinc android/src/main + the bindings + android/src/test → target/android/chat-auth-jvm.jar
//      (skipped when its inputs did not change)
//   4. node --test tests/android/   (the JVM against the reference backend, and the web widget in Chromium)
//
//   node scripts/android.mjs            all four
//   node scripts/android.mjs --build    1–3 only
//
// Needs what scripts/setup.mjs installs: kotlinc (npm kotlin-compiler), a JDK,
// JNA and OkHttp 3 (Debian's jars), and the server binary (`cargo build -p chat-auth-server`).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, run, seconds } from './lib.mjs';

export const ANDROID_TARGET = join(ROOT, 'target', 'android');
export const JAR = join(ANDROID_TARGET, 'chat-auth-jvm.jar');
export const NATIVE_DIR = join(ROOT, 'target', 'debug');
const BINDINGS = join(ANDROID_TARGET, 'bindings');
const STAMP = join(ANDROID_TARGET, 'inputs.sha256');

/** Debian's jars: JNA (UniFFI's Kotlin bindings load the library through it), OkHttp 3 and its Okio. */
export const SYSTEM_JARS = ['/usr/share/java/jna.jar', '/usr/share/java/okhttp.jar', '/usr/share/java/okio.jar'];

/**
 * kotlinc from npm's kotlin-compiler (the JetBrains distribution; its package links only
 * `kotlinc-js` into node_modules/.bin), and the Kotlin standard library it ships.
 */
export function kotlin() {
  const home = join(ROOT, 'node_modules', 'kotlin-compiler');
  return { kotlinc: join(home, 'bin', 'kotlinc'), stdlib: join(home, 'lib', 'kotlin-stdlib.jar') };
}

/** The classpath the tests run with. */
export function classpath() {
  return [JAR, kotlin().stdlib, ...SYSTEM_JARS].join(':');
}

function sources(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.kt') ? [join(dir, e.name)] : []))
    .sort();
}

function fail(message) {
  console.error(`android: ${message}`);
  process.exit(1);
}

async function must(cmd, args, opts) {
  const code = await run(cmd, args, opts);
  if (code !== 0) fail(`\`${relative(ROOT, cmd) || cmd} ${args.join(' ')}\` exited with ${code}`);
}

export async function build() {
  const started = Date.now();
  const missing = [kotlin().kotlinc, kotlin().stdlib, ...SYSTEM_JARS].filter((p) => !existsSync(p));
  if (missing.length) fail(`missing ${missing.join(', ')}: run \`npm run setup\``);

  await must('cargo', ['build', '-p', 'chat-auth-ffi', '--features', 'bindgen']);
  const library = join(NATIVE_DIR, 'libchat_auth_ffi.so');
  rmSync(BINDINGS, { recursive: true, force: true });
  await must(join(NATIVE_DIR, 'uniffi-bindgen'), ['generate', '--library', library, '--language', 'kotlin', '--out-dir', BINDINGS, '--no-format']);

  const files = [...sources(join(ROOT, 'android', 'src', 'main')), ...sources(BINDINGS), ...sources(join(ROOT, 'android', 'src', 'test'))];
  const hash = createHash('sha256');
  for (const f of files) hash.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  const digest = hash.digest('hex');
  if (existsSync(JAR) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === digest) {
    console.log(`android: ${relative(ROOT, JAR)} is up to date (${files.length} sources)`);
  } else {
    mkdirSync(ANDROID_TARGET, { recursive: true });
    console.log(`android: kotlinc ${files.length} sources → ${relative(ROOT, JAR)}`);
    await must(kotlin().kotlinc, ['-nowarn', '-jvm-target', '17', '-cp', SYSTEM_JARS.join(':'), '-d', JAR, ...files]);
    writeFileSync(STAMP, digest);
  }
  console.log(`android: built in ${seconds(started)} s`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await build();
  if (!process.argv.includes('--build')) {
    const tests = readdirSync(join(ROOT, 'tests', 'android'))
      .filter((f) => f.endsWith('.test.mjs'))
      .sort();
    const code = await run(process.execPath, ['--test', '--test-concurrency=1', ...tests.map((f) => join('tests', 'android', f))]);
    process.exit(code);
  }
}

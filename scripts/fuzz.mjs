#!/usr/bin/env node
// npm run fuzz: a long run of tests/fuzz/ (the `fuzz` test target), optimised (cargo profile `fuzz`).
//
//   npm run fuzz                      1,000,000 cases (125,000 for each of the 8 targets)
//   npm run fuzz -- 4000000           that many cases in all
//   npm run fuzz -- --minutes 30      as many as fit in 30 minutes (all targets at once)
//   npm run fuzz -- --seed 123        repeat a run (the seed is printed by every run)
//
// `npm test` runs the same targets with a small budget (8,000 cases each, debug build).
import { spawn } from 'node:child_process';
import { ROOT, seconds, toolEnv } from './lib.mjs';

const TARGETS = 8; // the fuzz_* tests in tests/fuzz/main.rs
const args = process.argv.slice(2);
let total = 1_000_000;
let minutes = null;
let seed = '';
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--minutes') minutes = Number(args[++i]);
  else if (a === '--seed') seed = args[++i];
  else if (/^\d+$/.test(a.replaceAll(/[_,]/g, ''))) total = Number(a.replaceAll(/[_,]/g, ''));
  else {
    console.error(`fuzz: unknown argument ${a}; usage: npm run fuzz -- [cases] [--minutes M] [--seed S]`);
    process.exit(2);
  }
}
if (minutes !== null && !(minutes > 0)) {
  console.error('fuzz: --minutes needs a positive number');
  process.exit(2);
}

// All targets run at once, one thread each, so a time limit is the run's.
const env = {
  RUST_TEST_THREADS: String(TARGETS + 1),
  CHAT_AUTH_FUZZ_CASES: minutes ? String(Number.MAX_SAFE_INTEGER) : String(Math.ceil(total / TARGETS)),
  CHAT_AUTH_FUZZ_SECONDS: minutes ? String(minutes * 60) : '',
  CHAT_AUTH_FUZZ_SEED: seed,
};
console.log(
  minutes ? `fuzz: ${minutes} min, all ${TARGETS} targets at once` : `fuzz: ${total.toLocaleString('en')} cases (${env.CHAT_AUTH_FUZZ_CASES} per target)`,
);

const started = Date.now();
const child = spawn('cargo', ['test', '--profile', 'fuzz', '--test', 'fuzz', '--', '--nocapture'], {
  cwd: ROOT,
  env: toolEnv(env),
  stdio: ['ignore', 'pipe', 'inherit'],
});
let cases = 0;
let busy = 0; // wall time of the test run, as cargo's harness reports it
let out = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  out += chunk;
  let nl;
  while ((nl = out.indexOf('\n')) >= 0) {
    const line = out.slice(0, nl);
    out = out.slice(nl + 1);
    const m = /^fuzz \S+: (\d+) cases in ([\d.]+) s/.exec(line);
    if (m) cases += Number(m[1]);
    const f = /^test result: .* finished in ([\d.]+)s/.exec(line);
    if (f) busy = Number(f[1]);
  }
});
child.on('close', (code) => {
  const rate = busy > 0 ? Math.round(cases / busy) : 0;
  console.log(
    `\nfuzz: ${cases.toLocaleString('en')} cases in all, ${busy.toFixed(1)} s of fuzzing (${rate.toLocaleString('en')} cases/s over ${TARGETS} targets), ${seconds(started)} s with the build; ${code === 0 ? 'no finding' : 'FAILED'}`,
  );
  process.exit(code ?? 1);
});

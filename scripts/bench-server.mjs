#!/usr/bin/env node
// npm run bench:server: the reference backend under load, on SQLite and on
// PostgreSQL, with one and with two instances sharing the database. Prints
// throughput and p50/p99 latency per configuration and writes the table into
// BENCHMARKS.md (its own section, after the notes `npm run bench` keeps).
//
//   node scripts/bench-server.mjs                 full run
//   BENCH_QUICK=1 node scripts/bench-server.mjs   fewer requests, for trying the script out
//
// Each configuration: fresh database, instances on 127.0.0.1 (PORT=0), then
// CUSTOMERS simulated customers at once, each logged in once and then looping
// send, list, send, list, refresh; every request goes to the next instance
// in turn (a load balancer without sticky sessions). Bounded: REQUESTS in
// total or SECONDS, whichever comes first. The server is built optimised
// (opt-level 3, no LTO: a profile defined on the command line, in
// target/bench-server/). PostgreSQL is a throwaway cluster (scripts/postgres.mjs)
// with synchronous_commit=off, which matches SQLite's WAL + synchronous=NORMAL:
// both keep every commit across a process crash and may lose the last ones on
// a power loss. Client and servers share the machine's cores.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, machine, run, seconds, toolEnv } from './lib.mjs';
import { startCluster } from './postgres.mjs';

const QUICK = Boolean(process.env.BENCH_QUICK);
const CUSTOMERS = 16;
const REQUESTS = QUICK ? 800 : 6000; // per configuration, at most
const SECONDS = QUICK ? 5 : 20; // per configuration, at most
const REQUEST_TIMEOUT_MS = 10_000;
const PROFILE = 'bench-server';
const SERVER_BIN = join(ROOT, 'target', PROFILE, 'chat-auth-server');
const SECTION = '## Reference backend under load (`npm run bench:server`)';
const USERS = [
  ['alice', 'wonderland'],
  ['bob', 'builder'],
  ['carol', 'singing'],
];

function buildServer() {
  const profile = {
    inherits: '"release"',
    'opt-level': '3',
    lto: 'false',
    'codegen-units': '16',
    panic: '"unwind"',
  };
  const config = Object.entries(profile).flatMap(([k, v]) => ['--config', `profile.${PROFILE}.${k}=${v}`]);
  return run('cargo', [...config, 'build', '-p', 'chat-auth-server', '--profile', PROFILE], { env: toolEnv() });
}

/** Starts one server instance on `db`; resolves to { url, stop() }. */
function startInstance(db) {
  const child = spawn(SERVER_BIN, [], {
    cwd: ROOT,
    // One CHAT_ISSUER for all: the default (each instance's own URL) differs
    // between instances, and a token from one would be refused by the other.
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      CHAT_DB: db,
      CHAT_ISSUER: 'http://127.0.0.1',
      CHAT_TOKEN_TTL: '300',
      CHAT_LOGIN_LIMIT: '10000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s: ${err}`)), 30_000);
    let head = '';
    const onData = (chunk) => {
      head += chunk;
      const m = /chat-auth demo: (http:\/\/127\.0\.0\.1:\d+)\//.exec(head);
      if (!m) return;
      clearTimeout(timer);
      // The request log keeps coming: read and drop it so the pipe never fills.
      child.stdout.off('data', onData);
      child.stdout.resume();
      resolve({
        url: m[1],
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) at start: ${err}`));
    });
  });
}

async function call(url, path, init, expected) {
  const res = await fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const body = await res.json().catch(() => null);
  if (res.status !== expected) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

const json = (body) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** One configuration: `instances` servers on `db`; the figures. */
async function measure(label, db, instanceCount) {
  const instances = [];
  try {
    for (let i = 0; i < instanceCount; i++) instances.push(await startInstance(db));
    let turn = 0;
    const next = () => instances[turn++ % instances.length].url;
    const sessions = [];
    for (let c = 0; c < CUSTOMERS; c++) {
      const [username, password] = USERS[c % USERS.length];
      sessions.push(await call(next(), '/auth/login', json({ username, password }), 200));
    }
    const latencies = { send: [], list: [], refresh: [] };
    let issued = 0;
    let errors = 0;
    let firstError = null;
    const started = performance.now();
    const deadline = started + SECONDS * 1000;
    const customer = async (c) => {
      let s = sessions[c];
      for (let step = 0; issued < REQUESTS && performance.now() < deadline; step++) {
        issued++;
        const kind = ['send', 'list', 'send', 'list', 'refresh'][step % 5];
        const auth = { authorization: `Bearer ${s.access_token}` };
        const t0 = performance.now();
        try {
          if (kind === 'send') {
            const body = JSON.stringify({ text: `message ${step} of customer ${c}`, clientId: `c${c}-${step}` });
            await call(next(), '/api/messages', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body }, 201);
          } else if (kind === 'list') {
            await call(next(), '/api/messages', { headers: auth }, 200);
          } else {
            const body = new URLSearchParams({ grant_type: 'refresh_token', client_id: 'chat-demo', refresh_token: s.refresh_token });
            s = await call(next(), '/oauth/token', { method: 'POST', body }, 200);
          }
          latencies[kind].push(performance.now() - t0);
        } catch (e) {
          errors++;
          firstError ??= e.message;
          if (kind === 'refresh') break; // this customer's session is gone
        }
      }
    };
    await Promise.all(sessions.map((_, c) => customer(c)));
    const elapsed = (performance.now() - started) / 1000;
    const all = Object.values(latencies).flat();
    // A figure with failures in it measures the wrong thing: no table then.
    if (firstError) throw new Error(`${label}, ${instanceCount} instance(s): ${errors} failed request(s), first: ${firstError}`);
    return {
      label,
      instances: instanceCount,
      requests: all.length,
      seconds: elapsed,
      perSecond: all.length / elapsed,
      p50: percentile(all, 50),
      p99: percentile(all, 99),
      refreshP50: percentile(latencies.refresh, 50),
      sendP99: percentile(latencies.send, 99),
    };
  } finally {
    await Promise.all(instances.map((i) => i.stop()));
  }
}

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const ms = (v) => (Number.isNaN(v) ? '–' : v.toFixed(2));

function table(rows) {
  const head = '| store | instances | requests (all answered as expected) | req/s | p50 ms | p99 ms | send p99 ms | refresh p50 ms | req/s vs 1 instance |';
  const lines = [head, '|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const single = rows.find((x) => x.label === r.label && x.instances === 1);
    const ratio = single ? `${(r.perSecond / single.perSecond).toFixed(2)}×` : '–';
    lines.push(
      `| ${r.label} | ${r.instances} | ${r.requests} | ${r.perSecond.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.sendP99)} | ${ms(r.refreshP50)} | ${ratio} |`,
    );
  }
  return lines.join('\n');
}

async function main() {
  const started = new Date();
  const load = loadavg();
  const code = await buildServer();
  if (code !== 0) throw new Error(`building the server failed (exit ${code})`);
  if (!existsSync(SERVER_BIN)) throw new Error(`${SERVER_BIN} missing after the build`);
  const cluster = await startCluster({ settings: { synchronous_commit: 'off' } });
  const dir = mkdtempSync(join(tmpdir(), 'chat-auth-bench-'));
  const rows = [];
  try {
    const configs = [
      ['SQLite (one file)', 1, () => join(dir, `sqlite-1.sqlite`)],
      ['SQLite (one file)', 2, () => join(dir, `sqlite-2.sqlite`)],
      ['PostgreSQL 15', 1, () => cluster.createDatabase('bench_1')],
      ['PostgreSQL 15', 2, () => cluster.createDatabase('bench_2')],
    ];
    for (const [label, n, db] of configs) {
      const t0 = Date.now();
      console.log(`bench: ${label}, ${n} instance(s), ${CUSTOMERS} customers…`);
      rows.push(await measure(label, db(), n));
      console.log(`bench:   done in ${seconds(t0)} s`);
    }
  } finally {
    cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const md = table(rows);
  console.log(`\n${md}\n`);
  const section = `${SECTION}

Written by \`npm run bench:server\` (scripts/bench-server.mjs); every row from one run.

- date: ${started.toISOString()}
- machine: ${machine()}; load average at start ${load.map((l) => l.toFixed(1)).join(' / ')} (1 / 5 / 15 min)
- command: \`npm run bench:server\`${QUICK ? ' (BENCH_QUICK=1: reduced counts)' : ''}
- load: ${CUSTOMERS} simulated customers at once (the three demo users), each logged in once, then looping send, list, send, list, refresh;
  each request to the next instance in turn; at most ${REQUESTS} requests or ${SECONDS} s per configuration. Latency is per request, from the
  client (Node's fetch, keep-alive) on the same 2 cores as the servers and PostgreSQL. Server: opt-level 3, request log on.
- durability alike on both stores: SQLite WAL + synchronous=NORMAL, PostgreSQL synchronous_commit=off.
- reading it: on 2 cores shared by the client, the instances and PostgreSQL, a second instance brings no CPU of its own; the two-instance rows show
  what sharing one database between processes costs, not how far it scales. Rows of one run vary with the machine's other load.

${md}
`;
  const file = join(ROOT, 'BENCHMARKS.md');
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const at = old.indexOf(SECTION);
  let updated;
  if (at < 0) {
    updated = `${old.trimEnd()}\n\n${section}`;
  } else {
    const after = old.indexOf('\n## ', at + SECTION.length);
    updated = `${old.slice(0, at)}${section}${after < 0 ? '' : old.slice(after)}`;
  }
  writeFileSync(file, updated);
  console.log('bench: wrote BENCHMARKS.md');
}

main().catch((e) => {
  console.error(`bench: FAILED ${e.stack || e.message}`);
  process.exit(1);
});

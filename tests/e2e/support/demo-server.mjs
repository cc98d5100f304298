// The real reference backend (server/, target/debug/chat-auth-server) for the
// demo e2e tests: 127.0.0.1, a free port, in-memory SQLite, short tokens.
//
//   const srv = await startDemoServer({ tokenTtl: 5 });
//   srv.url        http://127.0.0.1:<port>/  (www/ at /, pkg/ at /pkg/)
//   srv.logs       every JSON log line so far (parsed)
//   srv.requests() the `request` log lines (method, path, status, bearer: none|valid|expired|…)
//   srv.logText()  the raw log, for secret searches
//   await srv.close()   SIGTERM, resolves when the process has exited
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../harness.mjs';

export const SERVER_BIN = join(REPO_ROOT, 'target', 'debug', 'chat-auth-server');

export function requireServer() {
  if (!existsSync(SERVER_BIN)) {
    throw new Error(`${SERVER_BIN} missing: run \`cargo build -p chat-auth-server\` (the e2e tier builds it)`);
  }
}

export async function startDemoServer({ tokenTtl = 5, env = {} } = {}) {
  requireServer();
  const child = spawn(SERVER_BIN, [], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PORT: '0',
      CHAT_DB: ':memory:',
      CHAT_TOKEN_TTL: String(tokenTtl),
      CHAT_WWW: join(REPO_ROOT, 'www'),
      CHAT_PKG: process.env.CHAT_AUTH_E2E_PKG || join(REPO_ROOT, 'pkg'),
      CHAT_INTROSPECTION_SECRET: 'e2e-introspection-secret',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let raw = '';
  let errText = '';
  const logs = [];
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${errText}`)), 15_000);
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      raw += chunk;
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^chat-auth demo: (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        } else if (line.startsWith('{')) {
          try {
            logs.push(JSON.parse(line));
          } catch {
            logs.push({ unparsed: line });
          }
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c) => {
      errText += c;
      raw += c;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}): ${errText}`));
    });
  });
  return {
    url,
    origin: url.slice(0, -1),
    logs,
    requests: (filter = {}) =>
      logs.filter((l) => l.event === 'request' && Object.entries(filter).every(([k, v]) => (v instanceof RegExp ? v.test(l[k]) : l[k] === v))),
    logText: () => raw,
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      return code;
    },
  };
}

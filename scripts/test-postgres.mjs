#!/usr/bin/env node
// The `postgres` tier of `npm test`: the server's store, API and race tests
// (server/tests/store.rs, api.rs, races.rs, desk.rs) against a real PostgreSQL — a
// throwaway cluster on 127.0.0.1 (scripts/postgres.mjs), stopped and removed
// afterwards whether the tests pass or fail. The native tier runs the same
// tests on SQLite. Without PostgreSQL this tier fails; it never skips.
import { MISSING, postgresBin, startCluster } from './postgres.mjs';
import { run, seconds, toolEnv } from './lib.mjs';

if (!postgresBin()) {
  console.error(`test-postgres: FAILED: ${MISSING}`);
  process.exit(1);
}
const started = Date.now();
// Throwaway data: no fsync.
const cluster = await startCluster({ settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } });
console.log(`test-postgres: cluster on ${cluster.url} (${cluster.dir}) in ${seconds(started)} s`);
let code;
try {
  code = await run('cargo', ['test', '-p', 'chat-auth-server', '--test', 'store', '--test', 'api', '--test', 'races', '--test', 'desk'], {
    env: toolEnv({ CHAT_TEST_POSTGRES: cluster.url }),
  });
} finally {
  cluster.stop();
}
console.log(`test-postgres: ${code === 0 ? 'passed' : `FAILED (exit ${code})`}; cluster stopped and removed`);
process.exit(code);

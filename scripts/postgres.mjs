// A throwaway PostgreSQL cluster for the `postgres` test tier and
// `npm run bench:server`: Debian's postgresql (setup.mjs installs it), a new
// cluster in a temporary directory, listening on 127.0.0.1 only at a free
// port, trust authentication for the user `chat`. stop() ends the server
// and removes the directory; it also runs when this process exits or is
// interrupted, so a failing test never leaves a server behind.
//
// initdb refuses to run as root: as root, the directory belongs to the OS
// user `postgres` and every PostgreSQL command runs through `su postgres`.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PG_ROOT = '/usr/lib/postgresql';

/** The newest /usr/lib/postgresql/<version>/bin holding initdb, or null. */
export function postgresBin() {
  if (!existsSync(PG_ROOT)) return null;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(join(PG_ROOT, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(PG_ROOT, versions[0], 'bin') : null;
}

export const MISSING =
  "PostgreSQL is not installed (no /usr/lib/postgresql/<version>/bin/initdb): run `npm run setup`, which installs Debian's postgresql package";

/** A free TCP port on 127.0.0.1 (bound, then released for the cluster). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const quote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** Runs a PostgreSQL program, as `postgres` when we are root; throws with its output on failure. */
function pg(bin, program, args, { asUser }) {
  const argv = [join(bin, program), ...args];
  const r = asUser
    ? spawnSync('su', [asUser, '-s', '/bin/sh', '-c', argv.map(quote).join(' ')], { encoding: 'utf8' })
    : spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`${program} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr || r.stdout || '').trim()}`);
  }
  return r.stdout;
}

function osUser(name) {
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) return null;
  return { uid: Number(r.stdout), gid: Number(g.stdout) };
}

/**
 * Starts a cluster. `settings` are extra server settings (`-c name=value`).
 * Resolves to { url: 'postgres://chat@127.0.0.1:PORT', port, dir, createDatabase(name), stop() }.
 */
export async function startCluster({ settings = {} } = {}) {
  const bin = postgresBin();
  if (!bin) throw new Error(MISSING);
  const root = process.getuid?.() === 0;
  const asUser = root ? 'postgres' : null;
  const dir = mkdtempSync(join(tmpdir(), 'chat-auth-pg-'));
  const data = join(dir, 'data');
  let running = false;
  const stop = () => {
    process.off('exit', stop);
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    if (running) {
      running = false;
      try {
        pg(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'], { asUser });
      } catch (e) {
        console.error(`postgres: stopping the cluster: ${e.message}`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const interrupted = (signal) => {
    stop();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', stop);
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);
  try {
    if (root) {
      const user = osUser('postgres');
      if (!user) throw new Error("the OS user `postgres` is missing: reinstall Debian's postgresql package");
      chownSync(dir, user.uid, user.gid);
    }
    pg(bin, 'initdb', ['-D', data, '-A', 'trust', '-U', 'chat', '-E', 'UTF8', '--no-sync', '--no-instructions'], { asUser });
    const options = { listen_addresses: '127.0.0.1', unix_socket_directories: dir, max_connections: 200, ...settings };
    // A port taken between freePort() and the start: try another.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const o = [`-p ${port}`, ...Object.entries(options).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
      try {
        pg(bin, 'pg_ctl', ['-D', data, '-o', o, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start'], { asUser });
      } catch (e) {
        if (attempt < 3) continue;
        const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8') : '';
        throw new Error(`${e.message}\n${log}`);
      }
      running = true;
      const url = `postgres://chat@127.0.0.1:${port}`;
      return {
        url,
        port,
        dir,
        /** Creates database `name`; its URL. */
        createDatabase(name) {
          pg(bin, 'createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'chat', name], { asUser });
          return `${url}/${name}`;
        },
        stop,
      };
    }
  } catch (e) {
    stop();
    throw e;
  }
}

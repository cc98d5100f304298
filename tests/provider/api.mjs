// The real-provider tier's chat API: examples/resource_server (the native crate validating every
// request against the provider's JWKS), started as a child process on 127.0.0.1.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../e2e/harness.mjs';

export const API_BINARY = join(REPO_ROOT, 'target', 'debug', 'examples', 'resource_server');

/** Start the Rust chat API (`dpop`: its DPoP mode); resolves to { origin, stats(), close() }. */
export function startApi({ issuer, api, site, dpop = false }) {
  return new Promise((resolve, reject) => {
    const args = [issuer, `${issuer}/jwks`, api, site, ...(dpop ? ['dpop'] : [])];
    const child = spawn(API_BINARY, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error('resource_server did not start within 20 s')), 20_000);
    child.once('error', reject);
    child.stdout.setEncoding('utf8');
    child.stdout.once('data', (line) => {
      clearTimeout(timer);
      const origin = /listening on (\S+)/.exec(line)?.[1];
      if (!origin) return reject(new Error(`resource_server said: ${line}`));
      resolve({
        origin,
        stats: async () => (await fetch(`${origin}/stats`)).json(),
        close: () => child.kill('SIGTERM'),
      });
    });
  });
}

#!/usr/bin/env node
// A tiny static file server for the demo and the browser tests (node:http only).
//
//   node scripts/serve.mjs            www/ at /, pkg/ at /pkg/, http://127.0.0.1:$PORT (default 8080)
//
// As a module: `createStaticServer({ root, mounts, csp })` returns an unstarted
// http.Server; `listen(server, { port, host })` starts it and resolves to its URL.
import { createReadStream, readFileSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));
const REPO_WWW = join(REPO, 'www');

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

/**
 * The demo's Content-Security-Policy, defined once in server/content-security-policy.txt: the
 * reference backend sends it with every response (`include_str!`), `node scripts/serve.mjs` with
 * every page. No inline script or style, no eval, WebAssembly compilation allowed, this origin only.
 */
export const CSP = readFileSync(join(REPO, 'server', 'content-security-policy.txt'), 'utf8').trim();

/**
 * The same policy's `script-src` alone (no inline script, no eval, WebAssembly allowed): what the
 * test servers send by default, since their pages call other origins on purpose.
 */
export const SCRIPT_CSP = CSP.split(';')
  .map((d) => d.trim())
  .find((d) => d.startsWith('script-src '));

/**
 * @param {object} opts
 * @param {string} [opts.root]    directory served at `/` (default: www/ of this repo)
 * @param {Record<string,string>} [opts.mounts]  URL prefix (ending in `/`) → directory, e.g. `{ '/pkg/': 'pkg' }`;
 *                                 the longest matching prefix wins; relative directories resolve against the cwd
 * @param {Record<string,string>} [opts.headers] extra headers for every response
 * @param {string} [opts.csp]     Content-Security-Policy of every HTML page (default {@link SCRIPT_CSP})
 * @param {(line: string) => void} [opts.log]    request log (default: none)
 * @returns {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => Promise<void>}
 *          a request handler, for servers that add routes of their own
 */
export function staticHandler({ root, mounts = {}, headers = {}, csp = SCRIPT_CSP, log } = {}) {
  const table = Object.entries({ '/': root ?? REPO_WWW, ...mounts })
    .map(([prefix, dir]) => [prefix.endsWith('/') ? prefix : `${prefix}/`, resolve(dir)])
    .sort((a, b) => b[0].length - a[0].length);

  const send = (res, status, text, extra = {}) => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...headers, ...extra });
    res.end(`${text}\n`);
  };

  return async (req, res) => {
    const done = (status) => log?.(`${status} ${req.method} ${req.url}`);
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
        return done(405);
      }
      let pathname;
      try {
        pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
      } catch {
        send(res, 400, 'bad request');
        return done(400);
      }
      if (pathname.includes('\0')) {
        send(res, 400, 'bad request');
        return done(400);
      }
      // Mount prefixes match with or without their trailing slash (`/pkg` → `/pkg/`).
      const [prefix, dir] = table.find(([p]) => pathname.startsWith(p) || `${pathname}/` === p) ?? [];
      if (!dir) {
        send(res, 404, 'not found');
        return done(404);
      }
      const rel = pathname.slice(prefix.length);
      let file = resolve(dir, `.${sep}${rel}`);
      // No traversal: the resolved path (and, below, its real path) must stay inside the mount.
      if (file !== dir && !file.startsWith(dir + sep)) {
        send(res, 403, 'forbidden');
        return done(403);
      }
      let info = await stat(file).catch(() => null);
      if (info?.isDirectory()) {
        if (!pathname.endsWith('/')) {
          res.writeHead(301, { Location: `${pathname}/`, ...headers });
          res.end();
          return done(301);
        }
        file = join(file, 'index.html');
        info = await stat(file).catch(() => null);
      }
      if (!info?.isFile()) {
        send(res, 404, 'not found');
        return done(404);
      }
      const real = await realpath(file);
      const realDir = await realpath(dir);
      if (!real.startsWith(realDir + sep)) {
        send(res, 403, 'forbidden');
        return done(403);
      }
      const type = MIME[extname(file).toLowerCase()] ?? 'application/octet-stream';
      const head = {
        'Content-Type': type,
        'Content-Length': info.size,
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        ...headers,
      };
      if (type.startsWith('text/html')) head['Content-Security-Policy'] = csp;
      res.writeHead(200, head);
      if (req.method === 'HEAD') {
        res.end();
        return done(200);
      }
      createReadStream(file)
        .on('error', () => res.destroy())
        .pipe(res);
      done(200);
    } catch (err) {
      if (!res.headersSent) send(res, 500, 'internal error');
      else res.destroy();
      log?.(`500 ${req.method} ${req.url}: ${err.message}`);
    }
  };
}

/** An http.Server (not yet listening) serving files as {@link staticHandler} does. */
export function createStaticServer(opts = {}) {
  return createServer(staticHandler(opts));
}

/** Start `server`; resolves to its base URL (`http://127.0.0.1:PORT/`). `port: 0` picks a free port. */
export function listen(server, { port = 0, host = '127.0.0.1' } = {}) {
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const { port: actual } = server.address();
      resolvePromise(`http://${host.includes(':') ? `[${host}]` : host}:${actual}/`);
    });
  });
}

/** Stop accepting, drop idle keep-alive connections, resolve when closed. */
export function close(server) {
  return new Promise((resolvePromise) => {
    server.close(() => resolvePromise());
    server.closeIdleConnections?.();
    setTimeout(() => server.closeAllConnections?.(), 1000).unref();
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve: PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
    process.exit(2);
  }
  const server = createStaticServer({
    root: REPO_WWW,
    mounts: { '/pkg/': join(REPO, 'pkg') },
    csp: CSP,
    log: process.env.SERVE_LOG ? (line) => console.log(`serve: ${line}`) : undefined,
  });
  try {
    const url = await listen(server, { port });
    console.log(`chat-auth demo: ${url}`);
  } catch (err) {
    console.error(`serve: cannot listen on 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  }
  const stop = async (signal) => {
    console.log(`\nserve: ${signal}, closing`);
    await close(server);
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

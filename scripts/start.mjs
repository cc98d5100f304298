#!/usr/bin/env node
// npm start (after setup and the wasm build): builds the reference backend
// (server/, `cargo build -p chat-auth-server`) and runs it, serving www/ and
// pkg/ on http://127.0.0.1:$PORT (default 8080) with the demo database in
// target/demo/chat.sqlite (kept across restarts). Ctrl-C stops it cleanly.
//
// Any CHAT_* variable is passed through (see README "Demo").
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, run, toolEnv } from './lib.mjs';

export const SERVER_BIN = join(ROOT, 'target', 'debug', process.platform === 'win32' ? 'chat-auth-server.exe' : 'chat-auth-server');

/** `cargo build -p chat-auth-server` (debug: shares the native test tier's build). */
export function buildServer() {
  return run('cargo', ['build', '-p', 'chat-auth-server'], { env: toolEnv() });
}

if (process.argv[1] && process.argv[1].endsWith('start.mjs')) {
  const code = await buildServer();
  if (code !== 0) {
    console.error('start: building the server failed');
    process.exit(code);
  }
  mkdirSync(join(ROOT, 'target', 'demo'), { recursive: true });
  const env = {
    ...process.env,
    PORT: process.env.PORT ?? '8080',
    CHAT_DB: process.env.CHAT_DB ?? join(ROOT, 'target', 'demo', 'chat.sqlite'),
    CHAT_WWW: process.env.CHAT_WWW ?? join(ROOT, 'www'),
    CHAT_PKG: process.env.CHAT_PKG ?? join(ROOT, 'pkg'),
  };
  const child = spawn(SERVER_BIN, [], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
  // Ctrl-C in a terminal reaches the server itself (same process group);
  // forwarding covers a signal sent to this process alone. The server stops
  // gracefully on the first one and this process exits with it.
  const forward = (sig) => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('error', (err) => {
    console.error(`start: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
}

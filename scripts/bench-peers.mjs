// The JavaScript peers `npm run bench` weighs chat-auth against, bundled the way a site ships
// them: esbuild --bundle --minify --format=esm of a small entry per peer (bench/peers/entries/)
// that imports what an integrator of that peer uses for login and tokens.
//
// jwt-decode, jose, oidc-client-ts and @auth0/auth0-spa-js are root devDependencies (4 MB, the
// bench page also runs jwt-decode and jose). The other peers live in bench/peers/package.json with
// their own package-lock.json, installed here (`npm ci` in bench/peers) only when missing or stale:
// they are 253 MB in 17,800 files (firebase alone 170 MB), which every cold `npm ci` of the root
// would otherwise pay for (measured in BENCHMARKS.md's notes). Once installed, nothing downloads.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { ROOT, npmStale, run } from './lib.mjs';

export const PEERS_DIR = join(ROOT, 'bench', 'peers');
const ENTRIES = join(PEERS_DIR, 'entries');
const OUT = join(PEERS_DIR, 'dist');

/** Each peer: its entry in bench/peers/entries/, the packages it bundles (for the label), and what it is. */
export const PEERS = {
  'jwt-decode': { entry: 'jwt-decode.js', packages: ['jwt-decode'] },
  jose: { entry: 'jose.js', packages: ['jose'], note: 'verify path' },
  'keycloak-js': { entry: 'keycloak-js.js', packages: ['keycloak-js'] },
  'auth0-spa-js': { entry: 'auth0-spa-js.js', packages: ['@auth0/auth0-spa-js'] },
  'oidc-client-ts': { entry: 'oidc-client-ts.js', packages: ['oidc-client-ts'] },
  'supabase-auth-js': { entry: 'supabase-auth-js.js', packages: ['@supabase/auth-js'] },
  'auth0-spa-js+jose': { entry: 'auth0-spa-js+jose.js', packages: ['@auth0/auth0-spa-js', 'jose'], note: "jose's verify path" },
  'firebase-auth': { entry: 'firebase-auth.js', packages: ['firebase'], note: 'firebase/app + firebase/auth' },
  'okta-auth-js': { entry: 'okta-auth-js.js', packages: ['@okta/okta-auth-js'] },
  'msal-browser': { entry: 'msal-browser.js', packages: ['@azure/msal-browser'] },
};

/** The installed version of `name`: bench/peers' copy first, then the root's. */
function installedVersion(name) {
  for (const dir of [PEERS_DIR, ROOT]) {
    const manifest = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, 'utf8')).version;
  }
  throw new Error(`${name} is not installed (neither bench/peers/node_modules nor node_modules)`);
}

/** `npm ci` in bench/peers when its node_modules is not exactly what its package-lock.json pins. */
export async function ensurePeers() {
  const why = npmStale(PEERS_DIR);
  if (!why) return;
  console.log(`bench: installing bench/peers (${why}): npm ci, once (~20 s, 253 MB)`);
  // No install scripts: only their files are bundled (@firebase/util's postinstall writes
  // defaults from an environment variable a site's build would set; unset, it writes none).
  const code = await run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: PEERS_DIR });
  if (code !== 0) throw new Error(`\`npm ci\` in bench/peers exited with ${code}`);
}

/**
 * Bundles every peer into bench/peers/dist/<key>.js as a site's build would (production defines,
 * browser platform, esbuild's defaults otherwise: target esnext, legal comments kept at the end).
 * Returns, per key: label, the bundle's path and URL path, its bytes, the names it exports and how
 * many source files went in.
 */
export async function bundlePeers() {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const out = {};
  for (const [key, peer] of Object.entries(PEERS)) {
    const file = join(OUT, `${key}.js`);
    const result = await build({
      entryPoints: [join(ENTRIES, peer.entry)],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      define: { 'process.env.NODE_ENV': '"production"' },
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    const bytes = result.outputFiles[0].contents;
    writeFileSync(file, bytes);
    const meta = Object.values(result.metafile.outputs)[0];
    const versions = peer.packages.map((p) => `${p} ${installedVersion(p)}`).join(' + ');
    out[key] = {
      label: `${versions}${peer.note ? ` (${peer.note})` : ''}`,
      entry: relative(ROOT, join(ENTRIES, peer.entry)),
      file,
      url: `/${relative(ROOT, file)}`,
      bytes,
      exports: meta.exports,
      inputs: Object.keys(meta.inputs).length,
    };
  }
  return out;
}

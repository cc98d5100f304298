// Test backend for the chat-auth end-to-end tests (node:http + node:crypto only).
//
//   const srv = await startChatServer();
//   srv.originA  http://127.0.0.1:<portA>   the page's origin and the allowed API
//   srv.originB  http://127.0.0.1:<portB>   another port (CORS open, records everything)
//   srv.originC  http://localhost:<portA>   another host, same server and port (told apart by Host)
//   srv.otherScheme https://127.0.0.1:<portA>  a URL string only (nothing listens for TLS)
//
// Origin A serves the repo root statically (so /pkg/chat_auth.js and its wasm load), the page
// /e2e.html (CSP `script-src 'self' 'wasm-unsafe-eval'`, serve.mjs's SCRIPT_CSP; module script /tests/e2e/support/page.js)
// and these endpoints:
//   GET|POST /api/echo          JSON { authorization, anonymousId, method, body, seq, host, ... }
//   *        /api/protected     401 unless the bearer token is a valid token minted here (not revoked,
//                               not expired, mode 'normal'); 200 + echo otherwise
//   *        /api/nonce-protected  /api/protected (Bearer or DPoP token) behind a DPoP nonce challenge
//   *        /api/redirect?to=U[&status=307] 302 (or 301/303/307/308) to U
//   POST     /oauth/token       refresh_token grant with rotation (each refresh token works once)
//   POST     /introspect        RFC 7662 answer for opaque tokens minted here
//   GET      /jwks.json         the RSA signing key as a JWK Set
//   control API (for the page's providers; all GET unless noted, JSON answers):
//     /control/mint?sub=&ttl=&aud=&iss=&kid=&nokid=1&iatOffset=   an RS256 JWT (ttl in s, may be ≤ 0)
//     /control/mint-opaque?ttl=&sub=                              an opaque token + its exp
//     /control/mint-oauth?sub=&ttl=&scope=                        an OAuth 2.0 token response
//     /control/key                                                { kid, publicKeyPem, jwks }
//     POST /control/revoke   (body: the token)                    /api/protected refuses it from now on
//     /control/protected?mode=normal|always                       always: every request gets 401
//     /control/counts, /control/log                               counters / the request log
//     /control/oauth-busy?count=&status=&retryAfter=              the next `count` /oauth/token calls get
//                                                                 `status` (429/503) with Retry-After
//   GET      /.well-known/openid-configuration, /.well-known/oauth-authorization-server   metadata
//            (issuer = srv.oauthIssuer, jwks_uri, token_endpoint), shaped by srv.metadataMode
//
// Knobs set from the node side (all undone by reset()): srv.rotateKey() signs with a new key from
// now on (both in /jwks.json); srv.jwksFailures = n answers the next n /jwks.json with 503;
// srv.grantFaults = ['wrong-sub', …] spoils the access token of the next accepted grants (the
// refresh token still rotates); srv.reuseRevokesFamily = true makes a spent refresh token revoke
// its whole login (RFC 9700 §4.14); srv.oauthIssuer is the `iss` of grant-issued tokens.
//
// Every request to every origin is appended to `srv.log` (path, url, Authorization, Chat-Anonymous-Id,
// Access-Control-Request-Headers, receipt time, and — for tokens minted here — the token's exp and
// whether it was already expired on receipt). The node side reads it directly.
import { createPublicKey, generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import { createServer } from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MIME, SCRIPT_CSP, staticHandler } from '../../../scripts/serve.mjs';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DEFAULT_ISSUER = 'https://issuer.test';
export const DEFAULT_AUDIENCE = 'chat-api';

const E2E_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>chat-auth e2e</title>
  <link rel="icon" href="data:,">
  <script type="module" src="/tests/e2e/support/page.js"></script>
</head>
<body></body>
</html>
`;

const MAX_BODY = 256 * 1024;
const b64u = (buf) => Buffer.from(buf).toString('base64url');
const json = (v) => b64u(Buffer.from(JSON.stringify(v), 'utf8'));

function readBody(req) {
  return new Promise((resolvePromise) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolvePromise(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolvePromise(''));
  });
}

function listen(server, port = 0) {
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolvePromise(server.address().port);
    });
  });
}

function closeServer(server) {
  return new Promise((resolvePromise) => {
    server.close(() => resolvePromise());
    server.closeIdleConnections?.();
    setTimeout(() => server.closeAllConnections?.(), 500).unref();
  });
}

/**
 * Start origins A and B. Options: `root` (static root, default the repo), `pkgDir` (serve /pkg/ from this
 * directory instead of <root>/pkg; default $CHAT_AUTH_E2E_PKG if set), `verbose` (log requests to stderr,
 * default $E2E_SERVER_LOG).
 */
export async function startChatServer({ root = REPO_ROOT, pkgDir = process.env.CHAT_AUTH_E2E_PKG || null, verbose = !!process.env.E2E_SERVER_LOG } = {}) {
  const newKey = () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const kid = `k-${randomBytes(6).toString('hex')}`;
    const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' });
    const jwk = { ...createPublicKey(publicKeyPem).export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
    return { kid, privateKey, publicKeyPem, jwk };
  };
  const first = newKey();
  const { kid, publicKeyPem, jwk } = first;
  /** The key that signs: `first` until srv.rotateKey(). */
  let signer = first;
  const jwks = { keys: [jwk] };
  // Static files (the repo, or another pkg/ for CHAT_AUTH_E2E_PKG) as `npm start` serves them.
  const files = staticHandler({ root: resolve(root), mounts: pkgDir ? { '/pkg/': pkgDir } : {} });

  /** token string → { kind: 'jwt'|'opaque', sub, exp, iat } */
  const tokens = new Map();
  /** refresh token → { sub, ttl, scope, used: boolean, issuedAt, family } */
  const refreshTokens = new Map();
  const revoked = new Set();
  /** /control/oauth-busy: how many /oauth/token calls still get a 429/503, and with what. */
  let oauthBusy = { count: 0, status: 429, retryAfter: '1' };

  const srv = {
    originA: '',
    originB: '',
    originC: '',
    otherScheme: '',
    portA: 0,
    portB: 0,
    kid,
    publicKeyPem,
    jwks,
    log: [],
    seq: 0,
    protectedMode: 'normal',
    counts: { oauthToken: 0, oauthRejected: 0, introspect: 0, jwks: 0, protected: 0, protected401: 0, echo: 0, mint: 0 },
    /** every /oauth/token call: { at, grantType, clientId, refreshToken, accepted, error, issuedRefreshToken } */
    oauthCalls: [],
    /** every /introspect call: { at, token, contentType, answer } */
    introspectCalls: [],
    /** Ms since epoch on the server: the receipt time recorded in the log. */
    now: () => Date.now(),

    /**
     * Mint an RS256 JWT. `ttl` seconds (≤ 0 → already expired). `signingKey` (a node KeyObject or PEM)
     * signs with another RSA key instead of the server's (for bad-signature cases).
     */
    mint({
      sub = 'anonymous',
      ttl = 300,
      aud = DEFAULT_AUDIENCE,
      iss = DEFAULT_ISSUER,
      kid: headerKid = signer.kid,
      noKid = false,
      iatOffset = 0,
      extra = {},
      signingKey = signer.privateKey,
    } = {}) {
      const nowS = Math.floor(Date.now() / 1000);
      const iat = nowS + Number(iatOffset);
      const exp = nowS + Number(ttl);
      const header = { alg: 'RS256', typ: 'JWT', ...(noKid ? {} : { kid: headerKid }) };
      const claims = { sub, iss, aud, iat, exp, jti: randomBytes(8).toString('hex'), ...extra };
      const input = `${json(header)}.${json(claims)}`;
      const sig = cryptoSign('sha256', Buffer.from(input, 'ascii'), signingKey);
      const token = `${input}.${b64u(sig)}`;
      tokens.set(token, { kind: 'jwt', sub, exp, iat, n: tokens.size + 1 });
      srv.counts.mint++;
      return { token, exp, iat, claims, header };
    },

    /** Mint an opaque bearer token (no dots) known to /introspect and /api/protected. */
    mintOpaque({ sub = 'anonymous', ttl = 600 } = {}) {
      const token = `opq_${randomBytes(24).toString('base64url')}`;
      const nowS = Math.floor(Date.now() / 1000);
      const exp = nowS + Number(ttl);
      tokens.set(token, { kind: 'opaque', sub, exp, iat: nowS, n: tokens.size + 1 });
      srv.counts.mint++;
      return { token, exp };
    },

    /** An OAuth 2.0 token response (RFC 6749 §5.1) with a JWT access token and a fresh refresh token. */
    mintOAuth({ sub = 'anonymous', ttl = 5, scope = 'chat', family = randomBytes(6).toString('hex'), tokenSub = sub } = {}) {
      const { token, exp } = srv.mint({ sub: tokenSub, ttl, iss: srv.oauthIssuer });
      const refresh = `rt_${randomBytes(18).toString('base64url')}`;
      refreshTokens.set(refresh, { sub, ttl: Number(ttl), scope, used: false, issuedAt: Date.now(), family });
      return { access_token: token, token_type: 'Bearer', expires_in: Number(ttl), refresh_token: refresh, scope, _exp: exp };
    },

    /** What the server knows about a token it minted, or null. */
    tokenInfo(token) {
      return tokens.get(token) ?? null;
    },
    /** Every access token and refresh token minted so far. */
    allSecrets() {
      return [...tokens.keys(), ...refreshTokens.keys()];
    },
    /** A short readable name for a token or refresh token minted here (for failure messages). */
    nameOf(secret) {
      const t = tokens.get(secret);
      if (t) return `<${t.kind === 'jwt' ? 'JWT' : 'opaque'} #${t.n} sub=${t.sub} exp=${t.exp}>`;
      const r = refreshTokens.get(secret);
      if (r) return `<refresh token …${secret.slice(-6)}${r.used ? ' (used)' : ''}>`;
      return null;
    },
    /** `text` with every minted secret replaced by its short name. */
    redact(text) {
      if (typeof text !== 'string' || text.length < 16) return text;
      let out = text;
      for (const secret of [...tokens.keys(), ...refreshTokens.keys()]) {
        if (out.includes(secret)) out = out.split(secret).join(srv.nameOf(secret));
      }
      return out;
    },
    revoke(token) {
      revoked.add(token);
    },
    /** Sign with a new key from now on; /jwks.json serves both. */
    rotateKey() {
      signer = newKey();
      jwks.keys.unshift(signer.jwk);
      srv.kid = signer.kid;
      return signer.kid;
    },
    jwksFailures: 0,
    grantFaults: [],
    reuseRevokesFamily: false,
    oauthIssuer: DEFAULT_ISSUER,
    /** 'ok' | 'mismatch' (another issuer inside) | 'down' (503) | 'oauth-only' (404 at the OpenID path) */
    metadataMode: 'ok',
    setProtectedMode(mode) {
      srv.protectedMode = mode;
    },
    /** Log entries, optionally filtered: { path, server: 'A'|'B'|'C', method, since (seq) } */
    entries({ path, server, method, since = 0 } = {}) {
      return srv.log.filter(
        (e) =>
          e.seq > since &&
          (path === undefined || (path instanceof RegExp ? path.test(e.path) : e.path === path)) &&
          (server === undefined || e.server === server) &&
          (method === undefined || e.method === method),
      );
    },
    /** Forget the request log, counters, revocations and modes (minted tokens stay known). */
    reset() {
      srv.log.length = 0;
      for (const k of Object.keys(srv.counts)) srv.counts[k] = 0;
      srv.oauthCalls.length = 0;
      srv.introspectCalls.length = 0;
      revoked.clear();
      oauthBusy = { count: 0, status: 429, retryAfter: '1' };
      signer = first;
      jwks.keys = [jwk];
      srv.kid = kid;
      srv.jwksFailures = 0;
      srv.grantFaults = [];
      srv.reuseRevokesFamily = false;
      srv.oauthIssuer = DEFAULT_ISSUER;
      srv.metadataMode = 'ok';
      srv.protectedMode = 'normal';
    },
    async close() {
      await Promise.all([closeServer(serverA), closeServer(serverB)]);
    },
  };

  const bearerOf = (auth) => {
    const m = /^\s*(?:bearer|dpop)\s+(\S+)\s*$/i.exec(auth ?? '');
    return m ? m[1] : null;
  };

  function record(req, server, url, body) {
    const authorization = req.headers.authorization ?? null;
    const token = bearerOf(authorization);
    const info = token ? tokens.get(token) : null;
    const at = srv.now();
    const entry = {
      seq: ++srv.seq,
      at,
      server,
      host: req.headers.host ?? '',
      method: req.method,
      path: url.pathname,
      url: req.url,
      authorization,
      anonymousId: req.headers['chat-anonymous-id'] ?? null,
      requestedHeaders: (req.headers['access-control-request-headers'] ?? '').toLowerCase(),
      origin: req.headers.origin ?? null,
      contentType: req.headers['content-type'] ?? null,
      body: body.length > 4096 ? `${body.slice(0, 4096)}…` : body,
      token,
      tokenKnown: !!info,
      tokenExp: info?.exp ?? null,
      tokenSub: info?.sub ?? null,
      expiredAtReceipt: info ? at >= info.exp * 1000 : null,
      headers: { ...req.headers },
    };
    srv.log.push(entry);
    if (verbose) process.stderr.write(`[chat-server ${server}] ${req.method} ${req.url} auth=${authorization ? 'yes' : 'no'}\n`);
    return entry;
  }

  const cors = (req) => ({
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
    // Echo whatever is asked (a wildcard does not cover Authorization), so a leaking request would
    // actually arrive and be recorded instead of dying in the preflight.
    'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] || 'authorization, chat-anonymous-id, content-type',
    'Access-Control-Expose-Headers': '*',
    'Access-Control-Max-Age': '0',
  });

  function send(res, status, payload, headers = {}) {
    const isText = typeof payload === 'string';
    const text = isText ? payload : JSON.stringify(payload);
    res.writeHead(status, {
      'Content-Type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      ...headers,
    });
    res.end(text);
  }

  function echoPayload(entry) {
    return {
      seq: entry.seq,
      server: entry.server,
      host: entry.host,
      method: entry.method,
      path: entry.path,
      authorization: entry.authorization,
      anonymousId: entry.anonymousId,
      contentType: entry.contentType,
      body: entry.body,
      tokenExp: entry.tokenExp,
      expiredAtReceipt: entry.expiredAtReceipt,
      receivedAt: entry.at,
    };
  }

  async function serveStatic(req, res, pathname) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed');
    if (pathname === '/e2e.html') {
      res.writeHead(200, {
        'Content-Type': MIME['.html'],
        'Content-Security-Policy': SCRIPT_CSP,
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      });
      return res.end(req.method === 'HEAD' ? undefined : E2E_HTML);
    }
    if (pathname === '/favicon.ico') {
      res.writeHead(204);
      return res.end();
    }
    return files(req, res);
  }

  function handleControl(req, res, url, body) {
    const q = url.searchParams;
    const num = (k, d) => (q.has(k) ? Number(q.get(k)) : d);
    switch (url.pathname) {
      case '/control/mint': {
        const m = srv.mint({
          sub: q.get('sub') ?? undefined,
          ttl: num('ttl', 300),
          aud: q.get('aud') ?? undefined,
          iss: q.get('iss') ?? undefined,
          kid: q.get('kid') ?? undefined,
          noKid: q.get('nokid') === '1',
          iatOffset: num('iatOffset', 0),
        });
        return send(res, 200, m);
      }
      case '/control/mint-opaque':
        return send(res, 200, srv.mintOpaque({ sub: q.get('sub') ?? undefined, ttl: num('ttl', 600) }));
      case '/control/mint-oauth': {
        const { _exp, ...response } = srv.mintOAuth({ sub: q.get('sub') ?? undefined, ttl: num('ttl', 5), scope: q.get('scope') ?? undefined });
        return send(res, 200, response);
      }
      case '/control/key':
        return send(res, 200, { kid, publicKeyPem, jwks });
      case '/control/revoke':
        srv.revoke(body.trim());
        return send(res, 200, { ok: true });
      case '/control/protected':
        srv.setProtectedMode(q.get('mode') === 'always' ? 'always' : 'normal');
        return send(res, 200, { mode: srv.protectedMode });
      case '/control/oauth-busy':
        oauthBusy = { count: num('count', 1), status: num('status', 429), retryAfter: q.get('retryAfter') ?? '1' };
        return send(res, 200, oauthBusy);
      case '/control/counts':
        return send(res, 200, srv.counts);
      case '/control/log':
        return send(
          res,
          200,
          srv.entries({ path: q.get('path') ?? undefined }).map(({ headers, ...e }) => e),
        );
      default:
        return send(res, 404, { error: 'unknown control endpoint' });
    }
  }

  function handleOAuth(req, res, body, contentType) {
    srv.counts.oauthToken++;
    const form = new URLSearchParams(body);
    const call = {
      at: Date.now(),
      contentType,
      grantType: form.get('grant_type'),
      clientId: form.get('client_id'),
      refreshToken: form.get('refresh_token'),
      scope: form.get('scope'),
      resources: form.getAll('resource'),
      url: req.url,
      reused: false,
      accepted: false,
      error: null,
      issuedRefreshToken: null,
      issuedAccessToken: null,
    };
    srv.oauthCalls.push(call);
    const fail = (status, error) => {
      srv.counts.oauthRejected++;
      call.error = error;
      send(res, status, { error }, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    };
    if (req.method !== 'POST') return fail(405, 'invalid_request');
    if (oauthBusy.count > 0) {
      oauthBusy.count--;
      call.error = `busy ${oauthBusy.status}`;
      return send(res, oauthBusy.status, { error: 'temporarily_unavailable' }, { 'Retry-After': oauthBusy.retryAfter, 'Cache-Control': 'no-store' });
    }
    if (call.grantType !== 'refresh_token') return fail(400, 'unsupported_grant_type');
    const rt = refreshTokens.get(call.refreshToken ?? '');
    if (!rt) return fail(400, 'invalid_grant');
    call.family = rt.family;
    if (rt.used) {
      // Rotation: a refresh token works once. A spent one coming back means theft (RFC 9700 §4.14).
      call.reused = true;
      if (srv.reuseRevokesFamily) for (const other of refreshTokens.values()) if (other.family === rt.family) other.used = true;
      return fail(400, 'invalid_grant');
    }
    rt.used = true;
    const fault = srv.grantFaults.shift();
    call.fault = fault ?? null;
    const tokenSub = fault === 'wrong-sub' ? `${rt.sub}-someone-else` : rt.sub;
    const { _exp, ...response } = srv.mintOAuth({ sub: rt.sub, ttl: rt.ttl, scope: rt.scope, family: rt.family, tokenSub });
    call.accepted = true;
    call.issuedRefreshToken = response.refresh_token;
    call.issuedAccessToken = response.access_token;
    send(res, 200, response, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  }

  function handleIntrospect(req, res, body, contentType) {
    srv.counts.introspect++;
    const token = new URLSearchParams(body).get('token') ?? '';
    const info = tokens.get(token);
    const active = !!info && !revoked.has(token) && Date.now() < info.exp * 1000;
    const answer = active ? { active: true, exp: info.exp, sub: info.sub, token_type: 'Bearer' } : { active: false };
    srv.introspectCalls.push({ at: Date.now(), token, contentType, method: req.method, answer });
    if (req.method !== 'POST') return send(res, 405, { error: 'invalid_request' });
    send(res, 200, answer);
  }

  async function handle(req, res, server) {
    let url;
    try {
      url = new URL(req.url, 'http://placeholder');
    } catch {
      return send(res, 400, 'bad request');
    }
    const body = await readBody(req);
    const entry = record(req, server, url, body);
    const isApi = url.pathname.startsWith('/api/');

    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors(req));
      return res.end();
    }
    if (server !== 'A') {
      // B and C: record and echo, nothing else.
      if (url.pathname === '/api/echo') {
        srv.counts.echo++;
        return send(res, 200, echoPayload(entry), cors(req));
      }
      if (server === 'B') return send(res, 404, { error: 'not found' }, cors(req));
    }

    if (url.pathname.startsWith('/control/')) return handleControl(req, res, url, body);
    if (isApi) {
      const extra = server === 'C' ? cors(req) : {};
      if (url.pathname === '/api/echo') {
        srv.counts.echo++;
        return send(res, 200, echoPayload(entry), extra);
      }
      if (url.pathname === '/api/protected') {
        srv.counts.protected++;
        const info = entry.token ? tokens.get(entry.token) : null;
        const ok = srv.protectedMode === 'normal' && info && !revoked.has(entry.token) && entry.at < info.exp * 1000;
        if (!ok) {
          srv.counts.protected401++;
          return send(res, 401, { error: 'invalid_token' }, { 'WWW-Authenticate': 'Bearer error="invalid_token"', ...extra });
        }
        return send(res, 200, echoPayload(entry), extra);
      }
      if (url.pathname === '/api/nonce-protected') {
        // /api/protected behind a DPoP nonce: a proof without the nonce
        // `n-e2e` gets a use_dpop_nonce challenge first (RFC 9449 §9).
        const proof = String(req.headers.dpop ?? '');
        let nonce = null;
        try {
          nonce = JSON.parse(Buffer.from(proof.split('.')[1] ?? '', 'base64url').toString()).nonce ?? null;
        } catch {
          // Not a JWT: no nonce, so the challenge below.
        }
        if (nonce !== 'n-e2e') {
          srv.counts.protected401++;
          return send(res, 401, { error: 'use_dpop_nonce' }, { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"', 'DPoP-Nonce': 'n-e2e', ...extra });
        }
        const info = entry.token ? tokens.get(entry.token) : null;
        if (!(info && !revoked.has(entry.token) && entry.at < info.exp * 1000)) {
          srv.counts.protected401++;
          return send(res, 401, { error: 'invalid_token' }, { 'WWW-Authenticate': 'DPoP error="invalid_token"', ...extra });
        }
        return send(res, 200, echoPayload(entry), extra);
      }
      if (url.pathname === '/api/redirect') {
        const to = url.searchParams.get('to') ?? '/api/echo';
        const status = [301, 302, 303, 307, 308].includes(Number(url.searchParams.get('status'))) ? Number(url.searchParams.get('status')) : 302;
        res.writeHead(status, { Location: to, 'Cache-Control': 'no-store', ...extra });
        return res.end();
      }
      return send(res, 404, { error: 'not found' }, extra);
    }
    if (url.pathname === '/oauth/token') return handleOAuth(req, res, body, entry.contentType);
    if (url.pathname === '/introspect') return handleIntrospect(req, res, body, entry.contentType);
    if (url.pathname === '/jwks.json') {
      srv.counts.jwks++;
      if (srv.jwksFailures > 0) {
        srv.jwksFailures--;
        return send(res, 503, { error: 'temporarily_unavailable' });
      }
      return send(res, 200, jwks, { 'Content-Type': 'application/json; charset=utf-8' });
    }
    if (url.pathname === '/.well-known/openid-configuration' || url.pathname === '/.well-known/oauth-authorization-server') {
      const mode = srv.metadataMode;
      if (mode === 'down') return send(res, 503, { error: 'temporarily_unavailable' });
      if (mode === 'oauth-only' && url.pathname.endsWith('/openid-configuration')) return send(res, 404, { error: 'not found' });
      return send(res, 200, {
        issuer: mode === 'mismatch' ? 'https://impostor.test' : srv.oauthIssuer,
        jwks_uri: `${srv.originA}/jwks.json`,
        token_endpoint: `${srv.originA}/oauth/token`,
        grant_types_supported: ['refresh_token'],
      });
    }
    return serveStatic(req, res, url.pathname);
  }

  const wrap = (which) => (req, res) => {
    const server = which === 'B' ? 'B' : (req.headers.host ?? '').toLowerCase() === `127.0.0.1:${srv.portA}` ? 'A' : 'C';
    handle(req, res, server).catch((err) => {
      if (!res.headersSent) send(res, 500, `internal error: ${err.message}`);
      else res.destroy();
    });
  };

  const serverA = createServer(wrap('A'));
  const serverB = createServer(wrap('B'));
  srv.portA = await listen(serverA);
  srv.portB = await listen(serverB);
  srv.originA = `http://127.0.0.1:${srv.portA}`;
  srv.originB = `http://127.0.0.1:${srv.portB}`;
  srv.originC = `http://localhost:${srv.portA}`;
  srv.otherScheme = `https://127.0.0.1:${srv.portA}`;
  return srv;
}

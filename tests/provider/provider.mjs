// The real-provider tier's identity provider: oidc-provider (panva, an OpenID Certified
// implementation) on 127.0.0.1, configured as an integrator configures a production provider for
// chat-auth (README "Real identity providers"):
//   - public client `chat-web` (token_endpoint_auth_method none), authorization code + PKCE S256,
//     its own login and consent pages (devInteractions), refresh_token grant;
//   - refresh-token rotation, and reuse of a spent refresh token revokes the whole grant;
//   - resource indicators (RFC 8707): access tokens for the chat API are JWTs (RFC 9068,
//     `typ: at+jwt`, ES256) with `aud` = the API, lifetime `ttl` seconds;
//   - CORS for the site's origin at the token endpoint (discovery and JWKS are open).
// With `dpop` (RFC 9449, features.dPoP): the client must send proofs (`dpop_bound_access_tokens`),
// every proof must carry the provider's `DPoP-Nonce` (requireNonce, `nonceSecret`), access tokens
// carry `cnf.jkt` and the public client's refresh tokens are bound to the same key.
// rotateKeys() swaps in a provider instance whose JWKS holds a new signing key first and the old
// one after it, as a restart with a new JWKS does in production; both use one store (`Store`,
// standing in for the provider's database), so logins and grants carry over.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider, { errors } from 'oidc-provider';

/**
 * oidc-provider's adapter interface over one Map that outlives provider instances: entries by
 * `model:id` with expiry, plus the indexes the provider needs (session uid, user code, and the
 * tokens of a grant, for revokeByGrantId when a spent refresh token comes back).
 */
class Store {
  constructor() {
    this.entries = new Map();
    this.grants = new Map();
  }
  get(key) {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }
  set(key, value, expiresIn) {
    this.entries.set(key, { value, expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity });
  }
  adapter() {
    const store = this;
    return class Adapter {
      constructor(model) {
        this.model = model;
      }
      key(id) {
        return `${this.model}:${id}`;
      }
      async upsert(id, payload, expiresIn) {
        store.set(this.key(id), payload, expiresIn);
        if (this.model === 'Session') store.set(`sessionUid:${payload.uid}`, id, expiresIn);
        if (payload.userCode) store.set(`userCode:${payload.userCode}`, id, expiresIn);
        if (payload.grantId) {
          if (!store.grants.has(payload.grantId)) store.grants.set(payload.grantId, new Set());
          store.grants.get(payload.grantId).add(this.key(id));
        }
      }
      async find(id) {
        return store.get(this.key(id));
      }
      async findByUid(uid) {
        return this.find(store.get(`sessionUid:${uid}`));
      }
      async findByUserCode(userCode) {
        return this.find(store.get(`userCode:${userCode}`));
      }
      async consume(id) {
        const payload = store.get(this.key(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      }
      async destroy(id) {
        store.entries.delete(this.key(id));
      }
      async revokeByGrantId(grantId) {
        for (const key of store.grants.get(grantId) ?? []) store.entries.delete(key);
        store.grants.delete(grantId);
      }
    };
  }
}

/** The RFC 7638 thumbprint of a public EC or RSA JWK. */
export function jwkThumbprint(jwk) {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** A DPoP proof's header and payload, decoded without checking (the provider checks). */
function decodeProof(proof) {
  try {
    const [header, payload] = proof
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')));
    return { header, payload, jkt: header.jwk ? jwkThumbprint(header.jwk) : null };
  } catch {
    return { malformed: true };
  }
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: `es-${randomBytes(4).toString('hex')}`, alg: 'ES256', use: 'sig' };
}

/**
 * Start the provider. `site` is the page origin (redirect URI and CORS), `api` the chat API's
 * origin (the resource indicator and `aud`), `ttl` the access-token lifetime in seconds.
 * Returns { issuer, counts, calls, grantErrors, rotateKeys(), close() }; `calls` lists every
 * request path (token-endpoint calls with their header names, their answer's `status` and
 * `DPoP-Nonce`, and, with a `DPoP` header, the decoded `proof`), `grantErrors` every refused token request.
 */
export async function startProvider({ site, api, ttl = 6, dpop = false, redirectPath = '/tests/provider/site/index.html' }) {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const cookieKeys = [randomBytes(32).toString('base64url')];
  const nonceSecret = randomBytes(32);
  const adapter = new Store().adapter();
  const configuration = (keys) => ({
    clients: [
      {
        client_id: 'chat-web',
        token_endpoint_auth_method: 'none',
        application_type: 'web',
        redirect_uris: [`${site}${redirectPath}`],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
        ...(dpop ? { dpop_bound_access_tokens: true } : {}),
      },
    ],
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    adapter,
    jwks: { keys },
    cookies: { keys: cookieKeys },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    scopes: ['openid', 'offline_access', 'chat'],
    features: {
      devInteractions: { enabled: true },
      ...(dpop ? { dPoP: { enabled: true, nonceSecret, requireNonce: () => true } } : {}),
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, resource) => {
          if (resource !== api) throw new errors.InvalidTarget();
          return { scope: 'chat', audience: api, accessTokenTTL: ttl, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
        },
      },
    },
    pkce: { required: () => true },
    rotateRefreshToken: true,
    clientBasedCORS: (_ctx, origin) => origin === site,
    ttl: { AccessToken: ttl, AuthorizationCode: 60, IdToken: 3600, RefreshToken: 3600, Grant: 3600, Session: 3600, Interaction: 600 },
  });
  let keys = [signingKey()];
  const make = () => {
    const provider = new Provider(issuer, configuration(keys));
    provider.on('server_error', (_ctx, err) => process.stderr.write(`[provider] server_error: ${err.message}\n`));
    provider.on('grant.error', (_ctx, err) => grantErrors.push(`${err.error}: ${err.error_detail ?? err.error_description}`));
    return provider.callback();
  };
  let handler = make();
  const counts = { requests: 0, token: 0, tokenRefused: 0, jwks: 0, discovery: 0, authorization: 0 };
  const calls = [];
  const grantErrors = [];
  server.on('request', (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    counts.requests++;
    const call = { at: Date.now(), method: req.method, path };
    calls.push(call);
    if (path === '/token' && req.method === 'POST') {
      counts.token++;
      if (typeof req.headers.dpop === 'string') call.proof = decodeProof(req.headers.dpop);
      call.headers = Object.keys(req.headers);
      res.on('finish', () => {
        call.status = res.statusCode;
        call.nonce = res.getHeader('dpop-nonce') ?? null;
        if (res.statusCode >= 400) counts.tokenRefused++;
      });
    }
    if (path === '/jwks') counts.jwks++;
    if (path.startsWith('/.well-known/')) counts.discovery++;
    if (path === '/auth') counts.authorization++;
    handler(req, res);
  });
  return {
    issuer,
    counts,
    calls,
    grantErrors,
    /** Sign with a new key from now on; the JWKS lists it first and keeps the old one. */
    rotateKeys() {
      keys = [signingKey(), ...keys];
      handler = make();
      return keys[0].kid;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

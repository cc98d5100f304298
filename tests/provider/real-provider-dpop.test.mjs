// The real-provider tier with DPoP (RFC 9449, issue 18): oidc-provider with features.dPoP
// (proofs required for the client, a `DPoP-Nonce` in every proof, `cnf.jkt` in the JWT access
// tokens, the public client's refresh tokens bound to the same key) and chat-auth with
// `dpop: true`. The site's code exchange goes through `auth.fetch`, so its proof is signed by
// chat-auth's key; chat-auth then refreshes through the provider's token endpoint with proofs for
// ≥ 3 token lifetimes, and the chat API (examples/resource_server in its `dpop` mode) checks
// every request's `Authorization: DPoP` and proof with `chat_auth::jose::dpop::validate_proof`.
// An attacker holding the tokens gets nothing: the refresh token without the key (bare, or with
// a proof by another key) is refused and the login stays alive; the access token as Bearer, with
// another key's proof, with a replayed proof, with a proof for another method, or once expired,
// is refused by the chat API.
//
//   node --test tests/provider/real-provider-dpop.test.mjs   (after the build and `cargo build --examples`)
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { launchBrowser, newPage, requireBuild, startStaticServer } from '../e2e/harness.mjs';
import { API_BINARY, startApi } from './api.mjs';
import { startProvider } from './provider.mjs';

const TTL_S = 6;
const RUN_MS = 22_000; // > 3 lifetimes
const THEFT_AT_MS = 10_000; // the refresh-token attacks, in the middle of the run
const PAUSE_MS = 200;

const env = {};

/** A DPoP proof (RFC 9449 §4.2) by `key` (a node KeyObject pair), ES256. */
function thiefProof({ privateKey, publicKey }, { htm, htu, ath, nonce }) {
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${enc({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })}.${enc({
    htm,
    htu,
    iat: Math.floor(Date.now() / 1000),
    jti: randomBytes(16).toString('base64url'),
    ...(ath ? { ath } : {}),
    ...(nonce ? { nonce } : {}),
  })}`;
  const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

const ath = (token) => createHash('sha256').update(token).digest('base64url');

before(async () => {
  requireBuild();
  if (!existsSync(API_BINARY)) throw new Error(`${API_BINARY} missing: run \`cargo build --example resource_server\``);
  env.site = await startStaticServer();
  env.siteOrigin = env.site.url.replace(/\/$/, '');
  env.audience = 'https://chat-api.test';
  env.provider = await startProvider({ site: env.siteOrigin, api: env.audience, ttl: TTL_S, dpop: true });
  env.api = await startApi({ issuer: env.provider.issuer, api: env.audience, site: env.siteOrigin, dpop: true });
  env.browser = await launchBrowser();
});

after(async () => {
  await env.browser?.close().catch(() => {});
  env.api?.close();
  await env.provider?.close();
  await env.site?.close();
});

test('real provider with DPoP: bound tokens through ≥ 3 lifetimes, every request proven, stolen tokens refused', { timeout: 120_000 }, async () => {
  const page = await newPage(env.browser);
  const tokenEndpoint = `${env.provider.issuer}/token`;
  const echo = `${env.api.origin}/api/echo`;
  try {
    const start = `${env.siteOrigin}/tests/provider/site/index.html?dpop=1&issuer=${encodeURIComponent(env.provider.issuer)}&api=${encodeURIComponent(env.api.origin)}&resource=${encodeURIComponent(env.audience)}`;
    await page.goto(start);
    await page.waitForFunction(() => window.site?.ready === true);
    const login = `c_${Math.random().toString(36).slice(2, 14)}`;
    await Promise.all([page.waitForURL((u) => u.origin === env.provider.issuer), page.evaluate(() => window.site.login())]);
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', 'any password');
    await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    await Promise.all([page.waitForURL((u) => u.origin === env.siteOrigin), page.click('button[type="submit"]')]);
    await page.waitForFunction(() => window.site?.ready === true && (window.site.auth || window.site.error));
    const logged = await page.evaluate(() => ({
      error: window.site.error ?? null,
      state: window.site.auth?.state,
      customerId: window.site.customerId,
      tokenType: window.site.tokenResponse?.token_type,
      cnf: window.site.auth?.claims?.cnf ?? null,
      exchangeAttempts: window.site.exchangeAttempts,
    }));
    assert.equal(logged.error, null, `login: ${JSON.stringify(logged)}\n${page.logs.join('\n')}`);
    assert.equal(logged.state, 'authenticated');
    assert.equal(logged.customerId, login);
    assert.equal(logged.tokenType, 'DPoP', 'the provider issued a DPoP-bound token');
    // The code exchange: the provider wanted a nonce (400 use_dpop_nonce), the second proof had it.
    const exchange = env.provider.calls.filter((c) => c.path === '/token' && c.method === 'POST');
    assert.equal(logged.exchangeAttempts, 2, 'one use_dpop_nonce answer, then the exchange');
    assert.deepEqual(
      exchange.map((c) => c.status),
      [400, 200],
    );
    assert.ok(
      exchange.every((c) => c.proof?.jkt),
      'both exchange calls carried a proof',
    );
    const jkt = exchange[1].proof.jkt;
    assert.equal(exchange[0].proof.jkt, jkt);
    assert.equal(exchange[1].proof.payload.nonce, exchange[0].nonce, "the second proof carries the provider's nonce");
    assert.deepEqual(logged.cnf, { jkt }, 'the access token is bound to the key of the exchange proof');
    // The provider's origin is in apiOrigins only for the exchange's proof: no token went there.
    assert.ok(
      exchange.every((c) => !c.headers.includes('authorization')),
      'no Authorization header at the token endpoint',
    );
    const tokenCallsAtLogin = exchange.length;
    // A request's headers and proof now, to present after the token expired.
    const early = await page.evaluate((url) => window.site.auth.authHeaders(url), echo);
    assert.match(early.Authorization, /^DPoP /);

    // Chat requests every PAUSE_MS for RUN_MS; meanwhile the node side tries the login's refresh
    // token without chat-auth's key.
    const run = page.evaluate(
      async ({ api, runMs, pauseMs }) => {
        const { auth } = window.site;
        const events = [];
        for (const name of ['refreshed', 'refresh-failed', 'auth-lost']) auth.on(name, (detail) => events.push({ at: Date.now(), name, detail }));
        const results = [];
        const t0 = Date.now();
        for (let i = 0; i < 500 && Date.now() - t0 < runMs; i++) {
          try {
            const res = await auth.fetch(`${api}/api/echo`);
            results.push({ at: Date.now(), status: res.status, body: await res.json() });
          } catch (e) {
            results.push({ at: Date.now(), error: e.code ?? String(e) });
          }
          await new Promise((r) => setTimeout(r, pauseMs));
        }
        return { events, results, state: auth.state, cnf: auth.claims?.cnf ?? null };
      },
      { api: env.api.origin, runMs: RUN_MS, pauseMs: PAUSE_MS },
    );
    await new Promise((r) => setTimeout(r, THEFT_AT_MS));
    const stolenRefresh = await page.evaluate(() => window.site.initialRefreshToken);
    const grant = (headers) =>
      fetch(tokenEndpoint, {
        method: 'POST',
        headers,
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stolenRefresh, client_id: 'chat-web' }),
      });
    const bare = await grant({});
    const bareAnswer = await bare.json();
    const thief = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let keyed = await grant({ DPoP: thiefProof(thief, { htm: 'POST', htu: tokenEndpoint }) });
    let keyedAnswer = await keyed.json();
    if (keyedAnswer.error === 'use_dpop_nonce') {
      keyed = await grant({ DPoP: thiefProof(thief, { htm: 'POST', htu: tokenEndpoint, nonce: keyed.headers.get('dpop-nonce') }) });
      keyedAnswer = await keyed.json();
    }
    const theftAt = Date.now();
    const r = await run;
    const stats = await env.api.stats();

    // The stolen access token, after the run.
    const fresh = await page.evaluate((url) => window.site.auth.authHeaders(url), echo);
    const token = fresh.Authorization.replace(/^DPoP /, '');
    const call = async (headers) => {
      const res = await fetch(echo, { headers });
      return { status: res.status, code: (await res.json()).code ?? null, challenge: res.headers.get('www-authenticate') };
    };
    const asBearer = await call({ Authorization: `Bearer ${token}` });
    const withThiefKey = await call({ Authorization: `DPoP ${token}`, DPoP: thiefProof(thief, { htm: 'GET', htu: echo, ath: ath(token) }) });
    const withoutProof = await call({ Authorization: `DPoP ${token}` });
    const postProof = await page.evaluate((url) => window.site.auth.authHeaders(url, { method: 'POST' }), echo);
    const wrongMethod = await call({ Authorization: postProof.Authorization, DPoP: postProof.DPoP });
    const firstUse = await call(fresh);
    const replayed = await call(fresh);
    const expired = await call(early);
    const attackStats = await env.api.stats();

    const refreshed = r.events.filter((e) => e.name === 'refreshed');
    const grants = env.provider.calls.filter((c) => c.path === '/token' && c.method === 'POST').slice(tokenCallsAtLogin);
    const sdkGrants = grants.filter((c) => c.proof?.jkt === jkt);
    const figures = {
      requests: r.results.length,
      ok: r.results.filter((x) => x.status === 200).length,
      refreshes: refreshed.length,
      apiRequests: stats.requests,
      apiValid: stats.valid,
      apiProven: stats.proven,
      apiKeys: stats.jkts.length,
      apiRefused: stats.refused,
      sdkGrants: sdkGrants.length,
      sdkGrantsOk: sdkGrants.filter((c) => c.status === 200).length,
      sdkGrantNonceRetries: sdkGrants.filter((c) => c.status === 400).length,
      distinctTokensSeen: new Set(r.results.filter((x) => x.status === 200).map((x) => x.body.exp)).size,
      stolenRefresh: [bareAnswer.error_description, keyedAnswer.error_description],
      stolenAccess: { asBearer, withThiefKey, withoutProof, wrongMethod, firstUse, replayed, expired },
      grantErrors: env.provider.grantErrors,
      exchangeHeaders: exchange[1].headers.filter((h) => /^(authorization|dpop|chat-anonymous-id)$/.test(h)),
    };
    console.log(`real-provider DPoP figures: ${JSON.stringify(figures)}`);

    // Every API request of the run carried a valid proof by the one key the tokens are bound to.
    assert.ok(r.results.length >= 40, `requests: ${r.results.length}`);
    assert.equal(figures.ok, r.results.length, `every request succeeded: ${JSON.stringify(r.results.filter((x) => x.status !== 200).slice(0, 3))}`);
    assert.equal(stats.requests, r.results.length, 'the API saw exactly the page requests');
    assert.equal(stats.proven, stats.requests, 'every API request carried a valid proof');
    assert.deepEqual(stats.jkts, [jkt], 'one key: the one of the code exchange');
    assert.deepEqual(stats.refused, {}, 'nothing refused during the run (no expired token arrived)');
    assert.deepEqual(r.cnf, { jkt }, 'the last token is bound to the same key');
    // ≥ 3 refreshes at the provider, each with a proof of chat-auth's key (no ath, the provider's nonce).
    assert.ok(refreshed.length >= 3, `≥ 3 refreshes in ${RUN_MS / 1000} s of ${TTL_S} s tokens: ${refreshed.length}`);
    assert.ok(refreshed.every((e) => e.detail.source === 'token_endpoint'));
    assert.ok(figures.sdkGrantsOk >= 3 && figures.sdkGrantsOk === refreshed.length, `grants with proofs: ${JSON.stringify(figures)}`);
    assert.ok(
      grants.every((c) => !c.headers.includes('authorization')),
      'no Authorization header on a grant',
    );
    for (const c of sdkGrants) {
      assert.equal(c.proof.payload.htm, 'POST');
      assert.equal(c.proof.payload.htu, tokenEndpoint);
      assert.equal(c.proof.payload.ath, undefined, 'a grant proof has no ath');
      assert.equal(typeof c.proof.payload.nonce, 'string', 'every grant proof carries a nonce');
    }
    assert.ok(figures.distinctTokensSeen >= 3, `tokens seen by the API: ${figures.distinctTokensSeen}`);
    assert.ok(
      !r.events.some((e) => e.name !== 'refreshed'),
      `no failed refresh, no auth-lost: ${JSON.stringify(r.events.filter((e) => e.name !== 'refreshed'))}`,
    );
    assert.equal(r.state, 'authenticated');

    // The stolen refresh token is useless without chat-auth's key, and the provider did not
    // revoke the login for it (its reuse detection comes after the binding check): refreshes
    // after the theft went on.
    assert.equal(bare.status, 400);
    assert.equal(bareAnswer.error, 'invalid_grant');
    assert.equal(keyed.status, 400);
    assert.equal(keyedAnswer.error, 'invalid_grant');
    // Why (the provider's own reasons): no proof for a client that must send one; the refresh
    // token is bound to chat-auth's key (RFC 9449 §5: public clients' refresh tokens are bound).
    assert.ok(env.provider.grantErrors.includes('invalid_grant: DPoP proof JWT not provided'), JSON.stringify(env.provider.grantErrors));
    assert.ok(env.provider.grantErrors.includes('invalid_grant: failed jkt verification'), JSON.stringify(env.provider.grantErrors));
    assert.ok(
      refreshed.some((e) => e.at > theftAt),
      `a refresh after the theft: ${JSON.stringify(refreshed.map((e) => e.at - theftAt))}`,
    );

    // The stolen access token at the chat API.
    assert.deepEqual([asBearer.status, asBearer.code], [401, 'dpop_bound'], 'a bound token as Bearer is refused');
    assert.match(asBearer.challenge, /^DPoP /);
    assert.deepEqual([withThiefKey.status, withThiefKey.code], [401, 'dpop_key_mismatch']);
    assert.deepEqual([withoutProof.status, withoutProof.code], [401, 'dpop_invalid']);
    assert.deepEqual([wrongMethod.status, wrongMethod.code], [401, 'dpop_invalid']);
    assert.equal(firstUse.status, 200, 'an unused proof of the right key for this request is good once');
    assert.deepEqual([replayed.status, replayed.code], [401, 'dpop_replayed'], 'and never again');
    assert.deepEqual([expired.status, expired.code], [401, 'expired'], 'an expired bound token with its own proof is refused');
    assert.equal(attackStats.valid, stats.valid + 1, 'only the first use was accepted');
  } finally {
    await page
      .context()
      .close()
      .catch(() => {});
  }
});

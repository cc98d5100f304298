// The real-provider tier (issue 14): chat-auth against oidc-provider, a standards-certified
// OpenID Connect server, on 127.0.0.1. A visitor logs in through the provider's own pages
// (authorization code + PKCE S256) on the site (tests/provider/site/), then chat-auth keeps them
// authenticated to a chat API — examples/resource_server/, which validates every request with
// the native crate — through ≥ 3 access-token lifetimes and a signing-key rotation, until an
// attacker replays a spent refresh token: the provider revokes the login, and chat-auth ends in
// auth-lost once, without looping.
//
//   node --test tests/provider/   (after `npm run build` and `cargo build --example resource_server`)
// Prints the run's figures: requests, refreshes, token-endpoint calls, expired arrivals.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { launchBrowser, newPage, requireBuild, startStaticServer } from '../e2e/harness.mjs';
import { API_BINARY, startApi } from './api.mjs';
import { startProvider } from './provider.mjs';

const TTL_S = 6;
const RUN_MS = 22_000; // > 3 lifetimes
const ROTATE_AT_MS = 9_000;
const REPLAY_AT_MS = 17_000;

const env = {};

before(async () => {
  requireBuild();
  if (!existsSync(API_BINARY)) throw new Error(`${API_BINARY} missing: run \`cargo build --example resource_server\``);
  env.site = await startStaticServer();
  const siteOrigin = env.site.url.replace(/\/$/, '');
  // The chat API's resource indicator (RFC 8707: any absolute URI) is its audience; its origin
  // (known once it listens) goes into apiOrigins.
  env.audience = 'https://chat-api.test';
  env.provider = await startProvider({ site: siteOrigin, api: env.audience, ttl: TTL_S });
  env.api = await startApi({ issuer: env.provider.issuer, api: env.audience, site: siteOrigin });
  env.browser = await launchBrowser();
  env.siteOrigin = siteOrigin;
});

after(async () => {
  await env.browser?.close().catch(() => {});
  env.api?.close();
  await env.provider?.close();
  await env.site?.close();
});

test('real provider: login with PKCE, ≥ 3 token lifetimes, a key rotation, a refresh-token replay → auth-lost once', { timeout: 120_000 }, async () => {
  const page = await newPage(env.browser);
  try {
    const start = `${env.siteOrigin}/tests/provider/site/index.html?issuer=${encodeURIComponent(env.provider.issuer)}&api=${encodeURIComponent(env.api.origin)}&resource=${encodeURIComponent(env.audience)}`;
    await page.goto(start);
    await page.waitForFunction(() => window.site?.ready === true);
    // The provider's own login and consent pages.
    const login = `c_${Math.random().toString(36).slice(2, 14)}`;
    await Promise.all([page.waitForURL((u) => u.origin === env.provider.issuer), page.evaluate(() => window.site.login())]);
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', 'any password');
    await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    await Promise.all([page.waitForURL((u) => u.origin === env.siteOrigin), page.click('button[type="submit"]')]);
    await page.waitForFunction(() => window.site?.ready === true && (window.site.auth || window.site.error));
    const logged = await page.evaluate(() => ({ error: window.site.error ?? null, state: window.site.auth?.state, customerId: window.site.customerId }));
    assert.equal(logged.error, null, `login: ${JSON.stringify(logged)}\n${page.logs.join('\n')}`);
    assert.equal(logged.state, 'authenticated');
    assert.equal(logged.customerId, login, 'the customer id is the provider account (sub)');
    const tokenCallsAtLogin = env.provider.counts.token;

    // Chat requests every 200 ms for RUN_MS; meanwhile the node side rotates the provider's key
    // and, later, replays the login's first refresh token (spent by the first refresh).
    const run = page.evaluate(
      async ({ api, runMs }) => {
        const { auth } = window.site;
        const events = [];
        for (const name of ['refreshed', 'refresh-failed', 'auth-lost', 'state']) auth.on(name, (detail) => events.push({ at: Date.now(), name, detail }));
        const results = [];
        const t0 = Date.now();
        while (Date.now() - t0 < runMs) {
          try {
            const res = await auth.fetch(`${api}/api/echo`);
            results.push({ at: Date.now(), status: res.status, body: await res.json() });
          } catch (e) {
            results.push({ at: Date.now(), error: e.code ?? String(e) });
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        return { events, results, state: auth.state, t0 };
      },
      { api: env.api.origin, runMs: RUN_MS },
    );
    await new Promise((r) => setTimeout(r, ROTATE_AT_MS));
    const newKid = env.provider.rotateKeys();
    await new Promise((r) => setTimeout(r, REPLAY_AT_MS - ROTATE_AT_MS));
    const stolen = await page.evaluate(() => window.site.initialRefreshToken);
    const tokenCallsBeforeReplay = env.provider.counts.token;
    const replay = await fetch(`${env.provider.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stolen, client_id: 'chat-web' }),
    });
    const replayAnswer = await replay.json();
    const replayAt = Date.now();
    const r = await run;
    const stats = await env.api.stats();

    const before = r.results.filter((x) => x.at < replayAt);
    const ok = before.filter((x) => x.status === 200);
    const refreshed = r.events.filter((e) => e.name === 'refreshed');
    const lost = r.events.filter((e) => e.name === 'auth-lost');
    const grantsAfterReplay = env.provider.counts.token - tokenCallsBeforeReplay - 1;
    const figures = {
      requests: r.results.length,
      requestsBeforeReplay: before.length,
      okBeforeReplay: ok.length,
      refreshes: refreshed.length,
      tokenEndpointCalls: env.provider.counts.token,
      tokenEndpointRefused: env.provider.counts.tokenRefused,
      grantsAfterReplay,
      providerRequests: env.provider.counts.requests,
      discovery: env.provider.counts.discovery,
      jwks: env.provider.counts.jwks,
      apiRequests: stats.requests,
      apiValid: stats.valid,
      apiRefused: stats.refused,
      expiredArrivals: stats.refused.expired ?? 0,
      distinctTokensSeen: new Set(ok.map((x) => x.body.exp)).size,
      authLost: lost.map((e) => e.detail.code),
      grantErrors: env.provider.grantErrors,
      failures: r.events.filter((e) => e.name === 'refresh-failed').map((e) => e.detail.code),
    };
    console.log(`real-provider figures: ${JSON.stringify(figures)}`);

    assert.equal(replay.status, 400, `the replayed refresh token is refused: ${JSON.stringify(replayAnswer)}`);
    assert.equal(replayAnswer.error, 'invalid_grant');
    assert.equal(before.length, ok.length, `every request before the replay succeeded: ${JSON.stringify(before.filter((x) => x.status !== 200).slice(0, 3))}`);
    assert.ok(before.length >= 40, `requests before the replay: ${before.length}`);
    assert.ok(refreshed.length >= 3, `≥ 3 refreshes by the grant in ${REPLAY_AT_MS / 1000} s of ${TTL_S} s tokens: ${refreshed.length}`);
    assert.ok(refreshed.every((e) => e.detail.source === 'token_endpoint'));
    assert.ok(
      !r.events.some((e) => e.name === 'refresh-failed' && e.at < replayAt),
      `no failed refresh before the replay: ${JSON.stringify(r.events.filter((e) => e.name === 'refresh-failed'))}`,
    );
    assert.equal(figures.expiredArrivals, 0, 'no token reached the API expired');
    assert.equal(stats.requests, stats.valid + Object.values(stats.refused).reduce((a, b) => a + b, 0));
    assert.equal(tokenCallsAtLogin, 1, 'the code exchange');
    // The key rotation: tokens signed with the new key were validated by the browser and the API.
    const afterRotation = ok.filter((x) => x.at > replayAt - (REPLAY_AT_MS - ROTATE_AT_MS) + TTL_S * 1000);
    assert.ok(afterRotation.length > 0 && newKid, 'requests with tokens signed by the new key succeeded');
    // The site's own login fetches the metadata on its login page and its callback; chat-auth
    // once, however many grants and key rotations follow.
    assert.equal(env.provider.counts.discovery, 3, `metadata fetches: ${env.provider.counts.discovery}`);
    // The replay revoked the login: chat-auth's next grant is refused, the provider cannot help,
    // and after maxRetries it gives up once.
    assert.deepEqual(figures.authLost.length, 1, `auth-lost once: ${JSON.stringify(r.events.filter((e) => e.name !== 'state'))}`);
    assert.equal(r.state, 'expired');
    assert.ok(grantsAfterReplay >= 1 && grantsAfterReplay <= 1, `one refused grant after the replay, then no more (no loop): ${grantsAfterReplay}`);
    const grantsAfterLoss = env.provider.calls.filter((c) => c.path === '/token' && c.at > lost[0].at).length;
    assert.equal(grantsAfterLoss, 0, 'no token-endpoint call after auth-lost');
  } finally {
    await page
      .context()
      .close()
      .catch(() => {});
  }
});

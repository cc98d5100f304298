// Browser side of `npm run bench` (scripts/bench.mjs drives it through playwright-core).
// Loaded by scripts/bench-page/index.html; defines window.bench, whose methods the
// driver calls one by one. Every loop here is bounded by a count or a time budget.

const PKG = '/pkg/chat_auth.js';
const JWT_DECODE = '/node_modules/jwt-decode/build/esm/index.js';
const JOSE_VERIFY = '/node_modules/jose/dist/webapi/jwt/verify.js';
const JOSE_SIGN = '/node_modules/jose/dist/webapi/jwt/sign.js';
const JOSE_IMPORT = '/node_modules/jose/dist/webapi/key/import.js';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};

/** Calls of `fn` per second: a warm-up, then `rounds` rounds of `ms` each; the median round. */
async function opsPerSecond(fn, { ms = 400, rounds = 5, warmup = 50, isAsync = false } = {}) {
  for (let i = 0; i < warmup; i++) isAsync ? await fn() : fn();
  const rates = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = performance.now();
    let now = start;
    // Bounded by time, and by a hard count for a runaway clock.
    while (now - start < ms && n < 10_000_000) {
      for (let k = 0; k < 16; k++) isAsync ? await fn() : fn();
      n += 16;
      now = performance.now();
    }
    rates.push((n * 1000) / (now - start));
  }
  return median(rates);
}

/**
 * `sides` (name → function) measured in `rounds` rounds, the order rotating each round so no side
 * always runs first; per side the median round, and per side after the first the median of the
 * per-round ratios first / that side (robust to the machine's load drifting between rounds).
 */
async function pairedRounds(sides, { rounds = 5, ...opts } = {}) {
  const names = Object.keys(sides);
  const rates = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length];
      rates[name].push(await opsPerSecond(sides[name], { rounds: 3, ms: 250, ...opts }));
    }
  }
  const [first, ...others] = names;
  const out = Object.fromEntries(names.map((n) => [n, median(rates[n])]));
  out.ratio = Object.fromEntries(others.map((n) => [n, median(rates[first].map((v, i) => v / rates[n][i]))]));
  return out;
}

let sdk;
let wasm;
let jose;
let jwtDecode;

const state = {};

window.bench = {
  /** Loads chat-auth and the peers used by the throughput tests into this page. */
  async setup({ keys }) {
    sdk = await import(PKG);
    wasm = await sdk.default();
    ({ jwtDecode } = await import(JWT_DECODE));
    const [{ jwtVerify }, { SignJWT }, { importPKCS8, importSPKI }] = await Promise.all([import(JOSE_VERIFY), import(JOSE_SIGN), import(JOSE_IMPORT)]);
    jose = { jwtVerify, SignJWT, importPKCS8, importSPKI };
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'c_8f3a9b2e', iss: 'https://id.example.com', aud: 'chat', iat: now, exp: now + 3600 };
    for (const alg of ['RS256', 'ES256']) {
      const k = keys[alg];
      const privateKey = await importPKCS8(k.private, alg);
      const token = await new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(privateKey);
      state[alg] = { token, pem: k.public, publicKey: await importSPKI(k.public, alg) };
    }
    return { crossOriginIsolated: self.crossOriginIsolated, tokenBytes: state.RS256.token.length };
  },

  /** decodeToken vs jwtDecode on the same RS256 token. */
  async decode() {
    const token = state.RS256.token;
    // Same answer first: a benchmark of a function that fails measures nothing.
    const ours = sdk.decodeToken(token).claims;
    const theirs = jwtDecode(token);
    if (JSON.stringify(ours) !== JSON.stringify(theirs)) throw new Error('decodeToken and jwtDecode disagree');
    const r = await pairedRounds({ ours: () => sdk.decodeToken(token), peer: () => jwtDecode(token) });
    return { ours: r.ours, peer: r.peer, ratio: r.ratio.peer };
  },

  /** verifyToken vs jose.jwtVerify (a CryptoKey imported once, as jose recommends). */
  async verify(alg) {
    const { token, pem, publicKey } = state[alg];
    const opts = { algorithms: [alg], publicKey: pem, issuer: 'https://id.example.com', audience: 'chat' };
    const josePem = { algorithms: [alg], issuer: 'https://id.example.com', audience: 'chat' };
    const ours = await sdk.verifyToken(token, opts);
    const theirs = (await jose.jwtVerify(token, publicKey, josePem)).payload;
    if (JSON.stringify(ours) !== JSON.stringify(theirs)) throw new Error(`verifyToken and jwtVerify disagree (${alg})`);
    const r = await pairedRounds(
      {
        ours: () => sdk.verifyToken(token, opts),
        peer: () => jose.jwtVerify(token, publicKey, josePem),
        // jose given the PEM, as verifyToken is: import + verify per call.
        peerPem: async () => jose.jwtVerify(token, await jose.importSPKI(pem, alg), josePem),
      },
      { isAsync: true, warmup: 20 },
    );
    return { ours: r.ours, peer: r.peer, peerPem: r.peerPem, ratio: r.ratio.peer, ratioPem: r.ratio.peerPem };
  },

  /** auth.fetch vs plain fetch of the same same-origin endpoint, interleaved, `n` each. */
  async fetchOverhead({ n }) {
    const url = `${location.origin}/api/ping`;
    const token = state.RS256.token;
    const auth = new sdk.ChatAuth({
      apiOrigins: [location.origin],
      customerId: 'c_8f3a9b2e',
      contextProvider: async () => ({ Auth: { Token: token } }),
    });
    await auth.getToken();
    const check = await auth.fetch(url);
    const seen = await check.text();
    if (!check.ok || !seen.includes('Bearer')) throw new Error(`auth.fetch did not send the token (${check.status} ${seen})`);
    const plain = [];
    const ours = [];
    // What a page would send by hand with the same headers: the network stack's share of them.
    const byHand = [];
    const sameHeaders = { headers: { Authorization: `Bearer ${token}`, 'Chat-Anonymous-Id': auth.anonymousId } };
    const once = async (f) => {
      const t = performance.now();
      const r = await f();
      await r.arrayBuffer();
      return performance.now() - t;
    };
    for (let i = 0; i < 50; i++) {
      await once(() => fetch(url));
      await once(() => auth.fetch(url));
    }
    for (let i = 0; i < n; i++) {
      // Alternate the order so neither side always runs on a warmer connection.
      if (i % 2) {
        plain.push(await once(() => fetch(url)));
        ours.push(await once(() => auth.fetch(url)));
        byHand.push(await once(() => fetch(url, sameHeaders)));
      } else {
        byHand.push(await once(() => fetch(url, sameHeaders)));
        ours.push(await once(() => auth.fetch(url)));
        plain.push(await once(() => fetch(url)));
      }
    }
    // The SDK's own share, without network noise: the page's fetch answers at once
    // (auth.fetch looks fetch up at call time, as it honours a page's wrapper).
    const realFetch = window.fetch;
    const stubPlain = [];
    const stubOurs = [];
    try {
      window.fetch = () => Promise.resolve(new Response('{}'));
      for (let i = 0; i < 50; i++) await once(() => auth.fetch(url));
      for (let i = 0; i < n; i++) {
        stubPlain.push(await once(() => fetch(url)));
        stubOurs.push(await once(() => auth.fetch(url)));
      }
    } finally {
      window.fetch = realFetch;
    }
    auth.destroy();
    const us = (ms) => ms * 1000;
    return {
      n,
      plainMedianUs: us(median(plain)),
      plainP99Us: us(quantile(plain, 0.99)),
      oursMedianUs: us(median(ours)),
      oursP99Us: us(quantile(ours, 0.99)),
      pairedMedianUs: us(median(ours.map((t, i) => t - plain[i]))),
      byHandMedianUs: us(median(byHand)),
      byHandP99Us: us(quantile(byHand, 0.99)),
      stubPlainMedianUs: us(median(stubPlain)),
      stubOursMedianUs: us(median(stubOurs)),
      stubOursP99Us: us(quantile(stubOurs, 0.99)),
      stubPlainP99Us: us(quantile(stubPlain, 0.99)),
    };
  },

  /**
   * The per-request cost of a DPoP proof (option `dpop`: claims in the driver, WebCrypto ECDSA P-256
   * sign): auth.fetch with and without `dpop`, interleaved, `n` each, once against the page's server
   * and once with a fetch that answers at once (the SDK's own share).
   */
  async dpopOverhead({ n }) {
    const url = `${location.origin}/api/ping`;
    const token = state.RS256.token;
    const make = (dpop) =>
      new sdk.ChatAuth({
        apiOrigins: [location.origin],
        customerId: 'c_8f3a9b2e',
        crossTab: false,
        dpop,
        contextProvider: async () => ({ Auth: dpop ? { access_token: token, token_type: 'DPoP' } : { Token: token } }),
      });
    const bearer = make(false);
    const bound = make(true);
    await bearer.getToken();
    await bound.getToken();
    const check = await (await bound.fetch(url)).text();
    if (!check.includes('"DPoP"')) throw new Error(`auth.fetch with dpop sent no DPoP token (${check})`);
    const once = async (f) => {
      const t = performance.now();
      const r = await f();
      await r.arrayBuffer();
      return performance.now() - t;
    };
    const run = async () => {
      const plain = [];
      const proved = [];
      for (let i = 0; i < 50; i++) {
        await once(() => bearer.fetch(url));
        await once(() => bound.fetch(url));
      }
      for (let i = 0; i < n; i++) {
        if (i % 2) {
          plain.push(await once(() => bearer.fetch(url)));
          proved.push(await once(() => bound.fetch(url)));
        } else {
          proved.push(await once(() => bound.fetch(url)));
          plain.push(await once(() => bearer.fetch(url)));
        }
      }
      return { plain, proved };
    };
    const network = await run();
    const realFetch = window.fetch;
    let stub;
    try {
      window.fetch = () => Promise.resolve(new Response('{}'));
      stub = await run();
    } finally {
      window.fetch = realFetch;
    }
    bearer.destroy();
    bound.destroy();
    const us = (ms) => ms * 1000;
    return {
      n,
      bearerMedianUs: us(median(network.plain)),
      dpopMedianUs: us(median(network.proved)),
      dpopP99Us: us(quantile(network.proved, 0.99)),
      stubBearerMedianUs: us(median(stub.plain)),
      stubDpopMedianUs: us(median(stub.proved)),
      stubDpopP99Us: us(quantile(stub.proved, 0.99)),
      pairedStubUs: us(median(stub.proved.map((t, i) => t - stub.plain[i]))),
    };
  },

  /** wasm memory after `counts` forced refreshes (a provider that answers at once with fresh short tokens). */
  async memory({ counts }) {
    let minted = 0;
    const b64 = (o) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    const header = b64({ alg: 'RS256', typ: 'JWT' });
    // Unsigned content is fine here: no key is configured, so the session checks claims only.
    const mint = () => {
      const now = Math.floor(Date.now() / 1000);
      minted += 1;
      return `${header}.${b64({ sub: 'c_mem', iat: now, exp: now + 300, jti: String(minted) })}.c2ln`;
    };
    const auth = new sdk.ChatAuth({
      apiOrigins: [location.origin],
      crossTab: false,
      contextProvider: async () => ({ Auth: { Token: mint() } }),
    });
    let events = 0;
    const off = auth.on('refreshed', () => {
      events += 1;
    });
    await auth.setCustomer('c_mem');
    const table = Object.values(wasm).find((v) => v instanceof WebAssembly.Table);
    const out = [];
    let done = 0;
    for (const target of counts) {
      while (done < target) {
        await auth.getToken({ forceRefresh: true });
        done += 1;
      }
      out.push({ cycles: done, bytes: wasm.memory.buffer.byteLength, table: table ? table.length : null });
    }
    off();
    auth.destroy();
    return { points: out, minted, events };
  },
};
window.benchReady = true;

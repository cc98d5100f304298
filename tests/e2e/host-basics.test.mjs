// chat-auth e2e: the JS host's basics in Chromium, with real timers, real provider callbacks and
// promises and real ChatAuthErrors (the former tests/wasm.rs, which drove the Rust host: the same
// assertions against the shipped package). Backend: ./support/chat-server.mjs.
import assert from 'node:assert/strict';
import { suite } from './support/e2e.mjs';

const e2e = suite();

/** An unsigned JWT for `sub` living `ttl` seconds (no key configured: only claims are judged). */
e2e.test('errors are ChatAuthErrors: checkCustomerId, decodeToken, a bad option', async (s) => {
  const r = await s.eval(() => {
    const { ChatAuth, ChatAuthError, checkCustomerId, decodeToken } = window.sdk;
    const caught = (f) => {
      try {
        f();
        return null;
      } catch (e) {
        return { isError: e instanceof Error, isChatAuth: e instanceof ChatAuthError, name: e.name, code: e.code, detail: e.detail, message: e.message };
      }
    };
    return {
      pii: caught(() => checkCustomerId('jane@example.com')),
      malformed: caught(() => decodeToken('not-a-token')),
      bogus: caught(() => new ChatAuth({ apiOrigins: ['https://a.com'], bogus: 1 })),
    };
  });
  assert.deepEqual(
    { isError: r.pii.isError, isChatAuth: r.pii.isChatAuth, name: r.pii.name, code: r.pii.code, detail: r.pii.detail },
    { isError: true, isChatAuth: true, name: 'ChatAuthError', code: 'customer_id_pii', detail: 'email' },
  );
  assert.equal(r.malformed.code, 'malformed');
  assert.equal(r.bogus.code, 'invalid_config');
  assert.match(r.bogus.message, /bogus/);
});

e2e.test('decodeToken reads header, claims and expiresAt', async (s) => {
  const r = await s.eval(() => {
    const d = window.sdk.decodeToken(T.unsignedJwt('cust_1', 60));
    return { sub: d.claims.sub, alg: d.header.alg, future: d.expiresAt > Date.now() };
  });
  assert.deepEqual(r, { sub: 'cust_1', alg: 'RS256', future: true });
});

e2e.test('a callback provider authenticates and the real timer refreshes 3 s tokens before expiry', async (s) => {
  const r = await s.eval(async () => {
    const jwt = T.unsignedJwt;
    const { ChatAuth } = window.sdk;
    const reasons = [];
    const provider = (callback, needsRefresh, info) => {
      reasons.push(info.reason);
      setTimeout(() => callback({ Auth: { Token: jwt('cust_timer', 3) } }), 10);
    };
    const auth = new ChatAuth({ apiOrigins: ['https://chat.example.com'], contextProvider: provider, refresh: { marginSeconds: 1 }, crossTab: false });
    await auth.setCustomer('cust_timer');
    const state = auth.state;
    const first = await auth.getToken();
    const callsAfterLogin = reasons.length;
    await new Promise((r) => setTimeout(r, 3200));
    const second = await auth.getToken();
    auth.destroy();
    let destroyed = null;
    await auth.getToken().catch((e) => {
      destroyed = e.code;
    });
    return { state, callsAfterLogin, reasons, changed: first !== second, destroyed };
  });
  assert.equal(r.state, 'authenticated');
  assert.equal(r.callsAfterLogin, 1);
  assert.ok(r.reasons.length >= 2, `the timer refreshed: ${r.reasons.length} calls`);
  assert.deepEqual(r.reasons.slice(0, 2), ['initial', 'scheduled']);
  assert.equal(r.changed, true);
  assert.equal(r.destroyed, 'destroyed');
});

e2e.test(
  "a 2xx answer reaches auth.fetch's caller without a second driver step (another origin's answer, even a 401, too); a 401 still goes to the driver: one refresh, one replay",
  async (s) => {
    const r = await s.eval(async () => {
      const jwt = T.unsignedJwt;
      const { ChatAuth } = window.sdk;
      const reasons = [];
      const provider = (callback, needsRefresh, info) => {
        reasons.push(info.reason);
        // A new token each call (their claims differ by the lifetime).
        callback({ Auth: { Token: jwt('cust_quick', 600 + reasons.length) } });
      };
      // The host reads the `now` clock once per driver step.
      let clockReads = 0;
      const now = () => {
        clockReads += 1;
        return Date.now();
      };
      const api = 'https://chat.example.com';
      const auth = new ChatAuth({ apiOrigins: [api], contextProvider: provider, crossTab: false, now });
      await auth.setCustomer('cust_quick');
      const realFetch = window.fetch;
      const sent = [];
      const refuse = new Set(['/refused-once', '/elsewhere-401']);
      let answers = [];
      window.fetch = (input, init) => {
        const url = new URL(input);
        const authorization = new Headers(init?.headers).get('Authorization');
        sent.push([url.pathname, init?.redirect, authorization]);
        const status = refuse.delete(url.pathname) ? 401 : url.pathname === '/teapot' ? 418 : 200;
        const response = new Response(`{"status":${status}}`, { status });
        answers.push(response);
        return Promise.resolve(response);
      };
      try {
        const reads = async (f) => {
          const before = clockReads;
          answers = [];
          const response = await f();
          return { reads: clockReads - before, status: response.status, same: answers.at(-1) === response, body: await response.text() };
        };
        const ok = await reads(() => auth.fetch(`${api}/ok`));
        const teapot = await reads(() => auth.fetch(`${api}/teapot`));
        const refused = await reads(() => auth.fetch(`${api}/refused-once`));
        const again = await reads(() => auth.fetch(`${api}/ok`));
        const elsewhere = await reads(() => auth.fetch('https://elsewhere.example.net/elsewhere-401'));
        const token = await auth.getToken();
        auth.destroy();
        return { ok, teapot, refused, again, elsewhere, reasons, sent, token };
      } finally {
        window.fetch = realFetch;
      }
    });
    // One step (the headers), none for the answer: the driver said up front that it hands back anything but a 401.
    assert.deepEqual(r.ok, { reads: 1, status: 200, same: true, body: '{"status":200}' });
    assert.deepEqual(r.teapot, { reads: 1, status: 418, same: true, body: '{"status":418}' });
    assert.deepEqual(r.again, r.ok, 'after a refresh and replay, the fast path again');
    // The 401 went to the driver: a refresh, then one replay with the new token.
    assert.equal(r.refused.status, 200);
    assert.equal(r.refused.same, true, "the replay's response");
    assert.ok(r.refused.reads >= 3, `steps for the 401: ${r.refused.reads}`);
    // Another origin: sent untouched, its answer (a 401 too) handed back without a second step or a refresh.
    assert.deepEqual(r.elsewhere, { reads: 1, status: 401, same: true, body: '{"status":401}' });
    assert.deepEqual(r.sent.at(-1), ['/elsewhere-401', undefined, null]);
    assert.deepEqual(r.reasons, ['initial', 'after_401']);
    const refused = r.sent.filter(([path]) => path === '/refused-once');
    assert.equal(refused.length, 2, 'sent, then replayed once');
    assert.notEqual(refused[0][2], refused[1][2], 'the replay carries the new token');
    assert.equal(refused[1][2], `Bearer ${r.token}`);
    // The driver's header sets change with the token: the request after the refresh carries the new one.
    const oks = r.sent.filter(([path]) => path === '/ok');
    assert.equal(oks.length, 2);
    assert.equal(oks[0][2], refused[0][2]);
    assert.equal(oks[1][2], `Bearer ${r.token}`);
    assert.ok(
      r.sent.slice(0, -1).every(([, redirect]) => redirect === 'manual'),
      'every request with credentials is sent with redirect: manual',
    );
  },
);

e2e.test('init(), init({ module_or_path }), init(url) and initSync({ module }) load the package from where they are told', async (s) => {
  const r = await s.eval(async () => {
    const fetched = [];
    const realFetch = window.fetch;
    window.fetch = (input, init) => {
      fetched.push(
        String(input instanceof Request ? input.url : input)
          .split('/')
          .pop(),
      );
      return realFetch(input, init);
    };
    try {
      // Fresh module instances (their own wasm), as on a page that has not loaded the package yet.
      const fresh = await import('/pkg/chat_auth.js?fresh=default');
      await fresh.default();
      const byDefault = fetched.splice(0);
      const explicit = await import('/pkg/chat_auth.js?fresh=explicit');
      await explicit.default({ module_or_path: new URL('/pkg/chat_auth_bg.wasm?explicit=1', location.href) });
      const withUrl = fetched.splice(0);
      const byString = await import('/pkg/chat_auth.js?fresh=string');
      await byString.default('/pkg/chat_auth_bg.wasm?string=1');
      const withString = fetched.splice(0);
      const sync = await import('/pkg/chat_auth.js?fresh=sync');
      sync.initSync({ module: await (await realFetch('/pkg/chat_auth_bg.wasm')).arrayBuffer() });
      const works = [fresh, explicit, byString, sync].map((m) => {
        const auth = new m.ChatAuth({ apiOrigins: ['https://chat.example.com'], crossTab: false });
        const ok = typeof auth.anonymousId === 'string' && auth.anonymousId.length === 36;
        auth.destroy();
        return ok;
      });
      return { byDefault, withUrl, withString, works };
    } finally {
      window.fetch = realFetch;
    }
  });
  assert.deepEqual(r.byDefault, ['chat_auth_bg.wasm']);
  assert.deepEqual(r.withUrl, ['chat_auth_bg.wasm?explicit=1']);
  assert.deepEqual(r.withString, ['chat_auth_bg.wasm?string=1']);
  assert.deepEqual(r.works, [true, true, true, true]);
});

e2e.test(
  'a page fetch wrapper that resolves with no Response (undefined, a throwing getter) or rejects with a throwing `name` getter settles auth.fetch with it instead of leaving it pending',
  async (s) => {
    const r = await s.eval(async () => {
      const jwt = T.unsignedJwt;
      const { ChatAuth } = window.sdk;
      const api = 'https://chat.example.com';
      const auth = new ChatAuth({ apiOrigins: [api], contextProvider: (cb) => cb({ Auth: { Token: jwt('cust_odd', 600) } }), crossTab: false });
      await auth.setCustomer('cust_odd');
      const realFetch = window.fetch;
      const odd = {
        withGetters: {
          get status() {
            throw new Error('no status');
          },
          get type() {
            throw new Error('no type');
          },
          get headers() {
            throw new Error('no headers');
          },
        },
      };
      const settled = (p) =>
        Promise.race([
          p.then(
            (v) => ({ value: v }),
            (e) => ({ error: e?.code ?? String(e) }),
          ),
          new Promise((resolve) => setTimeout(() => resolve('pending after 2 s'), 2000)),
        ]);
      try {
        window.fetch = () => Promise.resolve(undefined);
        const none = await settled(auth.fetch(`${api}/x`));
        window.fetch = () => Promise.resolve(odd.withGetters);
        const getters = await settled(auth.fetch(`${api}/y`));
        // A rejection whose reason has a throwing `name` getter (not an AbortError): `network`.
        const reason = {
          get name() {
            throw new Error('no name');
          },
        };
        window.fetch = () => Promise.reject(reason);
        const rejected = await Promise.race([
          auth.fetch(`${api}/w`).then(
            () => 'resolved',
            (e) => (e instanceof window.sdk.ChatAuthError ? e.code : 'another error'),
          ),
          new Promise((resolve) => setTimeout(() => resolve('pending after 2 s'), 2000)),
        ]);
        window.fetch = () => Promise.resolve(new Response('{}', { status: 200 }));
        const after = await settled(auth.fetch(`${api}/z`));
        auth.destroy();
        return { none, getters: getters.value === odd.withGetters ? 'the same object' : getters, rejected, after: after.value?.status };
      } finally {
        window.fetch = realFetch;
      }
    });
    assert.deepEqual(r, { none: { value: undefined }, getters: 'the same object', rejected: 'network', after: 200 });
  },
);

e2e.test('a promise provider: one call for 21 callers, every waiter gets the one token', async (s) => {
  const r = await s.eval(async () => {
    const jwt = T.unsignedJwt;
    const { ChatAuth } = window.sdk;
    let calls = 0;
    const provider = () => {
      calls += 1;
      const token = jwt('cust_promise', 600);
      return new Promise((resolve) => setTimeout(() => resolve({ Auth: { Token: token } }), 200));
    };
    const auth = new ChatAuth({ apiOrigins: ['https://chat.example.com'], contextProvider: provider, crossTab: false });
    const login = auth.setCustomer('cust_promise');
    const waiting = Array.from({ length: 20 }, () => auth.getToken());
    await login;
    const all = await Promise.all(waiting);
    auth.destroy();
    return { calls, string: typeof all[0] === 'string', same: all.every((t) => t === all[0]) };
  });
  assert.deepEqual(r, { calls: 1, string: true, same: true });
});

e2e.test('a provider timeout rejects with provider_timeout, aborts the signal, state expired', async (s) => {
  const r = await s.eval(async () => {
    const { ChatAuth } = window.sdk;
    let signal = null;
    const provider = (callback, needsRefresh, info) => {
      signal = info.signal;
    };
    const auth = new ChatAuth({
      apiOrigins: ['https://chat.example.com'],
      contextProvider: provider,
      refresh: { providerTimeoutSeconds: 0.3, maxRetries: 0 },
      crossTab: false,
    });
    let code = null;
    await auth.setCustomer('cust_slow').catch((e) => {
      code = e.code;
    });
    const out = { code, aborted: signal?.aborted, state: auth.state };
    auth.destroy();
    return out;
  });
  assert.deepEqual(r, { code: 'provider_timeout', aborted: true, state: 'expired' });
});

e2e.test('a state listener calling destroy() synchronously: the provider call that followed is aborted, nothing left armed', async (s) => {
  const r = await s.eval(async () => {
    const { ChatAuth } = window.sdk;
    let signal = null;
    let calls = 0;
    const auth = new ChatAuth({
      apiOrigins: ['https://chat.example.com'],
      contextProvider: (callback, needsRefresh, info) => {
        calls += 1;
        signal = info.signal;
      },
      crossTab: false,
    });
    const states = [];
    auth.on('state', (detail) => {
      states.push(detail);
      if (states.length === 1) auth.destroy();
    });
    const code = await auth.setCustomer('cust_reentrant').then(
      () => 'resolved',
      (e) => e.code,
    );
    // The provider's deadline timer would fire within its timeout; wait past a short one.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { code, calls, aborted: signal?.aborted ?? null, state: auth.state };
  });
  assert.equal(r.state, 'destroyed');
  assert.equal(r.code, 'destroyed');
  // Either the provider was never called, or its call was aborted by the destroy.
  if (r.calls > 0) assert.equal(r.aborted, true);
});

e2e.test('verifyToken rejects with ChatAuthErrors: bad token, bad options, alg, signature', async (s) => {
  const r = await s.eval(async () => {
    const { verifyToken, ChatAuthError } = window.sdk;
    const token = T.unsignedJwt('cust_1', 60);
    const caught = (p) =>
      Promise.resolve()
        .then(p)
        .then(
          () => null,
          (e) => ({ isChatAuth: e instanceof ChatAuthError, code: e.code }),
        );
    const options = { algorithms: ['HS256'], secret: 'k'.repeat(32) };
    const b64 = (t) => btoa(t).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const forged = `${b64('{"alg":"HS256","typ":"JWT"}')}.${token.split('.')[1]}.${b64('x'.repeat(32))}`;
    return {
      notString: await caught(() => verifyToken(42, options)),
      malformed: await caught(() => verifyToken('not-a-token', options)),
      noOptions: await caught(() => verifyToken(token)),
      badOption: await caught(() => verifyToken(token, { bogus: 1 })),
      algNotAllowed: await caught(() => verifyToken(token, options)),
      // Through the WebCrypto step (js/host.js verifySignature) and verifyFinish.
      badSignature: await caught(() => verifyToken(forged, options)),
    };
  });
  for (const [name, got] of Object.entries(r)) {
    assert.ok(got !== null, `${name} resolved`);
    assert.equal(got.isChatAuth, true, `${name}: ${JSON.stringify(got)}`);
  }
  assert.equal(r.notString.code, 'malformed');
  assert.equal(r.malformed.code, 'malformed');
  assert.equal(r.noOptions.code, 'invalid_config');
  assert.equal(r.badOption.code, 'invalid_config');
  assert.equal(r.algNotAllowed.code, 'alg_not_allowed');
  assert.equal(r.badSignature.code, 'bad_signature');
});

e2e.test(
  "auth.fetch sends the SDK's headers to exactly the allowed origins whatever form the URL takes (case, ports, userinfo, IPv4 and IPv6 forms, dot segments, IDNA, relative), and sends it where new URL resolves it",
  async (s) => {
    const r = await s.eval(async () => {
      const jwt = T.unsignedJwt;
      const { ChatAuth } = window.sdk;
      const allowed = ['https://chat.example.com', 'http://127.0.0.1:8080', 'http://[::1]:8080', location.origin];
      const provider = (callback) => callback({ Auth: { Token: jwt('cust_forms', 600) } });
      const auth = new ChatAuth({ apiOrigins: allowed, contextProvider: provider, crossTab: false });
      await auth.setCustomer('cust_forms');
      const forms = [
        'https://chat.example.com/x',
        'HTTPS://CHAT.EXAMPLE.COM/x',
        'https://Chat.Example.com/x',
        'https://chat.example.com:443/x',
        'https://chat.example.com:0443/x',
        'https://chat.example.com:8443/x',
        'https://chat.example.com:65536/x',
        'https://user:pw@chat.example.com/x',
        'https://chat.example.com@evil.example.net/x',
        'https://chat.example.com.evil.example.net/x',
        'https://chat.example.com./x',
        'https://evil.example.net/chat.example.com',
        'https://chat.example.com/a/../b?q=1#f',
        'https://chat.example.com/%2e%2e/b',
        "https://chat.example.com/a?b='c'#`d`",
        'https://chat.example.com',
        'https://chat.example.com?q',
        'https:chat.example.com/x',
        'https:///chat.example.com/x',
        'https:\\\\chat.example.com\\x',
        ' https://chat.example.com/x',
        'https://chat.exa\tmple.com/x',
        'https://ｃｈａｔ.example.com/x',
        'https://xn--80ak6aa92e.com/x',
        'https://xn--a.com/x',
        'http://chat.example.com/x',
        'http://127.0.0.1:8080/x',
        'http://127.1:8080/x',
        'http://0x7f.0.0.1:8080/x',
        'http://127.0.0.01:8080/x',
        'http://127.0.0.1:80/x',
        'http://[::1]:8080/x',
        'http://[0:0:0:0:0:0:0:1]:8080/x',
        'http://[::1]:80/x',
        'https://[::1/x',
        `${location.origin}/x`,
        `${location.origin.toUpperCase()}/x`,
        '/relative/x',
        'relative/x',
        '//chat.example.com/x',
        '/\\chat.example.com/x',
        '?q',
        'blob:https://chat.example.com/0b3a0c1e',
        'ftp://chat.example.com/x',
      ];
      const realFetch = window.fetch;
      const seen = [];
      window.fetch = (input, init) => {
        seen.push([String(input), new Headers(init?.headers).get('Authorization') !== null]);
        return Promise.resolve(new Response('{}'));
      };
      const out = [];
      try {
        for (const url of forms) {
          await auth.fetch(url);
          let expected;
          try {
            const parsed = new URL(url, document.baseURI);
            expected = [parsed.href, allowed.includes(parsed.origin)];
          } catch {
            // Not a URL: sent untouched (fetch itself then fails).
            expected = [url, false];
          }
          out.push({ url, sent: seen.splice(0), expected });
        }
      } finally {
        window.fetch = realFetch;
        auth.destroy();
      }
      return out;
    });
    for (const { url, sent, expected } of r) assert.deepEqual(sent, [expected], url);
    // The forms cover both answers.
    assert.ok(r.some(({ expected }) => expected[1]) && r.some(({ expected }) => !expected[1]));
  },
);

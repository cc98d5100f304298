// chat-auth e2e: customer-id checks, error shape, decodeToken / verifyToken in the browser,
// JWKS-based validation inside a session.
// Contract: API.md (the public contract, outside this repo). Backend: ./support/chat-server.mjs.
import assert from 'node:assert/strict';
import { DEFAULT_AUDIENCE, DEFAULT_ISSUER } from './support/chat-server.mjs';
import { assertChatAuthError, Checks, customerId, suite } from './support/e2e.mjs';

const e2e = suite();

/** Re-encode a JWT's payload with `patch` applied, keeping the original signature. */
function tamper(token, patch) {
  const [h, p, sig] = token.split('.');
  const claims = { ...JSON.parse(Buffer.from(p, 'base64url').toString('utf8')), ...patch };
  return `${h}.${Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url')}.${sig}`;
}

e2e.test('2. customer-id checks: PII (email/card/phone/ssn) → customer_id_pii + detail; bad shape → customer_id_invalid', async (s) => {
  const r = await s.eval(
    async ({ origin }) => {
      const { checkCustomerId, ChatAuth } = window.sdk;
      const check = (id) => T.attemptSync(() => checkCustomerId(id));
      const out = {
        email: check('jane@example.com'),
        card: check('4111111111111111'),
        phone: check('+14155550123'),
        ssn: check('123-45-6789'),
        space: check('a b'),
        empty: check(''),
        tooLong: check('x'.repeat(257)),
        control: check('abc\u0007def'),
        ok: check('hmac_Q2hhdEF1dGhPcGFxdWVJZA'),
        okMax: check('y'.repeat(256)),
      };
      window.providerCalls = 0;
      const provider = async () => {
        window.providerCalls++;
        return { Auth: { Token: 'never-used' } };
      };
      const auth = new ChatAuth({ apiOrigins: [origin] });
      out.setCustomerSpace = await T.attempt(() => T.within(auth.setCustomer('a b', provider), 5000, 'setCustomer'));
      out.setCustomerEmail = await T.attempt(() => T.within(auth.setCustomer('jane@example.com', provider), 5000, 'setCustomer'));
      out.stateAfter = auth.state;
      out.customerIdAfter = auth.customerId;
      out.providerCalls = window.providerCalls;
      return out;
    },
    { origin: s.originA },
  );
  const c = new Checks();
  const labelled = (label, fn) => c.check(label, fn);
  labelled("checkCustomerId('jane@example.com')", () => assertChatAuthError(r.email, 'customer_id_pii', { detail: 'email', secrets: ['jane@example.com'] }));
  labelled("checkCustomerId('4111111111111111')", () => assertChatAuthError(r.card, 'customer_id_pii', { detail: 'card', secrets: ['4111111111111111'] }));
  labelled("checkCustomerId('+14155550123')", () => assertChatAuthError(r.phone, 'customer_id_pii', { detail: 'phone' }));
  labelled("checkCustomerId('123-45-6789')", () => assertChatAuthError(r.ssn, 'customer_id_pii', { detail: 'ssn' }));
  labelled("checkCustomerId('a b')", () => assertChatAuthError(r.space, 'customer_id_invalid'));
  labelled("checkCustomerId('')", () => assertChatAuthError(r.empty, 'customer_id_invalid'));
  labelled('checkCustomerId(257 chars)', () => assertChatAuthError(r.tooLong, 'customer_id_invalid'));
  labelled('checkCustomerId(control char)', () => assertChatAuthError(r.control, 'customer_id_invalid'));
  labelled('checkCustomerId(opaque id)', () => assert.equal(r.ok.threw, false, `an opaque id is accepted: ${JSON.stringify(r.ok)}`));
  labelled('checkCustomerId(256 chars)', () => assert.equal(r.okMax.threw, false, `256 chars is accepted: ${JSON.stringify(r.okMax)}`));
  labelled("setCustomer('a b')", () => assertChatAuthError(r.setCustomerSpace, 'customer_id_invalid'));
  labelled("setCustomer('jane@example.com')", () => assertChatAuthError(r.setCustomerEmail, 'customer_id_pii', { detail: 'email' }));
  labelled('provider calls', () => assert.equal(r.providerCalls, 0, 'the provider is not called for a rejected customer id'));
  labelled('state after rejected setCustomer', () => assert.equal(r.stateAfter, 'anonymous'));
  labelled('customerId after rejected setCustomer', () => assert.equal(r.customerIdAfter, null));
  c.done();
});

e2e.test(
  '18. error shape: invalid options → invalid_config naming the key; decodeToken malformed; tampered token → bad_signature without token text',
  async (s) => {
    const { token } = s.server.mint({ sub: 'cust_shape', ttl: 300 });
    const tampered = tamper(token, { sub: 'cust_other' });
    // alg "none" with the real payload and a non-empty (strict base64url) signature segment.
    const noneToken = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${token.split('.')[1]}.AAAA`;
    const r = await s.eval(
      async ({ origin, token, tampered, noneToken }) => {
        const { ChatAuth, decodeToken, verifyToken } = window.sdk;
        const { publicKeyPem } = await T.key();
        const make = (opts) => T.attemptSync(() => new ChatAuth(opts));
        const verify = (tok, opts) => T.attempt(() => T.within(verifyToken(tok, opts), 5000, 'verifyToken'));
        const alg = ['RS256'];
        return {
          unknownKey: make({ apiOrigins: [origin], bogus: 1 }),
          unknownRefreshKey: make({ apiOrigins: [origin], refresh: { bogus: 1 } }),
          unknownValidationKey: make({ apiOrigins: [origin], validation: { bogus: 1 } }),
          missingOrigins: make({}),
          badOrigin: make({ apiOrigins: ['not a url'] }),
          localStorage: make({ apiOrigins: [origin], storage: 'local' }),
          snakeCase: make({ apiOrigins: [origin], api_origins: [origin] }),
          valid: make({ apiOrigins: [origin] }),
          // The page's validation.* in the browser build: the one none refusal, keys parsed with the
          // options, one key option, no HMAC secret (verifyToken's only), empty claims refused.
          validationNone: make({ apiOrigins: [origin], validation: { algorithms: ['RS256', 'None'] } }),
          validationGarbageKey: make({ apiOrigins: [origin], validation: { publicKey: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n' } }),
          validationTwoKeys: make({ apiOrigins: [origin], validation: { publicKey: publicKeyPem, jwksUrl: `${origin}/jwks` } }),
          validationSecret: make({ apiOrigins: [origin], validation: { secret: '0123456789abcdef0123456789abcdef' } }),
          validationEmptyIssuer: make({ apiOrigins: [origin], validation: { issuer: '' } }),
          validationLeeway: make({ apiOrigins: [origin], validation: { leewaySeconds: 86_401 } }),
          validationKey: make({ apiOrigins: [origin], validation: { publicKey: publicKeyPem } }),
          decodeX: T.attemptSync(() => decodeToken('x')),
          decodeTampered: T.attemptSync(() => decodeToken(tampered)),
          badSignature: await verify(tampered, { algorithms: alg, publicKey: publicKeyPem }),
          untampered: await verify(token, { algorithms: alg, publicKey: publicKeyPem }),
          algNone: await verify(token, { algorithms: ['none'], publicKey: publicKeyPem }),
          garbageKey: await verify(token, { algorithms: alg, publicKey: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n' }),
          tooLarge: await verify(`${token}${'A'.repeat(17_000)}`, { algorithms: alg, publicKey: publicKeyPem }),
          // The RSA key fits PS256 too, so only rule 4 can apply: RS256 is not in the list.
          algNotAllowed: await verify(token, { algorithms: ['PS256'], publicKey: publicKeyPem }),
          // An allow-list that fits none of the keys is not an "unusable key" (rule 1): rule 4 decides.
          algNotAllowedNoKeyFits: await verify(token, { algorithms: ['ES256'], publicKey: publicKeyPem }),
          algNoneToken: await verify(noneToken, { algorithms: alg, publicKey: publicKeyPem }),
          sigBitFlip: await verify(
            `${token.slice(0, token.lastIndexOf('.') + 1)}${token.slice(token.lastIndexOf('.') + 1).replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`,
            { algorithms: alg, publicKey: publicKeyPem },
          ),
        };
      },
      { origin: s.originA, token, tampered, noneToken },
    );
    const c = new Checks();
    const labelled = (label, fn) => c.check(label, fn);
    labelled('unknown top-level key', () => assertChatAuthError(r.unknownKey, 'invalid_config', { messageIncludes: 'bogus' }));
    labelled('unknown refresh.* key', () => assertChatAuthError(r.unknownRefreshKey, 'invalid_config', { messageIncludes: 'bogus' }));
    labelled('unknown validation.* key', () => assertChatAuthError(r.unknownValidationKey, 'invalid_config', { messageIncludes: 'bogus' }));
    labelled('missing apiOrigins', () => assertChatAuthError(r.missingOrigins, 'invalid_config', { messageIncludes: 'apiOrigins' }));
    labelled("apiOrigins: ['not a url']", () => assertChatAuthError(r.badOrigin, 'invalid_config'));
    labelled("storage: 'local'", () => assertChatAuthError(r.localStorage, 'invalid_config', { messageIncludes: 'storage' }));
    labelled('snake_case key', () => assertChatAuthError(r.snakeCase, 'invalid_config', { messageIncludes: 'api_origins' }));
    assert.equal(r.valid.threw, false, `a minimal valid config throws: ${JSON.stringify(r.valid)}`);
    for (const [label, result, path] of [
      ["validation.algorithms: ['RS256', 'None']", r.validationNone, "option 'validation.algorithms' may never allow 'none'"],
      ['validation.publicKey: garbage PEM', r.validationGarbageKey, "option 'validation.publicKey' "],
      ['validation.publicKey + validation.jwksUrl', r.validationTwoKeys, "option 'validation.jwksUrl' cannot be combined"],
      ['validation.secret (verifyToken only)', r.validationSecret, "option 'validation.secret' is not a known option"],
      ["validation.issuer: ''", r.validationEmptyIssuer, "option 'validation.issuer' "],
      ['validation.leewaySeconds: 86401', r.validationLeeway, "option 'validation.leewaySeconds' "],
    ]) {
      labelled(label, () => assertChatAuthError(result, 'invalid_config', { messageIncludes: path }));
    }
    assert.equal(r.validationKey.threw, false, `a validation.publicKey alone is a key: ${JSON.stringify(r.validationKey)}`);
    labelled("decodeToken('x')", () => assertChatAuthError(r.decodeX, 'malformed', { secrets: [] }));
    assert.equal(r.decodeX.sync, true);
    assert.equal(r.decodeTampered.threw, false, 'decodeToken does not verify signatures');
    assert.equal(r.decodeTampered.value.claims.sub, 'cust_other');
    labelled('verifyToken(tampered)', () => assertChatAuthError(r.badSignature, 'bad_signature', { secrets: [tampered, token] }));
    assert.equal(r.untampered.threw, false, `the untampered token verifies: ${JSON.stringify(r.untampered)}`);
    labelled("verifyToken(algorithms: ['none'])", () => assertChatAuthError(r.algNone, 'invalid_config', { secrets: [token] }));
    labelled('verifyToken(garbage PEM)', () => assertChatAuthError(r.garbageKey, 'invalid_config', { secrets: [token] }));
    labelled('verifyToken(17 kB token)', () => assertChatAuthError(r.tooLarge, 'token_too_large', { secrets: [token] }));
    labelled("verifyToken(algorithms: ['PS256']) on an RS256 token", () => assertChatAuthError(r.algNotAllowed, 'alg_not_allowed', { secrets: [token] }));
    labelled("verifyToken(algorithms: ['ES256'], RSA key) on an RS256 token", () =>
      assertChatAuthError(r.algNotAllowedNoKeyFits, 'alg_not_allowed', { secrets: [token] }),
    );
    labelled('verifyToken(alg "none" token)', () => assertChatAuthError(r.algNoneToken, 'alg_not_allowed', { secrets: [noneToken] }));
    labelled('verifyToken(first signature char changed)', () => {
      // Changing the first base64url character of the signature keeps it strict base64url: bad_signature.
      assertChatAuthError(r.sigBitFlip, 'bad_signature', { secrets: [token] });
    });
    c.done();
  },
);

e2e.test('19. verifyToken in the browser: RS256 with PEM (SPKI) and JWKS → claims; wrong audience → audience_mismatch', async (s) => {
  const cid = customerId();
  const good = s.server.mint({ sub: cid, ttl: 300 });
  // Issued 7 min ago, expired 2 min ago (beyond the 30 s leeway).
  const expired = s.server.mint({ sub: cid, ttl: -120, iatOffset: -420 });
  const noKid = s.server.mint({ sub: cid, ttl: 300, noKid: true });
  const unknownKid = s.server.mint({ sub: cid, ttl: 300, kid: 'no-such-key' });
  const r = await s.eval(
    async ({ token, expired, noKid, unknownKid, cid, iss, aud }) => {
      const { verifyToken, decodeToken } = window.sdk;
      const { publicKeyPem, jwks } = await T.key();
      const verify = (tok, opts) => T.attempt(() => T.within(verifyToken(tok, opts), 5000, 'verifyToken'));
      const alg = ['RS256'];
      return {
        pem: await verify(token, { algorithms: alg, publicKey: publicKeyPem }),
        jwks: await verify(token, { algorithms: alg, jwks }),
        jwksNoKidOneKey: await verify(noKid, { algorithms: alg, jwks }),
        full: await verify(token, { algorithms: alg, publicKey: publicKeyPem, issuer: iss, audience: aud, customerId: cid }),
        audienceList: await verify(token, { algorithms: alg, jwks, audience: ['other', aud] }),
        wrongAudience: await verify(token, { algorithms: alg, publicKey: publicKeyPem, audience: 'another-api' }),
        wrongIssuer: await verify(token, { algorithms: alg, publicKey: publicKeyPem, issuer: 'https://evil.test' }),
        wrongCustomer: await verify(token, { algorithms: alg, publicKey: publicKeyPem, customerId: 'cust_someoneElse' }),
        customerClaimOff: await verify(token, { algorithms: alg, publicKey: publicKeyPem, customerId: 'cust_someoneElse', customerIdClaim: null }),
        expired: await verify(expired, { algorithms: alg, publicKey: publicKeyPem }),
        expiredWithNow: await verify(expired, { algorithms: alg, publicKey: publicKeyPem, now: Date.now() - 300_000 }),
        unknownKid: await verify(unknownKid, { algorithms: alg, jwks }),
        decoded: T.attemptSync(() => decodeToken(token)),
      };
    },
    { token: good.token, expired: expired.token, noKid: noKid.token, unknownKid: unknownKid.token, cid, iss: DEFAULT_ISSUER, aud: DEFAULT_AUDIENCE },
  );
  const c = new Checks();
  const labelled = (label, fn) => c.check(label, fn);
  for (const k of ['pem', 'jwks', 'jwksNoKidOneKey', 'full', 'audienceList', 'customerClaimOff', 'expiredWithNow']) {
    labelled(k, () => {
      assert.equal(r[k].threw, false, `should resolve, got ${JSON.stringify(r[k])}`);
      assert.equal(r[k].value.sub, cid, 'resolves to the claims');
    });
  }
  labelled('pem', () => assert.deepEqual(r.pem.value, good.claims, 'verifyToken resolves to exactly the payload'));
  labelled('wrong audience', () => assertChatAuthError(r.wrongAudience, 'audience_mismatch', { secrets: [good.token] }));
  labelled('wrong issuer', () => assertChatAuthError(r.wrongIssuer, 'issuer_mismatch', { secrets: [good.token] }));
  labelled('wrong customer', () => assertChatAuthError(r.wrongCustomer, 'claim_mismatch', { secrets: [good.token] }));
  labelled('expired', () => assertChatAuthError(r.expired, 'expired', { secrets: [expired.token] }));
  labelled('unknown kid', () => assertChatAuthError(r.unknownKid, 'unknown_key', { secrets: [unknownKid.token] }));
  labelled('decodeToken', () => {
    assert.equal(r.decoded.threw, false, JSON.stringify(r.decoded));
    assert.equal(r.decoded.value.header.alg, 'RS256');
    assert.equal(r.decoded.value.header.kid, s.server.kid);
    assert.equal(r.decoded.value.claims.sub, cid);
    assert.equal(r.decoded.value.expiresAt, good.exp * 1000, 'decodeToken().expiresAt is exp in ms (like ChatAuth.expiresAt)');
  });
  c.done();
});

e2e.test('20. session with validation.jwksUrl: JWKS fetched and cached; unknown kid → one re-fetch, then unknown_key', async (s) => {
  const cid = customerId();
  const r = await s.eval(
    async ({ origin, cid, iss, aud }) => {
      const { ChatAuth } = window.sdk;
      window.providerCalls = 0;
      window.kid = null; // null: the server's kid
      const provider = async () => {
        window.providerCalls++;
        const q = new URLSearchParams({ sub: cid, ttl: '300', ...(window.kid ? { kid: window.kid } : {}) });
        return { Auth: { Token: (await (await fetch(`/control/mint?${q}`)).json()).token } };
      };
      const auth = new ChatAuth({
        apiOrigins: [origin],
        customerId: cid,
        contextProvider: provider,
        validation: { jwksUrl: `${origin}/jwks.json`, issuer: iss, audience: aud, algorithms: ['RS256'] },
        refresh: { maxRetries: 0 },
      });
      const events = T.record(auth);
      await T.waitState(auth, 'authenticated');
      const first = await T.within(auth.getToken({ forceRefresh: true }), 5000, 'forced refresh (known kid)');
      const jwksAfterGood = (await T.getJson('/control/counts')).jwks;
      window.kid = 'rotated-away';
      const bad = await T.attempt(() => T.within(auth.getToken({ forceRefresh: true }), 5000, 'forced refresh (unknown kid)'));
      const jwksAfterBad = (await T.getJson('/control/counts')).jwks;
      return { first: !!first, jwksAfterGood, jwksAfterBad, bad, events, providerCalls: window.providerCalls };
    },
    { origin: s.originA, cid, iss: DEFAULT_ISSUER, aud: DEFAULT_AUDIENCE },
  );
  assert.ok(r.first);
  assert.equal(r.jwksAfterGood, 1, `JWKS fetched once and cached across two good tokens (fetches: ${r.jwksAfterGood})`);
  assert.equal(r.jwksAfterBad - r.jwksAfterGood, 1, `unknown kid → exactly one re-fetch (fetches: ${r.jwksAfterBad - r.jwksAfterGood})`);
  const failed = r.events.filter((e) => e.name === 'refresh-failed').map((e) => e.detail);
  assert.equal(failed.at(-1)?.code, 'unknown_key', `refresh-failed: ${JSON.stringify(failed)}`);
  if (r.bad.threw) assertChatAuthError(r.bad, 'unknown_key');
  else assert.fail(`getToken({forceRefresh:true}) resolved although the new context was refused: ${JSON.stringify(r.bad)}`);
});

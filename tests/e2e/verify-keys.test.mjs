// chat-auth e2e: verifyToken's kept WebCrypto keys. js/host.js keeps each imported CryptoKey under
// the id the core gives the (algorithm, public key) (src/exports/webcrypto.rs key_id): a changed
// `publicKey` or `jwks` must never verify with the key kept for the previous one, in either order,
// for RSA and EC keys, one key under two algorithms, and calls made at once (the first import of
// a key still under way), and a batch of 100 at once. Keys and tokens are made in the page with
// WebCrypto.
import assert from 'node:assert/strict';
import { suite } from './support/e2e.mjs';

const e2e = suite();

e2e.test('verifyToken with two keys in one page: each token verifies under its own key only, whatever was kept before', async (s) => {
  const r = await s.eval(async () => {
    const { verifyToken } = window.sdk;
    const b64url = (bytes) =>
      btoa(String.fromCharCode(...new Uint8Array(bytes)))
        .replace(/\+/g, '-')
        .replace(/\//g, '_')
        .replace(/=+$/, '');
    const pem = async (key) => {
      const body = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.exportKey('spki', key))));
      return `-----BEGIN PUBLIC KEY-----\n${body.match(/.{1,64}/g).join('\n')}\n-----END PUBLIC KEY-----\n`;
    };
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'c_8f3a9b2e', iat: now, exp: now + 600 };
    const sign = async (alg, params, privateKey) => {
      const input = `${b64url(new TextEncoder().encode(JSON.stringify({ alg, typ: 'JWT' })))}.${b64url(new TextEncoder().encode(JSON.stringify(claims)))}`;
      return `${input}.${b64url(await crypto.subtle.sign(params, privateKey, new TextEncoder().encode(input)))}`;
    };
    const rsa = async () => {
      const pair = await crypto.subtle.generateKey(
        { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
        true,
        ['sign', 'verify'],
      );
      // The same key as an RSA-PSS signer: one public key, two algorithms.
      const pss = await crypto.subtle.importKey('pkcs8', await crypto.subtle.exportKey('pkcs8', pair.privateKey), { name: 'RSA-PSS', hash: 'SHA-256' }, false, [
        'sign',
      ]);
      return {
        pem: await pem(pair.publicKey),
        jwk: await crypto.subtle.exportKey('jwk', pair.publicKey),
        rs256: await sign('RS256', 'RSASSA-PKCS1-v1_5', pair.privateKey),
        ps256: await sign('PS256', { name: 'RSA-PSS', saltLength: 32 }, pss),
      };
    };
    const ec = async () => {
      const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
      return { pem: await pem(pair.publicKey), es256: await sign('ES256', { name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey) };
    };
    const [a, b, ecA, ecB] = await Promise.all([rsa(), rsa(), ec(), ec()]);
    const outcome = (p) =>
      T.within(p, 5000, 'verifyToken').then(
        (claims) => (claims.sub === 'c_8f3a9b2e' ? 'ok' : `claims ${JSON.stringify(claims)}`),
        (e) => e.code ?? String(e),
      );
    const pemOptions = (key, alg = 'RS256') => ({ algorithms: [alg], publicKey: key.pem });
    const jwksOptions = (key) => ({ algorithms: ['RS256'], jwks: { keys: [{ ...key.jwk, alg: undefined, key_ops: undefined, ext: undefined }] } });
    const sequence = [];
    for (const [name, token, options, want] of [
      ['A under A', a.rs256, pemOptions(a), 'ok'],
      ['A under B', a.rs256, pemOptions(b), 'bad_signature'],
      ['B under B', b.rs256, pemOptions(b), 'ok'],
      ['B under A', b.rs256, pemOptions(a), 'bad_signature'],
      ['A under A again', a.rs256, pemOptions(a), 'ok'],
      ['A PS256 under A', a.ps256, pemOptions(a, 'PS256'), 'ok'],
      ['A RS256 under A after PS256', a.rs256, pemOptions(a), 'ok'],
      ['B PS256 under A', b.ps256, pemOptions(a, 'PS256'), 'bad_signature'],
      ['A under JWKS B', a.rs256, jwksOptions(b), 'bad_signature'],
      ['B under JWKS B', b.rs256, jwksOptions(b), 'ok'],
      ['A under JWKS A', a.rs256, jwksOptions(a), 'ok'],
      ['EC A under EC A', ecA.es256, pemOptions(ecA, 'ES256'), 'ok'],
      ['EC A under EC B', ecA.es256, pemOptions(ecB, 'ES256'), 'bad_signature'],
      ['EC B under EC B', ecB.es256, pemOptions(ecB, 'ES256'), 'ok'],
      ['EC B under EC A', ecB.es256, pemOptions(ecA, 'ES256'), 'bad_signature'],
    ]) {
      sequence.push([name, await outcome(verifyToken(token, options)), want]);
    }
    // At once, with keys not seen before: the imports are all under way together.
    const [c, d] = await Promise.all([rsa(), rsa()]);
    const together = await Promise.all(
      [
        ['C under D', c.rs256, pemOptions(d), 'bad_signature'],
        ['C under C', c.rs256, pemOptions(c), 'ok'],
        ['D under C', d.rs256, pemOptions(c), 'bad_signature'],
        ['D under D', d.rs256, pemOptions(d), 'ok'],
        ['C under C twice', c.rs256, pemOptions(c), 'ok'],
      ].map(async ([name, token, options, want]) => [name, await outcome(verifyToken(token, options)), want]),
    );
    // A batch: 100 calls awaiting WebCrypto at once (more than the core once kept between the two
    // halves: the oldest were dropped and failed as `malformed`).
    const batch = await Promise.all(Array.from({ length: 100 }, () => outcome(verifyToken(a.rs256, pemOptions(a)))));
    return { sequence, together, batch: batch.filter((x) => x !== 'ok') };
  });
  for (const [name, got, want] of [...r.sequence, ...r.together]) assert.equal(got, want, name);
  assert.deepEqual(r.batch, [], '100 verifications at once: every one ok');
});

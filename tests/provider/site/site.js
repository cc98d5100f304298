// A site as an integrator writes it: its own OpenID Connect login (authorization code + PKCE S256,
// public client), then chat-auth with the provider's token response. chat-auth finds the JWKS and
// token endpoint from `issuer`, refreshes by the refresh_token grant with `resource` and `scope`,
// and attaches the token to the chat API only.
//   index.html?issuer=…&api=…&resource=…[&dpop=1]   window.site.login() → the provider's pages → back here with ?code
//   then window.site = { auth, customerId, initialRefreshToken, tokenResponse, exchangeAttempts }
// With dpop=1 (RFC 9449) chat-auth is made before the code exchange, with `dpop: true`, and the
// exchange goes through `auth.fetch`: its proof is signed by chat-auth's key, the one every later
// proof uses, so the tokens are bound to it, and chat-auth remembers the provider's `DPoP-Nonce`
// for its refresh grants. That needs the token endpoint's origin in `apiOrigins` (chat-auth proves
// only requests to those); no token goes there: the site is anonymous to chat-auth until the
// exchange answered, and chat-auth's own refresh grants are not `auth.fetch` calls.
import init, { ChatAuth } from '/pkg/chat_auth.js';

const CLIENT_ID = 'chat-web';
const SCOPE = 'openid offline_access chat';
const params = new URLSearchParams(location.search);
const saved = JSON.parse(sessionStorage.getItem('site') ?? '{}');
const config = {
  issuer: params.get('issuer') ?? saved.issuer,
  api: params.get('api') ?? saved.api, // the chat API's origin
  resource: params.get('resource') ?? saved.resource, // its resource indicator (the tokens' aud)
  dpop: (params.get('dpop') ?? saved.dpop) === '1',
};
const redirectUri = `${location.origin}${location.pathname}`;
const status = (text) => {
  document.getElementById('status').textContent = text;
};

const b64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

async function metadata() {
  const r = await fetch(`${config.issuer}/.well-known/openid-configuration`);
  if (!r.ok) throw new Error(`discovery: HTTP ${r.status}`);
  return r.json();
}

async function login() {
  const m = await metadata();
  const verifier = random(32);
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const state = random(16);
  sessionStorage.setItem('site', JSON.stringify({ ...config, dpop: config.dpop ? '1' : '0', verifier, state }));
  const url = new URL(m.authorization_endpoint);
  for (const [k, v] of Object.entries({
    client_id: CLIENT_ID,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: SCOPE,
    prompt: 'consent',
    resource: config.resource,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
  })) {
    url.searchParams.set(k, v);
  }
  location.assign(url.href);
}

async function finishLogin(code) {
  if (params.get('state') !== saved.state) throw new Error('state mismatch');
  const m = await metadata();
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    client_id: CLIENT_ID,
    code_verifier: saved.verifier,
    resource: config.resource,
  });
  const options = {
    apiOrigins: [config.api],
    issuer: config.issuer,
    clientId: CLIENT_ID,
    resource: config.resource,
    scope: SCOPE,
    validation: { audience: config.resource, algorithms: ['ES256'] },
    refresh: { marginSeconds: 2, maxRetries: 2 },
  };
  let auth;
  let r;
  let exchangeAttempts = 1;
  if (config.dpop) {
    auth = new ChatAuth({
      ...options,
      apiOrigins: [config.api, new URL(m.token_endpoint).origin],
      tokenEndpoint: m.token_endpoint, // a proof names it: discovery alone is not enough with dpop
      dpop: true,
    });
    r = await auth.fetch(m.token_endpoint, { method: 'POST', body });
    // RFC 9449 §8: a provider that wants a nonce answers 400 use_dpop_nonce with one; once more.
    if (r.status === 400 && (await r.clone().json()).error === 'use_dpop_nonce') {
      exchangeAttempts++;
      r = await auth.fetch(m.token_endpoint, { method: 'POST', body });
    }
  } else {
    r = await fetch(m.token_endpoint, { method: 'POST', body });
  }
  const tokenResponse = await r.json();
  if (!r.ok) throw new Error(`code exchange: ${tokenResponse.error} ${tokenResponse.error_description ?? ''}`);
  history.replaceState(null, '', redirectUri);
  // The customer id is the token's `sub` (opaque: the provider's account id).
  const customerId = JSON.parse(atob(tokenResponse.access_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub;
  let handedOver = false;
  auth ??= new ChatAuth(options);
  // The login's token response once; after that only the refresh grant can help, and a site
  // would send the visitor to its login page (here: the provider call fails).
  const provider = async (_callback, needsRefresh) => {
    if (!needsRefresh && !handedOver) {
      handedOver = true;
      return tokenResponse;
    }
    throw new Error('the visitor must log in again');
  };
  await auth.setCustomer(customerId, provider);
  return { auth, customerId, initialRefreshToken: tokenResponse.refresh_token, tokenResponse, exchangeAttempts };
}

await init();
const code = params.get('code');
window.site = { login, config };
if (code) {
  try {
    Object.assign(window.site, await finishLogin(code));
    status(`logged in: ${window.site.auth.state}`);
  } catch (e) {
    window.site.error = String(e?.code ?? e?.message ?? e);
    status(`login failed: ${window.site.error}`);
  }
} else {
  status('ready');
}
window.site.ready = true;

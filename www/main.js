// The chat demo: a site's chat widget using chat-auth the way an integrator
// would (the npm package's `pkg/chat_auth.js`, no bundler), against the
// reference backend in server/. Tokens never reach the DOM or the console.
import init, { ChatAuth } from '/pkg/chat_auth.js';
import { createAnnouncer } from '/announce.js';
import { createConversation } from '/conversation.js';
import { createTimeline } from '/timeline.js';

const $ = (id) => document.getElementById(id);
const ORIGIN = location.origin;
const POLL_MS = 2000;
const CHANNEL_NAMES = { web: 'Web chat', messenger: 'Messenger' };
/** `?dpop=1`: tokens bound to this browser's key (DPoP, RFC 9449). */
const DPOP = new URLSearchParams(location.search).get('dpop') === '1';

await init();
const meta = await (await fetch('/.well-known/oauth-authorization-server')).json();

// ---- the site's side: login, and the context provider ----------------------

/** The token response of the last login, until chat-auth has taken it. */
let loginContext = null;
/** The first refresh token of this session: only for the replay-attack button. */
let firstRefreshToken = null;
let userName = '';

/**
 * chat-auth calls this for a context. Right after login it hands over the
 * login's token response; later refreshes go to the token endpoint (the
 * refresh_token grant), so the provider is asked again only when that fails —
 * and then the visitor has to log in again.
 */
function contextProvider(callback, needsRefresh) {
  if (loginContext && !needsRefresh) {
    const auth = loginContext;
    loginContext = null;
    return Promise.resolve({ Auth: auth });
  }
  return Promise.reject(new Error('login required'));
}

const auth = new ChatAuth({
  apiOrigins: [ORIGIN],
  tokenEndpoint: ORIGIN + meta.token_endpoint,
  clientId: meta.chat_client_id,
  validation: {
    algorithms: ['ES256'],
    jwksUrl: ORIGIN + meta.jwks_uri,
    issuer: meta.issuer,
    audience: meta.chat_audience,
  },
  refresh: { maxRetries: 2 },
  dpop: DPOP,
  userLoginHandler: () => showLogin('Your session ended. Please log in again.'),
});
window.chatAuth = auth; // for the browser console and the e2e tests

async function login(username, password) {
  // With DPoP the login goes through chat-auth, whose proof binds the session to this browser's key.
  const send = DPOP ? (url, init) => auth.fetch(url, init) : fetch;
  const res = await send(`${ORIGIN}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error_description || `login failed (${res.status})`);
  const { access_token, token_type, expires_in, refresh_token, scope } = body;
  loginContext = { access_token, token_type, expires_in, refresh_token, scope };
  firstRefreshToken = refresh_token;
  userName = body.name || username;
  await auth.setCustomer(body.customer_id, contextProvider);
}

/** The customer's own data from the site's profile API, as the server checked it. */
async function loadProfile() {
  const res = await auth.fetch(`${ORIGIN}/api/profile`, { headers: chatHeaders() });
  const box = $('my-profile');
  if (!res.ok) {
    box.textContent = '';
    return;
  }
  const p = await res.json();
  box.textContent = p.verified
    ? `Verified account · ${p.profile.tier} member since ${p.profile.member_since} · ${p.profile.orders.length} recent order${p.profile.orders.length === 1 ? '' : 's'}`
    : `Account not verified (${p.reason})`;
  box.dataset.verified = String(p.verified);
}

async function logout() {
  try {
    await auth.fetch(`${ORIGIN}/auth/logout`, { method: 'POST' });
  } finally {
    firstRefreshToken = null;
    await auth.clearCustomer();
  }
}

// ---- chat ---------------------------------------------------------------

const conversation = createConversation($('messages'), $('chat-live'), { agentName: 'Ava', channelNames: CHANNEL_NAMES });
/** State changes (logged in, session ended, logged out, a message not sent), for screen readers. */
const status = createAnnouncer($('status-live'));
let polling = null;

function renderMessages(messages) {
  conversation.render(messages);
  $('chat-empty').hidden = messages.length > 0;
}

/** Chat requests carry the customer id the SDK was given: the server checks it against the token and the site's profile. */
function chatHeaders(extra = {}) {
  return auth.customerId ? { ...extra, 'Chat-Customer-Id': auth.customerId } : extra;
}

async function loadMessages() {
  const res = await auth.fetch(`${ORIGIN}/api/messages`, { headers: chatHeaders() });
  if (!res.ok) {
    log('chat', `GET /api/messages → ${res.status}`, 'bad');
    return;
  }
  const body = await res.json();
  renderMessages(body.messages);
}

function startPolling() {
  clearInterval(polling);
  polling = setInterval(() => loadMessages().catch((e) => log('chat', `poll failed: ${e.code || e.message}`, 'bad')), POLL_MS);
}

async function send(text) {
  const clientId = crypto.randomUUID();
  conversation.sending(clientId);
  const res = await auth.fetch(`${ORIGIN}/api/messages`, {
    method: 'POST',
    headers: chatHeaders({ 'Content-Type': 'application/json' }),
    body: JSON.stringify({ text, clientId }),
  });
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new Error(body.error_description || `send failed (${res.status})`);
  }
  await loadMessages();
}

// ---- session panel ------------------------------------------------------

const timeline = createTimeline($('timeline'), $('timeline-summary'));
let lastLifetime = null;

function log(kind, text, tone = '') {
  const li = document.createElement('li');
  li.className = tone;
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString([], { hour12: false });
  const name = document.createElement('b');
  name.textContent = kind;
  const detail = document.createElement('span');
  detail.textContent = text;
  li.append(time, name, detail);
  $('events').prepend(li);
  while ($('events').children.length > 60) $('events').lastChild.remove();
}

function short(id) {
  return id ? `${id.slice(0, 10)}…${id.slice(-4)}` : '—';
}

function renderSession() {
  const state = auth.state;
  $('state').textContent = state;
  $('state').dataset.state = state;
  $('state-badge').textContent =
    state === 'authenticated' || state === 'refreshing' ? 'secure' : state === 'anonymous' || state === 'logged_out' ? 'guest' : state;
  $('state-badge').dataset.state = state;
  $('customer-id').textContent = short(auth.customerId);
  $('customer-id').title = auth.customerId || '';
  $('anonymous-id').textContent = short(auth.anonymousId);
  $('anonymous-id').title = auth.anonymousId;
  const exp = auth.expiresAt;
  if (exp) {
    const left = Math.max(0, (exp - Date.now()) / 1000);
    $('expiry').textContent = `in ${left.toFixed(1)} s · ${new Date(exp).toLocaleTimeString([], { hour12: false })}`;
  } else {
    $('expiry').textContent = '—';
  }
  const loggedIn = Boolean(auth.customerId) && state !== 'logged_out' && state !== 'expired';
  // Focus inside the view about to hide (session expired, another tab) goes to the one shown.
  const hiding = loggedIn ? $('login-view') : $('user-view');
  const focusLost = !hiding.hidden && hiding.contains(document.activeElement);
  $('user-view').hidden = !loggedIn;
  $('login-view').hidden = loggedIn;
  if (focusLost) (loggedIn ? $('message') : $('username')).focus();
  $('user-name').textContent = userName;
  $('user-initial').textContent = userName.slice(0, 1).toUpperCase();
  $('chat-who').textContent = loggedIn ? `Chatting as ${userName}` : 'You are chatting as a guest';
  $('replay').disabled = !loggedIn || !firstRefreshToken;
  const jkt = loggedIn ? auth.claims?.cnf?.jkt : null;
  $('binding').textContent = jkt ? `DPoP · key ${short(jkt)}` : DPOP ? 'DPoP on · no token yet' : 'bearer token';
  $('binding').title = jkt || '';
  $('binding').dataset.bound = String(Boolean(jkt));
  timeline.draw(Date.now());
}

function showLogin(reason) {
  status.say(reason);
  $('login-reason').textContent = reason;
  $('login-reason').classList.add('notice');
  renderSession();
}

auth.on('state', ({ state, previous }) => {
  log('state', `${previous} → ${state}`);
  renderSession();
});
auth.on('authenticated', ({ expiresAt }) => {
  const now = Date.now();
  lastLifetime = expiresAt - now;
  timeline.issued(now, expiresAt, auth.refreshAt);
  log('authenticated', `customer ${short(auth.customerId)}, token valid ${Math.round(lastLifetime / 1000)} s`, 'good');
  status.say(`Logged in as ${userName}. Your chat is now secure.`);
});
auth.on('refreshed', ({ expiresAt, source }) => {
  const now = Date.now();
  timeline.refreshed(now, expiresAt, auth.refreshAt);
  log('refreshed', `new token from the ${source.replace('_', ' ')}, valid until ${new Date(expiresAt).toLocaleTimeString([], { hour12: false })}`, 'good');
});
auth.on('refresh-failed', ({ code, attempt, retryInMs }) => {
  log('refresh-failed', `${code} (attempt ${attempt}${retryInMs != null ? `, retry in ${(retryInMs / 1000).toFixed(1)} s` : ''})`, 'bad');
});
auth.on('auth-lost', ({ code }) => {
  timeline.lost(Date.now());
  log('auth-lost', code, 'bad');
});
auth.on('logged-out', () => {
  timeline.clear();
  log('logged-out', 'token forgotten, new anonymous id');
  status.say('Logged out. You are chatting as a guest.');
});

// ---- wiring ---------------------------------------------------------------

$('composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('message');
  const text = input.value.trim();
  if (!text) return;
  input.value = '';
  $('send').disabled = true;
  try {
    await send(text);
  } catch (err) {
    input.value = text;
    log('chat', err.code || err.message, 'bad');
    status.say(`Your message was not sent (${err.code || err.message}). It is back in the message field.`);
  } finally {
    $('send').disabled = false;
    input.focus();
  }
});

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  $('login').disabled = true;
  let loggedIn = false;
  try {
    conversation.expectHistory();
    await login($('username').value.trim(), $('password').value);
    loggedIn = true;
    $('password').value = '';
    $('login-reason').classList.remove('notice');
    await loadMessages();
    await loadProfile();
  } catch (err) {
    $('login-error').textContent = err.message;
  } finally {
    $('login').disabled = false;
    renderSession();
    // The form is gone: carry on where a customer who just logged in wants to be.
    if (loggedIn) $('message').focus();
  }
});

$('logout').addEventListener('click', async () => {
  await logout();
  conversation.clear();
  $('login-reason').textContent = 'You are logged out. Chats from now on are a new guest conversation.';
  await loadMessages();
  renderSession();
  $('username').focus();
});

$('replay').addEventListener('click', async () => {
  // What a thief holding a copy of the first refresh token would do.
  const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: firstRefreshToken, client_id: meta.chat_client_id });
  firstRefreshToken = null;
  const res = await fetch(meta.token_endpoint, { method: 'POST', body });
  const answer = await res.json().catch(() => ({}));
  const outcome = res.ok
    ? 'the old refresh token still worked (it had not been rotated yet)'
    : answer.error === 'invalid_dpop_proof'
      ? "refused: invalid_dpop_proof — the refresh token is bound to this browser's key; the session goes on"
      : `refused: ${answer.error} — the whole session is revoked`;
  log('replay', outcome, res.ok ? '' : 'bad');
  status.say(`Replay ${outcome}.`);
  renderSession();
  // The button is now disabled: keep keyboard focus in the panel, on the log that shows the outcome.
  if (document.activeElement === $('replay') || document.activeElement === document.body) $('events').focus();
  await loadMessages();
});

$('dpop-switch').href = DPOP ? '?' : '?dpop=1';
$('dpop-switch').textContent = DPOP ? 'switch DPoP off' : 'switch DPoP on';

setInterval(renderSession, 250);
renderSession();
$('message').disabled = false;
$('send').disabled = false;
document.body.dataset.ready = 'true';
log('ready', `chat-auth loaded; issuer ${meta.issuer}`);
await loadMessages();
startPolling();

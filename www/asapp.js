// A page written against the ASAPP Web SDK's command API, run by chat-auth's
// facade (installAsapp). ASAPP has no token endpoint option, so this page's
// ContextProvider refreshes through the backend itself (refresh_token grant,
// rotating its refresh token) — the ASAPP way.
import init, { installAsapp } from '/pkg/chat_auth.js';

const $ = (id) => document.getElementById(id);
const ORIGIN = location.origin;

await init();
installAsapp(window);
const meta = await (await fetch('/.well-known/oauth-authorization-server')).json();

let session = null; // { context, refreshToken, name }

async function tokenRequest(form) {
  const res = await fetch(meta.token_endpoint, { method: 'POST', body: new URLSearchParams(form) });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || `token endpoint answered ${res.status}`);
  return body;
}

function toContext(tokens) {
  return { Auth: { Token: tokens.access_token, token_type: tokens.token_type, expires_in: tokens.expires_in } };
}

/** ASAPP's ContextProvider: (callback, needsRefresh). */
function ContextProvider(callback, needsRefresh) {
  if (!session) return Promise.reject(new Error('not logged in'));
  if (!needsRefresh && session.context) {
    const c = session.context;
    session.context = null;
    callback(c);
    return undefined;
  }
  tokenRequest({ grant_type: 'refresh_token', refresh_token: session.refreshToken, client_id: meta.chat_client_id })
    .then((t) => {
      session.refreshToken = t.refresh_token;
      callback(toContext(t));
    })
    .catch(() => {
      session = null;
      render();
    });
  return undefined;
}

function render() {
  const state = ASAPP('getState');
  $('asapp-state').replaceChildren(
    ...Object.entries(state).map(([k, v]) => {
      const li = document.createElement('li');
      li.dataset.on = String(v);
      li.dataset.key = k;
      li.textContent = `${k}: ${v}`;
      return li;
    }),
  );
  $('login-view').hidden = Boolean(session);
  $('user-view').hidden = !session;
  $('user-name').textContent = session ? session.name : '';
}

async function loadMessages() {
  const res = await ASAPP('getChatAuth').fetch(`${ORIGIN}/api/messages`);
  if (!res.ok) return;
  const { messages } = await res.json();
  $('messages').replaceChildren(
    ...messages.map((m) => {
      const li = document.createElement('li');
      li.className = `bubble ${m.author}`;
      const p = document.createElement('p');
      p.textContent = m.text;
      li.append(p);
      return li;
    }),
  );
  $('messages').scrollTop = $('messages').scrollHeight;
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  try {
    const res = await fetch('/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: $('username').value.trim(), password: $('password').value }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error_description || 'login failed');
    session = { context: toContext(body), refreshToken: body.refresh_token, name: body.name };
    await ASAPP('setCustomer', { CustomerId: body.customer_id, ContextProvider });
    await loadMessages();
  } catch (err) {
    session = null;
    $('login-error').textContent = err.message;
  }
  render();
});

$('logout').addEventListener('click', async () => {
  await ASAPP('getChatAuth').fetch(`${ORIGIN}/auth/logout`, { method: 'POST' });
  session = null;
  await ASAPP('unloadAndClearSession');
  await load();
});

$('composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('message').value.trim();
  if (!text) return;
  $('message').value = '';
  const res = await ASAPP('getChatAuth').fetch(`${ORIGIN}/api/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ text, clientId: crypto.randomUUID() }),
  });
  if (!res.ok) $('message').value = text;
  await loadMessages();
});

function load() {
  return new Promise((resolve) => {
    ASAPP('load', {
      APIHostname: ORIGIN,
      AppId: 'northwind-demo',
      ContextProvider,
      UserLoginHandler: () => {
        session = null;
        render();
      },
      onLoadComplete: () => {
        render();
        resolve();
      },
    });
  }).then(loadMessages);
}

await load();
setInterval(render, 500);
document.body.dataset.ready = 'true';

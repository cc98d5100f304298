// A page written against the ASAPP Web SDK's command API, run by chat-auth's
// facade (installAsapp). ASAPP has no token endpoint option, so this page's
// ContextProvider refreshes through the backend itself (refresh_token grant,
// rotating its refresh token) — the ASAPP way.
/* global ASAPP -- the window.ASAPP command function installAsapp(window) puts there, called bare as ASAPP's pages do */
import init, { installAsapp } from '/pkg/chat_auth.js';
import { createAnnouncer } from '/announce.js';
import { createConversation } from '/conversation.js';

const $ = (id) => document.getElementById(id);
const ORIGIN = location.origin;

await init();
installAsapp(window);
const meta = await (await fetch('/.well-known/oauth-authorization-server')).json();

let session = null; // { context, refreshToken, name }
const conversation = createConversation($('messages'), $('chat-live'), { agentName: 'Ava', showTimes: false });
/** Logged in, session ended, logged out: for screen readers. */
const status = createAnnouncer($('status-live'));

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
  // A refused refresh rejects, so chat-auth hears of it at once instead of
  // waiting out its provider timeout with a session the page already gave up.
  return tokenRequest({ grant_type: 'refresh_token', refresh_token: session.refreshToken, client_id: meta.chat_client_id }).then(
    (t) => {
      session.refreshToken = t.refresh_token;
      callback(toContext(t));
    },
    (err) => {
      sessionEnded();
      throw err;
    },
  );
}

/** The refresh failed or chat-auth gave up: the visitor has to log in again. */
function sessionEnded() {
  if (!session) return;
  session = null;
  const reason = 'Your session ended. Please log in again.';
  $('login-reason').textContent = reason;
  $('login-reason').classList.add('notice');
  status.say(reason);
  render();
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
  // Focus inside the view about to hide goes to the one shown.
  const hiding = session ? $('login-view') : $('user-view');
  const focusLost = !hiding.hidden && hiding.contains(document.activeElement);
  $('login-view').hidden = Boolean(session);
  $('user-view').hidden = !session;
  if (focusLost) (session ? $('message') : $('username')).focus();
  $('user-name').textContent = session ? session.name : '';
}

async function loadMessages() {
  const res = await ASAPP('getChatAuth').fetch(`${ORIGIN}/api/messages`);
  if (!res.ok) return;
  const { messages } = await res.json();
  conversation.render(messages);
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
    $('password').value = '';
    $('login-reason').classList.remove('notice');
    status.say(`Logged in as ${body.name}.`);
    conversation.expectHistory();
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
  conversation.clear();
  $('login-reason').textContent = 'You are logged out. Chats from now on are a new guest conversation.';
  status.say('Logged out. You are chatting as a guest.');
  await load();
});

$('composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('message').value.trim();
  if (!text) return;
  $('message').value = '';
  const clientId = crypto.randomUUID();
  conversation.sending(clientId);
  const res = await ASAPP('getChatAuth').fetch(`${ORIGIN}/api/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ text, clientId }),
  });
  if (!res.ok) {
    $('message').value = text;
    status.say(`Your message was not sent (${res.status}). It is back in the message field.`);
  }
  await loadMessages();
  $('message').focus();
});

function load() {
  return new Promise((resolve) => {
    ASAPP('load', {
      APIHostname: ORIGIN,
      AppId: 'northwind-demo',
      ContextProvider,
      UserLoginHandler: sessionEnded,
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

// The messaging channel: a second client (OAuth client `chat-messenger`) with
// its own layout, sharing the customer's one history with the web widget.
// Every message shows the channel it was written on.
import { $, startAuth, syncMessages } from '/shared.js';

const CUSTOMER_VIEW = { visitor: 'You', agent: 'Northwind support', bot: 'Northwind bot' };
const POLL_MS = 2000;

const session = await startAuth({
  clientId: 'chat-messenger',
  loginPath: '/auth/login',
  onLoginNeeded: (reason) => show(false, reason),
});
window.chatAuth = session.auth; // for the e2e tests
const seen = new Map();
let polling = null;

function show(signedIn, reason) {
  $('m-login').hidden = signedIn;
  $('m-chat').hidden = !signedIn;
  $('m-logout').hidden = !signedIn;
  if (!signedIn) {
    clearInterval(polling);
    seen.clear();
    $('m-messages').replaceChildren();
    $('m-who').textContent = 'Not signed in';
    if (reason) $('m-login-reason').textContent = reason;
  }
}

async function load() {
  const res = await session.api('/api/messages');
  if (!res.ok) return;
  const body = await res.json();
  syncMessages($('m-messages'), seen, body.messages, CUSTOMER_VIEW);
}

$('m-login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('m-login-error').textContent = '';
  $('m-login-button').disabled = true;
  try {
    const { name } = await session.login($('m-username').value.trim(), $('m-password').value);
    $('m-password').value = '';
    $('m-who').textContent = `Signed in as ${name}`;
    show(true);
    await load();
    polling = setInterval(() => load().catch(() => {}), POLL_MS);
    $('m-message').focus();
  } catch (err) {
    $('m-login-error').textContent = err.message;
  } finally {
    $('m-login-button').disabled = false;
  }
});

$('m-composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('m-message');
  const text = input.value.trim();
  if (!text) return;
  input.value = '';
  const res = await session.api('/api/messages', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ text, clientId: crypto.randomUUID() }),
  });
  if (!res.ok) input.value = text;
  await load();
});

$('m-logout').addEventListener('click', async () => {
  await session.logout();
  show(false, 'Signed out. Sign in again to continue the conversation.');
  $('m-username').focus();
});

show(false);
document.body.dataset.ready = 'true';

// What the messenger channel and the representatives' desk share: a ChatAuth
// instance for one OAuth client (login through the site, refresh through the
// token endpoint, the same allow-list and validation as the widget), and the
// rendering of one message with its author, channel and time.
import init, { ChatAuth } from '/pkg/chat_auth.js';

export const ORIGIN = location.origin;
export const $ = (id) => document.getElementById(id);

export const CHANNEL_NAMES = { web: 'Web chat', messenger: 'Messenger' };

/**
 * A ChatAuth for `clientId`, logged in through `loginPath` (`/auth/login` for
 * customers, `/desk/login` for representatives). `onLoginNeeded(reason)` runs
 * when the session ends and the person has to log in again.
 */
export async function startAuth({ clientId, loginPath, onLoginNeeded }) {
  await init();
  const meta = await (await fetch('/.well-known/oauth-authorization-server')).json();
  let pending = null; // the login's token response, until chat-auth takes it
  const provider = (callback, needsRefresh) => {
    if (pending && !needsRefresh) {
      const auth = pending;
      pending = null;
      return Promise.resolve({ Auth: auth });
    }
    return Promise.reject(new Error('login required'));
  };
  const auth = new ChatAuth({
    apiOrigins: [ORIGIN],
    tokenEndpoint: ORIGIN + meta.token_endpoint,
    clientId,
    validation: {
      algorithms: ['ES256'],
      jwksUrl: ORIGIN + meta.jwks_uri,
      issuer: meta.issuer,
      audience: meta.chat_audience,
    },
    refresh: { maxRetries: 2 },
    userLoginHandler: () => onLoginNeeded('Your session ended. Please log in again.'),
  });

  async function login(username, password) {
    const body = { username, password };
    if (loginPath === '/auth/login') body.client_id = clientId;
    const res = await fetch(loginPath, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(answer.error_description || `login failed (${res.status})`);
    const { access_token, token_type, expires_in, refresh_token, scope } = answer;
    pending = { access_token, token_type, expires_in, refresh_token, scope };
    await auth.setCustomer(answer.customer_id, provider);
    return { name: answer.name || username, customerId: answer.customer_id };
  }

  async function logout() {
    try {
      await auth.fetch(`${ORIGIN}/auth/logout`, { method: 'POST' });
    } finally {
      await auth.clearCustomer();
    }
  }

  /** auth.fetch with the customer id the SDK was given, for the server's profile check. */
  function api(path, init = {}) {
    const headers = new Headers(init.headers);
    if (auth.customerId) headers.set('Chat-Customer-Id', auth.customerId);
    return auth.fetch(ORIGIN + path, { ...init, headers });
  }

  return { auth, meta, login, logout, api };
}

const AUTHOR_NAMES = { visitor: 'Customer', agent: 'Representative', bot: 'Auto-reply bot' };

function clock(at) {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/**
 * One message as a list item: text, then "author · channel · time".
 * `authorNames` renames authors for the viewer (the customer sees "You").
 */
export function messageItem(m, authorNames = AUTHOR_NAMES) {
  const li = document.createElement('li');
  li.className = `msg ${m.author}`;
  li.dataset.id = m.id;
  li.dataset.channel = m.channel;
  const text = document.createElement('p');
  text.textContent = m.text;
  const meta = document.createElement('p');
  meta.className = 'msg-meta';
  const who = document.createElement('span');
  who.textContent = authorNames[m.author] || m.author;
  const channel = document.createElement('span');
  channel.className = `channel ${m.channel}`;
  channel.textContent = CHANNEL_NAMES[m.channel] || m.channel;
  const time = document.createElement('time');
  time.dateTime = new Date(m.at).toISOString();
  time.textContent = clock(m.at);
  meta.append(who, ' · ', channel, ' · ', time);
  li.append(text, meta);
  return li;
}

/**
 * Keeps `list` equal to `messages` (server order), adding only new items,
 * so a polite live region announces just the new messages.
 */
export function syncMessages(list, seen, messages, authorNames) {
  const ids = new Set(messages.map((m) => m.id));
  for (const [id, el] of seen) {
    if (!ids.has(id)) {
      el.remove();
      seen.delete(id);
    }
  }
  let added = false;
  for (const m of messages) {
    if (seen.has(m.id)) continue;
    const li = messageItem(m, authorNames);
    seen.set(m.id, li);
    list.append(li);
    added = true;
  }
  // A merge can insert older messages: restore server order, moving nodes
  // only when it differs (a move would be announced again).
  const inOrder = messages.every((m, i) => list.children[i] === seen.get(m.id));
  if (!inOrder) for (const m of messages) list.append(seen.get(m.id));
  if (added) list.scrollTop = list.scrollHeight;
  return added;
}

export { clock };

// The representatives' desk: a representative signs in (client `chat-desk`;
// chat-auth holds and refreshes the representative's own token), sees the
// queue, opens a conversation (every channel, one history), sees the
// customer's profile as the server checked it, and replies.
import { $, CHANNEL_NAMES, clock, startAuth, syncMessages } from '/shared.js';

const POLL_MS = 2000;
const REASONS = {
  claim_mismatch: 'The customer’s token, the customer id the SDK was given and the site’s profile do not name the same customer.',
  expired: 'The last check is too old, or the token had expired. It is checked again when the customer is active.',
  profile_unavailable: 'The site’s profile API did not answer.',
  malformed: 'The site’s profile API gave an answer that cannot be read.',
  customer_id_invalid: 'The customer’s page sent no valid customer id.',
  customer_id_pii: 'The customer id the page sent looks like personal data.',
  not_checked: 'Not checked yet: the customer has not been active since logging in.',
  anonymous: 'Guest: not logged in, so there is nobody to verify. Ask them to log in before sharing account details.',
};

const session = await startAuth({
  clientId: 'chat-desk',
  loginPath: '/desk/login',
  onLoginNeeded: (reason) => signedOut(reason),
});
window.chatAuth = session.auth; // for the e2e tests

let open = null; // { kind, id }
const seen = new Map();
let polling = null;

function label(c) {
  if (c.kind === 'anonymous') return `Guest ${c.id.slice(0, 4)}`;
  return c.name || `Customer ${c.id.slice(0, 8)}…`;
}

function signedOut(reason) {
  clearInterval(polling);
  open = null;
  seen.clear();
  $('d-messages').replaceChildren();
  $('d-work').hidden = true;
  $('d-login').hidden = false;
  $('d-logout').hidden = true;
  $('d-presence').textContent = reason || 'Not signed in';
}

async function getJson(path) {
  const res = await session.api(path);
  if (!res.ok) throw new Error(`${path} → ${res.status}`);
  return res.json();
}

function renderQueue(conversations) {
  const list = $('d-queue');
  // Re-rendered every poll: keep keyboard focus on the same conversation.
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset : null;
  const refocus = focused && { kind: focused.kind, id: focused.id };
  list.replaceChildren();
  let unread = 0;
  for (const c of conversations) {
    unread += c.unread;
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'd-item';
    b.dataset.kind = c.kind;
    b.dataset.id = c.id;
    const isOpen = open && open.kind === c.kind && open.id === c.id;
    if (isOpen) b.setAttribute('aria-current', 'true');
    const top = document.createElement('span');
    top.className = 'd-item-top';
    const name = document.createElement('strong');
    name.textContent = label(c);
    const when = document.createElement('time');
    when.textContent = clock(c.last.at);
    top.append(name, when);
    const last = document.createElement('span');
    last.className = 'd-item-last';
    last.textContent = `${CHANNEL_NAMES[c.last.channel] || c.last.channel}: ${c.last.text}`;
    const tags = document.createElement('span');
    tags.className = 'd-item-tags';
    const v = document.createElement('span');
    v.className = c.verified ? 'd-tag ok' : 'd-tag';
    v.textContent = c.kind === 'anonymous' ? 'Guest' : c.verified ? 'Verified' : 'Not verified';
    tags.append(v);
    if (c.unread > 0) {
      const u = document.createElement('span');
      u.className = 'd-unread';
      u.textContent = `${c.unread} unread`;
      tags.append(u);
    }
    b.append(top, last, tags);
    b.addEventListener('click', () => openConversation(c.kind, c.id, label(c)));
    li.append(b);
    list.append(li);
    if (refocus && refocus.kind === c.kind && refocus.id === c.id) b.focus();
  }
  $('d-queue-empty').hidden = conversations.length > 0;
  $('d-queue-count').textContent = unread > 0 ? `(${unread} unread)` : '';
}

function row(dl, term, value) {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value;
  dl.append(dt, dd);
}

function renderProfile(kind, id, p) {
  const box = $('d-profile-body');
  box.replaceChildren();
  const status = document.createElement('p');
  status.id = 'd-verified';
  status.className = p.verified ? 'd-status ok' : 'd-status bad';
  status.dataset.verified = String(p.verified);
  status.textContent = p.verified ? '✔ Verified customer' : '✖ Not verified';
  box.append(status);
  if (!p.verified) {
    const why = document.createElement('p');
    why.id = 'd-reason';
    why.className = 'd-reason';
    why.dataset.reason = p.reason;
    why.textContent = `${REASONS[p.reason] || 'The check failed.'} (${p.reason})`;
    box.append(why);
  }
  const dl = document.createElement('dl');
  dl.className = 'd-facts';
  if (p.verified) {
    row(dl, 'Name', p.profile.name);
    row(dl, 'Tier', p.profile.tier);
    row(dl, 'Customer since', p.profile.member_since);
  }
  row(dl, kind === 'anonymous' ? 'Guest id' : 'Customer id', id);
  if (p.checkedAt) row(dl, 'Checked', `${clock(p.checkedAt)}, while the customer was active`);
  box.append(dl);
  if (p.verified) {
    const h = document.createElement('h3');
    h.textContent = 'Recent orders';
    box.append(h);
    if (p.profile.orders.length === 0) {
      const none = document.createElement('p');
      none.className = 'd-sub';
      none.textContent = 'No orders.';
      box.append(none);
    } else {
      const table = document.createElement('table');
      table.className = 'd-orders';
      const head = table.createTHead().insertRow();
      for (const t of ['Order', 'Placed', 'Total', 'Status']) {
        const th = document.createElement('th');
        th.scope = 'col';
        th.textContent = t;
        head.append(th);
      }
      const tbody = table.createTBody();
      for (const o of p.profile.orders) {
        const r = tbody.insertRow();
        for (const v of [o.id, o.placed, o.total, o.status]) r.insertCell().textContent = v;
      }
      box.append(table);
    }
  }
}

async function loadConversation() {
  if (!open) return;
  const c = await getJson(`/desk/conversations/${open.kind}/${encodeURIComponent(open.id)}`);
  const channels = [...new Set(c.messages.map((m) => CHANNEL_NAMES[m.channel] || m.channel))];
  $('d-conv-sub').textContent = `${c.messages.length} message${c.messages.length === 1 ? '' : 's'} · channels: ${channels.join(', ')}`;
  syncMessages($('d-messages'), seen, c.messages);
  renderProfile(c.kind, c.id, c.profile);
}

async function openConversation(kind, id, name) {
  open = { kind, id };
  seen.clear();
  $('d-messages').replaceChildren();
  $('d-conv-title').textContent = name;
  $('d-reply').disabled = false;
  $('d-send').disabled = false;
  await loadConversation();
  await refreshQueue();
  $('d-reply').focus();
}

async function refreshQueue() {
  const q = await getJson('/desk/queue');
  $('d-presence').textContent = `Signed in as ${q.agent} · online: the auto-reply bot is paused`;
  renderQueue(q.conversations);
}

async function poll() {
  try {
    await loadConversation();
    await refreshQueue();
  } catch {
    // The next poll tries again; a lost session calls userLoginHandler.
  }
}

$('d-login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('d-login-error').textContent = '';
  $('d-login-button').disabled = true;
  try {
    await session.login($('d-username').value.trim(), $('d-password').value);
    $('d-password').value = '';
    $('d-login').hidden = true;
    $('d-work').hidden = false;
    $('d-logout').hidden = false;
    await refreshQueue();
    polling = setInterval(poll, POLL_MS);
    $('d-queue').querySelector('button')?.focus();
  } catch (err) {
    $('d-login-error').textContent = err.message;
  } finally {
    $('d-login-button').disabled = false;
  }
});

$('d-composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('d-reply');
  const text = input.value.trim();
  if (!text || !open) return;
  input.value = '';
  const res = await session.api(`/desk/conversations/${open.kind}/${encodeURIComponent(open.id)}/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ text, clientId: crypto.randomUUID() }),
  });
  if (!res.ok) input.value = text;
  await loadConversation();
  input.focus();
});

$('d-logout').addEventListener('click', async () => {
  await session.logout();
  signedOut('Signed out. The auto-reply bot answers customers while no representative is online.');
});

document.body.dataset.ready = 'true';

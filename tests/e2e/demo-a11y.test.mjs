// Accessibility of the demo pages (www/) against the real reference backend:
// axe-core's WCAG 2.1 AA rules (wcag2a, wcag2aa, wcag21a, wcag21aa) on every
// page in every state a visitor meets — a guest with no conversation, a guest
// with messages, a failed login, logged in with a conversation and a refreshed
// token, the session ended (auth lost, login required), logged out — with the
// strict CSP intact; the representatives' desk (signed out, sign-in failed,
// the queue, a conversation with a verified and with a not-verified customer,
// signed out again) and the messenger channel (the sign-in form, sign-in
// failed, signed in with messages, signed out), each with the focus ring of
// its sign-out button; and the chat from the keyboard alone: tab order, a
// visible focus ring on every stop, Enter to send, focus kept in the message
// field, new messages and state changes announced through live regions.
// Saves a screenshot of each checked state to target/artifacts/a11y-*.png.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, REPO_ROOT, requireBuild } from './harness.mjs';
import { axeViolations, formatViolations } from './support/axe.mjs';
import { startDemoServer } from './support/demo-server.mjs';
import { cspViolations, openDemoPage } from './support/demo-page.mjs';

const TTL_S = 5;
const ARTIFACTS = join(REPO_ROOT, 'target', 'artifacts');
const VIEWPORT = { width: 1280, height: 820 };

let browser;
let srv;

before(async () => {
  if (!process.env.CHAT_AUTH_E2E_PKG) requireBuild();
  srv = await startDemoServer({ tokenTtl: TTL_S });
  browser = await launchBrowser();
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  assert.equal(await srv?.close(), 0, 'the server stops cleanly on SIGTERM');
});

async function open(path = '') {
  const page = await openDemoPage(browser, srv.url + path);
  await page.setViewportSize(VIEWPORT);
  return page;
}

/**
 * Runs axe and the CSP detector on the page as it is now and saves a screenshot.
 * @returns {Promise<string[]>} one failure report per problem found (empty: the state passes)
 */
async function checkState(page, where) {
  const failures = [];
  const violations = await axeViolations(page);
  if (violations.length) failures.push(formatViolations(where, violations));
  const csp = await cspViolations(page);
  if (csp.length) failures.push(`${where}: CSP violations ${csp.join(', ')}`);
  const file = `a11y-${where
    .replace(/[^a-z0-9]+/gi, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase()}.png`;
  await page.screenshot({ path: join(ARTIFACTS, file) });
  return failures;
}

/** What Chromium's accessibility tree says about the element at `selector`: role, name, description, live. */
async function axNode(page, selector) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { root } = await cdp.send('DOM.getDocument');
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    const { nodes } = await cdp.send('Accessibility.getPartialAXTree', { nodeId, fetchRelatives: false });
    const prop = (name) => nodes[0].properties?.find((p) => p.name === name)?.value.value;
    return { role: nodes[0].role?.value, name: nodes[0].name?.value, description: nodes[0].description?.value, live: prop('live') };
  } finally {
    await cdp.detach();
  }
}

/** Failure reports for each property of the accessibility node at `selector` that is not as wanted (a string or a RegExp). */
async function axMismatches(page, selector, want) {
  const got = await axNode(page, selector);
  return Object.entries(want)
    .filter(([k, v]) => (v instanceof RegExp ? !v.test(got[k] ?? '') : got[k] !== v))
    .map(([k, v]) => `${selector}: accessible ${k} is ${JSON.stringify(got[k])}, expected ${v}`);
}

/** A failure report when the state-change live region has not said `text`. */
async function notAnnounced(page, text) {
  const said = await page.textContent('#status-live');
  return said.includes(text) ? [] : [`#status-live did not announce "${text}" (it holds "${said}")`];
}

const authState = (page) => page.evaluate(() => window.chatAuth.state);
const hasText = (page, selector, text) =>
  page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent.includes(t), [selector, text], { timeout: 20_000 });

const visitorBubble = (page, text) => page.waitForFunction((t) => [...document.querySelectorAll('.bubble.visitor p')].some((p) => p.textContent === t), text);

async function sendByEnter(page, text) {
  await page.fill('#message', text);
  await page.press('#message', 'Enter');
  await visitorBubble(page, text);
}

async function submitLogin(page, user, password) {
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.press('#password', 'Enter');
}

/** The states before login, on any page: a guest without and with messages, then a failed login. */
async function guestStates(page, check, user) {
  await check('guest, empty conversation');
  await sendByEnter(page, 'Hi, my parcel has not arrived');
  await page.waitForSelector('.bubble.agent');
  await check('guest, conversation with messages');
  await submitLogin(page, user, 'not the password');
  await page.waitForFunction(() => document.querySelector('#login-error').textContent.trim() !== '');
  await check('login failed');
}

test('the chat page has no WCAG 2.1 AA violation in any state a visitor meets', async () => {
  const page = await open();
  const failures = [];
  const check = async (state) => failures.push(...(await checkState(page, `index ${state}`)));
  const expectAx = async (selector, want) => failures.push(...(await axMismatches(page, selector, want)));

  await guestStates(page, check, 'alice');
  await expectAx('#timeline', { role: 'image', name: 'Token timeline', description: 'No access token: log in to start a session.' });
  await expectAx('#chat-live', { role: 'log', live: 'polite' }); // new messages
  await expectAx('#status-live', { role: 'status', live: 'polite' }); // state changes

  await submitLogin(page, 'alice', 'wonderland');
  await page.waitForSelector('#user-view:not([hidden])');
  await page.waitForFunction(() => [...document.querySelectorAll('#events li b')].some((b) => b.textContent === 'refreshed'), null, {
    timeout: (TTL_S + 5) * 1000,
  });
  assert.match(await authState(page), /^(authenticated|refreshing)$/);
  await check('logged in, conversation with messages, token refreshed');
  await expectAx('#timeline', {
    description:
      // The timeline redraws on its own tick: right after `refreshed` it may still show one token.
      /^(One access token on the timeline\.|\d+ access tokens on the timeline, \d+ of them replaced before they expired\.) The current one was issued (now|\d+ s ago), (its refresh is scheduled (now|in \d+ s)|it is being refreshed), and it expires (now|in \d+ s)\.$/,
  });

  // Auth lost: a replayed refresh token revokes the session; the page asks to log in again.
  await page.focus('#replay');
  await page.keyboard.press('Enter');
  // The button disables itself: focus goes to the event log that shows the outcome, not to <body>.
  await focusIs(page, 'events');
  await page.waitForFunction(() => window.chatAuth.state === 'expired', null, { timeout: 20_000 });
  await page.waitForSelector('#login-view:not([hidden]) #login-reason.notice');
  await check('session ended, login required');
  await expectAx('#timeline', { description: /the session was lost (now|\d+ s ago) and no new token came\.$/ });
  failures.push(...(await notAnnounced(page, 'Your session ended. Please log in again.')));

  await submitLogin(page, 'alice', 'wonderland');
  await page.waitForSelector('#user-view:not([hidden])');
  await page.click('#logout');
  await page.waitForFunction(() => window.chatAuth.state === 'logged_out');
  await page.waitForSelector('#login-view:not([hidden])');
  await check('logged out');

  assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
  await page.context().close();
});

test('the ASAPP-style page has no WCAG 2.1 AA violation in any state a visitor meets', async () => {
  const page = await open('asapp.html');
  const failures = [];
  const check = async (state) => failures.push(...(await checkState(page, `asapp ${state}`)));
  const isAuthenticated = () => page.evaluate(() => window.ASAPP('getState').isAuthenticated);

  await guestStates(page, check, 'bob');

  await submitLogin(page, 'bob', 'builder');
  await page.waitForSelector('#user-view:not([hidden])');
  assert.equal(await isAuthenticated(), true);
  await check('logged in, conversation with messages');

  // Auth lost: the session is revoked on the server (as a logout elsewhere
  // would); the page's ContextProvider cannot refresh and asks to log in again.
  await page.evaluate(() => window.ASAPP('getChatAuth').fetch(`${location.origin}/auth/logout`, { method: 'POST' }));
  await page.waitForSelector('#login-view:not([hidden]) #login-reason.notice', { timeout: (TTL_S + 10) * 1000 });
  await check('session ended, login required');
  failures.push(...(await notAnnounced(page, 'Your session ended. Please log in again.')));

  await submitLogin(page, 'bob', 'builder');
  await page.waitForSelector('#user-view:not([hidden])');
  await page.click('#logout');
  // Logging out answers at once: nothing still waits on the provider call of the session that ended.
  await page.waitForSelector('#login-view:not([hidden])', { timeout: 5000 });
  await page.waitForFunction(() => !window.ASAPP('getState').isAuthenticated);
  await check('logged out');

  assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
  await page.context().close();
});

test('the axe check reports a missing label and low contrast with rule, impact and selector', async () => {
  const page = await open();
  // Regressions put in through the DOM and the CSSOM, which the CSP allows.
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.id = 'unlabelled';
    document.querySelector('#composer').append(input);
    document.querySelector('#chat-who').style.color = '#b4b9c4';
  });
  const report = formatViolations('regression', await axeViolations(page));
  assert.match(report, /^ {2}label \(critical\): /m);
  assert.match(report, /^ {4}#unlabelled {2}— /m);
  assert.match(report, /^ {2}color-contrast \(serious\): /m);
  assert.match(report, /^ {4}#chat-who {2}— .*contrast/m);
  assert.deepEqual(await cspViolations(page), [], 'injecting axe-core breaks no CSP rule');
  await page.context().close();
});

// ---- keyboard only: no page.click, no page.fill from here on ----------------

/**
 * The focused element (its id, or tag and text) and whether it shows a focus
 * ring: the browser's own (`outline-style: auto`), or an outline of at least
 * 2 px with at least 3:1 contrast against the background it is drawn on.
 */
const focused = (page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    const rgb = (c) => c.match(/[\d.]+/g).map(Number);
    const luminance = (c) => {
      const [r, g, b] = rgb(c)
        .map((v) => v / 255)
        .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    // An outline drawn outside the box sits on the parent's background, one drawn inside on the element's.
    let under = parseFloat(style.outlineOffset) < 0 ? el : el.parentElement;
    while (under && (rgb(getComputedStyle(under).backgroundColor)[3] ?? 1) === 0) under = under.parentElement;
    const bg = under ? getComputedStyle(under).backgroundColor : 'rgb(255, 255, 255)';
    const [hi, lo] = [luminance(style.outlineColor), luminance(bg)].sort((x, y) => y - x);
    const contrast = (hi + 0.05) / (lo + 0.05);
    const own = style.outlineStyle !== 'none' && style.outlineStyle !== 'auto' && parseFloat(style.outlineWidth) >= 2 && contrast >= 3;
    const tag = el.tagName.toLowerCase();
    const name = el.id ? `#${el.id}` : el === document.body ? 'body' : `${tag} ${el.textContent.trim().slice(0, 40)}`;
    return { name, ring: style.outlineStyle === 'auto' || own };
  });

/** Presses Tab `count` times and returns each stop's name; every stop must show its focus ring. */
async function tabStops(page, count) {
  const stops = [];
  for (let i = 0; i < count; i++) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    assert.ok(f.ring, `${f.name} has focus but no visible focus ring`);
    stops.push(f.name);
  }
  return stops;
}

/** Tabs forward until `name` has focus (at most 15 stops). */
async function tabTo(page, name) {
  for (let i = 0; i < 15; i++) {
    if ((await focused(page)).name === name) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`Tab never reached ${name}`);
}

/** Waits (5 s at most) for `#id` to have focus; fails naming where focus is instead. */
async function focusIs(page, id) {
  try {
    await page.waitForFunction((i) => document.activeElement?.id === i, id, { timeout: 5000 });
  } catch {
    assert.fail(`focus is on ${(await focused(page)).name}, expected #${id}`);
  }
}

/** Marks what the live region has said so far, to tell later announcements apart. */
const markHeard = (page) => page.$$eval('#chat-live p', (ps) => ps.forEach((p) => (p.dataset.heard = 'yes')));

/**
 * Types a message and sends it with Enter; focus stays in the field, which is
 * emptied, and Ava's answer (not the visitor's own words) is announced.
 */
async function typeAndSend(page, text) {
  await markHeard(page);
  await tabTo(page, '#message');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
  await visitorBubble(page, text);
  assert.equal((await focused(page)).name, '#message', 'focus stays in the message field after sending');
  assert.equal(await page.inputValue('#message'), '');
  await page.waitForSelector('#chat-live p:not([data-heard])', { state: 'attached' });
  const said = await page.$$eval('#chat-live p:not([data-heard])', (ps) => ps.map((p) => p.textContent));
  assert.ok(said.length > 0 && said.every((t) => /^Ava: ./.test(t)), `only Ava's answer is announced, with her name: ${JSON.stringify(said)}`);
}

async function typeLogin(page, user, password) {
  await tabTo(page, '#username');
  await page.keyboard.type(user);
  await page.keyboard.press('Tab');
  assert.equal((await focused(page)).name, '#password');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
}

test('keyboard only: the chat page logs in, chats and logs out without a mouse', async () => {
  const page = await open();
  const nav = ['a Northwind Support', 'a Chat demo', 'a ASAPP-style page', 'a Messenger', 'a Representative desk'];
  assert.deepEqual(await tabStops(page, 13), [...nav, '#messages', '#message', '#send', '#username', '#password', '#login', '#dpop-switch', '#events']);

  await typeAndSend(page, 'Hello from the keyboard');
  // The next poll (every 2 s) brings nothing new, so nothing is read out again.
  await markHeard(page);
  await page.waitForTimeout(2500);
  assert.deepEqual(await page.$$eval('#chat-live p:not([data-heard])', (ps) => ps.map((p) => p.textContent)), [], 'a poll re-announced messages');

  await typeLogin(page, 'alice', 'wonderland');
  await page.waitForFunction(() => window.chatAuth.state === 'authenticated');
  await focusIs(page, 'message'); // the login form is gone: focus goes on to the chat
  await hasText(page, '#status-live', 'Logged in as Alice');

  await typeAndSend(page, 'Now I am logged in');
  await page.keyboard.press('Shift+Tab'); // #messages
  await page.keyboard.press('Shift+Tab'); // the last nav link
  assert.deepEqual(await tabStops(page, 6), ['#messages', '#message', '#send', '#logout', '#dpop-switch', '#replay']);

  await tabTo(page, '#logout');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.chatAuth.state === 'logged_out');
  await focusIs(page, 'username');
  await hasText(page, '#status-live', 'Logged out');
  assert.deepEqual(await cspViolations(page), []);
  await page.context().close();
});

test('keyboard only: the ASAPP-style page logs in and chats without a mouse', async () => {
  const page = await open('asapp.html');
  const nav = ['a Northwind Support', 'a Chat demo', 'a ASAPP-style page'];
  assert.deepEqual(await tabStops(page, 9), [...nav, '#username', '#password', '#login', '#messages', '#message', '#send']);

  await typeLogin(page, 'carol', 'singing');
  await page.waitForFunction(() => window.ASAPP('getState').isAuthenticated);
  await focusIs(page, 'message');
  await hasText(page, '#status-live', 'Logged in as Carol');

  await typeAndSend(page, 'Keyboard only on the ASAPP page');
  await typeAndSend(page, 'And a second message');
  assert.deepEqual(await cspViolations(page), []);
  await page.context().close();
});

/** A customer's message through the API (as the widget sends it), with the customer id the SDK would send. */
async function customerSays(user, password, text, customerId) {
  const login = await (
    await fetch(`${srv.origin}/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: user, password }),
    })
  ).json();
  const res = await fetch(`${srv.origin}/api/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${login.access_token}`, 'Chat-Customer-Id': customerId ?? login.customer_id },
    body: JSON.stringify({ text }),
  });
  assert.equal(res.status, 201);
  return login.customer_id;
}

/**
 * The sign-in states of the desk and the messenger (form ids `#<prefix>username`,
 * `#<prefix>password`, `#<prefix>login-error`): the empty form, a failed sign-in,
 * then the sign-in with the right password.
 */
async function signInStates(page, check, prefix, user, password) {
  const submit = async (pw) => {
    await page.fill(`#${prefix}username`, user);
    await page.fill(`#${prefix}password`, pw);
    await page.press(`#${prefix}password`, 'Enter');
  };
  await check('signed out, sign-in form');
  await submit('not the password');
  await page.waitForFunction((s) => document.querySelector(s).textContent.trim() !== '', `#${prefix}login-error`);
  await check('sign-in failed');
  await submit(password);
}

/** A failure report unless `name` has focus and shows its focus ring. */
async function noFocusRing(page, name) {
  const f = await focused(page);
  if (f.name !== name) return [`focus is on ${f.name}, expected ${name}`];
  return f.ring ? [] : [`${name} has focus but no visible focus ring (at least 3:1 against the background it is drawn on)`];
}

// ---- the desk and the messenger channel ----------------------------------
// Last in the file: a representative signed in at the desk pauses the bot for
// 30 s, and the keyboard tests above wait for the bot's answer.

test('the representative desk has no WCAG 2.1 AA violation in any state a representative meets', async () => {
  // Two customers waiting: Carol, verified; and Bob's token naming Alice's customer id, not verified.
  const carol = await customerSays('carol', 'singing', 'Where is my refund for NW-1077?');
  const alice = await customerSays('alice', 'wonderland', 'Hello');
  const bob = await customerSays('bob', 'builder', 'Show me the orders on this account', alice);

  const page = await open('agent.html');
  const failures = [];
  const check = async (state) => failures.push(...(await checkState(page, `desk ${state}`)));

  await signInStates(page, check, 'd-', 'ava', 'helpdesk');
  await page.waitForSelector(`.d-item[data-id="${carol}"]`);
  await page.waitForSelector(`.d-item[data-id="${bob}"]`);
  await check('signed in, queue with conversations');
  // Focus is on the first conversation; the sign-out button before it shows its ring on the dark header.
  await page.keyboard.press('Shift+Tab');
  failures.push(...(await noFocusRing(page, '#d-logout')));

  await page.click(`.d-item[data-id="${carol}"]`);
  await page.waitForSelector('#d-verified[data-verified="true"]');
  await page.fill('#d-reply', 'Hello Carol, the refund is on its way.');
  await page.press('#d-reply', 'Enter');
  await page.waitForSelector('#d-messages .msg.agent');
  await check('conversation open with messages, verified customer');

  await page.click(`.d-item[data-id="${bob}"]`);
  await page.waitForSelector('#d-verified[data-verified="false"]');
  await check('conversation open, customer not verified');

  await page.click('#d-logout');
  await page.waitForSelector('#d-login:not([hidden])');
  await check('signed out again');

  assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
  await page.context().close();
});

test('the messenger channel has no WCAG 2.1 AA violation in any state a customer meets', async () => {
  const page = await open('messenger.html');
  await page.setViewportSize({ width: 520, height: 820 });
  const failures = [];
  const check = async (state) => failures.push(...(await checkState(page, `messenger ${state}`)));

  await signInStates(page, check, 'm-', 'alice', 'wonderland');
  await page.waitForSelector('#m-chat:not([hidden])');
  await page.fill('#m-message', 'Can you leave it with my neighbour?');
  await page.press('#m-message', 'Enter');
  await page.waitForFunction(() => [...document.querySelectorAll('#m-messages .msg.visitor')].some((m) => m.textContent.includes('neighbour')));
  await check('signed in, conversation with messages');
  // Back from the message field (past the scrolling message list) to the sign-out button on the dark header: its ring must show there.
  await page.focus('#m-message');
  for (let i = 0; i < 4 && (await focused(page)).name !== '#m-logout'; i++) await page.keyboard.press('Shift+Tab');
  failures.push(...(await noFocusRing(page, '#m-logout')));

  await page.keyboard.press('Enter');
  await page.waitForSelector('#m-login:not([hidden])');
  await check('signed out');

  assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
  await page.context().close();
});

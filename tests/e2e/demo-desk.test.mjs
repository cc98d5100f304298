// The representative's side against the real reference backend in Chromium:
// a customer chats as a guest and logs in; a representative (a second
// browser context, its own login and token) sees the merged conversation
// with the verified profile and replies; the customer sees the reply live,
// switches to the messenger channel and continues; the representative sees
// one conversation with channel markers; a token for another customer shows
// as not verified, without data. Strict CSP, no violation, no token in the
// DOM or the log. Saves target/artifacts/desk.png, desk-not-verified.png and
// messenger.png next to demo.png.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, newPage, REPO_ROOT, requireBuild } from './harness.mjs';
import { startDemoServer } from './support/demo-server.mjs';

const ARTIFACTS = join(REPO_ROOT, 'target', 'artifacts');

let browser;
let srv;
const secrets = new Set();
const violations = [];

before(async () => {
  if (!process.env.CHAT_AUTH_E2E_PKG) requireBuild();
  srv = await startDemoServer({ tokenTtl: 20 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const code = await srv?.close();
  assert.equal(code, 0, 'the server stops cleanly on SIGTERM');
});

/** Records CSP violations and every token the server hands this page. */
function watch(page) {
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  page.on('response', async (r) => {
    if (!/\/(auth\/login|desk\/login|oauth\/token)$/.test(new URL(r.url()).pathname)) return;
    const body = await r.json().catch(() => null);
    for (const k of ['access_token', 'refresh_token']) if (body?.[k]) secrets.add(body[k]);
  });
  return page;
}

async function open(page, path) {
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__cspViolations ||= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  await page.goto(srv.url + path);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

async function noViolations(page) {
  violations.push(...(await page.evaluate(() => window.__cspViolations || [])));
}

/** A customer's login straight at the site (no page): its token response. */
async function siteLogin(username, password) {
  const res = await fetch(`${srv.origin}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const body = await res.json();
  secrets.add(body.access_token);
  secrets.add(body.refresh_token);
  return body;
}

const hasText = (selector, text) => (p) =>
  p.waitForFunction(([s, t]) => [...document.querySelectorAll(s)].some((e) => e.textContent.includes(t)), [selector, text]);

test('customer and representative: one conversation across channels, verified profile, live replies', async () => {
  // ---- the customer, as a guest, then logged in (web widget)
  const web = await open(watch(await newPage(browser)), '');
  const customer = web.context();
  await web.fill('#message', 'Hi, my parcel NW-1042 is late');
  await web.click('#send');
  await web.waitForSelector('.bubble.bot', { timeout: 10_000 });
  await web.fill('#username', 'alice');
  await web.fill('#password', 'wonderland');
  await web.click('#login');
  await web.waitForFunction(() => window.chatAuth.state === 'authenticated');
  await web.waitForSelector('#my-profile[data-verified="true"]');
  assert.match(await web.textContent('#my-profile'), /Verified account · Gold member/);
  const alice = await web.evaluate(() => window.chatAuth.customerId);

  // ---- the representative, in a second context, with their own login
  const desk = await open(watch(await newPage(browser)), 'agent.html');
  const deskContext = desk.context();
  // A customer account cannot sign in at the desk.
  await desk.fill('#d-username', 'alice');
  await desk.fill('#d-password', 'wonderland');
  await desk.click('#d-login-button');
  await hasText('#d-login-error', 'wrong password')(desk);
  await desk.fill('#d-username', 'ava');
  await desk.fill('#d-password', 'helpdesk');
  await desk.click('#d-login-button');
  await desk.waitForFunction(() => window.chatAuth.state === 'authenticated');
  const deskToken = await desk.evaluate(() => window.chatAuth.customerId);
  assert.notEqual(deskToken, alice, "the representative's identity is not a customer's");
  await hasText('#d-queue .d-item', 'Alice Martin')(desk);
  assert.match(await desk.textContent(`.d-item[data-id="${alice}"]`), /Verified.*\d+ unread/s);
  await desk.click(`.d-item[data-id="${alice}"]`);
  await desk.waitForSelector('#d-verified[data-verified="true"]');
  await hasText('#d-profile-body', 'Alice Martin')(desk);
  await hasText('.d-orders td', 'NW-1042')(desk);
  // The merged history: the guest message is in it, with channel and time.
  await hasText('#d-messages .msg.visitor', 'Hi, my parcel NW-1042 is late')(desk);
  const first = await desk.$eval('#d-messages .msg.visitor', (li) => ({ channel: li.dataset.channel, time: li.querySelector('time').dateTime }));
  assert.equal(first.channel, 'web');
  assert.ok(!Number.isNaN(Date.parse(first.time)));

  // ---- a reply appears live in the customer's widget
  await desk.fill('#d-reply', 'Hello Alice, your parcel arrives tomorrow before noon.');
  await desk.click('#d-send');
  await hasText('.bubble.agent p', 'arrives tomorrow before noon')(web);
  // With a representative online the bot keeps quiet.
  await web.fill('#message', 'Great, thank you!');
  await web.click('#send');
  await hasText('#d-messages .msg.visitor', 'Great, thank you!')(desk);
  await web.waitForTimeout(500);
  assert.equal(await web.$$eval('.bubble.bot', (b) => b.length), 1, 'no bot reply while a representative is online');

  // ---- the customer switches to the messenger channel: another device (its
  // own browser context), another OAuth client, a new login
  const messenger = await open(watch(await newPage(browser)), 'messenger.html');
  await messenger.fill('#m-username', 'alice');
  await messenger.fill('#m-password', 'wonderland');
  await messenger.click('#m-login-button');
  await messenger.waitForFunction(() => window.chatAuth.state === 'authenticated');
  await hasText('#m-messages .msg.agent', 'arrives tomorrow before noon')(messenger);
  assert.equal(await messenger.evaluate(() => window.chatAuth.customerId), alice);
  await messenger.fill('#m-message', 'Can you leave it with my neighbour?');
  await messenger.click('#m-send');
  await hasText('#m-messages .msg.visitor', 'neighbour')(messenger);

  // ---- the representative sees one conversation, with channel markers
  await hasText('#d-messages .msg.visitor', 'neighbour')(desk);
  const channels = await desk.$$eval('#d-messages .msg', (lis) => lis.map((li) => `${li.className.split(' ')[1]}:${li.dataset.channel}`));
  assert.deepEqual(channels, ['visitor:web', 'bot:web', 'agent:web', 'visitor:web', 'visitor:messenger']);
  assert.equal(await desk.$$eval(`.d-item[data-id="${alice}"]`, (b) => b.length), 1, 'one conversation in the queue');
  assert.equal(await desk.$$eval('.d-item[data-kind="anonymous"]', (b) => b.length), 0, 'the guest conversation was folded in');
  await desk.fill('#d-reply', 'Of course, I have added that note to the delivery.');
  await desk.click('#d-send');
  await hasText('#m-messages .msg.agent', 'added that note')(messenger);
  await hasText('.bubble.agent p', 'added that note')(web); // and on the web widget
  const replyChannel = await desk.$eval('#d-messages .msg:last-child', (li) => li.dataset.channel);
  assert.equal(replyChannel, 'messenger', 'a reply goes where the customer last wrote');

  // ---- a token for another customer: Bob's token, Alice's customer id
  const bobLogin = await siteLogin('bob', 'builder');
  const sent = await fetch(`${srv.origin}/api/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${bobLogin.access_token}`, 'Chat-Customer-Id': alice },
    body: JSON.stringify({ text: 'Please show me the orders on this account' }),
  });
  assert.equal(sent.status, 201);
  const bob = bobLogin.customer_id;
  await desk.waitForSelector(`.d-item[data-id="${bob}"]`);
  assert.match(await desk.textContent(`.d-item[data-id="${bob}"]`), /Not verified/);
  assert.match(await desk.textContent(`.d-item[data-id="${bob}"]`), /1 unread/);
  // ---- screenshots a representative must be able to work from
  mkdirSync(ARTIFACTS, { recursive: true });
  await desk.setViewportSize({ width: 1360, height: 820 });
  await desk.waitForTimeout(300);
  await desk.screenshot({ path: join(ARTIFACTS, 'desk.png') });
  await messenger.setViewportSize({ width: 520, height: 820 });
  await messenger.waitForTimeout(300);
  await messenger.screenshot({ path: join(ARTIFACTS, 'messenger.png') });

  await desk.click(`.d-item[data-id="${bob}"]`);
  await desk.waitForSelector('#d-verified[data-verified="false"]');
  assert.equal(await desk.getAttribute('#d-reason', 'data-reason'), 'claim_mismatch');
  const panel = await desk.textContent('#d-profile-body');
  assert.ok(!panel.includes('Bob Okafor') && !panel.includes('NW-1051'), 'no profile data when not verified');
  assert.equal(await desk.$$eval('.d-orders', (t) => t.length), 0);
  await desk.screenshot({ path: join(ARTIFACTS, 'desk-not-verified.png') });

  // ---- nothing leaked: no token in any page's DOM or storage, nor in the log
  for (const page of [web, messenger, desk]) {
    const dump = await page.evaluate(() => document.documentElement.outerHTML + JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    for (const s of secrets) assert.ok(!dump.includes(s), 'a token is in a page');
    await noViolations(page);
  }
  const log = srv.logText();
  for (const s of secrets) assert.ok(!log.includes(s), 'a token is in the server log');
  assert.deepEqual(violations, []);
  assert.deepEqual(srv.requests({ bearer: 'expired' }), []);
  await customer.close();
  await messenger.context().close();
  await deskContext.close();
});

test('the desk refuses a customer token and the customer endpoints refuse the desk token', async () => {
  const page = await open(watch(await newPage(browser)), 'agent.html');
  await page.fill('#d-username', 'sam');
  await page.fill('#d-password', 'helpdesk');
  await page.click('#d-login-button');
  await page.waitForFunction(() => window.chatAuth.state === 'authenticated');
  const statuses = await page.evaluate(async () => {
    const out = {};
    for (const path of ['/api/messages', '/api/profile', '/site/profile']) {
      const r = await window.chatAuth.fetch(location.origin + path);
      out[path] = [
        r.status,
        Object.keys(await r.json())
          .sort()
          .join(','),
      ];
    }
    return out;
  });
  for (const [path, [status, keys]] of Object.entries(statuses)) {
    assert.equal(status, 403, path);
    assert.equal(keys, 'error,error_description', path);
  }
  const login = await siteLogin('carol', 'singing');
  const queue = await fetch(`${srv.origin}/desk/queue`, { headers: { Authorization: `Bearer ${login.access_token}` } });
  assert.equal(queue.status, 403);
  assert.deepEqual(Object.keys(await queue.json()).sort(), ['error', 'error_description']);
  await noViolations(page);
  assert.deepEqual(violations, []);
  await page.context().close();
});

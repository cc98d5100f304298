// A demo page (www/, served by the reference backend) in its own browser
// context, with a Content-Security-Policy violation detector installed before
// any page script runs.
//
//   const page = await openDemoPage(browser, srv.url + 'asapp.html', { prepare: (p) => p.on('response', …) });
//   assert.deepEqual(await cspViolations(page), []);
import { newPage } from '../harness.mjs';

/**
 * Opens `url` and waits for the page's `body[data-ready="true"]`.
 * `prepare(page)` runs before navigation (to attach listeners).
 */
export async function openDemoPage(browser, url, { prepare } = {}) {
  const page = await newPage(browser);
  page.cspConsole = [];
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__cspViolations ||= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) page.cspConsole.push(m.text());
  });
  await prepare?.(page);
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

/** Every CSP violation the page reported so far (events and console messages). */
export async function cspViolations(page) {
  const events = await page.evaluate(() => window.__cspViolations || []);
  return [...events, ...page.cspConsole];
}

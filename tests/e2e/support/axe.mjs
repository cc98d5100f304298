// axe-core (the npm devDependency) in a page, for the WCAG 2.1 AA checks.
//
//   const violations = await axeViolations(page);   // [] when the page passes
//   assert.fail(formatViolations('index, logged in', violations));
//
// axe's source goes in through page.evaluate, i.e. the DevTools protocol,
// which the page's Content-Security-Policy does not govern: an inline
// <script> tag (page.addScriptTag) would be refused by `script-src 'self'`,
// and the CSP stays as strict as it is for customers.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** WCAG 2.0 A and AA, and 2.1 A and AA: the rules of WCAG 2.1 level AA. */
export const WCAG21_AA_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/**
 * Runs axe on the whole document with the WCAG 2.1 AA rules.
 * @returns {Promise<Array<{ id: string, impact: string, help: string, nodes: Array<{ target: string, summary: string }> }>>}
 */
export async function axeViolations(page, tags = WCAG21_AA_TAGS) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (runOnly) => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: runOnly }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.flat().join(' '), summary: n.failureSummary ?? '' })),
    }));
  }, tags);
}

/** One line per rule (id, impact, help) and one per failing node (selector, what is wrong). */
export function formatViolations(where, violations) {
  const lines = [`${where}: ${violations.length} axe-core WCAG 2.1 AA violation(s)`];
  for (const v of violations) {
    lines.push(`  ${v.id} (${v.impact}): ${v.help}`);
    for (const n of v.nodes) lines.push(`    ${n.target}  — ${n.summary.replace(/\s*\n\s*/g, ' ')}`);
  }
  return lines.join('\n');
}

// A live SVG timeline of access tokens: one bar per token from issue to
// expiry, a tick where the refresh is scheduled, a dot where the next token
// arrived, and a moving "now" line. Drawn with SVG attributes and CSS
// classes only (the page's CSP blocks inline styles). The picture's text
// alternative is `summary`: the same facts in words, for screen readers
// (the <svg> is role="img" and points at it with aria-describedby).
const NS = 'http://www.w3.org/2000/svg';
const W = 360; // the <svg>'s viewBox width (index.html: viewBox="0 0 360 96")
const LANES = [18, 42];
const BAR = 16;
const AXIS_Y = 76;

function el(name, attrs, cls) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (cls) e.setAttribute('class', cls);
  return e;
}

/** "in 4 s" / "2 s ago" / "now", whole seconds. */
function relative(t, now) {
  const s = Math.round((t - now) / 1000);
  if (s === 0) return 'now';
  return s > 0 ? `in ${s} s` : `${-s} s ago`;
}

/** What the timeline shows, in words. */
export function describeTokens(tokens, now) {
  if (tokens.length === 0) return 'No access token: log in to start a session.';
  const cur = tokens[tokens.length - 1];
  const replaced = tokens.filter((t) => t.refreshedAt && t.refreshedAt < t.expiresAt).length;
  const count =
    tokens.length === 1
      ? 'One access token on the timeline.'
      : `${tokens.length} access tokens on the timeline, ${replaced} of them replaced before they expired.`;
  const issued = `The current one was issued ${relative(cur.issuedAt, now)}`;
  if (cur.lostAt) return `${count} ${issued}; the session was lost ${relative(cur.lostAt, now)} and no new token came.`;
  if (now >= cur.expiresAt) return `${count} ${issued} and expired ${relative(cur.expiresAt, now)}.`;
  const refresh = cur.scheduledAt > now ? `its refresh is scheduled ${relative(cur.scheduledAt, now)}` : 'it is being refreshed';
  return `${count} ${issued}, ${refresh}, and it expires ${relative(cur.expiresAt, now)}.`;
}

/**
 * @param {SVGSVGElement} svg the picture
 * @param {HTMLElement} [summary] gets the text alternative on every draw
 */
export function createTimeline(svg, summary) {
  /** { issuedAt, expiresAt, scheduledAt, refreshedAt, lostAt } */
  let tokens = [];

  const api = {
    /** `refreshAt`: the SDK's `auth.refreshAt` (null: no refresh planned, the tick sits at expiry). */
    issued(now, expiresAt, refreshAt) {
      tokens = [{ issuedAt: now, expiresAt, scheduledAt: refreshAt ?? expiresAt }];
    },
    refreshed(now, expiresAt, refreshAt) {
      const last = tokens[tokens.length - 1];
      if (last && !last.refreshedAt) last.refreshedAt = now;
      tokens.push({ issuedAt: now, expiresAt, scheduledAt: refreshAt ?? expiresAt });
      tokens = tokens.slice(-8);
    },
    lost(now) {
      const last = tokens[tokens.length - 1];
      if (last) last.lostAt = now;
    },
    clear() {
      tokens = [];
    },
    draw(now) {
      const lifetime = tokens.length ? tokens[tokens.length - 1].expiresAt - tokens[tokens.length - 1].issuedAt : 60_000;
      const span = Math.max(3.2 * lifetime, 15_000);
      const start = now - span * 0.68;
      const x = (t) => ((t - start) / span) * W;
      const clampX = (t) => Math.max(0, Math.min(W, x(t)));
      const parts = [];

      parts.push(el('line', { x1: 0, y1: AXIS_Y, x2: W, y2: AXIS_Y }, 'axis'));
      const step = niceStep(span / 5);
      for (let t = Math.ceil(start / step) * step; t < start + span; t += step) {
        const tx = x(t);
        parts.push(el('line', { x1: tx, y1: AXIS_Y, x2: tx, y2: AXIS_Y + 4 }, 'tick'));
        const label = el('text', { x: tx, y: AXIS_Y + 15, 'text-anchor': 'middle' }, 'tick-label');
        const rel = Math.round((t - now) / 1000);
        label.textContent = rel === 0 ? '0 s' : `${rel > 0 ? '+' : ''}${rel} s`;
        parts.push(label);
      }

      if (tokens.length === 0) {
        const t = el('text', { x: W / 2, y: 38, 'text-anchor': 'middle' }, 'empty-label');
        t.textContent = 'No token — log in to start a session';
        parts.push(t);
      }

      tokens.forEach((tok, i) => {
        const y = LANES[i % 2];
        const end = tok.lostAt ?? tok.expiresAt;
        if (x(end) < 0 || x(tok.issuedAt) > W) return;
        const x1 = clampX(tok.issuedAt);
        const x2 = clampX(end);
        const live = now < tok.expiresAt && !tok.lostAt;
        parts.push(el('rect', { x: x1, y, width: Math.max(1, x2 - x1), height: BAR, rx: 4 }, live ? 'bar live' : 'bar'));
        if (tok.scheduledAt > tok.issuedAt) {
          const sx = x(tok.scheduledAt);
          if (sx >= 0 && sx <= W) parts.push(el('line', { x1: sx, y1: y - 3, x2: sx, y2: y + BAR + 3 }, 'mark scheduled'));
        }
        if (x(tok.issuedAt) >= 0) parts.push(el('circle', { cx: x(tok.issuedAt), cy: y + BAR / 2, r: 3.5 }, 'mark issued'));
        if (tok.refreshedAt) parts.push(el('circle', { cx: x(tok.refreshedAt), cy: y + BAR / 2, r: 3.5 }, 'mark refreshed'));
        const ex = x(tok.expiresAt);
        if (ex >= 0 && ex <= W) parts.push(el('line', { x1: ex, y1: y - 3, x2: ex, y2: y + BAR + 3 }, 'mark expiry'));
      });

      const nx = x(now);
      parts.push(el('line', { x1: nx, y1: 6, x2: nx, y2: AXIS_Y }, 'now'));
      const nl = el('text', { x: nx, y: 5, 'text-anchor': 'middle' }, 'now-label');
      nl.textContent = 'now';
      parts.push(nl);
      svg.replaceChildren(...parts);
      if (summary) {
        const text = describeTokens(tokens, now);
        if (summary.textContent !== text) summary.textContent = text;
      }
    },
  };
  return api;
}

function niceStep(raw) {
  for (const s of [1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000]) {
    if (s >= raw) return s;
  }
  return 1_800_000;
}

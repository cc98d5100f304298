// Screen-reader announcements through live regions that are in the page from
// the start (a region inserted together with its text is often not read).
// Each `say` adds a new node, so the same words said twice are read twice;
// only the last `keep` nodes stay, so the hidden region never grows.

/**
 * @param {HTMLElement} region a visually hidden element with `role="status"` (keep 1:
 *   the latest state replaces the previous one) or `role="log"` (keep a few, read in order)
 * @param {number} keep how many announcements stay in the region
 */
export function createAnnouncer(region, keep = 1) {
  return {
    say(text) {
      const p = document.createElement('p');
      p.textContent = text;
      region.append(p);
      while (region.children.length > keep) region.firstElementChild.remove();
    },
  };
}

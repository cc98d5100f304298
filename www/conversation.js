// The chat transcript shared by the demo pages: a keyed list of bubbles that
// adds and removes only what changed (moving every node on each poll would
// make assistive technology re-read the whole conversation), with the author
// spelled out for screen readers, and new messages from the other side
// announced through a polite live region.
import { createAnnouncer } from '/announce.js';

/**
 * @param {HTMLOListElement} list the transcript (`aria-label`, `tabindex="0"`: it scrolls)
 * @param {HTMLElement} liveRegion a visually hidden `role="log"` element
 * @param {{ agentName: string, showTimes?: boolean, channelNames?: Record<string, string> }} options
 *   channelNames: when given, each bubble names the channel its message came from
 */
export function createConversation(list, liveRegion, { agentName, showTimes = true, channelNames = null }) {
  const announcer = createAnnouncer(liveRegion, 5);
  const seen = new Map(); // message id → <li>
  /** clientIds of messages this page sent: their echo is not announced back. */
  const sentHere = new Set();
  /** false until a first history is on screen: a history load is not read out message by message. */
  let primed = false;

  function bubble(m) {
    const li = document.createElement('li');
    // The bot answers for the support side: styled (and found) as the agent's side.
    li.className = m.author === 'bot' ? 'bubble agent bot' : `bubble ${m.author}`;
    li.dataset.id = m.id;
    const who = document.createElement('span');
    who.className = 'visually-hidden';
    who.textContent = m.author === 'visitor' ? 'You: ' : `${agentName}: `;
    const text = document.createElement('p');
    text.textContent = m.text;
    li.append(who, text);
    const meta = document.createElement('span');
    meta.className = 'bubble-meta';
    if (channelNames && m.channel) {
      const channel = document.createElement('span');
      channel.className = 'channel';
      channel.textContent = channelNames[m.channel] || m.channel;
      meta.append(channel);
    }
    if (showTimes) {
      const time = document.createElement('time');
      time.dateTime = new Date(m.at).toISOString();
      time.textContent = new Date(m.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      if (meta.childNodes.length) meta.append(' · ');
      meta.append(time);
    }
    if (meta.childNodes.length) li.append(meta);
    return li;
  }

  return {
    /** Note a message this page is sending, before it comes back from the server. */
    sending(clientId) {
      sentHere.add(clientId);
    },
    /** The next render is a whole history (after login): shown, not read out message by message. */
    expectHistory() {
      primed = false;
    },
    /** Empty the transcript (after logout); the next history is not read out either. */
    clear() {
      for (const el of seen.values()) el.remove();
      seen.clear();
      primed = false;
    },
    /** Show the server's messages, in the server's order. */
    render(messages) {
      const ids = new Set(messages.map((m) => m.id));
      for (const [id, el] of seen) {
        if (!ids.has(id)) {
          el.remove();
          seen.delete(id);
        }
      }
      const fresh = messages.filter((m) => !seen.has(m.id));
      for (const m of fresh) seen.set(m.id, bubble(m));
      let before = null; // walk backwards so each node is placed before its successor
      for (let i = messages.length - 1; i >= 0; i--) {
        const el = seen.get(messages[i].id);
        // Only new or misplaced nodes move (a merge can insert older messages).
        if (el.parentNode !== list || el.nextElementSibling !== before) list.insertBefore(el, before);
        before = el;
      }
      if (primed) {
        for (const m of fresh) {
          if (m.author !== 'visitor') announcer.say(`${agentName}: ${m.text}`);
          else if (!sentHere.has(m.clientId)) announcer.say(`You, on another device: ${m.text}`);
        }
      }
      // Follow new messages, but leave alone someone scrolled back reading (a poll brought nothing new).
      if (fresh.length > 0 || !primed) list.scrollTop = list.scrollHeight;
      primed = true;
    },
  };
}

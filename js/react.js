// chat-auth/react: one ChatAuth for a React tree, and a hook that re-renders on its events.
//
//   import { ChatAuthProvider, useChatAuth } from 'chat-auth/react';
//   <ChatAuthProvider options={{ apiOrigins: ['https://chat.example.com'], … }}>…</ChatAuthProvider>
//   const { state, customerId, expiresAt, fetch, setCustomer, clearCustomer } = useChatAuth();
//
// The provider owns exactly one ChatAuth: created after the wasm is loaded, destroyed when the
// provider unmounts. StrictMode's simulated unmount/remount in development keeps that instance
// (the destroy waits one task and the remount cancels it), so a page never runs two.
import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import init, { ChatAuth } from '../pkg/chat_auth.js';

const Context = createContext(null);
const EVENTS = ['state', 'authenticated', 'refreshed', 'logged-out', 'auth-lost'];

/** Holds the instance across StrictMode's effect replay; `ready` settles once it exists. */
function createHolder() {
  let resolve;
  let reject;
  const ready = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  ready.catch(() => {});
  return { auth: null, destroyTimer: null, listeners: new Set(), ready, resolve, reject, error: null };
}

/**
 * Owns one ChatAuth built from `options` (read once, at mount: a new object on each render does
 * not rebuild it). `wasm` is passed to `init()` (a URL or module), for bundlers that move the file.
 */
export function ChatAuthProvider({ options, wasm, children }) {
  const holder = useRef(null);
  if (holder.current === null) holder.current = createHolder();
  const first = useRef({ options, wasm });
  const [, setReady] = useState(false);

  useEffect(() => {
    const h = holder.current;
    if (h.destroyTimer !== null) {
      // StrictMode's replay: the same instance goes on.
      clearTimeout(h.destroyTimer);
      h.destroyTimer = null;
    }
    let live = true;
    const notify = () => h.listeners.forEach((l) => l());
    if (h.auth === null && h.error === null) {
      init(first.current.wasm)
        .then(() => {
          if (!live || h.auth !== null) return;
          h.auth = new ChatAuth(first.current.options);
          h.unsubscribe = EVENTS.map((name) => h.auth.on(name, notify));
          h.resolve(h.auth);
          setReady(true);
          notify();
        })
        .catch((e) => {
          h.error = e;
          h.reject(e);
          setReady(true);
          notify();
        });
    }
    return () => {
      live = false;
      h.destroyTimer = setTimeout(() => {
        h.destroyTimer = null;
        h.unsubscribe?.forEach((off) => off());
        h.auth?.destroy();
        notify();
      }, 0);
    };
  }, []);

  return createElement(Context.Provider, { value: holder.current }, children);
}

/** The snapshot the hook re-renders on (a string, so equal states compare equal). */
function snapshotOf(h) {
  const a = h.auth;
  if (!a) return h.error ? 'error' : 'loading';
  return `${a.state}|${a.customerId ?? ''}|${a.expiresAt ?? ''}|${a.anonymousId}`;
}

/**
 * The ChatAuth of the nearest ChatAuthProvider and its state. Before the wasm has loaded `auth`
 * is null and `state` is 'loading' (or 'error', with `error`); the functions wait for it.
 */
export function useChatAuth() {
  const h = useContext(Context);
  if (h === null) throw new Error('useChatAuth() needs a <ChatAuthProvider> above it');
  const subscribe = useCallback(
    (listener) => {
      h.listeners.add(listener);
      return () => h.listeners.delete(listener);
    },
    [h],
  );
  const snapshot = useSyncExternalStore(
    subscribe,
    () => snapshotOf(h),
    () => 'loading',
  );
  const fetch = useCallback(async (input, init) => (await h.ready).fetch(input, init), [h]);
  const setCustomer = useCallback(async (customerId, provider) => (await h.ready).setCustomer(customerId, provider), [h]);
  const clearCustomer = useCallback(async () => (await h.ready).clearCustomer(), [h]);
  const getToken = useCallback(async (opts) => (await h.ready).getToken(opts), [h]);
  return useMemo(() => {
    const a = h.auth;
    const live = a !== null && a.state !== 'destroyed';
    return {
      auth: a,
      state: a ? a.state : snapshot,
      error: h.error,
      customerId: live ? a.customerId : null,
      expiresAt: live ? a.expiresAt : null,
      anonymousId: live ? a.anonymousId : null,
      fetch,
      setCustomer,
      clearCustomer,
      getToken,
    };
  }, [h, snapshot, fetch, setCustomer, clearCustomer, getToken]);
}

import type { ReactNode } from 'react';
import type { ChatAuth, ChatAuthError } from '../pkg/chat_auth.js';

/** `ChatAuth.state`, plus the binding's own states before the instance exists. */
export type ChatAuthState =
  | 'anonymous'
  | 'authenticating'
  | 'authenticated'
  | 'refreshing'
  | 'expired'
  | 'logged_out'
  | 'destroyed'
  | 'loading'
  | 'error';

export interface ChatAuthProviderProps {
  /** The options of `new ChatAuth(options)`, read once when the provider mounts. */
  options: ConstructorParameters<typeof ChatAuth>[0];
  /** Passed to `init()`: where the wasm is, for bundlers that move it. */
  wasm?: string | URL | Request | Response | BufferSource | WebAssembly.Module;
  children?: ReactNode;
}

/** Owns one ChatAuth for its subtree: created once the wasm is loaded, destroyed on unmount. */
export function ChatAuthProvider(props: ChatAuthProviderProps): ReactNode;

export interface UseChatAuth {
  /** The instance, `null` until the wasm has loaded. */
  auth: ChatAuth | null;
  state: ChatAuthState;
  /** Why the instance could not be created (`state === 'error'`). */
  error: ChatAuthError | Error | null;
  customerId: string | null;
  /** ms since the epoch on the page clock, `null` without a token (or an expiry). */
  expiresAt: number | null;
  anonymousId: string | null;
  /** `auth.fetch`, waiting for the instance. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  setCustomer(customerId: string, contextProvider?: (...args: any[]) => unknown): Promise<void>;
  clearCustomer(): Promise<void>;
  getToken(opts?: { forceRefresh?: boolean }): Promise<string | null>;
}

/** The nearest provider's ChatAuth; re-renders on `state`, `authenticated`, `refreshed`, `logged-out`, `auth-lost`. */
export function useChatAuth(): UseChatAuth;

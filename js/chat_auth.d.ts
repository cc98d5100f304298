/* The public API's types (API.md). scripts/postbuild.mjs puts them in pkg/chat_auth.d.ts in place of
   wasm-bindgen's `any`-typed declarations, keeping its init types, and fails the build when an export
   of the crate has no declaration here. ChatAuthError comes from js/error.d.ts. */

/** `auth.state` (API.md). */
export type ChatAuthState = 'anonymous' | 'authenticating' | 'authenticated' | 'refreshing' | 'expired' | 'logged_out' | 'destroyed';

/** Why the context provider is called (`info.reason`). */
export type RefreshReason = 'initial' | 'scheduled' | 'after_401' | 'forced' | 'retry' | 'customer_changed';

/** JWT signature algorithms chat-auth verifies (`none` is never accepted). */
export type JwtAlgorithm =
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'EdDSA'
  | 'HS256'
  | 'HS384'
  | 'HS512';

/** A JSON Web Key (RFC 7517), as far as chat-auth reads it. */
export interface JsonWebKey {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  crv?: string;
  n?: string;
  e?: string;
  x?: string;
  y?: string;
  [member: string]: unknown;
}

/** A JWK Set (RFC 7517 §5). */
export interface JsonWebKeySet {
  keys: JsonWebKey[];
}

/** A decoded JWT payload: the registered claims typed, anything else `unknown`. */
export interface JwtClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}

/** `refresh.*` options. */
export interface RefreshOptions {
  /** Refresh this long before expiry, capped at 25 % of the token's lifetime. Default 60. */
  marginSeconds?: number;
  /** Failed refreshes retried with backoff (1 s, 2 s, 4 s … ≤ 30 s), then `auth-lost`. Default 5. */
  maxRetries?: number;
  /** A provider that has not answered by then counts as failed (`provider_timeout`). Default 15. */
  providerTimeoutSeconds?: number;
}

/** `validation.*` options. */
export interface ValidationOptions {
  /** JWT claim that must equal the customer id; `null` turns the comparison off. Default `'sub'`. */
  customerIdClaim?: string | null;
  /** Required `iss`. */
  issuer?: string;
  /** Required `aud` (one of them). */
  audience?: string | string[];
  /** Allow-list for signature checks. Default `['RS256', 'ES256', 'PS256', 'EdDSA']`. */
  algorithms?: JwtAlgorithm[];
  /** PEM public key (SPKI) or X.509 certificate: verify every JWT's signature. */
  publicKey?: string;
  /** A JWK Set to verify signatures with. */
  jwks?: JsonWebKeySet;
  /** Where to fetch the JWK Set (cached; an unknown `kid` re-fetches once). */
  jwksUrl?: string;
  /** Clock leeway for `exp` / `nbf` / `iat`. Default 30. */
  leewaySeconds?: number;
}

/** What `userLoginHandler` receives. */
export interface LoginNeededDetail {
  code: ChatAuthErrorCode;
  reason: 'unauthorized' | 'auth_lost';
}

/** `new ChatAuth(options)`; unknown keys (also nested ones) throw `invalid_config`. */
export interface ChatAuthOptions {
  /** Exact origins (`scheme://host[:port]`) that may receive the token. Nothing else ever does. */
  apiOrigins: string[];
  /** Authenticate at once, as if `setCustomer` were called. */
  customerId?: string;
  /** How to get (and refresh) the context. */
  contextProvider?: ContextProvider;
  /** Called when the chat needs the user to log in (a 401 while anonymous, or auth lost). */
  userLoginHandler?: (detail: LoginNeededDetail) => void;
  refresh?: RefreshOptions;
  validation?: ValidationOptions;
  /** Refresh by the OAuth 2.0 `refresh_token` grant (RFC 6749 §6) when the context has a refresh token. */
  tokenEndpoint?: string;
  clientId?: string;
  /** For opaque tokens without an expiry: the site's endpoint answering RFC 7662 JSON for `token=…`. */
  introspectionEndpoint?: string;
  /**
   * The authorization server's issuer identifier, e.g. `'https://id.example.com'` (http(s), no
   * query or fragment). Its metadata is fetched once per page from
   * `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery 1.0), else from
   * `/.well-known/oauth-authorization-server{path}` (RFC 8414); its `jwks_uri` verifies
   * signatures and its `token_endpoint` takes the refresh grant. An explicit
   * `validation.jwksUrl` / `validation.publicKey` / `validation.jwks` / `tokenEndpoint` wins.
   * Metadata whose `issuer` differs is refused with `issuer_mismatch`; unreachable metadata
   * is `network` (retried). Also the default `validation.issuer`.
   */
  issuer?: string;
  /**
   * RFC 6749 §3.3 scope sent with every refresh grant: a space-separated string or an array of
   * scope tokens. Default: none (the provider keeps the original grant's scope).
   */
  scope?: string | string[];
  /**
   * RFC 8707 resource indicator(s) sent with every refresh grant (one `resource` parameter each):
   * absolute URIs without a fragment, e.g. `'https://chat.example.com'`, so the provider issues
   * the access token for the chat API's audience. Default: none.
   */
  resource?: string | string[];
  /** Tabs of one origin share one refresh and one logout. Default `true`. */
  crossTab?: boolean;
  /** Where the token survives: memory only, or sessionStorage (never localStorage). Default `'memory'`. */
  storage?: 'memory' | 'session';
  /**
   * Sender-constrained tokens (DPoP, RFC 9449): the SDK holds one non-extractable ES256 key (WebCrypto,
   * kept as a `CryptoKey` in IndexedDB, shared by the origin's tabs, never exported) and every request to
   * `apiOrigins` (`fetch`, `authHeaders`) and every refresh grant carries a `DPoP` proof; tokens go as
   * `Authorization: DPoP <token>`. The server's `DPoP-Nonce` is used in the next proof, and a
   * `use_dpop_nonce` answer is retried once. A context whose `token_type` is not `DPoP`, or whose
   * `cnf.jkt` names another key, is refused (`dpop_unbound`). Needs `tokenEndpoint` when `issuer` is
   * set. Default `false`.
   */
  dpop?: boolean;
  /** The clock in ms, for tests. Default `Date.now`. */
  now?: () => number;
}

/** What the SDK hands a provider besides `needsRefresh`. */
export interface ProviderInfo {
  reason: RefreshReason;
  /** Aborts on timeout or `destroy()`. */
  signal: AbortSignal;
  /** The ms time by which an answer is needed. */
  deadline: number;
}

/** The context a provider returns (ASAPP-compatible; an OAuth 2.0 token response is accepted as-is). */
export interface Context {
  Auth?: {
    /** JWT or opaque access token. */
    Token?: string;
    access_token?: string;
    token_type?: string;
    expires_in?: number;
    refresh_token?: string;
    scope?: string;
    /** Absolute expiry, seconds since epoch, for opaque tokens. */
    ExpiresAt?: number;
    Scopes?: string[];
    Headers?: Record<string, string>;
    Cookies?: Record<string, string>;
    Body?: object;
  };
  CustomerInfo?: Record<string, string>;
  ExternalSessionId?: string;
  ExternalSessionType?: string;
  CompanySubdivision?: string;
  Segments?: string[];
}

/**
 * Gets the context: calls `callback(context)` or returns (a Promise of) it; throwing or rejecting is
 * a failure. `needsRefresh` is true when the held token is expired or was refused: fetch a new one.
 */
export type ContextProvider = (
  callback: (context: Context) => void,
  needsRefresh: boolean,
  info: ProviderInfo,
) => Context | void | Promise<Context | void>;

/** `auth.on(name, handler)`: each event's detail. */
export interface ChatAuthEventMap {
  state: { state: ChatAuthState; previous: ChatAuthState };
  authenticated: { customerId: string; anonymousId: string; expiresAt: number | null };
  refreshed: { expiresAt: number | null; source: 'provider' | 'token_endpoint' | 'other_tab' };
  'refresh-failed': { code: ChatAuthErrorCode; attempt: number; retryInMs: number | null };
  'auth-lost': { code: ChatAuthErrorCode };
  'logged-out': { customerId: string | null };
}

/** Customer authentication for one chat widget (API.md `class ChatAuth`). */
export class ChatAuth {
  /** Throws `ChatAuthError('invalid_config')` on a bad option. */
  constructor(options: ChatAuthOptions);
  /**
   * Sets (or switches) the customer; resolves once authenticated. Switching rejects the previous
   * customer's pending `setCustomer`, `getToken`, `authHeaders` and waiting `fetch` with
   * `not_authenticated`.
   */
  setCustomer(customerId: string, contextProvider?: ContextProvider): Promise<void>;
  /**
   * Logs out: forgets token and customer, takes a new anonymous id. Requests still waiting for the
   * customer's token reject with `not_authenticated`.
   */
  clearCustomer(): Promise<void>;
  /** The access token (refreshed first when due or forced); `null` when anonymous. */
  getToken(opts?: { forceRefresh?: boolean }): Promise<string | null>;
  /**
   * The headers to add to a request for `url` (`{}` for origins not allowed); with `dpop`, a `DPoP`
   * proof for `opts.method` (default `'GET'`) and `url`, good for one request.
   */
  authHeaders(url: string, opts?: { method?: string }): Promise<Record<string, string>>;
  /** `fetch` with the token attached for allowed origins; plain `fetch` for any other. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof ChatAuthEventMap>(event: K, handler: (detail: ChatAuthEventMap[K]) => void): () => void;
  /** Cancels timers, listeners and channels; later calls reject with `destroyed`. */
  destroy(): void;
  /** Frees the wasm object (wasm-bindgen); `destroy()` is what a page calls. */
  free(): void;
  readonly state: ChatAuthState;
  readonly customerId: string | null;
  /** Sent as `Chat-Anonymous-Id`. */
  readonly anonymousId: string;
  /** Expiry in ms since the epoch on the page's clock (issuer clock offset applied), or `null`. */
  readonly expiresAt: number | null;
  /**
   * When the SDK will refresh the token, in ms on the same clock as `expiresAt`: `expiresAt` minus
   * `refresh.marginSeconds` (capped at 25 % of the token's lifetime), plus a jitter of at most 10 %
   * of that margin. `null` when anonymous, while refreshing, or when nothing can refresh the token.
   */
  readonly refreshAt: number | null;
  /** The decoded JWT payload, `null` for opaque tokens and when anonymous. */
  readonly claims: JwtClaims | null;
}

/** `verifyToken`'s options (API.md "Verification rules"). */
export interface VerifyOptions {
  algorithms: JwtAlgorithm[];
  publicKey?: string;
  jwks?: JsonWebKeySet;
  /** HMAC secret, ≥ 32 bytes: for servers; a browser never needs one. */
  secret?: string;
  issuer?: string;
  audience?: string | string[];
  customerId?: string;
  /** Default `'sub'`; `null` turns the comparison off. */
  customerIdClaim?: string | null;
  /** Default 30. */
  leewaySeconds?: number;
  /** The time to judge `exp` / `nbf` / `iat` at, ms. Default now. */
  now?: number;
  /** Default 16384. */
  maxTokenBytes?: number;
  /** Required `typ` header. */
  typ?: string;
}

/** `decodeToken`'s result: no verification. */
export interface DecodedToken {
  header: { alg?: string; typ?: string; kid?: string; [member: string]: unknown };
  claims: JwtClaims;
  /** `exp` in ms, `null` without one. */
  expiresAt: number | null;
}

/** Throws `customer_id_invalid` or `customer_id_pii` (with `detail`). */
export function checkCustomerId(id: string): void;

/** Decodes a JWT without verifying it; throws `malformed` / `token_too_large`. */
export function decodeToken(token: string): DecodedToken;

/** Verifies a JWT (API.md rules 1–10); resolves to its claims. */
export function verifyToken(token: string, options: VerifyOptions): Promise<JwtClaims>;

/** The ASAPP Web SDK's state object (`ASAPP('getState')`). */
export interface AsappState {
  hasContext: boolean;
  hasCustomerId: boolean;
  isLoggingIn: boolean;
  isAuthenticated: boolean;
}

/** Defines `target.ASAPP(command, ...args)` for pages written against the ASAPP Web SDK. */
export function installAsapp(target?: object): void;

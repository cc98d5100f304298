// Compiled by the `types` tier with `tsc --strict` (tests/types/tsconfig.json) against the built
// pkg/chat_auth.d.ts, imported by the package's name. Every line follows API.md; each
// `@ts-expect-error` is a misuse the types must catch (tsc fails if one compiles).
import init, {
  ChatAuth,
  ChatAuthError,
  checkCustomerId,
  decodeToken,
  installAsapp,
  verifyToken,
  type ChatAuthErrorCode,
  type ChatAuthOptions,
  type ChatAuthState,
  type Context,
  type ContextProvider,
  type DecodedToken,
  type JwtClaims,
  type VerifyOptions,
} from 'chat-auth';

async function fetchChatContext(fresh: boolean): Promise<Context> {
  const res = await fetch(`/chat-context?fresh=${fresh}`);
  return { Auth: { Token: await res.text(), Headers: { 'X-Site': 'shop' } }, Segments: ['vip'] };
}

const provider: ContextProvider = async (_callback, needsRefresh, info) => {
  const deadline: number = info.deadline;
  const aborted: boolean = info.signal.aborted;
  if (info.reason === 'after_401' || info.reason === 'initial') console.log(deadline, aborted);
  return fetchChatContext(needsRefresh);
};

// An ASAPP-style provider answers through the callback.
const asappProvider: ContextProvider = (callback, needsRefresh) => {
  callback({ Auth: { access_token: 'opaque', token_type: 'Bearer', expires_in: 300, refresh_token: needsRefresh ? 'r2' : 'r1' } });
};

export async function main(): Promise<void> {
  await init();
  const options: ChatAuthOptions = {
    apiOrigins: ['https://api.example.com'],
    customerId: 'c_8f3a9b2e',
    contextProvider: provider,
    userLoginHandler: ({ code, reason }) => console.log(code, reason),
    refresh: { marginSeconds: 30, maxRetries: 3, providerTimeoutSeconds: 10 },
    validation: { issuer: 'https://id.example.com', audience: ['chat-api'], algorithms: ['ES256'], jwksUrl: 'https://id.example.com/jwks.json', customerIdClaim: null, leewaySeconds: 5 },
    tokenEndpoint: 'https://id.example.com/oauth/token',
    clientId: 'chat-demo',
    issuer: 'https://id.example.com',
    scope: ['openid', 'chat'],
    resource: 'https://api.example.com',
    crossTab: false,
    storage: 'session',
    dpop: true,
    now: () => Date.now(),
  };
  const auth = new ChatAuth(options);
  await auth.setCustomer('c_8f3a9b2e');
  await auth.setCustomer('c_other', asappProvider);
  const token: string | null = await auth.getToken();
  const forced: string | null = await auth.getToken({ forceRefresh: true });
  const headers: Record<string, string> = await auth.authHeaders('https://api.example.com/x');
  const postHeaders: Record<string, string> = await auth.authHeaders('https://api.example.com/x', { method: 'POST' });
  const res: Response = await auth.fetch('https://api.example.com/chat/messages');
  await auth.fetch(new URL('https://api.example.com/chat/messages'), { method: 'POST', body: '{}' });
  await auth.fetch(new Request('https://api.example.com/chat/messages'));
  const state: ChatAuthState = auth.state;
  const expiresAt: number | null = auth.expiresAt;
  const refreshAt: number | null = auth.refreshAt;
  const customer: string | null = auth.customerId;
  const anonymous: string = auth.anonymousId;
  const claims: JwtClaims | null = auth.claims;
  const sub: string | undefined = claims?.sub;

  // Event details are typed by the event's name.
  const off: () => void = auth.on('refresh-failed', (d) => {
    const wait: number | null = d.retryInMs;
    const code: ChatAuthErrorCode = d.code;
    console.log(wait, code, d.attempt);
  });
  auth.on('state', ({ state, previous }) => console.log(state satisfies ChatAuthState, previous));
  auth.on('refreshed', (d) => console.log(d.source === 'other_tab', d.expiresAt));
  auth.on('authenticated', (d) => console.log(d.customerId, d.anonymousId));
  auth.on('auth-lost', (d) => console.log(d.code));
  auth.on('logged-out', (d) => console.log(d.customerId ?? 'nobody'));
  off();

  try {
    checkCustomerId('jane@example.com');
  } catch (e) {
    if (e instanceof ChatAuthError) {
      const code: ChatAuthErrorCode = e.code;
      const name: 'ChatAuthError' = e.name;
      console.log(code, name, e.detail === 'email', e.message);
    }
  }
  const decoded: DecodedToken = decodeToken(token ?? '');
  const exp: number | null = decoded.expiresAt;
  const verifyOptions: VerifyOptions = { algorithms: ['RS256'], publicKey: '-----BEGIN PUBLIC KEY-----', issuer: 'https://id.example.com', now: Date.now() };
  const verified: JwtClaims = await verifyToken(forced ?? '', verifyOptions);
  installAsapp();
  installAsapp(window);
  await auth.clearCustomer();
  auth.destroy();
  console.log(headers, postHeaders, res.status, state, expiresAt, refreshAt, customer, anonymous, sub, exp, verified.iat, decoded.header.alg);

  // ---- misuse the types catch ----
  // @ts-expect-error apiOrigins is required
  new ChatAuth({ customerId: 'c_1' });
  // @ts-expect-error storage is 'memory' or 'session', never 'local'
  new ChatAuth({ apiOrigins: [], storage: 'local' });
  // @ts-expect-error dpop is a boolean
  new ChatAuth({ apiOrigins: [], dpop: 'on' });
  // @ts-expect-error scope is a string or an array of strings
  new ChatAuth({ apiOrigins: [], scope: 7 });
  // @ts-expect-error refreshAt is read-only (the SDK plans the refresh)
  auth.refreshAt = 0;
  // @ts-expect-error an unknown event name
  auth.on('refresh-failure', () => {});
  // @ts-expect-error the detail of 'refreshed' has no retryInMs
  auth.on('refreshed', (d) => d.retryInMs);
  // @ts-expect-error an unknown nested option
  new ChatAuth({ apiOrigins: [], refresh: { margin: 30 } });
  // @ts-expect-error the state is a union of names
  const typo: ChatAuthState = 'authenticate';
  // @ts-expect-error verifyToken needs its algorithms
  await verifyToken('t', { publicKey: 'pem' });
  // @ts-expect-error setCustomer takes a string id
  await auth.setCustomer(42);
  // @ts-expect-error a provider's info.reason is a union
  const badProvider: ContextProvider = (_c, _n, info) => (info.reason === 'timer' ? undefined : undefined);
  // @ts-expect-error 'none' is never an allowed algorithm
  new ChatAuth({ apiOrigins: [], validation: { algorithms: ['none'] } });
  console.log(typo, badProvider);
}

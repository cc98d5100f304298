/**
 * Options of `new ChatAuth(options)` for real identity providers: discovery and what goes with
 * every refresh grant. They belong to `ChatAuthOptions` (these keys are checked like every
 * other option: a wrong type or value throws `ChatAuthError('invalid_config')` naming the key).
 */
export interface ChatAuthProviderOptions {
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
}

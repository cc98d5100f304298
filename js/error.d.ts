/** Every `code` a ChatAuthError can carry (API.md, "Errors"). */
export type ChatAuthErrorCode =
  | 'invalid_config'
  | 'customer_id_invalid'
  | 'customer_id_pii'
  | 'malformed'
  | 'token_too_large'
  | 'alg_not_allowed'
  | 'bad_signature'
  | 'key_type_mismatch'
  | 'unknown_key'
  | 'expired'
  | 'not_yet_valid'
  | 'claim_mismatch'
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'token_unchanged'
  | 'provider_failed'
  | 'provider_timeout'
  | 'refresh_failed'
  | 'network'
  | 'not_authenticated'
  | 'destroyed'
  | 'dpop_invalid'
  | 'dpop_replayed'
  | 'dpop_nonce_required'
  | 'dpop_key_mismatch'
  | 'dpop_unbound';

/**
 * The error every chat-auth rejection and throw uses: `name === 'ChatAuthError'`,
 * `instanceof Error`, a stable `code`, and a message that never contains a secret.
 * `detail` is `'email' | 'phone' | 'ssn' | 'card'` for `customer_id_pii`.
 */
export class ChatAuthError extends Error {
  readonly name: 'ChatAuthError';
  readonly code: ChatAuthErrorCode;
  readonly detail?: 'email' | 'phone' | 'ssn' | 'card';
}

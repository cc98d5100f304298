// @okta/okta-auth-js: OktaAuth (signInWithRedirect, handleLoginRedirect, tokenManager with
// auto-renew, getAccessToken) from the package's default browser entry.
export { OktaAuth } from '@okta/okta-auth-js';

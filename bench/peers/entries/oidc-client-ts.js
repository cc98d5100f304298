// oidc-client-ts: a SPA's login and token handling goes through UserManager (signinRedirect,
// signinCallback, getUser, automatic silent renew); WebStorageStateStore picks where the user is kept.
export { UserManager, WebStorageStateStore } from 'oidc-client-ts';

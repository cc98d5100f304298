// @auth0/auth0-spa-js: createAuth0Client (loginWithRedirect, handleRedirectCallback,
// getTokenSilently, isAuthenticated) is the whole integration.
export { Auth0Client, createAuth0Client } from '@auth0/auth0-spa-js';

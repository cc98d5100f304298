// @auth0/auth0-spa-js for login and tokens plus jose's verify path for the tokens a page checks
// itself: the two together do what chat-auth does (getToken and verifyToken).
export { Auth0Client, createAuth0Client } from '@auth0/auth0-spa-js';
export { createLocalJWKSet, createRemoteJWKSet, importJWK, importSPKI, importX509, jwtVerify } from 'jose';

// keycloak-js: one class; new Keycloak(config).init({ onLoad }) logs in, updateToken() refreshes,
// token / tokenParsed hold the access token.
export { default as Keycloak } from 'keycloak-js';

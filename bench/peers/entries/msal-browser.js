// @azure/msal-browser: PublicClientApplication (initialize, loginRedirect / loginPopup,
// handleRedirectPromise, acquireTokenSilent) and the error a page catches to fall back to interaction.
export { InteractionRequiredAuthError, PublicClientApplication } from '@azure/msal-browser';

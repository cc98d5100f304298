// The ASAPP-compatible facade (API.md "ASAPP-compatible facade"). Rust's
// installAsapp() calls installAsappWith(target, create), where create(options)
// builds a ChatAuth; this file only translates ASAPP commands.
import { ChatAuthError } from './error.js';

export function installAsappWith(target, create) {
  let auth = null;
  let siteProvider = null;
  let lastAuth = null; // the Auth given by `set Auth`
  let nextAuth = null; // …still to be handed to ChatAuth (once)
  let waitingForAuth = [];

  // One provider for ChatAuth: an Auth just given by `set Auth` first, then
  // the page's ContextProvider; without one, the Auth given by `set Auth`.
  const provider = (callback, needsRefresh, info) => {
    if (nextAuth) {
      const a = nextAuth;
      nextAuth = null;
      return callback({ Auth: a });
    }
    if (siteProvider) return siteProvider(callback, needsRefresh, info);
    if (lastAuth && !needsRefresh) return callback({ Auth: lastAuth });
    waitingForAuth.push(callback);
    return undefined;
  };

  const state = () => {
    const s = auth ? auth.state : 'anonymous';
    return {
      hasContext: lastAuth !== null || siteProvider !== null,
      hasCustomerId: Boolean(auth && auth.customerId),
      isLoggingIn: s === 'authenticating',
      isAuthenticated: s === 'authenticated' || s === 'refreshing',
    };
  };

  const requireAuth = () => {
    if (!auth) throw new ChatAuthError('invalid_config', "ASAPP('load', …) has not been called");
    return auth;
  };

  target.ASAPP = function ASAPP(command, ...args) {
    switch (command) {
      case 'load': {
        const o = args[0] || {};
        if (typeof o.APIHostname !== 'string' || o.APIHostname === '') {
          throw new ChatAuthError('invalid_config', "option 'APIHostname' is required");
        }
        if (auth) auth.destroy();
        siteProvider = typeof o.ContextProvider === 'function' ? o.ContextProvider : null;
        const origin = /^https?:\/\//i.test(o.APIHostname) ? o.APIHostname : 'https://' + o.APIHostname;
        const options = { apiOrigins: [origin], contextProvider: provider };
        if (typeof o.UserLoginHandler === 'function') options.userLoginHandler = o.UserLoginHandler;
        auth = create(options);
        const ready = o.CustomerId ? auth.setCustomer(o.CustomerId) : Promise.resolve();
        const done = () => {
          if (typeof o.onLoadComplete === 'function') o.onLoadComplete(state());
        };
        ready.then(done, done);
        return ready;
      }
      case 'setCustomer': {
        const o = args[0] || {};
        if (typeof o.ContextProvider === 'function') siteProvider = o.ContextProvider;
        return requireAuth().setCustomer(o.CustomerId);
      }
      case 'set': {
        if (args[0] !== 'Auth') throw new ChatAuthError('invalid_config', "only ASAPP('set', 'Auth', …) is supported");
        lastAuth = args[1] && typeof args[1] === 'object' ? args[1] : null;
        const waiting = waitingForAuth;
        waitingForAuth = [];
        if (lastAuth) for (const cb of waiting) cb({ Auth: lastAuth });
        // A session already under way takes the new Auth at once.
        if (lastAuth && auth && auth.customerId && waiting.length === 0) {
          nextAuth = lastAuth;
          return auth.getToken({ forceRefresh: true }).then(() => undefined);
        }
        return Promise.resolve();
      }
      case 'getState': {
        const s = state();
        if (typeof args[0] === 'function') args[0](s);
        return s;
      }
      case 'unloadAndClearSession': {
        const a = auth;
        auth = null;
        lastAuth = null;
        nextAuth = null;
        siteProvider = null;
        if (!a) return Promise.resolve();
        return a.clearCustomer().finally(() => a.destroy());
      }
      case 'getChatAuth':
        return auth;
      default:
        throw new ChatAuthError('invalid_config', 'unknown ASAPP command');
    }
  };
}

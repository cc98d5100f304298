// Loaded by /e2e.html (served by chat-server.mjs under `script-src 'self' 'wasm-unsafe-eval'`).
// Loads the built package the way a site does — the equivalent of
//   import init, * as sdk from '/pkg/chat_auth.js'; await init();
// (a dynamic import, so a missing or broken build becomes window.initError instead of a silent hang)
// and exposes it as window.sdk. window.T holds small in-page helpers the tests use in page.evaluate.
import './page-helpers.js';

try {
  const sdk = await import('/pkg/chat_auth.js');
  const init = sdk.default;
  await init();
  window.sdk = sdk;
  window.ready = true;
} catch (err) {
  window.initError = `${err && err.name}: ${err && err.message}`;
}

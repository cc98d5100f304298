// Module script of the sandboxed iframe in tests/e2e/web-locks.test.mjs: an opaque origin, so this
// file, pkg/chat_auth.js and the wasm all arrive through CORS. Leaves window.sdk / window.initError.
try {
  const m = await import('/pkg/chat_auth.js');
  await m.default();
  window.sdk = m;
} catch (err) {
  window.initError = `${err && err.name}: ${err && err.message}`;
}

// Loads the built package the way a site does, under the server's CSP,
// and leaves the outcome in window.__smoke for the test to read.
try {
  const m = await import('/pkg/chat_auth.js');
  const init = m.default;
  await init();
  window.__smoke = {
    ok: true,
    exports: Object.keys(m).sort(),
    types: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v])),
  };
} catch (err) {
  window.__smoke = { ok: false, error: `${err && err.name}: ${err && err.message}` };
}

// Placeholder demo: loads the wasm package and says whether it worked.
// A module script from 'self' (the page's CSP forbids inline script).
const status = document.getElementById('status');

function show(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

try {
  const chatAuth = await import('/pkg/chat_auth.js');
  await chatAuth.default();
  show('ok', 'chat-auth loaded');
} catch (err) {
  console.error(err);
  show('error', `chat-auth failed to load: ${err && err.message ? err.message : err}\n(run \`npm run build\` to create pkg/)`);
}

// ChatAuthError: the one error type chat-auth throws and rejects with (API.md, "Errors").
// The Rust side imports `makeError` through
//   #[wasm_bindgen(module = "/js/error.js")] extern "C" { fn makeError(code: &str, message: &str, detail: Option<String>) -> JsValue; }
// wasm-pack copies this file to pkg/snippets/chat-auth-<hash>/js/error.js, and
// scripts/postbuild.mjs re-exports the class from pkg/chat_auth.js.

export class ChatAuthError extends Error {
  constructor(code, message, detail) {
    super(message);
    this.name = 'ChatAuthError';
    this.code = code;
    if (detail !== undefined) this.detail = detail;
  }
}

export function makeError(code, message, detail) {
  return new ChatAuthError(code, message, detail);
}

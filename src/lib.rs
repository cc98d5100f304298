//! # chat-auth
//!
//! Customer authentication for web chat: a pure Rust core, with time as an
//! input, and a thin export layer (wasm32 only) under which a small JavaScript
//! host (`js/chat_auth_host.js`) carries out the core's effects. The folders
//! are the layers, wire ← jose ← options ← session ← exports, each using only
//! the ones before it: [`wire`] reads and writes the
//! wire formats (strict JSON, base64url, decimals); [`jose`] is the token layer
//! (algorithms, JWTs, keys, the verification rules, DPoP, and the typed
//! [`jose::Verifier`] a Rust server uses); [`options`] reads the SDK's
//! options, once, into typed structs: the verification options into jose's
//! [`jose::VerifyOptions`] (the same struct `verifyToken` and the
//! `Verifier` builder fill), the refresh policy and grant parameters into
//! its own types, which the session reads; [`session`] is the
//! customer's session (admitting provider and token-endpoint answers, the
//! refresh schedule, the state machine and the [`session::driver`] that makes
//! every decision of a host); and `exports` (wasm32 only) hands the driver to
//! the browser's JS host, one JSON-encoded input in and its effects out, and
//! decides nothing. Beside the layers, and used by
//! them: [`error`] (one error type with stable codes; its clock evidence is
//! the schedule's), [`secret`] (redacted strings), [`identifier`] (customer
//! identifier rules) and [`time`] (injected time). On top, for servers only:
//! [`profile`] (the check of a UserProfile answer, on jose's claims).
//!
//! The public contract for JavaScript is API.md, the design's API reference,
//! kept outside this repository (the docs here cite its sections: "Errors",
//! "Verification rules", …); natively, a server uses the same rules:
//!
//! ```
//! use chat_auth::identifier::check_customer_id;
//! use chat_auth::error::ErrorCode;
//!
//! assert!(check_customer_id("c_8f3a9b2e").is_ok());
//! let err = check_customer_id("jane@example.com").unwrap_err();
//! assert_eq!(err.code(), ErrorCode::CustomerIdPii);
//! assert_eq!(err.detail(), Some("email"));
//! ```
#![deny(missing_docs)]

pub mod error;
pub mod identifier;
pub mod jose;
pub mod options;
pub mod profile;
pub mod secret;
pub mod session;
pub mod time;
pub mod wire;

#[cfg(target_arch = "wasm32")]
pub mod exports;

// `wasm-pack test --headless --chrome` runs the unit tests in the browser, the
// wasm build's only host (a test binary has one host, so `--node` skips them).
#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

// talc instead of std's dlmalloc: about 3 KB gzip smaller in the wasm build,
// and it merges freed neighbours, so long sessions do not fragment the heap
// (the bench's 10,000-refresh memory check covers this).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub use error::{Error, ErrorCode, Result};

//! # chat-auth
//!
//! Customer authentication for web chat. A pure Rust core (customer
//! identifiers, tokens, claims, expiry, refresh policy, the session state
//! machine and the [`driver`] that makes every decision of the browser
//! shell, all with time as an input) and one thin wasm-bindgen shell
//! (`bindings`, wasm32 only) that carries out the driver's effects.
//!
//! The public contract for JavaScript is `API.md`; natively, a server uses the
//! same rules:
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

pub mod admit;
pub mod base64url;
pub mod clock;
pub mod config;
pub mod context;
mod decimal;
pub mod discovery;
pub mod dpop;
pub mod driver;
pub mod error;
pub mod fetch_retry;
pub mod grant;
pub mod identifier;
pub mod json;
pub mod keys;
pub mod profile;
pub mod schedule;
pub mod secret;
pub mod session;
mod sha256;
pub mod token;
pub mod verify;

#[cfg(target_arch = "wasm32")]
mod bindings;

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
#[cfg(target_arch = "wasm32")]
pub use bindings::{check_customer_id, decode_token, install_asapp, verify_token, ChatAuth};

pub use error::{Error, ErrorCode, Result};

//! The token layer (JOSE), on top of [`crate::wire`]: signature
//! [`algorithm`]s and curves, [`token`]s (JWTs and opaque strings),
//! verification [`keys`] (material, JWK/JWKS, PEM/DER, selection), the
//! verification rules ([`verify`]) and DPoP proofs ([`dpop`]). Nothing here
//! knows about sessions or options.
//!
//! A Rust server verifies with one `use`:
//! `use chat_auth::jose::{Algorithm, Claims, Verifier};` (see [`Verifier`]).

pub mod algorithm;
pub mod dpop;
pub mod keys;
mod sha256;
pub mod token;
pub mod verify;

pub use algorithm::Algorithm;
pub use keys::{KeySource, VerifyingKey};
pub use token::Claims;
pub use verify::{Verifier, VerifierBuilder, VerifyOptions};

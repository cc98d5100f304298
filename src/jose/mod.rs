//! The token layer (JOSE), on top of [`crate::wire`]: signature
//! [`algorithm`]s and curves, [`token`]s (JWTs and opaque strings),
//! verification [`keys`] (material, JWK/JWKS, PEM/DER, selection), the
//! verification rules ([`verify`]) and DPoP proofs ([`dpop`]). Nothing here
//! knows about sessions or options.

pub mod algorithm;
pub mod dpop;
pub mod keys;
mod sha256;
pub mod token;
pub mod verify;

//! The wire formats, below everything else: a strict JSON reader and writer
//! ([`json`]), strict unpadded base64url ([`base64url`]) and the decimal
//! conversion the JSON reader needs for numbers. Nothing here knows about
//! tokens or sessions.

pub mod base64url;
mod decimal;
pub mod json;

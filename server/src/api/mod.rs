//! The HTTP endpoints.

mod auth;
pub use auth::*;

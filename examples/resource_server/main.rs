//! A chat API (an OAuth resource server) that validates every bearer token
//! with the native crate — the same rules the browser applies — against an
//! identity provider's JWKS. The real-provider test tier
//! (`tests/provider/`) runs it next to the provider; it is also the
//! smallest whole example of "validate on your chat API".
//!
//! ```text
//! cargo run --example resource_server -- <issuer> <jwks_url> <audience> <page_origin> [dpop]
//! ```
//!
//! It prints `listening on http://127.0.0.1:<port>` and serves, on 127.0.0.1 only:
//! - `GET /api/echo`: `200 {"sub","exp"}` for a valid token; else `401` with
//!   `WWW-Authenticate: Bearer error="invalid_token"` and the chat-auth code.
//!   A DPoP-bound token (`cnf.jkt`) sent as `Bearer` is refused (`dpop_bound`).
//!   With `dpop` (RFC 9449) every token must be bound and come as
//!   `Authorization: DPoP <token>` with one `DPoP` proof, checked by
//!   `chat_auth::jose::dpop::validate_proof` (htm, htu, `ath`, `iat`, `cnf.jkt`,
//!   `jti` against an in-memory replay cache); refusals say
//!   `WWW-Authenticate: DPoP error="invalid_token"`;
//! - `GET /stats`: `{"requests","valid","proven","jkts","refused":{code: n}}`
//!   (`proven`: valid requests with a valid proof, `jkts` their keys'
//!   thumbprints; an `expired` refusal is a token that arrived after its `exp`);
//! - `OPTIONS`: the CORS preflight for `page_origin`.
//!
//! The JWKS is fetched at the first request and again when a token names a
//! `kid` it lacks (a key rotation), at most once a second.
//!
//! Native only: `wasm-pack test` builds every example for wasm32 too, and
//! there it compiles to an empty `main`.

#[cfg(not(target_arch = "wasm32"))]
mod server;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    server::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}

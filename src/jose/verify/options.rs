//! What a verification checks ([`VerifyOptions`]): the allow-list, the keys,
//! the claim rules and the limits, each field with its default. One struct
//! for every caller: the page's `validation.*`, `verifyToken`'s options and
//! the Rust [`Verifier`](super::Verifier) builder all fill it (the JSON
//! readers live in [`crate::options`]).

use crate::error::{Error, Result};
use crate::jose::algorithm::Algorithm;
use crate::jose::keys::{KeyMaterial, KeySource, VerifyingKey};
use crate::jose::token::DEFAULT_MAX_TOKEN_BYTES;
use crate::time::Millis;

/// Default clock leeway for `exp` / `nbf` / `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECONDS: f64 = 30.0;

/// Default claim compared with the customer id.
pub const DEFAULT_CUSTOMER_ID_CLAIM: &str = "sub";

/// The `typ` header values accepted (ASCII case-insensitive, rule 5).
pub const ACCEPTED_TYP: [&str; 3] = ["JWT", "at+jwt", "application/at+jwt"];

/// The allow-list of [`VerifyOptions::default`]: API.md's default for
/// `validation.algorithms`.
pub const DEFAULT_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::ES256,
    Algorithm::PS256,
    Algorithm::EdDSA,
];

/// Largest `now` accepted, in ms: the end of the JavaScript `Date` range.
pub const MAX_NOW_MS: f64 = 8.64e15;

/// Largest `leewaySeconds` the JSON readers accept: a day.
pub const MAX_LEEWAY_SECONDS: f64 = 86_400.0;

/// What a verification checks. Built by [`Verifier::builder`]
/// (Rust servers), by `VerifyOptions::from_json` (API.md `VerifyOptions`,
/// the JavaScript object JSON-encoded: `verifyToken`) or by the page's
/// `validation.*` options ([`crate::options::Config`]); hand-built values are
/// checked by [`VerifyOptions::validate`], which [`prepare`](super::prepare)
/// calls first (rule 1).
///
/// [`Verifier::builder`]: super::Verifier::builder
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// `algorithms`: the allow-list of header `alg` values. Default
    /// [`DEFAULT_ALGORITHMS`] (`RS256`, `ES256`, `PS256`, `EdDSA`; the page's
    /// default; `verifyToken` requires the option). Must not be empty. `none`
    /// cannot be represented: the JSON readers refuse it in any spelling.
    pub algorithms: Vec<Algorithm>,
    /// The keys: `publicKey` (→ [`KeySource::Key`]), `jwks` (→
    /// [`KeySource::Jwks`]), `secret` (→ [`KeySource::Key`] holding
    /// [`KeyMaterial::Secret`]; `verifyToken` only) or `jwksUrl` (→
    /// [`KeySource::JwksUrl`], fetched by the session's host; page only).
    /// Default `None`: claims only — [`prepare`](super::prepare) refuses it
    /// with `invalid_config`, [`check_claims`](super::check_claims) works.
    pub key: Option<KeySource>,
    /// `issuer`: required `iss`, compared by exact code points. Default
    /// `None` (not checked); must not be empty.
    pub issuer: Option<String>,
    /// `audience`: `aud` must share at least one value. Default `None` (not
    /// checked); a string is a one-element list; must not be empty, nor hold
    /// an empty string.
    pub audience: Option<Vec<String>>,
    /// `customerId`: the value the customer-id claim must equal. Default
    /// `None` (not checked; a session sets its customer's id); must not be
    /// empty.
    pub customer_id: Option<String>,
    /// `customerIdClaim`: the claim compared with `customer_id`. Default
    /// `Some("sub")` ([`DEFAULT_CUSTOMER_ID_CLAIM`]); JSON `null` gives
    /// `None`, which turns the comparison off; must not be empty.
    pub customer_id_claim: Option<String>,
    /// `leewaySeconds`: clock leeway for `exp` / `nbf` / `iat`. Default 30
    /// ([`DEFAULT_LEEWAY_SECONDS`]); must be from 0 to
    /// [`MAX_LEEWAY_SECONDS`] (a day).
    pub leeway_seconds: f64,
    /// `now`: the time in ms since the epoch. Default `None`: the caller's
    /// `now_ms` is used; when set it overrides it.
    pub now_ms: Option<Millis>,
    /// `maxTokenBytes`: longer tokens are `token_too_large`. Default 16384
    /// ([`DEFAULT_MAX_TOKEN_BYTES`]); must be from 1 to 2^32 − 1.
    pub max_token_bytes: usize,
    /// `typ`: when set, the header must carry a `typ` naming the same media
    /// type (ASCII case-insensitive; `application/` may be omitted on either
    /// side, RFC 7515 §4.1.9). Default `None`; must be one of
    /// [`ACCEPTED_TYP`].
    pub typ: Option<String>,
}

impl Default for VerifyOptions {
    /// [`DEFAULT_ALGORITHMS`], no key (claims only), every other field at its
    /// documented default.
    fn default() -> VerifyOptions {
        VerifyOptions::new(DEFAULT_ALGORITHMS.to_vec(), None)
    }
}

fn invalid(key: &str, problem: &'static str) -> Error {
    Error::invalid_config(key, problem)
}

impl VerifyOptions {
    /// Options with the given allow-list and key, everything else default.
    pub fn new(algorithms: Vec<Algorithm>, key: Option<KeySource>) -> VerifyOptions {
        VerifyOptions {
            algorithms,
            key,
            issuer: None,
            audience: None,
            customer_id: None,
            customer_id_claim: Some(DEFAULT_CUSTOMER_ID_CLAIM.to_owned()),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            now_ms: None,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            typ: None,
        }
    }

    /// Whether signatures are checked: a key (or a JWK Set URL) is set.
    pub fn checks_signatures(&self) -> bool {
        self.key.is_some()
    }

    /// Rule 1 for options built by hand: a non-empty allow-list, a key
    /// source with at least one key, every key usable (RSA ≥ 2048 bits, HMAC
    /// secret ≥ 32 bytes, …), non-empty
    /// `issuer`/`audience`/`customerId`/`customerIdClaim`, a leeway from 0 to
    /// [`MAX_LEEWAY_SECONDS`], `maxTokenBytes` from 1 to 2^32 − 1, an
    /// accepted `typ`. Else `invalid_config`. Whether the allow-list fits
    /// the keys is not judged here: a token whose `alg` fits no key is
    /// `key_type_mismatch` (rule 6).
    pub fn validate(&self) -> Result<()> {
        if self.algorithms.is_empty() {
            return Err(invalid("algorithms", "must list at least one algorithm"));
        }
        if let Some(source) = &self.key {
            let option = match source {
                // Fetched by the host, then checked as a `jwks`.
                KeySource::JwksUrl(_) => return self.validate_rest(),
                KeySource::Jwks(_) => "jwks",
                KeySource::Key(VerifyingKey {
                    material: KeyMaterial::Secret(_),
                    ..
                }) => "secret",
                KeySource::Key(_) => "publicKey",
            };
            if source.keys().is_empty() {
                return Err(invalid(option, "has no usable key"));
            }
            for key in source.keys() {
                key.material
                    .check()
                    .map_err(|problem| invalid(option, problem))?;
            }
            // An allow-list that fits none of the keys is left to rules 4
            // and 6 (`alg_not_allowed` / `key_type_mismatch`): API.md's rule
            // 1 names only unusable keys, `none` and empty issuer/audience.
        }
        self.validate_rest()
    }

    fn validate_rest(&self) -> Result<()> {
        self.validate_claim_rules()?;
        // The JSON readers' bounds, so the builder refuses what `from_json`
        // refuses (rule 1 is the same on every path).
        if self.max_token_bytes == 0 || self.max_token_bytes as u64 > u64::from(u32::MAX) {
            return Err(invalid(
                "maxTokenBytes",
                "must be an integer from 1 to 4294967295",
            ));
        }
        if let Some(typ) = &self.typ {
            if !accepted_typ(typ) {
                return Err(invalid("typ", "must be JWT, at+jwt or application/at+jwt"));
            }
        }
        Ok(())
    }

    pub(super) fn validate_claim_rules(&self) -> Result<()> {
        if self.issuer.as_deref() == Some("") {
            return Err(invalid("issuer", "must not be empty"));
        }
        if let Some(aud) = &self.audience {
            if aud.is_empty() || aud.iter().any(String::is_empty) {
                return Err(invalid("audience", "must not be empty"));
            }
        }
        if self.customer_id.as_deref() == Some("") {
            return Err(invalid("customerId", "must not be empty"));
        }
        if self.customer_id_claim.as_deref() == Some("") {
            return Err(invalid("customerIdClaim", "must not be empty"));
        }
        // A leeway past a day would keep an expired token alive that long;
        // the JSON readers refuse it, and so does every other path.
        if !(0.0..=MAX_LEEWAY_SECONDS).contains(&self.leeway_seconds) {
            return Err(invalid("leewaySeconds", "must be a number from 0 to 86400"));
        }
        Ok(())
    }
}

pub(super) fn accepted_typ(typ: &str) -> bool {
    ACCEPTED_TYP.iter().any(|a| a.eq_ignore_ascii_case(typ))
}

/// A media type without an optional `application/` prefix (RFC 7515 §4.1.9).
pub(super) fn media_subtype(typ: &str) -> &str {
    const PREFIX: &[u8] = b"application/";
    match typ.as_bytes().get(..PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(PREFIX) => typ.get(PREFIX.len()..).unwrap_or(typ),
        _ => typ,
    }
}

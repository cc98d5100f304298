//! Where keys come from ([`KeySource`]) and which key verifies a token
//! ([`select`], rule 6).

use super::material::VerifyingKey;
use crate::error::{Error, ErrorCode, Result};
use crate::jose::algorithm::Algorithm;
use crate::wire::json::Value;

/// Where verification keys come from.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum KeySource {
    /// One key: a PEM public key or certificate (`publicKey`) or an HMAC
    /// secret (`secret`). Only its type is matched against `alg`.
    Key(VerifyingKey),
    /// A JWK Set (`jwks`): keys are selected by `kid`.
    Jwks(Vec<VerifyingKey>),
    /// A JWK Set to fetch (`validation.jwksUrl`): the session's host fetches
    /// it and verifies with the [`KeySource::Jwks`] it holds. Selects no
    /// key by itself (`unknown_key`).
    JwksUrl(String),
}

impl KeySource {
    /// Every key of the source.
    pub fn keys(&self) -> &[VerifyingKey] {
        match self {
            KeySource::Key(k) => std::slice::from_ref(k),
            KeySource::Jwks(keys) => keys,
            KeySource::JwksUrl(_) => &[],
        }
    }
}

/// Selects the key for a token (rule 6).
///
/// `kid` is the header's `kid` member as written (any JSON value), `alg` the
/// header's allowed algorithm. For a single key, only its type is checked
/// (`key_type_mismatch`); `kid` is ignored. For a JWKS: a `kid` selects the
/// keys whose `kid` is exactly that string (a non-string `kid` matches none),
/// else `unknown_key`; without `kid`, only a one-key set is usable, else
/// `unknown_key`. Of the selected keys the first that [`VerifyingKey::fits`]
/// `alg` is used, else `key_type_mismatch`. The `jku`, `x5u`, `jwk` and
/// `x5c` headers are never consulted.
pub fn select<'k>(
    source: &'k KeySource,
    kid: Option<&Value>,
    alg: Algorithm,
) -> Result<&'k VerifyingKey> {
    let mismatch = || {
        Error::new(
            ErrorCode::KeyTypeMismatch,
            "the key does not fit the token's alg",
        )
    };
    match source {
        KeySource::Key(key) => {
            if key.fits(alg) {
                Ok(key)
            } else {
                Err(mismatch())
            }
        }
        KeySource::JwksUrl(_) => Err(Error::new(
            ErrorCode::UnknownKey,
            "the JWK Set has not been fetched",
        )),
        KeySource::Jwks(keys) => {
            let mut found = false;
            let mut pick = |key: &'k VerifyingKey| {
                found = true;
                key.fits(alg)
            };
            let chosen = match kid {
                Some(kid) => {
                    let wanted = kid.as_str();
                    keys.iter()
                        .filter(|k| wanted.is_some() && k.kid.as_deref() == wanted)
                        .find(|k| pick(k))
                }
                None => match keys.as_slice() {
                    [only] => Some(only).filter(|k| pick(k)),
                    _ => None,
                },
            };
            match chosen {
                Some(key) => Ok(key),
                None if found => Err(mismatch()),
                None if kid.is_some() => Err(Error::new(
                    ErrorCode::UnknownKey,
                    "no key in the JWKS has the token's kid",
                )),
                None => Err(Error::new(
                    ErrorCode::UnknownKey,
                    "the token has no kid and the JWKS holds more than one key",
                )),
            }
        }
    }
}

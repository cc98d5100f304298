//! The verification options, read from JSON into the one typed
//! [`VerifyOptions`]: the page's `validation.*` ([`read_validation`]) and
//! `verifyToken`'s options object (`VerifyOptions::from_json`, below). Both
//! read the shared members — `algorithms` (the one `none` refusal), the key
//! options, `issuer`, `audience`, `customerIdClaim`, `leewaySeconds` — with
//! the same functions; only which members each takes, whether `null` means
//! "not set", and what is required differ.

use super::reader::Fields;
use crate::error::Result;
use crate::jose::algorithm::Algorithm;
use crate::jose::keys::{self, KeySource, VerifyingKey};
use crate::jose::verify::{VerifyOptions, MAX_LEEWAY_SECONDS, MAX_NOW_MS};
use crate::time::Millis;
use crate::wire::json::{Object, Value};

/// The members of `validation.*` (`ValidationOptions` in the `.d.ts`).
pub const VALIDATION_OPTIONS: [&str; 8] = [
    "customerIdClaim",
    "issuer",
    "audience",
    "algorithms",
    "publicKey",
    "jwks",
    "jwksUrl",
    "leewaySeconds",
];

/// The members of `verifyToken`'s options (API.md `VerifyOptions`, the
/// `.d.ts`'s `VerifyOptions`).
pub const VERIFY_TOKEN_OPTIONS: [&str; 12] = [
    "algorithms",
    "publicKey",
    "jwks",
    "secret",
    "issuer",
    "audience",
    "customerId",
    "customerIdClaim",
    "leewaySeconds",
    "now",
    "maxTokenBytes",
    "typ",
];

/// The key options; at most one may be set (each object admits its own).
const KEY_OPTIONS: [&str; 4] = ["publicKey", "jwks", "secret", "jwksUrl"];

/// `validation.*` (members named `validation.…`; `null` is "not set") over
/// the defaults of [`VerifyOptions::default`]. Keys are parsed here, once:
/// an unusable `publicKey` or `jwks` is `invalid_config` with the options.
pub(crate) fn read_validation(v: &Fields<'_>) -> Result<VerifyOptions> {
    v.only(&VALIDATION_OPTIONS)?;
    let mut out = VerifyOptions::default();
    read_shared(v, &mut out)?;
    Ok(out)
}

/// The members both objects take.
fn read_shared(f: &Fields<'_>, out: &mut VerifyOptions) -> Result<()> {
    if let Some(algorithms) = read_algorithms(f)? {
        out.algorithms = algorithms;
    }
    out.key = read_key(f)?;
    out.issuer = f.string("issuer")?;
    out.audience = f.strings("audience")?;
    match f.raw("customerIdClaim") {
        None => {}
        Some(Value::Null) => out.customer_id_claim = None,
        Some(_) => out.customer_id_claim = f.string("customerIdClaim")?,
    }
    if let Some(leeway) = f.number("leewaySeconds", 0.0, MAX_LEEWAY_SECONDS)? {
        out.leeway_seconds = leeway;
    }
    Ok(())
}

/// `algorithms`: a non-empty array of algorithm names (case-sensitive,
/// duplicates dropped). `none`, in any spelling, is refused here and only
/// here: no [`Algorithm`] can name it.
fn read_algorithms(f: &Fields<'_>) -> Result<Option<Vec<Algorithm>>> {
    const NAME: &str = "algorithms";
    let Some(value) = f.get(NAME) else {
        return Ok(None);
    };
    let not_names = || f.fail(NAME, "must be a non-empty array of algorithm names");
    let items = value
        .as_array()
        .filter(|items| !items.is_empty())
        .ok_or_else(not_names)?;
    let mut out: Vec<Algorithm> = Vec::with_capacity(items.len());
    for item in items {
        let name = item.as_str().ok_or_else(not_names)?;
        if name.eq_ignore_ascii_case("none") {
            return Err(f.fail(NAME, "may never allow 'none'"));
        }
        let alg = Algorithm::parse(name).ok_or_else(|| {
            f.fail(
                NAME,
                "has an unknown algorithm (names are case-sensitive: HS256 … PS512, ES256, ES384, EdDSA)",
            )
        })?;
        if !out.contains(&alg) {
            out.push(alg);
        }
    }
    Ok(Some(out))
}

/// The key option set, parsed: `publicKey` (PEM), `jwks` (a JWK Set
/// object), `secret` (a string whose UTF-8 bytes are the HMAC key) or
/// `jwksUrl` (an http(s) URL to fetch); a second one is `invalid_config`.
fn read_key(f: &Fields<'_>) -> Result<Option<KeySource>> {
    let mut key = None;
    for name in KEY_OPTIONS {
        let Some(value) = f.get(name) else {
            continue;
        };
        if key.is_some() {
            return Err(f.fail(
                name,
                "cannot be combined with another key option (publicKey, jwks, secret, jwksUrl)",
            ));
        }
        key = Some(match (name, value) {
            ("publicKey", Value::String(pem)) => {
                KeySource::Key(VerifyingKey::from_pem(pem, &f.path(name))?)
            }
            ("publicKey", _) => return Err(f.fail(name, "must be a PEM string")),
            ("jwks", Value::Object(set)) => KeySource::Jwks(keys::parse_jwks(set, &f.path(name))?),
            ("jwks", _) => return Err(f.fail(name, "must be a JWK Set object")),
            ("secret", Value::String(s)) => {
                KeySource::Key(VerifyingKey::from_secret(s.as_bytes(), &f.path(name))?)
            }
            ("secret", _) => return Err(f.fail(name, "must be a string")),
            _ => KeySource::JwksUrl(f.url(name)?.unwrap_or_default()),
        });
    }
    Ok(key)
}

impl VerifyOptions {
    /// Reads API.md's `VerifyOptions` from a JSON object (`verifyToken` on
    /// both targets: the browser passes `JSON.stringify(options)`). Keys are
    /// exactly `algorithms`, `publicKey`, `jwks`, `secret`, `issuer`,
    /// `audience`, `customerId`, `customerIdClaim`, `leewaySeconds`, `now`,
    /// `maxTokenBytes`, `typ`; an unknown key, a wrong type or an unusable
    /// value is `invalid_config` naming the key. `algorithms` and exactly one
    /// of `publicKey` (PEM), `jwks` (JWK Set object) and `secret` (a string
    /// whose UTF-8 bytes are the HMAC key) are required. `null` is accepted
    /// only for `customerIdClaim`. Defaults as [`VerifyOptions`]' fields
    /// state them. (Defined here, in the options layer, beside the page's
    /// `validation.*` reader it shares its field functions with.)
    pub fn from_json(options: &Object) -> Result<VerifyOptions> {
        let f = Fields::new(options, "", false);
        f.only(&VERIFY_TOKEN_OPTIONS)?;
        if f.raw("algorithms").is_none() {
            return Err(f.fail("algorithms", "is required"));
        }
        let mut o = VerifyOptions::default();
        read_shared(&f, &mut o)?;
        if o.key.is_none() {
            return Err(f.fail("publicKey", "(or 'jwks' or 'secret') is required"));
        }
        o.customer_id = f.string("customerId")?;
        o.now_ms = match f.get("now") {
            None => None,
            Some(Value::Number(n)) if (0.0..=MAX_NOW_MS).contains(n) => Some(n.floor() as Millis),
            Some(_) => return Err(f.fail("now", "must be a time in ms since the epoch")),
        };
        match f.get("maxTokenBytes") {
            None => {}
            Some(Value::Number(n))
                if (1.0..=f64::from(u32::MAX)).contains(n) && n.fract() == 0.0 =>
            {
                o.max_token_bytes = *n as usize
            }
            Some(_) => {
                return Err(f.fail("maxTokenBytes", "must be an integer from 1 to 4294967295"))
            }
        }
        o.typ = match f.get("typ") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(f.fail("typ", "must be a string")),
        };
        o.validate()?;
        Ok(o)
    }
}

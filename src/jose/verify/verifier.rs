//! The typed API a Rust server verifies with: [`Verifier::builder`] fills a
//! [`VerifyOptions`] field by field (no JSON), [`Verifier::verify`] runs
//! rules 1–10 and returns the token's [`Claims`]. The JSON path
//! ([`Verifier::from_json`]) reads the same options as `verifyToken`.

use super::{verify_token_with, SignatureVerifier, VerifyOptions};
use crate::error::{Error, Result};
use crate::jose::algorithm::Algorithm;
use crate::jose::keys::{self, KeySource, VerifyingKey};
use crate::jose::token::Claims;
use crate::time::Millis;
use crate::wire::json::{self, Object};

/// Verifies access tokens under one set of [`VerifyOptions`] (API.md
/// "Verification rules" 1–10, exactly as the browser SDK does). Cheap to
/// clone; build once, verify every request with it.
///
/// ```
/// use chat_auth::jose::{Algorithm, Verifier};
/// use chat_auth::ErrorCode;
///
/// # #[cfg(not(target_arch = "wasm32"))] // `verify` is native (WebCrypto in the browser)
/// # fn main() -> chat_auth::Result<()> {
/// let jwk_set = r#"{"keys":[{"kty":"oct","k":"YW4gZXhhbXBsZSBzZWNyZXQgb2YgYXQgbGVhc3QgMzIgYnl0ZXM"}]}"#;
/// let verifier = Verifier::builder()
///     .algorithms([Algorithm::HS256])
///     .jwks(jwk_set)?
///     .issuer("https://auth.example.com")
///     .audience(["chat-api", "chat"])
///     .build()?;
/// let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
///     eyJzdWIiOiJjXzhmM2E5YjJlIiwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1wbGUuY29tIiwiZXhwIjoyMDAwMDAwMDAwfQ.\
///     XuNPkZ4olxaucIoPPNcQRQTAPW9u7V19ZWpDCAqeD7I";
/// // This token has no `aud`: the audience rule refuses it.
/// let err = verifier.verify(token, 1_900_000_000_000).unwrap_err();
/// assert_eq!(err.code(), ErrorCode::AudienceMismatch);
///
/// let verifier = Verifier::builder()
///     .algorithms([Algorithm::HS256])
///     .jwks(jwk_set)?
///     .issuer("https://auth.example.com")
///     .build()?;
/// let claims = verifier.verify(token, 1_900_000_000_000)?;
/// assert_eq!(claims.sub(), Some("c_8f3a9b2e"));
/// assert_eq!(claims.exp(), Some(2_000_000_000.0));
/// # Ok(())
/// # }
/// # #[cfg(target_arch = "wasm32")]
/// # fn main() {}
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    options: VerifyOptions,
}

impl Verifier {
    /// A builder starting from [`VerifyOptions::default`]: the allow-list
    /// [`DEFAULT_ALGORITHMS`](super::DEFAULT_ALGORITHMS), no key (one is
    /// required by [`VerifierBuilder::build`]), issuer, audience and
    /// customer id not checked, 30 s leeway, 16384-byte tokens, any `typ`.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder {
            options: VerifyOptions::default(),
        }
    }

    /// A verifier for options built elsewhere: rule 1
    /// ([`VerifyOptions::validate`]) and a key that verifies by itself (a
    /// `publicKey`, `jwks` or `secret`; not `jwksUrl`), else
    /// `invalid_config`.
    pub fn from_options(options: VerifyOptions) -> Result<Verifier> {
        options.validate()?;
        match &options.key {
            Some(KeySource::Key(_) | KeySource::Jwks(_)) => Ok(Verifier { options }),
            Some(_) => Err(Error::invalid_config(
                "jwksUrl",
                "is fetched by the browser SDK; give the JWK Set itself",
            )),
            None => Err(Error::invalid_config(
                "publicKey",
                "(or 'jwks' or 'secret') is required to verify a signature",
            )),
        }
    }

    /// A verifier for API.md's `VerifyOptions` as JSON (what `verifyToken`
    /// takes; the reader is `VerifyOptions::from_json`, in
    /// [`crate::options`]). For tests and configuration files; code should
    /// prefer [`Verifier::builder`].
    ///
    /// ```
    /// use chat_auth::jose::Verifier;
    /// use chat_auth::wire::json;
    ///
    /// let options = json::parse_object(br#"{"algorithms":["HS256"],
    ///     "secret":"an example secret of at least 32 bytes"}"#).unwrap();
    /// assert!(Verifier::from_json(&options).is_ok());
    /// let none = json::parse_object(br#"{"algorithms":["none"],"secret":"x"}"#).unwrap();
    /// let err = Verifier::from_json(&none).unwrap_err();
    /// assert_eq!(err.code().as_str(), "invalid_config");
    /// assert!(err.message().starts_with("option 'algorithms' "));
    /// ```
    pub fn from_json(options: &Object) -> Result<Verifier> {
        Verifier::from_options(VerifyOptions::from_json(options)?)
    }

    /// The options this verifier checks.
    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// Verifies `token` at `now_ms` (ms since the epoch; a `now` in the
    /// options wins) with jsonwebtoken's signature backend: its claims, or
    /// the first rule it breaks as an [`Error`] with its stable code
    /// (`alg_not_allowed`, `bad_signature`, `expired`, `issuer_mismatch`, …;
    /// see [`ErrorCode`](crate::ErrorCode)). Native builds only.
    ///
    /// ```
    /// use chat_auth::jose::{Algorithm, Verifier};
    /// use chat_auth::ErrorCode;
    ///
    /// let verifier = Verifier::builder()
    ///     .algorithms([Algorithm::HS256])
    ///     .secret(b"an example secret of at least 32 bytes")
    ///     .unwrap()
    ///     .build()
    ///     .unwrap();
    /// let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
    ///     eyJzdWIiOiJjXzhmM2E5YjJlIiwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1wbGUuY29tIiwiZXhwIjoyMDAwMDAwMDAwfQ.\
    ///     XuNPkZ4olxaucIoPPNcQRQTAPW9u7V19ZWpDCAqeD7I";
    /// // exp is 2000000000; with the default 30 s leeway it expires 30 s later.
    /// assert!(verifier.verify(token, 2_000_000_029_999).is_ok());
    /// let err = verifier.verify(token, 2_000_000_030_000).unwrap_err();
    /// assert_eq!(err.code(), ErrorCode::Expired);
    /// let tampered = token.replace("XuNP", "XuNQ");
    /// let err = verifier.verify(&tampered, 1_900_000_000_000).unwrap_err();
    /// assert_eq!(err.code(), ErrorCode::BadSignature);
    /// ```
    #[cfg(not(target_arch = "wasm32"))]
    pub fn verify(&self, token: &str, now_ms: Millis) -> Result<Claims> {
        self.verify_with(token, now_ms, &super::NativeVerifier)
    }

    /// [`Verifier::verify`] with another signature backend.
    pub fn verify_with(
        &self,
        token: &str,
        now_ms: Millis,
        backend: &dyn SignatureVerifier,
    ) -> Result<Claims> {
        verify_token_with(token, &self.options, now_ms, backend)
    }
}

/// Builds a [`Verifier`]: each setter fills one [`VerifyOptions`] field
/// (whose doc states its default); the key setters that parse return
/// `invalid_config` naming the option (`jwks`, `publicKey`, `secret`) at
/// once; [`VerifierBuilder::build`] checks the rest (rule 1).
#[derive(Clone, Debug)]
#[must_use]
pub struct VerifierBuilder {
    options: VerifyOptions,
}

impl VerifierBuilder {
    /// The allow-list of header `alg` values ([`VerifyOptions::algorithms`];
    /// default [`DEFAULT_ALGORITHMS`](super::DEFAULT_ALGORITHMS); duplicates
    /// are dropped; must not be empty). `none` has no [`Algorithm`].
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        let mut list = Vec::new();
        for alg in algorithms {
            if !list.contains(&alg) {
                list.push(alg);
            }
        }
        self.options.algorithms = list;
        self
    }

    /// A JWK Set document (JSON text, as a `jwks_uri` serves it): keys are
    /// selected by `kid`. `invalid_config` naming `jwks` when it is not a
    /// JWK Set or holds no usable key. Like every key setter, it replaces
    /// the key set before (default: none, which [`build`] refuses).
    ///
    /// [`build`]: VerifierBuilder::build
    pub fn jwks(self, jwk_set: &str) -> Result<Self> {
        let set = json::parse_object(jwk_set.as_bytes())
            .map_err(|_| Error::invalid_config("jwks", "must be a JWK Set object"))?;
        Ok(self.keys(keys::parse_jwks(&set, "jwks")?))
    }

    /// Keys already parsed or built, as a set: selected by `kid`
    /// ([`KeySource::Jwks`]); [`build`](VerifierBuilder::build) checks each
    /// (rule 1: `invalid_config` naming `jwks`).
    pub fn keys(mut self, keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        self.options.key = Some(KeySource::Jwks(keys.into_iter().collect()));
        self
    }

    /// One key, used for every token whose `alg` it fits, whatever its
    /// `kid` ([`KeySource::Key`]); [`build`](VerifierBuilder::build) checks
    /// it (rule 1).
    pub fn key(mut self, key: VerifyingKey) -> Self {
        self.options.key = Some(KeySource::Key(key));
        self
    }

    /// A PEM public key or certificate (`publicKey`, [`KeySource::Key`]):
    /// `invalid_config` naming `publicKey` when it does not parse or is too
    /// weak.
    pub fn public_key_pem(self, pem: &str) -> Result<Self> {
        Ok(self.key(VerifyingKey::from_pem(pem, "publicKey")?))
    }

    /// An HMAC secret (`secret`, [`KeySource::Key`]; at least
    /// [`MIN_SECRET_BYTES`](crate::jose::keys::MIN_SECRET_BYTES) bytes, else
    /// `invalid_config` naming `secret`). Allow an `HS*` algorithm too: the
    /// default allow-list has none.
    pub fn secret(self, secret: &[u8]) -> Result<Self> {
        Ok(self.key(VerifyingKey::from_secret(secret, "secret")?))
    }

    /// The required `iss` ([`VerifyOptions::issuer`]; default not
    /// checked; must not be empty).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.options.issuer = Some(issuer.into());
        self
    }

    /// The accepted audiences: `aud` must share one
    /// ([`VerifyOptions::audience`]; default not checked; must not be
    /// empty, nor hold an empty string).
    pub fn audience<S: Into<String>>(mut self, audience: impl IntoIterator<Item = S>) -> Self {
        self.options.audience = Some(audience.into_iter().map(Into::into).collect());
        self
    }

    /// The value the customer-id claim must equal
    /// ([`VerifyOptions::customer_id`]; default not checked).
    pub fn customer_id(mut self, customer_id: impl Into<String>) -> Self {
        self.options.customer_id = Some(customer_id.into());
        self
    }

    /// The claim compared with the customer id, `None` to compare none
    /// ([`VerifyOptions::customer_id_claim`]; default `sub`).
    pub fn customer_id_claim(mut self, claim: Option<&str>) -> Self {
        self.options.customer_id_claim = claim.map(str::to_owned);
        self
    }

    /// Clock leeway for `exp` / `nbf` / `iat` in seconds
    /// ([`VerifyOptions::leeway_seconds`]; default 30; [`build`] refuses
    /// one outside 0 … 86400).
    ///
    /// [`build`]: VerifierBuilder::build
    pub fn leeway_seconds(mut self, seconds: f64) -> Self {
        self.options.leeway_seconds = seconds;
        self
    }

    /// Longest token accepted, in bytes ([`VerifyOptions::max_token_bytes`];
    /// default 16384; from 1 to 2^32 − 1).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.options.max_token_bytes = bytes;
        self
    }

    /// The `typ` the header must name, e.g. `at+jwt` (RFC 9068)
    /// ([`VerifyOptions::typ`]; default any accepted `typ`, or none).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.options.typ = Some(typ.into());
        self
    }

    /// The verifier, after rule 1 ([`Verifier::from_options`]):
    /// `invalid_config` naming the option for an empty allow-list, no key,
    /// an empty issuer or audience, a negative leeway, an unknown `typ`, ….
    ///
    /// ```
    /// use chat_auth::jose::{Algorithm, Verifier};
    ///
    /// let no_key = Verifier::builder().algorithms([Algorithm::ES256]).build();
    /// assert_eq!(no_key.unwrap_err().code().as_str(), "invalid_config");
    /// let err = Verifier::builder()
    ///     .secret(b"an example secret of at least 32 bytes")
    ///     .unwrap()
    ///     .issuer("")
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.message(), "option 'issuer' must not be empty");
    /// ```
    pub fn build(self) -> Result<Verifier> {
        Verifier::from_options(self.options)
    }
}

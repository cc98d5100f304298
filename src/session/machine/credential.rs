//! A [`Credential`]: a token the session holds, with its times and
//! headers.

use super::*;

/// A token that passed every check, ready to be attached to requests.
/// `Debug` prints the extra headers' names only (their values may be
/// credentials) and not the payload text.
#[derive(Clone, PartialEq)]
pub struct Credential {
    /// The access token.
    pub token: SecretString,
    /// The `Authorization` scheme (`Bearer` unless the context said otherwise).
    pub scheme: String,
    /// Extra headers from the context.
    pub headers: Vec<(String, String)>,
    /// JWT claims, `None` for opaque tokens.
    pub claims: Option<Claims>,
    /// The JWT payload as JSON text, for hosts that hand claims out.
    pub claims_json: Option<String>,
    /// When it was received, page clock.
    pub received_at: Millis,
    /// When it expires, page clock (issuer clock offset applied); `None` when
    /// unknown (an opaque token with no expiry).
    pub expires_at: Option<Millis>,
    /// Estimated issuer clock minus page clock.
    pub clock_offset: Millis,
    /// The session's evidence of the issuer's clock once this answer was
    /// judged, for the session to keep; another tab's (or a stored) token
    /// brings only the lead agreed on ([`crate::session::admit::restore`]).
    pub clock_evidence: ClockEvidence,
    /// The refresh token that came with it, if any.
    pub refresh_token: Option<SecretString>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Credential")
            .field("token", &self.token)
            .field("scheme", &self.scheme)
            .field("header_names", &names)
            .field("claims", &self.claims)
            .field("received_at", &self.received_at)
            .field("expires_at", &self.expires_at)
            .field("clock_offset", &self.clock_offset)
            .field("clock_evidence", &self.clock_evidence)
            .field("refresh_token", &self.refresh_token)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// Whether the token may still be sent at `now`.
    pub fn is_valid_at(&self, now: Millis) -> bool {
        self.expires_at.is_none_or(|exp| now < exp)
    }
}

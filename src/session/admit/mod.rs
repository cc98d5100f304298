//! Admits a provider's (or token endpoint's) answer into a session: API.md
//! "A context is refused … when". Pure: the shell checks the signature in
//! between (WebCrypto in the browser, jsonwebtoken natively) and hands in the
//! introspection result for opaque tokens.
//!
//! Order: shape (`malformed`), token structure (rules 2–5), [signature,
//! by the shell], claims (rule 8), time with the issuer clock offset applied
//! (rule 9), issuer / audience / customer claim (rule 10), then
//! `token_unchanged` for `needsRefresh` answers, then expiry.

use crate::error::{Error, ErrorCode, Result};
use crate::jose::token::{self, Claims, Jwt};
use crate::jose::verify;
use crate::secret::SecretString;
use crate::session::context::{self, Context};
use crate::session::machine::Credential;
use crate::session::schedule;
use crate::time::Millis;
use crate::wire::json;

/// What the session knows when an answer arrives.
#[derive(Clone, Copy, Debug)]
pub struct Rules<'a> {
    /// `validation.*` (the claim rules; the key and allow-list are the
    /// signature check's, before admission).
    pub validation: &'a verify::VerifyOptions,
    /// The customer the token must belong to.
    pub customer_id: &'a str,
    /// The token the server refused last, if any.
    pub refused: Option<&'a SecretString>,
    /// Whether the call said `needsRefresh`.
    pub needs_refresh: bool,
    /// When the call this answers went out ([`crate::session::machine::Call`]'s
    /// `started_at`), if known: bounds how far ahead of the issuer the page
    /// clock can be judged to run.
    pub asked_at: Option<Millis>,
    /// What the session saw of the issuer's clock before this answer
    /// ([`crate::session::machine::Session::clock_evidence`]).
    pub clock: schedule::ClockEvidence,
}

/// An introspection answer (RFC 7662 `active`, `exp`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Introspection {
    /// `active`.
    pub active: bool,
    /// `exp` in seconds.
    pub exp: Option<f64>,
}

/// An answer read and structurally checked, awaiting the signature check.
#[derive(Debug)]
pub struct Candidate {
    context: Context,
    jwt: Option<Jwt>,
    server_date: Option<Millis>,
}

impl Candidate {
    /// Reads an answer (JSON text of a context or an OAuth token response).
    pub fn read(json_text: &str) -> Result<Candidate> {
        let object = json::parse_object(json_text.as_bytes())
            .map_err(|_| Error::malformed("the context is not a JSON object"))?;
        Candidate::from_context(context::parse(&object)?)
    }

    fn from_context(context: Context) -> Result<Candidate> {
        let token = context.token.secret();
        let jwt = if token::looks_like_jwt(token) {
            Some(Jwt::parse(token, token::DEFAULT_MAX_TOKEN_BYTES)?)
        } else {
            None
        };
        Ok(Candidate {
            context,
            jwt,
            server_date: None,
        })
    }

    /// The same answer with the `Date` header of the HTTP response that
    /// carried it (token endpoint), which tells the issuer's clock even for
    /// a JWT without `iat`.
    pub fn with_server_date(mut self, date: Option<Millis>) -> Candidate {
        self.server_date = date;
        self
    }

    /// The access token.
    pub fn token(&self) -> &str {
        self.context.token.secret()
    }

    /// Whether this is a JWT.
    pub fn is_jwt(&self) -> bool {
        self.jwt.is_some()
    }

    /// Whether an introspection call must tell the expiry: an opaque token
    /// whose context gives neither `expires_in` nor `ExpiresAt`.
    pub fn needs_introspection(&self) -> bool {
        self.jwt.is_none() && self.context.expires_in.is_none() && self.context.expires_at.is_none()
    }

    /// Judges the answer received at `received_at` (page clock); the
    /// signature, when configured, was checked before. Returns the
    /// credential to hold, or the reason for refusal.
    pub fn admit(
        self,
        rules: &Rules<'_>,
        received_at: Millis,
        introspection: Option<Introspection>,
    ) -> Result<Credential> {
        let Candidate {
            context,
            jwt,
            server_date,
        } = self;
        let mut clock_offset = 0;
        let mut clock_evidence = rules.clock;
        let mut claims = None;
        let mut claims_json = None;
        let expires_at = match &jwt {
            Some(jwt) => {
                let (c, text) = jwt_claims(jwt)?;
                let issuer_offset = schedule::issuer_clock_offset(
                    c.iat,
                    server_date,
                    rules.asked_at.unwrap_or(received_at),
                    received_at,
                    &rules.clock,
                );
                clock_offset = issuer_offset.offset;
                clock_evidence = issuer_offset.evidence;
                // A token refused as expired still leaves its reading of the
                // issuer's clock: the next answer may agree with it.
                let expired = |e: Error| {
                    if e.code() == ErrorCode::Expired {
                        e.with_clock_evidence(issuer_offset.evidence)
                    } else {
                        e
                    }
                };
                verify::check_claims(
                    &c,
                    &session_verify_options(rules),
                    received_at.saturating_add(clock_offset),
                )
                .map_err(expired)?;
                let exp = c.exp.unwrap_or(0.0);
                claims_json = text;
                claims = Some(c);
                Some(schedule::corrected_expiry(exp, clock_offset))
            }
            None => {
                if let Some(i) = introspection {
                    if !i.active {
                        return Err(Error::new(ErrorCode::Expired, "the token is not active"));
                    }
                }
                let from_seconds = |s: f64| (s * 1000.0) as Millis;
                context
                    .expires_in
                    .map(|s| received_at.saturating_add(from_seconds(s)))
                    .or(context.expires_at.map(from_seconds))
                    .or(introspection.and_then(|i| i.exp).map(from_seconds))
            }
        };
        if rules.needs_refresh && rules.refused == Some(&context.token) {
            return Err(Error::new(
                ErrorCode::TokenUnchanged,
                "the provider returned the token that was just refused",
            ));
        }
        if let Some(exp) = expires_at {
            if received_at >= exp {
                return Err(
                    Error::new(ErrorCode::Expired, "the token has already expired")
                        .with_clock_evidence(clock_evidence),
                );
            }
        }
        let scheme = context.scheme().to_owned();
        Ok(Credential {
            token: context.token,
            scheme,
            headers: context.headers,
            claims,
            claims_json,
            received_at,
            expires_at,
            clock_offset,
            clock_evidence,
            refresh_token: context.refresh_token,
        })
    }
}

/// A JWT's claims (rule 8) and its payload as JSON text.
fn jwt_claims(jwt: &Jwt) -> Result<(Claims, Option<String>)> {
    let claims = Claims::parse(jwt.payload(), true)?;
    Ok((claims, String::from_utf8(jwt.payload().to_vec()).ok()))
}

/// A held credential as text, for another tab or `sessionStorage`: the
/// context it came from plus its timing, so [`restore`] reads it back with
/// the same parsers as a provider's answer. The page clock's lead over the
/// issuer, once agreed on, goes along: every tab runs on the same clock.
pub fn store(customer_id: &str, c: &Credential) -> String {
    store_with_refresh_token(customer_id, c, c.refresh_token.as_ref())
}

/// [`store`] with `refresh_token` in place of the credential's own (the
/// session's newest may have come with a later answer whose access token
/// was refused).
pub fn store_with_refresh_token(
    customer_id: &str,
    c: &Credential,
    refresh_token: Option<&SecretString>,
) -> String {
    let mut s = String::from("{\"customerId\":");
    json::write_string(&mut s, customer_id);
    s.push_str(",\"receivedAt\":");
    json::write_int(&mut s, c.received_at);
    if let Some(exp) = c.expires_at {
        s.push_str(",\"expiresAt\":");
        json::write_int(&mut s, exp);
    }
    if let Some(lead) = c.clock_evidence.agreed {
        s.push_str(",\"lead\":[");
        json::write_int(&mut s, lead.low);
        s.push(',');
        json::write_int(&mut s, lead.high);
        s.push(']');
    }
    s.push_str(",\"context\":{\"Auth\":{\"Token\":");
    json::write_string(&mut s, c.token.secret());
    s.push_str(",\"token_type\":");
    json::write_string(&mut s, &c.scheme);
    if let Some(r) = refresh_token {
        s.push_str(",\"refresh_token\":");
        json::write_string(&mut s, r.secret());
    }
    s.push_str(",\"Headers\":{");
    for (i, (k, v)) in c.headers.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        json::write_string(&mut s, k);
        s.push(':');
        json::write_string(&mut s, v);
    }
    s.push_str("}}}}");
    s
}

/// Reads [`store`]'s text back, for `customer_id` only: another customer's
/// credential, or anything that does not parse, is `None`. Expiry is not
/// judged here; the session does that against its clock.
pub fn restore(text: &str, customer_id: &str) -> Option<Credential> {
    let o = json::parse_object(text.as_bytes()).ok()?;
    if o.get_str("customerId") != Some(customer_id) {
        return None;
    }
    let received_at = o.get("receivedAt")?.as_f64()? as Millis;
    let expires_at = o
        .get("expiresAt")
        .and_then(json::Value::as_f64)
        .map(|e| e as Millis);
    // The agreed lead's range (a stamp matters only for a last reading).
    let agreed = match o.get("lead").and_then(json::Value::as_array) {
        Some([low, high]) => match (low.as_f64(), high.as_f64()) {
            (Some(low), Some(high)) if low <= high => Some(schedule::LeadReading {
                stamp_ms: 0,
                low: low as Millis,
                high: high as Millis,
            }),
            _ => None,
        },
        _ => None,
    };
    let context = context::parse(o.get("context")?.as_object()?).ok()?;
    let Candidate { context, jwt, .. } = Candidate::from_context(context).ok()?;
    let (claims, claims_json) = match &jwt {
        Some(jwt) => {
            let (c, text) = jwt_claims(jwt).ok()?;
            (Some(c), text)
        }
        None => (None, None),
    };
    let scheme = context.scheme().to_owned();
    Some(Credential {
        token: context.token,
        scheme,
        headers: context.headers,
        claims,
        claims_json,
        received_at,
        expires_at,
        clock_offset: 0,
        clock_evidence: schedule::ClockEvidence { last: None, agreed },
        refresh_token: context.refresh_token,
    })
}

/// The options a session verifies its contexts with: `validation.*` with
/// the session's customer as the required customer id.
pub fn session_verify_options(rules: &Rules<'_>) -> verify::VerifyOptions {
    let mut opts = rules.validation.clone();
    opts.customer_id = Some(rules.customer_id.to_owned());
    opts
}

#[cfg(test)]
mod tests;

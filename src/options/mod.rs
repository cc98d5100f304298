//! `ChatAuthOptions` (API.md), read from JSON in the core so both targets
//! read options the same way. The browser passes `JSON.stringify(options)`;
//! function-valued options (`contextProvider`, `userLoginHandler`, `now`) are
//! the shell's business and are only named here so they are not "unknown".
//!
//! One file per job: this one ([`Config`], the top-level options), `reader`
//! (the one field reader: every member read by one function, errors naming
//! the option's path), `validation` (`validation.*` and `verifyToken`'s
//! options, both into the one typed [`VerifyOptions`]), `session` (the
//! option types the session layer reads: [`RefreshPolicy`], [`GrantParams`]).

mod reader;
mod session;
mod validation;

pub use session::{GrantParams, RefreshPolicy};
pub use validation::{VALIDATION_OPTIONS, VERIFY_TOKEN_OPTIONS};

use crate::error::{Error, Result};
use crate::jose::verify::VerifyOptions;
use crate::wire::json::{Object, Value};
use reader::Fields;

/// Where a token may survive a page load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Storage {
    /// Memory only (default).
    #[default]
    Memory,
    /// `sessionStorage` (never `localStorage`).
    Session,
}

/// Every option of `new ChatAuth(options)` except the functions.
#[derive(Clone, Debug)]
pub struct Config {
    /// Exact origins that may receive the token, normalized (required).
    pub api_origins: Vec<String>,
    /// Authenticate at once as this customer. Default none.
    pub customer_id: Option<String>,
    /// `refresh.*`: margin 60 s, 5 retries, provider timeout 15 s.
    pub policy: RefreshPolicy,
    /// `validation.*`: how provider contexts are judged — the allow-list,
    /// the key (`publicKey`, `jwks` or `jwksUrl`), `issuer`, `audience`,
    /// `customerIdClaim`, `leewaySeconds` — in the typed struct `verifyToken`
    /// and [`crate::jose::Verifier`] use, with its defaults
    /// ([`VerifyOptions::default`]; `customer_id` is the session's
    /// customer's, `typ`, `now_ms` and `max_token_bytes` stay at theirs).
    /// `issuer` defaults to the top-level `issuer`.
    pub validation: VerifyOptions,
    /// OAuth token endpoint for the refresh grant. Default none (or the
    /// one the `issuer`'s metadata names).
    pub token_endpoint: Option<String>,
    /// `clientId`, `scope` and `resource`: sent with every refresh grant.
    /// Default none of them.
    pub grant: GrantParams,
    /// `issuer`: the authorization server whose metadata (OpenID Connect
    /// Discovery / RFC 8414) gives `jwks_uri` and `token_endpoint` where
    /// `validation.jwksUrl` / `tokenEndpoint` are not set, and the default
    /// `validation.issuer`. Default none.
    pub issuer: Option<String>,
    /// The site's introspection endpoint for opaque tokens. Default none.
    pub introspection_endpoint: Option<String>,
    /// Share refresh and logout across tabs. Default true.
    pub cross_tab: bool,
    /// Where the token survives. Default memory.
    pub storage: Storage,
    /// `dpop`: sender-constrained tokens (RFC 9449): every request to an
    /// allowed origin and every refresh grant carries a proof signed by
    /// this browser's non-extractable key. Default false.
    pub dpop: bool,
}

/// Function-valued options, handled by the shell.
pub const FUNCTION_OPTIONS: [&str; 3] = ["contextProvider", "userLoginHandler", "now"];

/// The members `new ChatAuth(options)` accepts (API.md "Options"); any other
/// is `invalid_config`. `js/chat_auth.d.ts`'s `ChatAuthOptions` names the same
/// ones (tests/contract_lists.rs).
pub const CHAT_AUTH_OPTIONS: [&str; 16] = [
    "apiOrigins",
    "customerId",
    "refresh",
    "validation",
    "tokenEndpoint",
    "clientId",
    "scope",
    "resource",
    "issuer",
    "introspectionEndpoint",
    "crossTab",
    "storage",
    "dpop",
    // Functions: JSON drops them, but a shell may pass `null` placeholders.
    "contextProvider",
    "userLoginHandler",
    "now",
];
/// The members of `refresh.*` (`RefreshOptions` in the `.d.ts`).
pub const REFRESH_OPTIONS: [&str; 3] = ["marginSeconds", "maxRetries", "providerTimeoutSeconds"];

/// Normalizes an origin `scheme://host[:port]`: http(s) only, no path, query,
/// fragment or user info; scheme and host lowercased; default port dropped
/// (as the browser's `URL.origin` does).
pub fn normalize_origin(origin: &str) -> Option<String> {
    let lower = origin.to_ascii_lowercase();
    let (scheme, rest, default_port) = if let Some(rest) = lower.strip_prefix("https://") {
        ("https://", rest, ":443")
    } else if let Some(rest) = lower.strip_prefix("http://") {
        ("http://", rest, ":80")
    } else {
        return None;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty()
        || rest
            .bytes()
            .any(|b| matches!(b, b'/' | b'?' | b'#' | b'@' | b'\\') || b <= b' ' || b >= 0x7f)
    {
        return None;
    }
    let host_port = rest.strip_suffix(default_port).unwrap_or(rest);
    // Port, if any, must be digits (IPv6 hosts are bracketed).
    if let Some(i) = host_port.bytes().rposition(|b| b == b':') {
        if !host_port.ends_with(']') {
            let port = host_port.get(i + 1..).unwrap_or_default();
            if port.is_empty()
                || port.len() > 5
                || !crate::wire::all_bytes(port, |b| b.is_ascii_digit())
            {
                return None;
            }
        }
    }
    let mut out = String::from(scheme);
    out.push_str(host_port);
    Some(out)
}

impl Config {
    /// Reads options from a JSON object. Unknown keys, wrong types and
    /// unusable values are `invalid_config` naming the key; `null` means
    /// "not set".
    pub fn from_json(options: &Object) -> Result<Config> {
        let f = Fields::new(options, "", true);
        f.only(&CHAT_AUTH_OPTIONS)?;
        // Filled in place, member by member: a refused member drops this
        // one value, not a different set of locals at each return.
        let mut c = Config {
            api_origins: Vec::new(),
            customer_id: None,
            policy: RefreshPolicy::default(),
            validation: VerifyOptions::default(),
            token_endpoint: None,
            grant: GrantParams::default(),
            issuer: None,
            introspection_endpoint: None,
            cross_tab: true,
            storage: Storage::Memory,
            dpop: false,
        };
        match f.get("apiOrigins") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for v in items {
                    let origin = v.as_str().and_then(normalize_origin).ok_or_else(|| {
                        f.fail(
                            "apiOrigins",
                            "must hold origins like 'https://chat.example.com'",
                        )
                    })?;
                    c.api_origins.push(origin);
                }
            }
            _ => return Err(f.fail("apiOrigins", "is required: a non-empty array of origins")),
        }
        c.customer_id = f.string("customerId")?;
        if let Some(r) = f.object("refresh", "refresh.")? {
            read_refresh(&r, &mut c.policy)?;
        }
        if let Some(v) = f.object("validation", "validation.")? {
            c.validation = validation::read_validation(&v)?;
        }
        c.cross_tab = f.boolean("crossTab")?.unwrap_or(true);
        c.issuer = f.url("issuer")?;
        if let Some(issuer) = &c.issuer {
            if issuer.contains(['?', '#']) {
                return Err(f.fail(
                    "issuer",
                    "must be an http(s) URL without query or fragment (RFC 8414 §2)",
                ));
            }
            // Access tokens name their issuer (RFC 9068 §2.2).
            c.validation.issuer.get_or_insert_with(|| issuer.clone());
        }
        c.grant.client_id = f.string("clientId")?;
        if let Some(v) = f.get("scope") {
            c.grant.scope = GrantParams::read_scope(v)?;
        }
        if let Some(v) = f.get("resource") {
            c.grant.resources = GrantParams::read_resources(v)?;
        }
        c.storage = match f.get("storage") {
            None => Storage::Memory,
            Some(Value::String(s)) if s == "memory" => Storage::Memory,
            Some(Value::String(s)) if s == "session" => Storage::Session,
            Some(_) => return Err(f.fail("storage", "must be 'memory' or 'session'")),
        };
        c.dpop = f.boolean("dpop")?.unwrap_or(false);
        c.token_endpoint = f.url("tokenEndpoint")?;
        if c.dpop && c.issuer.is_some() && c.token_endpoint.is_none() {
            // A refresh grant's proof names the token endpoint's URL, which
            // the driver must know before the grant goes out.
            return Err(Error::invalid_config(
                "dpop",
                "needs 'tokenEndpoint' when 'issuer' is set (a proof names the token endpoint's URL)",
            ));
        }
        c.introspection_endpoint = f.url("introspectionEndpoint")?;
        Ok(c)
    }

    /// Whether a refresh grant can be made: a `tokenEndpoint`, or an
    /// `issuer` whose metadata names one.
    pub fn has_token_endpoint(&self) -> bool {
        self.token_endpoint.is_some() || self.issuer.is_some()
    }

    /// Whether JWT signatures are checked: a key in `validation`, or an
    /// `issuer` whose metadata gives the JWKS (fails closed if it has none).
    pub fn checks_signatures(&self) -> bool {
        self.validation.checks_signatures() || self.issuer.is_some()
    }

    /// Whether `origin` (as the browser's `URL.origin` gives it) may receive
    /// the token.
    pub fn allows_origin(&self, origin: &str) -> bool {
        normalize_origin(origin).is_some_and(|o| self.api_origins.contains(&o))
    }
}

/// `refresh.*` (members named `refresh.…`) into `policy`.
fn read_refresh(r: &Fields<'_>, policy: &mut RefreshPolicy) -> Result<()> {
    r.only(&REFRESH_OPTIONS)?;
    if let Some(margin) = r.number("marginSeconds", 0.0, 86_400.0)? {
        policy.margin_ms = (margin * 1000.0) as i64;
    }
    if let Some(n) = r.number("maxRetries", 0.0, 100.0)? {
        if n.fract() != 0.0 {
            return Err(r.fail("maxRetries", "must be a whole number"));
        }
        policy.max_retries = n as u32;
    }
    if let Some(timeout) = r.number("providerTimeoutSeconds", 0.001, 3_600.0)? {
        policy.provider_timeout_ms = (timeout * 1000.0) as i64;
    }
    Ok(())
}

#[cfg(test)]
mod tests;

//! `ChatAuthOptions` (API.md), read from JSON in the core so both targets
//! judge options the same way. The browser passes `JSON.stringify(options)`;
//! function-valued options (`contextProvider`, `userLoginHandler`, `now`) are
//! the shell's business and are only named here so they are not "unknown".

use crate::error::{Error, Result};
use crate::jose::algorithm::Algorithm;
use crate::jose::keys::{self, KeySource, VerifyingKey};
use crate::session::grant::GrantParams;
use crate::session::schedule::RefreshPolicy;
use crate::wire::json::{Object, Value};

/// Where a token may survive a page load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Storage {
    /// Memory only (default).
    #[default]
    Memory,
    /// `sessionStorage` (never `localStorage`).
    Session,
}

/// `validation.*`: how provider contexts are judged.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationConfig {
    /// Claim that must equal the customer id. Default `Some("sub")`; `null`
    /// turns the comparison off.
    pub customer_id_claim: Option<String>,
    /// Required `iss`. Default none.
    pub issuer: Option<String>,
    /// Required `aud` (any of). Default none.
    pub audience: Option<Vec<String>>,
    /// Signature allow-list. Default `["RS256", "ES256", "PS256", "EdDSA"]`.
    pub algorithms: Vec<String>,
    /// PEM public key or certificate. Default none.
    pub public_key: Option<String>,
    /// A JWK Set. Default none.
    pub jwks: Option<Object>,
    /// Where to fetch the JWK Set. Default none.
    pub jwks_url: Option<String>,
    /// Clock leeway in seconds for `exp`/`nbf`/`iat`. Default 30.
    pub leeway_seconds: f64,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            customer_id_claim: Some("sub".into()),
            issuer: None,
            audience: None,
            algorithms: ["RS256", "ES256", "PS256", "EdDSA"]
                .map(String::from)
                .to_vec(),
            public_key: None,
            jwks: None,
            jwks_url: None,
            leeway_seconds: 30.0,
        }
    }
}

impl ValidationConfig {
    /// Whether signatures are checked (a key, a JWKS or a JWKS URL is set).
    pub fn checks_signatures(&self) -> bool {
        self.public_key.is_some() || self.jwks.is_some() || self.jwks_url.is_some()
    }

    /// The allow-list as algorithms; an unknown name is `invalid_config`.
    pub fn parsed_algorithms(&self) -> Result<Vec<Algorithm>> {
        self.algorithms
            .iter()
            .map(|a| {
                Algorithm::parse(a).ok_or_else(|| {
                    Error::invalid_config("validation.algorithms", "names an unknown algorithm")
                })
            })
            .collect()
    }

    /// The configured key (`publicKey` or `jwks`), parsed; `None` when there
    /// is none or it must be fetched (`jwksUrl`).
    pub fn static_keys(&self) -> Result<Option<KeySource>> {
        if let Some(pem) = &self.public_key {
            return Ok(Some(KeySource::Key(VerifyingKey::from_pem(
                pem,
                "validation.publicKey",
            )?)));
        }
        if let Some(jwks) = &self.jwks {
            return Ok(Some(KeySource::Jwks(keys::parse_jwks(
                jwks,
                "validation.jwks",
            )?)));
        }
        Ok(None)
    }
}

/// Every option of `new ChatAuth(options)` except the functions.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Exact origins that may receive the token, normalized (required).
    pub api_origins: Vec<String>,
    /// Authenticate at once as this customer. Default none.
    pub customer_id: Option<String>,
    /// `refresh.*`: margin 60 s, 5 retries, provider timeout 15 s.
    pub policy: RefreshPolicy,
    /// `validation.*`.
    pub validation: ValidationConfig,
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

const TOP_KEYS: [&str; 15] = [
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
];
const REFRESH_KEYS: [&str; 3] = ["marginSeconds", "maxRetries", "providerTimeoutSeconds"];
const VALIDATION_KEYS: [&str; 8] = [
    "customerIdClaim",
    "issuer",
    "audience",
    "algorithms",
    "publicKey",
    "jwks",
    "jwksUrl",
    "leewaySeconds",
];

fn check_keys(obj: &Object, prefix: &str, allowed: &[&str]) -> Result<()> {
    for (key, _) in obj.iter() {
        let known = allowed.contains(&key) || (prefix.is_empty() && key == "now");
        if !known {
            let mut name = String::from(prefix);
            name.push_str(key);
            return Err(Error::invalid_config(&name, "is not a known option"));
        }
    }
    Ok(())
}

fn number(v: &Value, key: &str, min: f64, max: f64) -> Result<f64> {
    match v {
        Value::Number(n) if *n >= min && *n <= max => Ok(*n),
        _ => Err(Error::invalid_config(key, "must be a number in range")),
    }
}

fn string(v: &Value, key: &str) -> Result<String> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        _ => Err(Error::invalid_config(key, "must be a non-empty string")),
    }
}

fn url(v: &Value, key: &str) -> Result<String> {
    let s = string(v, key)?;
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        Ok(s)
    } else {
        Err(Error::invalid_config(key, "must be an http(s) URL"))
    }
}

/// `read` applied to the member `key` unless it is absent or `null`. A plain
/// function, not a closure per call site: one copy in the wasm build.
fn optional(
    options: &Object,
    key: &str,
    read: fn(&Value, &str) -> Result<String>,
) -> Result<Option<String>> {
    options.get_present(key).map(|v| read(v, key)).transpose()
}

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
    if let Some(i) = host_port.rfind(':') {
        if !host_port.ends_with(']') {
            let port = host_port.get(i + 1..).unwrap_or_default();
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
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
    /// unusable values are `invalid_config` naming the key.
    pub fn from_json(options: &Object) -> Result<Config> {
        check_keys(options, "", &TOP_KEYS)?;
        let api_origins = match options.get("apiOrigins") {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| {
                    v.as_str().and_then(normalize_origin).ok_or_else(|| {
                        Error::invalid_config(
                            "apiOrigins",
                            "must hold origins like 'https://chat.example.com'",
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            _ => {
                return Err(Error::invalid_config(
                    "apiOrigins",
                    "is required: a non-empty array of origins",
                ))
            }
        };
        let customer_id = optional(options, "customerId", string)?;
        let mut policy = RefreshPolicy::default();
        match options.get("refresh") {
            None | Some(Value::Null) => {}
            Some(Value::Object(r)) => {
                check_keys(r, "refresh.", &REFRESH_KEYS)?;
                if let Some(v) = r.get("marginSeconds") {
                    policy.margin_ms =
                        (number(v, "refresh.marginSeconds", 0.0, 86_400.0)? * 1000.0) as i64;
                }
                if let Some(v) = r.get("maxRetries") {
                    let n = number(v, "refresh.maxRetries", 0.0, 100.0)?;
                    if n.fract() != 0.0 {
                        return Err(Error::invalid_config(
                            "refresh.maxRetries",
                            "must be a whole number",
                        ));
                    }
                    policy.max_retries = n as u32;
                }
                if let Some(v) = r.get("providerTimeoutSeconds") {
                    policy.provider_timeout_ms =
                        (number(v, "refresh.providerTimeoutSeconds", 0.001, 3_600.0)? * 1000.0)
                            as i64;
                }
            }
            Some(_) => return Err(Error::invalid_config("refresh", "must be an object")),
        }
        let mut validation = ValidationConfig::default();
        match options.get("validation") {
            None | Some(Value::Null) => {}
            Some(Value::Object(v)) => {
                check_keys(v, "validation.", &VALIDATION_KEYS)?;
                read_validation(v, &mut validation)?;
            }
            Some(_) => return Err(Error::invalid_config("validation", "must be an object")),
        }
        let cross_tab = match options.get("crossTab") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Error::invalid_config("crossTab", "must be a boolean")),
        };
        let issuer = match options.get_present("issuer") {
            Some(v) => {
                let issuer = url(v, "issuer")?;
                if issuer.contains(['?', '#']) {
                    return Err(Error::invalid_config(
                        "issuer",
                        "must be an http(s) URL without query or fragment (RFC 8414 §2)",
                    ));
                }
                // Access tokens name their issuer (RFC 9068 §2.2).
                validation.issuer.get_or_insert_with(|| issuer.clone());
                Some(issuer)
            }
            None => None,
        };
        let grant = GrantParams {
            client_id: optional(options, "clientId", string)?,
            scope: match options.get_present("scope") {
                Some(v) => GrantParams::read_scope(v)?,
                None => Vec::new(),
            },
            resources: match options.get_present("resource") {
                Some(v) => GrantParams::read_resources(v)?,
                None => Vec::new(),
            },
        };
        let storage = match options.get("storage") {
            None | Some(Value::Null) => Storage::Memory,
            Some(Value::String(s)) if s == "memory" => Storage::Memory,
            Some(Value::String(s)) if s == "session" => Storage::Session,
            Some(_) => {
                return Err(Error::invalid_config(
                    "storage",
                    "must be 'memory' or 'session'",
                ))
            }
        };
        let dpop = match options.get("dpop") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Error::invalid_config("dpop", "must be a boolean")),
        };
        let token_endpoint = optional(options, "tokenEndpoint", url)?;
        if dpop && issuer.is_some() && token_endpoint.is_none() {
            // A refresh grant's proof names the token endpoint's URL, which
            // the driver must know before the grant goes out.
            return Err(Error::invalid_config(
                "dpop",
                "needs 'tokenEndpoint' when 'issuer' is set (a proof names the token endpoint's URL)",
            ));
        }
        Ok(Config {
            api_origins,
            customer_id,
            policy,
            validation,
            token_endpoint,
            grant,
            issuer,
            introspection_endpoint: optional(options, "introspectionEndpoint", url)?,
            cross_tab,
            storage,
            dpop,
        })
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

fn read_validation(v: &Object, out: &mut ValidationConfig) -> Result<()> {
    if let Some(c) = v.get("customerIdClaim") {
        out.customer_id_claim = match c {
            Value::Null => None,
            other => Some(string(other, "validation.customerIdClaim")?),
        };
    }
    if let Some(i) = v.get_present("issuer") {
        out.issuer = Some(string(i, "validation.issuer")?);
    }
    if let Some(a) = v.get_present("audience") {
        out.audience = Some(match a {
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(|i| string(i, "validation.audience"))
                .collect::<Result<Vec<_>>>()?,
            other => vec![string(other, "validation.audience")?],
        });
    }
    if let Some(a) = v.get_present("algorithms") {
        out.algorithms = match a {
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(|i| string(i, "validation.algorithms"))
                .collect::<Result<Vec<_>>>()?,
            _ => {
                return Err(Error::invalid_config(
                    "validation.algorithms",
                    "must be a non-empty array of algorithm names",
                ))
            }
        };
        if out
            .algorithms
            .iter()
            .any(|a| a.eq_ignore_ascii_case("none"))
        {
            return Err(Error::invalid_config(
                "validation.algorithms",
                "may never allow 'none'",
            ));
        }
    }
    if let Some(k) = v.get_present("publicKey") {
        out.public_key = Some(string(k, "validation.publicKey")?);
    }
    match v.get("jwks") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => out.jwks = Some(o.clone()),
        Some(_) => {
            return Err(Error::invalid_config(
                "validation.jwks",
                "must be a JWK Set object",
            ))
        }
    }
    if let Some(u) = v.get_present("jwksUrl") {
        out.jwks_url = Some(url(u, "validation.jwksUrl")?);
    }
    if let Some(l) = v.get("leewaySeconds") {
        out.leeway_seconds = number(l, "validation.leewaySeconds", 0.0, 86_400.0)?;
    }
    let keys = [
        out.public_key.is_some(),
        out.jwks.is_some(),
        out.jwks_url.is_some(),
    ];
    if keys.iter().filter(|&&k| k).count() > 1 {
        return Err(Error::invalid_config(
            "validation",
            "takes one of publicKey, jwks or jwksUrl",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::json::parse_object;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn cfg(s: &str) -> Result<Config> {
        Config::from_json(&parse_object(s.as_bytes()).unwrap())
    }

    fn bad(s: &str, key: &str) {
        let e = cfg(s).expect_err(s);
        assert_eq!(e.code().as_str(), "invalid_config", "{s}");
        assert!(e.message().contains(key), "{s}: {}", e.message());
    }

    #[test]
    fn defaults() {
        let c = cfg(r#"{"apiOrigins":["https://Chat.Example.com:443/"]}"#).unwrap();
        assert_eq!(c.api_origins, ["https://chat.example.com"]);
        assert_eq!(c.policy, RefreshPolicy::default());
        assert_eq!(c.validation, ValidationConfig::default());
        assert!(c.cross_tab);
        assert_eq!(c.storage, Storage::Memory);
        assert!(!c.validation.checks_signatures());
        assert!(!c.dpop);
    }

    #[test]
    fn dpop_option() {
        let on =
            r#"{"apiOrigins":["https://a.com"],"dpop":true,"tokenEndpoint":"https://a.com/t"}"#;
        assert!(cfg(on).unwrap().dpop);
        assert!(
            !cfg(r#"{"apiOrigins":["https://a.com"],"dpop":null}"#)
                .unwrap()
                .dpop
        );
        bad(r#"{"apiOrigins":["https://a.com"],"dpop":"yes"}"#, "dpop");
        bad(r#"{"apiOrigins":["https://a.com"],"dpop":1}"#, "dpop");
        // Discovery alone: the grant's proof could not name its URL.
        bad(
            r#"{"apiOrigins":["https://a.com"],"dpop":true,"issuer":"https://id.a.com"}"#,
            "dpop",
        );
        let both = r#"{"apiOrigins":["https://a.com"],"dpop":true,"issuer":"https://id.a.com","tokenEndpoint":"https://id.a.com/t"}"#;
        assert!(cfg(both).unwrap().dpop);
    }

    #[test]
    fn reads_every_option() {
        let c = cfg(r#"{"apiOrigins":["http://127.0.0.1:8080"],"customerId":"c1",
            "refresh":{"marginSeconds":30,"maxRetries":2,"providerTimeoutSeconds":1.5},
            "validation":{"customerIdClaim":null,"issuer":"https://id","audience":["a","b"],
              "algorithms":["ES256"],"jwksUrl":"https://id/jwks","leewaySeconds":5},
            "tokenEndpoint":"https://id/token","clientId":"web","introspectionEndpoint":"https://id/i",
            "crossTab":false,"storage":"session","now":null}"#)
        .unwrap();
        assert_eq!(c.customer_id.as_deref(), Some("c1"));
        assert_eq!(
            c.policy,
            RefreshPolicy {
                margin_ms: 30_000,
                max_retries: 2,
                provider_timeout_ms: 1_500
            }
        );
        assert_eq!(c.validation.customer_id_claim, None);
        assert_eq!(c.validation.audience, Some(vec!["a".into(), "b".into()]));
        assert!(c.validation.checks_signatures());
        assert_eq!(c.storage, Storage::Session);
        assert!(!c.cross_tab);
        assert!(c.allows_origin("http://127.0.0.1:8080"));
        assert!(!c.allows_origin("http://127.0.0.1:8081"));
        assert!(!c.allows_origin("https://127.0.0.1:8080"));
        assert!(!c.allows_origin("http://localhost:8080"));
    }

    #[test]
    fn refuses_bad_options_naming_the_key() {
        bad(r#"{}"#, "apiOrigins");
        bad(r#"{"apiOrigins":[]}"#, "apiOrigins");
        bad(r#"{"apiOrigins":["chat.example.com"]}"#, "apiOrigins");
        bad(r#"{"apiOrigins":["https://a.com/path"]}"#, "apiOrigins");
        bad(r#"{"apiOrigins":["https://u@a.com"]}"#, "apiOrigins");
        bad(r#"{"apiOrigins":["https://a.com:x"]}"#, "apiOrigins");
        bad(r#"{"apiOrigins":["ftp://a.com"]}"#, "apiOrigins");
        bad(r#"{"apiOrigins":["https://a.com"],"bogus":1}"#, "bogus");
        bad(
            r#"{"apiOrigins":["https://a.com"],"refresh":{"bogus":1}}"#,
            "refresh.bogus",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"refresh":{"marginSeconds":-1}}"#,
            "refresh.marginSeconds",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"refresh":{"maxRetries":1.5}}"#,
            "refresh.maxRetries",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"refresh":{"providerTimeoutSeconds":0}}"#,
            "refresh.providerTimeoutSeconds",
        );
        bad(r#"{"apiOrigins":["https://a.com"],"refresh":1}"#, "refresh");
        bad(
            r#"{"apiOrigins":["https://a.com"],"validation":{"x":1}}"#,
            "validation.x",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"validation":{"algorithms":["RS256","none"]}}"#,
            "validation.algorithms",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"validation":{"algorithms":["NoNe"]}}"#,
            "validation.algorithms",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"validation":{"issuer":""}}"#,
            "validation.issuer",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"validation":{"audience":[]}}"#,
            "validation.audience",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"validation":{"publicKey":"x","jwksUrl":"https://a"}}"#,
            "validation",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"storage":"local"}"#,
            "storage",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"crossTab":"yes"}"#,
            "crossTab",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"tokenEndpoint":"/token"}"#,
            "tokenEndpoint",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"customerId":""}"#,
            "customerId",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"scope":"a  b"}"#,
            "scope",
        );
        bad(r#"{"apiOrigins":["https://a.com"],"scope":[]}"#, "scope");
        bad(
            r#"{"apiOrigins":["https://a.com"],"resource":"/api"}"#,
            "resource",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"resource":[]}"#,
            "resource",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"issuer":"id.example.com"}"#,
            "issuer",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"issuer":"https://id?x=1"}"#,
            "issuer",
        );
        bad(
            r#"{"apiOrigins":["https://a.com"],"issuer":"https://id#x"}"#,
            "issuer",
        );
    }

    #[test]
    fn refresh_grant_options() {
        let c = cfg(
            r#"{"apiOrigins":["https://a.com"],"clientId":"web","scope":"openid chat",
            "resource":["https://chat.example.com","urn:chat"],"issuer":"https://id.example.com"}"#,
        )
        .unwrap();
        assert_eq!(c.grant.client_id.as_deref(), Some("web"));
        assert_eq!(c.grant.scope, ["openid", "chat"]);
        assert_eq!(c.grant.resources, ["https://chat.example.com", "urn:chat"]);
        assert_eq!(c.issuer.as_deref(), Some("https://id.example.com"));
        // The issuer is the default required `iss`; discovery implies
        // signature checks and the refresh grant.
        assert_eq!(
            c.validation.issuer.as_deref(),
            Some("https://id.example.com")
        );
        assert!(c.checks_signatures() && c.has_token_endpoint());
        let explicit = cfg(r#"{"apiOrigins":["https://a.com"],"issuer":"https://id.example.com",
            "validation":{"issuer":"https://id.example.com/v2"},"resource":"https://chat.example.com"}"#)
        .unwrap();
        assert_eq!(
            explicit.validation.issuer.as_deref(),
            Some("https://id.example.com/v2")
        );
        assert_eq!(explicit.grant.resources, ["https://chat.example.com"]);
        let none = cfg(r#"{"apiOrigins":["https://a.com"]}"#).unwrap();
        assert_eq!(none.grant, GrantParams::default());
        assert!(!none.checks_signatures() && !none.has_token_endpoint());
    }

    #[test]
    fn origin_normalization() {
        assert_eq!(
            normalize_origin("HTTP://A.com:80").as_deref(),
            Some("http://a.com")
        );
        assert_eq!(
            normalize_origin("https://a.com:8443").as_deref(),
            Some("https://a.com:8443")
        );
        assert_eq!(
            normalize_origin("https://[::1]:8443").as_deref(),
            Some("https://[::1]:8443")
        );
        assert_eq!(normalize_origin("https://a.com?x"), None);
        assert_eq!(normalize_origin("https://"), None);
    }
}

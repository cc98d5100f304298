//! Server configuration, from environment variables (see README "Demo").

use std::path::PathBuf;

/// A demo user: the site's own account (user id, password, display name).
#[derive(Clone, Debug)]
pub struct DemoUser {
    /// The site's user id (never sent to the chat as is: hashed into the customer id).
    pub user_id: &'static str,
    /// The demo password.
    pub password: &'static str,
    /// Display name.
    pub name: &'static str,
}

/// The demo accounts shown on the login form.
pub const DEMO_USERS: [DemoUser; 3] = [
    DemoUser {
        user_id: "alice",
        password: "wonderland",
        name: "Alice Martin",
    },
    DemoUser {
        user_id: "bob",
        password: "builder",
        name: "Bob Okafor",
    },
    DemoUser {
        user_id: "carol",
        password: "singing",
        name: "Carol Nguyen",
    },
];

/// The demo representatives (the desk's own accounts, separate from customers).
pub const DEMO_AGENTS: [DemoUser; 2] = [
    DemoUser {
        user_id: "ava",
        password: "helpdesk",
        name: "Ava Lindqvist",
    },
    DemoUser {
        user_id: "sam",
        password: "helpdesk",
        name: "Sam Reyes",
    },
];

/// The public OAuth client of the messaging channel (`www/messenger.html`).
pub const MESSENGER_CLIENT_ID: &str = "chat-messenger";

/// The public OAuth client of the representatives' desk (`www/agent.html`).
pub const DESK_CLIENT_ID: &str = "chat-desk";

/// When the canned bot answers a customer's message. `CHAT_AUTO_REPLY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoReply {
    /// Only while no representative has used the desk for [`AGENT_ONLINE_MS`] (default).
    Offline,
    /// Always (the demo without a desk).
    Always,
    /// Never: representatives answer everything.
    Never,
}

/// A representative counts as online this long after their last desk request.
pub const AGENT_ONLINE_MS: i64 = 30_000;

/// Everything the server can be told.
#[derive(Clone, Debug)]
pub struct Config {
    /// The database: a SQLite file, `:memory:`, or a `postgres://` /
    /// `postgresql://` URL (several instances share it). `CHAT_DB`, default
    /// `chat-demo.sqlite`.
    pub db_path: String,
    /// `iss` of access tokens. `CHAT_ISSUER`, default the server's URL.
    pub issuer: Option<String>,
    /// `aud` of access tokens. `CHAT_AUDIENCE`, default `chat-api`.
    pub audience: String,
    /// The public OAuth client of the page. `CHAT_CLIENT_ID`, default `chat-demo`.
    pub client_id: String,
    /// Access-token lifetime, seconds. `CHAT_TOKEN_TTL`, default 60.
    pub access_ttl_s: i64,
    /// Refresh-token family lifetime (absolute), seconds. `CHAT_REFRESH_TTL`, default 8 h.
    pub refresh_ttl_s: i64,
    /// Clock leeway when validating access tokens, seconds. `CHAT_LEEWAY`, default 0
    /// (the server checks its own tokens against its own clock).
    pub leeway_s: u64,
    /// The one cross-origin page allowed by CORS (`scheme://host[:port]`).
    /// `CHAT_PAGE_ORIGIN`; unset: same-origin only, no CORS headers.
    pub page_origin: Option<String>,
    /// PKCS#8 PEM file of the P-256 signing key. `CHAT_SIGNING_KEY`; unset:
    /// one is generated on first start and kept in the database.
    pub signing_key_pem: Option<PathBuf>,
    /// Secret for `opaque_customer_id` (≥ 32 bytes). `CHAT_CUSTOMER_SECRET`;
    /// unset: generated on first start and kept in the database.
    pub customer_secret: Option<Vec<u8>>,
    /// Client secret of the resource server for RFC 7662 introspection
    /// (HTTP Basic `chat-api:<secret>`). `CHAT_INTROSPECTION_SECRET`;
    /// unset: introspection refuses every caller.
    pub introspection_secret: Option<String>,
    /// Failed logins allowed per user name per minute. `CHAT_LOGIN_LIMIT`, default 5.
    pub login_failures_per_minute: u32,
    /// When the canned bot replies. `CHAT_AUTO_REPLY` = `offline` (default),
    /// `always` or `never`.
    pub auto_reply: AutoReply,
    /// How long a profile check made while the customer was active is shown
    /// to representatives as verified, seconds. `CHAT_PROFILE_MAX_AGE`,
    /// default 3600; older checks show as not verified (`expired`).
    pub profile_max_age_s: i64,
    /// Directory served at `/`. `CHAT_WWW`, default `www`.
    pub www_dir: PathBuf,
    /// Directory served at `/pkg/`. `CHAT_PKG`, default `pkg`.
    pub pkg_dir: PathBuf,
    /// The origin clients reach this server at, for the URL a DPoP proof
    /// names. `CHAT_PUBLIC_ORIGIN`; unset: `http://` and the `Host` header.
    pub public_origin: Option<String>,
    /// How long a DPoP nonce is handed out, seconds (it is accepted for one
    /// more such window). `CHAT_DPOP_NONCE_TTL`, default 300.
    pub dpop_nonce_ttl_s: i64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            db_path: "chat-demo.sqlite".into(),
            issuer: None,
            audience: "chat-api".into(),
            client_id: "chat-demo".into(),
            access_ttl_s: 60,
            refresh_ttl_s: 8 * 3600,
            leeway_s: 0,
            page_origin: None,
            signing_key_pem: None,
            customer_secret: None,
            introspection_secret: None,
            login_failures_per_minute: 5,
            auto_reply: AutoReply::Offline,
            profile_max_age_s: 3600,
            www_dir: "www".into(),
            pkg_dir: "pkg".into(),
            public_origin: None,
            dpop_nonce_ttl_s: 300,
        }
    }
}

impl Config {
    /// Reads the `CHAT_*` variables through `var`; a bad value is an error naming it.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let mut c = Config::default();
        let number = |name: &str, min: i64, max: i64| -> Result<Option<i64>, String> {
            match var(name) {
                None => Ok(None),
                Some(v) => match v.trim().parse::<i64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                    _ => Err(format!("{name} must be a whole number from {min} to {max}")),
                },
            }
        };
        if let Some(v) = var("CHAT_DB") {
            c.db_path = v;
        }
        c.issuer = var("CHAT_ISSUER").filter(|s| !s.is_empty());
        if let Some(v) = var("CHAT_AUDIENCE").filter(|s| !s.is_empty()) {
            c.audience = v;
        }
        if let Some(v) = var("CHAT_CLIENT_ID").filter(|s| !s.is_empty()) {
            c.client_id = v;
        }
        if let Some(n) = number("CHAT_TOKEN_TTL", 2, 86_400)? {
            c.access_ttl_s = n;
        }
        if let Some(n) = number("CHAT_REFRESH_TTL", 10, 90 * 86_400)? {
            c.refresh_ttl_s = n;
        }
        if let Some(n) = number("CHAT_LEEWAY", 0, 300)? {
            c.leeway_s = n as u64;
        }
        if let Some(n) = number("CHAT_LOGIN_LIMIT", 1, 10_000)? {
            c.login_failures_per_minute = n as u32;
        }
        if let Some(origin) = var("CHAT_PAGE_ORIGIN").filter(|s| !s.is_empty()) {
            if !is_origin(&origin) {
                return Err("CHAT_PAGE_ORIGIN must be an origin: scheme://host[:port]".into());
            }
            c.page_origin = Some(origin);
        }
        c.signing_key_pem = var("CHAT_SIGNING_KEY")
            .filter(|s| !s.is_empty())
            .map(Into::into);
        if let Some(secret) = var("CHAT_CUSTOMER_SECRET") {
            if secret.len() < chat_auth::identifier::MIN_SECRET_BYTES {
                return Err("CHAT_CUSTOMER_SECRET must be at least 32 bytes".into());
            }
            c.customer_secret = Some(secret.into_bytes());
        }
        if let Some(secret) = var("CHAT_INTROSPECTION_SECRET") {
            if secret.len() < 16 {
                return Err("CHAT_INTROSPECTION_SECRET must be at least 16 characters".into());
            }
            c.introspection_secret = Some(secret);
        }
        c.auto_reply = match var("CHAT_AUTO_REPLY").as_deref() {
            None | Some("offline") => AutoReply::Offline,
            Some("always") => AutoReply::Always,
            Some("never") => AutoReply::Never,
            Some(_) => return Err("CHAT_AUTO_REPLY must be offline, always or never".into()),
        };
        if let Some(n) = number("CHAT_PROFILE_MAX_AGE", 10, 30 * 86_400)? {
            c.profile_max_age_s = n;
        }
        if let Some(v) = var("CHAT_WWW") {
            c.www_dir = v.into();
        }
        if let Some(v) = var("CHAT_PKG") {
            c.pkg_dir = v.into();
        }
        if let Some(origin) = var("CHAT_PUBLIC_ORIGIN").filter(|s| !s.is_empty()) {
            if !is_origin(&origin) {
                return Err("CHAT_PUBLIC_ORIGIN must be an origin: scheme://host[:port]".into());
            }
            c.public_origin = Some(origin);
        }
        if let Some(n) = number("CHAT_DPOP_NONCE_TTL", 1, 86_400)? {
            c.dpop_nonce_ttl_s = n;
        }
        Ok(c)
    }
}

/// `scheme://host[:port]` with no path, query or trailing slash.
pub fn is_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    (scheme == "http" || scheme == "https")
        && !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn reads_and_checks_variables() {
        let c = Config::from_env(env(&[("CHAT_TOKEN_TTL", "5"), ("CHAT_DB", ":memory:")])).unwrap();
        assert_eq!((c.access_ttl_s, c.db_path.as_str()), (5, ":memory:"));
        assert!(Config::from_env(env(&[("CHAT_TOKEN_TTL", "0")])).is_err());
        assert!(Config::from_env(env(&[("CHAT_CUSTOMER_SECRET", "short")])).is_err());
        assert!(Config::from_env(env(&[("CHAT_PAGE_ORIGIN", "http://a.test/path")])).is_err());
        assert!(is_origin("http://127.0.0.1:8080"));
        let c = Config::from_env(env(&[("CHAT_AUTO_REPLY", "never")])).unwrap();
        assert_eq!(c.auto_reply, AutoReply::Never);
        assert!(Config::from_env(env(&[("CHAT_AUTO_REPLY", "sometimes")])).is_err());
        let c = Config::from_env(env(&[("CHAT_DPOP_NONCE_TTL", "2")])).unwrap();
        assert_eq!(c.dpop_nonce_ttl_s, 2);
        assert!(Config::from_env(env(&[("CHAT_DPOP_NONCE_TTL", "0")])).is_err());
        assert!(Config::from_env(env(&[("CHAT_PUBLIC_ORIGIN", "https://chat.test/x")])).is_err());
    }
}

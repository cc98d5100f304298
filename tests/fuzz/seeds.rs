//! The seeds the inputs are mutated from: the verification vectors' cases
//! (tokens, options, JWK sets) through the shared loader, the test keys,
//! and hand-written session options and provider contexts.

use chat_auth::wire::json::{self, Object, Value};
use chat_auth_vectors::Case;
use std::collections::HashSet;

pub(crate) struct Seeds {
    pub(crate) cases: Vec<Case>,
    pub(crate) tokens: Vec<String>,
    /// Every token a case may legitimately accept: the vectors' own.
    pub(crate) known_tokens: HashSet<String>,
    pub(crate) secret: String,
    pub(crate) hs_options: Object,
    pub(crate) configs: Vec<Object>,
    pub(crate) contexts: Vec<Object>,
    pub(crate) pems: Vec<String>,
    pub(crate) jwks: Vec<Object>,
}

pub(crate) fn seeds() -> Seeds {
    let dir = chat_auth_vectors::dir();
    let cases = chat_auth_vectors::cases();
    let jwks = cases
        .iter()
        .filter_map(|c| c.options.get("jwks").and_then(Value::as_object))
        .cloned()
        .collect();
    let tokens: Vec<String> = cases.iter().map(|c| c.token.clone()).collect();
    let known_tokens = tokens.iter().cloned().collect();
    let secret = chat_auth_vectors::HMAC_SECRET.to_owned();
    let hs_options = json::parse_object(
        format!(
            r#"{{"algorithms":["HS256"],"secret":{},"issuer":"https://auth.example.com","audience":"chat","customerId":"c_8f3a9b2e"}}"#,
            {
                let mut s = String::new();
                json::write_string(&mut s, &secret);
                s
            }
        )
        .as_bytes(),
    )
    .unwrap();
    let pems: Vec<String> = std::fs::read_dir(dir.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".pem"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let rsa = std::fs::read_to_string(dir.join("keys/rsa2048.pub.pem")).unwrap();
    let mut rsa_json = String::new();
    json::write_string(&mut rsa_json, &rsa);
    let configs = [
        r#"{"apiOrigins":["https://chat.example.com"]}"#.to_owned(),
        r#"{"apiOrigins":["https://chat.example.com","http://127.0.0.1:8080"],"customerId":"c_8f3a9b2e","refresh":{"marginSeconds":30,"maxRetries":2,"providerTimeoutSeconds":5},"crossTab":false,"storage":"session"}"#.to_owned(),
        format!(r#"{{"apiOrigins":["https://chat.example.com"],"validation":{{"algorithms":["RS256","PS256"],"publicKey":{rsa_json},"issuer":"https://auth.example.com","audience":["chat","x"],"customerIdClaim":"sub","leewaySeconds":10}}}}"#),
        r#"{"apiOrigins":["https://chat.example.com"],"validation":{"jwksUrl":"https://auth.example.com/jwks","customerIdClaim":null},"tokenEndpoint":"https://auth.example.com/token","clientId":"web","introspectionEndpoint":"https://chat.example.com/introspect"}"#.to_owned(),
    ]
    .iter()
    .map(|t| json::parse_object(t.as_bytes()).unwrap())
    .collect();
    let contexts = [
        format!(r#"{{"Auth":{{"Token":"{}"}}}}"#, tokens[0]),
        r#"{"Auth":{"Token":"opaque-abc.def","ExpiresAt":1700003600,"Scopes":["chat"],"Headers":{"X-Tenant":"t1"},"Cookies":{"a":"b"},"Body":{}},"CustomerInfo":{"tier":"gold"},"ExternalSessionId":"s1","Segments":["a"]}"#.to_owned(),
        r#"{"access_token":"opaque-token","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1","scope":"chat"}"#.to_owned(),
        r#"{"Auth":{"access_token":"opaque","token_type":"DPoP","expires_in":60}}"#.to_owned(),
    ]
    .iter()
    .map(|t| json::parse_object(t.as_bytes()).unwrap())
    .collect();
    Seeds {
        cases,
        tokens,
        known_tokens,
        secret,
        hs_options,
        configs,
        contexts,
        pems,
        jwks,
    }
}

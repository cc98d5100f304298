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
    let v = &c.validation;
    assert_eq!(v.algorithms, crate::jose::verify::DEFAULT_ALGORITHMS);
    assert_eq!(v.customer_id_claim.as_deref(), Some("sub"));
    assert_eq!(v.leeway_seconds, 30.0);
    assert!(v.key.is_none() && v.issuer.is_none() && v.audience.is_none());
    assert!(c.cross_tab);
    assert_eq!(c.storage, Storage::Memory);
    assert!(!c.validation.checks_signatures());
    assert!(!c.dpop);
}

#[test]
fn dpop_option() {
    let on = r#"{"apiOrigins":["https://a.com"],"dpop":true,"tokenEndpoint":"https://a.com/t"}"#;
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
    let c = cfg(
        r#"{"apiOrigins":["http://127.0.0.1:8080"],"customerId":"c1",
        "refresh":{"marginSeconds":30,"maxRetries":2,"providerTimeoutSeconds":1.5},
        "validation":{"customerIdClaim":null,"issuer":"https://id","audience":["a","b"],
          "algorithms":["ES256"],"jwksUrl":"https://id/jwks","leewaySeconds":5},
        "tokenEndpoint":"https://id/token","clientId":"web","introspectionEndpoint":"https://id/i",
        "crossTab":false,"storage":"session","now":null}"#,
    )
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

/// The three ways to configure a verification — the page's `validation.*`,
/// `verifyToken`'s options, the Rust builder — give the same options.
#[test]
fn page_verify_token_and_builder_give_the_same_options() {
    use crate::jose::algorithm::Algorithm;
    use crate::jose::verify::Verifier;
    let jwks =
        r#"{"keys":[{"kty":"oct","kid":"k1","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}"#;
    let members = format!(
        r#""algorithms":["HS256","HS512","HS256"],"jwks":{jwks},"issuer":"https://id","audience":["a","b"],"customerIdClaim":"cid","leewaySeconds":5"#
    );
    let page = cfg(&format!(
        r#"{{"apiOrigins":["https://a.com"],"validation":{{{members}}}}}"#
    ))
    .unwrap()
    .validation;
    let verify_token =
        VerifyOptions::from_json(&parse_object(format!("{{{members}}}").as_bytes()).unwrap())
            .unwrap();
    let builder = Verifier::builder()
        .algorithms([Algorithm::HS256, Algorithm::HS512])
        .jwks(jwks)
        .unwrap()
        .issuer("https://id")
        .audience(["a", "b"])
        .customer_id_claim(Some("cid"))
        .leeway_seconds(5.0)
        .build()
        .unwrap();
    let text = format!("{page:?}");
    assert_eq!(text, format!("{verify_token:?}"));
    assert_eq!(text, format!("{:?}", builder.options()));
    assert_eq!(page.algorithms, [Algorithm::HS256, Algorithm::HS512]);
    assert!(text.contains("k1"), "{text}");
}

/// One `none` refusal, one message, on both objects (paths differ).
#[test]
fn none_is_refused_once_for_both_objects() {
    for spelling in ["none", "None", "NONE"] {
        let page = cfg(&format!(
            r#"{{"apiOrigins":["https://a.com"],"validation":{{"algorithms":["RS256","{spelling}"]}}}}"#
        ))
        .unwrap_err();
        assert_eq!(
            page.message(),
            "option 'validation.algorithms' may never allow 'none'"
        );
        let text = format!(
            r#"{{"algorithms":["{spelling}"],"secret":"0123456789abcdef0123456789abcdef"}}"#
        );
        let verify = VerifyOptions::from_json(&parse_object(text.as_bytes()).unwrap()).unwrap_err();
        assert_eq!(
            verify.message(),
            "option 'algorithms' may never allow 'none'"
        );
    }
}

/// Keys are parsed with the options (once), `jwksUrl` is a key source to
/// fetch, and a bad key names its option path.
#[test]
fn validation_keys_are_parsed_with_the_options() {
    use crate::jose::keys::KeySource;
    let url = cfg(r#"{"apiOrigins":["https://a.com"],"validation":{"jwksUrl":"https://id/jwks"}}"#)
        .unwrap();
    assert!(matches!(&url.validation.key, Some(KeySource::JwksUrl(u)) if u == "https://id/jwks"));
    assert!(url.checks_signatures());
    let set = cfg(r#"{"apiOrigins":["https://a.com"],"validation":{"jwks":{"keys":[{"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}}}"#)
        .unwrap();
    assert!(matches!(&set.validation.key, Some(KeySource::Jwks(keys)) if keys.len() == 1));
    for (options, path) in [
        (r#"{"publicKey":"not a pem"}"#, "validation.publicKey"),
        (r#"{"jwks":{"keys":[]}}"#, "validation.jwks"),
        (r#"{"jwks":"{}"}"#, "validation.jwks"),
        (r#"{"jwksUrl":"/jwks"}"#, "validation.jwksUrl"),
        (r#"{"algorithms":["XS256"]}"#, "validation.algorithms"),
        // `secret` is verifyToken's only.
        (
            r#"{"secret":"0123456789abcdef0123456789abcdef"}"#,
            "validation.secret",
        ),
    ] {
        let e = cfg(&format!(
            r#"{{"apiOrigins":["https://a.com"],"validation":{options}}}"#
        ))
        .unwrap_err();
        assert!(
            e.message().starts_with(&format!("option '{path}' ")),
            "{options}: {}",
            e.message()
        );
    }
    // `null` is "not set" in the page's options, refused in verifyToken's.
    let nulls = cfg(r#"{"apiOrigins":["https://a.com"],"validation":{"issuer":null,"jwks":null,"leewaySeconds":null}}"#)
        .unwrap();
    assert!(nulls.validation.issuer.is_none() && nulls.validation.key.is_none());
    assert_eq!(nulls.validation.leeway_seconds, 30.0);
}

/// At most one key option, on both objects, checked with keys that parse
/// (an unusable first key would be refused before the combination is
/// seen): two key options must never be read as "the first one wins".
#[test]
fn key_options_are_never_combined() {
    const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----";
    let jwks = r#"{"keys":[{"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}"#;
    let pem = format!(r#""{}""#, PEM.replace('\n', "\\n"));
    let secret = r#""0123456789abcdef0123456789abcdef""#;
    let url = r#""https://id.example/jwks""#;
    let page = |members: &str| {
        cfg(&format!(
            r#"{{"apiOrigins":["https://a.com"],"validation":{{{members}}}}}"#
        ))
    };
    // Each alone is a key.
    for (name, value) in [
        ("publicKey", pem.as_str()),
        ("jwks", jwks),
        ("jwksUrl", url),
    ] {
        let c = page(&format!(r#""{name}":{value}"#)).unwrap();
        assert!(c.validation.key.is_some(), "{name}");
    }
    for (first, second, named) in [
        (
            ("publicKey", pem.as_str()),
            ("jwks", jwks),
            "validation.jwks",
        ),
        (
            ("publicKey", pem.as_str()),
            ("jwksUrl", url),
            "validation.jwksUrl",
        ),
        (("jwks", jwks), ("jwksUrl", url), "validation.jwksUrl"),
        // Member order does not matter: the message names the later option
        // of publicKey, jwks, jwksUrl.
        (
            ("jwksUrl", url),
            ("publicKey", pem.as_str()),
            "validation.jwksUrl",
        ),
    ] {
        let members = format!(r#""{}":{},"{}":{}"#, first.0, first.1, second.0, second.1);
        let e = page(&members).unwrap_err();
        assert_eq!(e.code().as_str(), "invalid_config", "{members}");
        assert!(
            e.message().starts_with(&format!(
                "option '{named}' cannot be combined with another key option"
            )),
            "{members}: {}",
            e.message()
        );
    }
    let verify = |members: &str| {
        VerifyOptions::from_json(
            &parse_object(format!(r#"{{"algorithms":["HS256"],{members}}}"#).as_bytes()).unwrap(),
        )
    };
    for (name, value) in [
        ("publicKey", pem.as_str()),
        ("jwks", jwks),
        ("secret", secret),
    ] {
        assert!(verify(&format!(r#""{name}":{value}"#)).is_ok(), "{name}");
    }
    for (members, named) in [
        (format!(r#""publicKey":{pem},"jwks":{jwks}"#), "jwks"),
        (format!(r#""publicKey":{pem},"secret":{secret}"#), "secret"),
        (format!(r#""jwks":{jwks},"secret":{secret}"#), "secret"),
    ] {
        let e = verify(&members).unwrap_err();
        assert!(
            e.message().starts_with(&format!(
                "option '{named}' cannot be combined with another key option"
            )),
            "{members}: {}",
            e.message()
        );
    }
    // `jwksUrl` is the page's only (the host fetches it); verifyToken has no
    // fetch and refuses the name.
    let e = verify(&format!(r#""jwks":{jwks},"jwksUrl":{url}"#)).unwrap_err();
    assert_eq!(e.message(), "option 'jwksUrl' is not a known option");
}

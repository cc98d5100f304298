//! [`SessionDriver`] driven as a foreign host drives it: inputs in, effects
//! out, the checks' HTTP requests answered by hand.

use crate::driver::{
    HostEffect, HostEnvironment, HostEvent, HostInput, HostReply, HttpRequest, SessionDriver,
};
use crate::FfiError;
use chat_auth::wire::base64url;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const NOW: i64 = 1_900_000_000_000;
const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";

fn jwt(kid: &str, sub: &str, exp_s: i64) -> String {
    signed(
        kid,
        &format!(r#""sub":"{sub}","iat":{},"exp":{exp_s}"#, NOW / 1000),
    )
}

/// An HS256 JWT under `kid` with the claims `members` (JSON object members).
fn signed(kid: &str, members: &str) -> String {
    let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#);
    let payload = format!("{{{members}}}");
    let input = format!(
        "{}.{}",
        base64url::encode(header.as_bytes()),
        base64url::encode(payload.as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        base64url::encode(&mac.finalize().into_bytes())
    )
}

fn jwks(kids: &[&str]) -> String {
    let k = base64url::encode(SECRET);
    let keys: Vec<String> = kids
        .iter()
        .map(|kid| format!(r#"{{"kty":"oct","kid":"{kid}","alg":"HS256","k":"{k}"}}"#))
        .collect();
    format!(r#"{{"keys":[{}]}}"#, keys.join(","))
}

const OPTIONS: &str = r#"{"apiOrigins":["https://chat.example.com"],
    "tokenEndpoint":"https://id.example.com/token","clientId":"app",
    "validation":{"algorithms":["HS256"],"jwksUrl":"https://id.example.com/jwks"}}"#;

fn open() -> SessionDriver {
    let env = HostEnvironment {
        has_provider: true,
        stored_anonymous_id: None,
        online: true,
    };
    SessionDriver::new(OPTIONS.into(), env, NOW).unwrap()
}

fn drain(d: &SessionDriver) -> Vec<HostEffect> {
    std::iter::from_fn(|| d.poll(NOW)).take(100).collect()
}

fn reply_of(effects: &[HostEffect], id: u64) -> Option<&HostReply> {
    effects.iter().find_map(|e| match e {
        HostEffect::Reply { request, reply } if *request == id => Some(reply),
        _ => None,
    })
}

fn http(effects: &[HostEffect]) -> HttpRequest {
    effects
        .iter()
        .find_map(|e| match e {
            HostEffect::Http { request } => Some(request.clone()),
            _ => None,
        })
        .expect("an HTTP request")
}

/// `setCustomer("c_1")` as request 1: the provider call it makes (an
/// initial one, not asking for a refresh).
fn sign_in(d: &SessionDriver) -> u64 {
    d.handle(
        NOW,
        HostInput::SetCustomer {
            request: 1,
            customer_id: "c_1".into(),
            provider: true,
            stored: None,
        },
    );
    drain(d)
        .iter()
        .find_map(|e| match e {
            HostEffect::CallProvider {
                call,
                needs_refresh: false,
                reason,
                ..
            } if reason == "initial" => Some(*call),
            _ => None,
        })
        .expect("the provider is called")
}

/// A forced `getToken` (request `request`): the HTTP request it makes.
fn forced_refresh(d: &SessionDriver, request: u64) -> HttpRequest {
    d.handle(
        NOW,
        HostInput::GetToken {
            request,
            force: true,
        },
    );
    http(&drain(d))
}

fn ok(exchange: u64, body: String) -> HostInput {
    HostInput::HttpAnswered {
        exchange,
        status: 200,
        date: None,
        retry_after: None,
        body,
    }
}

#[test]
fn a_session_through_the_foreign_host_interface() {
    let d = open();
    let opened = drain(&d);
    assert!(
        matches!(&opened[..], [HostEffect::Store { key, value: Some(_) }] if key == "chat-auth:anonymous-id")
    );

    let call = sign_in(&d);
    let first = jwt("k1", "c_1", NOW / 1000 + 3600);
    let context =
        format!(r#"{{"access_token":"{first}","refresh_token":"rt_1","expires_in":3600}}"#);
    d.handle(
        NOW,
        HostInput::ProviderAnswered {
            call,
            context_json: Some(context),
        },
    );
    // The signature needs the keys: the issuer client asks the host for the JWKS.
    let get = http(&drain(&d));
    assert_eq!(
        (get.url.as_str(), get.form_body.as_deref()),
        ("https://id.example.com/jwks", None)
    );
    d.handle(NOW, ok(get.exchange, jwks(&["k1"])));
    let fx = drain(&d);
    assert_eq!(reply_of(&fx, 1), Some(&HostReply::Done));
    assert!(fx.iter().any(|e| matches!(e, HostEffect::Emit { event: HostEvent::Authenticated { customer_id, .. }, .. } if customer_id == "c_1")));
    assert!(fx.iter().any(|e| matches!(e, HostEffect::ArmTimer { .. })));
    assert_eq!(d.state(), "authenticated");

    // The allow-list: headers for the API's origin only.
    d.handle(
        NOW,
        HostInput::Fetch {
            request: 2,
            origin: Some("https://chat.example.com:443".into()),
            follows_redirects: false,
            replayable: true,
        },
    );
    d.handle(
        NOW,
        HostInput::Fetch {
            request: 3,
            origin: Some("https://evil.example".into()),
            follows_redirects: false,
            replayable: true,
        },
    );
    let fx = drain(&d);
    let Some(HostReply::Send {
        headers,
        manual_redirect: false,
    }) = reply_of(&fx, 2)
    else {
        panic!("request 2 is sent with headers: {fx:?}");
    };
    assert!(headers
        .iter()
        .any(|h| h.name == "Authorization" && h.value == format!("Bearer {first}")));
    assert_eq!(reply_of(&fx, 3), Some(&HostReply::Plain));

    // A forced refresh: the grant goes out as a form POST; the rotated
    // token has a new kid, so the JWKS is fetched once more.
    let post = forced_refresh(&d, 4);
    assert_eq!(post.url, "https://id.example.com/token");
    let body = post.form_body.clone().unwrap();
    assert!(
        body.contains("grant_type=refresh_token")
            && body.contains("refresh_token=rt_1")
            && body.contains("client_id=app")
    );
    let second = jwt("k2", "c_1", NOW / 1000 + 7200);
    let answer = format!(
        r#"{{"access_token":"{second}","token_type":"Bearer","refresh_token":"rt_2","expires_in":7200}}"#
    );
    d.handle(NOW, ok(post.exchange, answer));
    let refetch = http(&drain(&d));
    assert_eq!(refetch.url, "https://id.example.com/jwks");
    d.handle(NOW, ok(refetch.exchange, jwks(&["k1", "k2"])));
    let fx = drain(&d);
    assert_eq!(
        reply_of(&fx, 4),
        Some(&HostReply::Token {
            token: Some(second)
        })
    );
    assert!(fx.iter().any(|e| matches!(e, HostEffect::Emit { name, detail_json, .. } if name == "refreshed" && detail_json.contains("token_endpoint"))));

    // An answer twice, or to no request, changes nothing.
    d.handle(NOW, ok(refetch.exchange, jwks(&[])));
    d.handle(NOW, HostInput::HttpFailed { exchange: 999 });
    assert!(drain(&d).is_empty());

    d.handle(NOW, HostInput::Destroy);
    let fx = drain(&d);
    assert!(matches!(fx.last(), Some(HostEffect::Close)));
    assert_eq!(d.state(), "destroyed");
}

#[test]
fn a_token_no_key_verifies_fails_with_its_code() {
    let d = open();
    drain(&d);
    let call = sign_in(&d);
    let token = jwt("k9", "c_1", NOW / 1000 + 3600);
    d.handle(
        NOW,
        HostInput::ProviderAnswered {
            call,
            context_json: Some(format!(r#"{{"access_token":"{token}"}}"#)),
        },
    );
    let get = http(&drain(&d));
    d.handle(NOW, ok(get.exchange, jwks(&["k1"])));
    // A JWKS fetched just now is not fetched again for the same check.
    let fx = drain(&d);
    assert!(
        !fx.iter().any(|e| matches!(e, HostEffect::Http { .. })),
        "{fx:?}"
    );
    assert!(
        fx.iter().any(|e| matches!(e, HostEffect::Emit { event: HostEvent::RefreshFailed { code, .. }, .. } if code == "unknown_key")),
        "{fx:?}"
    );
    assert_eq!(d.state(), "authenticating");
}

#[test]
fn options_the_mobile_host_cannot_serve_are_invalid_config() {
    let env = || HostEnvironment {
        has_provider: false,
        stored_anonymous_id: None,
        online: true,
    };
    for options in [
        "not json",
        r#"{"apiOrigins":[]}"#,
        r#"{"apiOrigins":["https://a.example"],"dpop":true}"#,
    ] {
        let Err(FfiError::Failed { code, .. }) = SessionDriver::new(options.into(), env(), NOW)
        else {
            panic!("{options} is refused");
        };
        assert_eq!(code, "invalid_config", "{options}");
    }
}

#[test]
fn the_issuer_s_metadata_names_the_keys_and_the_token_endpoint() {
    let env = HostEnvironment {
        has_provider: true,
        stored_anonymous_id: None,
        online: true,
    };
    let options = r#"{"apiOrigins":["https://chat.example.com"],"clientId":"app",
        "issuer":"https://id.example.com","validation":{"algorithms":["HS256"]}}"#;
    let d = SessionDriver::new(options.into(), env, NOW).unwrap();
    drain(&d);
    let call = sign_in(&d);
    let claims = |exp: i64| {
        format!(
            r#""sub":"c_1","iss":"https://id.example.com","iat":{},"exp":{}"#,
            NOW / 1000,
            NOW / 1000 + exp
        )
    };
    let first = signed("k1", &claims(3600));
    d.handle(
        NOW,
        HostInput::ProviderAnswered {
            call,
            context_json: Some(format!(
                r#"{{"access_token":"{first}","refresh_token":"rt_1","expires_in":3600}}"#
            )),
        },
    );
    // Discovery: OpenID's location, then RFC 8414's; a 503 is retried after
    // its backoff, same exchange and URL.
    let openid = http(&drain(&d));
    assert_eq!(
        (openid.url.as_str(), openid.delay_ms),
        ("https://id.example.com/.well-known/openid-configuration", 0)
    );
    d.handle(
        NOW,
        HostInput::HttpAnswered {
            exchange: openid.exchange,
            status: 404,
            date: None,
            retry_after: None,
            body: String::new(),
        },
    );
    let oauth = http(&drain(&d));
    assert_eq!(
        oauth.url,
        "https://id.example.com/.well-known/oauth-authorization-server"
    );
    d.handle(
        NOW,
        HostInput::HttpAnswered {
            exchange: oauth.exchange,
            status: 503,
            date: None,
            retry_after: None,
            body: String::new(),
        },
    );
    let retry = http(&drain(&d));
    assert_eq!(
        (retry.exchange, retry.url.as_str(), retry.delay_ms),
        (oauth.exchange, oauth.url.as_str(), 250)
    );
    let metadata = r#"{"issuer":"https://id.example.com","jwks_uri":"https://id.example.com/keys",
        "token_endpoint":"https://id.example.com/oauth/token"}"#;
    d.handle(NOW, ok(retry.exchange, metadata.into()));
    let keys = http(&drain(&d));
    assert_eq!(keys.url, "https://id.example.com/keys");
    d.handle(NOW, ok(keys.exchange, jwks(&["k1"])));
    let fx = drain(&d);
    assert_eq!(reply_of(&fx, 1), Some(&HostReply::Done), "{fx:?}");
    assert_eq!(d.state(), "authenticated");

    // The refresh grant goes to the metadata's token endpoint, without
    // fetching the metadata again.
    let post = forced_refresh(&d, 2);
    assert_eq!(post.url, "https://id.example.com/oauth/token");
    assert!(post
        .form_body
        .as_deref()
        .is_some_and(|b| b.contains("refresh_token=rt_1")));
    let second = signed("k1", &claims(7200));
    d.handle(
        NOW,
        ok(
            post.exchange,
            format!(r#"{{"access_token":"{second}","token_type":"Bearer","refresh_token":"rt_2","expires_in":7200}}"#),
        ),
    );
    let fx = drain(&d);
    assert!(
        !fx.iter().any(|e| matches!(e, HostEffect::Http { .. })),
        "{fx:?}"
    );
    assert_eq!(
        reply_of(&fx, 2),
        Some(&HostReply::Token {
            token: Some(second)
        })
    );
}

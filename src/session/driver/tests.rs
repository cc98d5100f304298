//! The driver driven as a host drives it: inputs in, effects out, on a
//! seeded entropy and chosen times. Opening, the provider and token-endpoint
//! calls, waiters, the timer, the 401 → refresh → replay path, the
//! `apiOrigins` allow-list, `sessionStorage`, the cross-tab protocol and the
//! host's signature checks; option `dpop` in `tests/dpop.rs`.

use super::tabs::token_storage_name;
use super::*;
use crate::session::machine::{Event, Reason};
use crate::wire::base64url;
use crate::wire::json::parse_object;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const T0: Millis = 1_700_000_000_000;
const CUSTOMER: &str = "c_8f3a9b2e";
const API: &str = "https://api.example";

/// A seeded linear congruential generator: the same bytes every run.
struct Seq(u64);

impl Entropy for Seq {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            *b = (self.0 >> 33) as u8;
        }
    }
}

fn config(extra: &str) -> Config {
    let text = format!(r#"{{"apiOrigins":["{API}"]{extra}}}"#);
    Config::from_json(&parse_object(text.as_bytes()).unwrap()).unwrap()
}

fn env() -> Environment {
    Environment {
        has_provider: true,
        stored_anonymous_id: None,
        online: true,
        channel: false,
        locks: false,
    }
}

/// A tab: cross-tab channel open, Web Locks present.
fn tab_env() -> Environment {
    Environment {
        channel: true,
        locks: true,
        ..env()
    }
}

fn open(extra: &str, env: Environment, seed: u64) -> (Driver, Vec<Effect>) {
    let mut d = Driver::new(config(extra), env, Box::new(Seq(seed)), T0).unwrap();
    let fx = drain(&mut d, T0);
    (d, fx)
}

fn drain(d: &mut Driver, now: Millis) -> Vec<Effect> {
    let mut out = Vec::new();
    while let Some(fx) = d.poll(now) {
        out.push(fx);
    }
    out
}

fn run(d: &mut Driver, now: Millis, input: Input) -> Vec<Effect> {
    d.handle(now, input);
    drain(d, now)
}

/// An unsigned JWT for `sub` issued at `now`, living `ttl_s`.
fn jwt(sub: &str, now: Millis, ttl_s: i64, id: &str) -> String {
    let iat = now / 1000;
    let header = base64url::encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = base64url::encode(
        format!(
            r#"{{"sub":"{sub}","iat":{iat},"exp":{},"jti":"{id}"}}"#,
            iat + ttl_s
        )
        .as_bytes(),
    );
    format!("{header}.{payload}.c2ln")
}

fn context(token: &str) -> String {
    format!(r#"{{"Auth":{{"Token":"{token}"}}}}"#)
}

fn calls(fx: &[Effect]) -> Vec<Call> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::CallProvider(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn replies(fx: &[Effect]) -> Vec<(RequestId, Reply)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Reply { request, reply } => Some((*request, reply.clone())),
            _ => None,
        })
        .collect()
}

fn timer(fx: &[Effect]) -> Option<u32> {
    fx.iter().rev().find_map(|e| match e {
        Effect::ArmTimer { delay_ms } => Some(*delay_ms),
        _ => None,
    })
}

fn posts(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Post(m) => Some(m.secret().to_owned()),
            _ => None,
        })
        .collect()
}

/// A BroadcastChannel text arriving.
fn message(text: impl Into<String>) -> Input {
    Input::Message(SecretString::new(text))
}

fn events(fx: &[Effect]) -> Vec<&'static str> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Emit(ev) => Some(event_name(ev)),
            _ => None,
        })
        .collect()
}

fn get_token(request: RequestId, force: bool) -> Input {
    Input::GetToken { request, force }
}

fn provider_failed(call: &Call, failure: ProviderFailure) -> Input {
    Input::ProviderFailed {
        call: call.id,
        failure,
    }
}

fn set_customer(request: RequestId) -> Input {
    Input::SetCustomer {
        request,
        customer_id: CUSTOMER.into(),
        provider: false,
        stored: None,
    }
}

/// Logs `d` in at `now` with a token living `ttl_s`; the effects of the
/// answer.
fn login(d: &mut Driver, now: Millis, ttl_s: i64) -> Vec<Effect> {
    let fx = run(d, now, set_customer(1));
    let call = calls(&fx)[0];
    let token = jwt(CUSTOMER, now, ttl_s, "first");
    run(
        d,
        now,
        Input::ProviderAnswered {
            call: call.id,
            context: Some(context(&token)),
        },
    )
}

/// The provider answers `call` at `now` with a token for `CUSTOMER`.
fn provide(d: &mut Driver, now: Millis, call: CallId, id: &str) -> Vec<Effect> {
    let token = jwt(CUSTOMER, now, 3600, id);
    let context = Some(context(&token));
    run(d, now, Input::ProviderAnswered { call, context })
}

/// The response to fetch `request` arrives at `now` with `status`.
fn answered(d: &mut Driver, now: Millis, request: RequestId, status: u16) -> Vec<Effect> {
    let opaque_redirect = status == 0;
    let input = Input::FetchAnswered {
        request,
        status,
        opaque_redirect,
        dpop: Default::default(),
    };
    run(d, now, input)
}

/// The one exclusive lock requested in `fx`.
fn lock_asked(fx: &[Effect]) -> LockId {
    let lock = fx.iter().find_map(|e| match e {
        Effect::AcquireLock { lock, .. } => Some(*lock),
        _ => None,
    });
    lock.unwrap_or_else(|| panic!("a lock request expected: {fx:?}"))
}

/// The lock of `fx` is granted at `now` and no other tab answers: the
/// effects of the count.
fn granted_alone(d: &mut Driver, now: Millis, fx: &[Effect]) -> Vec<Effect> {
    let lock = lock_asked(fx);
    let fx = run(d, now, Input::LockGranted { lock });
    assert!(fx.iter().any(|e| matches!(e, Effect::CountPeers { .. })));
    run(d, now, Input::PeersCounted { peers: Vec::new() })
}

/// The refresh grant posted in `fx`.
fn grant_posted(fx: &[Effect]) -> (CallId, String) {
    let grant = fx.iter().find_map(|e| match e {
        Effect::PostRefreshGrant { call, body, .. } => Some((*call, body.secret().to_owned())),
        _ => None,
    });
    grant.unwrap_or_else(|| panic!("a refresh grant expected: {fx:?}"))
}

fn bearer(headers: &[Header]) -> Option<&str> {
    headers
        .iter()
        .find(|(n, _)| n == "Authorization")
        .map(|(_, v)| v.secret())
}

#[test]
fn opening_keeps_a_stored_anonymous_id_and_writes_a_new_one_otherwise() {
    let (d, fx) = open("", env(), 1);
    assert!(is_uuid_v4(d.anonymous_id()));
    assert!(fx.iter().any(|e| matches!(e,
        Effect::Store { key: StorageKey::AnonymousId, value: Some(v) } if v.secret() == d.anonymous_id())));
    let kept = "0f5b6a3e-2c1d-4e8f-9a7b-6c5d4e3f2a1b".to_owned();
    let (d, fx) = open(
        "",
        Environment {
            stored_anonymous_id: Some(kept.clone()),
            ..env()
        },
        1,
    );
    assert_eq!(d.anonymous_id(), kept);
    assert!(fx.is_empty());
}

#[test]
fn set_customer_calls_the_provider_then_resolves_with_events_and_a_capped_timer() {
    let (mut d, _) = open("", env(), 1);
    let fx = run(&mut d, T0, set_customer(1));
    let call = calls(&fx)[0];
    assert_eq!(call.reason, Reason::Initial);
    assert!(!call.needs_refresh);
    assert!(replies(&fx).is_empty(), "waits for the token");
    let fx = provide(&mut d, T0 + 5, call.id, "first");
    assert_eq!(replies(&fx), vec![(1, Reply::Done)]);
    assert_eq!(events(&fx), vec!["state", "authenticated"]);
    let anonymous_id = d.anonymous_id().to_owned();
    assert!(fx.iter().any(|e| matches!(e,
        Effect::Emit(Event::Authenticated { anonymous_id: a, .. }) if *a == anonymous_id)));
    assert_eq!(d.state(), State::Authenticated);
    // The refresh is due in about an hour: the timer sleeps at most 60 s.
    assert_eq!(timer(&fx), Some(WAKE_CHECK_MS as u32));
}

#[test]
fn a_timer_capped_at_60_s_rechecks_and_one_firing_after_a_sleep_refreshes() {
    let (mut d, _) = open("", env(), 1);
    let fx = login(&mut d, T0, 3600);
    assert_eq!(timer(&fx), Some(60_000));
    // The capped timer fires with nothing due: armed again, no call.
    let fx = run(&mut d, T0 + 60_000, Input::TimerFired);
    assert!(calls(&fx).is_empty());
    assert_eq!(timer(&fx), Some(60_000));
    // The machine slept for two hours; the timer fires late.
    let late = T0 + 2 * 3_600_000;
    let fx = run(&mut d, late, Input::TimerFired);
    let call = calls(&fx)[0];
    assert_eq!(call.reason, Reason::Scheduled);
    assert!(call.needs_refresh);
    // The provider call's deadline (15 s) is under the cap.
    assert_eq!(timer(&fx), Some(15_000));
}

#[test]
fn an_unchanged_wake_keeps_the_pending_timer() {
    let (mut d, _) = open("", env(), 1);
    login(&mut d, T0, 3600);
    let fx = run(&mut d, T0 + 10, get_token(2, false));
    assert!(matches!(&replies(&fx)[..], [(2, Reply::Token(Some(_)))]));
    assert_eq!(timer(&fx), None, "no new timer for the same wake");
}

#[test]
fn requests_during_a_call_wait_for_it_and_share_one_call() {
    let (mut d, _) = open("", env(), 1);
    let fx = run(&mut d, T0, set_customer(1));
    let call = calls(&fx)[0];
    for r in 2..6 {
        let fx = run(&mut d, T0, get_token(r, false));
        assert!(calls(&fx).is_empty() && replies(&fx).is_empty());
    }
    let fx = provide(&mut d, T0 + 1, call.id, "first");
    let r = replies(&fx);
    assert_eq!(r.len(), 5);
    let token = d.session().credential().unwrap().token.clone();
    assert!(r[1..]
        .iter()
        .all(|(_, reply)| *reply == Reply::Token(Some(token.clone()))));
}

#[test]
fn a_provider_that_fails_retries_then_loses_the_session_and_rejects_waiters() {
    let (mut d, _) = open(r#","refresh":{"maxRetries":1}"#, env(), 1);
    let fx = run(&mut d, T0, set_customer(1));
    let call = calls(&fx)[0];
    let fx = run(
        &mut d,
        T0,
        provider_failed(&call, ProviderFailure::Rejected),
    );
    assert_eq!(events(&fx), vec!["refresh-failed"]);
    let retry_in = timer(&fx).unwrap();
    let fx = run(&mut d, T0 + Millis::from(retry_in), Input::TimerFired);
    let retry = calls(&fx)[0];
    assert_eq!(retry.reason, Reason::Retry);
    let fx = run(
        &mut d,
        T0 + Millis::from(retry_in),
        provider_failed(&retry, ProviderFailure::Threw),
    );
    assert!(events(&fx).contains(&"auth-lost"));
    assert!(
        matches!(&replies(&fx)[..], [(1, Reply::Reject(e))] if e.code() == ErrorCode::ProviderFailed)
    );
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::LoginNeeded {
            reason: "auth_lost",
            ..
        }
    )));
}

#[test]
fn headers_go_only_to_allowed_origins() {
    let (mut d, _) = open("", env(), 1);
    let fx = run(
        &mut d,
        T0,
        Input::AuthHeaders {
            request: 1,
            origin: Some("https://evil.example".into()),
            target: None,
        },
    );
    assert_eq!(replies(&fx), vec![(1, Reply::Headers(vec![]))]);
    let fx = run(
        &mut d,
        T0,
        Input::AuthHeaders {
            request: 2,
            origin: None,
            target: None,
        },
    );
    assert_eq!(replies(&fx), vec![(2, Reply::Headers(vec![]))]);
    // Anonymous to an allowed origin: only the anonymous id.
    let fx = run(
        &mut d,
        T0,
        Input::AuthHeaders {
            request: 3,
            origin: Some(API.into()),
            target: None,
        },
    );
    let anonymous = vec![(
        "Chat-Anonymous-Id".to_owned(),
        SecretString::new(d.anonymous_id()),
    )];
    assert_eq!(replies(&fx), vec![(3, Reply::Headers(anonymous))]);
    login(&mut d, T0, 3600);
    let fx = run(
        &mut d,
        T0 + 1,
        Input::AuthHeaders {
            request: 4,
            origin: Some(API.into()),
            target: None,
        },
    );
    let [(4, Reply::Headers(h))] = &replies(&fx)[..] else {
        panic!("headers expected: {fx:?}");
    };
    assert!(bearer(h).is_some_and(|v| v.starts_with("Bearer ey")));
    // A plain fetch elsewhere: sent untouched.
    let fx = run(
        &mut d,
        T0 + 1,
        Input::Fetch {
            request: 5,
            origin: Some("https://cdn.example".into()),
            follows_redirects: true,
            replayable: true,
            target: None,
        },
    );
    assert_eq!(replies(&fx), vec![(5, Reply::Plain)]);
}

fn fetch(d: &mut Driver, now: Millis, request: RequestId, replayable: bool) -> Vec<Effect> {
    run(
        d,
        now,
        Input::Fetch {
            request,
            origin: Some(API.into()),
            follows_redirects: true,
            replayable,
            target: None,
        },
    )
}

#[test]
fn a_fetch_whose_id_the_host_reused_still_gets_a_reply() {
    let (mut d, _) = open("", env(), 1);
    let call = calls(&run(&mut d, T0, set_customer(1)))[0];
    // It waits for the login; meanwhile the answer to an earlier request
    // the host gave the same id arrives and takes its entry.
    assert!(replies(&fetch(&mut d, T0, 7, true)).is_empty());
    answered(&mut d, T0, 7, 200);
    let fx = provide(&mut d, T0, call.id, "first");
    let to_7 = replies(&fx).into_iter().filter(|(r, _)| *r == 7).count();
    assert_eq!(to_7, 1, "the waiting request gets its reply: {fx:?}");
}

#[test]
fn a_401_refreshes_once_and_replays_once_with_the_new_token() {
    let (mut d, _) = open("", env(), 1);
    login(&mut d, T0, 3600);
    let fx = fetch(&mut d, T0 + 1, 7, true);
    let [(
        7,
        Reply::Send {
            headers,
            manual_redirect: true,
            settles_unless: Some(401),
        },
    )] = &replies(&fx)[..]
    else {
        panic!("send expected: {fx:?}");
    };
    let first = bearer(headers).unwrap().to_owned();
    let fx = answered(&mut d, T0 + 2, 7, 401);
    let call = calls(&fx)[0];
    assert_eq!(call.reason, Reason::After401);
    let fx = provide(&mut d, T0 + 3, call.id, "second");
    let [(7, Reply::Replay { headers })] = &replies(&fx)[..] else {
        panic!("replay expected: {fx:?}");
    };
    assert_ne!(bearer(headers).unwrap(), first);
    // The replay's 401 stands: no second refresh.
    let fx = answered(&mut d, T0 + 4, 7, 401);
    assert_eq!(replies(&fx), vec![(7, Reply::Response)]);
    assert!(calls(&fx).is_empty());
}

/// `Reply::Send`'s `settles_unless`, from a fetch sent now.
fn settles_unless(fx: &[Effect]) -> Option<u16> {
    match &replies(fx)[..] {
        [(_, Reply::Send { settles_unless, .. })] => *settles_unless,
        _ => panic!("send expected: {fx:?}"),
    }
}

#[test]
fn a_send_says_which_answers_it_would_hand_back_as_they_are() {
    // What `settles_unless: Some(401)` promises: whatever happens between
    // the send and its answer, the driver's answer to any other status (not
    // an opaque redirect) is the response as it is, and nothing else.
    for status in [200, 201, 204, 304, 400, 403, 404, 407, 429, 500, 503] {
        for meanwhile in [
            "nothing",
            "logout",
            "other customer",
            "forced refresh",
            "destroy",
        ] {
            let (mut d, _) = open("", env(), 1);
            login(&mut d, T0, 3600);
            let fx = fetch(&mut d, T0 + 1, 7, true);
            assert_eq!(settles_unless(&fx), Some(401));
            match meanwhile {
                "logout" => drop(run(&mut d, T0 + 2, Input::ClearCustomer { request: 8 })),
                "other customer" => {
                    let input = Input::SetCustomer {
                        request: 8,
                        customer_id: "c_other".into(),
                        provider: true,
                        stored: None,
                    };
                    drop(run(&mut d, T0 + 2, input));
                }
                "forced refresh" => drop(run(&mut d, T0 + 2, get_token(8, true))),
                "destroy" => drop(run(&mut d, T0 + 2, Input::Destroy)),
                _ => {}
            }
            let fx = answered(&mut d, T0 + 3, 7, status);
            let to_7: Vec<_> = replies(&fx).into_iter().filter(|(r, _)| *r == 7).collect();
            assert_eq!(
                to_7,
                vec![(7, Reply::Response)],
                "{status} after {meanwhile}: {fx:?}"
            );
            assert!(calls(&fx).is_empty(), "{status} after {meanwhile}: {fx:?}");
        }
    }
}

#[test]
fn a_plain_fetch_is_always_answered_with_its_response() {
    // What `Reply::Plain` promises (the host resolves with its answer at
    // once): another origin's answer, a 401 or an opaque redirect too, is
    // handed back as it is, whatever happened meanwhile, and never refreshes.
    for status in [0, 200, 302, 401, 403, 500] {
        for meanwhile in ["nothing", "logout", "destroy"] {
            let (mut d, _) = open("", env(), 1);
            login(&mut d, T0, 3600);
            let input = Input::Fetch {
                request: 7,
                origin: Some("https://elsewhere.example.net".into()),
                follows_redirects: true,
                replayable: true,
                target: None,
            };
            assert_eq!(
                replies(&run(&mut d, T0 + 1, input)),
                vec![(7, Reply::Plain)]
            );
            match meanwhile {
                "logout" => drop(run(&mut d, T0 + 2, Input::ClearCustomer { request: 8 })),
                "destroy" => drop(run(&mut d, T0 + 2, Input::Destroy)),
                _ => {}
            }
            let fx = answered(&mut d, T0 + 3, 7, status);
            assert_eq!(
                replies(&fx),
                vec![(7, Reply::Response)],
                "{status} after {meanwhile}"
            );
            assert!(calls(&fx).is_empty(), "{status} after {meanwhile}: {fx:?}");
        }
    }
}

#[test]
fn a_settled_fetch_leaves_nothing_behind_and_a_401_still_refreshes() {
    let (mut d, _) = open("", env(), 1);
    login(&mut d, T0, 3600);
    fetch(&mut d, T0 + 1, 7, true);
    // The host resolved it with its 200: no effect, and its entry is gone
    // (a late answer with its id is a plain request's, handed back as it is).
    assert!(run(&mut d, T0 + 2, Input::FetchSettled { request: 7 }).is_empty());
    let fx = answered(&mut d, T0 + 3, 7, 401);
    assert_eq!(replies(&fx), vec![(7, Reply::Response)]);
    assert!(calls(&fx).is_empty());
    // The next request still gets the 401 → refresh → replay.
    assert_eq!(settles_unless(&fetch(&mut d, T0 + 4, 9, true)), Some(401));
    let call = calls(&answered(&mut d, T0 + 5, 9, 401))[0];
    let fx = provide(&mut d, T0 + 6, call.id, "second");
    assert!(matches!(&replies(&fx)[..], [(9, Reply::Replay { .. })]));
}

#[test]
fn a_401_without_a_replayable_body_refreshes_and_hands_back_the_401() {
    let (mut d, _) = open("", env(), 1);
    login(&mut d, T0, 3600);
    fetch(&mut d, T0 + 1, 7, false);
    let fx = answered(&mut d, T0 + 2, 7, 401);
    let call = calls(&fx)[0];
    let fx = provide(&mut d, T0 + 3, call.id, "second");
    assert_eq!(replies(&fx), vec![(7, Reply::Response)]);
}

#[test]
fn a_redirect_answer_to_a_request_with_credentials_rejects() {
    let (mut d, _) = open("", env(), 1);
    login(&mut d, T0, 3600);
    fetch(&mut d, T0 + 1, 7, true);
    let fx = answered(&mut d, T0 + 2, 7, 0);
    assert!(matches!(&replies(&fx)[..], [(7, Reply::Reject(e))] if e.code() == ErrorCode::Network));
    let fx = run(
        &mut d,
        T0 + 2,
        Input::FetchFailed {
            request: 8,
            aborted: true,
        },
    );
    assert_eq!(replies(&fx), vec![(8, Reply::Rethrow)]);
}

#[test]
fn storage_session_keeps_the_token_and_a_write_that_throws_stops_writes() {
    let (mut d, _) = open(r#","storage":"session""#, env(), 1);
    let fx = login(&mut d, T0, 3600);
    let stored = stored_token(&fx).expect("the token is written");
    // Another instance of the same tab resumes from it without a call.
    let (mut other, _) = open(r#","storage":"session""#, env(), 2);
    let fx = run(
        &mut other,
        T0 + 10,
        Input::SetCustomer {
            request: 1,
            customer_id: CUSTOMER.into(),
            provider: false,
            stored: Some(stored.clone()),
        },
    );
    assert!(calls(&fx).is_empty());
    assert_eq!(replies(&fx), vec![(1, Reply::Done)]);
    // Memory storage never reads it.
    let (mut memory, _) = open("", env(), 3);
    let fx = run(
        &mut memory,
        T0 + 10,
        Input::SetCustomer {
            request: 1,
            customer_id: CUSTOMER.into(),
            provider: false,
            stored: Some(stored),
        },
    );
    assert_eq!(calls(&fx).len(), 1);
    // The write throws: the stale entry is removed once, nothing else is
    // written, and the session goes on in memory.
    let fx = run(
        &mut d,
        T0 + 20,
        Input::StorageFailed {
            key: StorageKey::Token,
        },
    );
    assert!(matches!(
        &fx[..],
        [Effect::Store {
            key: StorageKey::Token,
            value: None
        }]
    ));
    let fx = run(&mut d, T0 + 2 * 3_600_000, Input::TimerFired);
    let call = calls(&fx)[0];
    let fx = provide(&mut d, T0 + 2 * 3_600_000, call.id, "second");
    assert!(!fx.iter().any(|e| matches!(e, Effect::Store { .. })));
    assert_eq!(events(&fx), vec!["state", "refreshed"]);
    assert_eq!(d.state(), State::Authenticated);
}

#[test]
fn the_token_endpoint_rotation_is_kept_and_shared_before_admitting() {
    let extra = r#","tokenEndpoint":"https://id.example/token","clientId":"web""#;
    let (mut d, _) = open(extra, tab_env(), 1);
    let fx = run(&mut d, T0, set_customer(1));
    let lock = &lock_asked(&fx);
    let fx = granted_alone(&mut d, T0, &fx);
    let call = calls(&fx)[0];
    let token = jwt(CUSTOMER, T0, 120, "first");
    let answer = format!(r#"{{"Auth":{{"Token":"{token}","refresh_token":"r1"}}}}"#);
    let fx = run(
        &mut d,
        T0,
        Input::ProviderAnswered {
            call: call.id,
            context: Some(answer),
        },
    );
    assert!(posts(&fx)[0].starts_with(r#"{"type":"token""#));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::ReleaseLock(l) if l == lock)));
    // Due: the refresh grant goes out through the lock again.
    let due = d.session().refresh_due().unwrap();
    let fx = run(&mut d, due, Input::TimerFired);
    let fx = granted_alone(&mut d, due, &fx);
    let (call, body) = grant_posted(&fx);
    let call = &call;
    assert!(body.contains("refresh_token=r1"));
    assert!(body.contains("client_id=web"));
    // A rotated refresh token in an answer whose access token is refused
    // (another customer's) is still kept and shared.
    let bad = jwt("c_someone_else", due, 120, "x");
    let fx = run(
        &mut d,
        due,
        Input::TokenEndpointAnswered {
            call: *call,
            answer: HttpAnswer {
                status: 200,
                date: None,
                retry_after: None,
                body: SecretString::new(format!(
                    r#"{{"access_token":"{bad}","token_type":"Bearer","expires_in":120,"refresh_token":"r2"}}"#
                )),
                dpop_nonce: None,
            },
        },
    );
    let shared = posts(&fx);
    assert!(shared[0].starts_with(r#"{"type":"refresh""#) && shared[0].contains("r2"));
    assert!(events(&fx).contains(&"refresh-failed"));
    assert_eq!(d.session().refresh_token().map(|t| t.secret()), Some("r2"));
}

/// A tab-less driver with a token endpoint, logged in by the provider with
/// a token living 120 s and the refresh token `r1`.
fn logged_in_with_refresh_token() -> Driver {
    let extra = r#","tokenEndpoint":"https://id.example/token""#;
    let (mut d, _) = open(extra, env(), 1);
    let call = calls(&run(&mut d, T0, set_customer(1)))[0];
    provide_with_r1(&mut d, call.id);
    d
}

/// The provider answers `call` at `T0` with a token living 120 s and the
/// refresh token `r1`.
fn provide_with_r1(d: &mut Driver, call: CallId) {
    let token = jwt(CUSTOMER, T0, 120, "first");
    let context = Some(format!(
        r#"{{"Auth":{{"Token":"{token}","refresh_token":"r1"}}}}"#
    ));
    run(d, T0, Input::ProviderAnswered { call, context });
}

#[test]
fn a_refused_refresh_token_is_forgotten_and_retry_after_is_honoured() {
    let mut d = logged_in_with_refresh_token();
    let due = d.session().refresh_due().unwrap();
    let fx = run(&mut d, due, Input::TimerFired);
    let (call, _) = grant_posted(&fx);
    let call = &call;
    let fx = run(
        &mut d,
        due,
        Input::TokenEndpointAnswered {
            call: *call,
            answer: HttpAnswer {
                status: 503,
                date: None,
                retry_after: Some("20".into()),
                body: SecretString::new(""),
                dpop_nonce: None,
            },
        },
    );
    assert!(fx.iter().any(|e| matches!(e,
        Effect::Emit(Event::RefreshFailed { code: ErrorCode::Network, retry_in_ms: Some(ms), .. }) if *ms >= 20_000)));
    assert_eq!(d.session().refresh_token().map(|t| t.secret()), Some("r1"));
    let fx = run(&mut d, due + 20_000, Input::TimerFired);
    let (call, _) = grant_posted(&fx);
    let call = &call;
    run(
        &mut d,
        due + 20_000,
        Input::TokenEndpointAnswered {
            call: *call,
            answer: HttpAnswer {
                status: 400,
                date: None,
                retry_after: None,
                body: SecretString::new(r#"{"error":"invalid_grant"}"#),
                dpop_nonce: None,
            },
        },
    );
    assert!(d.session().refresh_token().is_none());
}

fn endpoint_answer(call: CallId, status: u16, body: String) -> Input {
    Input::TokenEndpointAnswered {
        call,
        answer: HttpAnswer {
            status,
            date: None,
            retry_after: None,
            body: SecretString::new(body),
            dpop_nonce: None,
        },
    }
}

#[test]
fn a_grant_answer_after_its_call_timed_out_still_hands_in_its_refresh_token() {
    let mut d = logged_in_with_refresh_token();
    let due = d.session().refresh_due().unwrap();
    let (late, body) = grant_posted(&run(&mut d, due, Input::TimerFired));
    assert!(body.contains("refresh_token=r1"));
    // The endpoint takes longer than the provider timeout: the call is
    // aborted, then its answer (which rotated r1 to r2) arrives.
    let after = due + 16_000;
    let fx = run(&mut d, after, Input::TimerFired);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::AbortCall(c) if *c == late)));
    let fresh = jwt(CUSTOMER, after, 120, "late");
    let body = format!(
        r#"{{"access_token":"{fresh}","token_type":"Bearer","expires_in":120,"refresh_token":"r2"}}"#
    );
    run(&mut d, after + 10, endpoint_answer(late, 200, body));
    assert_eq!(d.session().refresh_token().map(|t| t.secret()), Some("r2"));
    // A late refusal of a superseded grant still forgets what it presented.
    let retry_at = d
        .session()
        .refresh_due()
        .unwrap_or(after)
        .max(after + 60_000);
    let fx = run(&mut d, retry_at, Input::TimerFired);
    let (spent, body) = grant_posted(&fx);
    assert!(body.contains("refresh_token=r2"));
    run(&mut d, retry_at + 16_000, Input::TimerFired);
    let refused = r#"{"error":"invalid_grant"}"#.to_owned();
    run(
        &mut d,
        retry_at + 16_010,
        endpoint_answer(spent, 400, refused),
    );
    assert!(d.session().refresh_token().is_none());
}

#[test]
fn a_lock_request_that_fails_lets_the_call_go_ahead_and_later_calls_skip_the_lock() {
    let (mut d, fx) = open("", tab_env(), 1);
    assert!(fx.iter().any(|e| matches!(e, Effect::HoldPresence { .. })));
    let fx = run(&mut d, T0, set_customer(1));
    assert!(calls(&fx).is_empty());
    let lock = &lock_asked(&fx);
    let fx = run(&mut d, T0 + 500, Input::LockFailed { lock: *lock });
    let call = calls(&fx)[0];
    // The deadline counts from the failure, not from the request.
    assert_eq!(call.deadline, T0 + 500 + 15_000);
    provide(&mut d, T0 + 501, call.id, "first");
    let fx = run(&mut d, T0 + 600, get_token(2, true));
    assert_eq!(calls(&fx).len(), 1, "no lock asked any more");
    assert!(!fx.iter().any(|e| matches!(e, Effect::AcquireLock { .. })));
}

#[test]
fn a_token_offered_by_another_tab_saves_the_call_and_a_silent_round_times_out() {
    let (mut a, _) = open("", tab_env(), 1);
    login_through_lock(&mut a, T0);
    let (mut b, _) = open("", tab_env(), 2);
    let fx = run(&mut b, T0 + 10, set_customer(1));
    let lock = &lock_asked(&fx);
    run(&mut b, T0 + 10, Input::LockGranted { lock: *lock });
    let peers = vec![tab_id(&a)];
    let fx = run(&mut b, T0 + 10, Input::PeersCounted { peers });
    let want = posts(&fx).remove(0);
    assert!(want.starts_with(r#"{"type":"want""#));
    // A answers with its token.
    let fx = run(&mut a, T0 + 11, message(want.as_str()));
    let have = posts(&fx).remove(0);
    let fx = run(&mut b, T0 + 12, message(have));
    assert!(calls(&fx).is_empty(), "adopted, no provider call");
    assert_eq!(replies(&fx), vec![(1, Reply::Done)]);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Emit(Event::Authenticated { .. }))));
    assert!(fx.iter().any(|e| matches!(e, Effect::ReleaseLock(_))));
    // A third tab asks; nobody answers within the round's 500 ms.
    let (mut c, _) = open("", tab_env(), 3);
    let fx = run(&mut c, T0 + 20, set_customer(1));
    let lock = &lock_asked(&fx);
    run(&mut c, T0 + 20, Input::LockGranted { lock: *lock });
    let peers = vec![tab_id(&a), tab_id(&b)];
    let fx = run(&mut c, T0 + 20, Input::PeersCounted { peers });
    assert_eq!(timer(&fx), Some(ROUND_TIMEOUT_MS as u32));
    let fx = run(&mut c, T0 + 520, Input::TimerFired);
    assert_eq!(calls(&fx).len(), 1, "the round timed out: call");
}

#[test]
fn an_extreme_page_clock_does_not_overflow_the_timers() {
    for now in [Millis::MAX - 100, Millis::MIN + 100] {
        let mut d = Driver::new(config(""), tab_env(), Box::new(Seq(1)), now).unwrap();
        drain(&mut d, now);
        let lock = lock_asked(&run(&mut d, now, set_customer(1)));
        run(&mut d, now, Input::LockGranted { lock });
        let peers = vec!["a-peer".to_owned()];
        let fx = run(&mut d, now, Input::PeersCounted { peers });
        assert!(timer(&fx).is_some(), "the round is timed");
        let fx = run(&mut d, now.saturating_add(600), Input::TimerFired);
        let call = calls(&fx)[0];
        // A token whose expiry is on the issuer's clock, far from the page's.
        let token = jwt(CUSTOMER, T0, 3600, "first");
        let context = Some(context(&token));
        run(
            &mut d,
            now,
            Input::ProviderAnswered {
                call: call.id,
                context,
            },
        );
        run(&mut d, now, Input::TimerFired);
    }
}

#[test]
fn a_silent_round_ends_on_the_host_timer_even_with_a_frozen_clock() {
    let (mut a, _) = open("", tab_env(), 1);
    login_through_lock(&mut a, T0);
    let (mut c, _) = open("", tab_env(), 3);
    let lock = lock_asked(&run(&mut c, T0, set_customer(1)));
    run(&mut c, T0, Input::LockGranted { lock });
    let peers = vec![tab_id(&a)];
    let fx = run(&mut c, T0, Input::PeersCounted { peers });
    assert_eq!(timer(&fx), Some(ROUND_TIMEOUT_MS as u32));
    // The `now` option stands still; the round's timer fired all the same.
    let fx = run(&mut c, T0, Input::TimerFired);
    assert_eq!(calls(&fx).len(), 1, "the round is over: call");
}

/// Logs a tab in through the refresh lock with no peers.
fn login_through_lock(d: &mut Driver, now: Millis) {
    let fx = run(d, now, set_customer(1));
    let fx = granted_alone(d, now, &fx);
    let call = calls(&fx)[0];
    let token = jwt(CUSTOMER, now, 3600, "first");
    run(
        d,
        now,
        Input::ProviderAnswered {
            call: call.id,
            context: Some(context(&token)),
        },
    );
    assert_eq!(d.state(), State::Authenticated);
}

#[test]
fn the_tab_protocol_is_keyed_by_the_credential_source() {
    let widget = config(r#","tokenEndpoint":"https://id.example/token","clientId":"chat-demo""#);
    let messenger =
        config(r#","tokenEndpoint":"https://id.example/token","clientId":"chat-messenger""#);
    let same = config(r#","tokenEndpoint":"https://id.example/token","clientId":"chat-demo""#);
    assert_ne!(channel_name(&widget), channel_name(&messenger));
    assert_eq!(channel_name(&widget), channel_name(&same));
    let other_endpoint =
        config(r#","tokenEndpoint":"https://other.example/token","clientId":"chat-demo""#);
    assert_ne!(channel_name(&widget), channel_name(&other_endpoint));
    let issuer = config(r#","issuer":"https://id.example""#);
    assert_ne!(channel_name(&issuer), channel_name(&config("")));
    // Provider-only instances that send tokens to other origins, or judge
    // them by other rules, never share (review finding 1); the order of
    // `apiOrigins` does not matter.
    let origins = |list: &str, extra: &str| {
        let text = format!(r#"{{"apiOrigins":[{list}]{extra}}}"#);
        Config::from_json(&parse_object(text.as_bytes()).unwrap()).unwrap()
    };
    let chat = origins(r#""https://chat.example""#, "");
    let both = origins(r#""https://chat.example","https://msg.example""#, "");
    let both_reordered = origins(r#""https://msg.example","https://chat.example""#, "");
    assert_ne!(
        channel_name(&chat),
        channel_name(&origins(r#""https://msg.example""#, ""))
    );
    assert_ne!(channel_name(&chat), channel_name(&both));
    assert_eq!(channel_name(&both), channel_name(&both_reordered));
    for rules in [
        r#","validation":{"audience":"chat"}"#,
        r#","validation":{"customerIdClaim":"uid"}"#,
        r#","validation":{"customerIdClaim":null}"#,
        r#","validation":{"leewaySeconds":300}"#,
        r#","validation":{"issuer":"https://id.example"}"#,
        r#","validation":{"jwksUrl":"https://id.example/jwks","algorithms":["RS256"]}"#,
        r#","introspectionEndpoint":"https://id.example/introspect""#,
    ] {
        assert_ne!(
            channel_name(&chat),
            channel_name(&origins(r#""https://chat.example""#, rules)),
            "{rules}"
        );
    }
    assert_ne!(
        token_storage_name(&chat),
        token_storage_name(&origins(r#""https://msg.example""#, ""))
    );
    // Options at their defaults, written out, are the same source.
    assert_eq!(
        channel_name(&chat),
        channel_name(&origins(
            r#""https://chat.example""#,
            r#","validation":{"leewaySeconds":30,"customerIdClaim":"sub","algorithms":["EdDSA","RS256","PS256","ES256"]}"#
        ))
    );
    // Keys count by what they are (parsed once with the options): another
    // key, kid or URL is another source; the same key written again is not.
    let jwks = |kid: &str, k: &str| {
        origins(
            r#""https://chat.example""#,
            &format!(
                r#","validation":{{"jwks":{{"keys":[{{"kty":"oct","kid":"{kid}","k":"{k}"}}]}}}}"#
            ),
        )
    };
    const K1: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
    const K2: &str = "MTEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
    let one = token_storage_name(&jwks("a", K1));
    assert_eq!(one, token_storage_name(&jwks("a", K1)));
    assert_ne!(one, token_storage_name(&jwks("b", K1)));
    assert_ne!(one, token_storage_name(&jwks("a", K2)));
    assert_ne!(one, token_storage_name(&chat));
    let url = |u: &str| {
        let rules = format!(r#","validation":{{"jwksUrl":"{u}"}}"#);
        token_storage_name(&origins(r#""https://chat.example""#, &rules))
    };
    assert_ne!(
        url("https://id.example/jwks"),
        url("https://id.example/jwks2")
    );
    // What limits a key limits the source: a JWK's `alg` and `use` decide
    // which tokens it verifies (`VerifyingKey::fits`), and one key given
    // alone verifies whatever the `kid`, in a set only its own.
    let member = |extra: &str| {
        let rules = format!(
            r#","validation":{{"algorithms":["HS256","HS512"],"jwks":{{"keys":[{{"kty":"oct","kid":"a","k":"{K1}"{extra}}}]}}}}"#
        );
        token_storage_name(&origins(r#""https://chat.example""#, &rules))
    };
    let plain = member("");
    assert_eq!(plain, member(""));
    for extra in [
        r#","alg":"HS256""#,
        r#","alg":"HS512""#,
        r#","use":"sig""#,
        r#","use":"enc""#,
    ] {
        assert_ne!(plain, member(extra), "{extra}");
    }
    assert_ne!(member(r#","alg":"HS256""#), member(r#","alg":"HS512""#));
    let mut set = jwks("a", K1);
    let Some(crate::jose::keys::KeySource::Jwks(keys)) = set.validation.key.clone() else {
        panic!("a JWK Set");
    };
    let mut single = set.clone();
    single.validation.key = Some(crate::jose::keys::KeySource::Key(keys[0].clone()));
    assert_ne!(token_storage_name(&set), token_storage_name(&single));
    set.validation.key = Some(crate::jose::keys::KeySource::Jwks(keys));
    assert_eq!(token_storage_name(&set), one);
    // The locks differ too: the messenger never waits on the widget's.
    let lock_name = |c: &Config| {
        let mut d = Driver::new(c.clone(), tab_env(), Box::new(Seq(1)), T0).unwrap();
        drain(&mut d, T0);
        let fx = run(&mut d, T0, set_customer(1));
        fx.into_iter()
            .find_map(|e| match e {
                Effect::AcquireLock { name, .. } => Some(name),
                _ => None,
            })
            .unwrap()
    };
    assert_ne!(lock_name(&widget), lock_name(&messenger));
    assert_eq!(lock_name(&widget), lock_name(&same));
    assert!(lock_name(&widget).ends_with(CUSTOMER));
}

#[test]
fn a_logout_in_another_tab_logs_this_one_out_with_a_new_anonymous_id() {
    let (mut a, _) = open("", tab_env(), 1);
    login_through_lock(&mut a, T0);
    let (mut b, _) = open("", tab_env(), 2);
    login_through_lock(&mut b, T0);
    let before = b.anonymous_id().to_owned();
    let fx = run(&mut a, T0 + 5, Input::ClearCustomer { request: 9 });
    assert_eq!(replies(&fx), vec![(9, Reply::Done)]);
    let logout = posts(&fx).remove(0);
    let fx = run(&mut b, T0 + 6, message(logout));
    assert_eq!(b.state(), State::LoggedOut);
    assert_ne!(b.anonymous_id(), before);
    assert!(events(&fx).contains(&"logged-out"));
    assert!(fx.iter().any(|e| matches!(e,
        Effect::Store { key: StorageKey::AnonymousId, value: Some(v) } if v.secret() == b.anonymous_id())));
    // Garbage on the channel is ignored.
    assert!(run(&mut b, T0 + 7, message("{nope")).is_empty());
}

#[test]
fn signatures_are_checked_by_the_host_when_validation_has_keys() {
    let extra = r#","validation":{"algorithms":["ES256"],"jwksUrl":"https://id.example/jwks"}"#;
    let (mut d, _) = open(extra, env(), 1);
    let fx = run(&mut d, T0, set_customer(1));
    let call = calls(&fx)[0];
    let fx = provide(&mut d, T0, call.id, "first");
    let Some(Effect::CheckToken {
        call: checked,
        signature: Some(_),
        introspect: false,
        ..
    }) = fx.iter().find(|e| matches!(e, Effect::CheckToken { .. }))
    else {
        panic!("check expected: {fx:?}");
    };
    let fx = run(
        &mut d,
        T0 + 1,
        Input::TokenChecked {
            call: *checked,
            result: Err(Error::new(ErrorCode::BadSignature, "no")),
        },
    );
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Emit(Event::RefreshFailed {
            code: ErrorCode::BadSignature,
            ..
        })
    )));
    // An opaque token is refused outright when signatures are checked.
    let fx = run(&mut d, T0 + 60_000, Input::TimerFired);
    if let Some(retry) = calls(&fx).first() {
        let fx = run(
            &mut d,
            T0 + 60_000,
            Input::ProviderAnswered {
                call: retry.id,
                context: Some(context("opaque")),
            },
        );
        assert!(!fx.iter().any(|e| matches!(e, Effect::CheckToken { .. })));
    }
}

#[test]
fn a_second_answer_while_the_first_is_checked_is_not_admitted_by_its_check() {
    let extra = r#","validation":{"algorithms":["ES256"],"jwksUrl":"https://id.example/jwks"}"#;
    let (mut d, _) = open(extra, env(), 1);
    let call = calls(&run(&mut d, T0, set_customer(1)))[0];
    provide(&mut d, T0, call.id, "first");
    // The provider answers again (callback and return value) while the
    // first answer's signature is being checked.
    let fx = provide(&mut d, T0, call.id, "second");
    assert!(!fx.iter().any(|e| matches!(e, Effect::CheckToken { .. })));
    let result = Ok(None);
    run(
        &mut d,
        T0 + 1,
        Input::TokenChecked {
            call: call.id,
            result,
        },
    );
    let held = d.session().credential().unwrap().token.secret();
    assert_eq!(held, jwt(CUSTOMER, T0, 3600, "first"), "the checked token");
}

#[test]
fn destroy_rejects_waiters_and_closes_everything() {
    let (mut d, _) = open("", tab_env(), 1);
    let fx = run(&mut d, T0, set_customer(1));
    let lock = &lock_asked(&fx);
    granted_alone(&mut d, T0, &fx);
    run(&mut d, T0, get_token(2, false));
    let fx = run(&mut d, T0 + 1, Input::Destroy);
    let r = replies(&fx);
    assert_eq!(r.len(), 2);
    assert!(r
        .iter()
        .all(|(_, reply)| matches!(reply, Reply::Reject(e) if e.code() == ErrorCode::Destroyed)));
    assert!(fx.iter().any(|e| matches!(e, Effect::AbortCall(_))));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::ReleaseLock(l) if l == lock)));
    assert!(matches!(fx.last(), Some(Effect::Close)));
    let fx = run(&mut d, T0 + 2, set_customer(3));
    assert!(
        matches!(&replies(&fx)[..], [(3, Reply::Reject(e))] if e.code() == ErrorCode::Destroyed)
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::ArmTimer { .. })));
}

#[test]
fn offline_retries_wait_for_the_network() {
    let (mut d, _) = open(
        "",
        Environment {
            online: false,
            ..env()
        },
        1,
    );
    let fx = run(&mut d, T0, set_customer(1));
    let call = calls(&fx)[0];
    let fx = run(
        &mut d,
        T0,
        provider_failed(&call, ProviderFailure::Rejected),
    );
    assert_eq!(timer(&fx), None, "no retry timer while offline");
    let fx = run(&mut d, T0 + 5_000, Input::Online(true));
    assert_eq!(calls(&fx).len(), 1);
}

#[test]
fn constructing_checks_the_customer_id_option() {
    // An unknown algorithm never gets this far: the options are typed.
    let text = format!(
        r#"{{"apiOrigins":["{API}"],"validation":{{"algorithms":["XS256"],"jwksUrl":"https://x/j"}}}}"#
    );
    let e = Config::from_json(&parse_object(text.as_bytes()).unwrap()).unwrap_err();
    assert!(e.message().starts_with("option 'validation.algorithms' "));
    let id = config(&format!(r#","customerId":"{CUSTOMER}""#));
    let no_provider = Environment {
        has_provider: std::env::var("P").is_ok(),
        online: std::env::var("OFF").is_err(),
        channel: std::env::var("TAB").is_ok(),
        locks: std::env::var("TAB").is_ok(),
        ..env()
    };
    let e = Driver::new(id, no_provider, Box::new(Seq(1)), T0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidConfig);
}

/// A tab with `storage: 'session'` and a token endpoint.
const SESSION_TAB: &str = r#","tokenEndpoint":"https://id.example/token","storage":"session""#;

/// A [`SESSION_TAB`] logged in through the lock with a token living 120 s
/// and `refresh_token`: the driver, the token, the login's effects.
fn session_tab(seed: u64, refresh_token: &str) -> (Driver, String, Vec<Effect>) {
    let (mut d, _) = open(SESSION_TAB, tab_env(), seed);
    let fx = run(&mut d, T0, set_customer(1));
    let fx = granted_alone(&mut d, T0, &fx);
    let call = calls(&fx)[0];
    let token = jwt(CUSTOMER, T0, 120, "first");
    let context = format!(r#"{{"Auth":{{"Token":"{token}","refresh_token":"{refresh_token}"}}}}"#);
    let fx = run(
        &mut d,
        T0,
        Input::ProviderAnswered {
            call: call.id,
            context: Some(context),
        },
    );
    (d, token, fx)
}

/// `d`'s refresh comes due and its grant goes out: when, and the token
/// endpoint's answer (not fed yet) with a new access token (also returned)
/// and the rotated `refresh_token`.
fn rotation_due(d: &mut Driver, refresh_token: &str) -> (Millis, Input, String) {
    let due = d.session().refresh_due().unwrap();
    let fx = run(d, due, Input::TimerFired);
    let fx = granted_alone(d, due, &fx);
    let (call, _) = grant_posted(&fx);
    let rotated = jwt(CUSTOMER, due, 120, "second");
    let body = format!(
        r#"{{"access_token":"{rotated}","token_type":"Bearer","expires_in":120,"refresh_token":"{refresh_token}"}}"#
    );
    (due, endpoint_answer(call, 200, body), rotated)
}

#[test]
fn debug_output_of_effects_and_inputs_never_shows_a_token_or_refresh_token() {
    let (mut d, token, fx) = session_tab(1, "rt_first_secret");
    let mut printed = Vec::new();
    // The shared token and the stored session, as another tab gets them.
    let shared = posts(&fx);
    assert!(shared.iter().any(|m| m.contains("rt_first_secret")));
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Store {
            key: StorageKey::Token,
            value: Some(_)
        }
    )));
    printed.push(format!("{fx:?}"));
    printed.push(format!("{:?}", message(shared[0].as_str())));
    // The headers of `authHeaders` and of a fetch.
    let fx = run(
        &mut d,
        T0 + 1,
        Input::AuthHeaders {
            request: 2,
            origin: Some(API.into()),
            target: None,
        },
    );
    let [(2, Reply::Headers(h))] = &replies(&fx)[..] else {
        panic!("headers expected: {fx:?}");
    };
    assert!(bearer(h).is_some_and(|v| v.contains(&token)));
    printed.push(format!("{fx:?}"));
    printed.push(format!("{:?}", fetch(&mut d, T0 + 1, 3, true)));
    // The token endpoint's answer, with a rotated refresh token.
    let (due, answer, rotated) = rotation_due(&mut d, "rt_second_secret");
    printed.push(format!("{answer:?}"));
    let fx = run(&mut d, due, answer);
    assert!(posts(&fx).iter().any(|m| m.contains("rt_second_secret")));
    printed.push(format!("{fx:?}"));
    let printed = printed.concat();
    assert!(printed.contains("Authorization") && printed.contains("Post("));
    for secret in [&token, &rotated, "rt_first_secret", "rt_second_secret"] {
        assert!(!printed.contains(secret), "{secret} printed in {printed}");
    }
}

/// The token written to `sessionStorage` among `fx`, if any.
fn stored_token(fx: &[Effect]) -> Option<String> {
    fx.iter().find_map(|e| match e {
        Effect::Store {
            key: StorageKey::Token,
            value: Some(v),
        } => Some(v.secret().to_owned()),
        _ => None,
    })
}

#[test]
fn a_refresh_token_rotated_by_another_tab_is_stored_for_a_reload() {
    let (mut a, _, _) = session_tab(1, "r1");
    let (mut b, _, fx) = session_tab(2, "r1");
    assert!(stored_token(&fx).is_some_and(|v| v.contains("r1")));
    // Tab A refreshes at the token endpoint, which rotates r1 into r2.
    let (due, answer, _) = rotation_due(&mut a, "r2");
    let fx = run(&mut a, due, answer);
    let refresh = posts(&fx)
        .into_iter()
        .find(|m| m.starts_with(r#"{"type":"refresh""#))
        .expect("A shares r2");
    // Tab B takes r2 (r1 is spent) and stores it, so that a reload of B
    // resumes with r2.
    let fx = run(&mut b, due + 1, message(refresh));
    assert_eq!(b.session().refresh_token().map(|t| t.secret()), Some("r2"));
    let stored = stored_token(&fx).expect("B stores the shared refresh token");
    let (mut reloaded, _) = open(SESSION_TAB, tab_env(), 3);
    run(
        &mut reloaded,
        due + 2,
        Input::SetCustomer {
            request: 1,
            customer_id: CUSTOMER.into(),
            provider: false,
            stored: Some(stored),
        },
    );
    let held = reloaded.session().refresh_token().map(|t| t.secret());
    assert_eq!(held, Some("r2"));
}

mod dpop;

/// A restored token that cannot be refreshed (no provider, no refresh
/// token) is kept until it expires: its refresh time passing must not arm
/// a 0 ms timer again and again (issue 13 review R15).
#[test]
fn a_due_token_that_nothing_can_refresh_waits_for_its_expiry_without_spinning() {
    let (mut d, _) = open(r#","storage":"session""#, env(), 1);
    let fx = login(&mut d, T0, 3600);
    let stored = stored_token(&fx).expect("the token is written");
    let no_provider = Environment {
        has_provider: false,
        ..env()
    };
    let (mut other, _) = open(r#","storage":"session""#, no_provider, 2);
    let fx = run(
        &mut other,
        T0 + 10,
        Input::SetCustomer {
            request: 1,
            customer_id: CUSTOMER.into(),
            provider: false,
            stored: Some(stored),
        },
    );
    assert_eq!(replies(&fx), vec![(1, Reply::Done)]);
    // Past the refresh time, 10 s before expiry: the next wake is the expiry.
    let due = T0 + 3_590_000;
    let fx = run(&mut other, due, Input::TimerFired);
    assert_eq!(other.state(), State::Authenticated);
    assert_eq!(timer(&fx), Some(10_000), "{fx:?}");
    // A wake before the expiry (focus, a capped timer) arms nothing sooner.
    let fx = run(&mut other, due + 1_000, Input::TimerFired);
    assert!(timer(&fx).is_none_or(|ms| ms >= 9_000), "{fx:?}");
    // At the expiry the session is lost, once.
    let fx = run(&mut other, T0 + 3_600_000, Input::TimerFired);
    assert_eq!(other.state(), State::Expired);
    assert!(events(&fx).contains(&"auth-lost"), "{fx:?}");
    assert_eq!(timer(&fx), None);
}

/// Offline, a failed refresh waits for the network, however long that
/// takes: a request that has no valid token to go on with fails then, and
/// so does one made later, instead of waiting without a bound; the retry
/// still goes out when the network returns.
#[test]
fn offline_requests_without_a_valid_token_fail_instead_of_waiting_for_the_network() {
    let offline = Environment {
        online: false,
        ..env()
    };
    let (mut d, _) = open("", offline, 1);
    login(&mut d, T0, 3600);
    // 10 s before expiry: a refresh starts; the provider never answers.
    let due = T0 + 3_590_000;
    let fx = run(&mut d, due, get_token(9, false));
    assert_eq!(calls(&fx).len(), 1);
    assert!(replies(&fx).is_empty());
    // Its deadline passes after the token expired: the waiter fails with it.
    let fx = run(&mut d, due + 15_000, Input::TimerFired);
    assert!(events(&fx).contains(&"refresh-failed"), "{fx:?}");
    assert!(
        matches!(&replies(&fx)[..], [(9, Reply::Reject(e))] if e.code() == ErrorCode::ProviderTimeout),
        "{fx:?}"
    );
    assert_eq!(d.state(), State::Refreshing);
    // A later request fails at once, with nothing armed to spin on.
    let fx = run(&mut d, due + 60_000, get_token(10, false));
    assert!(
        matches!(&replies(&fx)[..], [(10, Reply::Reject(e))] if e.code() == ErrorCode::Network),
        "{fx:?}"
    );
    assert!(calls(&fx).is_empty());
    // The network returns: the retry goes out and the session recovers.
    let back = due + 120_000;
    let fx = run(&mut d, back, Input::Online(true));
    let call = calls(&fx)[0];
    let fx = provide(&mut d, back, call.id, "second");
    assert_eq!(d.state(), State::Authenticated, "{fx:?}");
    let fx = run(&mut d, back, get_token(11, false));
    assert!(
        matches!(&replies(&fx)[..], [(11, Reply::Token(_))]),
        "{fx:?}"
    );
}

/// A failed write of the anonymous id stops the token's writes too, so the
/// token stored before it is removed: a reload must not resume from a token
/// whose refresh token may be spent by then (issue 13 review R4).
#[test]
fn a_failed_anonymous_id_write_removes_the_stored_token_too() {
    let (mut d, _) = open(r#","storage":"session""#, env(), 1);
    let fx = login(&mut d, T0, 3600);
    assert!(stored_token(&fx).is_some());
    let fx = run(
        &mut d,
        T0 + 10,
        Input::StorageFailed {
            key: StorageKey::AnonymousId,
        },
    );
    assert!(
        matches!(
            &fx[..],
            [Effect::Store {
                key: StorageKey::Token,
                value: None
            }]
        ),
        "{fx:?}"
    );
    // Nothing is written any more: the next token stays in memory.
    let fx = run(&mut d, T0 + 20, get_token(5, true));
    let call = calls(&fx)[0];
    let fx = provide(&mut d, T0 + 20, call.id, "second");
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Store { .. })),
        "{fx:?}"
    );
    // Memory storage has no token entry to remove.
    let (mut memory, _) = open("", env(), 2);
    login(&mut memory, T0, 3600);
    let fx = run(
        &mut memory,
        T0 + 10,
        Input::StorageFailed {
            key: StorageKey::AnonymousId,
        },
    );
    assert!(fx.is_empty(), "{fx:?}");
}
/// `destroy()` ends the instance, not the customer's session: with
/// `storage: 'session'` the stored token stays for the next instance of
/// the tab (a remount resumes without a provider call); `clearCustomer()`
/// removes it.
#[test]
fn destroy_keeps_the_stored_token_and_clear_customer_removes_it() {
    let (mut d, _) = open(r#","storage":"session""#, env(), 1);
    let fx = login(&mut d, T0, 300);
    let stored = stored_token(&fx).expect("the token is written");
    let fx = run(&mut d, T0 + 10, Input::Destroy);
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Store { .. })),
        "{fx:?}"
    );
    let (mut next, _) = open(r#","storage":"session""#, env(), 2);
    let fx = run(
        &mut next,
        T0 + 20,
        Input::SetCustomer {
            request: 1,
            customer_id: CUSTOMER.into(),
            provider: false,
            stored: Some(stored),
        },
    );
    assert!(calls(&fx).is_empty(), "{fx:?}");
    assert_eq!(next.state(), State::Authenticated);
    let fx = run(&mut next, T0 + 30, Input::ClearCustomer { request: 2 });
    assert!(
        fx.iter().any(|e| matches!(
            e,
            Effect::Store {
                key: StorageKey::Token,
                value: None
            }
        )),
        "{fx:?}"
    );
}

/// A refresh token the endpoint refused is written nowhere again: not into
/// `sessionStorage` (a reload would present it once more) and not into the
/// token shared with other tabs (review finding 8).
#[test]
fn a_refused_refresh_token_is_neither_stored_nor_shared() {
    let extra = r#","tokenEndpoint":"https://id.example/token","storage":"session""#;
    let (mut d, _) = open(extra, tab_env(), 1);
    let fx = run(&mut d, T0, set_customer(1));
    let fx = granted_alone(&mut d, T0, &fx);
    let call = calls(&fx)[0];
    let token = jwt(CUSTOMER, T0, 120, "first");
    let context = Some(format!(
        r#"{{"Auth":{{"Token":"{token}","refresh_token":"r1"}}}}"#
    ));
    let fx = run(
        &mut d,
        T0,
        Input::ProviderAnswered {
            call: call.id,
            context,
        },
    );
    assert!(
        stored_token(&fx).is_some_and(|s| s.contains("r1")),
        "positive control"
    );
    let due = d.session().refresh_due().unwrap();
    let fx = run(&mut d, due, Input::TimerFired);
    let fx = granted_alone(&mut d, due, &fx);
    let (call, body) = grant_posted(&fx);
    assert!(body.contains("refresh_token=r1"));
    let body = r#"{"error":"invalid_grant"}"#.to_owned();
    let mut seen = run(&mut d, due, endpoint_answer(call, 400, body));
    // The provider takes over; the store and the tabs hear of the session meanwhile.
    seen.extend(run(
        &mut d,
        due + 10,
        message(r#"{"type":"want","from":"peer","customerId":"c_8f3a9b2e","nonce":7}"#),
    ));
    let written: Vec<String> = seen
        .iter()
        .filter_map(|e| match e {
            Effect::Store { value: Some(v), .. } => Some(v.secret().to_owned()),
            Effect::Post(m) => Some(m.secret().to_owned()),
            _ => None,
        })
        .collect();
    assert!(!written.is_empty(), "{seen:?}");
    for text in &written {
        // Only as the spent one the other tabs must stop presenting.
        let usable = text.replace(r#""spentRefreshToken":"r1""#, "");
        let quoted = usable.contains(r#""r1""#) || usable.contains(r#"\"r1\""#);
        assert!(!quoted, "the refused token in {text}");
    }
}

/// After `destroy()` every request of the app rejects with `destroyed`,
/// for other origins too, and `clearCustomer` writes no new anonymous id
/// (review finding 9).
#[test]
fn after_destroy_every_request_rejects_and_changes_nothing() {
    let (mut d, _) = open("", env(), 1);
    login(&mut d, T0, 3600);
    run(&mut d, T0 + 1, Input::Destroy);
    let other = Some("https://other.example".to_owned());
    let inputs = [
        Input::Fetch {
            request: 20,
            origin: other.clone(),
            follows_redirects: true,
            replayable: true,
            target: None,
        },
        Input::AuthHeaders {
            request: 21,
            origin: other,
            target: None,
        },
        Input::ClearCustomer { request: 22 },
        get_token(23, false),
    ];
    for input in inputs {
        let fx = run(&mut d, T0 + 2, input);
        assert!(
            matches!(&replies(&fx)[..], [(_, Reply::Reject(e))] if e.code() == ErrorCode::Destroyed),
            "{fx:?}"
        );
        assert!(
            !fx.iter().any(|e| matches!(e, Effect::Store { .. })),
            "{fx:?}"
        );
    }
}

fn set_customer_as(request: RequestId, customer_id: &str) -> Input {
    Input::SetCustomer {
        request,
        customer_id: customer_id.into(),
        provider: false,
        stored: None,
    }
}

fn is_customer_changed(reply: &Reply) -> bool {
    matches!(reply, Reply::Reject(e) if e.code() == ErrorCode::NotAuthenticated
        && e.message().contains("customer changed"))
}

#[test]
fn requests_waiting_for_one_customer_never_get_the_next_customers_token() {
    const X: &str = "c_customer_x";
    const Y: &str = "c_customer_y";
    let (mut d, _) = open("", env(), 1);
    let x_call = calls(&run(&mut d, T0, set_customer_as(1, X)))[0];
    // X's requests wait for X's first token.
    assert!(replies(&fetch(&mut d, T0 + 1, 2, true)).is_empty());
    assert!(replies(&run(&mut d, T0 + 1, get_token(3, false))).is_empty());
    let headers = Input::AuthHeaders {
        request: 4,
        origin: Some(API.into()),
        target: None,
    };
    assert!(replies(&run(&mut d, T0 + 1, headers)).is_empty());
    // The site switches to Y before X's provider answered: X's requests
    // reject at once, with a stable code; none waits for Y.
    let fx = run(&mut d, T0 + 2, set_customer_as(5, Y));
    let rejected = replies(&fx);
    assert_eq!(
        rejected.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
        vec![1, 2, 3, 4],
        "{fx:?}"
    );
    assert!(rejected.iter().all(|(_, reply)| is_customer_changed(reply)));
    let y_call = calls(&fx)[0];
    // Y's token arrives: only Y's setCustomer is answered, X's fetch never
    // goes out with Y's Authorization.
    let token = jwt(Y, T0 + 3, 3600, "y");
    let fx = run(
        &mut d,
        T0 + 3,
        Input::ProviderAnswered {
            call: y_call.id,
            context: Some(context(&token)),
        },
    );
    assert_eq!(replies(&fx), vec![(5, Reply::Done)]);
    assert_eq!(d.customer_id(), Some(Y));
    // X's provider answering late changes nothing.
    let fx = run(
        &mut d,
        T0 + 4,
        Input::ProviderAnswered {
            call: x_call.id,
            context: Some(context(&jwt(X, T0 + 4, 3600, "x"))),
        },
    );
    assert!(replies(&fx).is_empty(), "{fx:?}");
    // Y's own requests get Y's token.
    let fx = run(&mut d, T0 + 5, get_token(6, false));
    assert_eq!(
        replies(&fx),
        vec![(6, Reply::Token(Some(SecretString::new(token))))]
    );
}

#[test]
fn a_request_refused_after_its_customer_left_is_never_replayed_as_the_next_one() {
    const Y: &str = "c_customer_y";
    let (mut d, _) = open("", env(), 1);
    login(&mut d, T0, 3600);
    let x_token = d.session().credential().unwrap().token.clone();
    let fx = fetch(&mut d, T0 + 1, 7, true);
    let [(7, Reply::Send { headers, .. })] = &replies(&fx)[..] else {
        panic!("send expected: {fx:?}");
    };
    assert_eq!(
        bearer(headers),
        Some(format!("Bearer {}", x_token.secret()).as_str())
    );
    // While it is on the way, X logs out and Y logs in.
    let fx = run(&mut d, T0 + 2, Input::ClearCustomer { request: 8 });
    assert_eq!(replies(&fx), vec![(8, Reply::Done)]);
    let y_call = calls(&run(&mut d, T0 + 3, set_customer_as(9, Y)))[0];
    let y_token = jwt(Y, T0 + 4, 3600, "y");
    let fx = run(
        &mut d,
        T0 + 4,
        Input::ProviderAnswered {
            call: y_call.id,
            context: Some(context(&y_token)),
        },
    );
    assert_eq!(replies(&fx), vec![(9, Reply::Done)]);
    // X's request is refused (X's session was revoked): the 401 stands, no
    // refresh, no replay with Y's token.
    let fx = answered(&mut d, T0 + 5, 7, 401);
    assert_eq!(replies(&fx), vec![(7, Reply::Response)], "{fx:?}");
    assert!(calls(&fx).is_empty());
    assert_eq!(d.state(), State::Authenticated);
    // The same after a 401 that waits for a refresh: a customer change
    // while it waits hands the 401 back.
    let fx = fetch(&mut d, T0 + 6, 10, true);
    assert!(matches!(&replies(&fx)[..], [(10, Reply::Send { .. })]));
    let refresh = calls(&answered(&mut d, T0 + 7, 10, 401))[0];
    assert_eq!(refresh.reason, Reason::After401);
    let fx = run(&mut d, T0 + 8, Input::ClearCustomer { request: 11 });
    assert_eq!(
        replies(&fx),
        vec![(10, Reply::Response), (11, Reply::Done)],
        "{fx:?}"
    );
}

/// The refresh grants posted in `fx`: their calls and bodies.
fn grants(fx: &[Effect]) -> Vec<(CallId, String)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::PostRefreshGrant { call, body, .. } => Some((*call, body.secret().to_owned())),
            _ => None,
        })
        .collect()
}

/// A token-endpoint answer rotating to `refresh_token`, at `now`.
fn rotated_answer(call: CallId, now: Millis, refresh_token: &str) -> Input {
    let token = jwt(CUSTOMER, now, 120, refresh_token);
    let body = format!(
        r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":120,"refresh_token":"{refresh_token}"}}"#
    );
    endpoint_answer(call, 200, body)
}

#[test]
fn a_timed_out_grant_is_not_presented_again_while_on_the_wire_and_the_retry_asks_the_provider() {
    let mut d = logged_in_with_refresh_token();
    let due = d.session().refresh_due().unwrap();
    let (first, body) = grant_posted(&run(&mut d, due, Input::TimerFired));
    assert!(body.contains("refresh_token=r1"));
    let mut seen = Vec::new();
    // The endpoint is slower than the call deadline: the call times out,
    // and the retry comes due, while the first POST is unanswered.
    for at in [due + 15_000, due + 16_000, due + 17_000] {
        let fx = run(&mut d, at, Input::TimerFired);
        seen.extend(grants(&fx));
        seen.extend(
            calls(&fx)
                .into_iter()
                .map(|c| (c.id, "provider".to_owned())),
        );
    }
    assert!(
        grants_with(&seen, "r1").is_empty(),
        "r1 presented again while its first grant is unanswered: {seen:?}"
    );
    let [(retry, via)] = &seen[..] else {
        panic!("one retry expected: {seen:?}");
    };
    assert_eq!(via, "provider", "the retry goes to the provider");
    // The late answer (which rotated r1 to r2) arrives: r2 is kept.
    run(
        &mut d,
        due + 18_000,
        rotated_answer(first, due + 18_000, "r2"),
    );
    assert_eq!(d.session().refresh_token().map(|t| t.secret()), Some("r2"));
    provide(&mut d, due + 18_500, *retry, "by-provider");
    assert_eq!(d.state(), State::Authenticated);
    // The next refresh presents r2.
    let next = d.session().refresh_due().unwrap();
    let (_, body) = grant_posted(&run(&mut d, next, Input::TimerFired));
    assert!(body.contains("refresh_token=r2"), "{body}");
}

fn grants_with<'a>(seen: &'a [(CallId, String)], refresh_token: &str) -> Vec<&'a (CallId, String)> {
    let field = format!("refresh_token={refresh_token}");
    seen.iter()
        .filter(|(_, body)| body.contains(&field))
        .collect()
}

/// A driver without a provider, resumed from a stored token with the
/// refresh token `r1`: only the token endpoint can refresh.
fn resumed_without_provider() -> Driver {
    let extra = r#","tokenEndpoint":"https://id.example/token","storage":"session""#;
    let (mut d, _) = open(extra, env(), 1);
    let call = calls(&run(&mut d, T0, set_customer(1)))[0];
    let token = jwt(CUSTOMER, T0, 120, "first");
    let answer = format!(r#"{{"Auth":{{"Token":"{token}","refresh_token":"r1"}}}}"#);
    let context = Some(answer);
    let fx = run(
        &mut d,
        T0,
        Input::ProviderAnswered {
            call: call.id,
            context,
        },
    );
    let stored = stored_token(&fx).expect("the token is written");
    let no_provider = Environment {
        has_provider: false,
        ..env()
    };
    let (mut next, _) = open(extra, no_provider, 2);
    let fx = run(
        &mut next,
        T0 + 10,
        Input::SetCustomer {
            request: 1,
            customer_id: CUSTOMER.into(),
            provider: false,
            stored: Some(stored),
        },
    );
    assert_eq!(replies(&fx), vec![(1, Reply::Done)]);
    next
}

#[test]
fn without_a_provider_the_retry_waits_for_the_unanswered_grant_then_presents_its_rotation() {
    let (mut d, due, first) = provider_less_refresh_under_way();
    let mut seen = Vec::new();
    for at in [due + 15_000, due + 16_000, due + 30_000] {
        let fx = run(&mut d, at, Input::TimerFired);
        assert!(calls(&fx).is_empty(), "no provider to ask: {fx:?}");
        seen.extend(grants(&fx));
    }
    assert!(
        seen.is_empty(),
        "no grant while the first is unanswered: {seen:?}"
    );
    // Requests meanwhile wait (bounded by the grant's own timeout).
    assert!(replies(&run(&mut d, due + 30_001, get_token(5, true))).is_empty());
    // The late answer rotated r1 to r2: the retry goes out at once with r2.
    let fx = run(
        &mut d,
        due + 31_000,
        rotated_answer(first, due + 31_000, "r2"),
    );
    let [(retry, body)] = &grants(&fx)[..] else {
        panic!("the retry expected at once: {fx:?}");
    };
    assert!(body.contains("refresh_token=r2"), "{body}");
    let fx = run(
        &mut d,
        due + 31_100,
        rotated_answer(*retry, due + 31_100, "r3"),
    );
    assert!(
        matches!(&replies(&fx)[..], [(5, Reply::Token(Some(_)))]),
        "{fx:?}"
    );
    assert_eq!(d.session().refresh_token().map(|t| t.secret()), Some("r3"));
}

#[test]
fn a_grant_unanswered_for_its_whole_timeout_spends_its_refresh_token() {
    let (mut d, due, first) = provider_less_refresh_under_way();
    let fx = run(&mut d, due + 15_000, Input::TimerFired);
    assert!(grants(&fx).is_empty());
    // Nothing else wakes the driver: it wakes itself at the grant's bound.
    let fx = run(&mut d, due + 16_000, Input::TimerFired);
    let wake = timer(&fx).expect("a timer for the grant's bound");
    assert_eq!(due + 16_000 + Millis::from(wake), due + GRANT_TIMEOUT_MS);
    let fx = run(&mut d, due + GRANT_TIMEOUT_MS, Input::TimerFired);
    assert!(grants(&fx).is_empty(), "r1 may be spent: {fx:?}");
    assert!(d.session().refresh_token().is_none());
    // The host's abort at the same bound changes nothing more.
    let timed_out = Error::new(
        ErrorCode::ProviderTimeout,
        "the token endpoint did not answer in time",
    );
    let fx = run(
        &mut d,
        due + GRANT_TIMEOUT_MS + 5,
        Input::TokenEndpointFailed {
            call: first,
            error: timed_out,
        },
    );
    assert!(grants(&fx).is_empty(), "{fx:?}");
}

/// A provider-less driver whose refresh grant (presenting `r1`) went out at
/// `due` and is not answered yet: the driver, `due` and the grant's call.
fn provider_less_refresh_under_way() -> (Driver, Millis, CallId) {
    let mut d = resumed_without_provider();
    let due = d.session().refresh_due().unwrap();
    let (first, body) = grant_posted(&run(&mut d, due, Input::TimerFired));
    assert!(body.contains("refresh_token=r1"));
    (d, due, first)
}

#[test]
fn a_refresh_token_given_up_on_is_spent_for_the_other_tabs_too() {
    let (mut a, _, _) = session_tab(1, "r1");
    let (mut b, _, _) = session_tab(2, "r1");
    let due = a.session().refresh_due().unwrap();
    let fx = run(&mut a, due, Input::TimerFired);
    let (_, body) = grant_posted(&granted_alone(&mut a, due, &fx));
    assert!(body.contains("refresh_token=r1"));
    // The grant times out and stays unanswered up to its bound: r1 may
    // have been rotated, so `a` spends it and tells the tabs that hold it.
    for at in [due + 15_000, due + 16_000] {
        assert!(grants(&run(&mut a, at, Input::TimerFired)).is_empty());
    }
    let fx = run(&mut a, due + GRANT_TIMEOUT_MS, Input::TimerFired);
    let told = posts(&fx)
        .into_iter()
        .find(|m| m.contains(r#""spentRefreshToken":"r1""#))
        .unwrap_or_else(|| panic!("the tabs are told: {fx:?}"));
    // A tab that missed that message learns it from `a`'s answer to its
    // `want`, before it presents r1.
    let b_due = b
        .session()
        .refresh_due()
        .unwrap()
        .max(due + GRANT_TIMEOUT_MS);
    let fx = run(&mut b, b_due, Input::TimerFired);
    let lock = lock_asked(&fx);
    run(&mut b, b_due, Input::LockGranted { lock });
    let peers = vec![tab_id(&a)];
    let want = posts(&run(&mut b, b_due, Input::PeersCounted { peers })).remove(0);
    let have = posts(&run(&mut a, b_due, message(want))).remove(0);
    assert!(have.contains(r#""spentRefreshToken":"r1""#), "{have}");
    let fx = run(&mut b, b_due, message(have));
    assert!(grants(&fx).is_empty(), "r1 is not presented: {fx:?}");
    assert!(b.session().refresh_token().is_none());
    // And the broadcast alone does the same.
    let (mut c, _, _) = session_tab(3, "r1");
    run(&mut c, due + GRANT_TIMEOUT_MS, message(told));
    assert!(c.session().refresh_token().is_none());
}

/// A tab's id, from its presence lock's name.
fn tab_id(d: &Driver) -> String {
    let name = d.tabs.as_ref().and_then(|t| t.presence_name());
    let name = name.unwrap_or_else(|| panic!("a tab with Web Locks expected"));
    name.rsplit(':').next().unwrap_or_default().to_owned()
}

/// A tab (entropy `seed`) logged in through the lock with a refresh token
/// `r1`, the token living 120 s.
fn tab_with_r1(seed: u64) -> Driver {
    let (mut d, _) = open(
        r#","tokenEndpoint":"https://id.example/token""#,
        tab_env(),
        seed,
    );
    let fx = run(&mut d, T0, set_customer(1));
    let call = calls(&granted_alone(&mut d, T0, &fx))[0];
    provide_with_r1(&mut d, call.id);
    d
}

/// [`tab_with_r1`]: its refresh comes due and waits for the lock.
fn tab_waiting_for_the_lock_with_r1() -> (Driver, Millis, LockId) {
    let mut d = tab_with_r1(1);
    let due = d.session().refresh_due().unwrap();
    let lock = lock_asked(&run(&mut d, due, Input::TimerFired));
    (d, due, lock)
}

#[test]
fn a_refresh_token_spent_by_another_tab_while_waiting_for_the_lock_sends_the_call_to_the_provider()
{
    let (mut d, due, lock) = tab_waiting_for_the_lock_with_r1();
    // Another tab gave up on a grant that presented r1 (its answer never
    // came): r1 may have been rotated, and is not presented here either.
    let spent =
        format!(r#"{{"type":"refresh","customerId":"{CUSTOMER}","spentRefreshToken":"r1"}}"#);
    run(&mut d, due + 5, message(spent));
    assert_eq!(d.session().refresh_token(), None);
    run(&mut d, due + 10, Input::LockGranted { lock });
    let fx = run(&mut d, due + 10, Input::PeersCounted { peers: Vec::new() });
    assert!(grants(&fx).is_empty(), "r1 presented: {fx:?}");
    assert!(
        !events(&fx).contains(&"refresh-failed"),
        "{:?}",
        events(&fx)
    );
    let call = calls(&fx);
    assert_eq!(call.len(), 1, "the call goes to the provider: {fx:?}");
    provide(&mut d, due + 20, call[0].id, "by-provider");
    assert_eq!(d.state(), State::Authenticated);
}

#[test]
fn only_the_peers_counted_end_a_round_so_the_last_lock_holder_s_token_is_awaited() {
    let mut a = tab_with_r1(1);
    let mut b = tab_with_r1(2);
    // A tab whose Web Locks never answer: no presence lock, so not counted,
    // yet on the channel, answering every `want`.
    let mut c = tab_with_r1(3);
    // `a` holds the lock and rotates r1 to r2; its messages to `b` are on
    // their way when it lets the lock go.
    let due = a.session().refresh_due().unwrap();
    let fx = run(&mut a, due, Input::TimerFired);
    let (call, _) = grant_posted(&granted_alone(&mut a, due, &fx));
    let fx = run(&mut a, due + 100, rotated_answer(call, due + 100, "r2"));
    assert!(fx.iter().any(|e| matches!(e, Effect::ReleaseLock(_))));
    let from_a = posts(&fx);
    // `b` is granted the lock next and counts `a` alone.
    let at = b.session().refresh_due().unwrap().max(due + 105);
    let lock = lock_asked(&run(&mut b, at, Input::TimerFired));
    run(&mut b, at, Input::LockGranted { lock });
    let peers = vec![tab_id(&a)];
    let want = posts(&run(&mut b, at, Input::PeersCounted { peers })).remove(0);
    // `c` answers first: the round goes on.
    let have_c = posts(&run(&mut c, at + 1, message(want.as_str()))).remove(0);
    let fx = run(&mut b, at + 2, message(have_c));
    assert!(
        grants(&fx).is_empty(),
        "the round ended on an uncounted answer: {fx:?}"
    );
    // Then `a`'s messages, in the order sent, then its answer.
    let mut seen = fx;
    for text in from_a {
        seen.extend(run(&mut b, at + 30, message(text)));
    }
    let have_a = posts(&run(&mut a, at + 20, message(want))).remove(0);
    seen.extend(run(&mut b, at + 40, message(have_a)));
    assert!(
        grants_with(&grants(&seen), "r1").is_empty(),
        "spent r1 presented: {seen:?}"
    );
    assert_eq!(b.session().refresh_token().map(|t| t.secret()), Some("r2"));
    assert_eq!(b.state(), State::Authenticated);
    assert!(
        seen.iter().any(|e| matches!(e, Effect::ReleaseLock(_))),
        "{seen:?}"
    );
}

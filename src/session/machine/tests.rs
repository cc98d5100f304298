//! The session state machine alone, at chosen times: customers and
//! anonymity, single-flight calls and their waiters, the refresh schedule,
//! retries and backoff, tokens adopted from other tabs, the refresh token's
//! bookkeeping and the issuer's clock offset.

use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const T0: Millis = 1_700_000_000_000;

fn session() -> Session {
    Session::new(
        "anon-1".into(),
        SessionConfig {
            policy: RefreshPolicy {
                margin_ms: 60_000,
                max_retries: 2,
                provider_timeout_ms: 15_000,
            },
            has_provider: true,
            has_token_endpoint: false,
        },
    )
}

fn cred(token: &str, now: Millis, ttl_ms: Millis) -> Credential {
    Credential {
        token: SecretString::new(token),
        scheme: "Bearer".into(),
        headers: vec![],
        claims: None,
        claims_json: None,
        received_at: now,
        expires_at: Some(now + ttl_ms),
        clock_offset: 0,
        clock_evidence: ClockEvidence::default(),
        refresh_token: None,
    }
}

/// A session with a provider and a token endpoint for the refresh grant.
fn endpoint_session() -> Session {
    Session::new(
        "a".into(),
        SessionConfig {
            has_provider: true,
            has_token_endpoint: true,
            ..SessionConfig::default()
        },
    )
}

fn states(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::State { state, .. } => Some(state.as_str()),
            _ => None,
        })
        .collect()
}

/// Logs in `s` with a token living `ttl_ms`; returns the call id used.
fn login(s: &mut Session, now: Millis, ttl_ms: Millis) -> CallId {
    let fx = s.set_customer("cust-1", now).unwrap();
    let call = fx.call.unwrap();
    assert_eq!(call.reason, Reason::Initial);
    assert!(!call.needs_refresh);
    let fx = s.call_succeeded(call.id, cred("t1", now, ttl_ms), Source::Provider, 0.0);
    assert_eq!(fx.release, Some(Ok(())));
    call.id
}

#[test]
fn anonymous_until_customer_set() {
    let mut s = session();
    assert_eq!(s.state(), State::Anonymous);
    assert_eq!(s.access(T0, false).0, Access::Anonymous);
    assert_eq!(s.anonymous_id(), "anon-1");
}

#[test]
fn set_customer_authenticates() {
    let mut s = session();
    login(&mut s, T0, 3_600_000);
    assert_eq!(s.state(), State::Authenticated);
    assert_eq!(s.customer_id(), Some("cust-1"));
    let ev = s.drain_events();
    assert_eq!(states(&ev), ["authenticating", "authenticated"]);
    assert!(ev.contains(&Event::Authenticated {
        customer_id: "cust-1".into(),
        anonymous_id: "anon-1".into(),
        expires_at: Some(T0 + 3_600_000)
    }));
    assert_eq!(s.access(T0 + 1, false).0, Access::Ready);
    // Refresh due one margin (60 s) before expiry.
    assert_eq!(s.refresh_due(), Some(T0 + 3_600_000 - 60_000));
    assert_eq!(s.next_wake(), Some(T0 + 3_600_000 - 60_000));
}

#[test]
fn set_customer_refuses_pii_and_missing_provider() {
    let mut s = session();
    let e = s.set_customer("jane@example.com", T0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CustomerIdPii);
    assert_eq!(s.state(), State::Anonymous);
    let mut s = Session::new("a".into(), SessionConfig::default());
    assert_eq!(
        s.set_customer("cust-1", T0).unwrap_err().code(),
        ErrorCode::InvalidConfig
    );
}

#[test]
fn single_flight_counts_waiters_and_releases_once() {
    let mut s = session();
    let fx = s.set_customer("cust-1", T0).unwrap();
    let call = fx.call.unwrap();
    for _ in 0..50 {
        let (a, fx) = s.access(T0, false);
        assert_eq!(a, Access::Wait);
        assert_eq!(fx.call, None, "no second call while one is in flight");
    }
    assert_eq!(s.waiters(), 50);
    let fx = s.call_succeeded(call.id, cred("t1", T0, 60_000), Source::Provider, 0.0);
    assert_eq!(fx.release, Some(Ok(())));
    assert_eq!(s.waiters(), 0);
}

#[test]
fn forced_refresh_joins_one_cycle() {
    let mut s = session();
    login(&mut s, T0, 3_600_000);
    let (a, fx) = s.access(T0 + 10, true);
    assert_eq!(a, Access::Wait);
    let call = fx.call.unwrap();
    assert_eq!(call.reason, Reason::Forced);
    assert!(call.needs_refresh);
    assert_eq!(s.state(), State::Refreshing);
    let (a, fx) = s.access(T0 + 11, true);
    assert_eq!((a, fx.call), (Access::Wait, None));
    let _ = s.call_succeeded(
        call.id,
        cred("t2", T0 + 20, 3_600_000),
        Source::Provider,
        0.0,
    );
    assert_eq!(s.state(), State::Authenticated);
    assert!(s.drain_events().iter().any(|e| matches!(
        e,
        Event::Refreshed {
            source: Source::Provider,
            ..
        }
    )));
}

#[test]
fn scheduled_refresh_fires_from_tick_once() {
    let mut s = session();
    login(&mut s, T0, 600_000);
    let due = s.refresh_due().unwrap();
    assert_eq!(s.tick(due - 1).call, None);
    let call = s.tick(due).call.unwrap();
    assert_eq!(call.reason, Reason::Scheduled);
    assert_eq!(s.tick(due + 1).call, None, "one refresh per window");
    // While the call is in flight and the old token is valid, requests wait (API.md).
    assert_eq!(s.access(due + 2, false).0, Access::Wait);
    let _ = s.call_succeeded(call.id, cred("t2", due + 3, 600_000), Source::Provider, 0.5);
    assert_eq!(s.credential().unwrap().token.secret(), "t2");
}

#[test]
fn late_timer_refreshes_at_once() {
    let mut s = session();
    login(&mut s, T0, 600_000);
    // The machine slept past expiry: the tick sees it and refreshes at once.
    let fx = s.tick(T0 + 10_000_000);
    assert!(fx.call.is_some());
    assert_eq!(s.access(T0 + 10_000_001, false).0, Access::Wait);
}

#[test]
fn backoff_then_auth_lost() {
    let mut s = session();
    let call = s.set_customer("cust-1", T0).unwrap().call.unwrap();
    let (a, _) = s.access(T0, false);
    assert_eq!(a, Access::Wait);
    let fail = |s: &mut Session, id, now| {
        s.call_failed(id, Error::new(ErrorCode::ProviderFailed, "boom"), now)
    };
    let fx = fail(&mut s, call.id, T0 + 10);
    assert_eq!(fx.release, None, "no valid token: waiters keep waiting");
    assert_eq!(s.next_wake(), Some(T0 + 10 + 1_000));
    let call2 = s.tick(T0 + 1_010).call.unwrap();
    assert_eq!((call2.attempt, call2.reason), (2, Reason::Retry));
    assert!(call2.needs_refresh);
    let _ = fail(&mut s, call2.id, T0 + 1_020);
    assert_eq!(s.next_wake(), Some(T0 + 1_020 + 2_000));
    let call3 = s.tick(T0 + 3_020).call.unwrap();
    assert_eq!(call3.attempt, 3);
    let fx = fail(&mut s, call3.id, T0 + 3_030);
    assert_eq!(
        fx.release.unwrap().unwrap_err().code(),
        ErrorCode::ProviderFailed
    );
    assert_eq!(fx.login_needed, Some(ErrorCode::ProviderFailed));
    assert_eq!(s.state(), State::Expired);
    let ev = s.drain_events();
    let failed: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::RefreshFailed {
                attempt,
                retry_in_ms,
                ..
            } => Some((*attempt, *retry_in_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(failed, [(1, Some(1_000)), (2, Some(2_000)), (3, None)]);
    assert!(ev.contains(&Event::AuthLost {
        code: ErrorCode::ProviderFailed
    }));
    // Requests fail fast during the cool-down, then try a new cycle.
    let (a, fx) = s.access(T0 + 4_000, false);
    assert!(matches!(a, Access::Fail(e) if e.code() == ErrorCode::ProviderFailed));
    assert_eq!(fx.call, None);
    let (a, fx) = s.access(T0 + 3_030 + FAILED_COOL_DOWN_MS, false);
    assert_eq!(a, Access::Wait);
    assert!(fx.call.is_some());
    assert_eq!(s.state(), State::Authenticating);
}

#[test]
fn provider_timeout_aborts_and_retries() {
    let mut s = session();
    let call = s.set_customer("cust-1", T0).unwrap().call.unwrap();
    assert_eq!(s.next_wake(), Some(call.deadline));
    let fx = s.tick(call.deadline);
    assert_eq!(fx.abort, Some(call.id));
    assert!(s.drain_events().iter().any(|e| matches!(
        e,
        Event::RefreshFailed {
            code: ErrorCode::ProviderTimeout,
            ..
        }
    )));
    // A late answer to the aborted call is ignored.
    let fx = s.call_succeeded(call.id, cred("late", T0, 60_000), Source::Provider, 0.0);
    assert_eq!(fx, Effects::default());
    assert!(s.credential().is_none());
}

#[test]
fn failure_with_valid_token_lets_requests_go_on() {
    let mut s = session();
    login(&mut s, T0, 600_000);
    let due = s.refresh_due().unwrap();
    let call = s.tick(due).call.unwrap();
    assert_eq!(s.access(due, false).0, Access::Wait);
    let fx = s.call_failed(call.id, Error::new(ErrorCode::Network, "offline"), due + 1);
    assert_eq!(fx.release, Some(Ok(())));
    assert_eq!(s.access(due + 2, false).0, Access::Ready);
    assert_eq!(s.state(), State::Refreshing);
}

#[test]
fn unauthorized_refreshes_once_with_needs_refresh() {
    let mut s = session();
    login(&mut s, T0, 600_000);
    let (a, fx) = s.unauthorized(Some("t1"), T0 + 5);
    assert_eq!(a, Access::Wait);
    let call = fx.call.unwrap();
    assert_eq!(call.reason, Reason::After401);
    assert!(call.needs_refresh);
    assert_eq!(s.refused_token().unwrap().secret(), "t1");
    // A second 401 for the same token joins the same cycle.
    let (a, fx) = s.unauthorized(Some("t1"), T0 + 6);
    assert_eq!((a, fx.call), (Access::Wait, None));
    let _ = s.call_succeeded(call.id, cred("t2", T0 + 7, 600_000), Source::Provider, 0.0);
    // A 401 for an older token just uses the new one.
    assert_eq!(s.unauthorized(Some("t1"), T0 + 8).0, Access::Ready);
    // The refused token is remembered: no tab can hand it back.
    assert_eq!(s.refused_token().unwrap().secret(), "t1");
}

#[test]
fn anonymous_401_asks_for_login() {
    let mut s = session();
    let (a, fx) = s.unauthorized(None, T0);
    assert_eq!(a, Access::Anonymous);
    assert_eq!(fx.login_needed, Some(ErrorCode::NotAuthenticated));
}

#[test]
fn customer_change_drops_old_token_first() {
    let mut s = session();
    login(&mut s, T0, 600_000);
    let fx = s.set_customer("cust-2", T0 + 1).unwrap();
    assert!(
        s.credential().is_none(),
        "old token dropped before the new call"
    );
    let call = fx.call.unwrap();
    assert_eq!(call.reason, Reason::CustomerChanged);
    assert!(!call.needs_refresh);
    assert_eq!(s.state(), State::Authenticating);
    // Setting the same customer again starts nothing new.
    let fx = s.set_customer("cust-2", T0 + 2).unwrap();
    assert_eq!(fx, Effects::default());
}

#[test]
fn clear_customer_logs_out_with_new_anonymous_id() {
    let mut s = session();
    login(&mut s, T0, 600_000);
    s.drain_events();
    let fx = s.clear_customer("anon-2".into()).unwrap();
    assert_eq!(fx.release, Some(Ok(())));
    assert_eq!(s.state(), State::LoggedOut);
    assert_eq!(s.anonymous_id(), "anon-2");
    assert_eq!(s.access(T0 + 1, false).0, Access::Anonymous);
    assert_eq!(s.next_wake(), None);
    let ev = s.drain_events();
    assert!(ev.contains(&Event::LoggedOut {
        customer_id: Some("cust-1".into())
    }));
}

#[test]
fn destroy_rejects_everything() {
    let mut s = session();
    let call = s.set_customer("cust-1", T0).unwrap().call.unwrap();
    let fx = s.destroy();
    assert_eq!(fx.abort, Some(call.id));
    assert_eq!(
        fx.release.unwrap().unwrap_err().code(),
        ErrorCode::Destroyed
    );
    assert_eq!(s.state(), State::Destroyed);
    assert!(matches!(s.access(T0, false).0, Access::Fail(e) if e.code() == ErrorCode::Destroyed));
    assert_eq!(
        s.set_customer("cust-1", T0).unwrap_err().code(),
        ErrorCode::Destroyed
    );
    assert_eq!(
        s.clear_customer("x".into()).unwrap_err().code(),
        ErrorCode::Destroyed
    );
    assert_eq!(s.destroy(), Effects::default());
    assert_eq!(s.next_wake(), None);
}

#[test]
fn adopt_from_other_tab_ends_cycle() {
    let mut s = session();
    login(&mut s, T0, 600_000);
    let due = s.refresh_due().unwrap();
    let call = s.tick(due).call.unwrap();
    let fx = s.adopt(cred("t-other", due + 1, 600_000), due + 1, 0.0);
    assert_eq!(fx.abort, Some(call.id));
    assert_eq!(fx.release, Some(Ok(())));
    assert_eq!(s.credential().unwrap().token.secret(), "t-other");
    assert!(s.drain_events().iter().any(|e| matches!(
        e,
        Event::Refreshed {
            source: Source::OtherTab,
            ..
        }
    )));
    // An expired or older token is not adopted.
    let fx = s.adopt(cred("old", T0, 1_000), due + 2, 0.0);
    assert_eq!(fx, Effects::default());
}

#[test]
fn token_endpoint_used_for_refresh_when_refresh_token_held() {
    let mut s = endpoint_session();
    let call = s.set_customer("cust-1", T0).unwrap().call.unwrap();
    assert_eq!(call.via, Via::Provider);
    let mut c = cred("t1", T0, 600_000);
    c.refresh_token = Some(SecretString::new("r1"));
    let _ = s.call_succeeded(call.id, c, Source::Provider, 0.0);
    let call = s.access(T0 + 1, true).1.call.unwrap();
    assert_eq!(call.via, Via::TokenEndpoint);
    assert_eq!(s.refresh_token().unwrap().secret(), "r1");
    let mut c = cred("t2", T0 + 2, 600_000);
    c.refresh_token = Some(SecretString::new("r2"));
    let _ = s.call_succeeded(call.id, c, Source::TokenEndpoint, 0.0);
    assert_eq!(s.refresh_token().unwrap().secret(), "r2", "rotated");
}

#[test]
fn expiry_without_refresh_means_auth_lost() {
    let mut s = Session::new(
        "a".into(),
        SessionConfig {
            has_provider: true,
            ..SessionConfig::default()
        },
    );
    login(&mut s, T0, 10_000);
    s.set_has_provider(false);
    let exp = T0 + 10_000;
    let fx = s.tick(exp);
    assert_eq!(fx.login_needed, Some(ErrorCode::Expired));
    assert_eq!(s.state(), State::Expired);
}

#[test]
fn reasons_and_needs_refresh_match_the_contract() {
    for (r, name, needs) in [
        (Reason::Initial, "initial", false),
        (Reason::Scheduled, "scheduled", true),
        (Reason::After401, "after_401", true),
        (Reason::Forced, "forced", true),
        (Reason::Retry, "retry", true),
        (Reason::CustomerChanged, "customer_changed", false),
    ] {
        assert_eq!((r.as_str(), r.needs_refresh()), (name, needs));
    }
}

#[test]
fn adopt_during_a_cycle_needs_a_token_that_satisfies_it() {
    let mut s = session();
    login(&mut s, T0, 600_000);
    let due = s.refresh_due().unwrap();
    let call = s.tick(due).call.unwrap();
    // A token already inside its own margin would only start another cycle.
    let fx = s.adopt(cred("nearly-due", T0 + 1, 600_000), due + 1, 0.0);
    assert_eq!(fx, Effects::default());
    assert_eq!(s.current_call().map(|c| c.id), Some(call.id));
    // A fresh one ends the cycle and aborts the call.
    let fx = s.adopt(cred("fresh", due + 1, 600_000), due + 1, 0.0);
    assert_eq!(fx.abort, Some(call.id));
    assert_eq!(fx.release, Some(Ok(())));
    assert_eq!(s.credential().unwrap().token.secret(), "fresh");
    assert_eq!(s.call_granted(call.id, due + 2), None);
}

#[test]
fn adopt_during_a_forced_cycle_needs_a_token_obtained_after_it_began() {
    let mut s = session();
    login(&mut s, T0, 600_000);
    let (_, fx) = s.access(T0 + 10_000, true);
    let call = fx.call.unwrap();
    assert_eq!(call.reason, Reason::Forced);
    // Fresh but obtained before the forced refresh began: not what was asked.
    let fx = s.adopt(cred("earlier", T0 + 9_000, 600_000), T0 + 10_001, 0.0);
    assert_eq!(fx, Effects::default());
    let fx = s.adopt(cred("later", T0 + 10_000, 600_000), T0 + 10_001, 0.0);
    assert_eq!(fx.abort, Some(call.id));
}

#[test]
fn adopt_never_takes_back_the_refused_token() {
    let mut s = session();
    login(&mut s, T0, 600_000);
    let (access, fx) = s.unauthorized(Some("t1"), T0 + 1_000);
    assert_eq!(access, Access::Wait);
    let call = fx.call.unwrap();
    assert_eq!(
        s.adopt(cred("t1", T0, 600_000), T0 + 1_001, 0.0),
        Effects::default()
    );
    assert_eq!(s.current_call().map(|c| c.id), Some(call.id));
}

#[test]
fn granted_call_gets_its_deadline_from_the_grant() {
    let mut s = session();
    let call = s.set_customer("cust-1", T0).unwrap().call.unwrap();
    assert_eq!(call.deadline, T0 + 15_000);
    assert_eq!(s.call_awaiting_grant(), None);
    s.await_grant(call.id);
    assert_eq!(s.call_awaiting_grant(), Some(call.id));
    assert!(s.refreshing());
    // Waiting for the lock does not time the call out.
    assert_eq!(s.next_wake(), None);
    assert_eq!(s.tick(T0 + 16_000), Effects::default());
    // The lock came 20 s later: the provider still gets its full 15 s.
    let granted = s.call_granted(call.id, T0 + 20_000).unwrap();
    assert_eq!(granted.deadline, T0 + 35_000);
    assert_eq!(s.call_awaiting_grant(), None);
    assert_eq!(s.tick(T0 + 30_000), Effects::default());
    assert_eq!(s.next_wake(), Some(T0 + 35_000));
    assert_eq!(s.call_granted(call.id + 1, T0 + 10_000), None);
}

#[test]
fn retry_after_postpones_the_retry() {
    let mut s = session();
    let call = s.set_customer("cust-1", T0).unwrap().call.unwrap();
    let busy = Error::new(ErrorCode::Network, "the token endpoint failed").with_retry_after(20_000);
    let _ = s.call_failed(call.id, busy, T0 + 100);
    assert_eq!(s.next_wake(), Some(T0 + 20_100));
    assert_eq!(s.tick(T0 + 20_099), Effects::default());
    assert!(s.tick(T0 + 20_100).call.is_some());
}

#[test]
fn retries_wait_for_the_network_to_return() {
    let mut s = session();
    let call = s.set_customer("cust-1", T0).unwrap().call.unwrap();
    let _ = s.set_online(false, T0 + 50);
    let _ = s.call_failed(call.id, Error::new(ErrorCode::Network, "offline"), T0 + 100);
    assert_eq!(s.next_wake(), None);
    assert_eq!(s.tick(T0 + 60_000), Effects::default());
    let fx = s.set_online(true, T0 + 90_000);
    let retry = fx.call.unwrap();
    assert_eq!(retry.attempt, 2);
    assert_eq!(retry.reason, Reason::Retry);
}

#[test]
fn a_refused_offer_still_hands_over_its_rotated_refresh_token() {
    // Found by the simulation (seed 8, many-tabs): another tab refreshed
    // through the token endpoint just before this tab's forced refresh
    // began. Its token cannot satisfy the forced refresh, but the refresh
    // token it came with replaced (and so spent) the one held here.
    let mut s = endpoint_session();
    let call = s.set_customer("cust-1", T0).unwrap().call.unwrap();
    let mut first = cred("t1", T0, 600_000);
    first.refresh_token = Some(SecretString::new("r1"));
    let _ = s.call_succeeded(call.id, first, Source::Provider, 0.0);
    let mut rotated = cred("t2", T0 + 1_000, 600_000);
    rotated.refresh_token = Some(SecretString::new("r2"));
    let call = s.access(T0 + 1_001, true).1.call.unwrap();
    s.await_grant(call.id);
    assert_eq!(s.adopt(rotated, T0 + 1_010, 0.0), Effects::default());
    assert_eq!(s.credential().unwrap().token.secret(), "t1");
    let granted = s.call_granted(call.id, T0 + 1_010).unwrap();
    assert_eq!(granted.via, Via::TokenEndpoint);
    assert_eq!(s.refresh_token().unwrap().secret(), "r2");
    // An older offer never brings back a spent refresh token.
    let mut stale = cred("t0", T0 - 1_000, 600_000);
    stale.refresh_token = Some(SecretString::new("r0"));
    let _ = s.adopt(stale, T0 + 1_020, 0.0);
    assert_eq!(s.refresh_token().unwrap().secret(), "r2");
}

#[test]
fn an_adopted_older_token_keeps_the_newer_refresh_token() {
    // Found by the simulation (seed 1049531, short-lived): this tab's newest
    // token (with r2) looked shorter-lived than an older one another tab
    // still held (with r1, spent), and the older one was adopted.
    let mut s = endpoint_session();
    let call = s.set_customer("cust-1", T0).unwrap().call.unwrap();
    let mut newest = cred("t2", T0 + 1_000, 60_000);
    newest.refresh_token = Some(SecretString::new("r2"));
    let _ = s.call_succeeded(call.id, newest, Source::TokenEndpoint, 0.0);
    let due = s.refresh_due().unwrap();
    let call = s.tick(due).call.unwrap();
    let mut older = cred("t1", T0, 600_000);
    older.refresh_token = Some(SecretString::new("r1"));
    let fx = s.adopt(older, due + 1, 0.0);
    assert_eq!(fx.abort, Some(call.id));
    assert_eq!(s.credential().unwrap().token.secret(), "t1");
    assert_eq!(s.refresh_token().unwrap().secret(), "r2");
}

#[test]
fn a_refused_token_is_not_adopted_after_the_refresh_either() {
    // Found by the simulation (seed 1132205, flaky-provider): after a 401
    // the want/have round offered the new token and, from a tab that had
    // not been refused yet, the refused one; adopting the new token forgot
    // which one was refused and the next offer put it back.
    let mut s = session();
    login(&mut s, T0, 600_000);
    let (_, fx) = s.unauthorized(Some("t1"), T0 + 1_000);
    let call = fx.call.unwrap();
    s.await_grant(call.id);
    let fx = s.adopt(cred("t2", T0 + 900, 600_000), T0 + 1_010, 0.0);
    assert_eq!(fx.abort, Some(call.id));
    // t1 looks longer-lived than t2 here (an issuer clock estimate can do
    // that), but the server refused it.
    let fx = s.adopt(cred("t1", T0 + 500, 900_000), T0 + 1_011, 0.0);
    assert_eq!(fx, Effects::default());
    assert_eq!(s.credential().unwrap().token.secret(), "t2");
}

/// Admits a provider's JWT with `payload` for the call `call` of `s`, as
/// the shells do (the session's own evidence of the issuer's clock).
fn admit(s: &Session, call: &Call, payload: &str, now: Millis) -> Result<Credential> {
    let token = crate::jose::token::tests::jws(r#"{"alg":"RS256"}"#, payload, b"s");
    admit_token(s, call, &token, now)
}

/// [`admit`] for a token as it is.
fn admit_token(s: &Session, call: &Call, token: &str, now: Millis) -> Result<Credential> {
    let validation = crate::jose::verify::VerifyOptions::default();
    let rules = crate::session::admit::Rules {
        validation: &validation,
        customer_id: "cust-1",
        refused: s.refused_token(),
        needs_refresh: call.needs_refresh,
        asked_at: Some(call.started_at),
        clock: s.clock_evidence(),
    };
    crate::session::admit::Candidate::read(&format!(r#"{{"Auth":{{"Token":"{token}"}}}}"#))?
        .admit(&rules, now, None)
}

/// Feeds `admitted` into `s` as the answer to `call`.
fn answer(s: &mut Session, call: &Call, admitted: Result<Credential>, now: Millis) -> Effects {
    match admitted {
        Ok(c) => s.call_succeeded(call.id, c, Source::Provider, 0.0),
        Err(e) => s.call_failed(call.id, e, now),
    }
}

/// `{"sub":"cust-1","iat":…,"exp":…}` for a token issued at `iat_s` living 6 s.
fn six_seconds(iat_s: i64) -> String {
    format!(r#"{{"sub":"cust-1","iat":{iat_s},"exp":{}}}"#, iat_s + 6)
}

/// A session whose page clock runs `lead` ms ahead, logged in with 6 s
/// tokens: the first answer refused, the retry's agreeing. Returns the time.
fn fast_clock_login(s: &mut Session, lead: Millis) -> Millis {
    let issuer_s = T0 / 1000;
    let mut now = T0 + lead;
    let call = s.set_customer("cust-1", now).unwrap().call.unwrap();
    let admitted = admit(s, &call, &six_seconds(issuer_s), now + 100);
    let _ = answer(s, &call, admitted, now + 100);
    now = s.next_wake().unwrap();
    let retry = s.tick(now).call.unwrap();
    let admitted = admit(s, &retry, &six_seconds(issuer_s + 1), now + 100);
    let _ = answer(s, &retry, admitted, now + 100);
    assert!(s.credential().unwrap().clock_offset < 0);
    now
}

#[test]
fn a_page_clock_ten_minutes_fast_authenticates_after_one_more_reading() {
    let lead = 600_000;
    let issuer_s = T0 / 1000;
    let mut s = session();
    let mut now = T0 + lead;
    let call = s.set_customer("cust-1", now).unwrap().call.unwrap();
    now += 150;
    let admitted = admit(&s, &call, &six_seconds(issuer_s), now);
    assert_eq!(admitted.as_ref().unwrap_err().code(), ErrorCode::Expired);
    let fx = answer(&mut s, &call, admitted, now);
    assert_eq!(fx.release, None, "setCustomer still waits");
    assert_eq!(s.state(), State::Authenticating);
    // The retry asks for a fresh token; its reading agrees.
    now = s.next_wake().unwrap();
    let retry = s.tick(now).call.unwrap();
    assert!(retry.needs_refresh);
    now += 150;
    let admitted = admit(&s, &retry, &six_seconds(issuer_s + 1), now);
    let fx = answer(&mut s, &retry, admitted, now);
    assert_eq!(fx.release, Some(Ok(())));
    assert_eq!(s.state(), State::Authenticated);
    let c = s.credential().unwrap();
    // The real expiry (issuer's clock) moved onto the page clock.
    let mut real_expiry = (issuer_s + 7) * 1000 + lead;
    assert!(c.expires_at.unwrap() <= real_expiry);
    assert!(c.expires_at.unwrap() > real_expiry - 2_000);
    // Refreshes come on the issuer's schedule, each admitted at once.
    for i in 0..3 {
        now = s.refresh_due().unwrap();
        assert!(now < real_expiry, "refresh {i} before the real expiry");
        let call = s.tick(now).call.unwrap();
        now += 100;
        let issued = (now - lead) / 1000;
        real_expiry = (issued + 6) * 1000 + lead;
        let admitted = admit(&s, &call, &six_seconds(issued), now);
        let fx = answer(&mut s, &call, admitted, now);
        assert_eq!(fx.release, Some(Ok(())), "refresh {i}");
    }
}

#[test]
fn a_fast_clock_correction_the_server_refutes_is_dropped_and_the_token_never_sent_again() {
    // Two stale cached tokens that happen to look like one fast clock (the
    // worst case of the evidence rule): the server refuses the second once.
    let mut s = session();
    let now = fast_clock_login(&mut s, 600_000);
    let token = s.credential().unwrap().token.secret().to_owned();
    // The server refuses it: the evidence goes, the next call says needsRefresh.
    let (access, fx) = s.unauthorized(Some(&token), now + 200);
    assert_eq!(access, Access::Wait);
    let call = fx.call.unwrap();
    assert!(call.needs_refresh);
    assert_eq!(s.clock_evidence().agreed, None);
    // Handed back, it is refused, never sent a second time: without the
    // evidence it is admitted on the page clock again, where it has expired.
    let same = admit_token(&s, &call, &token, now + 300);
    assert_eq!(same.unwrap_err().code(), ErrorCode::Expired);
}

#[test]
fn a_tab_that_adopted_a_corrected_token_judges_its_own_first_answer_at_once() {
    // Tab A gathers the evidence (two readings), tab B only adopts A's token
    // (through the stored form another tab receives), then calls itself.
    let lead = 600_000;
    let mut a = session();
    let mut now = fast_clock_login(&mut a, lead);
    let offered = crate::session::admit::store("cust-1", a.credential().unwrap());
    let mut b = session();
    let call = b.set_customer("cust-1", now + 200).unwrap().call.unwrap();
    let fx = b.adopt(
        crate::session::admit::restore(&offered, "cust-1").unwrap(),
        now + 200,
        0.0,
    );
    assert_eq!(fx.abort, Some(call.id));
    assert!(b.clock_evidence().agreed.is_some());
    // B's own scheduled refresh: its first answer is admitted, corrected.
    now = b.refresh_due().unwrap();
    let call = b.tick(now).call.unwrap();
    let issued = (now + 100 - lead) / 1000;
    let admitted = admit(&b, &call, &six_seconds(issued), now + 100);
    assert!(admitted.as_ref().unwrap().clock_offset < -lead + 2_000);
    let fx = answer(&mut b, &call, admitted, now + 100);
    assert_eq!(fx.release, Some(Ok(())));
}

/// A session logged in by the provider with refresh token `r1`, now in a
/// token-endpoint refresh; returns that call.
fn refreshing_by_grant(s: &mut Session) -> Call {
    let call = s.set_customer("cust-1", T0).unwrap().call.unwrap();
    let mut first = cred("t1", T0, 600_000);
    first.refresh_token = Some(SecretString::new("r1"));
    let _ = s.call_succeeded(call.id, first, Source::Provider, 0.0);
    let call = s.access(T0 + 1_000, true).1.call.unwrap();
    assert_eq!(call.via, Via::TokenEndpoint);
    call
}

#[test]
fn a_refused_answer_keeps_its_rotated_refresh_token_for_the_retry() {
    // Issue 14: the endpoint answered with t2 + r2, the page refused t2
    // (its JWKS fetch failed, or it was malformed). r1 is spent: the retry
    // must present r2, or a rotating provider revokes the whole login.
    let mut s = endpoint_session();
    let call = refreshing_by_grant(&mut s);
    assert!(s.refresh_token_issued(call.id, SecretString::new("r2"), T0 + 1_100));
    let fx = s.call_failed(
        call.id,
        Error::new(ErrorCode::Network, "the JWKS could not be fetched"),
        T0 + 1_200,
    );
    assert!(fx.call.is_none(), "retried after backoff");
    assert_eq!(s.refresh_token().unwrap().secret(), "r2");
    assert_eq!(s.refresh_token_at(), Some(T0 + 1_100));
    let retry = s.tick(T0 + 10_000).call.unwrap();
    assert_eq!((retry.via, retry.attempt), (Via::TokenEndpoint, 2));
    // The accepted answer's own refresh token takes over.
    let mut t3 = cred("t3", T0 + 10_100, 600_000);
    t3.refresh_token = Some(SecretString::new("r3"));
    let _ = s.call_succeeded(retry.id, t3, Source::TokenEndpoint, 0.0);
    assert_eq!(s.refresh_token().unwrap().secret(), "r3");
}

#[test]
fn a_stale_grant_answer_still_hands_in_its_refresh_token() {
    // The call timed out (or another tab's token ended the cycle) while the
    // endpoint was answering: its answer is ignored, its refresh token not.
    let mut s = endpoint_session();
    let call = refreshing_by_grant(&mut s);
    let fx = s.tick(call.deadline);
    assert_eq!(fx.abort, Some(call.id));
    assert!(s.refresh_token_issued(call.id, SecretString::new("r2"), call.deadline + 5));
    assert_eq!(s.refresh_token().unwrap().secret(), "r2");
    // An answer older than the refresh token held does not replace it.
    assert!(!s.refresh_token_issued(call.id, SecretString::new("r1b"), T0 + 1_001));
    assert_eq!(s.refresh_token().unwrap().secret(), "r2");
}

#[test]
fn another_customers_grant_answer_hands_in_nothing() {
    let mut s = endpoint_session();
    let call = refreshing_by_grant(&mut s);
    let _ = s.set_customer("cust-2", T0 + 1_050).unwrap();
    assert!(!s.refresh_token_issued(call.id, SecretString::new("r2"), T0 + 1_100));
    assert!(s.refresh_token().is_none());
    let _ = s.clear_customer("anon-2".into()).unwrap();
    assert!(!s.refresh_token_issued(call.id + 1, SecretString::new("r3"), T0 + 1_200));
    s.share_refresh_token(SecretString::new("r4"), T0 + 1_300);
    assert!(s.refresh_token().is_none(), "nobody to keep it for");
}

#[test]
fn a_shared_refresh_token_is_kept_when_newer_and_refusal_forgets_only_the_presented_one() {
    let mut s = endpoint_session();
    let call = refreshing_by_grant(&mut s);
    s.share_refresh_token(SecretString::new("r0"), T0 - 1);
    assert_eq!(s.refresh_token().unwrap().secret(), "r1", "older: ignored");
    s.share_refresh_token(SecretString::new("r2"), T0 + 1_100);
    assert_eq!(s.refresh_token().unwrap().secret(), "r2");
    // The grant that presented r1 is refused (another tab spent r1 on the
    // r2 it shared): r2 stays.
    s.forget_refresh_token(&SecretString::new("r1"));
    assert_eq!(s.refresh_token().unwrap().secret(), "r2");
    let _ = s.call_failed(
        call.id,
        Error::new(ErrorCode::RefreshFailed, "refused"),
        T0 + 1_200,
    );
    assert_eq!(s.tick(T0 + 10_000).call.unwrap().via, Via::TokenEndpoint);
    s.forget_refresh_token(&SecretString::new("r2"));
    assert!(s.refresh_token().is_none());
}

#[test]
fn a_refused_refresh_token_is_never_taken_back_from_a_peer() {
    let mut s = endpoint_session();
    let _call = refreshing_by_grant(&mut s);
    // r1 was spent by a tab whose answer was lost: the endpoint refuses it.
    s.forget_refresh_token(&SecretString::new("r1"));
    assert!(s.refresh_token().is_none());
    // The other tabs still hold r1 and share it, with a newer reading.
    s.share_refresh_token(SecretString::new("r1"), T0 + 5_000);
    assert!(
        s.refresh_token().is_none(),
        "refused once: never presented again"
    );
    let issued = s.refresh_token_issued(
        s.current_call().map_or(1, |c| c.id),
        SecretString::new("r1"),
        T0 + 6_000,
    );
    assert!(!issued);
    s.share_refresh_token(SecretString::new("r2"), T0 + 5_000);
    assert_eq!(
        s.refresh_token().unwrap().secret(),
        "r2",
        "a new one is kept"
    );
}

#[test]
fn the_refused_refresh_tokens_are_bounded_and_cleared_with_the_customer() {
    let mut s = endpoint_session();
    let _ = s.set_customer("cust-1", T0).unwrap();
    for i in 0..10 {
        s.forget_refresh_token(&SecretString::new(format!("spent{i}")));
    }
    // The oldest fell out of the bounded list: acceptable again.
    s.share_refresh_token(SecretString::new("spent0"), T0);
    assert_eq!(s.refresh_token().unwrap().secret(), "spent0");
    s.share_refresh_token(SecretString::new("spent9"), T0 + 1);
    assert_eq!(
        s.refresh_token().unwrap().secret(),
        "spent0",
        "recent: refused"
    );
    let _ = s.set_customer("other", T0 + 2).unwrap();
    s.share_refresh_token(SecretString::new("spent9"), T0 + 3);
    assert_eq!(
        s.refresh_token().unwrap().secret(),
        "spent9",
        "another customer's list"
    );
}

/// `Debug` on a credential shows no secret: not the token, the refresh
/// token, an extra header's value (it may be a credential) nor the payload.
#[test]
fn credential_debug_shows_no_secret() {
    let mut c = cred("tok-secret-1", 0, 1_000);
    c.headers = vec![("X-Chat-Key".into(), "hdr-secret-2".into())];
    c.refresh_token = Some(SecretString::new("rt-secret-3"));
    c.claims_json = Some(r#"{"email":"payload-secret-4"}"#.into());
    let shown = format!("{c:?}");
    for secret in [
        "tok-secret-1",
        "hdr-secret-2",
        "rt-secret-3",
        "payload-secret-4",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("X-Chat-Key"), "{shown}");
}

/// An [`endpoint_session`] logged in with refresh token `r1`, its refresh
/// (planned for the token endpoint) waiting for the cross-tab lock.
fn refresh_awaiting_the_lock(has_provider: bool) -> (Session, CallId) {
    let mut s = endpoint_session();
    let call = s.set_customer("cust-1", T0).unwrap().call.unwrap();
    let mut c = cred("t1", T0, 600_000);
    c.refresh_token = Some(SecretString::new("r1"));
    let _ = s.call_succeeded(call.id, c, Source::Provider, 0.0);
    // A page that resumed a stored token has no provider to call.
    s.set_has_provider(has_provider);
    let call = s.access(T0 + 1, true).1.call.unwrap();
    assert_eq!(call.via, Via::TokenEndpoint);
    s.await_grant(call.id);
    (s, call.id)
}

#[test]
fn a_call_granted_after_its_refresh_token_went_asks_the_provider_or_holds() {
    let r1 = SecretString::new("r1");
    // Spent by another tab meanwhile: the provider is asked instead.
    let (mut s, call) = refresh_awaiting_the_lock(true);
    s.forget_refresh_token(&r1);
    let granted = s.call_granted(call, T0 + 10).unwrap();
    assert_eq!(granted.via, Via::Provider);
    // Presented by a grant still on the wire meanwhile: likewise.
    let (mut s, call) = refresh_awaiting_the_lock(true);
    s.grant_unanswered(r1.clone());
    assert_eq!(s.call_granted(call, T0 + 10).unwrap().via, Via::Provider);
    // Without a provider the cycle holds for that grant, then goes on.
    let (mut s, call) = refresh_awaiting_the_lock(false);
    s.grant_unanswered(r1.clone());
    assert_eq!(s.call_granted(call, T0 + 10), None);
    assert!(s.refreshing());
    assert_eq!(s.next_wake(), None, "holding: no retry of its own");
    s.grant_settled(&r1, T0 + 20);
    let retry = s.tick(T0 + 20).call.unwrap();
    assert_eq!(retry.via, Via::TokenEndpoint);
    // Without a provider and with no refresh token, the grant is refused
    // by the driver as before (`refresh_failed`): nothing to hold for.
    let (mut s, call) = refresh_awaiting_the_lock(false);
    s.forget_refresh_token(&r1);
    assert_eq!(
        s.call_granted(call, T0 + 10).unwrap().via,
        Via::TokenEndpoint
    );
}

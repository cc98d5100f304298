use super::*;
use crate::jose::token::tests::jws;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// The rules of a session for `cust-1` on a first call.
fn rules(validation: &verify::VerifyOptions, asked_at: Option<Millis>) -> Rules<'_> {
    Rules {
        validation,
        customer_id: "cust-1",
        refused: None,
        needs_refresh: false,
        asked_at,
        clock: schedule::ClockEvidence::default(),
    }
}

fn credential(token: &str) -> Credential {
    Candidate::read(&format!(
        r#"{{"Auth":{{"Token":"{token}","token_type":"Bearer","refresh_token":"r\"1","Headers":{{"X-Site":"a b"}}}}}}"#
    ))
    .unwrap()
    .admit(
        &rules(&verify::VerifyOptions::default(), None),
        1_700_000_000_000,
        None,
    )
    .map(|mut c| {
        c.expires_at = c.expires_at.or(Some(1_700_000_060_000));
        c
    })
    .unwrap()
}

#[test]
fn store_and_restore_round_trip() {
    let jwt = jws(
        r#"{"alg":"RS256"}"#,
        r#"{"sub":"cust-1","exp":1700000600}"#,
        b"s",
    );
    for token in [jwt.as_str(), "opaque-token_1"] {
        let mut c = credential(token);
        let lead = schedule::LeadReading {
            stamp_ms: 0,
            low: 599_000,
            high: 600_100,
        };
        c.clock_evidence.agreed = Some(lead);
        let text = store("cust-1", &c);
        let back = restore(&text, "cust-1").expect(&text);
        assert_eq!(
            back,
            Credential {
                clock_offset: 0,
                clock_evidence: schedule::ClockEvidence {
                    last: None,
                    agreed: Some(lead),
                },
                ..c
            }
        );
        assert_eq!(
            restore(&text, "cust-2"),
            None,
            "another customer's credential"
        );
    }
    assert_eq!(restore("not json", "cust-1"), None);
    assert_eq!(restore(r#"{"customerId":"cust-1"}"#, "cust-1"), None);
}

fn admit_jwt(payload: &str, received_at: Millis, date: Option<Millis>) -> Result<Credential> {
    let jwt = jws(r#"{"alg":"RS256"}"#, payload, b"s");
    Candidate::read(&format!(r#"{{"Auth":{{"Token":"{jwt}"}}}}"#))?
        .with_server_date(date)
        .admit(
            &rules(&verify::VerifyOptions::default(), None),
            received_at,
            None,
        )
}

#[test]
fn server_date_tells_a_slow_page_clock_without_iat() {
    // No iat; the token endpoint's Date is 2 minutes ahead of the page.
    let c = admit_jwt(
        r#"{"sub":"cust-1","exp":1700000600}"#,
        1_700_000_000_000,
        Some(1_700_000_120_000),
    )
    .unwrap();
    // At most 121 s ahead (Date is whole seconds): expiry no later.
    assert_eq!(c.clock_offset, 121_000);
    assert_eq!(c.expires_at, Some(1_700_000_479_000));
}

/// Judges a JWT with `payload` asked for 100 ms before `received_at`,
/// after `clock` evidence.
fn admit_after(
    payload: &str,
    received_at: Millis,
    clock: schedule::ClockEvidence,
) -> Result<Credential> {
    let jwt = jws(r#"{"alg":"RS256"}"#, payload, b"s");
    let validation = verify::VerifyOptions::default();
    let rules = Rules {
        clock,
        ..rules(&validation, Some(received_at - 100))
    };
    Candidate::read(&format!(r#"{{"Auth":{{"Token":"{jwt}"}}}}"#))?.admit(&rules, received_at, None)
}

#[test]
fn a_page_clock_ten_minutes_fast_is_corrected_on_evidence() {
    // Fresh 6 s tokens; the page clock is 10 min ahead of the issuer.
    let lead = 600_000;
    let first = admit_after(
        r#"{"sub":"cust-1","iat":1700000000,"exp":1700000006}"#,
        1_700_000_000_200 + lead,
        Default::default(),
    )
    .unwrap_err();
    // One token cannot tell a fast clock from a cached one: refused,
    // but its reading is kept.
    assert_eq!(first.code(), ErrorCode::Expired);
    let evidence = first.clock_evidence().expect("the reading is kept");
    // A newer token a second later shows the same lead: admitted, with
    // its expiry on the page clock.
    let second = admit_after(
        r#"{"sub":"cust-1","iat":1700000001,"exp":1700000007}"#,
        1_700_000_001_300 + lead,
        evidence,
    )
    .unwrap();
    assert!((-lead..=-lead + 1_000).contains(&second.clock_offset));
    let expires = second.expires_at.unwrap();
    assert!(
        expires <= 1_700_000_007_000 + lead,
        "never later than the real expiry"
    );
    assert!(expires > 1_700_000_006_000 + lead);
    // The agreed lead judges the next token at once.
    let third = admit_after(
        r#"{"sub":"cust-1","iat":1700000005,"exp":1700000011}"#,
        1_700_000_005_100 + lead,
        second.clock_evidence,
    )
    .unwrap();
    assert!(third.clock_offset < -lead + 1_000);
}

#[test]
fn fast_page_clocks_up_to_fifteen_minutes_are_corrected_and_no_further() {
    for (lead, corrected) in [
        (60_000, true),
        (14 * 60_000 + 30_000, true),
        (16 * 60_000, false),
    ] {
        let first = admit_after(
            r#"{"sub":"cust-1","iat":1700000000,"exp":1700000006}"#,
            1_700_000_000_200 + lead,
            Default::default(),
        )
        .unwrap_err();
        let second = admit_after(
            r#"{"sub":"cust-1","iat":1700000001,"exp":1700000007}"#,
            1_700_000_001_300 + lead,
            first.clock_evidence().unwrap(),
        );
        assert_eq!(second.is_ok(), corrected, "lead {lead} ms");
    }
}

#[test]
fn a_slow_page_clock_is_corrected_never_late() {
    // The page clock is 10 min behind; the issuer minted a 6 s token at
    // 1 700 000 000.9 s (so iat says …000), inside a 100 ms call.
    let received_at = 1_700_000_000_980 - 600_000;
    let c = admit_after(
        r#"{"sub":"cust-1","iat":1700000000,"exp":1700000006}"#,
        received_at,
        Default::default(),
    )
    .unwrap();
    let real_expiry_on_page = 1_700_000_006_000 - 600_000;
    let expires = c.expires_at.unwrap();
    assert!(
        expires <= real_expiry_on_page,
        "late by {} ms",
        expires - real_expiry_on_page
    );
    assert!(expires > real_expiry_on_page - 1_200);
}

#[test]
fn a_cached_expired_token_is_refused_however_often_it_comes() {
    // The page clock is right; the provider's cache hands out a 6 s
    // token issued 10 min ago, again and again.
    let stale = r#"{"sub":"cust-1","iat":1699999400,"exp":1699999406}"#;
    let mut evidence = schedule::ClockEvidence::default();
    for at in [1_700_000_000_000, 1_700_000_001_000, 1_700_000_003_000] {
        let e = admit_after(stale, at, evidence).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Expired);
        evidence = e.clock_evidence().unwrap();
        assert_eq!(evidence.agreed, None);
    }
    // Then a fresh token: no lead, no correction.
    let fresh = admit_after(
        r#"{"sub":"cust-1","iat":1700000004,"exp":1700000010}"#,
        1_700_000_004_100,
        evidence,
    )
    .unwrap();
    assert_eq!(fresh.clock_offset, 0);
}

#[test]
fn a_page_clock_minutes_fast_takes_short_tokens_on_the_page_clock_first() {
    // 5-minute token issued "now"; the page clock is 4 min ahead: still
    // unexpired on the page clock, so taken uncorrected (it expires
    // early, never late) until a second reading agrees.
    let c = admit_jwt(
        r#"{"sub":"cust-1","iat":1700000000,"exp":1700000300}"#,
        1_700_000_240_000,
        None,
    )
    .unwrap();
    assert_eq!(c.clock_offset, 0);
    assert_eq!(c.expires_at, Some(1_700_000_300_000));
    // The token endpoint's Date agreeing with iat is evidence at once.
    let c = admit_jwt(
        r#"{"sub":"cust-1","iat":1700000000,"exp":1700000300}"#,
        1_700_000_240_000,
        Some(1_700_000_000_000),
    )
    .unwrap();
    assert_eq!(c.clock_offset, -239_000);
    // A Date that disagrees (the issuer's clock is the page's): the token
    // is 4 min old, not a fast clock.
    let c = admit_jwt(
        r#"{"sub":"cust-1","iat":1700000000,"exp":1700000300}"#,
        1_700_000_240_000,
        Some(1_700_000_240_000),
    )
    .unwrap();
    assert_eq!(c.clock_offset, 0);
}

#[test]
fn an_answer_that_waited_out_a_sleep_is_old_not_a_fast_clock() {
    // Found by the simulation (seed 664, sleep): a 17 s token asked for
    // at 1 700 000 000 s on a correct clock arrives 26 s later because
    // the computer slept. Judged from its receipt it would look like a
    // page clock 26 s fast and pass as fresh; it has expired.
    let jwt = jws(
        r#"{"alg":"RS256"}"#,
        r#"{"sub":"cust-1","iat":1700000000,"exp":1700000017}"#,
        b"s",
    );
    let admit_asked_at = |asked_at| {
        Candidate::read(&format!(r#"{{"Auth":{{"Token":"{jwt}"}}}}"#))
            .unwrap()
            .admit(
                &rules(&verify::VerifyOptions::default(), asked_at),
                1_700_000_026_000,
                None,
            )
    };
    let e = admit_asked_at(Some(1_700_000_000_000)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Expired);
    // Asked for just before the receipt it could mean a fast clock, but a
    // token already past `exp` on the page clock is refused all the same.
    let e = admit_asked_at(Some(1_700_000_025_900)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Expired);
}

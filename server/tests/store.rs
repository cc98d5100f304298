//! The storage contract, on the store under test (SQLite, or PostgreSQL when
//! `CHAT_TEST_POSTGRES` is set): idempotent appends, folding, ordering,
//! rotation and reuse, family ends, metadata, login attempts, migrations.

mod support;

use chat_auth_server::limits::LoginLimit;
use chat_auth_server::store::{self, Author, Family, Owner, Rotation, Store};
use std::sync::Arc;

async fn store() -> Arc<dyn Store> {
    store::open(&support::private_db().await).await.unwrap()
}

fn family(id: &str) -> Family {
    Family {
        id: id.into(),
        customer_id: "c1".into(),
        user_id: "alice".into(),
        expires_at: 10_000,
        revoked_at: None,
        client_id: "chat-demo".into(),
        jkt: None,
    }
}

#[tokio::test]
async fn a_dpop_proof_is_recorded_once_until_its_end() {
    let s = store().await;
    assert!(s.first_proof_use("k j1", 1_000, 0).await.unwrap());
    assert!(
        !s.first_proof_use("k j1", 1_000, 500).await.unwrap(),
        "a replay"
    );
    assert!(s.first_proof_use("k j2", 1_000, 500).await.unwrap());
    assert!(s.first_proof_use("other j1", 1_000, 500).await.unwrap());
    // Past its end the entry is gone (deleted on the way).
    assert!(s.first_proof_use("k j1", 2_000, 1_000).await.unwrap());
    assert!(!s.first_proof_use("k j1", 2_000, 1_500).await.unwrap());
    assert!(s.first_proof_use("k j2", 3_000, 1_500).await.unwrap());
}

#[tokio::test]
async fn a_family_keeps_its_dpop_binding_through_rotation() {
    let s = store().await;
    let bound = Family {
        jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
        ..family("b")
    };
    s.create_family(&bound, b"t1", 0).await.unwrap();
    assert_eq!(s.family("b").await.unwrap(), Some(bound.clone()));
    assert_eq!(
        s.refresh_token(b"t1").await.unwrap(),
        Some((bound.clone(), false))
    );
    assert_eq!(
        s.rotate(b"t1", b"t2", 1).await.unwrap(),
        Rotation::Rotated(bound.clone())
    );
    assert_eq!(s.refresh_token(b"t2").await.unwrap(), Some((bound, false)));
    s.create_family(&family("u"), b"u1", 0).await.unwrap();
    assert_eq!(s.family("u").await.unwrap().unwrap().jkt, None);
}

#[tokio::test]
async fn append_is_idempotent_per_client_id() {
    let s = store().await;
    let o = Owner::Anonymous("a".into());
    let (m1, new1) = s
        .append(&o, Author::Visitor, "hi", Some("k1"), 1)
        .await
        .unwrap();
    let (m2, new2) = s
        .append(&o, Author::Visitor, "hi", Some("k1"), 2)
        .await
        .unwrap();
    assert!(new1 && !new2);
    assert_eq!(m1, m2);
    // The same key in another conversation is another message.
    let other = Owner::Customer("a".into());
    assert!(
        s.append(&other, Author::Visitor, "hi", Some("k1"), 3)
            .await
            .unwrap()
            .1
    );
    assert_eq!(s.list(&o, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn fold_moves_once_and_skips_duplicates() {
    let s = store().await;
    let anon = Owner::Anonymous("a".into());
    let cust = Owner::Customer("c".into());
    s.append(&anon, Author::Visitor, "one", Some("k1"), 1)
        .await
        .unwrap();
    s.append(&anon, Author::Agent, "reply", None, 2)
        .await
        .unwrap();
    s.append(&anon, Author::Visitor, "two", Some("k2"), 3)
        .await
        .unwrap();
    s.append(&cust, Author::Visitor, "two", Some("k2"), 4)
        .await
        .unwrap();
    assert_eq!(s.fold_anonymous("a", "c").await.unwrap(), 2);
    assert_eq!(s.fold_anonymous("a", "c").await.unwrap(), 0);
    let texts: Vec<_> = s
        .list(&cust, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["one", "reply", "two"]);
    assert!(s.list(&anon, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn list_keeps_the_newest_in_order() {
    let s = store().await;
    let o = Owner::Customer("c".into());
    for i in 0..5 {
        s.append(&o, Author::Visitor, &i.to_string(), None, i)
            .await
            .unwrap();
    }
    let texts: Vec<_> = s
        .list(&o, 3)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["2", "3", "4"]);
}

#[tokio::test]
async fn rotation_and_reuse_revokes_the_family() {
    let s = store().await;
    s.create_family(&family("f"), b"t1", 0).await.unwrap();
    assert!(matches!(
        s.rotate(b"t1", b"t2", 1).await.unwrap(),
        Rotation::Rotated(_)
    ));
    assert!(
        s.refresh_token(b"t1").await.unwrap().unwrap().1,
        "t1 is spent"
    );
    assert!(
        !s.refresh_token(b"t2").await.unwrap().unwrap().1,
        "t2 is current"
    );
    assert!(matches!(
        s.rotate(b"t1", b"t3", 2).await.unwrap(),
        Rotation::Reused(_)
    ));
    // The current token died with its family.
    assert_eq!(s.rotate(b"t2", b"t4", 3).await.unwrap(), Rotation::Refused);
    assert!(s.family("f").await.unwrap().unwrap().revoked_at.is_some());
    assert_eq!(
        s.rotate(b"nope", b"t5", 3).await.unwrap(),
        Rotation::Refused
    );
    assert!(s.refresh_token(b"t3").await.unwrap().is_none());
}

#[tokio::test]
async fn a_family_ends() {
    let s = store().await;
    s.create_family(&family("f"), b"t1", 0).await.unwrap();
    assert_eq!(
        s.rotate(b"t1", b"t2", 10_000).await.unwrap(),
        Rotation::Refused
    );
    assert!(s.revoke_family("f", 1).await.unwrap());
    assert!(!s.revoke_family("f", 2).await.unwrap());
    assert!(!s.revoke_family("unknown", 2).await.unwrap());
}

#[tokio::test]
async fn meta_is_created_once() {
    let s = store().await;
    assert_eq!(s.meta_or_insert("k", vec![1]).await.unwrap(), vec![1]);
    assert_eq!(s.meta_or_insert("k", vec![2]).await.unwrap(), vec![1]);
}

#[tokio::test]
async fn login_attempts_count_until_they_succeed_or_a_minute_passes() {
    let s = store().await;
    let limit = LoginLimit { per_name: 2 };
    let first = s.login_attempt("alice", limit, 0).await.unwrap().unwrap();
    s.login_succeeded(first).await.unwrap();
    s.login_attempt("alice", limit, 1).await.unwrap().unwrap();
    s.login_attempt("alice", limit, 2).await.unwrap().unwrap();
    assert_eq!(s.login_attempt("alice", limit, 3).await.unwrap(), Err(60));
    assert!(s.login_attempt("bob", limit, 3).await.unwrap().is_ok());
    assert!(s
        .login_attempt("alice", limit, 60_002)
        .await
        .unwrap()
        .is_ok());
}

#[tokio::test]
async fn reopening_a_database_keeps_it_and_applies_no_migration_twice() {
    let db = support::shared_db().await;
    let s = store::open(&db.url).await.unwrap();
    s.meta_or_insert("k", vec![7]).await.unwrap();
    drop(s);
    let again = store::open(&db.url).await.unwrap();
    assert_eq!(again.meta_or_insert("k", vec![8]).await.unwrap(), vec![7]);
    drop(again);
    let versions = support::select_count(&db, "SELECT count(*) FROM schema_migrations").await;
    let known = store::migrations::SQLITE.len() as i64;
    assert_eq!(versions, known, "on {}", support::engine());
}

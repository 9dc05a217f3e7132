//! The audit chain on every backend: appends inside changes and outside them verify, an edited
//! event is named as the break, and writers appending at once leave one intact chain.

use ronghe::store::{AuditError, BreakKind, Pool, Store};

use crate::common;

/// Runs one statement on the store's own pool, as someone with database access would.
async fn raw(store: &Store, sql: &'static str) {
    match store.pool() {
        Pool::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        Pool::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

pub async fn audit_chain_verifies_and_names_tampering(store: Store) {
    store
        .insert_system(&common::system("gy-a"), "alice")
        .await
        .expect("insert");
    store
        .record_audit(
            "bob",
            "case.read",
            "gy-a/1",
            serde_json::json!({ "z": [1, { "b": 2, "a": 1 }], "a": "读" }),
        )
        .await
        .expect("record");
    store
        .insert_system(&common::system("gy-b"), "alice")
        .await
        .expect("insert");
    assert_eq!(store.verify_audit_chain().await.expect("intact"), 3);

    raw(
        &store,
        r#"UPDATE audit_events SET detail = '{"tampered": true}' WHERE seq = 2"#,
    )
    .await;
    match store.verify_audit_chain().await {
        Err(AuditError::Broken(b)) => assert_eq!((b.kind, b.seq), (BreakKind::PayloadAltered, Some(2))),
        other => panic!("expected the edit to be found: {other:?}"),
    }
    raw(&store, "DELETE FROM audit_events WHERE seq = 2").await;
    match store.verify_audit_chain().await {
        Err(AuditError::Broken(b)) => assert_eq!((b.kind, b.seq), (BreakKind::Missing, Some(2))),
        other => panic!("expected the gap to be found: {other:?}"),
    }
}

pub async fn concurrent_audit_writers_leave_one_chain(store: Store) {
    const PER_WRITER: usize = 25;
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..PER_WRITER {
                    let target = format!("writer-{w}/{i}");
                    store
                        .record_audit("load", "case.read", &target, serde_json::json!({ "i": i }))
                        .await
                        .expect("record");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    assert_eq!(
        store.verify_audit_chain().await.expect("intact"),
        (2 * PER_WRITER) as u64
    );
}

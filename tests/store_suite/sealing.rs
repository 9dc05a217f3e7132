//! Issue 20: applicants' personal values sealed at rest, on every backend. The suite writes
//! through a store with keys and reads everything back in clear; each backend's test then looks
//! for the values in what an attacker would copy (the SQLite files, a `pg_dump`).

use chrono::Utc;
use ronghe::case::Case;
use ronghe::store::{NewQualityItem, QualityReason, Store, StoreError};
use ronghe_crypto::Cipher;

use crate::common;

/// What the suite wrote: the personal values to look for, and the case numbers (stored in
/// clear, so a scan that does not find them does not see the store).
pub struct Written {
    pub personal: Vec<String>,
    pub case_numbers: Vec<String>,
}

/// A case of `gy-seal` numbered `n`, with its own applicant, agent and phone.
fn applicant_case(n: u32) -> Case {
    let mut case = common::case("case_finished");
    case.case_no = format!("SEAL-{n:04}");
    case.applicant.kind = ronghe::case::ApplicantKind::NaturalPerson;
    case.applicant.name = format!("申请人{n}");
    case.applicant.certificate_no = common::synthetic_resident_id(&format!("seal-{n}"));
    case.applicant.phone = Some(format!("139{:08}", 10_000_000 + n * 7919));
    case.applicant.address = Some(format!("贵州省贵阳市观山湖区长岭北路{n}号"));
    case
}

/// Writes cases, a hand-off and a refused record through a store sealing under `k1`
/// (SM4-GCM), reads each back in clear, and shows a store without keys refusing to read them.
pub async fn personal_values_are_sealed_at_rest(store: Store) -> Written {
    let keyless = store.clone();
    let store = common::sealed(store, "k1", &[("k1", Cipher::Sm4Gcm)]);
    store
        .insert_system(&common::system("gy-seal"), "test")
        .await
        .unwrap();
    let cases: Vec<Case> = (1..=20).map(applicant_case).collect();
    store.upsert_cases("gy-seal", &cases).await.unwrap();
    let handed = applicant_case(99);
    store
        .enqueue_handoff("gy-seal", &handed, "test", Utc::now())
        .await
        .unwrap();
    let refused = applicant_case(77);
    let record = serde_json::json!({
        "caseNo": refused.case_no, "idNo": refused.applicant.certificate_no,
        "mobile": refused.applicant.phone, "name": refused.applicant.name,
    });
    let item = NewQualityItem {
        system_id: "gy-seal".into(),
        case_no: Some(refused.case_no.clone()),
        version: Some(1),
        channel: "push-json".into(),
        record_hash: "hash-seal-77".into(),
        record: record.clone(),
        reasons: vec![QualityReason {
            code: "canonical".into(),
            field: Some("applicant.certificate_no".into()),
            message: "check digit".into(),
        }],
        mapping_version: None,
        received_at: Utc::now(),
    };
    let ids = store.queue_quality_items(&[item], "test").await.unwrap();

    // Read back in clear, by every path that reads them.
    for case in &cases {
        assert_eq!(
            &store.get_case("gy-seal", &case.case_no).await.unwrap().case,
            case
        );
        assert_eq!(
            &store.case_history("gy-seal", &case.case_no).await.unwrap()[0].case,
            case
        );
    }
    let claimed = store
        .claim_outbox("node-seal", 100, chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), cases.len());
    for item in &claimed {
        let original = cases.iter().find(|c| c.case_no == item.case.case_no).unwrap();
        assert_eq!(&item.case, original, "the exchange gets the case in clear");
    }
    let now = Utc::now();
    let handoffs = store
        .claim_handoffs(now, now + chrono::Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(handoffs[0].payload, serde_json::to_value(&handed).unwrap());
    let (_, again) = store
        .enqueue_handoff("gy-seal", &handed, "test", Utc::now())
        .await
        .unwrap();
    assert_eq!(
        again,
        ronghe::store::Enqueued::Duplicate,
        "the same application, sealed twice"
    );
    assert_eq!(store.quality_item(ids[0]).await.unwrap().record, record);

    // The status counts every sealed row under k1.
    let status = store.sealing_status().await.unwrap();
    for (table, rows) in [
        ("case_versions", 20),
        ("handoffs", 1),
        ("quality_items", 1),
        ("cases", 20),
    ] {
        let under_k1: i64 = status
            .iter()
            .filter(|c| c.table == table && c.key.as_deref() == Some("k1"))
            .map(|c| c.rows)
            .sum();
        assert_eq!(under_k1, rows, "{table}: {status:?}");
    }

    // An applicant's cases are found by number through the blind index, letters in any case,
    // by a node whose active key is newer too; without keys the lookup is refused.
    let number = &cases[4].applicant.certificate_no;
    for (node, what) in [
        (store.clone(), "k1"),
        (
            common::sealed(
                keyless.clone(),
                "k2",
                &[("k1", Cipher::Sm4Gcm), ("k2", Cipher::Aes256Gcm)],
            ),
            "k2 active, k1 listed",
        ),
    ] {
        let found = node.cases_of_applicant(&number.to_lowercase(), 10).await.unwrap();
        let found: Vec<&str> = found.iter().map(|c| c.case_no.as_str()).collect();
        assert_eq!(found, [cases[4].case_no.as_str()], "{what}");
    }
    assert!(
        store
            .cases_of_applicant("110105194912310021", 10)
            .await
            .unwrap()
            .is_empty()
    );
    let no_keys = keyless.cases_of_applicant(number, 10).await.unwrap_err();
    assert!(matches!(no_keys, StoreError::Sealing(_)), "{no_keys:?}");

    // Without keys, a sealed row is refused with what to do, never shown sealed.
    let err = keyless.get_case("gy-seal", "SEAL-0001").await.unwrap_err();
    assert!(matches!(err, StoreError::Sealing(_)), "{err:?}");
    assert!(err.to_string().contains("[bridge] keys"), "{err}");

    let mut personal = Vec::new();
    for case in cases.iter().chain([&handed, &refused]) {
        personal.push(case.applicant.certificate_no.clone());
        personal.extend(case.applicant.phone.clone());
        personal.extend(case.applicant.address.clone());
    }
    Written {
        personal,
        case_numbers: cases.iter().map(|c| c.case_no.clone()).collect(),
    }
}

/// Fails naming the first personal value found in `dump`, and unless every case number is.
pub fn dump_holds_no_personal_value(written: &Written, dump: &[u8], what: &str) {
    let holds = |value: &str| dump.windows(value.len()).any(|w| w == value.as_bytes());
    for case_no in &written.case_numbers {
        assert!(
            holds(case_no),
            "{what} does not show case number {case_no}: the scan sees nothing"
        );
    }
    for value in &written.personal {
        assert!(!holds(value), "{what} holds {value} in clear");
    }
}

//! The console's monitoring pages (监测, issue 15) in a real headless Chromium against a real
//! `ronghe serve`: an operator dismisses a quality item with a reason (refused without one, and
//! nothing changes) and replays a dead exchange item; a regional operator sees only their
//! city's items. Every page visited passes `Browser::check`. Also, without a browser, that the
//! monitoring forms need the session's CSRF token and refuse another city's items, and that the
//! API's dead-letter queue keeps to the caller's scope as the page does.

mod common;

use chrono::Utc;
use common::browser::Browser;
use common::console::{FORM, GY_SYSTEM, Platform, ZY_SYSTEM, form};
use ronghe::corrections::Source;
use ronghe::store::{NewQualityItem, OutboxState, QualityReason, QualityStatus, Settlement, Store};
use serde_json::json;

/// Queues a refused record of `system` in the data-quality queue; its id.
async fn quality_item(store: &Store, system: &str, case_no: &str) -> i64 {
    let item = NewQualityItem {
        system_id: system.to_owned(),
        case_no: Some(case_no.to_owned()),
        version: Some(1),
        channel: "push-json".to_owned(),
        record_hash: format!("hash-{system}-{case_no}"),
        record: json!({"caseNo": case_no, "applicantCertNo": "520102199001011234"}),
        reasons: vec![QualityReason {
            code: "canonical".to_owned(),
            field: Some("applicant.certificate_no".to_owned()),
            message: "校验码不正确".to_owned(),
        }],
        mapping_version: None,
        received_at: Utc::now(),
    };
    store.queue_quality_items(&[item], "test").await.unwrap()[0]
}

/// A case of `system` stored (which enqueues its version in the exchange outbox), then made
/// dead the way the delivery worker makes it: claimed, and settled as refused by the exchange
/// (`Store::claim_outbox`, `Store::settle_outbox` with `Settlement::Dead`; the test's server
/// has no `[exchange]`, so no worker of its own touches the outbox). The dead item's id.
async fn dead_item(store: &Store, system: &str, case_no: &str) -> i64 {
    let mut case = common::case("case_application");
    case.case_no = case_no.to_owned();
    store
        .upsert_cases(system, std::slice::from_ref(&case))
        .await
        .unwrap();
    let claimed = store
        .claim_outbox("test-worker", 100, chrono::Duration::seconds(60))
        .await
        .unwrap();
    let item = claimed
        .iter()
        .find(|c| c.item.system_id == system && c.item.case_no == case_no)
        .expect("the case's item is claimed")
        .item
        .id;
    for other in claimed.iter().filter(|c| c.item.id != item) {
        let back = Settlement::Retry {
            delay: chrono::Duration::zero(),
            error: "not this test's".to_owned(),
        };
        store
            .settle_outbox(other.item.id, "test-worker", &back)
            .await
            .unwrap();
    }
    let dead = Settlement::Dead {
        error: "HTTP 400 Bad Request".to_owned(),
    };
    assert!(store.settle_outbox(item, "test-worker", &dead).await.unwrap());
    item
}

/// The state and attempts of the latest outbox item of a case.
async fn outbox_state(store: &Store, system: &str, case_no: &str) -> (OutboxState, i64) {
    let items = store.outbox_of_case(system, case_no).await.unwrap();
    let item = items.last().expect("the case's outbox item");
    (item.state, item.attempts)
}

#[tokio::test]
async fn an_operator_dismisses_a_quality_item_with_a_reason() {
    let p = Platform::new(&[("operator-1", &["operator@province"])]).await;
    let store = p.store().await;
    let item = quality_item(&store, GY_SYSTEM, "BAD-1").await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&p.url("/monitoring/quality")).await;
    p.sign_in(&browser, "operator-1").await;
    assert_eq!(browser.path().await, "/monitoring/quality");
    let text = browser.text().await;
    assert!(
        text.contains("BAD-1") && text.contains("applicant.certificate_no：校验码不正确"),
        "{text}"
    );
    browser.check("monitoring-quality").await;
    // The navigation leads to 监测, whose overview links the queue.
    browser.click("header nav a[href='/monitoring']").await;
    let text = browser.text().await;
    assert!(
        text.contains("1 条待处理") && text.contains("交换死信队列"),
        "{text}"
    );
    browser.check("monitoring").await;
    browser.click("a[href='/monitoring/quality']").await;
    browser
        .click(&format!("a[href='/monitoring/quality/{item}']"))
        .await;
    let text = browser.text().await;
    assert!(text.contains("push-json") && text.contains("忽略原因"), "{text}");
    assert!(
        !text.contains("520102199001011234") && text.contains("5201**********1234"),
        "the record is shown unmasked: {text}"
    );
    browser.check("monitoring-quality-item").await;
    // Without a reason: the form again, the field named, and the item unchanged.
    browser
        .click("form[action$='/dismiss'] button[type=submit]")
        .await;
    let text = browser.text().await;
    assert!(text.contains("请填写“忽略原因”（reason）"), "{text}");
    browser
        .check_answered("monitoring-quality-dismiss-refused", 422)
        .await;
    let unchanged = store.quality_item(item).await.unwrap();
    assert_eq!((unchanged.status, unchanged.note), (QualityStatus::Open, None));
    // With one: dismissed in the store, and gone from the open list.
    browser.fill("reason", "测试数据，无需更正").await;
    browser
        .click("form[action$='/dismiss'] button[type=submit]")
        .await;
    assert_eq!(
        browser.path().await,
        format!("/monitoring/quality?dismissed={item}")
    );
    let text = browser.text().await;
    assert!(
        text.contains(&format!("已忽略数据质量问题 {item}")) && !text.contains("BAD-1"),
        "{text}"
    );
    assert!(text.contains("没有待处理的数据质量问题"), "{text}");
    browser.check("monitoring-quality-dismissed").await;
    let dismissed = store.quality_item(item).await.unwrap();
    assert_eq!(dismissed.status, QualityStatus::Dismissed);
    assert_eq!(dismissed.note.as_deref(), Some("测试数据，无需更正"));
    // The dismissed list has it.
    browser.goto(&p.url("/monitoring/quality?status=dismissed")).await;
    assert!(browser.text().await.contains("BAD-1"));
    browser.check("monitoring-quality-dismissed-list").await;
    browser.close().await;
    p.server.stop();
}

#[tokio::test]
async fn an_operator_replays_a_dead_letter_item() {
    let p = Platform::new(&[("operator-1", &["operator@province"])]).await;
    let store = p.store().await;
    let item = dead_item(&store, GY_SYSTEM, "SC-DEAD-1").await;
    assert_eq!(
        outbox_state(&store, GY_SYSTEM, "SC-DEAD-1").await,
        (OutboxState::Dead, 1)
    );
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&p.url("/monitoring/exchange")).await;
    p.sign_in(&browser, "operator-1").await;
    assert_eq!(browser.path().await, "/monitoring/exchange");
    let text = browser.text().await;
    assert!(
        text.contains("SC-DEAD-1") && text.contains("HTTP 400 Bad Request"),
        "{text}"
    );
    browser.check("monitoring-exchange").await;
    browser.click(&format!("#replay-{item}")).await;
    assert_eq!(browser.path().await, "/monitoring/exchange?replayed=1");
    let text = browser.text().await;
    assert!(
        text.contains("已重放 1 条死信") && text.contains("没有死信"),
        "{text}"
    );
    browser.check("monitoring-exchange-replayed").await;
    // Pending again, its attempts reset, the replay audited under the operator.
    assert_eq!(
        outbox_state(&store, GY_SYSTEM, "SC-DEAD-1").await,
        (OutboxState::Pending, 0)
    );
    let trail = common::audit_trail(&store, &item.to_string()).await;
    assert!(
        trail
            .iter()
            .any(|(actor, action)| action == "exchange.replay" && actor.contains("operator-1")),
        "{trail:?}"
    );
    browser.close().await;
    p.server.stop();
}

#[tokio::test]
async fn a_regional_operator_sees_only_their_citys_monitoring() {
    let p = Platform::new(&[("gy-operator", &["operator@region:520100"])]).await;
    let store = p.store().await;
    let gy_item = quality_item(&store, GY_SYSTEM, "GY-BAD-1").await;
    let zy_item = quality_item(&store, ZY_SYSTEM, "ZY-BAD-1").await;
    dead_item(&store, GY_SYSTEM, "GY-DEAD-1").await;
    dead_item(&store, ZY_SYSTEM, "ZY-DEAD-1").await;
    // Corrections: Guiyang's past due (overdue), Zunyi's.
    let long_ago = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    for (item, reason) in [(gy_item, "贵阳的纠错事由"), (zy_item, "遵义的纠错事由")] {
        store
            .raise_correction(&Source::QualityItem(item), reason, long_ago, "test", Utc::now())
            .await
            .unwrap();
    }
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&p.url("/monitoring")).await;
    p.sign_in(&browser, "gy-operator").await;
    assert_eq!(browser.path().await, "/monitoring");
    let text = browser.text().await;
    assert!(
        text.contains("1 条待处理") && text.contains("1 条死信") && text.contains("1 件逾期"),
        "{text}"
    );
    browser.check("monitoring-regional").await;
    browser.goto(&p.url("/monitoring/quality")).await;
    let text = browser.text().await;
    assert!(text.contains("GY-BAD-1") && !text.contains("ZY-BAD-1"), "{text}");
    assert!(
        !text.contains(ZY_SYSTEM),
        "another city's system is offered: {text}"
    );
    browser.check("monitoring-quality-regional").await;
    browser
        .goto(&p.url(&format!("/monitoring/quality/{zy_item}")))
        .await;
    let text = browser.text().await;
    assert!(text.contains("未找到") && !text.contains("ZY-BAD-1"), "{text}");
    browser
        .check_answered("monitoring-quality-out-of-scope", 404)
        .await;
    browser.goto(&p.url("/monitoring/exchange")).await;
    let text = browser.text().await;
    assert!(
        text.contains("GY-DEAD-1") && !text.contains("ZY-DEAD-1"),
        "{text}"
    );
    browser.check("monitoring-exchange-regional").await;
    browser.goto(&p.url("/monitoring/corrections")).await;
    let text = browser.text().await;
    assert!(
        text.contains("贵阳的纠错事由") && !text.contains("遵义的纠错事由"),
        "{text}"
    );
    assert!(text.contains("2026-01-05") && text.contains("逾期"), "{text}");
    let overdue = browser
        .run("return document.querySelectorAll('tbody tr.bad').length;")
        .await;
    assert_eq!(overdue, json!(1), "the overdue request is not marked");
    browser.check("monitoring-corrections").await;
    // Reconciliations: none saved yet, then one for each city.
    browser.goto(&p.url("/monitoring/reconciliations")).await;
    assert!(browser.text().await.contains("还没有对账结果"));
    browser.check("monitoring-reconciliations-empty").await;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
    for system in [GY_SYSTEM, ZY_SYSTEM] {
        let report = ronghe::reconciliation::compare(
            system,
            day,
            &Default::default(),
            &Default::default(),
            Vec::new(),
        );
        store.save_reconciliation(&report, Utc::now()).await.unwrap();
    }
    browser.goto(&p.url("/monitoring/reconciliations")).await;
    let text = browser.text().await;
    assert!(
        text.contains("2026-12-05") && text.contains(GY_SYSTEM) && !text.contains(ZY_SYSTEM),
        "{text}"
    );
    browser.check("monitoring-reconciliations").await;
    browser.close().await;
    p.server.stop();
}

/// A monitoring form without the session's CSRF token is refused (403) and changes nothing; with
/// it, another city's item is refused too; the own city's is dismissed (303).
#[tokio::test]
async fn monitoring_forms_need_the_csrf_token_and_stay_in_scope() {
    let p = Platform::new(&[("gy-operator", &["operator@region:520100"])]).await;
    let store = p.store().await;
    let gy_item = quality_item(&store, GY_SYSTEM, "GY-BAD-1").await;
    let zy_item = quality_item(&store, ZY_SYSTEM, "ZY-BAD-1").await;
    let zy_dead = dead_item(&store, ZY_SYSTEM, "ZY-DEAD-1").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (jar, csrf) = p.signed_in(&client, "gy-operator").await;
    let post = |path: String, pairs: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        client
            .post(p.url(&path))
            .header("cookie", &jar)
            .header("content-type", FORM)
            .body(form(&pairs))
            .send()
    };
    let dismiss = format!("/monitoring/quality/{gy_item}/dismiss");
    // No token, and a wrong one: refused with a page, the item still open.
    for pairs in [
        vec![("reason", "测试".to_owned())],
        vec![("reason", "测试".to_owned()), ("csrf_token", "forged".to_owned())],
    ] {
        let refused = post(dismiss.clone(), pairs).await.unwrap();
        assert_eq!(refused.status(), 403);
        assert!(
            refused.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert_eq!(
            store.quality_item(gy_item).await.unwrap().status,
            QualityStatus::Open
        );
    }
    let refused = post(
        "/monitoring/exchange/replay".to_owned(),
        vec![("system", ZY_SYSTEM.to_owned())],
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 403);
    // With the token, another city's item and system: refused, unchanged.
    let other = post(
        format!("/monitoring/quality/{zy_item}/dismiss"),
        vec![("reason", "测试".to_owned()), ("csrf_token", csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(other.status(), 403);
    assert_eq!(
        store.quality_item(zy_item).await.unwrap().status,
        QualityStatus::Open
    );
    for pairs in [
        vec![("item", zy_dead.to_string()), ("csrf_token", csrf.clone())],
        vec![("system", ZY_SYSTEM.to_owned()), ("csrf_token", csrf.clone())],
    ] {
        let other = post("/monitoring/exchange/replay".to_owned(), pairs)
            .await
            .unwrap();
        assert_eq!(other.status(), 403);
    }
    assert_eq!(
        outbox_state(&store, ZY_SYSTEM, "ZY-DEAD-1").await,
        (OutboxState::Dead, 1)
    );
    // The own city's item, with the token: dismissed, and the answer sends the browser on.
    let done = post(
        dismiss,
        vec![("reason", "测试数据".to_owned()), ("csrf_token", csrf)],
    )
    .await
    .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(
        done.headers()["location"],
        format!("/monitoring/quality?dismissed={gy_item}").as_str()
    );
    assert_eq!(
        store.quality_item(gy_item).await.unwrap().status,
        QualityStatus::Dismissed
    );
    p.server.stop();
}

/// The API's dead-letter queue keeps to the caller's scope as the page does: a city's operator
/// lists only the city's dead items, and a replay of another city's item or system, or of every
/// system's, is refused (403) and changes nothing; the city's own item is replayed.
#[tokio::test]
async fn the_apis_dead_letter_queue_stays_in_the_callers_scope() {
    let p = Platform::new(&[]).await;
    let store = p.store().await;
    let gy_dead = dead_item(&store, GY_SYSTEM, "GY-DEAD-API").await;
    let zy_dead = dead_item(&store, ZY_SYSTEM, "ZY-DEAD-API").await;
    let (token, _) = common::enrolled(&store, "gy-api", &["operator@region:520100"]).await;
    let http = common::authed(&token);
    let listed = |query: String| {
        let request = http.get(p.url(&format!("/api/v1/exchange/dlq{query}")));
        async move {
            let items: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            items
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(String::new()).await, [gy_dead]);
    assert_eq!(listed(format!("?system={ZY_SYSTEM}")).await, Vec::<i64>::new());
    let replay = |body: serde_json::Value| http.post(p.url("/api/v1/exchange/dlq/replay")).json(&body).send();
    for body in [
        json!({ "ids": [zy_dead] }),
        json!({ "ids": [gy_dead, zy_dead] }),
        json!({ "all": true, "system": ZY_SYSTEM }),
        json!({ "all": true }),
    ] {
        let refused = replay(body.clone()).await.unwrap();
        assert_eq!(refused.status(), 403, "{body}");
    }
    assert_eq!(
        outbox_state(&store, ZY_SYSTEM, "ZY-DEAD-API").await,
        (OutboxState::Dead, 1)
    );
    assert_eq!(
        outbox_state(&store, GY_SYSTEM, "GY-DEAD-API").await,
        (OutboxState::Dead, 1)
    );
    let done = replay(json!({ "ids": [gy_dead] })).await.unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(
        outbox_state(&store, GY_SYSTEM, "GY-DEAD-API").await.0,
        OutboxState::Pending
    );
    p.server.stop();
}

/// 办件回访 (issue 21): an operator opens the month's sample, shows the applicant's phone for a
/// stated purpose (audited; the page after is masked again), records an outcome missing its
/// rating (refused on the form, nothing written), then a complete one with a finding, which
/// opens a correction request; another city's operator cannot open the visit.
#[tokio::test]
async fn an_operator_calls_a_sampled_applicant_and_records_the_outcome() {
    let p = Platform::new(&[
        ("op-gy", &["operator@region:520100"]),
        ("op-zy", &["operator@region:520300"]),
    ])
    .await;
    let store = p.store().await;
    let mut case = common::case("case_finished");
    case.case_no = "HF-2025-11-01".to_owned();
    store.upsert_cases(GY_SYSTEM, &[case]).await.unwrap();
    let month = ronghe::visits::Month::parse("2025-11").unwrap();
    let planned = ronghe::monitoring::plan_visits(&store, month, Some(GY_SYSTEM), 1, 7, "test")
        .await
        .unwrap();
    let id = planned[0].id;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&p.url("/monitoring/visits?month=2025-11")).await;
    p.sign_in(&browser, "op-gy").await;
    let text = browser.text().await;
    assert!(
        text.contains("HF-2025-11-01") && text.contains("待回访"),
        "{text}"
    );
    browser.check("visits").await;
    browser.click(&format!("a[href='/monitoring/visits/{id}']")).await;
    let masked = browser
        .run("return document.getElementById('phone').textContent;")
        .await;
    assert_eq!(masked, json!("138****5678"));
    browser.check("visit").await;

    browser.click("#reveal button[type=submit]").await;
    let clear = browser
        .run("return document.getElementById('phone').textContent;")
        .await;
    assert_eq!(clear, json!("13812345678"));
    let trail = common::audit_trail(&store, &format!("visit/{id}")).await;
    assert!(
        trail.contains(&("op-gy".to_owned(), "visit.reveal".to_owned())),
        "{trail:?}"
    );
    browser.check("visit-revealed").await;

    // Reached but no rating: refused on the form, what was typed kept.
    browser.run("document.getElementById('reached').value = 'yes'; document.getElementById('handled').value = 'no';").await;
    browser.fill("attempts", "2").await;
    browser.fill("note", "申请人称证照未寄达").await;
    browser.click("#outcome button[type=submit]").await;
    let text = browser.text().await;
    assert!(text.contains("satisfaction："), "{text}");
    let masked = browser
        .run("return document.getElementById('phone').textContent;")
        .await;
    assert_eq!(
        masked,
        json!("138****5678"),
        "the phone is shown for one page only"
    );
    browser.check_answered("visit-refused", 422).await;
    assert!(store.visit(id).await.unwrap().outcome.is_none());

    browser.run("document.getElementById('reached').value = 'yes'; document.getElementById('handled').value = 'no'; document.getElementById('satisfaction').value = 'dissatisfied';").await;
    browser.fill("finding", "证照未按记录寄出").await;
    browser.click("#outcome button[type=submit]").await;
    assert_eq!(
        browser.path().await,
        format!("/monitoring/visits?month=2025-11&recorded={id}")
    );
    assert!(browser.text().await.contains("已回访"));
    browser.check("visits-recorded").await;
    let visit = store.visit(id).await.unwrap();
    assert!(visit.correction_id.is_some(), "{visit:?}");
    browser.close().await;

    // Another city's operator: the visit is not theirs.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (jar, _) = p.signed_in(&client, "op-zy").await;
    let answer = client
        .get(p.url(&format!("/monitoring/visits/{id}")))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(answer.status().as_u16(), 403 | 404),
        "{}",
        answer.status()
    );
    p.server.stop();
}

//! The user bridge's behaviour on every backend: auto-linking by certificate number only and
//! its conflicts, tickets and their refusals (with an injected clock), link proofs, resolution
//! of departmental accounts, key rotation with re-keying, and the hardening of issue 24 (unlinks
//! that stick, proofs bound to their user, minimal and audited release, throttled credentials).

use std::collections::BTreeSet;

use base64::Engine as _;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use ronghe::bridge::{
    Bridge, BridgeError, LinkMethod, LinkRequest, NewAccount, NewIdentity, Redirect, Refusal, Resolution,
    SystemCredentials,
};
use ronghe::store::{AuditEvent, AuditFilter, AutoLink, ConflictReason, Store};
use ronghe_crypto::Cipher;

use crate::common;

/// Certificate numbers used below (valid GB 11643 check digits).
const ZHANG: &str = "11010519491231002X";
const LI: &str = "360426199101010071";
const WANG: &str = "52010219900101123X";

fn identity(user_id: &str, name: &str, number: &str, level: &str) -> NewIdentity {
    serde_json::from_value(common::identity(user_id, name, number, level)).expect("identity fixture")
}

fn account(id: &str, number: Option<&str>) -> NewAccount {
    serde_json::from_value(serde_json::json!({ "account_id": id, "certificate_no": number }))
        .expect("account")
}

fn credentials(system: &str) -> SystemCredentials {
    SystemCredentials {
        system_id: system.to_owned(),
        secret: common::SYSTEM_SECRET.to_owned(),
        source: Some(std::net::Ipv4Addr::new(10, 1, 2, 3).into()),
    }
}

/// The audit events of one action, oldest first.
async fn audited(store: &Store, action: &str) -> Vec<AuditEvent> {
    store
        .audit_events(&AuditFilter {
            action: Some(action.to_owned()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit events")
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// Registers `systems` with a bridge config each (minimum level `basic`).
async fn with_systems(store: &Store, systems: &[&str]) {
    for id in systems {
        store
            .insert_system(&common::system(id), "test")
            .await
            .expect("insert system");
        let config = common::bridge_config(
            "basic",
            "hmac-sha256",
            &format!("https://{id}.example.gov.cn/sso/"),
        );
        store
            .set_bridge_config(id, &config, "test")
            .await
            .expect("attach bridge config");
    }
}

fn keys_a() -> ronghe::bridge::BridgeKeysConfig {
    common::bridge_keys("k1", &[("k1", Cipher::Aes256Gcm)])
}

async fn linked(bridge: &Bridge, user: &str, system: &str, account_id: &str, number: &str) {
    bridge
        .import_accounts(system, vec![account(account_id, Some(number))], "test", now())
        .await
        .expect("import");
    let report = bridge
        .put_identity(identity(user, "张三", number, "basic"), "test", now())
        .await
        .expect("put identity");
    assert!(
        report
            .links
            .iter()
            .any(|l| matches!(l, AutoLink::Linked { system_id, .. } if system_id == system)),
        "{:?}",
        report.links
    );
}

pub async fn bridge_auto_links_by_certificate_only(store: Store) {
    with_systems(&store, &["sys-a", "sys-b"]).await;
    let bridge = common::bridge(&store, &keys_a());
    let t = now();
    bridge
        .import_accounts(
            "sys-a",
            vec![account("a-zhang", Some(ZHANG)), account("张三", None)],
            "test",
            t,
        )
        .await
        .unwrap();
    // Two accounts of one system carry the same number: a conflict, not a choice.
    bridge
        .import_accounts(
            "sys-b",
            vec![account("b-1", Some(ZHANG)), account("b-2", Some(ZHANG))],
            "test",
            t,
        )
        .await
        .unwrap();

    let report = bridge
        .put_identity(identity("u-zhang", "张三", ZHANG, "basic"), "test", t)
        .await
        .unwrap();
    assert_eq!(report.identity.certificate_no, "1101**********002X");
    assert_eq!(report.identity.name, "张*");
    assert!(
        matches!(&report.links[0], AutoLink::Linked { system_id, .. } if system_id == "sys-a"),
        "{:?}",
        report.links
    );
    assert_eq!(
        report.links[1],
        AutoLink::Conflict {
            system_id: "sys-b".into(),
            reason: ConflictReason::DuplicateCertificate
        }
    );
    // Same name, another number: linked nowhere (the account named 张三 carries no number).
    let other = bridge
        .put_identity(identity("u-zhang2", "张三", WANG, "basic"), "test", t)
        .await
        .unwrap();
    assert!(other.links.is_empty(), "{:?}", other.links);
    // Another user id with a number already held is refused.
    let taken = bridge
        .put_identity(identity("u-dup", "张三", ZHANG, "basic"), "test", t)
        .await
        .unwrap_err();
    assert!(
        matches!(
            taken,
            BridgeError::Store(ronghe::store::StoreError::AlreadyExists { .. })
        ),
        "{taken:?}"
    );

    let conflicts = bridge.report(None, "auditor", t).await.unwrap().conflicts;
    assert_eq!(conflicts.len(), 1);
    assert_eq!(
        (conflicts[0].system_id.as_str(), conflicts[0].user_id.as_str()),
        ("sys-b", "u-zhang")
    );
    assert_eq!(conflicts[0].account_ids, ["b-1", "b-2"]);

    // An administrator settles it.
    let request = LinkRequest {
        user_id: "u-zhang".into(),
        system_id: "sys-b".into(),
        proof: None,
        account_id: Some("b-2".into()),
        reason: Some("窗口核验身份证原件".into()),
    };
    let link = bridge.link(request, "admin", t).await.unwrap();
    assert_eq!(
        (link.method, link.account_id.as_str()),
        (LinkMethod::Administrator, "b-2")
    );
    assert!(
        bridge
            .report(None, "auditor", t)
            .await
            .unwrap()
            .conflicts
            .is_empty()
    );

    // Identity first, account later: the import links it.
    bridge
        .put_identity(identity("u-li", "李四", LI, "advanced"), "test", t)
        .await
        .unwrap();
    let import = bridge
        .import_accounts("sys-a", vec![account("a-li", Some(LI))], "test", t)
        .await
        .unwrap();
    assert_eq!(import.links.len(), 1);
    assert_eq!(import.links[0].user_id, "u-li");
    // An account already linked to someone else is a conflict too.
    let request = LinkRequest {
        user_id: "u-zhang2".into(),
        system_id: "sys-b".into(),
        proof: None,
        account_id: Some("b-wang".into()),
        reason: Some("申请人现场确认".into()),
    };
    bridge.link(request, "admin", t).await.unwrap();
    bridge
        .import_accounts("sys-b", vec![account("b-wang", Some(LI))], "test", t)
        .await
        .unwrap();
    let again = bridge
        .put_identity(identity("u-li", "李四", LI, "advanced"), "test", t)
        .await
        .unwrap();
    assert!(
        again.links.contains(&AutoLink::Conflict {
            system_id: "sys-b".into(),
            reason: ConflictReason::AccountLinkedElsewhere
        }),
        "{:?}",
        again.links
    );

    let links = bridge
        .links(Some("u-zhang"), None, false, "auditor", t)
        .await
        .unwrap();
    assert_eq!(links.len(), 2);
    let revoked = bridge
        .unlink("u-zhang", "sys-a", "用户申请解除", "u-zhang", t)
        .await
        .unwrap();
    assert_eq!(revoked.revoked_by.as_deref(), Some("u-zhang"));
    assert_eq!(
        bridge
            .links(Some("u-zhang"), None, false, "auditor", t)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        bridge
            .links(Some("u-zhang"), None, true, "auditor", t)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// The claims of a ticket, decoded without verifying.
fn claims(ticket: &str) -> serde_json::Value {
    let part = ticket.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

fn refusal(result: Result<ronghe::bridge::Redemption, BridgeError>) -> Refusal {
    match result {
        Err(BridgeError::Ticket(refusal)) => refusal,
        other => panic!("expected a refused ticket, got {other:?}"),
    }
}

pub async fn bridge_tickets_single_use_bound_and_short_lived(store: Store) {
    with_systems(&store, &["sys-a", "sys-b"]).await;
    let bridge = common::bridge(&store, &keys_a());
    linked(&bridge, "u-zhang", "sys-a", "a-zhang", ZHANG).await;
    let t0 = now();
    let default = Redirect::default();
    let issue = |at: DateTime<Utc>| bridge.issue("u-zhang", "sys-a", &default, "platform", at);

    let ticket = issue(t0).await.unwrap();
    assert_eq!(ticket.expires_at, t0 + Duration::seconds(60));
    let redirect = ticket.redirect_url.clone().expect("a callback is configured");
    assert!(
        redirect.starts_with("https://sys-a.example.gov.cn/sso/?ticket="),
        "{redirect}"
    );
    // Nothing personal in the ticket: random ids, the system, times and the level. The ID
    // number's fragments are long enough that a random hex id does not hold one by chance (a
    // four-digit "1101" did, once in about a thousand runs).
    let c = claims(&ticket.ticket);
    let keys: BTreeSet<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["jti", "aud", "sub", "iat", "exp", "lvl"]));
    for secret in [ZHANG, "11010519", "1231002X", "张三", "a-zhang", "u-zhang"] {
        assert!(
            !ticket.ticket.contains(secret) && !c.to_string().contains(secret),
            "{secret} in {c}"
        );
    }

    let redeemed = bridge
        .redeem(&credentials("sys-a"), &ticket.ticket, t0 + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(redeemed.account_id, "a-zhang");
    // No legal basis in the config: name and number released masked (issue 24).
    assert_eq!(redeemed.attributes["userName"], "张*");
    assert_eq!(redeemed.attributes["idNo"], "1101**********002X");
    assert_eq!(redeemed.attributes["userType"], "1");

    let mut codes = BTreeSet::new();
    let mut check = |refused: Refusal, expected: Refusal| {
        assert_eq!(refused, expected);
        codes.insert(refused.code());
    };
    // Replayed.
    check(
        refusal(
            bridge
                .redeem(&credentials("sys-a"), &ticket.ticket, t0 + Duration::seconds(2))
                .await,
        ),
        Refusal::Replayed,
    );
    // Expired: at its expiry second, by the injected clock.
    let late = issue(t0).await.unwrap();
    check(
        refusal(
            bridge
                .redeem(&credentials("sys-a"), &late.ticket, t0 + Duration::seconds(60))
                .await,
        ),
        Refusal::Expired,
    );
    // Wrong system: refused, and not used up for the right one.
    let mut bound = issue(t0).await.unwrap();
    bridge
        .import_accounts("sys-b", vec![account("b-zhang", Some(ZHANG))], "test", t0)
        .await
        .unwrap();
    check(
        refusal(bridge.redeem(&credentials("sys-b"), &bound.ticket, t0).await),
        Refusal::WrongSystem,
    );
    assert!(
        bridge
            .redeem(&credentials("sys-a"), &bound.ticket, t0)
            .await
            .is_ok()
    );
    // Tampered: a claim changed, or another ticket's signature.
    bound = issue(t0).await.unwrap();
    let mut parts: Vec<String> = bound.ticket.split('.').map(str::to_owned).collect();
    let mut forged = claims(&bound.ticket);
    forged["exp"] = serde_json::json!(forged["exp"].as_i64().unwrap() + 3600);
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged.to_string());
    check(
        refusal(bridge.redeem(&credentials("sys-a"), &parts.join("."), t0).await),
        Refusal::Tampered,
    );
    check(
        refusal(bridge.redeem(&credentials("sys-a"), "not-a-ticket", t0).await),
        Refusal::Malformed("ticket"),
    );
    // Another algorithm than the system's (`hmac-sha256`, HS256): a genuine ticket whose header
    // is relabelled is refused before any key is tried, and not used up (issue 18).
    let relabelled = issue(t0).await.unwrap();
    for alg in ["EdDSA", "HSM3", "none"] {
        let mut parts: Vec<String> = relabelled.ticket.split('.').map(str::to_owned).collect();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut header: serde_json::Value = serde_json::from_slice(&b64.decode(&parts[0]).unwrap()).unwrap();
        header["alg"] = alg.into();
        parts[0] = b64.encode(header.to_string());
        check(
            refusal(bridge.redeem(&credentials("sys-a"), &parts.join("."), t0).await),
            Refusal::WrongAlgorithm,
        );
    }
    assert!(
        bridge
            .redeem(&credentials("sys-a"), &relabelled.ticket, t0)
            .await
            .is_ok()
    );
    // Below level: the system's minimum is basic; the user is downgraded after the ticket.
    let ticket = issue(t0).await.unwrap();
    bridge
        .put_identity(identity("u-zhang", "张三", ZHANG, "unverified"), "test", t0)
        .await
        .unwrap();
    check(
        refusal(bridge.redeem(&credentials("sys-a"), &ticket.ticket, t0).await),
        Refusal::LevelTooLow,
    );
    let not_issued = issue(t0).await.unwrap_err();
    assert!(
        matches!(not_issued, BridgeError::LevelTooLow { .. }),
        "{not_issued:?}"
    );
    // Revoked link.
    bridge
        .put_identity(identity("u-zhang", "张三", ZHANG, "advanced"), "test", t0)
        .await
        .unwrap();
    let ticket = issue(t0).await.unwrap();
    bridge
        .unlink("u-zhang", "sys-a", "用户申请解除", "u-zhang", t0)
        .await
        .unwrap();
    check(
        refusal(bridge.redeem(&credentials("sys-a"), &ticket.ticket, t0).await),
        Refusal::LinkRevoked,
    );
    assert_eq!(codes.len(), 8, "every refusal has its own code: {codes:?}");

    // The system's credentials: a wrong secret or an unknown system look the same.
    let wrong = SystemCredentials {
        secret: "guess".into(),
        ..credentials("sys-a")
    };
    assert!(matches!(
        bridge.redeem(&wrong, &ticket.ticket, t0).await,
        Err(BridgeError::Unauthorized)
    ));
    assert!(matches!(
        bridge.redeem(&credentials("nope"), &ticket.ticket, t0).await,
        Err(BridgeError::Unauthorized)
    ));
    // Callbacks that are not a registered one exactly are refused, and the refusal audited.
    let redirect = Redirect {
        callback: Some("https://evil.example.com/sso/"),
        state: None,
    };
    let refused = bridge.issue("u-zhang", "sys-b", &redirect, "platform", t0).await;
    assert!(
        matches!(refused, Err(BridgeError::CallbackNotAllowed(_))),
        "{refused:?}"
    );
    // A registered callback with the department's state: echoed before the ticket.
    let redirect = Redirect {
        callback: Some("https://sys-b.example.gov.cn/sso/"),
        state: Some("s-9f2&x=1"),
    };
    let issued = bridge
        .issue("u-zhang", "sys-b", &redirect, "platform", t0)
        .await
        .unwrap();
    let url = issued.redirect_url.unwrap();
    assert!(
        url.starts_with("https://sys-b.example.gov.cn/sso/?state=s-9f2%26x%3D1&ticket="),
        "{url}"
    );
    let refusals = audited(&store, "bridge.ticket.refused_issue").await;
    let codes: Vec<&str> = refusals
        .iter()
        .map(|e| e.detail["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["level_too_low", "callback_not_allowed"], "{refusals:?}");
    assert_eq!(refusals[1].detail["user_id"], "u-zhang");
}

/// Issue 24: an unlink is a decision the auto-linker respects. Refreshing the identity or
/// importing the accounts again does not link the pair; a proof or an administrator does.
pub async fn bridge_unlink_sticks(store: Store) {
    with_systems(&store, &["sys-a"]).await;
    let bridge = common::bridge(&store, &keys_a());
    linked(&bridge, "u-zhang", "sys-a", "a-zhang", ZHANG).await;
    let t = now();
    bridge
        .unlink("u-zhang", "sys-a", "用户申请解除", "u-zhang", t)
        .await
        .unwrap();
    let unlinked = AutoLink::Unlinked {
        system_id: "sys-a".into(),
    };
    let refreshed = bridge
        .put_identity(identity("u-zhang", "张三", ZHANG, "advanced"), "real-name", t)
        .await
        .unwrap();
    assert_eq!(refreshed.links, std::slice::from_ref(&unlinked));
    let imported = bridge
        .import_accounts("sys-a", vec![account("a-zhang", Some(ZHANG))], "test", t)
        .await
        .unwrap();
    assert_eq!(
        imported.links.iter().map(|l| &l.outcome).collect::<Vec<_>>(),
        [&unlinked]
    );
    assert!(
        bridge
            .links(Some("u-zhang"), Some("sys-a"), false, "auditor", t)
            .await
            .unwrap()
            .is_empty()
    );
    let refused = bridge
        .issue("u-zhang", "sys-a", &Redirect::default(), "platform", t)
        .await
        .unwrap_err();
    assert!(matches!(refused, BridgeError::NotLinked { .. }), "{refused:?}");
    // The user's new proof links again.
    let proof = bridge
        .prove(&credentials("sys-a"), "u-zhang", "a-zhang", t)
        .await
        .unwrap();
    let request = LinkRequest {
        user_id: "u-zhang".into(),
        system_id: "sys-a".into(),
        proof: Some(proof.proof),
        account_id: None,
        reason: None,
    };
    let link = bridge.link(request, "u-zhang", t).await.unwrap();
    assert_eq!(link.method, LinkMethod::LegacyLogin);
    assert!(
        bridge
            .issue("u-zhang", "sys-a", &Redirect::default(), "platform", t)
            .await
            .is_ok()
    );
}

/// Issue 24: what a redemption releases is minimal unless the config states a legal basis, and
/// every release is audited with the attributes released.
pub async fn bridge_release_is_minimal_and_audited(store: Store) {
    with_systems(&store, &["sys-a", "sys-b"]).await;
    let config = format!(
        "legal_basis = \"《政务服务条例》第二十五条\"\n{}",
        common::bridge_config("basic", "hmac-sha256", "https://sys-b.example.gov.cn/sso/")
    );
    store.set_bridge_config("sys-b", &config, "test").await.unwrap();
    let bridge = common::bridge(&store, &keys_a());
    linked(&bridge, "u-zhang", "sys-a", "a-zhang", ZHANG).await;
    let t = now();
    bridge
        .import_accounts("sys-b", vec![account("b-zhang", Some(ZHANG))], "test", t)
        .await
        .unwrap();
    let mut released = Vec::new();
    for system in ["sys-a", "sys-b"] {
        let ticket = bridge
            .issue("u-zhang", system, &Redirect::default(), "platform", t)
            .await
            .unwrap();
        released.push(
            bridge
                .redeem(&credentials(system), &ticket.ticket, t)
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        (
            released[0].attributes["userName"].as_str(),
            released[0].attributes["idNo"].as_str()
        ),
        ("张*", "1101**********002X")
    );
    assert_eq!(
        (
            released[1].attributes["userName"].as_str(),
            released[1].attributes["idNo"].as_str()
        ),
        ("张三", ZHANG)
    );
    let events = audited(&store, "bridge.ticket.released").await;
    assert_eq!(events.len(), 2, "{events:?}");
    let forms = |event: &AuditEvent| -> Vec<String> {
        event.detail["released"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}={}:{}",
                    r["field"].as_str().unwrap(),
                    r["source"].as_str().unwrap(),
                    r["form"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        forms(&events[0]),
        [
            "account_id=account_id:full",
            "userName=name:masked",
            "idNo=certificate_no:masked",
            "userType=kind:full"
        ]
    );
    assert_eq!(
        forms(&events[1])[1..3],
        ["userName=name:full", "idNo=certificate_no:full"]
    );
    assert_eq!(events[1].target, "sys-b");
    assert_eq!(events[1].detail["user_id"], "u-zhang");
    assert_eq!(events[1].detail["legal_basis"], "《政务服务条例》第二十五条");
    assert_eq!(events[0].detail["legal_basis"], serde_json::Value::Null);
    // The audit holds what was released, never the values.
    for event in &events {
        let text = event.detail.to_string();
        assert!(!text.contains(ZHANG) && !text.contains("张三"), "{text}");
    }
}

/// Issue 24: failed system credentials are throttled per system and address, before the
/// credentials are checked, and audited in aggregate.
pub async fn bridge_failed_credentials_are_throttled(store: Store) {
    with_systems(&store, &["sys-a"]).await;
    let bridge = common::bridge(&store, &keys_a());
    let t = now();
    let wrong = SystemCredentials {
        secret: "guess".into(),
        ..credentials("sys-a")
    };
    let limit = ronghe::bridge::CREDENTIAL_FAILURE_LIMIT;
    for i in 0..limit {
        let refused = bridge.redeem(&wrong, "x", t + Duration::seconds(i.into())).await;
        assert!(
            matches!(refused, Err(BridgeError::Unauthorized)),
            "{i}: {refused:?}"
        );
    }
    // Throttled now, even with the right secret: a correct guess looks the same.
    for secret in ["guess", common::SYSTEM_SECRET] {
        let attempt = SystemCredentials {
            secret: secret.into(),
            ..credentials("sys-a")
        };
        let throttled = bridge.redeem(&attempt, "x", t + Duration::seconds(20)).await;
        assert!(
            matches!(throttled, Err(BridgeError::Throttled { until }) if until == t + Duration::seconds(300)),
            "{throttled:?}"
        );
        assert!(matches!(
            bridge
                .prove(&attempt, "u-zhang", "a", t + Duration::seconds(20))
                .await,
            Err(BridgeError::Throttled { .. })
        ));
    }
    // Another address is not throttled.
    let elsewhere = SystemCredentials {
        source: Some(std::net::Ipv4Addr::new(10, 9, 9, 9).into()),
        ..credentials("sys-a")
    };
    assert!(matches!(
        bridge.redeem(&elsewhere, "x", t + Duration::seconds(20)).await,
        Err(BridgeError::Ticket(Refusal::Malformed(_)))
    ));
    // In aggregate: the first failure and the start of throttling, not one row per attempt.
    let refused = audited(&store, "bridge.credentials.refused").await;
    let throttled = audited(&store, "bridge.credentials.throttled").await;
    assert_eq!(
        (refused.len(), throttled.len()),
        (1, 1),
        "{refused:?} {throttled:?}"
    );
    assert_eq!(refused[0].detail["source"], "10.1.2.3");
    assert_eq!(refused[0].target, "sys-a");
    assert_eq!(throttled[0].detail["failures"], limit);
    // After the window: open again, and the window's totals audited once.
    let later = t + Duration::seconds(300);
    let ticket = bridge
        .redeem(&credentials("sys-a"), "x", later)
        .await
        .unwrap_err();
    assert!(
        matches!(ticket, BridgeError::Ticket(Refusal::Malformed(_))),
        "{ticket:?}"
    );
    let window = audited(&store, "bridge.credentials.window").await;
    assert_eq!(window.len(), 1, "{window:?}");
    assert_eq!(window[0].detail["failures"], limit);
    assert_eq!(window[0].detail["refused_unchecked"], 4);
    // Unknown system ids from one address share one counter.
    for i in 0..limit {
        let made_up = SystemCredentials {
            system_id: format!("nope-{i}"),
            ..credentials("sys-a")
        };
        assert!(matches!(
            bridge.redeem(&made_up, "x", later).await,
            Err(BridgeError::Unauthorized)
        ));
    }
    let made_up = SystemCredentials {
        system_id: "nope-x".into(),
        ..credentials("sys-a")
    };
    assert!(matches!(
        bridge.redeem(&made_up, "x", later).await,
        Err(BridgeError::Throttled { .. })
    ));
}

pub async fn bridge_link_proofs(store: Store) {
    with_systems(&store, &["sys-a"]).await;
    let bridge = common::bridge(&store, &keys_a());
    let t0 = now();
    bridge
        .put_identity(identity("u-li", "李四", LI, "basic"), "test", t0)
        .await
        .unwrap();
    bridge
        .put_identity(identity("u-wang", "王五", WANG, "basic"), "test", t0)
        .await
        .unwrap();
    // The user logged in to sys-a as "li-legacy" (no certificate on that account), on behalf of
    // platform user u-li.
    let proof = bridge
        .prove(&credentials("sys-a"), "u-li", "li-legacy", t0)
        .await
        .unwrap();
    let request_for = |user: &str, proof: &str| LinkRequest {
        user_id: user.into(),
        system_id: "sys-a".into(),
        proof: Some(proof.to_owned()),
        account_id: None,
        reason: None,
    };
    let request = |proof: &str| request_for("u-li", proof);
    // Issue 24: whoever holds the proof cannot link another platform user with it.
    let stolen = bridge
        .link(request_for("u-wang", &proof.proof), "u-wang", t0)
        .await
        .unwrap_err();
    assert!(
        matches!(stolen, BridgeError::Proof(Refusal::WrongUser)),
        "{stolen:?}"
    );
    // A link refused because the user is linked in the system already leaves the proof unused.
    let admin = LinkRequest {
        proof: None,
        account_id: Some("li-other".into()),
        reason: Some("窗口核验原件".into()),
        ..request("")
    };
    bridge.link(admin, "admin", t0).await.unwrap();
    let taken = bridge.link(request(&proof.proof), "u-li", t0).await.unwrap_err();
    assert!(
        matches!(
            taken,
            BridgeError::Store(ronghe::store::StoreError::AlreadyExists { .. })
        ),
        "{taken:?}"
    );
    bridge
        .unlink("u-li", "sys-a", "关联错误", "admin", t0)
        .await
        .unwrap();
    let link = bridge.link(request(&proof.proof), "u-li", t0).await.unwrap();
    assert_eq!(
        (link.method, link.account_id.as_str()),
        (LinkMethod::LegacyLogin, "li-legacy")
    );
    let replay = bridge.link(request(&proof.proof), "u-li", t0).await.unwrap_err();
    assert!(
        matches!(replay, BridgeError::Proof(Refusal::Replayed)),
        "{replay:?}"
    );
    let late = bridge
        .prove(&credentials("sys-a"), "u-li", "other", t0)
        .await
        .unwrap();
    let expired = bridge
        .link(request(&late.proof), "u-li", t0 + Duration::seconds(301))
        .await
        .unwrap_err();
    assert!(
        matches!(expired, BridgeError::Proof(Refusal::Expired)),
        "{expired:?}"
    );
    let neither = LinkRequest {
        proof: None,
        ..request("")
    };
    assert!(matches!(
        bridge.link(neither, "u-li", t0).await,
        Err(BridgeError::Invalid(_))
    ));
}

pub async fn bridge_resolution_reports_unknown_accounts(store: Store) {
    with_systems(&store, &["sys-a"]).await;
    let bridge = common::bridge(&store, &keys_a());
    linked(&bridge, "u-zhang", "sys-a", "a-zhang", ZHANG).await;
    let t = now();
    let resolved = bridge
        .resolve("sys-a", "a-zhang", "SC-1", "writeback:sys-a")
        .await
        .unwrap();
    assert!(
        matches!(resolved, Resolution::Linked { ref user_id, .. } if user_id == "u-zhang"),
        "{resolved:?}"
    );
    // Unknown accounts are recorded and reported, never guessed; an ID-number login is masked.
    for case in ["SC-2", "SC-3"] {
        assert_eq!(
            bridge
                .resolve("sys-a", WANG, case, "writeback:sys-a")
                .await
                .unwrap(),
            Resolution::Unknown
        );
    }
    let report = bridge.report(Some("sys-a"), "auditor", t).await.unwrap();
    assert_eq!(report.unresolved.len(), 1);
    let u = &report.unresolved[0];
    assert_eq!(
        (u.account_id.as_str(), u.occurrences, u.last_context.as_deref()),
        ("5201**********123X", 2, Some("SC-3"))
    );
    bridge
        .put_identity(identity("u-wang", "王五", WANG, "basic"), "test", t)
        .await
        .unwrap();
    let request = LinkRequest {
        user_id: "u-wang".into(),
        system_id: "sys-a".into(),
        proof: None,
        account_id: Some(WANG.into()),
        reason: Some("回传办件核实".into()),
    };
    bridge.link(request, "admin", t).await.unwrap();
    assert!(matches!(
        bridge
            .resolve("sys-a", WANG, "SC-4", "writeback:sys-a")
            .await
            .unwrap(),
        Resolution::Linked { .. }
    ));
    assert!(
        bridge
            .report(None, "auditor", t)
            .await
            .unwrap()
            .unresolved
            .is_empty()
    );
}

pub async fn bridge_key_rotation(store: Store) {
    with_systems(&store, &["sys-a"]).await;
    let old = common::bridge(&store, &keys_a());
    linked(&old, "u-zhang", "sys-a", "a-zhang", ZHANG).await;
    old.put_identity(identity("u-li", "李四", LI, "basic"), "test", now())
        .await
        .unwrap();

    // Rotate: a new active key (SM4), the old one kept to open what it sealed.
    let rotated_keys = common::bridge_keys("k2", &[("k1", Cipher::Aes256Gcm), ("k2", Cipher::Sm4Gcm)]);
    let rotated = common::bridge(&store, &rotated_keys);
    let t = now();
    let resolved = rotated
        .resolve("sys-a", "a-zhang", "SC-1", "writeback")
        .await
        .unwrap();
    assert!(
        matches!(resolved, Resolution::Linked { ref user_id, .. } if user_id == "u-zhang"),
        "{resolved:?}"
    );
    // Released in full (a legal basis), so the number shows it opened under the old key.
    let config = format!(
        "legal_basis = \"《政务服务条例》第二十五条\"\n{}",
        common::bridge_config("basic", "hmac-sha256", "https://sys-a.example.gov.cn/sso/")
    );
    store.set_bridge_config("sys-a", &config, "test").await.unwrap();
    let ticket = rotated
        .issue("u-zhang", "sys-a", &Redirect::default(), "platform", t)
        .await
        .unwrap();
    assert_eq!(
        rotated
            .redeem(&credentials("sys-a"), &ticket.ticket, t)
            .await
            .unwrap()
            .attributes["idNo"],
        ZHANG
    );
    // An account imported under the new key finds the identity indexed under the old one.
    let import = rotated
        .import_accounts("sys-a", vec![account("a-li", Some(LI))], "test", t)
        .await
        .unwrap();
    assert_eq!(import.links.len(), 1, "{:?}", import.links);

    // Re-key, then retire the old key: everything still opens and resolves.
    let (identities, accounts) = rotated.rekey("admin").await.unwrap();
    assert_eq!(
        (identities, accounts),
        (2, 1),
        "identities and accounts sealed under k1"
    );
    assert_eq!(rotated.rekey("admin").await.unwrap(), (0, 0));
    let new_only = common::bridge(&store, &common::bridge_keys("k2", &[("k2", Cipher::Sm4Gcm)]));
    assert!(matches!(
        new_only
            .resolve("sys-a", "a-zhang", "SC-2", "writeback")
            .await
            .unwrap(),
        Resolution::Linked { .. }
    ));
    assert_eq!(
        new_only.identity("u-li", "auditor").await.unwrap().certificate_no,
        "3604**********0071"
    );
    let ticket = new_only
        .issue("u-zhang", "sys-a", &Redirect::default(), "platform", t)
        .await
        .unwrap();
    assert_eq!(
        new_only
            .redeem(&credentials("sys-a"), &ticket.ticket, t)
            .await
            .unwrap()
            .account_id,
        "a-zhang"
    );
}

//! The user bridge's behaviour on every backend: auto-linking by certificate number only and
//! its conflicts, tickets and their refusals (with an injected clock), link proofs, resolution
//! of departmental accounts, and key rotation with re-keying.

use std::collections::BTreeSet;

use base64::Engine as _;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use ronghe::bridge::{
    Bridge, BridgeError, LinkMethod, LinkRequest, NewAccount, NewIdentity, Refusal, Resolution,
    SystemCredentials,
};
use ronghe::store::{AutoLink, ConflictReason, Store};
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
    }
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
    let issue = |at: DateTime<Utc>| bridge.issue("u-zhang", "sys-a", None, "platform", at);

    let ticket = issue(t0).await.unwrap();
    assert_eq!(ticket.expires_at, t0 + Duration::seconds(60));
    let redirect = ticket.redirect_url.clone().expect("a callback is configured");
    assert!(
        redirect.starts_with("https://sys-a.example.gov.cn/sso/?ticket="),
        "{redirect}"
    );
    // Nothing personal in the ticket: random ids, the system, times and the level.
    let c = claims(&ticket.ticket);
    let keys: BTreeSet<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["jti", "aud", "sub", "iat", "exp", "lvl"]));
    for secret in [ZHANG, "1101", "002X", "张三", "a-zhang", "u-zhang"] {
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
    assert_eq!(redeemed.attributes["userName"], "张三");
    assert_eq!(redeemed.attributes["idNo"], ZHANG);
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
    // Callbacks outside the allow-list are refused.
    let refused = bridge
        .issue(
            "u-zhang",
            "sys-b",
            Some("https://evil.example.com/sso/"),
            "platform",
            t0,
        )
        .await;
    assert!(
        matches!(refused, Err(BridgeError::CallbackNotAllowed(_))),
        "{refused:?}"
    );
}

pub async fn bridge_link_proofs(store: Store) {
    with_systems(&store, &["sys-a"]).await;
    let bridge = common::bridge(&store, &keys_a());
    let t0 = now();
    bridge
        .put_identity(identity("u-li", "李四", LI, "basic"), "test", t0)
        .await
        .unwrap();
    // The user logged in to sys-a as "li-legacy" (no certificate on that account).
    let proof = bridge
        .prove(&credentials("sys-a"), "li-legacy", t0)
        .await
        .unwrap();
    let request = |proof: &str| LinkRequest {
        user_id: "u-li".into(),
        system_id: "sys-a".into(),
        proof: Some(proof.to_owned()),
        account_id: None,
        reason: None,
    };
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
    let late = bridge.prove(&credentials("sys-a"), "other", t0).await.unwrap();
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
    let ticket = rotated
        .issue("u-zhang", "sys-a", None, "platform", t)
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
        .issue("u-zhang", "sys-a", None, "platform", t)
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

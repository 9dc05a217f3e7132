//! `ronghe bridge …` through the real binary on its own SQLite file: config check and attach,
//! identities and accounts with auto-linking and a reported conflict, explicit links, tickets
//! issued and redeemed (once), unlinking, a key rotation with re-key, and names and numbers
//! never shown in clear.

mod common;

use common::binary::Sandbox;

/// Certificate numbers (valid GB 11643 check digits) and names of the people below.
const ZHANG: &str = "11010519491231002X";
const LI: &str = "360426199101010071";

/// Writes the node config with these keys (`file:` secrets in the sandbox) as `name`.
fn node_config(sandbox: &Sandbox, name: &str, active: &str, ids: &[&str]) -> String {
    let mut text = format!("[bridge]\nactive_key = \"{active}\"\n");
    for id in ids {
        let key = sandbox.write(&format!("{id}.key"), common::key_secret(id));
        let cipher = if *id == "k2" { "sm4-gcm" } else { "aes-256-gcm" };
        text.push_str(&format!(
            "[[bridge.keys]]\nid = \"{id}\"\nsecret = \"file:{key}\"\ncipher = \"{cipher}\"\n"
        ));
    }
    sandbox.write(name, text)
}

#[test]
fn bridge_commands_from_link_to_rotation() {
    let sandbox = Sandbox::new();
    let config = node_config(&sandbox, "ronghe.toml", "k1", &["k1"]);
    let with = |args: &[&str]| {
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        sandbox.run(&all)
    };
    sandbox.add_system("sim-rest", "http://127.0.0.1:9/api");

    let secret = sandbox.write("system.secret", common::SYSTEM_SECRET);
    let good = common::bridge_config("basic", "hmac-sm3", "https://scjg.example.gov.cn/sso/")
        .replace("env:SYSTEM_SECRET", &format!("file:{secret}"));
    let good = sandbox.write("bridge.toml", good);
    let bad = sandbox.write("bad.toml", "minimum_level = \"gold\"\n");
    sandbox
        .run(&["bridge", "check", &bad])
        .check(1, &["无效 invalid", "minimum_level: unknown variant `gold`"]);
    sandbox.run(&["bridge", "check", &good]).check(
        0,
        &[
            "有效 valid",
            "注意 warning",
            "name (userName), certificate_no (idNo) masked",
        ],
    );
    sandbox
        .run(&["bridge", "attach", "sim-rest", &good])
        .check(0, &["已绑定 attached"]);
    sandbox
        .run(&["bridge", "links"])
        .check(1, &[])
        .stderr_has(&["no [bridge] keys"]);

    let accounts = format!(
        "{{\"account_id\":\"zhang\",\"certificate_no\":\"{ZHANG}\"}}\n{{\"account_id\":\"li\",\"certificate_no\":\"{LI}\"}}\n{{\"account_id\":\"li-2\",\"certificate_no\":\"{LI}\"}}\n"
    );
    let accounts = sandbox.write("accounts.jsonl", accounts);
    with(&["bridge", "accounts", "sim-rest", &accounts]).check(0, &["已导入 imported: 3 account(s)"]);
    let identities = [
        common::identity("pu-zhang", "张三丰", ZHANG, "advanced").to_string(),
        common::identity("pu-li", "李四光", LI, "basic").to_string(),
        common::identity("pu-bad", "王五", "110105194912310021", "basic").to_string(),
    ]
    .join("\n");
    let identities = sandbox.write("identities.jsonl", identities);
    let mut run = with(&["bridge", "identities", &identities]).check(
        1,
        &[
            "已记录 recorded pu-zhang (张*丰, 1101**********002X",
            "已关联 linked to sim-rest",
            "冲突 conflict in sim-rest: duplicate_certificate",
            "第3行 line 3: 拒绝 refused",
        ],
    );
    for secret in [ZHANG, LI, "张三丰", "李四光", "110105194912310021"] {
        run = run.never_shows(secret);
    }
    // Refreshing an identity changes nothing about its links.
    let zhang_only = sandbox.write(
        "zhang.jsonl",
        common::identity("pu-zhang", "张三丰", ZHANG, "advanced").to_string(),
    );
    with(&["bridge", "identities", &zhang_only]).check(0, &["已有关联 already linked in sim-rest"]);
    // No case has been written back for this user yet; an unknown user is refused.
    let cases = with(&["--json", "bridge", "cases", "pu-zhang"])
        .check(0, &[])
        .json();
    assert_eq!(cases, serde_json::json!([]));
    with(&["bridge", "cases", "pu-nobody"])
        .check(1, &[])
        .stderr_has(&["pu-nobody"]);

    with(&["bridge", "report"]).check(
        0,
        &[
            "冲突 conflicts: 1",
            "sim-rest pu-li: li, li-2 [duplicate_certificate]",
        ],
    );
    with(&[
        "bridge",
        "link",
        "pu-li",
        "sim-rest",
        "li-2",
        "--reason",
        "窗口核验原件",
    ])
    .check(0, &["已关联 linked", "管理员关联 administrator"]);
    with(&["bridge", "report"]).check(0, &["冲突 conflicts: 0"]);
    with(&["bridge", "links", "--user", "pu-zhang"]).check(0, &["zhang", "证件号码匹配 certificate"]);

    let issued = with(&["--json", "bridge", "issue", "pu-zhang", "sim-rest"])
        .check(0, &[])
        .json();
    let ticket = issued["ticket"].as_str().unwrap().to_owned();
    assert!(
        issued["redirect_url"]
            .as_str()
            .unwrap()
            .starts_with("https://scjg.example.gov.cn/sso/?ticket=")
    );
    with(&["bridge", "redeem", "sim-rest", &ticket])
        .check(0, &["已兑换 redeemed: account zhang", "idNo, userName, userType"])
        .never_shows(ZHANG);
    with(&["bridge", "redeem", "sim-rest", &ticket])
        .check(1, &[])
        .stderr_has(&["ticket_replayed"]);
    with(&[
        "bridge",
        "issue",
        "pu-zhang",
        "sim-rest",
        "--callback",
        "https://evil.example.com/",
    ])
    .check(1, &[])
    .stderr_has(&["registered callback_urls exactly"]);
    let with_state = with(&[
        "--json",
        "bridge",
        "issue",
        "pu-zhang",
        "sim-rest",
        "--callback",
        "https://scjg.example.gov.cn/sso/",
        "--state",
        "st-1",
    ])
    .check(0, &[])
    .json();
    assert!(
        with_state["redirect_url"]
            .as_str()
            .unwrap()
            .starts_with("https://scjg.example.gov.cn/sso/?state=st-1&ticket="),
        "{with_state}"
    );

    with(&[
        "bridge",
        "unlink",
        "pu-zhang",
        "sim-rest",
        "--reason",
        "用户申请解除",
    ])
    .check(0, &["已解除 unlinked"]);
    with(&["bridge", "issue", "pu-zhang", "sim-rest"])
        .check(1, &[])
        .stderr_has(&["not linked"]);
    // The unlink sticks: the identity refreshed does not link the pair again (issue 24).
    with(&["bridge", "identities", &zhang_only])
        .check(0, &["曾解除关联,不再自动关联 unlinked before in sim-rest"]);
    with(&["bridge", "issue", "pu-zhang", "sim-rest"])
        .check(1, &[])
        .stderr_has(&["not linked"]);
    with(&["bridge", "links", "--user", "pu-zhang", "--history"]).check(0, &["zhang"]);

    // Rotation: a new active key; old links still resolve, then everything is re-sealed.
    let rotated = node_config(&sandbox, "rotated.toml", "k2", &["k1", "k2"]);
    let run_rotated = |args: &[&str]| {
        let mut all = vec!["--config", rotated.as_str()];
        all.extend_from_slice(args);
        sandbox.run(&all)
    };
    run_rotated(&["bridge", "links", "--user", "pu-li"]).check(0, &["li-2"]);
    run_rotated(&["bridge", "rekey"]).check(0, &["re-sealed: 2 identities, 3 accounts"]);
    let new_only = node_config(&sandbox, "new-only.toml", "k2", &["k2"]);
    let ticket = sandbox
        .run(&[
            "--config", &new_only, "--json", "bridge", "issue", "pu-li", "sim-rest",
        ])
        .check(0, &[])
        .json()["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    sandbox
        .run(&["--config", &new_only, "bridge", "redeem", "sim-rest", &ticket])
        .check(0, &["account li-2"]);
}

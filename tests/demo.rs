//! `ronghe demo`, the README's main command, through the real binary: the whole journey on the
//! embedded default — simulators, registration, assessment into the three modes, generation,
//! each mode run (pull, an online application handed off, SOAP write-back, bulk migration), and
//! every case delivered to the simulated exchange — then it stops (`--exit`).

mod common;

use common::binary::{Run, run_ronghe};

/// The number after `label` on the line that holds it.
fn figure(run: &Run, label: &str) -> usize {
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no line with {label:?} in\n{}", run.stdout));
    let after = &line[line.find(label).map_or(0, |i| i + label.len())..];
    let digits: String = after
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no figure after {label:?} in {line:?}"))
}

#[test]
fn the_demo_runs_the_whole_journey_and_replaces_only_its_own_directory() {
    let sandbox = tempfile::tempdir().unwrap();
    let demo = |dir: &str| {
        run_ronghe(
            sandbox.path(),
            &[
                "demo",
                "--exit",
                "--listen",
                "127.0.0.1:0",
                "--cases",
                "60",
                "--dir",
                dir,
            ],
            None,
        )
    };
    let run = demo("demo").check(
        0,
        &[
            "结论 verdict: 前端迁移 front_end_migration — sim-rest",
            "结论 verdict: 兼容过渡 compatible_transition — sim-soap",
            "结论 verdict: 全流程迁移 full_migration — sim-sql",
            "$ ronghe generate sim-sql",
            "已导入 imported plan of sim-sql",
            "已拉取 pulled sim-rest: read 60, accepted 60, duplicate 0, rejected 0",
            "202 Accepted 已受理",
            "已推送 delivered to sim-rest after 1 attempt(s)",
            "待投递 backlog: 0",
            "死信 dead: 0",
            "对账 reconciliation: 原系统 legacy",
            "无差异 clean",
            "抽查样本 sample (seed 2025)",
            "complete · 读取 read 60 · 写入 written 60 · 拒收 rejected 0",
            "对账无差异 reconciliation clean",
            "reconcile 20",
            "reconciled 3",
            "网页控制台 the web console: http://localhost:",
        ],
    );
    let pushed = figure(&run, "sim-soap 回传 wrote back");
    assert!(pushed > 0, "{}", run.stdout);
    let delivered = figure(&run, "已投递 delivered:");
    assert_eq!(
        delivered,
        60 + pushed + 60,
        "pulled, written-back and migrated cases all delivered"
    );
    assert_eq!(figure(&run, "the exchange simulator holds"), delivered);
    for file in [
        "ronghe.toml",
        "mappings/sim-sql.toml",
        "migration-plans/sim-sql.toml",
        "integration/sim-soap/writeback.toml",
    ] {
        assert!(sandbox.path().join("demo").join(file).is_file(), "{file}");
    }
    let dir = sandbox.path().join("demo");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("ronghe.db")
        {
            files.extend(std::fs::read(&path).unwrap());
        }
    }
    no_certificate_or_phone_in(&dir, &files, "the SQLite store's files");

    // Again: the previous demo's directory is replaced, and the journey runs the same.
    demo("demo").check(
        0,
        &["已拉取 pulled sim-rest: read 60, accepted 60", "死信 dead: 0"],
    );

    // A directory that is not a demo's is refused and left as it was.
    let mine = sandbox.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("keep.txt"), "mine").unwrap();
    demo("mine")
        .check(1, &[])
        .stderr_has(&["mine", "is not a ronghe demo directory", "--dir"]);
    assert_eq!(std::fs::read_to_string(mine.join("keep.txt")).unwrap(), "mine");
}

/// Issue 20: the store's files hold no applicant's certificate number or phone in clear. The
/// values are read through the store with the demo node's keys (so they are the real ones), then
/// looked for in `dump` (the raw bytes of the store); the case numbers, stored in clear, are found
/// there, so the scan does see what the store holds.
fn no_certificate_or_phone_in(dir: &std::path::Path, dump: &[u8], what: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = ronghe::config::Config::load(Some(&dir.join("ronghe.toml")), |_| None).unwrap();
    let cases = runtime.block_on(async {
        let (store, keys) = config.open_store(&Default::default()).await.unwrap();
        assert!(keys.is_some(), "the demo node has keys");
        let mut cases = Vec::new();
        for system in ["sim-rest", "sim-soap", "sim-sql"] {
            cases.extend(store.recent_cases(system, 100_000).await.unwrap());
        }
        store.close().await;
        cases
    });
    assert!(cases.len() >= 40, "the demo's cases: {}", cases.len());
    let holds = |value: &str| dump.windows(value.len()).any(|w| w == value.as_bytes());
    let mut phones = 0;
    for record in &cases {
        let (case_no, applicant) = (&record.case.case_no, &record.case.applicant);
        assert!(
            !applicant.certificate_no.contains('*'),
            "read in clear through the keys"
        );
        assert!(
            holds(case_no),
            "{what} do not show case number {case_no}: the scan sees nothing"
        );
        assert!(
            !holds(&applicant.certificate_no),
            "{what} hold the certificate number of case {case_no}"
        );
        for phone in applicant.phone.iter() {
            phones += 1;
            assert!(!holds(phone), "{what} hold the phone of case {case_no}");
        }
    }
    assert!(phones > 0, "the demo's cases carry phones");
}

/// Issue 20 on PostgreSQL: the demo run on an empty PostgreSQL database, then a `pg_dump` of it
/// holds no applicant's certificate number or phone.
#[cfg(feature = "postgres-tests")]
#[test]
fn a_pg_dump_after_the_demo_holds_no_certificate_number_or_phone() {
    let url = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(common::fresh_pg_url());
    let sandbox = tempfile::tempdir().unwrap();
    let args = [
        "--database",
        &url,
        "demo",
        "--exit",
        "--listen",
        "127.0.0.1:0",
        "--cases",
        "20",
        "--dir",
        "demo",
    ];
    run_ronghe(sandbox.path(), &args, None).check(0, &["死信 dead: 0"]);
    let dump = std::process::Command::new(common::pg_dump())
        .args(["--data-only", "--dbname", &url])
        .output()
        .expect("run pg_dump");
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    no_certificate_or_phone_in(&sandbox.path().join("demo"), &dump.stdout, "the pg_dump");
}

//! End-to-end tests of the `ronghe` binary: every command is run as a real process against its own
//! temporary directory and SQLite file, and judged by its exit code and what it prints.

mod common;

use common::binary::{Run, Sandbox, run_ronghe};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Check characters, computed independently of the crate
// ---------------------------------------------------------------------------------------------

/// Appends the GB 11643 check character to 17 digits.
fn resident_id(first_17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    assert_eq!(first_17.len(), 17, "{first_17}");
    let sum: u32 = first_17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).expect("17 digits") * w)
        .sum();
    let check = char::from(b"10X98765432"[(sum % 11) as usize]);
    format!("{first_17}{check}")
}

/// Appends the GB 32100 check character to 17 characters of the code alphabet.
fn uscc(first_17: &str) -> String {
    const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [usize; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
    assert_eq!(first_17.len(), 17, "{first_17}");
    let sum: usize = first_17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| ALPHABET.find(c).expect("a character of the code alphabet") * w)
        .sum();
    let check = ALPHABET.as_bytes()[(31 - sum % 31) % 31];
    format!("{first_17}{}", char::from(check))
}

#[test]
fn check_character_helpers_match_published_examples() {
    // GB 11643's own example and python-stdnum's documented ones.
    assert_eq!(resident_id("11010519491231002"), "11010519491231002X");
    assert_eq!(resident_id("36042619910101007"), "360426199101010071");
    assert_eq!(uscc("91110000600037341"), "91110000600037341L");
    assert_eq!(uscc("91520000214434146"), "91520000214434146R");
    // Worked by hand: 1128 mod 31 = 12, 31 - 12 = 19, alphabet[19] = K.
    assert_eq!(uscc("Y1520100MJ0000001"), "Y1520100MJ0000001K");
}

// ---------------------------------------------------------------------------------------------
// ronghe validate
// ---------------------------------------------------------------------------------------------

/// One `validate` question: the answer and rules expected (the violated rule when invalid, the
/// warnings' rules when valid) and text the human output must contain.
struct Validation<'a> {
    kind: &'a str,
    value: String,
    valid: bool,
    rules: &'a [&'a str],
    human: &'a [&'a str],
}

fn check_validation(sandbox: &Sandbox, case: &Validation<'_>) {
    let code = if case.valid { 0 } else { 1 };
    let what = format!("validate {} {:?}", case.kind, case.value);
    let human = sandbox
        .run(&["validate", case.kind, &case.value])
        .check(code, case.human);
    let machine = sandbox
        .run(&["--json", "validate", case.kind, &case.value])
        .check(code, &[]);
    let json = machine.json();
    assert_eq!(json["valid"], json!(case.valid), "{what}: {machine}");
    let rules: Vec<&str> = if case.valid {
        assert!(json.get("rule").is_none(), "{what}: {machine}");
        json["warnings"]
            .as_array()
            .map(|w| w.iter().map(|w| w["rule"].as_str().unwrap_or("?")).collect())
            .unwrap_or_default()
    } else {
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {machine}"
        );
        vec![json["rule"].as_str().unwrap_or("?")]
    };
    assert_eq!(rules, case.rules, "{what}: {machine}");
    if !case.valid {
        // The human output names the rule too.
        assert!(human.stdout.contains(case.rules[0]), "{what}: {human}");
    }
    if case.kind == "id" {
        // A resident ID number is personal data: never echoed in full, in any form.
        let trimmed = case.value.trim();
        for run in [human, machine] {
            run.never_shows(trimmed)
                .never_shows(&trimmed.to_uppercase())
                .check(code, &[&format!("{}**********", &trimmed[..4])]);
        }
    }
}

#[test]
fn validate_identifiers() {
    let sandbox = Sandbox::new();
    let valid_id = resident_id("52010219900101123");
    assert!(valid_id.ends_with('X'), "{valid_id}");
    let wrong_check = format!("{}0", &valid_id[..17]);
    let letters_uscc = uscc("Y1520100MJ0000001");
    let cases = [
        Validation {
            kind: "id",
            value: valid_id.clone(),
            valid: true,
            rules: &[],
            human: &[
                "有效 valid",
                "5201**********123X",
                "贵州省 贵阳市 南明区",
                "1990-01-01",
                "男 male",
            ],
        },
        Validation {
            kind: "id",
            value: valid_id.to_lowercase(),
            valid: true,
            rules: &[],
            human: &["有效 valid", "5201**********123X"],
        },
        Validation {
            kind: "id",
            value: wrong_check,
            valid: false,
            rules: &["resident_id.check_digit"],
            human: &["无效 invalid", "5201**********1230", "should be X"],
        },
        // 遵义县 (522121) became 播州区 in 2016; numbers issued there keep the old code.
        Validation {
            kind: "id",
            value: resident_id("52212119800101002"),
            valid: true,
            rules: &["resident_id.region_unknown"],
            human: &[
                "有效 valid",
                "522121",
                "不在现行区划中",
                "警告 warning",
                "女 female",
            ],
        },
        Validation {
            kind: "id",
            value: resident_id("52010220990101123"),
            valid: false,
            rules: &["resident_id.birth_in_future"],
            human: &["无效 invalid", "2099-01-01"],
        },
        Validation {
            kind: "id",
            value: resident_id("99010219900101123"),
            valid: false,
            rules: &["resident_id.province"],
            human: &["无效 invalid"],
        },
        Validation {
            kind: "id",
            value: "5201021990010112345".into(),
            valid: false,
            rules: &["resident_id.length"],
            human: &["无效 invalid", "got 19"],
        },
        Validation {
            kind: "uscc",
            value: "91520000214434146R".into(),
            valid: true,
            rules: &[],
            human: &["有效 valid", "91520000214434146R", "520000 贵州省"],
        },
        Validation {
            kind: "uscc",
            value: letters_uscc.clone(),
            valid: true,
            rules: &[],
            human: &[
                &letters_uscc,
                "registration department: Y",
                "organisation type: 1",
                "520100 贵州省 贵阳市",
            ],
        },
        Validation {
            kind: "uscc",
            value: uscc("N2520102MF5678901"),
            valid: true,
            rules: &[],
            human: &["registration department: N", "贵州省 贵阳市 南明区"],
        },
        Validation {
            kind: "uscc",
            value: format!("{}A", &letters_uscc[..17]),
            valid: false,
            rules: &["uscc.check_character"],
            human: &["无效 invalid", "should be K"],
        },
        Validation {
            kind: "division",
            value: "520102".into(),
            valid: true,
            rules: &[],
            human: &["有效 valid: 520102 贵州省 贵阳市 南明区"],
        },
        Validation {
            kind: "division",
            value: "520102016".into(),
            valid: true,
            rules: &[],
            human: &["有效 valid: 520102016 贵州省 贵阳市 南明区 新华路街道"],
        },
        Validation {
            kind: "division",
            value: "529999".into(),
            valid: false,
            rules: &["division.unknown"],
            human: &["无效 invalid: 529999"],
        },
        Validation {
            kind: "division",
            value: "520102999".into(),
            valid: false,
            rules: &["division.unknown"],
            human: &["520102 南明区"],
        },
        Validation {
            kind: "division",
            value: "52010".into(),
            valid: false,
            rules: &["division.format"],
            human: &["无效 invalid"],
        },
    ];
    for case in &cases {
        check_validation(&sandbox, case);
    }
    // I, O, Z, S and V are not in the GB 32100 alphabet, wherever they stand.
    for letter in ['I', 'O', 'Z', 'S', 'V'] {
        check_validation(
            &sandbox,
            &Validation {
                kind: "uscc",
                value: format!("915200002{letter}4434146R"),
                valid: false,
                rules: &["uscc.charset"],
                human: &["无效 invalid", &format!("character 10 is '{letter}'")],
            },
        );
    }
}

#[test]
fn validate_json_describes_the_value() {
    let sandbox = Sandbox::new();
    let json = sandbox
        .run(&["--json", "validate", "id", &resident_id("52010219900101123")])
        .check(0, &[])
        .json();
    assert_eq!(
        json,
        json!({
            "kind": "resident_id", "valid": true, "value": "5201**********123X", "region": "520102",
            "birth_date": "1990-01-01", "sex": "male", "warnings": []
        })
    );
    let json = sandbox
        .run(&["--json", "validate", "division", "520102016"])
        .check(0, &[])
        .json();
    assert_eq!(json["name"], "新华路街道");
    assert_eq!(json["level"], "township");
    assert_eq!(json["path"], json!(["贵州省", "贵阳市", "南明区", "新华路街道"]));
    let json = sandbox
        .run(&["--json", "validate", "uscc", &uscc("Y1520100MJ0000001")])
        .check(0, &[])
        .json();
    assert_eq!(json["registration_department"], "Y");
    assert_eq!(json["region"], "520100");
}

// ---------------------------------------------------------------------------------------------
// ronghe calendar
// ---------------------------------------------------------------------------------------------

#[test]
fn calendar_answers() {
    let sandbox = Sandbox::new();
    // Checked against data/cn-workdays.toml and against chinese-calendar 1.11.0 (PyPI):
    // is_workday, find_workday(1, day) and len(get_workdays(a + 1 day, b)).
    let cases: &[(&[&str], &str)] = &[
        (&["is-workday", "2025-10-01"], "false"), // National Day
        (&["is-workday", "2025-10-11"], "true"),  // make-up Saturday
        (&["is-workday", "2025-10-10"], "true"),  // an ordinary Friday
        (&["is-workday", "2025-10-12"], "false"), // an ordinary Sunday
        (&["add-days", "2025-09-30", "1"], "2025-10-09"),
        (&["add-days", "2026-02-13", "1"], "2026-02-14"), // make-up Saturday before Spring Festival
        (&["add-days", "2026-02-14", "1"], "2026-02-24"),
        (&["add-days", "2025-09-30", "0"], "2025-09-30"),
        (&["between", "2025-09-30", "2025-10-10"], "2"),
        (&["between", "2025-10-10", "2025-09-30"], "-2"),
        (&["between", "2025-10-10", "2025-10-10"], "0"),
    ];
    for (args, answer) in cases {
        let mut all = vec!["calendar"];
        all.extend_from_slice(args);
        let run = sandbox.run(&all).check(0, &[]);
        assert_eq!(run.stdout, format!("{answer}\n"), "{run}");
    }
    let json = sandbox
        .run(&["--json", "calendar", "between", "2025-09-30", "2025-10-10"])
        .check(0, &[])
        .json();
    assert_eq!(
        json,
        json!({ "from": "2025-09-30", "to": "2025-10-10", "working_days": 2 })
    );
    let json = sandbox
        .run(&["--json", "calendar", "is-workday", "2025-10-11"])
        .check(0, &[])
        .json();
    assert_eq!(json, json!({ "date": "2025-10-11", "working_day": true }));
}

#[test]
fn calendar_refuses_unknown_years_and_bad_dates() {
    let sandbox = Sandbox::new();
    // Exit 1, naming the year that has no data.
    let refused: &[(&[&str], &str)] = &[
        (&["is-workday", "2030-01-01"], "year 2030"),
        (&["add-days", "2026-12-30", "5"], "year 2027"),
        (&["between", "2026-12-30", "2027-01-05"], "year 2027"),
        (&["between", "2003-12-30", "2004-01-05"], "year 2003"),
    ];
    for (args, year) in refused {
        let mut all = vec!["calendar"];
        all.extend_from_slice(args);
        let run = sandbox.run(&all).check(1, &[]).stderr_has(&[year]);
        assert_eq!(run.stdout, "", "{run}");
        all.insert(0, "--json");
        let run = sandbox.run(&all).check(1, &[]);
        let message = run.json()["error"]["message"].as_str().unwrap_or("").to_owned();
        assert!(message.contains(year), "{run}");
    }
    // Exit 2: clap rejects the arguments before anything runs.
    let usage: &[&[&str]] = &[
        &["is-workday", "2025-13-01"],
        &["is-workday", "2025/10/01"],
        &["add-days", "1 October", "1"],
        &["between", "2025-10-01"],
        &["add-days", "2025-10-01", "-1"],
    ];
    for args in usage {
        let mut all = vec!["calendar"];
        all.extend_from_slice(args);
        let run = sandbox.run(&all).check(2, &[]);
        assert_eq!(run.stdout, "", "{run}");
        assert!(run.stderr.contains("error:"), "{run}");
    }
    sandbox
        .run(&["calendar", "is-workday", "2025-02-30"])
        .check(2, &[])
        .stderr_has(&["YYYY-MM-DD"]);
}

/// Issue 7: a channel change announced too late is refused with the earliest allowed date.
#[test]
fn notices_from_the_command_line() {
    let sandbox = Sandbox::new();
    let (config, calendar) = sandbox.plain_calendar_config("");
    let earliest = calendar.add_working_days(ronghe::calendar::today(), 3).unwrap();
    sandbox
        .run(&common::binary::add_system_args("gy-scjg", "http://10.0.0.5/api"))
        .check(0, &[]);
    let add = |effective: chrono::NaiveDate| {
        sandbox.run(&[
            "--config",
            &config,
            "notices",
            "add",
            "gy-scjg",
            "--kind",
            "channel_change",
            "--title",
            "停止窗口纸质申请",
            "--effective",
            &effective.to_string(),
        ])
    };
    add(earliest.pred_opt().unwrap()).check(1, &[]).stderr_has(&[
        "第十六条",
        &earliest.to_string(),
        "notice_period",
    ]);
    add(earliest).check(0, &["已发布 published notice 1", "申请渠道调整或终止"]);
    sandbox
        .run(&[
            "--config",
            &config,
            "notices",
            "add",
            "gy-scjg",
            "--kind",
            "outage",
            "--title",
            "x",
            "--effective",
            "2026-12-31",
        ])
        .check(2, &[])
        .stderr_has(&["channel_change"]);
    sandbox
        .run(&["notices", "list", "--system", "gy-scjg"])
        .check(0, &["停止窗口纸质申请", &earliest.to_string()]);
}

/// A plan file for `system` starting today: a → (b, c) → d.
fn plan_file(system: &str, b_days: u32) -> String {
    format!(
        r#"[plan]
system = "{system}"
mode = "compatible_transition"
start = "{today}"
owner = "张经理"

[[milestones]]
id = "a"
phase = "映射"
name = "映射配置评审通过"
owner = "接入工程师"
duration_working_days = 3

[[milestones]]
id = "b"
phase = "互认"
name = "用户互认对接"
owner = "接入工程师"
duration_working_days = {b_days}
depends_on = ["a"]

[[milestones]]
id = "c"
phase = "回传"
name = "办件回传联调"
owner = "接入工程师"
duration_working_days = 2
depends_on = ["a"]

[[milestones]]
id = "d"
phase = "试点"
name = "试点运行"
owner = "业务处室"
duration_working_days = 0
depends_on = ["b", "c"]
gate = "回传对账连续 10 个工作日无差异"
"#,
        today = ronghe::calendar::today()
    )
}

/// Issue 7: a project manager imports a plan, baselines it, records progress, sees a slip turn
/// the plan red with the reason, and gets the critical path, the Gantt chart and the report.
#[test]
fn plans_from_the_command_line() {
    let sandbox = Sandbox::new();
    let (config, _) = sandbox.plain_calendar_config("");
    let plans = |args: &[&str]| sandbox.run_configured(&config, &[&["plans"], args].concat());
    sandbox
        .run(&common::binary::add_system_args("gy-scjg", "http://10.0.0.5/api"))
        .check(0, &[]);
    let file = sandbox.write("plan.toml", plan_file("gy-scjg", 5));
    plans(&["import", &file]).check(0, &["已导入 imported plan of gy-scjg: 4 milestones"]);
    plans(&["show", "gy-scjg"]).check(0, &["未基线", "★ a", "★ b", "★ d"]);
    // Issue 14: a baseline's approval is a person's act: a project manager's token, in scope.
    let baseline = |token: Option<&str>| {
        let mut args = vec!["baseline", "gy-scjg", "--approved-by", "李主任"];
        if let Some(token) = token {
            args.splice(0..0, ["--token", token]);
        }
        plans(&args)
    };
    baseline(None).check(2, &[]).stderr_has(&["--token"]);
    let elsewhere = sandbox.token_with("pm-zunyi", &["project_manager@region:520300"]);
    baseline(Some(&elsewhere))
        .check(1, &[])
        .stderr_has(&["outside the scope"]);
    let engineer = sandbox.token_with("eng-gy", &["engineer@region:520100"]);
    baseline(Some(&engineer))
        .check(1, &[])
        .stderr_has(&["project_manager"]);
    let pm = sandbox.token_with("pm-gy", &["project_manager@region:520100"]);
    baseline(Some(&pm)).check(0, &["v1"]);
    baseline(Some(&pm)).check(1, &[]).stderr_has(&["reason"]);
    let today = ronghe::calendar::today().to_string();
    plans(&["update", "gy-scjg", "a", "--started", &today]).check(0, &["绿 正常"]);
    plans(&["update", "gy-scjg", "a", "--finished", "2020-01-01"])
        .check(1, &[])
        .stderr_has(&["finishes after it starts"]);
    plans(&["update", "gy-scjg", "zz", "--started", &today])
        .check(1, &[])
        .stderr_has(&["no such milestone", "a, b, c, d"]);
    // The bridge takes 12 working days instead of 5: 7 days late on the critical path.
    let longer = sandbox.write("plan.toml", plan_file("gy-scjg", 12));
    plans(&["import", &longer]).check(0, &[]);
    plans(&["show", "gy-scjg"]).check(0, &["红 滞后", "偏差 7 个工作日", "受前置里程碑 b 滞后影响"]);
    plans(&["list"]).check(0, &["gy-scjg", "红 滞后"]);
    plans(&["critical-path", "gy-scjg"]).check(0, &["用户互认对接", "试点运行"]);
    let svg = sandbox.path("gantt.svg").display().to_string();
    plans(&["gantt", "gy-scjg", "--out", &svg]).check(0, &[]);
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.starts_with("<svg") && chart.ends_with("</svg>"), "{chart}");
    assert!(
        chart.contains("class=\"weekend\"") && chart.contains("class=\"today\""),
        "{chart}"
    );
    assert_eq!(chart.matches("class=\"baseline\"").count(), 4);
    plans(&["report", "gy-scjg"]).check(
        0,
        &[
            "# gy-scjg 迁移计划状态",
            "关键路径 critical path: a → b → d",
            "<svg",
        ],
    );
    plans(&["report", "gy-scjg", "--format", "html"]).check(0, &["<!DOCTYPE html>", "class=\"red\""]);
    plans(&["show", "nowhere"]).check(1, &[]).stderr_has(&["nowhere"]);
    let other = sandbox.write("other.toml", plan_file("nowhere", 5));
    plans(&["import", &other]).check(1, &[]).stderr_has(&["nowhere"]);
}

#[test]
fn calendar_override_adds_a_year() {
    let sandbox = Sandbox::new();
    // A made-up 2027 (2027-01-01 is a Friday, 2027-01-09 a Saturday).
    let year = sandbox.write(
        "workdays-2027.toml",
        "[years.2027]\nholidays = [\"2027-01-01\", \"2027-01-02\", \"2027-01-03\"]\nmakeup_workdays = [\"2027-01-09\"]\n",
    );
    let config = sandbox.write(
        "ronghe.toml",
        format!("calendar_override = {}\n", Value::from(year.as_str())),
    );
    let cases: &[(&[&str], &str)] = &[
        (&["is-workday", "2027-01-01"], "false"),
        (&["is-workday", "2027-01-04"], "true"),
        (&["is-workday", "2027-01-09"], "true"),
        (&["is-workday", "2027-01-10"], "false"),
        (&["add-days", "2026-12-31", "1"], "2027-01-04"),
        (&["between", "2026-12-30", "2027-01-10"], "7"),
        // The embedded years are still there.
        (&["is-workday", "2025-10-11"], "true"),
    ];
    for (args, answer) in cases {
        let mut all = vec!["--config", config.as_str(), "calendar"];
        all.extend_from_slice(args);
        let run = sandbox.run(&all).check(0, &[]);
        assert_eq!(run.stdout, format!("{answer}\n"), "{run}");
    }
    // Without the override 2027 is unknown.
    sandbox
        .run(&["calendar", "is-workday", "2027-01-01"])
        .check(1, &[])
        .stderr_has(&["year 2027"]);
    // An override that is not valid data is refused with its problem.
    let bad_year = sandbox.write(
        "bad-2027.toml",
        "[years.2027]\nholidays = []\nmakeup_workdays = [\"2027-01-04\"]\n",
    );
    let bad_config = sandbox.write(
        "bad.toml",
        format!("calendar_override = {}\n", Value::from(bad_year.as_str())),
    );
    sandbox
        .run(&["--config", &bad_config, "calendar", "is-workday", "2027-01-04"])
        .check(3, &[])
        .stderr_has(&["2027-01-04", "not a Saturday or Sunday"]);
}

// ---------------------------------------------------------------------------------------------
// ronghe systems
// ---------------------------------------------------------------------------------------------

const SYSTEM_ID: &str = "gy-scjg-xk";

/// `systems add` arguments for a valid REST system.
fn add_args(id: &str) -> Vec<&str> {
    let mut args = common::binary::add_system_args(id, "http://127.0.0.1:9001/api");
    args.extend(["--credentials-ref", "env:GY_KEY"]);
    args
}

#[test]
fn systems_lifecycle() {
    let sandbox = Sandbox::new();
    sandbox.run(&["systems", "list"]).check(0, &["(无 none)"]);
    sandbox.run(&add_args(SYSTEM_ID)).check(
        0,
        &[
            "已登记 registered: gy-scjg-xk",
            "520100 贵州省 贵阳市",
            "http://127.0.0.1:9001/api",
            "env:GY_KEY",
            "已登记 registered",
        ],
    );
    assert!(sandbox.path("ronghe.db").exists(), "the store file is created");

    sandbox.run(&["systems", "list"]).check(
        0,
        &[
            "gy-scjg-xk",
            "市场监管许可系统",
            "贵阳市市场监督管理局",
            "520100",
            "rest",
            "已登记 registered",
        ],
    );
    let listed = sandbox.run(&["--json", "systems", "list"]).check(0, &[]).json();
    let systems = listed.as_array().expect("a JSON array");
    assert_eq!(systems.len(), 1, "{listed}");
    let system = &systems[0];
    for (field, value) in [
        ("id", json!(SYSTEM_ID)),
        ("name", json!("市场监管许可系统")),
        ("department", json!("贵阳市市场监督管理局")),
        ("region_code", json!("520100")),
        ("protocol", json!("rest")),
        ("endpoint", json!("http://127.0.0.1:9001/api")),
        ("credentials_ref", json!("env:GY_KEY")),
        ("secret", json!(false)),
        ("status", json!("registered")),
    ] {
        assert_eq!(system[field], value, "{field} in {listed}");
    }

    sandbox
        .run(&["systems", "show", SYSTEM_ID])
        .check(0, &["市场监管许可系统", "env:GY_KEY", "已登记 registered"]);
    let shown = sandbox
        .run(&["--json", "systems", "show", SYSTEM_ID])
        .check(0, &[])
        .json();
    assert_eq!(&shown, system);

    // registered → live skips steps: refused, naming the field, and nothing changes.
    sandbox
        .run(&["systems", "update", SYSTEM_ID, "--status", "live"])
        .check(1, &[])
        .stderr_has(&["status", "cannot move from registered to live"]);
    let run = sandbox
        .run(&["--json", "systems", "update", SYSTEM_ID, "--status", "live"])
        .check(1, &[]);
    let message = run.json()["error"]["message"].as_str().unwrap_or("").to_owned();
    assert!(message.contains("status: cannot move"), "{run}");
    sandbox
        .run(&["systems", "show", SYSTEM_ID])
        .check(0, &["已登记 registered"]);

    sandbox
        .run(&["systems", "update", SYSTEM_ID, "--status", "assessed"])
        .check(0, &["已修改 updated: gy-scjg-xk", "已评估 assessed"]);
    let shown = sandbox
        .run(&["--json", "systems", "show", SYSTEM_ID])
        .check(0, &[])
        .json();
    assert_eq!(shown["status"], "assessed");
    assert_eq!(shown["created_at"], system["created_at"]);
    sandbox
        .run(&["systems", "list", "--status", "assessed"])
        .check(0, &["gy-scjg-xk"]);
    sandbox
        .run(&["systems", "list", "--status", "live"])
        .check(0, &["(无 none)"]);
    sandbox
        .run(&["systems", "list", "--status", "bogus"])
        .check(1, &[])
        .stderr_has(&["unknown status \"bogus\""]);

    // A second registration under the same id is refused and changes nothing.
    sandbox
        .run(&add_args(SYSTEM_ID))
        .check(1, &[])
        .stderr_has(&["\"gy-scjg-xk\" already exists"]);
    sandbox
        .run(&["systems", "show", SYSTEM_ID])
        .check(0, &["已评估 assessed"]);

    // Retirement needs a reason and is final.
    sandbox
        .run(&["systems", "retire", SYSTEM_ID])
        .check(2, &[])
        .stderr_has(&["--reason"]);
    sandbox
        .run(&[
            "systems",
            "retire",
            SYSTEM_ID,
            "--reason",
            "replaced by the provincial platform",
        ])
        .check(0, &["已停用 retired: gy-scjg-xk"]);
    sandbox
        .run(&["systems", "show", SYSTEM_ID])
        .check(0, &["已停用 retired"]);
    let shown = sandbox
        .run(&["--json", "systems", "show", SYSTEM_ID])
        .check(0, &[])
        .json();
    assert_eq!(shown["status"], "retired");
    sandbox
        .run(&["systems", "retire", SYSTEM_ID, "--reason", "again"])
        .check(1, &[])
        .stderr_has(&["already retired"]);
    sandbox
        .run(&["systems", "update", SYSTEM_ID, "--name", "新名称"])
        .check(1, &[])
        .stderr_has(&["retired"]);
    sandbox
        .run(&["systems", "list", "--status", "retired"])
        .check(0, &["gy-scjg-xk", "已停用 retired"]);

    for args in [
        &["systems", "show", "nope"][..],
        &["systems", "update", "nope", "--status", "assessed"],
        &["systems", "retire", "nope", "--reason", "gone"],
    ] {
        sandbox
            .run(args)
            .check(1, &[])
            .stderr_has(&["system \"nope\" not found"]);
    }
    let run = sandbox.run(&["--json", "systems", "show", "nope"]).check(1, &[]);
    assert_eq!(
        run.json(),
        json!({ "error": { "message": "system \"nope\" not found" } })
    );
}

#[test]
fn systems_add_reports_every_problem_at_once() {
    let sandbox = Sandbox::new();
    let args = [
        "systems",
        "add",
        "--id",
        "Bad Id",
        "--name",
        "x",
        "--department",
        "y",
        "--region",
        "529999",
        "--protocol",
        "rest",
        "--endpoint",
        "http://admin:s3cret-pw@127.0.0.1:9001/api",
        "--credentials-ref",
        "hunter2",
    ];
    let expected = [
        "id: use 2-63 lower-case letters",
        "region_code: division code 529999",
        "endpoint: must not contain a password",
        "credentials_ref: must name where the secret lives",
    ];
    let run = sandbox
        .run(&args)
        .check(1, &[])
        .stderr_has(&expected)
        .never_shows("s3cret-pw")
        .never_shows("hunter2");
    assert_eq!(run.stdout, "", "{run}");
    let mut json_args = vec!["--json"];
    json_args.extend_from_slice(&args);
    let run = sandbox.run(&json_args).check(1, &[]);
    let message = run.json()["error"]["message"].as_str().unwrap_or("").to_owned();
    for part in expected {
        assert!(message.contains(part), "{part:?} missing: {run}");
    }
    // One problem at a time, each alone.
    let single: &[(&str, &str, &str)] = &[
        ("--id", "9starts-with-digit", "id: "),
        ("--region", "999999", "region_code: "),
        ("--protocol", "ftp", "protocol: unknown protocol \"ftp\""),
        (
            "--endpoint",
            "postgres://db/x",
            "endpoint: a rest system needs an http",
        ),
        ("--endpoint", "not a url", "endpoint: not a URL"),
        ("--credentials-ref", "env:lower_case", "credentials_ref: "),
        ("--name", " ", "name: must not be empty"),
    ];
    for (flag, value, problem) in single {
        let mut args = add_args("gy-other");
        let at = args.iter().position(|a| a == flag).expect("flag in add_args") + 1;
        args[at] = value;
        sandbox.run(&args).check(1, &[]).stderr_has(&[problem]);
    }
    // Nothing was registered.
    let listed = sandbox.run(&["--json", "systems", "list"]).check(0, &[]).json();
    assert_eq!(listed, json!([]));
}

#[test]
fn an_unavailable_store_exits_3() {
    let sandbox = Sandbox::new();
    let cases_file = sandbox.write("cases.jsonl", "");
    let missing_dir = format!("sqlite://{}", sandbox.path("missing/dir/ronghe.db").display());
    for database in ["mysql://x", missing_dir.as_str()] {
        for args in [
            &["systems", "list"][..],
            &["systems", "show", SYSTEM_ID],
            &add_args(SYSTEM_ID),
            &["cases", "show", SYSTEM_ID, "SC-1"],
            &["cases", "import", SYSTEM_ID, &cases_file],
        ] {
            let mut all = vec!["--database", database];
            all.extend_from_slice(args);
            let run = run_ronghe(sandbox.dir.path(), &all, None)
                .check(3, &[])
                .stderr_has(&["cannot open the platform store"]);
            assert_eq!(run.stdout, "", "{run}");
            all.insert(0, "--json");
            let run = run_ronghe(sandbox.dir.path(), &all, None).check(3, &[]);
            let message = run.json()["error"]["message"].as_str().unwrap_or("").to_owned();
            assert!(message.contains("cannot open the platform store"), "{run}");
        }
    }
    assert!(!sandbox.path("missing").exists());
}

// ---------------------------------------------------------------------------------------------
// ronghe cases
// ---------------------------------------------------------------------------------------------

const FINISHED_NO: &str = "SC-2025-000001";
const APPLICATION_NO: &str = "SC-2025-000002";

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

/// SC-2025-000001 version 3, finished (tests/data/case_finished.json).
fn finished_v3() -> Value {
    fixture(include_str!("data/case_finished.json"))
}

/// The same case one version earlier: accepted and under review, no decision yet.
fn finished_v2() -> Value {
    let mut case = finished_v3();
    let fields = case.as_object_mut().expect("a case is an object");
    fields.remove("result");
    fields.remove("review_opinion");
    case["version"] = json!(2);
    case["stage"] = json!("review");
    case["updated_at"] = json!("2025-11-24T16:00:00+08:00");
    case
}

/// The same case as first received: just applied for.
fn finished_v1() -> Value {
    let mut case = finished_v2();
    let fields = case.as_object_mut().expect("a case is an object");
    fields.remove("acceptance");
    fields.remove("steps");
    case["version"] = json!(1);
    case["stage"] = json!("application");
    case["updated_at"] = json!("2025-11-20T09:30:00+08:00");
    case
}

/// SC-2025-000002 version 1, a legal person's application (tests/data/case_application.json).
fn application() -> Value {
    fixture(include_str!("data/case_application.json"))
}

/// Cases as JSON lines, one compact object per line.
fn jsonl(cases: &[Value]) -> String {
    cases.iter().map(|c| format!("{c}\n")).collect()
}

/// A sandbox with the system registered.
fn sandbox_with_system() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.run(&add_args(SYSTEM_ID)).check(0, &[]);
    sandbox
}

/// Imports `file` with `--json`; checks the exit code and the counts, returns the per-line results.
fn import(sandbox: &Sandbox, file: &str, code: i32, counts: Value) -> Vec<Value> {
    let run = sandbox
        .run(&["--json", "cases", "import", SYSTEM_ID, file])
        .check(code, &[]);
    let json = run.json();
    assert_eq!(json["counts"], counts, "{run}");
    json["lines"].as_array().cloned().unwrap_or_default()
}

/// (line, case_no, outcome) of each line result.
fn outcomes(lines: &[Value]) -> Vec<(u64, String, String)> {
    lines
        .iter()
        .map(|l| {
            (
                l["line"].as_u64().unwrap_or(0),
                l["case_no"].as_str().unwrap_or("").to_owned(),
                l["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn row(line: u64, case_no: &str, outcome: &str) -> (u64, String, String) {
    (line, case_no.to_owned(), outcome.to_owned())
}

#[test]
fn cases_import_is_idempotent_and_keeps_every_version() {
    let sandbox = sandbox_with_system();
    let first = sandbox.write("first.jsonl", jsonl(&[finished_v1(), application()]));
    // Version 3 arrives before version 2, which is then older than the current one.
    let second = sandbox.write("second.jsonl", jsonl(&[finished_v3(), finished_v2()]));

    let lines = import(&sandbox, &first, 0, json!({ "created": 2 }));
    assert_eq!(
        outcomes(&lines),
        [row(1, FINISHED_NO, "created"), row(2, APPLICATION_NO, "created")]
    );
    let lines = import(&sandbox, &second, 0, json!({ "updated": 1, "stale": 1 }));
    assert_eq!(
        outcomes(&lines),
        [row(1, FINISHED_NO, "updated"), row(2, FINISHED_NO, "stale")]
    );
    for file in [&first, &second] {
        let lines = import(&sandbox, file, 0, json!({ "duplicate": 2 }));
        assert!(
            outcomes(&lines).iter().all(|(_, _, o)| o == "duplicate"),
            "{lines:?}"
        );
    }
    sandbox
        .run(&["cases", "import", SYSTEM_ID, &second])
        .check(0, &["导入完成 imported: duplicate 2"]);

    // The current version is the newest, whatever the order of arrival (in clear with a purpose,
    // issue 20).
    let current = shown_in_clear(&sandbox, &[]);
    assert_eq!(current["system_id"], SYSTEM_ID);
    assert_eq!(current["version"], 3);
    assert_eq!(current["case"], finished_v3());

    // The history holds every version, oldest first, with the stage each was at.
    let history = shown_in_clear(&sandbox, &["--history"]);
    let versions = history.as_array().expect("a JSON array");
    let summary: Vec<(i64, &str)> = versions
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap_or(-1),
                v["stage"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(summary, [(1, "application"), (2, "review"), (3, "finished")]);
    assert_eq!(versions[0]["case"], finished_v1());
    assert_eq!(versions[1]["case"], finished_v2());
    assert_eq!(versions[2]["case"], finished_v3());
    assert_eq!(versions[2]["content_hash"], current["content_hash"]);
    let hashes: Vec<String> = versions
        .iter()
        .map(|v| v["content_hash"].as_str().unwrap_or("")[..12].to_owned())
        .collect();
    let mut table = vec!["申请 application", "审查 review", "办结 finished"];
    table.extend(hashes.iter().map(String::as_str));
    let run = sandbox
        .run(&["cases", "show", SYSTEM_ID, FINISHED_NO, "--history"])
        .check(0, &table);
    let rows: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 4, "header and three versions: {run}");
    run.never_shows("52010219900101123X").never_shows("张三");

    // The store refuses a version that reuses a number with other content, or that moves a
    // finished case backwards; nothing of either is kept.
    let mut conflicting = finished_v3();
    conflicting["review_opinion"] = json!("改过的审查意见");
    let mut backwards = finished_v1();
    backwards["version"] = json!(4);
    let file = sandbox.write("refused.jsonl", jsonl(&[conflicting, backwards]));
    let lines = import(&sandbox, &file, 1, json!({ "rejected": 2 }));
    assert_eq!(
        lines[0]["reason"],
        json!({ "code": "version_conflict", "version": 3 })
    );
    assert_eq!(
        lines[1]["reason"],
        json!({ "code": "illegal_transition", "from": "finished", "to": "application" })
    );
    sandbox.run(&["cases", "import", SYSTEM_ID, &file]).check(
        1,
        &[
            "rejected 2",
            "第1行 line 1",
            "version_conflict",
            "illegal_transition",
        ],
    );
    let history = sandbox
        .run(&["--json", "cases", "show", SYSTEM_ID, FINISHED_NO, "--history"])
        .check(0, &[])
        .json();
    assert_eq!(history.as_array().map(Vec::len), Some(3));
    let current = shown_in_clear(&sandbox, &[]);
    assert_eq!(current["case"], finished_v3());
}

/// A line of an import file, the outcome expected for it, and the field and rule of a rejection.
type ImportLine<'a> = (String, &'a str, Option<(&'a str, &'a str)>);

#[test]
fn cases_import_reports_each_bad_line_and_stores_the_good_ones() {
    let sandbox = sandbox_with_system();
    let variant = |mut case: Value, case_no: &str, change: &dyn Fn(&mut Value)| {
        case["case_no"] = json!(case_no);
        change(&mut case);
        case.to_string()
    };
    let wrong_check = format!("{}1", &resident_id("52010219900101123")[..17]);
    // Each line, what the import must say about it, and the field and rule of a rejection.
    let lines: Vec<ImportLine<'_>> = vec![
        (application().to_string(), "created", None),
        (
            "{\"case_no\": \"SC-BROKEN\",".into(),
            "rejected",
            Some(("", "json")),
        ),
        (
            variant(application(), "SC-UNKNOWN-FIELD", &|c| c["colour"] = json!("red")),
            "rejected",
            Some(("colour", "json")),
        ),
        (
            variant(application(), "SC-WRONG-TYPE", &|c| {
                c["applicant"]["kind"] = json!("robot")
            }),
            "rejected",
            Some(("applicant.kind", "json")),
        ),
        (String::new(), "skipped", None),
        (
            variant(finished_v3(), "SC-WRONG-CHECK", &|c| {
                c["applicant"]["certificate_no"] = json!(wrong_check)
            }),
            "rejected",
            Some(("applicant.certificate_no", "resident_id.check_digit")),
        ),
        (
            variant(application(), "SC-BAD-USCC", &|c| {
                c["applicant"]["certificate_no"] = json!("91520100MA6DK0L1TO")
            }),
            "rejected",
            Some(("applicant.certificate_no", "uscc.charset")),
        ),
        (finished_v3().to_string(), "created", None),
    ];
    let text: String = lines.iter().map(|(line, _, _)| format!("{line}\n")).collect();
    let file = sandbox.write("mixed.jsonl", text);

    let results = import(&sandbox, &file, 1, json!({ "created": 2, "rejected": 5 }));
    let expected: Vec<Value> = lines
        .iter()
        .enumerate()
        .filter(|(_, (_, outcome, _))| *outcome != "skipped")
        .map(|(i, (_, outcome, issue))| match issue {
            None => json!({ "line": i + 1, "outcome": outcome }),
            Some((field, rule)) => json!({ "line": i + 1, "outcome": outcome, "field": field, "rule": rule }),
        })
        .collect();
    let got: Vec<Value> = results
        .iter()
        .map(|r| {
            let errors = r["errors"].as_array().cloned().unwrap_or_default();
            assert!(errors.len() <= 1, "one problem per bad line: {r}");
            match errors.first() {
                None => json!({ "line": r["line"], "outcome": r["outcome"] }),
                Some(e) => {
                    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{r}");
                    json!({ "line": r["line"], "outcome": r["outcome"], "field": e["field"], "rule": e["rule"] })
                }
            }
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(results[0]["case_no"], APPLICATION_NO);
    assert_eq!(results[6]["case_no"], FINISHED_NO);
    assert_eq!(
        results[4]["case_no"], "SC-WRONG-CHECK",
        "a line that parsed names its case"
    );

    let run = sandbox.run(&["cases", "import", SYSTEM_ID, &file]).check(
        1,
        &[
            "导入完成 imported: duplicate 2, rejected 5",
            "被拒绝 rejected:",
            "第2行 line 2: [json]",
            "第3行 line 3: colour [json] unknown field `colour`",
            "第4行 line 4: applicant.kind [json] unknown variant `robot`",
            "第6行 line 6: applicant.certificate_no [resident_id.check_digit]",
            "第7行 line 7: applicant.certificate_no [uscc.charset]",
        ],
    );
    run.never_shows(&wrong_check);

    // The good lines were stored; the bad ones were not.
    sandbox
        .run(&["cases", "show", SYSTEM_ID, APPLICATION_NO])
        .check(0, &["SC-2025-000002  (version 1)"]);
    sandbox
        .run(&["cases", "show", SYSTEM_ID, FINISHED_NO])
        .check(0, &["SC-2025-000001  (version 3)"]);
    for case_no in [
        "SC-BROKEN",
        "SC-UNKNOWN-FIELD",
        "SC-WRONG-TYPE",
        "SC-WRONG-CHECK",
        "SC-BAD-USCC",
    ] {
        sandbox
            .run(&["cases", "show", SYSTEM_ID, case_no])
            .check(1, &[])
            .stderr_has(&[&format!("case \"{SYSTEM_ID}/{case_no}\" not found")]);
    }
}

#[test]
fn cases_import_reads_stdin_and_refuses_unknown_systems() {
    let sandbox = sandbox_with_system();
    let input = jsonl(&[finished_v3(), application()]);
    let run = sandbox
        .run_with(
            &["--json", "cases", "import", SYSTEM_ID, "-"],
            Some(input.as_bytes()),
        )
        .check(0, &[]);
    assert_eq!(run.json()["counts"], json!({ "created": 2 }));

    let file = sandbox.write("cases.jsonl", &input);
    sandbox
        .run(&["cases", "import", "nope", &file])
        .check(1, &[])
        .stderr_has(&["system \"nope\" not found"]);
    sandbox
        .run(&["cases", "show", "nope", FINISHED_NO])
        .check(1, &[])
        .stderr_has(&["not found"]);
    // A file that is not there is a failure to run, not a refusal.
    let missing = sandbox.path("missing.jsonl").display().to_string();
    sandbox
        .run(&["cases", "import", SYSTEM_ID, &missing])
        .check(3, &[])
        .stderr_has(&["cannot open", "missing.jsonl"]);
}

#[test]
fn cases_show_masks_personal_data() {
    let sandbox = sandbox_with_system();
    let file = sandbox.write(
        "cases.jsonl",
        jsonl(&[finished_v1(), finished_v2(), finished_v3(), application()]),
    );
    import(&sandbox, &file, 0, json!({ "created": 2, "updated": 2 }));

    sandbox
        .run(&["cases", "show", SYSTEM_ID, FINISHED_NO])
        .check(
            0,
            &[
                "SC-2025-000001  (version 3)",
                "食品经营许可",
                "520102",
                "申请人 applicant:     张* 居民身份证 5201**********123X",
                "贵阳市南明区市场监督管理局 / 李* / 承诺办结 2025-12-04 17:30:00 +08:00",
                "材料齐全,符合法定形式,同意许可",
                "approved 2025-11-25 15:00:00 +08:00",
                "办结 finished",
            ],
        )
        .never_shows("52010219900101123X")
        .never_shows("张三")
        .never_shows("李四")
        .never_shows("13812345678");
    // Issue 20: `--json` masks as well.
    sandbox
        .run(&["--json", "cases", "show", SYSTEM_ID, FINISHED_NO])
        .check(0, &["5201**********123X", "张*"])
        .never_shows("52010219900101123X")
        .never_shows("张三")
        .never_shows("李四")
        .never_shows("13812345678");
    sandbox
        .run(&["cases", "show", SYSTEM_ID, APPLICATION_NO])
        .check(
            0,
            &[
                "SC-2025-000002  (version 1)",
                "520102016",
                "统一社会信用代码 9152**********L1TJ",
                "受理 acceptance:      -",
                "申请 application",
            ],
        )
        .never_shows("91520100MA6DK0L1TJ")
        .never_shows("贵州黔味食品有限公司");
    sandbox
        .run(&["cases", "show", SYSTEM_ID, "SC-NOPE"])
        .check(1, &[])
        .stderr_has(&["case \"gy-scjg-xk/SC-NOPE\" not found"]);
    sandbox
        .run(&["cases", "show", SYSTEM_ID, "SC-NOPE", "--history"])
        .check(1, &[])
        .stderr_has(&["not found"]);
}

/// A legacy system's export with one line in GBK instead of UTF-8 must cost that line only.
#[test]
fn cases_import_rejects_a_line_that_is_not_utf8_and_keeps_the_others() {
    let sandbox = sandbox_with_system();
    let mut bytes = jsonl(&[application()]).into_bytes();
    // "贵州" in GBK, which is not valid UTF-8 (0xB9 cannot start a character).
    bytes.extend_from_slice(b"{\"case_no\": \"SC-GBK\", \"item_name\": \"\xb9\xf3\xd6\xdd\"}\n");
    bytes.extend_from_slice(jsonl(&[finished_v3()]).as_bytes());
    let file = sandbox.write("gbk.jsonl", bytes);
    let lines = import(&sandbox, &file, 1, json!({ "created": 2, "rejected": 1 }));
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[1]["outcome"], "rejected");
    sandbox
        .run(&["cases", "show", SYSTEM_ID, APPLICATION_NO])
        .check(0, &[]);
}

#[test]
fn retired_systems_take_no_cases() {
    let sandbox = sandbox_with_system();
    sandbox
        .run(&["systems", "retire", SYSTEM_ID, "--reason", "并入政务服务网"])
        .check(0, &[]);
    let file = sandbox.write("one.jsonl", jsonl(&[application()]));
    sandbox
        .run(&["cases", "import", SYSTEM_ID, &file])
        .check(1, &[])
        .stderr_has(&["retired"]);
    sandbox
        .run(&["cases", "show", SYSTEM_ID, APPLICATION_NO])
        .check(1, &[]);
}

#[test]
fn published_rules_bind_applications_made_after_publication() {
    let sandbox = sandbox_with_system();
    sandbox
        .run(&[
            "rules",
            "add",
            "--item",
            "*",
            "--field",
            "applicant.address",
            "--check",
            "required",
            "--description",
            "新增采集项:通讯地址",
        ])
        .check(0, &["已公布 published rule 1"]);
    sandbox
        .run(&[
            "rules",
            "add",
            "--item",
            "*",
            "--field",
            "x",
            "--check",
            "sometimes",
            "--description",
            "d",
        ])
        .check(1, &[]);
    sandbox
        .run(&["--json", "rules", "list"])
        .check(0, &["新增采集项:通讯地址"]);

    // Applied just now: bound by today's rule; the fixture has no address.
    let now = chrono::Local::now().fixed_offset() - chrono::Duration::minutes(1);
    let mut fresh = application();
    fresh["case_no"] = json!("SC-FRESH");
    fresh["applied_at"] = json!(now.to_rfc3339());
    fresh["updated_at"] = json!(now.to_rfc3339());
    // Applied before publication: not bound.
    let file = sandbox.write("rules.jsonl", jsonl(&[fresh, application()]));
    let lines = import(&sandbox, &file, 1, json!({ "created": 1, "rejected": 1 }));
    assert_eq!(lines[0]["errors"][0]["rule"], "published.1");
    assert_eq!(lines[0]["errors"][0]["field"], "applicant.address");
}

// ---------------------------------------------------------------------------------------------
// ronghe assess (issue 4)
// ---------------------------------------------------------------------------------------------

const CHAIR: &str = "chair-zhang";
const EXPERTS: [&str; 5] = ["wang-li", "li-na", "zhao-qiang", "qian-hui", "sun-yu"];
const NAMES: [&str; 5] = ["王力", "李娜", "赵强", "钱慧", "孙宇"];

/// Expert `expert`'s scores file (TOML) for a system seen as `profile`, with a reason.
fn scores_toml(profile: common::Profile, expert: usize, reason: &str) -> String {
    let mut text = String::from("[scores]\n");
    for (criterion, level) in common::expert_scores(profile, expert) {
        text.push_str(&format!("{criterion} = {level}\n"));
    }
    text.push_str(&format!("[reasons]\nintegration_tech = \"{reason}\"\n"));
    text
}

/// `ronghe --actor ACTOR assess experts add ASSESSMENT --expert ID --name NAME --department UNIT`.
fn add_expert(sandbox: &Sandbox, actor: &str, assessment: &str, (id, name, unit): (&str, &str, &str)) -> Run {
    sandbox.expert(id);
    sandbox.run_as(
        actor,
        &[
            "assess",
            "experts",
            "add",
            assessment,
            "--expert",
            id,
            "--name",
            name,
            "--department",
            unit,
        ],
    )
}

/// A panel of five experts assesses the three simulated departmental systems (REST, SOAP, SQL)
/// from the command line: each gets a verdict with its rationale, a report in Markdown, HTML and
/// JSON, and the status `assessed`; the portfolio lists them all. Along the way: a recused expert
/// cannot score, and nothing shows the sealed scores before the round closes.
#[test]
fn five_experts_assess_the_three_simulated_systems() {
    let sandbox = Sandbox::new();
    let systems = [
        (
            "gy-scjg-xk",
            "市场监管许可系统",
            "贵阳市市场监督管理局",
            "rest",
            "http://10.0.0.5/api",
            common::ORDINARY,
            "前端迁移",
            "front_end_migration",
        ),
        (
            "gz-rs-shbz",
            "社会保障待遇系统",
            "贵州省人力资源和社会保障厅",
            "soap",
            "http://10.0.0.6/ws",
            common::COMPLEX_AND_HARD,
            "兼容过渡",
            "compatible_transition",
        ),
        (
            "qn-mz-hydj",
            "婚姻登记系统",
            "黔南州民政局",
            "sql",
            "postgres://10.0.0.7/hydj",
            common::WEAK_AND_SINGLE,
            "全流程迁移",
            "full_migration",
        ),
    ];
    for (id, name, department, protocol, endpoint, profile, label, mode) in systems {
        sandbox
            .run(&[
                "systems",
                "add",
                "--id",
                id,
                "--name",
                name,
                "--department",
                department,
                "--region",
                "520100",
                "--protocol",
                protocol,
                "--endpoint",
                endpoint,
            ])
            .check(0, &[id]);
        let assessment = format!("{id}.1");
        sandbox
            .run_as(CHAIR, &["assess", "open", "--chair", CHAIR, id])
            .check(
                0,
                &[&format!("已开启评估 opened: {assessment}"), "ronghe-default@1"],
            );
        let panel = EXPERTS.iter().zip(NAMES).map(|(e, n)| (*e, n, "省大数据局"));
        for (expert, name, unit) in panel.chain([("own-dept", "本部门专家", department)]) {
            let recused = expert == "own-dept";
            add_expert(&sandbox, CHAIR, &assessment, (expert, name, unit)).check(
                0,
                &[if recused {
                    "回避 recused"
                } else {
                    "已加入 added"
                }],
            );
            sandbox
                .run_as(expert, &["assess", "experts", "declare", &assessment, "--none"])
                .check(0, &["已申报 declared"]);
        }
        let own = sandbox.write("own.toml", scores_toml(profile, 0, "x"));
        sandbox
            .run_as("own-dept", &["assess", "score", &assessment, &own])
            .check(1, &[])
            .stderr_has(&["own-dept", "cannot score"]);

        for (e, expert) in EXPERTS.iter().enumerate() {
            let file = sandbox.write(
                &format!("{expert}.toml"),
                scores_toml(profile, e, &format!("SEALED-{e}")),
            );
            if e == 4 {
                // Before the last submission: sealed, whoever asks and however.
                for actor in [CHAIR, EXPERTS[0]] {
                    sandbox
                        .run_as(actor, &["assess", "report", &assessment, "--round", "1"])
                        .check(1, &[])
                        .stderr_has(&["sealed"])
                        .never_shows("SEALED");
                    sandbox
                        .run_as(actor, &["assess", "report", &assessment])
                        .check(1, &[])
                        .never_shows("SEALED");
                    let listed = sandbox
                        .run_as(actor, &["--json", "assess", "experts", "list", &assessment])
                        .check(0, &[])
                        .never_shows("SEALED");
                    assert!(listed.json().get("scores").is_none() && !listed.stdout.contains("\"score"));
                    sandbox
                        .run_as(actor, &["assess", "portfolio"])
                        .check(0, &[])
                        .never_shows("SEALED");
                }
                sandbox
                    .run(&["assess", "experts", "list", &assessment])
                    .check(0, &["已提交", "待提交"]);
                sandbox
                    .run_as(expert, &["assess", "score", &assessment, &file])
                    .check(0, &["本轮结束", "第 1 轮汇总"]);
            } else {
                sandbox
                    .run_as(expert, &["assess", "score", &assessment, &file])
                    .check(0, &["已提交 submitted", "待提交 pending"])
                    .never_shows("SEALED");
            }
        }
        // The ordinary profile gives every criterion the same panel value: agreement cannot be
        // measured (no ICC), so the confidence is medium, not high.
        let confidence = if profile == common::ORDINARY {
            "置信度 confidence: 中"
        } else {
            "置信度 confidence: 高"
        };
        sandbox
            .run_as(CHAIR, &["assess", "verdict", &assessment])
            .check(0, &[&format!("结论 verdict: {label}"), confidence, "至少"]);
        sandbox
            .run(&["assess", "report", &assessment])
            .check(
                0,
                &[
                    &format!("## 结论:{label}"),
                    "什么样的评分改动会改变结论",
                    "<svg",
                    "SEALED-3",
                    "评估专家组",
                ],
            )
            .never_shows("wang-li");
        sandbox
            .run(&["assess", "report", &assessment, "--format", "html"])
            .check(0, &["<!DOCTYPE html>", label]);
        let json = sandbox
            .run(&["--json", "assess", "report", &assessment])
            .check(0, &[])
            .json();
        assert_eq!(json["verdict"]["mode"], mode);
        sandbox.run(&["systems", "show", id]).check(0, &["assessed"]);
    }
    sandbox
        .run(&["assess", "portfolio"])
        .check(0, &["前端迁移", "兼容过渡", "全流程迁移", "Kendall's W"]);
    let portfolio = sandbox
        .run(&["--json", "assess", "portfolio"])
        .check(0, &[])
        .json();
    assert_eq!(portfolio["agreement"][0]["experts"], 5, "{portfolio}");
    generate_follows_each_verdict(&sandbox);
}

/// Issue 5: `ronghe generate` writes each verdict's plan draft and settings (none of these
/// systems was probed, so no mapping), every file one its command accepts.
fn generate_follows_each_verdict(sandbox: &Sandbox) {
    let cases: [(&str, &[&str], &[&str]); 3] = [
        (
            "gy-scjg-xk",
            &["integration/gy-scjg-xk/writeback.toml"],
            &["schedule = \"0 */10 * * * *\"", "env:GY_SCJG_XK_WRITEBACK_KEY"],
        ),
        (
            "gz-rs-shbz",
            &[
                "integration/gz-rs-shbz/writeback.toml",
                "integration/gz-rs-shbz/bridge.toml",
            ],
            &["soap_record = \"办件\"", "http://10.0.0.6/sso/login"],
        ),
        (
            "qn-mz-hydj",
            &[
                "integration/qn-mz-hydj/migration-job.toml",
                "migration-plans/qn-mz-hydj.retirement.md",
            ],
            &[
                "max_reject_ratio",
                "下线检查清单",
                "ronghe systems retire qn-mz-hydj",
            ],
        ),
    ];
    for (id, files, contents) in cases {
        sandbox
            .run(&["generate", id])
            .check(0, &["迁移计划草案", "未生成映射 no mapping"]);
        let plan = std::fs::read_to_string(sandbox.path(&format!("migration-plans/{id}.toml"))).unwrap();
        let plan = ronghe::plans::PlanFile::parse(&plan).unwrap_or_else(|e| panic!("{id}: {e:?}\n{plan}"));
        assert_eq!(plan.plan.assessment.as_deref(), Some(format!("{id}.1").as_str()));
        let mut all = String::new();
        for file in files {
            all.push_str(
                &std::fs::read_to_string(sandbox.path(file)).unwrap_or_else(|e| panic!("{file}: {e}")),
            );
        }
        for needle in contents {
            assert!(all.contains(needle), "{id} lacks {needle:?}:\n{all}");
        }
    }
    let bridge = std::fs::read_to_string(sandbox.path("integration/gz-rs-shbz/bridge.toml")).unwrap();
    ronghe::bridge::BridgeConfig::parse(&bridge).unwrap();
    sandbox
        .run(&[
            "bridge",
            "check",
            &sandbox
                .path("integration/gz-rs-shbz/bridge.toml")
                .display()
                .to_string(),
        ])
        .check(0, &[]);
    // An edited plan is not overwritten; nothing else is written either.
    let plan_path = sandbox.path("migration-plans/gz-rs-shbz.toml");
    let edited = std::fs::read_to_string(&plan_path)
        .unwrap()
        .replace("待定 项目负责人", "张经理");
    std::fs::write(&plan_path, &edited).unwrap();
    std::fs::remove_file(sandbox.path("integration/gz-rs-shbz/bridge.toml")).unwrap();
    sandbox
        .run(&["generate", "gz-rs-shbz"])
        .check(1, &[])
        .stderr_has(&["was edited since it was generated", "张经理", "--force"]);
    assert_eq!(std::fs::read_to_string(&plan_path).unwrap(), edited);
    assert!(
        !sandbox.path("integration/gz-rs-shbz/bridge.toml").exists(),
        "nothing half-written"
    );
}

#[test]
fn assess_refuses_what_it_should() {
    let sandbox = Sandbox::new();
    sandbox.run(&add_args(SYSTEM_ID)).check(0, &[]);
    // Rubrics: the built-in one checks out; an inconsistent one is refused naming the judgment.
    sandbox
        .run(&["assess", "rubric"])
        .check(0, &["ronghe-default@1", "CR 0.0", "业务环节覆盖"]);
    let inconsistent = sandbox.write(
        "bad-rubric.toml",
        ronghe_assessment::rubric::DEFAULT_RUBRIC
            .replace("[\"support\", \"business\", 2]", "[\"business\", \"support\", 9]"),
    );
    sandbox
        .run(&["assess", "rubric", &inconsistent])
        .check(1, &[])
        .stderr_has(&["ahp.consistency", "business vs support = 9"]);
    sandbox
        .run_as(
            CHAIR,
            &[
                "assess",
                "open",
                "--chair",
                CHAIR,
                SYSTEM_ID,
                "--rubric",
                &inconsistent,
            ],
        )
        .check(1, &[]);
    sandbox
        .run_as(
            CHAIR,
            &[
                "assess",
                "open",
                "--chair",
                CHAIR,
                SYSTEM_ID,
                "--rubric",
                "ronghe-default@9",
            ],
        )
        .check(1, &[])
        .stderr_has(&["not found"]);
    sandbox
        .run_as(CHAIR, &["assess", "open", "--chair", CHAIR, SYSTEM_ID])
        .check(0, &[]);
    let assessment = format!("{SYSTEM_ID}.1");
    sandbox
        .run_as(CHAIR, &["assess", "open", "--chair", CHAIR, SYSTEM_ID])
        .check(1, &[])
        .stderr_has(&["in progress"]);
    let add_wang = |actor: &str| add_expert(&sandbox, actor, &assessment, ("wang-li", "王", "省大数据局"));
    add_wang("intruder").check(1, &[]).stderr_has(&["only the chair"]);
    add_wang(CHAIR).check(0, &[]);
    let file = sandbox.write("wang.toml", scores_toml(common::ORDINARY, 0, "x"));
    // Issue 14: a person's act needs that person's token; a claimed name is no longer taken.
    sandbox
        .run(&["assess", "score", &assessment, &file])
        .check(2, &[])
        .stderr_has(&["acts as a person", "--token"]);
    sandbox
        .run(&["--actor", "wang-li", "assess", "score", &assessment, &file])
        .check(2, &[]);
    let engineer = sandbox.token_with("eng-wu", &["engineer@province"]);
    sandbox
        .run_with_token(&engineer, &["assess", "score", &assessment, &file])
        .check(1, &[])
        .stderr_has(&["needs one of the roles expert"]);
    sandbox
        .run_with_token("rh.0000000000000000.forged", &["assess", "close", &assessment])
        .check(1, &[])
        .stderr_has(&["token is unknown"]);
    sandbox
        .run(&["assess", "open", "--chair", "eng-wu", "other"])
        .check(1, &[])
        .stderr_has(&["does not hold the expert role"]);
    sandbox
        .run_as("wang-li", &["assess", "score", &assessment, &file])
        .check(1, &[])
        .stderr_has(&["declares conflicts"]);
    sandbox
        .run_as("wang-li", &["assess", "experts", "declare", &assessment])
        .check(1, &[])
        .stderr_has(&["--none"]);
    sandbox
        .run_as(
            "wang-li",
            &[
                "assess",
                "experts",
                "declare",
                &assessment,
                "--conflict",
                "贵州某软件公司=曾任顾问",
            ],
        )
        .check(0, &["已申报"]);
    let bad = sandbox.write("bad.toml", "[scores]\nsupport_coverage = 9\n");
    sandbox
        .run_as("wang-li", &["assess", "score", &assessment, &bad])
        .check(1, &[])
        .stderr_has(&["scores.support_coverage", "scores.data_quality"]);
    sandbox
        .run_as(CHAIR, &["assess", "verdict", &assessment])
        .check(1, &[])
        .stderr_has(&["round 1 is still open"]);
    sandbox
        .run(&["assess", "report", &assessment, "--format", "pdf"])
        .check(1, &[]);
    sandbox
        .run(&["assess", "report", "nope.1"])
        .check(1, &[])
        .stderr_has(&["not found"]);
}

/// `cases show --json` of the finished case, in clear with a purpose (issue 20), and `extra`.
fn shown_in_clear(sandbox: &Sandbox, extra: &[&str]) -> serde_json::Value {
    let args = [
        &[
            "--json",
            "cases",
            "show",
            SYSTEM_ID,
            FINISHED_NO,
            "--unmask",
            "--purpose",
            "核对导入",
        ][..],
        extra,
    ]
    .concat();
    sandbox.run(&args).check(0, &[]).json()
}

/// Issue 17, bounded memory: the binary runs on jemalloc with the settings that give a burst's
/// memory back (background purging, freed pages decayed after one second) and let the next burst
/// reuse what stays (one arena), embedded at build time; jemalloc's own statistics at exit say
/// which options it ran with.
#[cfg(not(target_env = "msvc"))]
#[test]
fn the_binary_gives_freed_memory_back() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ronghe"))
        .arg("--version")
        .env("MALLOC_CONF", "stats_print:true")
        .output()
        .expect("run ronghe --version");
    assert!(out.status.success());
    let stats = String::from_utf8_lossy(&out.stderr);
    for option in [
        "opt.background_thread: true",
        "opt.dirty_decay_ms: 1000",
        "opt.muzzy_decay_ms: 0",
        "opt.narenas: 1",
    ] {
        assert!(
            stats.lines().any(|line| line.trim_start().starts_with(option)),
            "{option} not among jemalloc's options:\n{}",
            stats
                .lines()
                .filter(|l| l.contains("opt."))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// ronghe bench store
// ---------------------------------------------------------------------------------------------

/// Runs `work` to its end on a runtime of its own.
fn block_on<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(work)
}

/// Counts, for each benchmark system of the PostgreSQL store at `url` (named without its run's
/// stamp), its current rows, versions, outbox items and items heading their case.
fn bench_rows(url: &str) -> Vec<(String, i64, i64, i64, i64)> {
    block_on(async {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(url).await.expect("open the store");
        sqlx::query_as(
            "SELECT substring(s.id FROM '^bench-[a-z]+'),
                    (SELECT COUNT(*) FROM cases c WHERE c.system_id = s.id),
                    (SELECT COUNT(*) FROM case_versions v WHERE v.system_id = s.id),
                    (SELECT COUNT(*) FROM exchange_outbox o WHERE o.system_id = s.id),
                    (SELECT COUNT(*) FROM exchange_outbox o WHERE o.system_id = s.id AND o.head)
             FROM systems s WHERE s.id LIKE 'bench-%' ORDER BY s.id",
        )
        .fetch_all(&mut conn)
        .await
        .expect("count the rows")
    })
}

/// `bench writeback` pushes to a platform on a benchmark's store: a fresh SQLite file by default
/// (never the configured store), or with `--backend postgres` the `--database` it is given, into
/// which it writes the lag run's, the single pushes' and the batches' cases under its system and
/// the raw baseline's versions under another; a second run into the same database is refused.
/// A database with a system of its own is refused,
/// and so is `--backend` with `--soap-body-kb` (whose server keeps a SQLite file of its own).
#[test]
fn bench_writeback_runs_on_its_own_sqlite_file_or_the_given_postgres_database() {
    let sandbox = Sandbox::new();
    sandbox.add_system("working", "http://127.0.0.1:1/");
    let args = [
        "bench",
        "writeback",
        "--requests",
        "30",
        "--batch",
        "10",
        "--concurrency",
        "2",
        "--json",
    ];
    let names = |figures: &serde_json::Value| -> Vec<String> {
        let figures = figures.as_array().expect("an array of figures");
        for figure in figures {
            assert_eq!(figure["items"], 30, "{figure}");
            assert!(figure["per_second"].as_f64().is_some_and(|r| r > 0.0), "{figure}");
        }
        figures
            .iter()
            .map(|f| f["name"].as_str().expect("a name").to_owned())
            .collect()
    };
    let expected = [
        "write-back single, 2 clients (vs bare)",
        "write-back batch 10, 4 clients (vs bare)",
        "write-back batch 10 (vs raw insert)",
        "end-to-end lag ack → exchange (8 clients)",
    ];
    assert_eq!(names(&sandbox.run(&args).check(0, &[]).json()), expected);
    let systems = sandbox.run(&["systems", "list", "--json"]).check(0, &[]).json();
    assert_eq!(systems.as_array().map(Vec::len), Some(1), "{systems}");

    let database = block_on(common::fresh_pg_url());
    let mut on_pg = vec!["--database", database.as_str()];
    on_pg.extend_from_slice(&args);
    on_pg.extend_from_slice(&["--backend", "postgres"]);
    let figures = run_ronghe(sandbox.dir.path(), &on_pg, None).check(0, &[]).json();
    assert_eq!(names(&figures), expected);
    // 30 records each for the lag, the single pushes and the batches; the raw insert's versions.
    let held = bench_rows(&database);
    assert_eq!(held.len(), 2, "{held:?}");
    assert_eq!(held[0], ("bench-raw".to_owned(), 0, 30, 0, 0));
    let (system, cases, versions, _, _) = &held[1];
    assert_eq!((system.as_str(), *cases, *versions), ("bench-writeback", 90, 90));
    // A second run needs a database of its own: refused, nothing more written.
    run_ronghe(sandbox.dir.path(), &on_pg, None).check(
        2,
        &["2 benchmark system(s) from an earlier run", "empty database"],
    );
    assert_eq!(bench_rows(&database), held);

    let working = block_on(common::fresh_pg_url());
    let mut add = vec!["--database", working.as_str()];
    add.extend(common::binary::add_system_args("working", "http://127.0.0.1:1/"));
    run_ronghe(sandbox.dir.path(), &add, None).check(0, &[]);
    on_pg[1] = working.as_str();
    run_ronghe(sandbox.dir.path(), &on_pg, None)
        .check(2, &["1 system(s) not registered by a benchmark (first: working)"]);
    assert_eq!(bench_rows(&working), []);

    let burst = [
        "bench",
        "writeback",
        "--soap-body-kb",
        "64",
        "--backend",
        "postgres",
    ];
    sandbox
        .run(&burst)
        .check(2, &[])
        .stderr_has(&["'--soap-body-kb <KIB>' cannot be used with '--backend <BACKEND>'"]);
}

/// `bench sealing --backend postgres` runs each of its runs in a PostgreSQL database of its own,
/// created on the given server and dropped afterwards: the figures come back, and no run's
/// database is left. Without a PostgreSQL `--database`, the backend is refused.
#[test]
fn bench_sealing_on_postgres_runs_each_run_in_a_database_it_drops() {
    let sandbox = Sandbox::new();
    let database = block_on(common::fresh_pg_url());
    let args = [
        "--database",
        database.as_str(),
        "bench",
        "sealing",
        "--cases",
        "200",
        "--rounds",
        "1",
        "--backend",
        "postgres",
        "--json",
    ];
    let figures = run_ronghe(sandbox.dir.path(), &args, None).check(0, &[]).json();
    let figures = figures.as_array().expect("an array of figures");
    assert_eq!(figures.len(), 2, "{figures:?}");
    for figure in figures {
        assert_eq!(figure["items"], 200, "{figure}");
        assert!(figure["ratio"].as_f64().is_some_and(|r| r > 0.0), "{figure}");
    }
    let left: Vec<(String,)> = block_on(async {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&common::pg_admin_url())
            .await
            .expect("open the server");
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'ronghe_bench_sealing_%'")
            .fetch_all(&mut conn)
            .await
            .expect("list the databases")
    });
    assert_eq!(left, []);

    sandbox
        .run(&["bench", "sealing", "--cases", "10", "--backend", "postgres"])
        .check(2, &[])
        .stderr_has(&["--backend postgres needs --database postgres://"]);
}

/// `bench store` answers the upsert and its floor against the plain baseline, and the upsert
/// against the floor; each writes what its name says, under a system of its own: the upsert and
/// the floor every case into the three tables (each outbox item heading its case), the baseline
/// the versions alone. By default it writes into a fresh SQLite file, never into the configured
/// store; a PostgreSQL store it is given must hold benchmark systems only.
#[test]
fn bench_store_measures_the_upsert_against_its_floor_and_the_baseline() {
    let sandbox = Sandbox::new();
    sandbox.add_system("working", "http://127.0.0.1:1/");
    let args = ["bench", "store", "--cases", "600", "--batch", "250", "--json"];
    let figures = sandbox.run(&args).check(0, &[]).json();
    let figures = figures.as_array().expect("an array of figures");
    let names: Vec<&str> = figures
        .iter()
        .map(|f| f["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(
        names,
        [
            "store upsert (sqlite, batch 250)",
            "store floor: 3 tables, no reads",
            "store upsert vs the floor"
        ]
    );
    let value = |i: usize, key: &str| {
        figures[i][key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} of {}", names[i]))
    };
    for (i, figure) in figures.iter().enumerate() {
        assert_eq!(figure["items"], 600, "{figure}");
        assert!(
            value(i, "per_second") > 0.0 && value(i, "baseline_per_second") > 0.0,
            "{figure}"
        );
    }
    // The upsert and the floor share one baseline, and the third compares the two.
    assert_eq!(value(0, "baseline_per_second"), value(1, "baseline_per_second"));
    assert_eq!(value(2, "per_second"), value(0, "per_second"));
    assert_eq!(value(2, "baseline_per_second"), value(1, "per_second"));
    // The configured store holds its one system still, and no benchmark's.
    let systems = sandbox.run(&["systems", "list", "--json"]).check(0, &[]).json();
    let ids: Vec<&str> = systems
        .as_array()
        .expect("systems")
        .iter()
        .map(|s| s["id"].as_str().expect("an id"))
        .collect();
    assert_eq!(ids, ["working"]);

    let database = block_on(common::fresh_pg_url());
    let mut on_pg = vec!["--database", database.as_str()];
    on_pg.extend_from_slice(&args);
    on_pg.extend_from_slice(&["--backend", "postgres"]);
    let figures = run_ronghe(sandbox.dir.path(), &on_pg, None).check(0, &[]).json();
    assert_eq!(figures[0]["name"], "store upsert (postgres, batch 250)");
    assert_eq!(
        bench_rows(&database),
        [
            ("bench-floor".to_owned(), 600, 600, 600, 600),
            ("bench-raw".to_owned(), 0, 600, 0, 0),
            ("bench-upsert".to_owned(), 600, 600, 600, 600),
        ]
    );

    // A database with a system of its own is a working store: refused, nothing written.
    let working = block_on(common::fresh_pg_url());
    let mut add = vec!["--database", working.as_str()];
    add.extend(common::binary::add_system_args("working", "http://127.0.0.1:1/"));
    run_ronghe(sandbox.dir.path(), &add, None).check(0, &[]);
    on_pg[1] = working.as_str();
    run_ronghe(sandbox.dir.path(), &on_pg, None).check(
        2,
        &[
            "1 system(s) not registered by a benchmark (first: working)",
            "--database",
        ],
    );
    assert_eq!(bench_rows(&working), []);
}

//! Mappings end to end: the simulators' records through their mappings (golden), and an error
//! test per kind that checks the rule, the source path and the (masked) value are named.

mod common;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use futures_util::TryStreamExt;
use ronghe::mapping::{Mapping, MappingError};
use ronghe_adapters::Raw;
use serde_json::{Value, json};

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-29T12:00:00+08:00").unwrap()
}

fn mapping(name: &str) -> Mapping {
    let path = format!("{}/mappings/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    Mapping::compile(&text).unwrap_or_else(|issues| panic!("{path}: {issues:?}"))
}

#[tokio::test]
async fn every_rest_simulator_record_maps_to_a_valid_case() {
    let (_sim, adapter) = common::rest_sim(400).await;
    let records: Vec<_> = adapter.read(None).try_collect().await.unwrap();
    let mapping = mapping("sim-rest");
    let mut stages = std::collections::BTreeMap::new();
    for record in &records {
        let case = mapping
            .apply(&record.raw, now())
            .unwrap_or_else(|e| panic!("{:?}: {e:?}", record.key));
        assert_eq!(Some(&case.case_no), record.key.as_ref());
        *stages.entry(case.stage.name()).or_insert(0) += 1;
    }
    assert_eq!(stages.values().sum::<i32>(), 400);
    for stage in ["application", "acceptance", "review", "finished", "not_accepted"] {
        assert!(
            stages.contains_key(stage),
            "the simulator's data reaches {stage}: {stages:?}"
        );
    }
}

#[tokio::test]
async fn every_soap_simulator_record_maps_to_a_valid_case() {
    let (_sim, adapter) = common::soap_sim(400).await;
    let records: Vec<_> = adapter.read(None).try_collect().await.unwrap();
    assert_eq!(records.len(), 400);
    let mapping = mapping("sim-soap");
    let mut results = std::collections::BTreeMap::new();
    for record in &records {
        let case = mapping
            .apply(&record.raw, now())
            .unwrap_or_else(|e| panic!("{:?}: {e:?}", record.key));
        *results
            .entry(case.result.map_or("open", |r| r.code.name()))
            .or_insert(0) += 1;
    }
    for result in ["open", "approved", "rejected", "not_accepted"] {
        assert!(
            results.contains_key(result),
            "the simulator's data reaches {result}: {results:?}"
        );
    }
}

#[tokio::test]
async fn every_sql_simulator_record_maps_to_a_valid_case() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = common::sql_sim(dir.path(), 400).await;
    let records: Vec<_> = adapter.read(None).try_collect().await.unwrap();
    assert_eq!(records.len(), 400);
    let mapping = mapping("sim-sql");
    let mut seen = std::collections::BTreeMap::new();
    for record in &records {
        let case = mapping
            .apply(&record.raw, now())
            .unwrap_or_else(|e| panic!("{:?}: {e:?}", record.key));
        assert_eq!(Some(&case.case_no), record.key.as_ref());
        let result = case.result.as_ref().map_or("open", |r| r.code.name());
        *seen.entry((case.stage.name(), result)).or_insert(0) += 1;
        if let Some(result) = &case.result {
            // 办结 cases carry the approver as the handler; the accepted ones their due date.
            assert!(
                result.handler.is_some() || case.stage.name() == "not_accepted",
                "{case:?}"
            );
        }
    }
    for expected in [
        ("application", "open"),
        ("acceptance", "open"),
        ("review", "open"),
        ("finished", "approved"),
        ("finished", "rejected"),
        ("not_accepted", "not_accepted"),
    ] {
        assert!(
            seen.contains_key(&expected),
            "the simulator's data reaches {expected:?}: {seen:?}"
        );
    }
}

/// One REST record, mapped field by field against a hand-checked expectation.
#[test]
fn golden_rest_record() {
    let record = json!({
        "caseNo": "52010200000007", "version": 4, "itemCode": "11520000009390240A4520117005000", "itemName": "食品经营许可",
        "applicant": {"name": "张伟", "type": "1", "idType": "111", "idNo": "52010219900101123X", "mobile": "13812345678"},
        "areaCode": "520102", "deptName": "南明区市场监督管理局", "deptCode": "11520000009390240A", "acceptor": "李娜",
        "applyTime": "2025-09-29 09:00:00", "acceptTime": "2025-09-29 10:00:00", "finishTime": "2025-10-10 16:00:00",
        "timeLimit": 3, "status": "10", "opinion": "材料齐全,同意", "licenceNo": "JY15201020000007", "updatedAt": "2025-10-10T16:00:00+08:00"
    });
    let case = mapping("sim-rest").apply(&Raw::Json(record), now()).unwrap();
    let got = serde_json::to_value(&case).unwrap();
    let expected: Value = json!({
        "case_no": "52010200000007", "version": 4, "implementation_code": "11520000009390240A4520117005000",
        "item_name": "食品经营许可", "case_type": "promised", "channel": "online", "region_code": "520102",
        "applicant": {"name": "张伟", "kind": "natural_person", "certificate_type": "resident_id", "certificate_no": "52010219900101123X", "phone": "13812345678"},
        "applied_at": "2025-09-29T09:00:00+08:00",
        // 3 working days after 2025-09-29 (Mon): 09-30, then the National Day block, 10-09, 10-10.
        "acceptance": {"department": "南明区市场监督管理局", "department_uscc": "11520000009390240A", "acceptor": "李娜",
            "accepted_at": "2025-09-29T10:00:00+08:00", "promised_finish_at": "2025-10-10T10:00:00+08:00", "time_limit_working_days": 3},
        "review_opinion": "材料齐全,同意",
        "result": {"code": "approved", "finished_at": "2025-10-10T16:00:00+08:00", "certificate_no": "JY15201020000007"},
        "stage": "finished", "updated_at": "2025-10-10T16:00:00+08:00"
    });
    assert_eq!(got, expected);
}

/// Issue 16: default normalisation trims and folds values typed wholly in full-width forms, but
/// never alters Chinese text: its full-width punctuation and ideographic spaces stay.
#[test]
fn default_normalisation_keeps_chinese_text() {
    let record = json!({
        "caseNo": "C1", "version": "　３　", "itemCode": "X1", "itemName": " 食品经营许可（延续）：第１次！ ",
        "applicant": {"name": "欧阳　娜娜", "type": "1", "idType": "111", "idNo": "５２０１０２１９９００１０１１２３Ｘ"},
        "areaCode": "５２０１０２", "applyTime": "２０２５－０９－２９　０９：００：００",
        "deptName": "南明区市场监督管理局", "deptCode": "11520000009390240A", "acceptor": "李娜",
        "acceptTime": "2025-09-29 10:00:00", "timeLimit": 3,
        "status": "10", "opinion": "材料齐全，同意。", "finishTime": "2025-10-10 16:00:00",
        "updatedAt": "2025-10-10T16:00:00+08:00"
    });
    let case = mapping("sim-rest").apply(&Raw::Json(record), now()).unwrap();
    assert_eq!(case.item_name, "食品经营许可（延续）：第１次！");
    assert_eq!(case.applicant.name, "欧阳　娜娜");
    assert_eq!(case.review_opinion.as_deref(), Some("材料齐全，同意。"));
    assert_eq!(case.version, 3);
    assert_eq!(case.applicant.certificate_no, "52010219900101123X");
    assert_eq!(case.region_code, "520102");
    assert_eq!(case.applied_at.to_rfc3339(), "2025-09-29T09:00:00+08:00");
}

/// Applies the REST mapping to the golden record with one change, and checks the one error.
fn check_error(
    edit: impl FnOnce(&mut Value),
    rule: &str,
    source: Option<&str>,
    value: Option<&str>,
    message_has: &str,
) {
    let mut record = json!({
        "caseNo": "C1", "version": 1, "itemCode": "X1", "itemName": "食品经营许可",
        "applicant": {"name": "张伟", "type": "1", "idType": "111", "idNo": "52010219900101123X"},
        "areaCode": "520102", "applyTime": "2025-09-29 09:00:00", "status": "00", "updatedAt": "2025-09-29T09:00:00+08:00"
    });
    edit(&mut record);
    let errors: Vec<MappingError> = mapping("sim-rest").apply(&Raw::Json(record), now()).unwrap_err();
    let found = errors
        .iter()
        .find(|e| e.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} error in {errors:?}"));
    assert_eq!(found.source.as_deref(), source, "{found}");
    assert_eq!(found.key.as_deref(), Some("C1"), "{found}");
    assert_eq!(found.value.as_deref(), value, "{found}");
    assert!(found.message.contains(message_has), "{found}");
}

#[test]
fn each_error_kind_names_rule_path_key_and_value() {
    check_error(
        |r| r["status"] = json!("99"),
        "stage",
        Some("/status"),
        Some("99"),
        "not in table \"stage\": add this code",
    );
    check_error(
        |r| r["applyTime"] = json!("2025/09/29"),
        "applied_at",
        Some("/applyTime"),
        Some("2025/09/29"),
        "does not match the format",
    );
    check_error(
        |r| r["version"] = json!("v2"),
        "version",
        Some("/version"),
        Some("v2"),
        "not a whole number",
    );
    check_error(
        |r| r["applicant"]["idNo"] = json!("520102199001011231"),
        "applicant.certificate_no",
        Some("/applicant/idNo"),
        None,
        "check character is 1 but should be X",
    );
    check_error(
        |r| r["applicant"]["type"] = json!("7"),
        "applicant.kind",
        Some("/applicant/type"),
        Some("7"),
        "not in table",
    );
    check_error(
        |r| {
            r["acceptTime"] = json!("2025-09-29 10:00:00");
            r["timeLimit"] = json!("three");
            r["deptName"] = json!("局");
            r["deptCode"] = json!("11520000009390240A");
            r["acceptor"] = json!("李娜");
        },
        "acceptance.promised_finish_at",
        Some("/acceptTime"),
        Some("three"),
        "add_working_days",
    );
    let errors = mapping("sim-rest")
        .apply(&Raw::Json(json!([1, 2])), now())
        .unwrap_err();
    assert!(errors.iter().any(|e| e.rule == "case_no"), "{errors:?}");
}

/// The REST mapping's errors for the minimal record changed by `edit`, each as displayed.
fn errors_of(edit: impl FnOnce(&mut Value)) -> Vec<MappingError> {
    let mut record = json!({
        "caseNo": "C1", "version": 1, "itemCode": "X1", "itemName": "食品经营许可",
        "applicant": {"name": "张伟", "type": "1", "idType": "111", "idNo": "52010219900101123X"},
        "areaCode": "520102", "applyTime": "2025-09-29 09:00:00", "status": "00", "updatedAt": "2025-09-29T09:00:00+08:00"
    });
    edit(&mut record);
    mapping("sim-rest").apply(&Raw::Json(record), now()).unwrap_err()
}

/// The one error of rule `rule`, which names `source` and says `says` (and only once).
fn one_error<'a>(errors: &'a [MappingError], rule: &str, source: &str, says: &str) -> &'a MappingError {
    let found: Vec<&MappingError> = errors.iter().filter(|e| e.rule == rule).collect();
    assert_eq!(found.len(), 1, "one {rule} error in {errors:#?}");
    let error = found[0];
    let shown = error.to_string();
    assert_eq!(error.source.as_deref(), Some(source), "{shown}");
    assert_eq!(error.key.as_deref(), Some("C1"), "{shown}");
    assert!(shown.contains(&format!("(from {source})")), "{shown}");
    assert_eq!(shown.matches(says).count(), 1, "{shown} says {says:?} once");
    error
}

/// Issue 16: one message per cause of a missing value, each naming the rule and the source path.
#[test]
fn each_cause_of_a_missing_value_has_its_own_message() {
    let absent = errors_of(|r| r.as_object_mut().unwrap().remove("itemName").map(drop).unwrap());
    one_error(
        &absent,
        "item_name",
        "/itemName",
        "the record has nothing at this path",
    );

    let empty = errors_of(|r| r["itemName"] = json!("   "));
    let error = one_error(&empty, "item_name", "/itemName", "empty in this record");
    assert!(!error.message.contains("nothing at this path"), "{error}");

    // An acceptor without an acceptance time: the department's `when` does not hold.
    let skipped = errors_of(|r| r["acceptor"] = json!("李娜"));
    one_error(
        &skipped,
        "acceptance.department",
        "/deptName",
        "the rule's when does not hold (/acceptTime is absent or empty)",
    );
    one_error(
        &skipped,
        "acceptance.department_uscc",
        "/deptCode",
        "when does not hold",
    );

    // A finish time on an open case: the result block needs a code, and "00" maps to "".
    let table_empty = errors_of(|r| r["finishTime"] = json!("2025-10-10 16:00:00"));
    let error = one_error(
        &table_empty,
        "result.code",
        "/status",
        "table \"result\" maps this code to \"\" (no value)",
    );
    assert_eq!(error.value.as_deref(), Some("00"));

    let not_in_table = errors_of(|r| r["status"] = json!("99"));
    one_error(&not_in_table, "stage", "/status", "not in table \"stage\"");
}

/// Issue 16: a record's errors come all at once (a code-table miss does not hide the rest), and
/// the rule that made a block exist comes before the fields the block then lacks.
#[test]
fn all_errors_at_once_with_the_root_cause_first() {
    let errors = errors_of(|r| {
        r["status"] = json!("99");
        r.as_object_mut().unwrap().remove("itemName");
        r["acceptor"] = json!("李娜");
    });
    let rules: Vec<&str> = errors.iter().map(|e| e.rule.as_str()).collect();
    for rule in [
        "acceptance.acceptor",
        "stage",
        "item_name",
        "acceptance.department",
        "acceptance.department_uscc",
        "acceptance.accepted_at",
        "acceptance.promised_finish_at",
    ] {
        assert!(rules.contains(&rule), "{rule} in {rules:?}");
    }
    let cause = &errors[0];
    assert_eq!(cause.rule, "acceptance.acceptor", "{errors:#?}");
    assert_eq!(cause.source.as_deref(), Some("/acceptor"));
    assert_eq!(cause.value.as_deref(), Some("李*"), "masked");
    assert!(
        cause
            .message
            .contains("gives the case its acceptance (受理) block")
            && cause
                .message
                .contains("acceptance.department, acceptance.department_uscc")
            && cause.message.contains("add a when to this rule"),
        "{cause}"
    );
    assert!(!format!("{errors:?}").contains("李娜"));
}

/// Issue 16: a validation error names the rule that supplied the value, not another whose
/// canonical name it starts with (the credit code came from /deptCode, not /deptName).
#[test]
fn a_validation_error_names_the_path_that_supplied_the_value() {
    let errors = errors_of(|r| {
        r["status"] = json!("01");
        r["acceptTime"] = json!("2025-09-29 10:00:00");
        r["timeLimit"] = json!(3);
        r["deptName"] = json!("南明区市场监督管理局");
        r["deptCode"] = json!("520102");
        r["acceptor"] = json!("李娜");
    });
    let error = one_error(
        &errors,
        "acceptance.department_uscc",
        "/deptCode",
        "acceptance.department_uscc",
    );
    assert!(
        error.check.as_deref().is_some_and(|c| c.starts_with("uscc.")),
        "{error}"
    );
}

/// A rule's `format` reads a timestamp as chrono's `parse_from_str` reads it (the mapping parses
/// the format once, when it compiles): a date and time, a date alone at midnight, in Beijing time;
/// a value the format does not fit, a date that does not exist and a format chrono cannot read are
/// each the record's error.
#[test]
fn a_rule_format_reads_timestamps_as_chrono_does() {
    let beijing = FixedOffset::east_opt(8 * 3600).unwrap();
    let (mut read, mut refused) = (0, 0);
    for (format, value) in [
        ("%Y-%m-%d %H:%M:%S", "2025-09-29 09:00:05"),
        ("%Y-%m-%d", "2025-09-29"),
        ("%Y%m%d%H%M%S", "20250929090005"),
        ("%Y年%m月%d日 %H时%M分", "2025年09月29日 09时05分"),
        ("%d/%m/%Y %H:%M", "29/09/2025 09:05"),
        ("%Y-%m-%dT%H:%M:%S%.f", "2025-09-29T09:00:05.250"),
        ("%Y-%m-%d %H:%M:%S", "2025-09-29"),
        ("%Y-%m-%d", "2025-02-30"),
        ("%Y-%m-%d %Q", "2025-09-29 x"),
    ] {
        let line = format!(r#"applied_at = {{ from = "/applyTime", format = "{format}" }}"#);
        let mapping = mapping_with_rule("applied_at", &line);
        let mut record = minimal_record();
        record["applyTime"] = json!(value);
        record["updatedAt"] = json!("2025-09-30T09:00:00+08:00");
        let expected = NaiveDateTime::parse_from_str(value, format)
            .or_else(|_| NaiveDate::parse_from_str(value, format).map(|d| d.and_time(NaiveTime::MIN)))
            .ok()
            .and_then(|t| t.and_local_timezone(beijing).single());
        match (mapping.apply(&Raw::Json(record), now()), expected) {
            (Ok(case), Some(at)) => {
                assert_eq!(case.applied_at, at, "{format} reading {value}");
                read += 1;
            }
            (Err(errors), None) => {
                let error = errors.iter().find(|e| e.rule == "applied_at");
                let shown = error.map(ToString::to_string).unwrap_or_default();
                assert!(
                    shown.contains("does not match the format"),
                    "{format} reading {value}: {errors:?}"
                );
                refused += 1;
            }
            (got, expected) => panic!("{format} reading {value}: {got:?}, chrono reads {expected:?}"),
        }
    }
    assert_eq!((read, refused), (6, 3));
}

/// The REST mapping (`mappings/sim-rest.toml`) with `rule`'s line replaced by `line`.
fn mapping_with_rule(rule: &str, line: &str) -> Mapping {
    let text =
        std::fs::read_to_string(format!("{}/mappings/sim-rest.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let start = text.find(&format!("{rule} = {{")).unwrap();
    let end = start + text[start..].find('\n').unwrap();
    Mapping::compile(&format!("{}{line}{}", &text[..start], &text[end..]))
        .unwrap_or_else(|issues| panic!("{line}: {issues:?}"))
}

/// The smallest record the REST mapping maps.
fn minimal_record() -> Value {
    json!({
        "caseNo": "C1", "version": 1, "itemCode": "X1", "itemName": "食品经营许可",
        "applicant": {"name": "张伟", "type": "1", "idType": "111", "idNo": "52010219900101123X"},
        "areaCode": "520102", "applyTime": "2025-09-29 09:00:00", "status": "00", "updatedAt": "2025-09-29T09:00:00+08:00"
    })
}

/// The REST mapping with `rule`'s line replaced by `line`, applied to the minimal record changed
/// by `edit`: the one error of `rule`, as displayed.
fn error_with_rule(rule: &str, line: &str, edit: impl FnOnce(&mut Value)) -> (MappingError, String) {
    let mapping = mapping_with_rule(rule, line);
    let mut record = minimal_record();
    edit(&mut record);
    let errors = mapping.apply(&Raw::Json(record), now()).unwrap_err();
    let name = rule.trim_matches('"');
    let found: Vec<&MappingError> = errors.iter().filter(|e| e.rule == name).collect();
    assert_eq!(found.len(), 1, "one {name} error in {errors:#?}");
    (found[0].clone(), found[0].to_string())
}

/// Issue 16: when the source gave nothing and the rule's default is the value that fails (a
/// code-table miss, an empty table entry, a bad format, the case's validation, a block that
/// then lacks its required fields), the error says
/// the value is the default and does not blame the source path; the same value read from the
/// source names the path.
#[test]
fn an_error_about_a_default_says_the_value_came_from_the_default() {
    let remove = |pointer: &'static str| {
        move |r: &mut Value| {
            let (parent, name) = pointer.rsplit_once('/').unwrap();
            let parent = if parent.is_empty() {
                r
            } else {
                r.pointer_mut(parent).unwrap()
            };
            parent.as_object_mut().unwrap().remove(name).unwrap();
        }
    };
    let default = "the value is the rule's default";
    for (rule, line, edit, value, says) in [
        (
            r#""applicant.kind""#,
            r#""applicant.kind" = { from = "/applicant/type", table = "applicant_kind", default = "9" }"#,
            Box::new(remove("/applicant/type")) as Box<dyn FnOnce(&mut Value)>,
            Some("9"),
            "(/applicant/type is absent or empty in this record): not in table \"applicant_kind\"",
        ),
        (
            r#""result.code""#,
            r#""result.code" = { from = "/result", table = "result", default = "00" }"#,
            Box::new(|r: &mut Value| r["finishTime"] = json!("2025-10-10 16:00:00")),
            Some("00"),
            "(/result is absent or empty in this record): required here, but table \"result\" maps this code to \"\"",
        ),
        (
            "applied_at",
            r#"applied_at = { from = "/applyTime", format = "%Y-%m-%d %H:%M:%S", default = "2025/09/29" }"#,
            Box::new(|r: &mut Value| r["applyTime"] = json!("  ")),
            Some("2025/09/29"),
            "(/applyTime is absent or empty in this record): does not match the format",
        ),
        (
            r#""applicant.certificate_no""#,
            r#""applicant.certificate_no" = { from = "/applicant/idNo", default = "520102199001011231" }"#,
            Box::new(remove("/applicant/idNo")),
            None,
            "(/applicant/idNo is absent or empty in this record): ",
        ),
        (
            r#""acceptance.department""#,
            r#""acceptance.department" = { from = "/deptName", default = "政务服务中心" }"#,
            Box::new(|_: &mut Value| {}),
            Some("政务服务中心"),
            "(/deptName is absent or empty in this record): this value gives the case its acceptance (受理) block",
        ),
    ] {
        let (error, shown) = error_with_rule(rule, line, edit);
        assert_eq!(error.source, None, "{shown}");
        assert_eq!(error.value.as_deref(), value, "{shown}");
        assert!(!shown.contains("(from "), "{shown}");
        assert!(shown.contains(&format!("{default} {says}")), "{shown}");
    }

    // The same failing values read from the source name the source path, and no default.
    for (rule, line, edit, source) in [
        (
            r#""applicant.kind""#,
            r#""applicant.kind" = { from = "/applicant/type", table = "applicant_kind", default = "1" }"#,
            Box::new(|r: &mut Value| r["applicant"]["type"] = json!("9")) as Box<dyn FnOnce(&mut Value)>,
            "/applicant/type",
        ),
        (
            r#""applicant.certificate_no""#,
            r#""applicant.certificate_no" = { from = "/applicant/idNo", default = "52010219900101123X" }"#,
            Box::new(|r: &mut Value| r["applicant"]["idNo"] = json!("520102199001011231")),
            "/applicant/idNo",
        ),
    ] {
        let (error, shown) = error_with_rule(rule, line, edit);
        assert_eq!(error.source.as_deref(), Some(source), "{shown}");
        assert!(!shown.contains(default), "{shown}");
    }
}

#[test]
fn personal_values_are_masked_in_errors() {
    let text = std::fs::read_to_string(format!("{}/mappings/sim-rest.toml", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .replace(
            r#""applicant.certificate_no" = { from = "/applicant/idNo" }"#,
            r#""applicant.certificate_no" = { from = "/applicant/idNo", table = "ids" }"#,
        )
        + "\n[tables.ids]\n\"0\" = \"0\"\n";
    let mapping = Mapping::compile(&text).unwrap();
    let record = json!({"caseNo": "C1", "applicant": {"idNo": "52010219900101123X"}});
    let errors = mapping.apply(&Raw::Json(record), now()).unwrap_err();
    let error = errors
        .iter()
        .find(|e| e.rule == "applicant.certificate_no")
        .unwrap();
    assert_eq!(error.value.as_deref(), Some("5201**********123X"));
    assert!(!format!("{errors:?}").contains("52010219900101123X"));
}

#[test]
fn config_errors_are_all_reported_with_paths() {
    let text = r#"
[source]
shape = "json"
key = "caseNo"
[fields]
case_no = { from = "/caseNo", const = "x" }
"applicant.nmae" = { from = "/n" }
stage = { from = "/status", table = "stages" }
channel = { const = "fax" }
case_type = { from = "/t", table = "types" }
applied_at = { from = "/a", convert = "epoch_millis" }
"acceptance.acceptor" = { from = "/acceptor" }
[tables.types]
"1" = "sometimes"
[tables.unused]
"a" = "b"
"#;
    let issues = Mapping::compile(text).unwrap_err();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    for expected in [
        "source.key",
        "fields.\"case_no\"",
        "fields.\"applicant.nmae\"",
        "fields.\"stage\".table",
        "fields.\"channel\".const",
        "fields.\"case_type\".table",
        "fields.\"applied_at\".convert",
        "fields.\"acceptance.department\"",
        "fields.\"item_name\"",
        "tables.unused",
    ] {
        assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
    }
}

/// Issue 16: a mapping's shape errors come all at once, each at its full path.
#[test]
fn shape_errors_are_all_reported_with_full_paths() {
    let text = "[source]\nshape = \"json\"\ncolour = 1\n[fields]\n\"applicant.name\" = { form = \"/n\" }\n\
                case_no = { from = 7 }\n";
    let issues = Mapping::compile(text).unwrap_err();
    let shown: Vec<String> = issues.iter().map(ToString::to_string).collect();
    for expected in [
        "source.key: missing field",
        "source.colour: unknown field `colour`",
        "fields.\"applicant.name\".form: unknown field `form`",
        "fields.case_no.from: invalid type",
    ] {
        assert!(
            shown.iter().any(|s| s.starts_with(expected)),
            "{expected} missing from {shown:#?}"
        );
    }
    let syntax = Mapping::compile("[source]\nshape = \"json\"\nkey = \n").unwrap_err();
    assert_eq!(syntax[0].path, "line 3", "{syntax:?}");
}

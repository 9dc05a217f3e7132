//! Mapping throughput per record shape: the engine with each simulator's reference mapping
//! against a hand-written mapping of the same records into the same cases (checked equal before
//! timing): serde for JSON, direct element and column lookups for XML and SQL rows.

use anyhow::Context as _;
use chrono::{DateTime, FixedOffset, NaiveDateTime};
use futures_util::TryStreamExt as _;
use ronghe_adapters::sim::{SimOptions, data, rest, soap, sql};
use ronghe_adapters::{Adapter, AdapterConfig, Fixed, Raw, Record, SqlValue};
use serde::Deserialize;

use super::{Figure, fastest};
use crate::calendar::Calendar;
use crate::case::{
    Acceptance, Applicant, ApplicantKind, Case, CaseResult, CaseType, CertificateType, Channel, ResultCode,
    Stage,
};
use crate::mapping::Mapping;

/// The reference mappings of the simulators, as reviewed in `mappings/`.
pub(super) const REST_MAPPING: &str = include_str!("../../mappings/sim-rest.toml");
const SOAP_MAPPING: &str = include_str!("../../mappings/sim-soap.toml");
pub(super) const SQL_MAPPING: &str = include_str!("../../mappings/sim-sql.toml");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestRecord {
    case_no: String,
    version: i64,
    item_code: String,
    item_name: String,
    applicant: RestApplicant,
    area_code: String,
    dept_name: String,
    dept_code: String,
    acceptor: Option<String>,
    apply_time: String,
    accept_time: Option<String>,
    finish_time: Option<String>,
    time_limit: u32,
    status: String,
    opinion: Option<String>,
    licence_no: Option<String>,
    updated_at: String,
}

#[derive(Deserialize)]
struct RestApplicant {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "idType")]
    id_type: String,
    #[serde(rename = "idNo")]
    id_no: String,
    mobile: Option<String>,
    #[serde(rename = "accountId")]
    account_id: Option<String>,
}

/// Beijing time in `format`, as every simulator writes it.
fn local(text: &str, format: &str) -> anyhow::Result<DateTime<FixedOffset>> {
    let offset = FixedOffset::east_opt(8 * 3600).context("offset")?;
    NaiveDateTime::parse_from_str(text, format)
        .with_context(|| format!("{text:?} is not {format}"))?
        .and_local_timezone(offset)
        .single()
        .context("local time")
}

/// What each shape's hand-written extraction yields, by canonical meaning; `build` makes the
/// case from it, so the three baselines differ only in how they read their shape.
struct Flat {
    case_no: String,
    version: i64,
    item_code: String,
    item_name: String,
    channel: Channel,
    region: String,
    name: String,
    company: bool,
    certificate_type: CertificateType,
    certificate_no: String,
    phone: Option<String>,
    account: Option<String>,
    applied_at: DateTime<FixedOffset>,
    /// (accepted at, acceptor, department, department USCC)
    accepted: Option<(DateTime<FixedOffset>, String, String, String)>,
    time_limit: u32,
    stage: Stage,
    result: Option<ResultCode>,
    review_opinion: Option<String>,
    description: Option<String>,
    finished_at: Option<DateTime<FixedOffset>>,
    handler: Option<String>,
    certificate_name: Option<String>,
    certificate_no_issued: Option<String>,
    updated_at: DateTime<FixedOffset>,
}

/// The hand-written case construction shared by every baseline.
fn build(f: Flat, now: DateTime<FixedOffset>) -> anyhow::Result<Case> {
    let acceptance = match f.accepted {
        Some((accepted_at, acceptor, department, department_uscc)) => {
            let due = Calendar::embedded().add_working_days(accepted_at.date_naive(), f.time_limit)?;
            Some(Acceptance {
                department,
                department_uscc,
                acceptor,
                accepted_at,
                document_no: None,
                promised_finish_at: due
                    .and_time(accepted_at.time())
                    .and_local_timezone(*accepted_at.offset())
                    .single()
                    .context("due")?,
                time_limit_working_days: Some(f.time_limit),
            })
        }
        None => None,
    };
    let result = match (f.result, f.finished_at) {
        (Some(code), Some(finished_at)) => Some(CaseResult {
            code,
            description: f.description,
            finished_at,
            handler: f.handler,
            certificate_name: f.certificate_name,
            certificate_no: f.certificate_no_issued,
        }),
        _ => None,
    };
    let case = Case {
        case_no: f.case_no,
        version: f.version,
        implementation_code: f.item_code,
        item_name: f.item_name,
        item_type: None,
        case_type: CaseType::Promised,
        channel: f.channel,
        region_code: f.region,
        applicant: Applicant {
            name: f.name,
            kind: if f.company {
                ApplicantKind::LegalPerson
            } else {
                ApplicantKind::NaturalPerson
            },
            certificate_type: f.certificate_type,
            certificate_no: f.certificate_no,
            phone: f.phone,
            address: None,
            legal_representative: None,
            account: f.account,
        },
        agent: None,
        applied_at: f.applied_at,
        acceptance,
        steps: Vec::new(),
        review_opinion: f.review_opinion,
        result,
        stage: f.stage,
        updated_at: f.updated_at,
    };
    anyhow::ensure!(case.validate(now).is_valid(), "invalid case {}", case.case_no);
    Ok(case)
}

const DASHED: &str = "%Y-%m-%d %H:%M:%S";

/// The hand-written equivalent of `mappings/sim-rest.toml`: serde into the system's shape.
fn by_hand_rest(raw: &Raw, now: DateTime<FixedOffset>) -> anyhow::Result<Case> {
    let Raw::Json(value) = raw else {
        anyhow::bail!("not JSON")
    };
    let r = RestRecord::deserialize(value)?;
    let finished = matches!(r.status.as_str(), "10" | "11");
    let accepted = match &r.accept_time {
        Some(at) => Some((
            local(at, DASHED)?,
            r.acceptor.clone().context("acceptor")?,
            r.dept_name.clone(),
            r.dept_code.clone(),
        )),
        None => None,
    };
    build(
        Flat {
            result: match r.status.as_str() {
                "10" => Some(ResultCode::Approved),
                "11" => Some(ResultCode::Rejected),
                "20" => Some(ResultCode::NotAccepted),
                _ => None,
            },
            description: if matches!(r.status.as_str(), "11" | "20") {
                r.opinion.clone()
            } else {
                None
            },
            review_opinion: if finished { r.opinion } else { None },
            stage: match r.status.as_str() {
                "00" => Stage::Application,
                "01" => Stage::Acceptance,
                "02" => Stage::Review,
                "20" => Stage::NotAccepted,
                _ => Stage::Finished,
            },
            case_no: r.case_no,
            version: r.version,
            item_code: r.item_code,
            item_name: r.item_name,
            channel: Channel::Online,
            region: r.area_code,
            name: r.applicant.name,
            company: r.applicant.kind == "2",
            certificate_type: certificate_type(&r.applicant.id_type)?,
            certificate_no: r.applicant.id_no,
            phone: r.applicant.mobile,
            account: r.applicant.account_id,
            applied_at: local(&r.apply_time, DASHED)?,
            accepted,
            time_limit: r.time_limit,
            finished_at: r.finish_time.as_deref().map(|t| local(t, DASHED)).transpose()?,
            handler: None,
            certificate_name: None,
            certificate_no_issued: r.licence_no,
            updated_at: DateTime::parse_from_rfc3339(&r.updated_at)?,
        },
        now,
    )
}

fn certificate_type(code: &str) -> anyhow::Result<CertificateType> {
    Ok(match code {
        "111" => CertificateType::ResidentId,
        "49" | "001" => CertificateType::UnifiedSocialCreditCode,
        "414" => CertificateType::Passport,
        "516" => CertificateType::HongKongMacaoPermit,
        other => anyhow::bail!("unknown certificate type {other:?}"),
    })
}

/// The hand-written equivalent of `mappings/sim-soap.toml`: straight walks of the parsed element.
fn by_hand_soap(raw: &Raw, now: DateTime<FixedOffset>) -> anyhow::Result<Case> {
    const DATE: &str = "%Y年%m月%d日";
    const TIME: &str = "%Y年%m月%d日 %H时%M分";
    let Raw::Xml(e) = raw else {
        anyhow::bail!("not XML")
    };
    let text = |name: &str| {
        e.child(name)
            .map(|c| c.text.trim().to_owned())
            .filter(|t| !t.is_empty())
    };
    let need = |name: &str| text(name).with_context(|| format!("no {name}"));
    let applicant = e.child("申请人").context("no 申请人")?;
    let of_applicant = |name: &str| applicant.child(name).map(|c| c.text.trim().to_owned());
    let department = e.child("受理部门").context("no 受理部门")?;
    let status = need("办理状态")?;
    let accepted = match text("受理时间") {
        Some(at) => Some((
            local(&at, TIME)?,
            need("受理人")?,
            department.text.trim().to_owned(),
            department.attribute("代码").context("no 代码")?.to_owned(),
        )),
        None => None,
    };
    let applied = chrono::NaiveDate::parse_from_str(&need("申请日期")?, DATE)?;
    let issued = text("待遇核定编号");
    build(
        Flat {
            case_no: need("办件编号")?,
            version: need("版本号")?.parse()?,
            item_code: need("事项编码")?,
            item_name: need("事项名称")?,
            channel: Channel::Window,
            region: need("行政区划")?,
            name: of_applicant("姓名").context("no 姓名")?,
            company: applicant.attribute("类型") == Some("2"),
            certificate_type: certificate_type(&of_applicant("证件类型").context("no 证件类型")?)?,
            certificate_no: of_applicant("证件号码").context("no 证件号码")?,
            phone: of_applicant("联系电话").filter(|p| !p.is_empty()),
            account: None,
            applied_at: local(&format!("{} 00时00分", applied.format(DATE)), TIME)?,
            accepted,
            time_limit: need("承诺时限")?.parse()?,
            stage: match status.as_str() {
                "01" => Stage::Application,
                "02" => Stage::Acceptance,
                "03" => Stage::Review,
                "07" => Stage::NotAccepted,
                _ => Stage::Finished,
            },
            result: match status.as_str() {
                "07" => Some(ResultCode::NotAccepted),
                "08" => Some(ResultCode::Rejected),
                "09" => Some(ResultCode::Approved),
                _ => None,
            },
            review_opinion: matches!(status.as_str(), "08" | "09")
                .then(|| text("审核意见"))
                .flatten(),
            description: matches!(status.as_str(), "07" | "08")
                .then(|| text("审核意见"))
                .flatten(),
            finished_at: text("办结时间").map(|t| local(&t, TIME)).transpose()?,
            handler: None,
            certificate_name: issued.as_ref().map(|_| "待遇核定通知书".to_owned()),
            certificate_no_issued: issued,
            updated_at: local(&need("更新时间")?, TIME)?,
        },
        now,
    )
}

/// The hand-written equivalent of `mappings/sim-sql.toml`: columns by name.
fn by_hand_sql(raw: &Raw, now: DateTime<FixedOffset>) -> anyhow::Result<Case> {
    let Raw::Row(row) = raw else {
        anyhow::bail!("not a row")
    };
    let text = |column: &str| {
        row.get(column)
            .and_then(SqlValue::as_text)
            .filter(|t| !t.trim().is_empty())
    };
    let need = |column: &str| text(column).with_context(|| format!("no {column}"));
    let status = need("BLZT")?;
    let result = text("BJJGDM");
    let accepted = match text("SLSJ") {
        Some(at) => Some((
            local(&at, DASHED)?,
            need("SLRXM")?,
            need("SLBM")?,
            need("SLBMDM")?,
        )),
        None => None,
    };
    let rejected = matches!(result.as_deref(), Some("1" | "6"));
    build(
        Flat {
            case_no: need("SBLSH")?,
            version: need("BBH")?.parse()?,
            item_code: need("SXBM")?,
            item_name: need("SXMC")?,
            channel: Channel::Window,
            region: need("XZQHDM")?,
            name: need("SQRMC")?,
            company: need("SQRLX")? == "2",
            certificate_type: certificate_type(&need("SQRZJLX")?)?,
            certificate_no: need("SQRZJHM")?,
            phone: text("LXDH"),
            account: None,
            applied_at: local(&need("SQSJ")?, "%Y%m%d%H%M%S")?,
            accepted,
            time_limit: need("CNBJSX")?.parse()?,
            stage: match status.as_str() {
                "5" => Stage::Application,
                "8" => Stage::Acceptance,
                "13" => Stage::Review,
                "9" => Stage::NotAccepted,
                _ => Stage::Finished,
            },
            result: match result.as_deref() {
                Some("0") => Some(ResultCode::Approved),
                Some("1") => Some(ResultCode::Rejected),
                Some("6") => Some(ResultCode::NotAccepted),
                _ => None,
            },
            review_opinion: if status == "15" { text("SPYJ") } else { None },
            description: if rejected { text("SPYJ") } else { None },
            finished_at: text("BJSJ").map(|t| local(&t, DASHED)).transpose()?,
            handler: text("SPRXM"),
            certificate_name: None,
            certificate_no_issued: text("ZZBH"),
            updated_at: local(&need("GXSJ")?, DASHED)?,
        },
        now,
    )
}

type ByHand = fn(&Raw, DateTime<FixedOffset>) -> anyhow::Result<Case>;

/// Times the engine with `mapping_text` against `by_hand` over the same records, after checking
/// that both give the same cases.
fn measure(
    name: &str,
    mapping_text: &str,
    records: &[Raw],
    bytes: usize,
    by_hand: ByHand,
    rounds: usize,
) -> anyhow::Result<Figure> {
    let mapping =
        Mapping::compile(mapping_text).map_err(|issues| anyhow::anyhow!("reference mapping: {issues:?}"))?;
    let now = chrono::Utc::now().fixed_offset();
    for raw in records.iter().take(1000) {
        let engine = mapping
            .apply(raw, now)
            .map_err(|e| anyhow::anyhow!("{name}: engine: {e:?}"))?;
        anyhow::ensure!(
            engine == by_hand(raw, now)?,
            "{name}: the engine and the hand-written mapping disagree on {}",
            engine.case_no
        );
    }
    let (engine, mapped) = fastest(rounds, || {
        records.iter().filter(|r| mapping.apply(r, now).is_ok()).count()
    });
    let (baseline, by_hand_ok) = fastest(rounds, || {
        records.iter().filter(|r| by_hand(r, now).is_ok()).count()
    });
    let count = records.len();
    anyhow::ensure!(
        mapped == count && by_hand_ok == count,
        "{name}: not every record mapped: engine {mapped}, by hand {by_hand_ok} of {count}"
    );
    Ok(Figure {
        name: name.to_owned(),
        items: count,
        bytes,
        seconds: engine.as_secs_f64(),
        baseline_seconds: baseline.as_secs_f64(),
        ..Default::default()
    })
}

/// Every record a driver reads from its system.
async fn read_all(adapter: &dyn Adapter) -> anyhow::Result<Vec<Raw>> {
    let records: Vec<Record> = adapter.read(None).try_collect().await?;
    Ok(records.into_iter().map(|r| r.raw).collect())
}

/// The total size of the simulators' source text for `count` cases, in one shape.
fn source_bytes(count: usize, text: impl Fn(&data::LegacyCase) -> usize) -> usize {
    (0..count).map(|i| text(&data::case(2025, i))).sum()
}

async fn driver(config: &str, secrets: &Fixed) -> anyhow::Result<Box<dyn Adapter>> {
    Ok(AdapterConfig::from_toml(config)
        .map_err(|e| anyhow::anyhow!("simulator config: {e:?}"))?
        .validate()
        .map_err(|e| anyhow::anyhow!("simulator config: {e:?}"))?
        .build(secrets)
        .await?)
}

/// The SOAP simulator's records as its driver reads them (parsed XML elements).
async fn soap_records(count: usize) -> anyhow::Result<Vec<Raw>> {
    let sim = soap::SoapSim::start(&SimOptions {
        cases: count,
        ..Default::default()
    })
    .await?;
    let secrets = Fixed([("env:SBDY_PASSWORD".to_owned(), soap::PASSWORD.to_owned())].into());
    let adapter = driver(
        &soap::adapter_config(&sim.endpoint(), "env:SBDY_PASSWORD"),
        &secrets,
    )
    .await?;
    let records = read_all(adapter.as_ref()).await;
    sim.running.stop().await;
    records
}

/// The SQL simulator's rows as its driver reads them from a SQLite file.
async fn sql_records(count: usize) -> anyhow::Result<Vec<Raw>> {
    let path = std::env::temp_dir().join(format!("ronghe-bench-sql-{}.db", std::process::id()));
    let url = format!("sqlite://{}", path.display());
    sql::load(&url, 2025, count).await?;
    let adapter = driver(&sql::adapter_config(&url, 1000), &Fixed::default()).await?;
    let records = read_all(adapter.as_ref()).await;
    drop(adapter);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    records
}

/// Maps `count` records of each simulator (JSON, XML, SQL rows) with the engine and by hand;
/// the fastest of `rounds` each.
pub async fn run(count: usize, rounds: usize) -> anyhow::Result<Vec<Figure>> {
    let json: Vec<Raw> = (0..count)
        .map(|i| Raw::Json(rest::to_json(&data::case(2025, i))))
        .collect();
    let json_bytes = json.iter().map(|r| r.to_json().to_string().len()).sum();
    let xml = soap_records(count).await?;
    let xml_bytes = source_bytes(count, |c| soap::case_xml(c).len());
    let rows = sql_records(count).await?;
    let row_bytes = source_bytes(count, |c| {
        sql::case_row(c)
            .iter()
            .map(|v| v.as_text().map_or(0, |t| t.len()))
            .sum()
    });
    tokio::task::spawn_blocking(move || {
        Ok(vec![
            measure(
                "mapping json (REST records)",
                REST_MAPPING,
                &json,
                json_bytes,
                by_hand_rest,
                rounds,
            )?,
            measure(
                "mapping xml (SOAP records)",
                SOAP_MAPPING,
                &xml,
                xml_bytes,
                by_hand_soap,
                rounds,
            )?,
            measure(
                "mapping row (SQL rows)",
                SQL_MAPPING,
                &rows,
                row_bytes,
                by_hand_sql,
                rounds,
            )?,
        ])
    })
    .await?
}

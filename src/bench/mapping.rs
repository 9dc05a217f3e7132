//! Mapping throughput: the engine with the reference REST mapping against a hand-written serde
//! mapping of the same records into the same cases (checked equal before timing).

use anyhow::Context as _;
use chrono::{DateTime, FixedOffset, NaiveDateTime};
use ronghe_adapters::Raw;
use ronghe_adapters::sim::{data, rest};
use serde::Deserialize;

use super::{Figure, fastest};
use crate::calendar::Calendar;
use crate::case::{
    Acceptance, Applicant, ApplicantKind, Case, CaseResult, CaseType, CertificateType, Channel, ResultCode,
    Stage,
};
use crate::mapping::Mapping;

/// The reference mapping of the REST simulator, as reviewed in `mappings/`.
pub(super) const REST_MAPPING: &str = include_str!("../../mappings/sim-rest.toml");

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
}

fn local(text: &str) -> anyhow::Result<DateTime<FixedOffset>> {
    let offset = FixedOffset::east_opt(8 * 3600).context("offset")?;
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")?
        .and_local_timezone(offset)
        .single()
        .context("local time")
}

/// The hand-written equivalent of `mappings/sim-rest.toml`.
fn by_hand(raw: &Raw, now: DateTime<FixedOffset>) -> anyhow::Result<Case> {
    let Raw::Json(value) = raw else {
        anyhow::bail!("not JSON")
    };
    let r = RestRecord::deserialize(value)?;
    let finished = matches!(r.status.as_str(), "10" | "11");
    let acceptance = match &r.accept_time {
        Some(at) => {
            let accepted_at = local(at)?;
            let due = Calendar::embedded().add_working_days(accepted_at.date_naive(), r.time_limit)?;
            Some(Acceptance {
                department: r.dept_name.clone(),
                department_uscc: r.dept_code.clone(),
                acceptor: r.acceptor.clone().context("acceptor")?,
                accepted_at,
                document_no: None,
                promised_finish_at: due
                    .and_time(accepted_at.time())
                    .and_local_timezone(*accepted_at.offset())
                    .single()
                    .context("due")?,
                time_limit_working_days: Some(r.time_limit),
            })
        }
        None => None,
    };
    let result = match (r.status.as_str(), &r.finish_time) {
        (code @ ("10" | "11" | "20"), Some(at)) => Some(CaseResult {
            code: match code {
                "10" => ResultCode::Approved,
                "11" => ResultCode::Rejected,
                _ => ResultCode::NotAccepted,
            },
            description: if code == "10" { None } else { r.opinion.clone() },
            finished_at: local(at)?,
            handler: None,
            certificate_name: None,
            certificate_no: r.licence_no.clone(),
        }),
        _ => None,
    };
    let case = Case {
        case_no: r.case_no,
        version: r.version,
        implementation_code: r.item_code,
        item_name: r.item_name,
        item_type: None,
        case_type: CaseType::Promised,
        channel: Channel::Online,
        region_code: r.area_code,
        applicant: Applicant {
            name: r.applicant.name,
            kind: if r.applicant.kind == "2" {
                ApplicantKind::LegalPerson
            } else {
                ApplicantKind::NaturalPerson
            },
            certificate_type: if r.applicant.id_type == "49" {
                CertificateType::UnifiedSocialCreditCode
            } else {
                CertificateType::ResidentId
            },
            certificate_no: r.applicant.id_no,
            phone: r.applicant.mobile,
            address: None,
            legal_representative: None,
        },
        agent: None,
        applied_at: local(&r.apply_time)?,
        acceptance,
        steps: Vec::new(),
        review_opinion: if finished { r.opinion } else { None },
        result,
        stage: match r.status.as_str() {
            "00" => Stage::Application,
            "01" => Stage::Acceptance,
            "02" => Stage::Review,
            "20" => Stage::NotAccepted,
            _ => Stage::Finished,
        },
        updated_at: DateTime::parse_from_rfc3339(&r.updated_at)?,
    };
    anyhow::ensure!(case.validate(now).is_valid(), "invalid case {}", case.case_no);
    Ok(case)
}

/// Maps `count` simulator records with the engine and by hand; the fastest of `rounds` each.
pub fn run(count: usize, rounds: usize) -> anyhow::Result<Vec<Figure>> {
    let mapping =
        Mapping::compile(REST_MAPPING).map_err(|issues| anyhow::anyhow!("reference mapping: {issues:?}"))?;
    let records: Vec<Raw> = (0..count)
        .map(|i| Raw::Json(rest::to_json(&data::case(2025, i))))
        .collect();
    let bytes: usize = records.iter().map(|r| r.to_json().to_string().len()).sum();
    let now = chrono::Utc::now().fixed_offset();
    // Same cases both ways, before anything is timed.
    for raw in records.iter().take(1000) {
        let engine = mapping
            .apply(raw, now)
            .map_err(|e| anyhow::anyhow!("engine: {e:?}"))?;
        anyhow::ensure!(
            engine == by_hand(raw, now)?,
            "the engine and the hand-written mapping disagree on {}",
            engine.case_no
        );
    }
    let (engine, mapped) = fastest(rounds, || {
        records.iter().filter(|r| mapping.apply(r, now).is_ok()).count()
    });
    let (baseline, by_hand_ok) = fastest(rounds, || {
        records.iter().filter(|r| by_hand(r, now).is_ok()).count()
    });
    anyhow::ensure!(
        mapped == count && by_hand_ok == count,
        "not every record mapped: engine {mapped}, by hand {by_hand_ok} of {count}"
    );
    Ok(vec![Figure {
        name: "mapping json (REST records)".to_owned(),
        items: count,
        bytes,
        seconds: engine.as_secs_f64(),
        baseline_seconds: baseline.as_secs_f64(),
    }])
}

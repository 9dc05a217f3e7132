//! The intake pipeline shared by push (JSON and SOAP) and pull: each raw record is mapped and
//! validated (`Mapping::apply`), checked against the published rules (Art. 29), and upserted
//! idempotently; every refused record goes to the data-quality queue with its reasons. Results
//! come back per record once everything is committed, with deterministic receipt ids.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use ronghe_adapters::Raw;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Intake;
use crate::bridge::{Bridge, Resolution};
use crate::case::Case;
use crate::mapping::{Mapping, MappingError};
use crate::rules::PublishedRule;
use crate::store::{
    IntakeCommit, IntakeWrite, NewQualityItem, QualityReason, RejectReason, StoreError, UpsertOutcome,
};

/// How records reached the intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    PushJson,
    PushSoap,
    Pull,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::PushJson => "push-json",
            Channel::PushSoap => "push-soap",
            Channel::Pull => "pull",
        }
    }
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RecordResult {
    /// Stored: `outcome` is `created`, `updated`, or `stale` (an older version, kept in the
    /// history only; the current version is untouched).
    Accepted {
        outcome: Accepted,
        receipt: String,
        case_no: String,
        version: i64,
    },
    /// This very version was received before: the same receipt, nothing written.
    Duplicate {
        receipt: String,
        case_no: String,
        version: i64,
    },
    /// Refused and queued for data quality.
    Rejected {
        #[serde(skip_serializing_if = "Option::is_none")]
        case_no: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<i64>,
        reasons: Vec<QualityReason>,
        quality_item: i64,
        mapping_version: String,
    },
}

impl RecordResult {
    /// `accepted`, `duplicate` or `rejected`, for metrics and summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            RecordResult::Accepted { .. } => "accepted",
            RecordResult::Duplicate { .. } => "duplicate",
            RecordResult::Rejected { .. } => "rejected",
        }
    }
}

/// How an accepted version was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Accepted {
    Created,
    Updated,
    Stale,
}

/// The receipt of a case version: `WB-` and 20 hex characters of SHA-256 over (system, case
/// number, version, content hash), so a repeated push gets the same receipt with nothing stored.
pub fn receipt(system_id: &str, case: &Case, content_hash: &str) -> String {
    let digest = Sha256::digest(format!(
        "{system_id}\n{}\n{}\n{content_hash}",
        case.case_no, case.version
    ));
    format!("WB-{}", &hex::encode(digest)[..20])
}

fn mapping_reason(e: &MappingError) -> QualityReason {
    QualityReason {
        code: if e.check.is_some() {
            "canonical".to_owned()
        } else {
            "mapping".to_owned()
        },
        field: Some(e.rule.clone()),
        message: e.to_string(),
    }
}

/// The quality-queue reason of a store refusal.
pub fn store_reason(reason: &RejectReason) -> QualityReason {
    match reason {
        RejectReason::VersionConflict { version } => QualityReason {
            code: "version_conflict".to_owned(),
            field: Some("version".to_owned()),
            message: format!("version {version} was received before with different content"),
        },
        RejectReason::IllegalTransition { from, to } => QualityReason {
            code: "illegal_transition".to_owned(),
            field: Some("stage".to_owned()),
            message: format!("the case cannot move from stage {from:?} to {to:?}"),
        },
    }
}

/// Attaches each newly stored case whose applicant names a departmental account to the platform
/// user linked to that account (Art. 25(三)); an account linked to no one is recorded by the
/// bridge and reported, never guessed. The cases are already committed: a failure here is logged,
/// and the next version of the case tries again.
async fn attach_owners(bridge: &Bridge, system_id: &str, cases: &[Case], outcomes: &[UpsertOutcome]) {
    for (case, outcome) in cases.iter().zip(outcomes) {
        let (UpsertOutcome::Created | UpsertOutcome::Updated) = outcome else {
            continue;
        };
        let Some(account) = case.applicant.account.as_deref() else {
            continue;
        };
        let attached = match bridge
            .resolve(system_id, account, &case.case_no, "writeback")
            .await
        {
            Ok(Resolution::Linked { user_id, link_id }) => bridge
                .store()
                .set_case_owner(system_id, &case.case_no, &user_id, &link_id)
                .await
                .map_err(|e| e.to_string()),
            Ok(Resolution::Unknown) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = attached {
            tracing::warn!(system = system_id, case_no = %case.case_no, %error, "cannot attach the case to its platform user");
        }
    }
}

/// Why one record was refused before the store, with its case number and version where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reasons: Vec<QualityReason>,
    pub case_no: Option<String>,
    pub version: Option<i64>,
}

/// Maps one record (`Mapping::apply`) and checks the case against the published rules (Art. 29):
/// the case, or every reason it is refused.
pub fn judge(
    mapping: &Mapping,
    rules: &[PublishedRule],
    raw: &Raw,
    now: DateTime<FixedOffset>,
) -> Result<Case, Refusal> {
    let case = mapping.apply(raw, now).map_err(|errors| Refusal {
        reasons: errors.iter().map(mapping_reason).collect(),
        case_no: mapping.key_of(raw),
        version: None,
    })?;
    let broken: Vec<QualityReason> = rules
        .iter()
        .filter_map(|rule| rule.check(&case).map(|issue| (rule, issue)))
        .map(|(rule, issue)| QualityReason {
            code: "published_rule".to_owned(),
            field: Some(issue.field.clone()),
            message: format!("rule {} ({}): {}", rule.id, issue.rule, issue.message),
        })
        .collect();
    if broken.is_empty() {
        Ok(case)
    } else {
        Err(Refusal {
            reasons: broken,
            case_no: Some(case.case_no),
            version: Some(case.version),
        })
    }
}

/// A quality item for a refused record: its JSON view, hashed for the queue's once-per-record key.
pub fn quality_item(
    system_id: &str,
    raw: &Raw,
    refusal: Refusal,
    channel: &str,
    mapping_version: &str,
    received_at: DateTime<Utc>,
) -> NewQualityItem {
    let record = raw.to_json();
    let record_hash = hex::encode(Sha256::digest(record.to_string().as_bytes()));
    NewQualityItem {
        system_id: system_id.to_owned(),
        case_no: refusal.case_no,
        version: refusal.version,
        channel: channel.to_owned(),
        record_hash,
        record,
        reasons: refusal.reasons,
        mapping_version: Some(mapping_version.to_owned()),
        received_at,
    }
}

/// One record on its way through.
enum Step {
    /// Refused before the store; its quality item is among the write's `refused`.
    Refused,
    /// Index into the cases sent to the store.
    Stored(usize),
    /// The same version twice in one push: answered like the first.
    Repeat(usize),
}

/// Reads record `i` of a delivery again (see `Records::rereadable`).
type Reread = Arc<dyn Fn(usize) -> Option<Raw> + Send + Sync>;

/// The records of one delivery. `ingest` keeps them until the commit, for the quality items of
/// the cases the store refuses; rereadable records (a SOAP push, which keeps its body: a fraction
/// of its parsed elements) are dropped one by one as soon as each is judged, and only the ones
/// the store refuses are read again.
pub struct Records {
    items: Vec<Raw>,
    again: Option<Reread>,
}

impl Records {
    /// `items`, and how to read item `i` again after it is dropped (the same record, or `None`
    /// when it cannot be read: its quality item then holds `null`).
    pub fn rereadable(
        items: Vec<Raw>,
        again: impl Fn(usize) -> Option<Raw> + Send + Sync + 'static,
    ) -> Records {
        Records {
            items,
            again: Some(Arc::new(again)),
        }
    }
}

impl From<Vec<Raw>> for Records {
    fn from(items: Vec<Raw>) -> Records {
        Records { items, again: None }
    }
}

/// How records reached the intake.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub channel: Channel,
    /// A signed push's nonce, taken in the commit that stores its records (`None` for pulls).
    pub nonce: Option<String>,
    /// When the records arrived, for the mapping's clock.
    pub at: DateTime<FixedOffset>,
}

/// What the intake made of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// One result per record, in order, all committed.
    Results(Vec<RecordResult>),
    /// The push's nonce was used before: nothing was stored.
    Replayed,
}

/// Runs `records` of `system_id` through `mapping`, the published rules and the store (one
/// commit with other requests' writes, `GroupCommit`). Returns one result per record, in order,
/// after every write has been committed.
pub async fn ingest(
    intake: &Intake,
    system_id: &str,
    mapping: &Mapping,
    records: impl Into<Records>,
    delivery: Delivery,
    bridge: Option<&Bridge>,
) -> Result<Ingested, StoreError> {
    let Records { items, again } = records.into();
    let commits = intake.commits();
    let rules = intake.rules(commits.store()).await?;
    let received_at = Utc::now();
    let (channel, mapping_version) = (delivery.channel, mapping.version().to_owned());
    let item_of = {
        let (system_id, mapping_version) = (system_id.to_owned(), mapping_version.clone());
        move |raw: &Raw, refusal: Refusal| {
            quality_item(
                &system_id,
                raw,
                refusal,
                channel.name(),
                &mapping_version,
                received_at,
            )
        }
    };
    let mut cases: Vec<Case> = Vec::new();
    let mut hashes: Vec<String> = Vec::new();
    let mut seen: HashMap<(String, i64), usize> = HashMap::new();
    let mut steps = Vec::with_capacity(items.len());
    // Records refused before the store, in order, with their quality items; for each stored
    // case, its first record; the records kept for the store's refusals (none when rereadable).
    let (mut refused_at, mut refused) = (Vec::new(), Vec::new());
    let mut record_of_case = Vec::new();
    let mut kept = Vec::with_capacity(if again.is_some() { 0 } else { items.len() });
    for (i, raw) in items.into_iter().enumerate() {
        let refusal = match judge(mapping, &rules, &raw, delivery.at) {
            Err(refusal) => Some(refusal),
            Ok(case) => {
                let hash = case.content_hash();
                match seen.get(&(case.case_no.clone(), case.version)) {
                    Some(&first) if hashes[first] == hash => {
                        steps.push(Step::Repeat(first));
                        None
                    }
                    Some(_) => Some(Refusal {
                        reasons: vec![store_reason(&RejectReason::VersionConflict {
                            version: case.version,
                        })],
                        case_no: Some(case.case_no.clone()),
                        version: Some(case.version),
                    }),
                    None => {
                        seen.insert((case.case_no.clone(), case.version), cases.len());
                        steps.push(Step::Stored(cases.len()));
                        record_of_case.push(i);
                        hashes.push(hash);
                        cases.push(case);
                        None
                    }
                }
            }
        };
        if let Some(refusal) = refusal {
            steps.push(Step::Refused);
            refused_at.push(i);
            refused.push(item_of(&raw, refusal));
        }
        if again.is_none() {
            kept.push(raw);
        }
    }
    let again: Reread = again.unwrap_or_else(|| {
        let kept = Arc::new(kept);
        Arc::new(move |i| kept.get(i).cloned())
    });
    let write = IntakeWrite {
        system_id: system_id.to_owned(),
        nonce: delivery.nonce,
        mapping_version: Some(mapping_version.clone()),
        refused,
        on_reject: Box::new(move |c, case, reason| {
            let refusal = Refusal {
                reasons: vec![store_reason(reason)],
                case_no: Some(case.case_no.clone()),
                version: Some(case.version),
            };
            // A record that cannot be read again keeps its reasons, with a null record.
            let raw = again(record_of_case[c]).unwrap_or(Raw::Json(serde_json::Value::Null));
            item_of(&raw, refusal)
        }),
        actor: format!("system:{system_id}"),
        cases,
    };
    let (committed, write) = commits.commit(write).await?;
    let (outcomes, refused_ids, rejected) = match committed {
        IntakeCommit::Replayed => return Ok(Ingested::Replayed),
        IntakeCommit::Committed {
            outcomes,
            refused,
            rejected,
        } => (outcomes, refused, rejected),
    };
    if let Some(bridge) = bridge {
        attach_owners(bridge, system_id, &write.cases, &outcomes).await;
    }
    // Every queued record: refused before the store, or a case the store refused (and any repeat
    // of it in the same push).
    let by_case: HashMap<usize, (i64, NewQualityItem)> = rejected
        .into_iter()
        .map(|(c, id, item)| (c, (id, item)))
        .collect();
    let mut queued: HashMap<usize, (i64, NewQualityItem)> = refused_at
        .into_iter()
        .zip(refused_ids.into_iter().zip(write.refused))
        .collect();
    for (i, step) in steps.iter().enumerate() {
        if let Step::Stored(c) | Step::Repeat(c) = step
            && let Some(entry) = by_case.get(c)
        {
            queued.insert(i, entry.clone());
        }
    }
    let mut results = Vec::with_capacity(steps.len());
    for (i, step) in steps.into_iter().enumerate() {
        if let Some((id, item)) = queued.remove(&i) {
            results.push(RecordResult::Rejected {
                case_no: item.case_no,
                version: item.version,
                reasons: item.reasons,
                quality_item: id,
                mapping_version: mapping_version.clone(),
            });
            continue;
        }
        let (c, repeat) = match step {
            Step::Stored(c) => (c, false),
            Step::Repeat(c) => (c, true),
            // Every refusal was queued above.
            Step::Refused => unreachable!("refused records are all queued"),
        };
        let case = &write.cases[c];
        let receipt = receipt(system_id, case, &hashes[c]);
        let (case_no, version) = (case.case_no.clone(), case.version);
        let accepted = match (&outcomes[c], repeat) {
            (UpsertOutcome::Duplicate, _) | (_, true) => None,
            (UpsertOutcome::Created, false) => Some(Accepted::Created),
            (UpsertOutcome::Updated, false) => Some(Accepted::Updated),
            (UpsertOutcome::Stale, false) => Some(Accepted::Stale),
            (UpsertOutcome::Rejected { .. }, false) => unreachable!("store refusals are all queued"),
        };
        results.push(match accepted {
            Some(outcome) => RecordResult::Accepted {
                outcome,
                receipt,
                case_no,
                version,
            },
            None => RecordResult::Duplicate {
                receipt,
                case_no,
                version,
            },
        });
    }
    Ok(Ingested::Results(results))
}

//! 系统: the systems the caller's grants cover, with filters, search and pages; and one
//! system's page (registration, integration mode, assessments, open quality items with their
//! reasons, the newest cases masked, the daily reconciliations, the latest migration run with
//! its progress and report and every run a page at a time, the adapter with its latest probe's
//! structure, the mapping field by field, the write-back settings), each section only for the
//! roles of the API route with its data.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ronghe_assessment::IntegrationMode;
use serde::{Deserialize, Serialize};

use super::super::integration::{self, AdapterView, MappingView, WritebackView};
use super::super::{AppState, Authorized};
use super::monitoring::ReconciliationRow;
use super::view::{self, Choice, Chrome, Pager, Section, bad_filter, chosen};
use super::{PageError, render};
use crate::store::QualityStatus;
use crate::systems::SystemStatus;

/// Rows per page of the list.
const PAGE_ROWS: usize = 50;
/// Open quality items shown on a system's page (the queue has them all).
const QUALITY_SHOWN: i64 = 20;
/// The newest cases shown on a system's page.
const CASES_SHOWN: i64 = 20;
/// The latest daily reconciliations shown on a system's page (监测 has them all).
const RECONCILIATIONS_SHOWN: usize = 14;
/// Migration runs per page of a system's migration history.
const MIGRATIONS_PER_PAGE: usize = 10;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    status: Option<String>,
    /// An integration mode's name, or `none` for systems without a verdict.
    mode: Option<String>,
    /// Words to find in the id, name or department.
    q: Option<String>,
    page: Option<usize>,
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    q: String,
    statuses: Vec<Choice>,
    modes: Vec<Choice>,
    rows: Vec<Row>,
    total: usize,
    pager: Pager,
}

#[derive(Serialize)]
struct Row {
    id: String,
    name: String,
    department: String,
    region_code: String,
    protocol: String,
    status: String,
    mode: String,
}

pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let status = match chosen(query.status.as_deref()) {
        "" => None,
        name => Some(SystemStatus::parse(name).ok_or_else(|| bad_filter("status", name))?),
    };
    let mode = match chosen(query.mode.as_deref()) {
        "" => None,
        "none" => Some(None),
        name => Some(Some(
            IntegrationMode::parse(name).ok_or_else(|| bad_filter("mode", name))?,
        )),
    };
    let words = chosen(query.q.as_deref()).to_owned();
    let visible = auth.visible_systems(&state).await?;
    let rows: Vec<Row> = state
        .store
        .portfolio()
        .await?
        .systems
        .into_iter()
        .filter(|e| visible.as_ref().is_none_or(|ids| ids.contains(&e.system_id)))
        .filter(|e| status.is_none_or(|s| e.status == s))
        .filter(|e| mode.is_none_or(|m| e.mode == m))
        .filter(|e| {
            words.is_empty()
                || [&e.system_id, &e.name, &e.department]
                    .iter()
                    .any(|field| field.contains(words.as_str()))
        })
        .map(|e| Row {
            mode: e.mode_label.unwrap_or_else(|| "未评估".to_owned()),
            status: e.status.label().to_owned(),
            id: e.system_id,
            name: e.name,
            department: e.department,
            region_code: String::new(),
            protocol: String::new(),
        })
        .collect();
    let rows = with_registration(&state, rows).await?;
    let total = rows.len();
    let filters = [
        ("status", chosen(query.status.as_deref())),
        ("mode", chosen(query.mode.as_deref())),
        ("q", words.as_str()),
    ];
    let (rows, pager) = view::paginate(rows, query.page, PAGE_ROWS, "/systems", &filters);
    let view = ListView {
        chrome: Chrome::new(&auth, &headers, "/systems", "系统"),
        statuses: SystemStatus::ALL
            .iter()
            .map(|s| Choice {
                value: s.name().to_owned(),
                label: s.label().to_owned(),
                selected: status == Some(*s),
            })
            .collect(),
        modes: IntegrationMode::ALL
            .iter()
            .map(|m| Choice {
                value: m.name().to_owned(),
                label: m.label().to_owned(),
                selected: mode == Some(Some(*m)),
            })
            .chain(std::iter::once(Choice {
                value: "none".to_owned(),
                label: "未评估".to_owned(),
                selected: mode == Some(None),
            }))
            .collect(),
        rows,
        q: words,
        total,
        pager,
    };
    Ok(render(StatusCode::OK, "systems", &view))
}

/// Fills each row's region and protocol from the registrations.
async fn with_registration(state: &AppState, mut rows: Vec<Row>) -> Result<Vec<Row>, PageError> {
    let systems = state.store.list_systems(None).await?;
    for row in &mut rows {
        if let Some(system) = systems.iter().find(|s| s.id == row.id) {
            row.region_code = system.region_code.clone();
            row.protocol = system.protocol.to_string();
        }
    }
    Ok(rows)
}

#[derive(Serialize)]
struct SystemView {
    chrome: Chrome,
    id: String,
    name: String,
    department: String,
    region_code: String,
    protocol: String,
    endpoint: String,
    credentials_ref: String,
    secret: bool,
    status: String,
    registered_at: String,
    updated_at: String,
    mode: String,
    confidence: String,
    assessments: Vec<AssessmentLine>,
    quality: Option<Vec<QualityLine>>,
    cases: Option<Section<Vec<CaseLine>>>,
    reconciliations: Option<Section<Vec<ReconciliationRow>>>,
    migration: Option<Section<MigrationHistory>>,
    adapter: Option<Section<AdapterLine>>,
    mapping: Option<Section<MappingView>>,
    writeback: Option<Section<WritebackView>>,
}

/// The adapter API's answer with its probe's time as the pages show times.
#[derive(Serialize)]
struct AdapterLine {
    #[serde(flatten)]
    view: AdapterView,
    probed_at: String,
}

/// A case as a system's page lists it: personal values masked as the API answers them.
#[derive(Serialize)]
struct CaseLine {
    case_no: String,
    item: String,
    stage: String,
    version: i64,
    received_at: String,
    applicant: String,
    certificate_no: String,
}

#[derive(Serialize)]
struct AssessmentLine {
    id: String,
    state: String,
    round: i64,
    opened_at: String,
}

#[derive(Serialize)]
struct QualityLine {
    id: i64,
    case_no: String,
    received_at: String,
    reasons: Vec<String>,
}

/// A system's migrations: the latest run, and every run (newest first) a page at a time.
#[derive(Serialize)]
struct MigrationHistory {
    latest: Option<MigrationLine>,
    runs: Vec<MigrationLine>,
    total: usize,
    pager: Pager,
}

#[derive(Deserialize)]
pub(super) struct ShowQuery {
    /// The page of the migration history.
    page: Option<usize>,
}

#[derive(Clone, Serialize)]
pub(super) struct MigrationLine {
    id: String,
    system_id: String,
    state: String,
    rows_read: i64,
    rows_written: i64,
    rows_rejected: i64,
    chunks: i64,
    source_rows: String,
    /// Differences reconciliation found, `—` before it ran.
    differences: String,
    /// `37%`, where the source's size is known.
    progress: String,
    started_at: String,
    finished_at: String,
    /// The reconciliation report (JSON, Markdown), once the run has one.
    report: Option<String>,
    report_md: Option<String>,
}

impl MigrationLine {
    /// The migration API's answer as a line of a page.
    pub(super) fn of(status: super::super::migration::MigrationStatus) -> MigrationLine {
        let run = status.run;
        MigrationLine {
            state: run.state.label().to_owned(),
            rows_read: run.rows_read,
            rows_written: run.rows_written,
            rows_rejected: run.rows_rejected,
            chunks: run.chunks,
            source_rows: run.source_rows.map_or_else(|| "—".to_owned(), |n| n.to_string()),
            differences: run.differences.map_or_else(|| "—".to_owned(), |n| n.to_string()),
            progress: status
                .progress
                .map_or_else(|| "—".to_owned(), |p| format!("{:.0}%", p * 100.0)),
            started_at: view::beijing(&run.started_at),
            finished_at: view::beijing_or_dash(run.finished_at.as_ref()),
            report_md: status.report_url.as_ref().map(|url| {
                let joiner = if url.contains('?') { '&' } else { '?' };
                format!("{url}{joiner}format=md")
            }),
            report: status.report_url,
            system_id: run.system_id,
            id: run.id,
        }
    }
}

pub(super) async fn show(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let system = state.store.get_system(&id).await?;
    let entry = state
        .store
        .portfolio()
        .await?
        .systems
        .into_iter()
        .find(|e| e.system_id == id);
    let assessments = match view::as_route(&auth, "GET", "/api/v1/assessments") {
        Some(panel) => super::super::assessments::visible(&state, &panel, Some(&id))
            .await?
            .into_iter()
            .map(|a| AssessmentLine {
                state: a.state.label().to_owned(),
                round: a.round,
                opened_at: view::beijing(&a.opened_at),
                id: a.id,
            })
            .collect(),
        None => Vec::new(),
    };
    let quality = match view::as_route_for(&auth, "GET", "/api/v1/quality", &system) {
        Some(_) => Some(
            state
                .store
                .list_quality_items(Some(&id), Some(QualityStatus::Open), QUALITY_SHOWN)
                .await?
                .into_iter()
                .map(|q| QualityLine {
                    id: q.id,
                    case_no: q.case_no.unwrap_or_else(|| "—".to_owned()),
                    received_at: view::beijing(&q.received_at),
                    reasons: q
                        .reasons
                        .into_iter()
                        .map(|r| match r.field {
                            Some(field) => format!("{}：{}", field, r.message),
                            None => r.message,
                        })
                        .collect(),
                })
                .collect(),
        ),
        None => None,
    };
    let cases = match view::as_route_for(&auth, "GET", "/api/v1/systems/{id}/cases/{case_no}", &system) {
        Some(_) => Some(Section {
            items: recent_cases(&state, &auth, &id).await?,
        }),
        None => None,
    };
    let reconciliations =
        match view::as_route_for(&auth, "GET", "/api/v1/monitoring/reconciliations", &system) {
            Some(reader) => {
                let mut saved = super::super::monitoring::visible(&state, &reader, Some(&id), None).await?;
                saved.truncate(RECONCILIATIONS_SHOWN);
                Some(Section {
                    items: saved.into_iter().map(ReconciliationRow::of).collect(),
                })
            }
            None => None,
        };
    let migration = match view::as_route_for(&auth, "GET", "/api/v1/systems/{id}/migrations", &system) {
        Some(_) => {
            let runs = super::super::migration::runs(&state, &id).await?;
            let total = runs.len();
            let lines: Vec<MigrationLine> = runs.into_iter().map(MigrationLine::of).collect();
            let latest = lines.first().cloned();
            let (runs, pager) = view::paginate(
                lines,
                query.page,
                MIGRATIONS_PER_PAGE,
                &format!("/systems/{id}"),
                &[],
            );
            Some(Section {
                items: MigrationHistory {
                    latest,
                    runs,
                    total,
                    pager,
                },
            })
        }
        None => None,
    };
    let adapter = match view::as_route_for(&auth, "GET", "/api/v1/systems/{id}/adapter", &system) {
        Some(_) => {
            let answer = integration::adapter_of(&state, &id).await?;
            let probed_at = view::beijing_or_dash(answer.probe.as_ref().map(|p| &p.probed_at));
            Some(Section {
                items: AdapterLine {
                    view: answer,
                    probed_at,
                },
            })
        }
        None => None,
    };
    let mapping = match view::as_route_for(&auth, "GET", "/api/v1/systems/{id}/mapping", &system) {
        Some(_) => Some(Section {
            items: integration::mapping_of(&state, &id).await?,
        }),
        None => None,
    };
    let writeback = match view::as_route_for(&auth, "GET", "/api/v1/systems/{id}/writeback", &system) {
        Some(_) => Some(Section {
            items: integration::writeback_of(&state, &id).await?,
        }),
        None => None,
    };
    let view = SystemView {
        chrome: Chrome::new(&auth, &headers, "/systems", &system.name),
        mode: entry
            .as_ref()
            .and_then(|e| e.mode_label.clone())
            .unwrap_or_else(|| "未评估".to_owned()),
        confidence: entry.and_then(|e| e.confidence).unwrap_or_else(|| "—".to_owned()),
        status: system.status.label().to_owned(),
        registered_at: view::beijing(&system.created_at),
        updated_at: view::beijing(&system.updated_at),
        protocol: system.protocol.to_string(),
        credentials_ref: system.credentials_ref.unwrap_or_else(|| "—".to_owned()),
        secret: system.secret,
        id: system.id,
        name: system.name,
        department: system.department,
        region_code: system.region_code,
        endpoint: system.endpoint,
        assessments,
        quality,
        cases,
        reconciliations,
        migration,
        adapter,
        mapping,
        writeback,
    };
    Ok(render(StatusCode::OK, "system", &view))
}

/// The system's newest cases, masked as the API answers a case; the listing is audited under
/// the caller as the API audits a case read (`case.list`).
async fn recent_cases(state: &AppState, auth: &Authorized, id: &str) -> Result<Vec<CaseLine>, PageError> {
    let records = state.store.recent_cases(id, CASES_SHOWN).await?;
    super::super::cases::Disclosure::audit(
        None,
        state,
        &auth.principal.actor,
        ("case.list", "case.unmask"),
        id,
    )
    .await?;
    Ok(records
        .into_iter()
        .map(|record| {
            let case = record.case.masked();
            CaseLine {
                item: case.item_name,
                stage: case.stage.label().to_owned(),
                version: record.version,
                received_at: view::beijing(&record.received_at),
                applicant: case.applicant.name,
                certificate_no: case.applicant.certificate_no,
                case_no: case.case_no,
            }
        })
        .collect())
}

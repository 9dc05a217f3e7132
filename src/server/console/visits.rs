//! 办件回访: a month's return visits of the systems the caller sees (as `GET
//! /api/v1/monitoring/visits` lists them, the applicant masked) with the month's reach rate and
//! satisfaction; a visit's page, where the operator making the call shows the applicant's phone
//! for a stated purpose (audited, for that page only) and records the outcome — the API's own
//! call (`monitoring::record_visit`), a refusal back on the form with every field named.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::super::{ApiError, AppState, Authorized};
use super::view::{self, Choice, Chrome};
use super::{PageError, render, see_other};
use crate::store::Guarded;
use crate::visits::{Month, Outcome, Satisfaction, Visit, VisitError};

#[derive(Deserialize)]
pub(super) struct ListQuery {
    /// YYYY-MM; the previous month by default (the one the scheduler plans on the first working day).
    month: Option<String>,
    /// The visit just recorded (after the form's redirect).
    recorded: Option<i64>,
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    month: String,
    recorded: Option<i64>,
    rows: Vec<Row>,
    total: usize,
    reach_rate: String,
    satisfaction: Vec<(String, usize)>,
    findings: usize,
}

#[derive(Serialize)]
struct Row {
    id: i64,
    system_id: String,
    case_no: String,
    item_name: String,
    status: &'static str,
}

fn status(visit: &Visit) -> &'static str {
    match &visit.outcome {
        None => "待回访",
        Some(o) if o.reached => "已回访",
        Some(_) => "未联系上，可再拨",
    }
}

pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let month = match view::chosen(query.month.as_deref()) {
        "" => Month::of(Month::of(crate::calendar::today()).first_day() - chrono::Days::new(1)),
        text => Month::parse(text).map_err(|_| view::bad_filter("month", text))?,
    };
    let visits = state.store.visits(Some(&month.to_string()), None).await?;
    let visits = auth.filter(&state, visits, |v| &v.system_id).await?;
    let report = crate::visits::report(month, &visits);
    let view = ListView {
        chrome: Chrome::new(&auth, &headers, "/monitoring", "办件回访"),
        month: month.to_string(),
        recorded: query.recorded,
        reach_rate: report
            .total
            .reach_rate
            .map_or_else(|| "—".to_owned(), |r| format!("{:.0}%", r * 100.0)),
        satisfaction: Satisfaction::ALL
            .iter()
            .zip(report.total.satisfaction)
            .map(|(s, n)| (s.label().to_owned(), n))
            .collect(),
        findings: report.total.findings,
        total: visits.len(),
        rows: visits
            .iter()
            .map(|v| Row {
                id: v.id,
                system_id: v.system_id.clone(),
                case_no: v.case_no.clone(),
                item_name: v.item_name.clone(),
                status: status(v),
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, "visits", &view))
}

#[derive(Serialize)]
struct VisitView {
    chrome: Chrome,
    id: i64,
    month: String,
    system_id: String,
    case_no: String,
    item_name: String,
    status: &'static str,
    applicant_name: String,
    applicant_phone: String,
    /// Whether the phone is shown in clear (after a stated purpose).
    revealed: bool,
    purpose: String,
    reveal_problem: Option<String>,
    /// The outcome form, while the applicant has not been reached.
    form: Option<OutcomeForm>,
    outcome: Option<Outcome>,
    correction_id: Option<i64>,
}

#[derive(Serialize, Default)]
struct OutcomeForm {
    reached: String,
    attempts: String,
    handled: String,
    /// The level sent (its `name`).
    satisfaction: String,
    /// The levels to choose from, the one sent selected.
    levels: Vec<Choice>,
    note: String,
    finding: String,
    problems: Vec<String>,
}

/// What the page shows besides the visit itself: a purpose that revealed the phone, a refusal.
#[derive(Default)]
struct Shown {
    purpose: Option<String>,
    reveal_problem: Option<String>,
    form: OutcomeForm,
}

/// Visit `id`, when its system lies in the caller's scope.
async fn in_scope(state: &AppState, auth: &Authorized, id: i64) -> Result<Visit, PageError> {
    let visit = state.store.visit(id).await.map_err(ApiError::from)?;
    auth.require_system(state, &visit.system_id).await?;
    Ok(visit)
}

async fn visit_page(
    state: &AppState,
    auth: &Authorized,
    headers: &HeaderMap,
    visit: Visit,
    shown: Shown,
    status_code: StatusCode,
) -> Result<Response, PageError> {
    let stored = state.store.get_case(&visit.system_id, &visit.case_no).await?.case;
    let revealed = shown.purpose.is_some();
    let applicant = if revealed {
        stored.applicant
    } else {
        stored.masked().applicant
    };
    let mut form = shown.form;
    form.levels = Satisfaction::ALL
        .iter()
        .map(|s| Choice {
            value: s.name().to_owned(),
            label: s.label().to_owned(),
            selected: s.name() == form.satisfaction,
        })
        .collect();
    let view = VisitView {
        chrome: Chrome::new(auth, headers, "/monitoring", "办件回访"),
        id: visit.id,
        status: status(&visit),
        form: visit.check_recordable().is_ok().then_some(form),
        month: visit.month,
        system_id: visit.system_id,
        case_no: visit.case_no,
        item_name: visit.item_name,
        applicant_name: applicant.name,
        applicant_phone: applicant.phone.unwrap_or_else(|| "（无联系电话）".to_owned()),
        revealed,
        purpose: shown.purpose.unwrap_or_default(),
        reveal_problem: shown.reveal_problem,
        outcome: visit.outcome,
        correction_id: visit.correction_id,
    };
    Ok(render(status_code, "visit", &view))
}

pub(super) async fn show(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let visit = in_scope(&state, &auth, id).await?;
    visit_page(&state, &auth, &headers, visit, Shown::default(), StatusCode::OK).await
}

/// Shows the applicant's phone to the operator making the call, for the purpose stated on the
/// form (audited as `visit.reveal`); this answer only: the next page is masked again.
pub(super) async fn reveal(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let visit = in_scope(&state, &auth, id).await?;
    let text = view::form_field(&form, "purpose").trim().to_owned();
    let shown = match crate::validate::stated::purpose(&text) {
        Ok(purpose) => {
            state
                .store
                .record_audit(
                    &auth.principal.actor,
                    "visit.reveal",
                    &format!("visit/{id}"),
                    serde_json::json!({ "system": &visit.system_id, "case_no": &visit.case_no, "purpose": purpose }),
                )
                .await?;
            Shown {
                purpose: Some(purpose.to_owned()),
                ..Shown::default()
            }
        }
        Err(max) => Shown {
            reveal_problem: Some(format!(
                "purpose：请说明用途（1-{max} 个字），如“办件回访致电申请人”"
            )),
            ..Shown::default()
        },
    };
    let code = if shown.purpose.is_some() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    visit_page(&state, &auth, &headers, visit, shown, code).await
}

/// Records the form's outcome, then the month's list (303); a refusal shows the form again with
/// what was typed and every problem (422).
pub(super) async fn record(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let visit = in_scope(&state, &auth, id).await?;
    let field = |name: &str| view::form_field(&form, name).trim().to_owned();
    let mut sent = OutcomeForm {
        reached: field("reached"),
        attempts: field("attempts"),
        handled: field("handled"),
        satisfaction: field("satisfaction"),
        levels: Vec::new(),
        note: field("note"),
        finding: field("finding"),
        problems: Vec::new(),
    };
    let yes_no = |text: &str| match text {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    let reached = yes_no(&sent.reached);
    if reached.is_none() {
        sent.problems.push("reached：请选择是否联系上申请人".to_owned());
    }
    let attempts = sent.attempts.parse::<u32>().ok();
    if attempts.is_none() {
        sent.problems.push("attempts：请填写拨打次数（整数）".to_owned());
    }
    if let (Some(reached), Some(attempts)) = (reached, attempts) {
        let outcome = Outcome {
            reached,
            attempts,
            handled_as_recorded: yes_no(&sent.handled),
            satisfaction: Satisfaction::parse(&sent.satisfaction),
            note: sent.note.clone(),
            finding: Some(sent.finding.clone()).filter(|f| !f.is_empty()),
        };
        let done = crate::monitoring::record_visit(
            &state.store,
            &state.calendar,
            id,
            &outcome,
            &auth.principal.actor,
            chrono::Utc::now(),
        )
        .await;
        match done {
            Ok(recorded) => {
                return Ok(see_other(&format!(
                    "/monitoring/visits?month={}&recorded={id}",
                    recorded.month
                )));
            }
            Err(Guarded::Refused(VisitError::Invalid(issues))) => sent
                .problems
                .extend(issues.into_iter().map(|i| format!("{}：{}", i.field, i.message))),
            Err(e) => return Err(ApiError::from(e).into()),
        }
    }
    let shown = Shown {
        form: sent,
        ..Shown::default()
    };
    // Refused: nothing was written, the visit is as read.
    visit_page(
        &state,
        &auth,
        &headers,
        visit,
        shown,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

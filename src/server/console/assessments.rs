//! 评估: the expert panel's workspace (Art. 25). The list of the assessments the caller sees;
//! an assessment's page: the panel (who has declared and who has submitted, never what), the
//! signed-in expert's declaration of conflicts and score sheet (each criterion's levels in the
//! rubric's words, a reason per criterion; sealed until the round closes), the closed rounds'
//! anonymous spread and reasons, and for the chair closing the round and giving the verdict.
//! Every act goes through `Store::act_on_assessment` as the API's does, the signed-in account
//! being the actor the panel judges; the report is the assessment crate's HTML report.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ronghe_assessment::panel::Sheet;
use serde::Serialize;

use super::super::{Actor, ApiError, AppState, Authorized};
use super::view::{self, Chrome};
use super::{PageError, protect, render};
use crate::assessments::{AssessmentState, AssessmentView, Command, Conflict, Outcome};

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    rows: Vec<ListRow>,
}

#[derive(Serialize)]
struct ListRow {
    id: String,
    system_id: String,
    state: String,
    round: i64,
    chair: String,
    opened_at: String,
}

pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let rows = super::super::assessments::visible(&state, &auth, None)
        .await?
        .into_iter()
        .map(|a| ListRow {
            state: a.state.label().to_owned(),
            round: a.round,
            opened_at: view::beijing(&a.opened_at),
            chair: a.chair,
            system_id: a.system_id,
            id: a.id,
        })
        .collect();
    let view = ListView {
        chrome: Chrome::new(&auth, &headers, "/assessments", "评估"),
        rows,
    };
    Ok(render(StatusCode::OK, "assessments", &view))
}

#[derive(Serialize)]
struct PageView {
    chrome: Chrome,
    id: String,
    system_id: String,
    system_name: String,
    rubric_title: String,
    state: String,
    round: i64,
    chair: String,
    experts: Vec<ExpertLine>,
    /// The signed-in expert's declaration form, while they have not declared.
    declare: Option<DeclareForm>,
    /// The signed-in expert's score sheet, while the round waits for it.
    sheet: Option<SheetForm>,
    /// Said to an expert who has submitted in the open round.
    submitted: bool,
    rounds: Vec<RoundLine>,
    close: bool,
    verdict: Option<VerdictForm>,
    report: bool,
}

#[derive(Serialize)]
struct ExpertLine {
    name: String,
    department: String,
    declared: String,
    submitted: String,
}

#[derive(Serialize, Default)]
struct DeclareForm {
    ties: String,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct SheetForm {
    round: i64,
    criteria: Vec<CriterionForm>,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct CriterionForm {
    id: String,
    name: String,
    group: String,
    question: String,
    levels: Vec<LevelChoice>,
    abstain: bool,
    reason: String,
}

#[derive(Serialize)]
struct LevelChoice {
    value: u8,
    text: String,
    checked: bool,
}

#[derive(Serialize)]
struct RoundLine {
    number: i64,
    criteria: Vec<CriterionResultLine>,
}

#[derive(Serialize)]
struct CriterionResultLine {
    name: String,
    median: String,
    iqr: String,
    distribution: String,
    contested: bool,
    reasons: Vec<String>,
}

#[derive(Serialize, Default)]
struct VerdictForm {
    secret: bool,
    justification: String,
    problems: Vec<String>,
}

/// What a form sent back, to show again with its problems.
#[derive(Default)]
struct Sent {
    declare: Option<DeclareForm>,
    sheet: Option<(BTreeMap<String, String>, Vec<String>)>,
    verdict: Option<VerdictForm>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    page(&state, &auth, &headers, &id, StatusCode::OK, Sent::default()).await
}

async fn page(
    state: &AppState,
    auth: &Authorized,
    headers: &HeaderMap,
    id: &str,
    status: StatusCode,
    sent: Sent,
) -> Result<Response, PageError> {
    let view = state.store.assessment(id).await?;
    let me = auth.principal.account().unwrap_or_default().to_owned();
    let open_round = view.rounds.iter().find(|r| r.round.closed_at.is_none());
    let member = view.experts.iter().find(|e| e.id == me);
    let scoring = view.assessment.state == AssessmentState::Scoring;
    let chair = view.assessment.chair == me;
    let declare = match member {
        Some(expert) if scoring && expert.conflicts.is_none() => Some(sent.declare.unwrap_or_default()),
        _ => None,
    };
    let waiting = member.is_some_and(|e| e.conflicts.is_some() && e.recusal.is_none())
        && scoring
        && view.pending.contains(&me);
    let sheet = match (waiting, open_round) {
        (true, Some(round)) => Some(
            sheet_form(
                state,
                &view,
                round.round.number,
                &round.round.criteria,
                sent.sheet,
            )
            .await?,
        ),
        _ => None,
    };
    let mut rounds = Vec::new();
    for round in view.rounds.iter().filter(|r| r.round.closed_at.is_some()) {
        let summary = state.store.round_summary(id, round.round.number).await?;
        rounds.push(RoundLine {
            number: round.round.number,
            criteria: summary
                .criteria
                .iter()
                .map(|c| CriterionResultLine {
                    name: c.name.clone(),
                    median: c
                        .spread
                        .as_ref()
                        .map_or_else(|| "—".to_owned(), |s| format!("{:.1}", s.median)),
                    iqr: c
                        .spread
                        .as_ref()
                        .map_or_else(|| "—".to_owned(), |s| format!("{:.1}", s.iqr)),
                    distribution: c.spread.as_ref().map_or_else(
                        || "—".to_owned(),
                        |s| {
                            s.distribution
                                .iter()
                                .enumerate()
                                .map(|(level, n)| format!("{}级 {n}", level + 1))
                                .collect::<Vec<_>>()
                                .join("，")
                        },
                    ),
                    contested: c.contested,
                    reasons: c
                        .reasons
                        .iter()
                        .map(|r| match r.score {
                            Some(score) => format!("（{score} 级）{}", r.text),
                            None => format!("（弃权）{}", r.text),
                        })
                        .collect(),
                })
                .collect(),
        });
    }
    let secret = state.store.get_system(&view.assessment.system_id).await?.secret;
    let decided = view.assessment.state == AssessmentState::Decided;
    let page = PageView {
        chrome: Chrome::new(
            auth,
            headers,
            "/assessments",
            &format!("评估 {}", view.assessment.id),
        ),
        id: view.assessment.id.clone(),
        system_id: view.assessment.system_id.clone(),
        system_name: view.system_name.clone(),
        rubric_title: view.rubric_title.clone(),
        state: view.assessment.state.label().to_owned(),
        round: view.assessment.round,
        chair: view
            .experts
            .iter()
            .find(|e| e.id == view.assessment.chair)
            .map_or_else(|| view.assessment.chair.clone(), |e| e.name.clone()),
        experts: view
            .experts
            .iter()
            .map(|e| ExpertLine {
                name: e.name.clone(),
                department: e.department.clone(),
                declared: match (&e.conflicts, &e.recusal) {
                    (_, Some(why)) => format!("回避：{why}"),
                    (None, None) => "未声明".to_owned(),
                    (Some(list), None) if list.is_empty() => "无利益冲突".to_owned(),
                    (Some(list), None) => format!("已声明 {} 项关联", list.len()),
                },
                submitted: match open_round {
                    Some(_) if view.pending.contains(&e.id) => "未提交".to_owned(),
                    Some(_) => "已提交".to_owned(),
                    None => "—".to_owned(),
                },
            })
            .collect(),
        declare,
        sheet,
        submitted: scoring && member.is_some() && !view.pending.contains(&me),
        rounds,
        close: chair && scoring,
        verdict: (chair && view.assessment.state == AssessmentState::Closed).then(|| {
            let mut form = sent.verdict.unwrap_or_default();
            form.secret = secret;
            form
        }),
        report: decided,
    };
    Ok(render(status, "assessment", &page))
}

/// The score sheet of the open round: its criteria in the rubric's order with their levels'
/// words, and what the expert sent last (when the sheet comes back with problems).
async fn sheet_form(
    state: &AppState,
    view: &AssessmentView,
    round: i64,
    in_play: &[String],
    sent: Option<(BTreeMap<String, String>, Vec<String>)>,
) -> Result<SheetForm, PageError> {
    let rubric = state
        .store
        .rubric(&view.assessment.rubric_id, view.assessment.rubric_version)
        .await?;
    let (sent, problems) = sent.unwrap_or_default();
    let criteria = rubric
        .spec
        .criteria
        .iter()
        .filter(|c| in_play.contains(&c.id))
        .map(|c| {
            let chosen = sent.get(&format!("score.{}", c.id)).map(String::as_str);
            CriterionForm {
                levels: c
                    .levels
                    .iter()
                    .zip(1u8..)
                    .map(|(text, value)| LevelChoice {
                        value,
                        text: text.clone(),
                        checked: chosen == Some(value.to_string().as_str()),
                    })
                    .collect(),
                abstain: chosen == Some("abstain"),
                reason: sent.get(&format!("reason.{}", c.id)).cloned().unwrap_or_default(),
                id: c.id.clone(),
                name: c.name.clone(),
                group: c.group.clone(),
                question: c.question.clone(),
            }
        })
        .collect();
    Ok(SheetForm {
        round,
        criteria,
        problems,
    })
}

/// The page again with what a form sent and why it was refused.
async fn again(
    state: &AppState,
    auth: &Authorized,
    headers: &HeaderMap,
    id: &str,
    sent: Sent,
) -> Result<Response, PageError> {
    page(state, auth, headers, id, StatusCode::UNPROCESSABLE_ENTITY, sent).await
}

/// The page again after a form: 303 to it when the act succeeded.
fn back_to(id: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/assessments/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    protect(response.headers_mut());
    response
}

/// A panel act: done, or refused for a reason the person can fix on the form (`Err` with the
/// problems), or failed otherwise (a page).
async fn act(
    state: &AppState,
    id: &str,
    actor: &str,
    command: Command,
) -> Result<Result<Outcome, Vec<String>>, PageError> {
    match state.store.act_on_assessment(id, actor, command).await {
        Ok(outcome) => Ok(Ok(outcome)),
        Err(err) => {
            let err = ApiError::from(err);
            if err.status == StatusCode::UNPROCESSABLE_ENTITY {
                Ok(Err(view::problems_of(&err)))
            } else {
                Err(PageError::from(err))
            }
        }
    }
}

/// 利益冲突声明: one tie per line, `单位或系统：关系`, or the box for none.
pub(super) async fn declare(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Actor(actor): Actor,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |name: &str| view::form_field(&form, name).trim().to_owned();
    let ties = field("ties");
    let none = field("none") == "on";
    let mut problems = Vec::new();
    let mut conflicts = Vec::new();
    for (number, line) in ties
        .lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
    {
        match line.split_once(['：', ':']) {
            Some((with, reason)) if !with.trim().is_empty() && !reason.trim().is_empty() => {
                conflicts.push(Conflict {
                    with: with.trim().to_owned(),
                    reason: reason.trim().to_owned(),
                })
            }
            _ => problems.push(format!(
                "ties 第 {} 行：请写成“单位或系统：关系”，如“贵阳市市场监督管理局：曾参与建设”。",
                number + 1
            )),
        }
    }
    if conflicts.is_empty() && !none && problems.is_empty() {
        problems.push("ties：请逐行填写与被评估系统的关联，或勾选“无利益冲突”。".to_owned());
    }
    if none && !conflicts.is_empty() {
        problems.push("none：已填写关联，就不能同时勾选“无利益冲突”。".to_owned());
    }
    if problems.is_empty() {
        let command = Command::Declare {
            expert: actor.clone(),
            conflicts,
        };
        match act(&state, &id, &actor, command).await? {
            Ok(_) => return Ok(back_to(&id)),
            Err(refused) => problems = refused,
        }
    }
    let sent = Sent {
        declare: Some(DeclareForm { ties, problems }),
        ..Sent::default()
    };
    again(&state, &auth, &headers, &id, sent).await
}

/// 评分: a level (1-5) or an abstention for every criterion of the round, a reason each.
pub(super) async fn score(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Actor(actor): Actor,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let sent: BTreeMap<String, String> = form.into_iter().collect();
    let mut sheet = Sheet::default();
    for (name, value) in &sent {
        if let Some(criterion) = name.strip_prefix("score.") {
            let level = match value.as_str() {
                "abstain" => None,
                other => Some(other.parse::<u8>().unwrap_or(0)),
            };
            sheet.scores.insert(criterion.to_owned(), level);
        } else if let Some(criterion) = name.strip_prefix("reason.")
            && !value.trim().is_empty()
        {
            sheet
                .reasons
                .insert(criterion.to_owned(), value.trim().to_owned());
        }
    }
    let command = Command::Submit {
        expert: actor.clone(),
        sheet,
    };
    let problems = match act(&state, &id, &actor, command).await? {
        Ok(_) => return Ok(back_to(&id)),
        Err(problems) => problems,
    };
    let sent = Sent {
        sheet: Some((sent, problems)),
        ..Sent::default()
    };
    again(&state, &auth, &headers, &id, sent).await
}

/// The chair closes the open round.
pub(super) async fn close(
    State(state): State<AppState>,
    Actor(actor): Actor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    match act(&state, &id, &actor, Command::Close).await? {
        Ok(_) => Ok(back_to(&id)),
        Err(problems) => Err(ApiError::new(StatusCode::CONFLICT, "cannot_close", problems.join("；")).into()),
    }
}

/// The chair gives the verdict (with the secrecy justification for a secret system).
pub(super) async fn verdict(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Actor(actor): Actor,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let justification =
        Some(view::form_field(&form, "secrecy_justification").trim().to_owned()).filter(|v| !v.is_empty());
    match state
        .store
        .decide_assessment(&id, &actor, justification.clone(), None)
        .await
    {
        Ok(_) => Ok(back_to(&id)),
        Err(err) => {
            let err = ApiError::from(err);
            if err.status != StatusCode::UNPROCESSABLE_ENTITY {
                return Err(err.into());
            }
            let sent = Sent {
                verdict: Some(VerdictForm {
                    secret: false,
                    justification: justification.unwrap_or_default(),
                    problems: view::problems_of(&err),
                }),
                ..Sent::default()
            };
            again(&state, &auth, &headers, &id, sent).await
        }
    }
}

/// The verdict's report: the assessment crate's HTML report (radar chart, rationale, risks),
/// its own style sheet allowed by hash and nothing else.
pub(super) async fn report(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let report = state.store.verdict_report(&id).await?;
    let html =
        ronghe_assessment::report::render(&report, ronghe_assessment::report::Format::Html).map_err(|e| {
            tracing::error!(assessment = %id, error = %e, "report rendering failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the report could not be rendered",
            )
        })?;
    Ok(super::document(html))
}

//! 总览: what the caller's roles may see of the platform at a glance — systems by status and
//! integration mode, the exchange's backlog, open quality items, corrections due soon or
//! overdue, migrations running and how far they are, change notices taking effect within a
//! week — and what waits for the caller's own action. Each section is filtered as the API
//! route that shows the same data (`view::as_route`), and left out for roles that route refuses.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde::Serialize;

use super::super::{AppState, Authorized};
use super::systems::MigrationLine;
use super::view::{self, Chrome, Section};
use super::{PageError, render};
use crate::assessments::AssessmentState;
use crate::corrections::Status;
use crate::store::CorrectionFilter;
use crate::store::{QualityStatus, RunState};
use crate::systems::SystemStatus;
use ronghe_assessment::IntegrationMode;

/// How far ahead a correction counts as "due soon", in calendar days.
const DUE_SOON_DAYS: i64 = 3;
/// The most open quality items counted (the queue page has them all).
const QUALITY_COUNTED: i64 = 1000;
/// How far ahead a change notice counts as "taking effect soon", in calendar days.
const NOTICES_AHEAD_DAYS: i64 = 7;

#[derive(Serialize)]
struct Overview {
    chrome: Chrome,
    systems: Option<Systems>,
    exchange: Option<Exchange>,
    quality: Option<Quality>,
    corrections: Option<Corrections>,
    migrations: Option<Section<Vec<MigrationLine>>>,
    notices: Option<Section<Vec<NoticeLine>>>,
    actions: Vec<Action>,
}

/// A change notice taking effect soon.
#[derive(Serialize)]
struct NoticeLine {
    system_id: String,
    kind: String,
    title: String,
    effective_on: String,
    /// `今天生效`, `3 天后生效`.
    when: String,
}

#[derive(Serialize)]
struct Systems {
    total: usize,
    by_status: Vec<Count>,
    by_mode: Vec<Count>,
}

#[derive(Serialize)]
struct Count {
    label: String,
    count: usize,
    href: String,
}

#[derive(Serialize)]
struct Exchange {
    backlog: i64,
    dead: i64,
    delivered: i64,
    oldest_pending: String,
    lag_minutes: i64,
}

#[derive(Serialize)]
struct Quality {
    open: String,
}

#[derive(Serialize)]
struct Corrections {
    overdue: usize,
    due_soon: usize,
    items: Vec<CorrectionLine>,
}

#[derive(Serialize)]
struct CorrectionLine {
    id: i64,
    system_id: String,
    reason: String,
    due_on: String,
    overdue: bool,
}

/// Something waiting for the caller: a score sheet to submit, a verdict to give.
#[derive(Serialize)]
struct Action {
    what: String,
    href: String,
}

pub(super) async fn page(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let view = Overview {
        chrome: Chrome::new(&auth, &headers, "/", "总览"),
        systems: systems(&state, &auth).await?,
        exchange: exchange(&state, &auth).await?,
        quality: quality(&state, &auth).await?,
        corrections: corrections(&state, &auth).await?,
        migrations: migrations(&state, &auth).await?,
        notices: notices(&state, &auth).await?,
        actions: actions(&state, &auth).await?,
    };
    Ok(render(StatusCode::OK, "overview", &view))
}

async fn systems(state: &AppState, auth: &Authorized) -> Result<Option<Systems>, PageError> {
    let Some(reader) = view::as_route(auth, "GET", "/api/v1/systems") else {
        return Ok(None);
    };
    let visible = reader.visible_systems(state).await?;
    let mine: Vec<_> = state
        .store
        .portfolio()
        .await?
        .systems
        .into_iter()
        .filter(|e| visible.as_ref().is_none_or(|ids| ids.contains(&e.system_id)))
        .collect();
    let by_status = SystemStatus::ALL
        .iter()
        .map(|status| Count {
            label: status.label().to_owned(),
            count: mine.iter().filter(|e| e.status == *status).count(),
            href: format!("/systems?status={}", status.name()),
        })
        .collect();
    // In the order of Art. 25, then the systems without a verdict; modes nobody has are left out.
    let modes = IntegrationMode::ALL.iter().map(|m| Some(*m)).chain([None]);
    let by_mode = modes
        .map(|mode| Count {
            label: mode.map_or("未评估", IntegrationMode::label).to_owned(),
            count: mine.iter().filter(|e| e.mode == mode).count(),
            href: format!("/systems?mode={}", mode.map_or("none", IntegrationMode::name)),
        })
        .filter(|count| count.count > 0)
        .collect();
    Ok(Some(Systems {
        total: mine.len(),
        by_status,
        by_mode,
    }))
}

async fn exchange(state: &AppState, auth: &Authorized) -> Result<Option<Exchange>, PageError> {
    if view::as_route(auth, "GET", "/api/v1/exchange/status").is_none() {
        return Ok(None);
    }
    let status = state.store.outbox_status().await?;
    Ok(Some(Exchange {
        backlog: status.backlog,
        dead: status.dead,
        delivered: status.delivered,
        oldest_pending: view::beijing_or_dash(status.oldest_pending_at.as_ref()),
        lag_minutes: status
            .oldest_pending_at
            .map_or(0, |at| (Utc::now() - at).num_minutes().max(0)),
    }))
}

async fn quality(state: &AppState, auth: &Authorized) -> Result<Option<Quality>, PageError> {
    let Some(reader) = view::as_route(auth, "GET", "/api/v1/quality") else {
        return Ok(None);
    };
    let items = state
        .store
        .list_quality_items(None, Some(QualityStatus::Open), QUALITY_COUNTED)
        .await?;
    let capped = items.len() as i64 >= QUALITY_COUNTED;
    let mine = reader.filter(state, items, |i| &i.system_id).await?;
    Ok(Some(Quality {
        open: if capped {
            format!("{}+", mine.len())
        } else {
            mine.len().to_string()
        },
    }))
}

async fn corrections(state: &AppState, auth: &Authorized) -> Result<Option<Corrections>, PageError> {
    let Some(reader) = view::as_route(auth, "GET", "/api/v1/corrections") else {
        return Ok(None);
    };
    let today = crate::calendar::today();
    let soon = today + chrono::Duration::days(DUE_SOON_DAYS);
    let open = state
        .store
        .list_corrections(&CorrectionFilter {
            status: Some(Status::Open),
            system_id: None,
            open_due_before: Some(soon + chrono::Duration::days(1)),
        })
        .await?;
    let mine = reader.filter(state, open, |c| &c.system_id).await?;
    let items: Vec<CorrectionLine> = mine
        .iter()
        .map(|c| CorrectionLine {
            id: c.id,
            system_id: c.system_id.clone(),
            reason: c.reason.clone(),
            due_on: c.due_on.format("%Y-%m-%d").to_string(),
            overdue: c.due_on < today,
        })
        .collect();
    Ok(Some(Corrections {
        overdue: items.iter().filter(|c| c.overdue).count(),
        due_soon: items.iter().filter(|c| !c.overdue).count(),
        items,
    }))
}

/// The running migrations of the systems the caller's migration route sees, as that route
/// answers each (`server/migration.rs::current`).
async fn migrations(
    state: &AppState,
    auth: &Authorized,
) -> Result<Option<Section<Vec<MigrationLine>>>, PageError> {
    let Some(reader) = view::as_route(auth, "GET", "/api/v1/systems/{id}/migration") else {
        return Ok(None);
    };
    let mut running = Vec::new();
    for system in state.store.list_systems(None).await? {
        if !reader.sees(&system) {
            continue;
        }
        if let Some(status) = super::super::migration::current(state, &system.id).await?
            && status.run.state == RunState::Running
        {
            running.push(MigrationLine::of(status));
        }
    }
    Ok(Some(Section { items: running }))
}

/// The change notices taking effect from today to a week ahead, as `GET /api/v1/notices` lists
/// them (`from` today), soonest first.
async fn notices(state: &AppState, auth: &Authorized) -> Result<Option<Section<Vec<NoticeLine>>>, PageError> {
    if view::as_route(auth, "GET", "/api/v1/notices").is_none() {
        return Ok(None);
    }
    let today = crate::calendar::today();
    let horizon = today + chrono::Duration::days(NOTICES_AHEAD_DAYS);
    let mut soon: Vec<_> = state
        .store
        .list_notices(None, Some(today))
        .await?
        .into_iter()
        .filter(|n| n.effective_on <= horizon)
        .collect();
    soon.sort_by_key(|n| (n.effective_on, n.id));
    Ok(Some(Section {
        items: soon
            .into_iter()
            .map(|n| NoticeLine {
                when: match (n.effective_on - today).num_days() {
                    0 => "今天生效".to_owned(),
                    days => format!("{days} 天后生效"),
                },
                effective_on: n.effective_on.format("%Y-%m-%d").to_string(),
                system_id: n.system_id,
                kind: n.kind_label,
                title: n.title,
            })
            .collect(),
    }))
}

async fn actions(state: &AppState, auth: &Authorized) -> Result<Vec<Action>, PageError> {
    let Some(panel) = view::as_route(auth, "GET", "/api/v1/assessments") else {
        return Ok(Vec::new());
    };
    let me = auth.principal.account().unwrap_or_default().to_owned();
    let mut actions = Vec::new();
    for assessment in super::super::assessments::visible(state, &panel, None).await? {
        let href = format!("/assessments/{}", assessment.id);
        match assessment.state {
            AssessmentState::Scoring => {
                let view = state.store.assessment(&assessment.id).await?;
                if view.pending.contains(&me) {
                    actions.push(Action {
                        what: format!(
                            "为 {}（{}）第 {} 轮评分",
                            view.system_name, assessment.id, assessment.round
                        ),
                        href,
                    });
                }
            }
            AssessmentState::Closed if assessment.chair == me => actions.push(Action {
                what: format!("给出 {} 的评估结论", assessment.id),
                href,
            }),
            _ => {}
        }
    }
    Ok(actions)
}

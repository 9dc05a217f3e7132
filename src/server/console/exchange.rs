//! 交换死信: the outbox to the provincial data-sharing exchange — its status and the dead items
//! of the caller's systems (system, case, version, last error, attempts) — and the form that
//! replays one dead item or all of a system's. The listing and the replay are the API's own
//! calls (`server/exchange.rs`); the page shows, and replays, only what the caller's scope
//! covers.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::super::exchange::{dead, replay_dead};
use super::super::{ApiError, AppState, Authorized};
use super::view::{self, Choice, Chrome};
use super::{PageError, render, see_other};
use crate::store::Replay;

#[derive(Deserialize)]
pub(super) struct PageQuery {
    system: Option<String>,
    /// How many items the last replay put back (after the form's redirect).
    replayed: Option<usize>,
}

#[derive(Serialize)]
struct ExchangeView {
    chrome: Chrome,
    systems: Vec<Choice>,
    replayed: Option<usize>,
    backlog: i64,
    dead: i64,
    delivered: i64,
    oldest_pending: String,
    rows: Vec<Row>,
    by_system: Vec<SystemDead>,
}

#[derive(Serialize)]
struct Row {
    id: i64,
    system_id: String,
    case_no: String,
    version: i64,
    attempts: i64,
    last_error: String,
    enqueued_at: String,
}

/// A system with dead items: the form that replays them all.
#[derive(Serialize)]
struct SystemDead {
    system_id: String,
    count: usize,
}

pub(super) async fn page(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let system = view::chosen(query.system.as_deref()).to_owned();
    let status = state.store.outbox_status().await?;
    let items = dead(&state, (!system.is_empty()).then_some(system.as_str())).await?;
    let items = auth.filter(&state, items, |i| &i.system_id).await?;
    let mut by_system: BTreeMap<String, usize> = BTreeMap::new();
    for item in &items {
        *by_system.entry(item.system_id.clone()).or_default() += 1;
    }
    let view = ExchangeView {
        chrome: Chrome::new(&auth, &headers, "/monitoring", "交换死信队列"),
        systems: view::system_choices(&state, &auth, &system).await?,
        replayed: query.replayed,
        backlog: status.backlog,
        dead: status.dead,
        delivered: status.delivered,
        oldest_pending: view::beijing_or_dash(status.oldest_pending_at.as_ref()),
        rows: items
            .into_iter()
            .map(|i| Row {
                id: i.id,
                system_id: i.system_id,
                case_no: i.case_no,
                version: i.version,
                attempts: i.attempts,
                last_error: i.last_error.unwrap_or_else(|| "—".to_owned()),
                enqueued_at: view::beijing(&i.enqueued_at),
            })
            .collect(),
        by_system: by_system
            .into_iter()
            .map(|(system_id, count)| SystemDead { system_id, count })
            .collect(),
    };
    Ok(render(StatusCode::OK, "exchange", &view))
}

/// The replay form: one dead `item`, or every dead item of one `system`.
#[derive(Deserialize)]
pub(super) struct ReplayForm {
    item: Option<String>,
    system: Option<String>,
}

/// Replays what the form names, then back to the page (303). An item or a system outside the
/// caller's scope is refused (403) before anything changes, by the API's own `replay_dead`.
pub(super) async fn replay(
    State(state): State<AppState>,
    auth: Authorized,
    Form(form): Form<ReplayForm>,
) -> Result<Response, PageError> {
    let item = view::chosen(form.item.as_deref());
    let system = view::chosen(form.system.as_deref());
    let which = match (item, system) {
        (item, "") if !item.is_empty() => {
            let id: i64 = item
                .parse()
                .map_err(|_| ApiError::not_found(format!("no dead exchange item {item:?}")))?;
            Replay::Ids(vec![id])
        }
        ("", system) if !system.is_empty() => Replay::All {
            system_id: Some(system.to_owned()),
        },
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_replay",
                "重放须指明一条死信（item）或一个系统（system），二者选一。give item or system",
            )
            .with_field("item")
            .into());
        }
    };
    let replayed = replay_dead(&state, &auth, &which).await?;
    Ok(see_other(&format!(
        "/monitoring/exchange?replayed={}",
        replayed.len()
    )))
}

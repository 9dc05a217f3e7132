//! A REST/JSON market-regulation licensing system (市场监管许可系统): API-key auth, page-number
//! paging with a total, an `updatedSince` filter, its own status codes ("00" 待受理 … "20" 不予
//! 受理), camelCase fields, an envelope `{"code": "0000", "msg", "data"}`, fetch by case number,
//! and application intake.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::data::{self, LegacyCase};
use super::{Applications, Fault, FaultPlan, Faults, Running, SimOptions, beijing};

/// The API key the simulator accepts in `X-Api-Key`.
pub const API_KEY: &str = "sim-rest-key";

/// The system's own status code for a state.
pub fn status_code(state: data::State) -> &'static str {
    match state {
        data::State::Submitted => "00",
        data::State::Accepted => "01",
        data::State::UnderReview => "02",
        data::State::Approved => "10",
        data::State::Rejected => "11",
        data::State::NotAccepted => "20",
    }
}

/// A case as this system shows it.
pub fn to_json(c: &LegacyCase) -> Value {
    let time = |t: Option<i64>| t.map(|t| beijing(t, "%Y-%m-%d %H:%M:%S"));
    json!({
        "caseNo": c.no,
        "version": c.version,
        "itemCode": c.item_code,
        "itemName": c.item_name,
        "applicant": {
            "name": c.applicant_name,
            "type": if c.applicant_is_company { "2" } else { "1" },
            "idType": if c.applicant_is_company { "49" } else { "111" },
            "idNo": c.applicant_cert_no,
            "mobile": c.phone,
        },
        "areaCode": c.region,
        "deptName": c.department,
        "deptCode": c.department_uscc,
        "acceptor": c.accepted_at.map(|_| c.acceptor.clone()),
        "applyTime": time(Some(c.applied_at)),
        "acceptTime": time(c.accepted_at),
        "finishTime": time(c.finished_at),
        "timeLimit": c.time_limit_days,
        "status": status_code(c.state),
        "opinion": c.opinion,
        "licenceNo": c.certificate_no,
        "updatedAt": beijing(c.updated_at, "%Y-%m-%dT%H:%M:%S+08:00"),
    })
}

struct Sim {
    /// Sorted by (updatedAt, caseNo): the order the listing answers in.
    cases: Vec<Value>,
    applications: Applications,
    faults: Arc<Faults>,
}

/// A running REST simulator.
pub struct RestSim {
    pub running: Running,
    sim: Arc<Sim>,
}

impl RestSim {
    /// Starts the simulator with `options.cases` seeded cases.
    pub async fn start(options: &SimOptions) -> std::io::Result<RestSim> {
        let mut cases: Vec<Value> = data::cases(options.seed, options.cases)
            .iter()
            .map(to_json)
            .collect();
        cases.sort_by(|a, b| {
            (a["updatedAt"].as_str(), a["caseNo"].as_str())
                .cmp(&(b["updatedAt"].as_str(), b["caseNo"].as_str()))
        });
        let faults = Arc::new(Faults::default());
        let sim = Arc::new(Sim {
            cases,
            applications: Applications::default(),
            faults: faults.clone(),
        });
        let app = Router::new()
            .route("/api/v1/licences", get(list))
            .route("/api/v1/licences/{no}", get(show))
            .route("/api/v1/applications", post(apply))
            .route("/__sim/faults", post(set_faults))
            .with_state(sim.clone());
        let running = Running::serve(options.listen, app, faults).await?;
        Ok(RestSim { running, sim })
    }

    /// The applications handed to this system so far.
    pub fn applications(&self) -> Vec<Value> {
        self.sim.applications.all()
    }
}

fn envelope(status: StatusCode, code: &str, msg: &str, data: Value) -> Response {
    (status, Json(json!({ "code": code, "msg": msg, "data": data }))).into_response()
}

/// Checks the key and applies any injected fault; `Some` is the answer to give instead.
async fn guard(sim: &Sim, headers: &HeaderMap) -> Option<Response> {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(API_KEY) {
        return Some(envelope(
            StatusCode::UNAUTHORIZED,
            "4001",
            "无效的API Key",
            Value::Null,
        ));
    }
    match sim.faults.next().await? {
        Fault::ServerError => Some(envelope(
            StatusCode::SERVICE_UNAVAILABLE,
            "5003",
            "系统繁忙,请稍后再试",
            Value::Null,
        )),
        Fault::Garbage => {
            Some((StatusCode::OK, "<html><body>网关错误 Bad Gateway</body></html>").into_response())
        }
        Fault::Truncated => {
            Some((StatusCode::OK, r#"{"code":"0000","msg":"成功","data":{"total":"#).into_response())
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    page_no: Option<usize>,
    page_size: Option<usize>,
    /// Inclusive: records updated at or after this time.
    updated_since: Option<String>,
}

async fn list(State(sim): State<Arc<Sim>>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    if let Some(answer) = guard(&sim, &headers).await {
        return answer;
    }
    let page = q.page_no.unwrap_or(1).max(1);
    let size = q.page_size.unwrap_or(20).clamp(1, 500);
    let since = q.updated_since.unwrap_or_default();
    let start = sim
        .cases
        .partition_point(|c| c["updatedAt"].as_str().unwrap_or_default() < since.as_str());
    let matching = &sim.cases[start..];
    let items: Vec<Value> = matching
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .cloned()
        .collect();
    envelope(
        StatusCode::OK,
        "0000",
        "成功",
        json!({ "total": matching.len(), "pageNo": page, "pageSize": size, "list": items }),
    )
}

async fn show(State(sim): State<Arc<Sim>>, headers: HeaderMap, Path(no): Path<String>) -> Response {
    if let Some(answer) = guard(&sim, &headers).await {
        return answer;
    }
    match sim.cases.iter().find(|c| c["caseNo"] == no.as_str()) {
        Some(case) => envelope(StatusCode::OK, "0000", "成功", case.clone()),
        None => envelope(StatusCode::NOT_FOUND, "4004", "办件不存在", Value::Null),
    }
}

async fn apply(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Option<Json<Value>>) -> Response {
    if let Some(answer) = guard(&sim, &headers).await {
        return answer;
    }
    let Some(Json(application)) = body.filter(|Json(v)| v.is_object()) else {
        return envelope(StatusCode::BAD_REQUEST, "4000", "请求体须为JSON对象", Value::Null);
    };
    let receipt = format!("SQ{:010}", sim.applications.keep(application));
    envelope(
        StatusCode::OK,
        "0000",
        "受理成功",
        json!({ "receiptNo": receipt }),
    )
}

async fn set_faults(State(sim): State<Arc<Sim>>, Json(plan): Json<FaultPlan>) -> StatusCode {
    sim.faults.set(plan);
    StatusCode::NO_CONTENT
}

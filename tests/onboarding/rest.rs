//! A REST API with nested camelCase JSON, epoch-millisecond timestamps, upper-case English
//! codes and Chinese statuses that also say how a finished case ended; served by a real HTTP
//! server on a loopback port, paged by offset.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::routing::get;
use serde_json::{Value, json};

use super::cases::Case;

fn millis(at: i64) -> i64 {
    at * 1000
}

/// A case as this API writes it.
pub(crate) fn record(c: &Case) -> Value {
    json!({
        "caseId": c.no,
        "rev": c.version,
        "item": { "code": c.item_code, "name": c.item_name },
        "applicant": {
            "type": if c.company { "COMPANY" } else { "PERSON" },
            "name": c.applicant,
            "idType": if c.company { "BUSINESS_LICENCE" } else { "ID_CARD" },
            "idNo": c.certificate_no,
            "mobile": c.phone,
            "address": c.address,
        },
        "areaCode": c.region,
        "applyTime": millis(c.applied_at),
        "channel": if c.online { "ONLINE" } else { "WINDOW" },
        "acceptance": {
            "deptName": c.department,
            "deptCreditCode": c.department_uscc,
            "deptAreaCode": c.department_region,
            "acceptor": c.acceptor,
            "acceptTime": c.accepted_at.map(millis),
            "timeLimit": c.time_limit_days,
            // Two calendar days per working day: past any working-day count.
            "dueTime": c.accepted_at.map(|t| millis(t + i64::from(c.time_limit_days) * 2 * 86_400)),
        },
        "status": c.status.label(),
        "opinion": c.opinion,
        "result": c.finished_at.map(|at| json!({
            "finishTime": millis(at),
            "approver": c.handler,
            "desc": c.reason,
            "licenceNo": c.licence_no,
        })),
        "updatedAt": millis(c.updated_at),
        "meta": { "createdBy": c.created_by, "createdAt": millis(c.applied_at), "tenant": "gy-jt" },
    })
}

#[derive(serde::Deserialize)]
struct Page {
    offset: usize,
    limit: usize,
}

async fn list(State(records): State<Arc<Vec<Value>>>, Query(page): Query<Page>) -> Json<Value> {
    let rows: Vec<&Value> = records.iter().skip(page.offset).take(page.limit).collect();
    Json(json!({ "code": 0, "data": { "total": records.len(), "rows": rows } }))
}

/// Serves `cases` on a loopback port until the runtime ends; the adapter config that reads them.
pub(crate) async fn serve(cases: &[Case]) -> String {
    serve_records(cases.iter().map(record).collect()).await
}

/// Serves records of this API's shape (`record`, perhaps edited); the adapter config that reads them.
pub(crate) async fn serve_records(records: Vec<Value>) -> String {
    let address = super::cases::listen("/api/v2/cases", get(list), records).await;
    format!(
        r#"type = "rest"
base_url = "http://{address}/api/v2/"

[records]
path = "cases"
select = "/data/rows"
key = "/caseId"
total = "/data/total"

[records.paging]
type = "offset"
param = "offset"
size_param = "limit"
size = 100
"#
    )
}

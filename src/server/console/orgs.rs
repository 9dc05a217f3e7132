//! 部门库: the organisations registry as `GET /api/v1/orgs` lists it (search, division), and
//! for administrators an import form that takes the CSV `ronghe orgs import` reads, pasted —
//! all or nothing, every problem shown with its line, each agency in the importer's scope
//! (`server/orgs.rs::outside_scope`, as the API checks it).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::super::orgs::{logged, outside_scope};
use super::super::{AppState, Authorized};
use super::view::{self, Chrome, Pager};
use super::{PageError, render, see_other};
use crate::orgs::{self, ImportRefused, Organisation};
use crate::store::Guarded;

/// Rows per page.
const PAGE_ROWS: usize = 50;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    search: Option<String>,
    within: Option<String>,
    page: Option<usize>,
    /// What the last import did (after the form's redirect): new, replaced, revision.
    created: Option<usize>,
    updated: Option<usize>,
    revision: Option<i64>,
}

#[derive(Serialize)]
struct ListView {
    chrome: Chrome,
    search: String,
    within: String,
    rows: Vec<Row>,
    total: usize,
    pager: Pager,
    /// The last import's result, after its redirect.
    imported: Option<String>,
    /// The import form, for administrators.
    import: Option<ImportView>,
}

#[derive(Serialize)]
struct Row {
    credit_code: String,
    name: String,
    synthetic: bool,
    division: String,
    parent: String,
    aliases: String,
    codes: String,
}

#[derive(Serialize)]
struct ImportView {
    csv: String,
    problems: Vec<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    orgs_page(&state, &auth, &headers, query, None, StatusCode::OK).await
}

async fn orgs_page(
    state: &AppState,
    auth: &Authorized,
    headers: &HeaderMap,
    query: ListQuery,
    import: Option<ImportView>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let search = view::chosen(query.search.as_deref()).to_owned();
    let within = view::chosen(query.within.as_deref()).to_owned();
    if !within.is_empty() && crate::validate::division(&within).is_err() {
        return Err(view::bad_filter("within", &within).into());
    }
    let listed: Vec<Organisation> = state
        .store
        .list_orgs((!within.is_empty()).then_some(within.as_str()))
        .await?
        .into_iter()
        .filter(|o| search.is_empty() || orgs::matches(o, &search))
        .collect();
    let total = listed.len();
    let filters = [("search", search.as_str()), ("within", within.as_str())];
    let (listed, pager) = view::paginate(listed, query.page, PAGE_ROWS, "/orgs", &filters);
    let import = view::as_route(auth, "POST", "/orgs").map(|_| {
        import.unwrap_or(ImportView {
            csv: String::new(),
            problems: Vec::new(),
        })
    });
    let view = ListView {
        chrome: Chrome::new(auth, headers, "/orgs", "部门库"),
        rows: listed
            .into_iter()
            .map(|o| Row {
                credit_code: o.credit_code,
                name: o.name,
                synthetic: o.synthetic,
                division: o.division,
                parent: o.parent.unwrap_or_default(),
                aliases: o.aliases.join("、"),
                codes: o.codes.join("、"),
            })
            .collect(),
        imported: match (query.created, query.updated, query.revision) {
            (Some(created), Some(updated), Some(revision)) => Some(format!(
                "已导入：新增 {created} 个机构，替换 {updated} 个（部门库第 {revision} 版），已记入审计日志。映射的查找即时生效。"
            )),
            _ => None,
        },
        search,
        within,
        total,
        pager,
        import,
    };
    Ok(render(status, "orgs", &view))
}

/// Imports the pasted CSV (the API's checks and store call), then the list with what it did
/// (303). A refusal shows the form again (422, or 403 out of scope) with the text and every
/// problem by line; nothing is written.
pub(super) async fn import(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let csv = view::form_field(&form, "csv").to_owned();
    let line = |p: &orgs::OrgProblem| match p.line {
        0 => format!("{}：{}", p.field, p.message),
        n => format!("第 {n} 行 {}：{}", p.field, p.message),
    };
    let (problems, status) = match orgs::parse_csv(&csv) {
        Err(ImportRefused(problems)) => (
            problems.iter().map(line).collect(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Ok(import) => match outside_scope(&auth, &import, |n| format!("第 {n} 行")) {
            Some(refused) => (vec![refused.message], StatusCode::FORBIDDEN),
            None => match state.store.import_orgs(import, &auth.principal.actor).await {
                Ok(imported) => {
                    logged(&auth, &imported);
                    return Ok(see_other(&format!(
                        "/orgs?created={}&updated={}&revision={}",
                        imported.created, imported.updated, imported.revision
                    )));
                }
                Err(Guarded::Refused(ImportRefused(problems))) => (
                    problems.iter().map(line).collect(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                ),
                Err(Guarded::Store(e)) => return Err(super::super::ApiError::from(e).into()),
            },
        },
    };
    let query = ListQuery {
        search: None,
        within: None,
        page: None,
        created: None,
        updated: None,
        revision: None,
    };
    orgs_page(
        &state,
        &auth,
        &headers,
        query,
        Some(ImportView { csv, problems }),
        status,
    )
    .await
}

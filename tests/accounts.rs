//! Issue 14: nobody acts on the platform without being who they are. The authorization matrix
//! walks the OpenAPI document (every operation: anonymous, without the role, out of scope, in
//! scope); sign-in with password and TOTP, lockout, CSRF, session timeouts, token expiry and
//! revocation; the rigged verdict and the anonymous ticket of the issue; a regional
//! administrator's view; the account lifecycle; and a store written by the previous build.

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::Utc;
use http_body_util::BodyExt;
use ronghe::access::policy::{self, Access, ScopeRule};
use ronghe::access::{Role, secret};
use ronghe::store::{NewQualityItem, Pool, QualityReason, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A platform on SQLite with two cities' systems: `gy-a` (贵阳 520100) and `zy-a` (遵义 520300),
/// an assessment of each, a quality item and a correction in each, and accounts.
struct Platform {
    router: axum::Router,
    store: Store,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Platform {
    async fn new() -> Platform {
        Platform::on(|store| store).await
    }

    /// A platform whose store is `keyed` (e.g. sealed with keys).
    async fn on(keyed: impl FnOnce(Store) -> Store) -> Platform {
        let dir = tempfile::tempdir().unwrap();
        let store = keyed(common::sqlite_store(&dir).await);
        let router = ronghe::server::app(common::app_state(store.clone()), 1 << 20);
        Platform {
            router,
            store,
            _dir: dir,
        }
    }

    async fn call(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// `method path` with a JSON `body` (none for GET and DELETE), with `token` when given.
    async fn send(&self, token: Option<&str>, method: &str, path: &str, body: Value) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = if matches!(method, "GET" | "DELETE") {
            Body::empty()
        } else {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        };
        self.call(request.body(body).unwrap()).await
    }

    async fn system(&self, id: &str, region: &str, department: &str) {
        let mut new = common::new_system(id);
        new.region_code = region.to_owned();
        new.department = department.to_owned();
        let system = new.validate(Utc::now()).unwrap();
        self.store.insert_system(&system, "test").await.unwrap();
    }
}

const GY_DEPT: &str = "贵阳市市场监督管理局";
const ZY_DEPT: &str = "遵义市市场监督管理局";

/// The world the matrix runs in; answers the ids it made.
struct World {
    /// Tokens of the panels' experts, by account.
    experts: std::collections::HashMap<String, String>,
    gy_correction: i64,
    gy_quality: i64,
    zy_correction: i64,
    zy_quality: i64,
}

async fn world(p: &Platform) -> World {
    p.system("gy-a", "520100", GY_DEPT).await;
    p.system("zy-a", "520300", ZY_DEPT).await;
    let case = common::case("case_finished");
    p.store
        .upsert_cases("gy-a", std::slice::from_ref(&case))
        .await
        .unwrap();
    p.store
        .upsert_cases("zy-a", std::slice::from_ref(&case))
        .await
        .unwrap();
    let mut quality = Vec::new();
    for system in ["gy-a", "zy-a"] {
        let item = NewQualityItem {
            system_id: system.to_owned(),
            case_no: Some("BAD-1".to_owned()),
            version: Some(1),
            channel: "push-json".to_owned(),
            record_hash: format!("hash-{system}"),
            record: json!({"caseNo": "BAD-1"}),
            reasons: vec![QualityReason {
                code: "canonical".to_owned(),
                field: Some("applicant.certificate_no".to_owned()),
                message: "check digit".to_owned(),
            }],
            mapping_version: None,
            received_at: Utc::now(),
        };
        quality.push(p.store.queue_quality_items(&[item], "test").await.unwrap()[0]);
    }
    let mut corrections = Vec::new();
    for item in &quality {
        let raised = p
            .store
            .raise_correction(
                &ronghe::corrections::Source::QualityItem(*item),
                "x",
                chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
                "test",
                Utc::now(),
            )
            .await
            .unwrap();
        corrections.push(raised.id);
    }
    // Each city's assessment, chaired by its own expert, with one member each.
    let mut experts = std::collections::HashMap::new();
    for (system, chair, member) in [
        ("gy-a", "chair-gy", "member-gy"),
        ("zy-a", "chair-zy", "member-zy"),
    ] {
        for id in [chair, member] {
            let token = common::staff_token(&p.store, id, &["expert@province"]).await;
            experts.insert(id.to_owned(), token);
        }
        p.store
            .register_rubric(
                &ronghe_assessment::rubric::Rubric::builtin(),
                ronghe_assessment::rubric::DEFAULT_RUBRIC,
                "test",
            )
            .await
            .unwrap();
        p.store
            .open_assessment(system, ("ronghe-default", 1), chair, "test")
            .await
            .unwrap();
        p.store
            .act_on_assessment(
                &format!("{system}.1"),
                chair,
                ronghe::assessments::Command::AddExpert(ronghe::assessments::NewExpert {
                    id: member.to_owned(),
                    name: "专家".to_owned(),
                    department: "省大数据局".to_owned(),
                }),
            )
            .await
            .unwrap();
    }
    // Accounts whose homes lie in each city.
    for (id, scope) in [("staff-gy", "520100"), ("staff-zy", "520300")] {
        let link = common::staff_accounts(&p.store)
            .create(
                &ronghe::access::Principal::host("test", "localhost"),
                ronghe::accounts::NewAccount {
                    id: id.to_owned(),
                    name: "职员".to_owned(),
                    resident_id: common::synthetic_resident_id(id),
                    mobile: "13900000000".to_owned(),
                    agency: "某局".to_owned(),
                    region: scope.to_owned(),
                    grants: vec![ronghe::access::Grant {
                        role: Role::Operator,
                        scope: ronghe::access::Scope::Region(scope.to_owned()),
                    }],
                    approved_by: None,
                    reason: "test".to_owned(),
                },
            )
            .await
            .unwrap();
        assert!(!link.token.is_empty());
    }
    World {
        experts,
        gy_quality: quality[0],
        zy_quality: quality[1],
        gy_correction: corrections[0],
        zy_correction: corrections[1],
    }
}

/// The path with its parameters filled for the 贵阳 (`in_gy`) or the 遵义 world.
fn fill(path: &str, world: &World, in_gy: bool) -> String {
    let (system, assessment, correction, quality, account, expert) = if in_gy {
        (
            "gy-a",
            "gy-a.1",
            world.gy_correction,
            world.gy_quality,
            "staff-gy",
            "member-gy",
        )
    } else {
        (
            "zy-a",
            "zy-a.1",
            world.zy_correction,
            world.zy_quality,
            "staff-zy",
            "member-zy",
        )
    };
    let case_no = common::case("case_finished").case_no;
    let id = if path.starts_with("/api/v1/assessments/rubrics/") {
        "ronghe-default".to_owned()
    } else if path.starts_with("/api/v1/assessments/") {
        assessment.to_owned()
    } else if path.starts_with("/api/v1/corrections/") {
        correction.to_string()
    } else if path.starts_with("/api/v1/quality/") {
        quality.to_string()
    } else if path.starts_with("/api/v1/accounts/") {
        account.to_owned()
    } else if path.starts_with("/api/v1/me/tokens/") {
        "0000000000000000".to_owned()
    } else {
        system.to_owned()
    };
    if path == "/api/v1/bridge/report" {
        // Outside a province-wide role the report names its system.
        return format!("{path}?system_id={system}");
    }
    path.replace("{id}", &id)
        .replace("{system}", system)
        .replace("{case_no}", &case_no)
        .replace("{expert}", expert)
        .replace("{round}", "1")
        .replace("{version}", "1")
        .replace("{milestone}", "a")
        .replace("{user_id}", "pu-1")
}

/// Whether the authorization layer (not the handler) refused the request.
fn refused_by_policy(answer: &Answer) -> bool {
    matches!(
        answer.code(),
        "unauthenticated" | "forbidden" | "out_of_scope" | "csrf_failed"
    ) || answer.body["error"]["message"] == "not found (or not in your scope)"
}

/// A role of `roles` to act in, preferring one whose scope can be a city.
fn acting_role(roles: &[Role]) -> Role {
    [
        Role::Engineer,
        Role::Operator,
        Role::ProjectManager,
        Role::RegionalAdmin,
        Role::Expert,
        Role::Auditor,
        Role::AgencyAdmin,
        Role::PlatformAdmin,
    ]
    .into_iter()
    .find(|r| roles.contains(r))
    .expect("a role")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_refused_anonymously_without_the_role_and_out_of_scope() {
    let p = Platform::new().await;
    let world = world(&p).await;
    let (_, doc) = {
        let answer = p.send(None, "GET", "/api/v1/openapi.json", Value::Null).await;
        (answer.status, answer.body)
    };
    // One token per (role, city), made once; experts act as the 贵阳 chair or member.
    let mut tokens = world.experts.clone();
    let mut token = async |id: &str, grant: String| -> String {
        if let Some(t) = tokens.get(id) {
            return t.clone();
        }
        let t = common::staff_token(&p.store, id, &[grant.as_str()]).await;
        tokens.insert(id.to_owned(), t.clone());
        t
    };
    let mut walked = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            walked.insert((method.clone(), path.clone()));
            let entry = policy::lookup(&method, path)
                .unwrap_or_else(|| panic!("{method} {path} has no row in the policy table"));
            let described = operation["description"].as_str().unwrap_or("");
            assert!(
                described.contains("角色 roles") || described.contains("公开 public"),
                "{method} {path}: the document publishes who may call it: {described}"
            );
            let target = fill(path, &world, true);
            let anonymous = p.send(None, &method, &target, json!({})).await;
            let Access::Signed { roles, scope } = entry.access else {
                // Public: whatever the handler answers, the layer did not ask who calls.
                assert!(
                    !anonymous.headers.contains_key(header::WWW_AUTHENTICATE),
                    "{method} {path} is public"
                );
                continue;
            };
            // Anonymous, and with a claimed actor: 401 in the one error shape.
            assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(anonymous.code(), "unauthenticated", "{method} {path}");
            assert!(anonymous.headers.contains_key(header::WWW_AUTHENTICATE));

            // Without any of the roles: 403.
            let other = Role::ALL.into_iter().find(|r| !roles.contains(r));
            if let Some(other) = other {
                let t = token(
                    &format!("no-{}", other.name().replace('_', "-")),
                    format!("{}@province", other.name()),
                )
                .await;
                let answer = p.send(Some(&t), &method, &target, json!({})).await;
                assert_eq!(
                    (answer.status, answer.code()),
                    (StatusCode::FORBIDDEN, "forbidden"),
                    "{method} {path} as {}: {}",
                    other.name(),
                    answer.body
                );
            }

            // In scope: the layer lets it through (the handler may still refuse the empty body).
            let role = acting_role(roles);
            let (inside, outside) = match role {
                Role::Expert => ("chair-gy".to_owned(), Some("chair-zy".to_owned())),
                Role::Auditor | Role::PlatformAdmin => {
                    (format!("in-{}", role.name().replace('_', "-")), None)
                }
                _ => (
                    format!("gy-{}", role.name().replace('_', "-")),
                    Some(format!("zy-{}", role.name().replace('_', "-"))),
                ),
            };
            let grant = |city: &str| match role {
                Role::Expert | Role::Auditor | Role::PlatformAdmin => format!("{}@province", role.name()),
                _ => format!("{}@region:{city}", role.name()),
            };
            let t = token(&inside, grant("520100")).await;
            let answer = p.send(Some(&t), &method, &target, json!({})).await;
            assert!(
                !refused_by_policy(&answer),
                "{method} {path} as {inside} in scope was refused: {} {}",
                answer.status,
                answer.body
            );

            // Out of scope: 404 for reads of one item, 403 for changes.
            let scoped = matches!(
                scope,
                ScopeRule::System(_)
                    | ScopeRule::Assessment
                    | ScopeRule::Correction
                    | ScopeRule::QualityItem
                    | ScopeRule::Account
            );
            if let (true, Some(outside)) = (scoped, outside) {
                let t = token(&outside, grant("520300")).await;
                let answer = p.send(Some(&t), &method, &target, json!({})).await;
                let expected = if method == "GET" {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(
                    answer.status, expected,
                    "{method} {path} as {outside}: {}",
                    answer.body
                );
                assert!(refused_by_policy(&answer), "{method} {path}: {}", answer.body);
            }
        }
    }
    // And the table holds no row the server does not document (or no longer serves). The
    // console's pages are for people, not in the API document: tests/console.rs walks them.
    for entry in policy::POLICY {
        let undocumented = ["/metrics", "/api/v1/openapi.json"].contains(&entry.path)
            || entry.surface == policy::Surface::Console;
        assert!(
            undocumented || walked.contains(&(entry.method.to_owned(), entry.path.to_owned())),
            "{} {} is in the policy table but not in the document",
            entry.method,
            entry.path
        );
    }
}

#[tokio::test]
async fn the_rigged_verdict_and_the_anonymous_ticket_of_the_issue_are_refused() {
    let p = Platform::new().await;
    world(&p).await;
    // The five anonymous requests of issue 14, each claiming a name.
    let scores = json!({"scores": {"support_coverage": 5}});
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/assessments/gy-a.1/experts",
            json!({"id": "x-1", "name": "x", "department": "x"}),
        ),
        (
            "PUT",
            "/api/v1/assessments/gy-a.1/experts/member-gy/scores",
            scores.clone(),
        ),
        (
            "PUT",
            "/api/v1/assessments/gy-a.1/experts/chair-gy/scores",
            scores,
        ),
        ("POST", "/api/v1/assessments/gy-a.1/close", json!({})),
        ("POST", "/api/v1/assessments/gy-a.1/verdict", json!({})),
        (
            "POST",
            "/api/v1/bridge/tickets",
            json!({"user_id": "pu-1", "system_id": "gy-a"}),
        ),
        ("POST", "/api/v1/systems/gy-a/retire", json!({"reason": "x"})),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-ronghe-actor", "chair-gy")
            .body(Body::from(body.to_string()))
            .unwrap();
        let answer = p.call(request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    // An expert who is not on the panel reads nothing of it.
    let t = common::enrolled(&p.store, "outsider", &["expert@province"])
        .await
        .0;
    let answer = p
        .send(
            Some(&t),
            "GET",
            "/api/v1/assessments/gy-a.1/rounds/1",
            Value::Null,
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
}

/// `field` of each element of a listed array.
fn field_of_each<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_regional_administrator_sees_and_changes_only_their_region() {
    let p = Platform::new().await;
    world(&p).await;
    let gy = common::staff_token(&p.store, "admin-gy", &["regional_admin@region:520100"]).await;
    let listed = p.send(Some(&gy), "GET", "/api/v1/systems", Value::Null).await;
    let ids = field_of_each(&listed.body, "id");
    assert_eq!(ids, ["gy-a"]);
    let shown = p
        .send(Some(&gy), "GET", "/api/v1/systems/zy-a", Value::Null)
        .await;
    assert_eq!(shown.status, StatusCode::NOT_FOUND, "existence is not confirmed");
    let changed = p
        .send(Some(&gy), "PATCH", "/api/v1/systems/zy-a", json!({"name": "改"}))
        .await;
    assert_eq!(
        (changed.status, changed.code()),
        (StatusCode::FORBIDDEN, "out_of_scope")
    );
    let retired = p
        .send(
            Some(&gy),
            "POST",
            "/api/v1/systems/zy-a/retire",
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(retired.status, StatusCode::FORBIDDEN);
    let registered = p
        .send(
            Some(&gy),
            "POST",
            "/api/v1/systems",
            json!({"id": "zy-b", "name": "x", "department": ZY_DEPT, "region_code": "520300",
                   "protocol": "rest", "endpoint": "http://127.0.0.1:9/api"}),
        )
        .await;
    assert_eq!(
        (registered.status, registered.code()),
        (StatusCode::FORBIDDEN, "out_of_scope")
    );
    // Accounts: only those whose home lies in 520100.
    let accounts = p.send(Some(&gy), "GET", "/api/v1/accounts", Value::Null).await;
    let ids = field_of_each(&accounts.body, "id");
    assert!(ids.contains(&"staff-gy") && !ids.contains(&"staff-zy"), "{ids:?}");
    assert!(
        accounts.body.to_string().contains("**"),
        "personal fields are masked"
    );
    let other = p
        .send(Some(&gy), "GET", "/api/v1/accounts/staff-zy", Value::Null)
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    // Nobody grants wider than their own: no province scope, no platform administrator.
    for grant in [
        json!({"role": "engineer", "scope": "province", "reason": "x"}),
        json!({"role": "platform_admin", "scope": "region:520100", "reason": "x"}),
        json!({"role": "engineer", "scope": "region:520300", "reason": "x"}),
    ] {
        let answer = p
            .send(
                Some(&gy),
                "POST",
                "/api/v1/accounts/staff-gy/grants",
                grant.clone(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{grant}: {}", answer.body);
    }
    let granted = p
        .send(
            Some(&gy),
            "POST",
            "/api/v1/accounts/staff-gy/grants",
            json!({"role": "engineer", "scope": "region:520102", "reason": "云岩区接入", "approved_by": "李处长"}),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    let shown = p
        .send(Some(&gy), "GET", "/api/v1/accounts/staff-gy", Value::Null)
        .await;
    let grants = shown.body["grants"].as_array().unwrap();
    assert!(
        grants.iter().any(|g| g["role"] == "engineer"
            && g["approved_by"] == "李处长"
            && g["granted_by"] == "admin-gy")
    );
    // Other lists: only the region's quality items and corrections.
    let op = common::staff_token(&p.store, "op-gy", &["operator@region:520100"]).await;
    for path in ["/api/v1/quality", "/api/v1/corrections"] {
        let answer = p.send(Some(&op), "GET", path, Value::Null).await;
        let systems = field_of_each(&answer.body, "system_id");
        assert_eq!(systems, ["gy-a"], "{path}");
    }
}

/// Signs in through the API; answers the session cookie and the CSRF token.
async fn sign_in(p: &Platform, account: &str, code: &str) -> Answer {
    let request = Request::post("/api/v1/auth/sign-in")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"account": account, "password": common::STAFF_PASSWORD, "code": code}).to_string(),
        ))
        .unwrap();
    p.call(request).await
}

fn cookie(answer: &Answer) -> String {
    let set = answer.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Secure"),
        "{set}"
    );
    set.split(';').next().unwrap().to_owned()
}

fn now() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap()
}

#[tokio::test]
async fn sign_in_needs_both_factors_locks_out_and_sessions_end() {
    let p = Platform::new().await;
    let (_, totp) = common::enrolled(&p.store, "wang-li", &["operator@province"]).await;
    let code = |at: u64| secret::totp_code(&totp, "wang-li", at).unwrap();
    // The enrolment used this step and the next one: a code works once.
    let replayed = sign_in(&p, "wang-li", &code(now() + 30)).await;
    assert_eq!(
        (replayed.status, replayed.code()),
        (StatusCode::UNAUTHORIZED, "sign_in_failed")
    );

    // Wrong password, wrong code, unknown account: one answer.
    let wrong_password = p
        .call(
            Request::post("/api/v1/auth/sign-in")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"account": "wang-li", "password": "Wrong-Password-1", "code": code(now())})
                        .to_string(),
                ))
                .unwrap(),
        )
        .await;
    let unknown = sign_in(&p, "nobody", "123456").await;
    assert_eq!(wrong_password.body, unknown.body);

    // A session from a fresh step; changes need the CSRF token.
    // (Time moves on: the steps the enrolment used lie in the past.)
    reset_failures(&p.store, "wang-li").await;
    set_last_step(&p.store, "wang-li", now() / 30 - 1).await;
    let signed = sign_in(&p, "wang-li", &code(now())).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    let session = cookie(&signed);
    let csrf = signed.body["csrf_token"].as_str().unwrap().to_owned();
    let with_cookie = |method: &str, path: &str, csrf: Option<&str>| {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, session.clone())
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request
            .body(Body::from(json!({"name": "ci", "days": 7}).to_string()))
            .unwrap()
    };
    let me = p.call(with_cookie("GET", "/api/v1/me", None)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["account"]["id"], "wang-li");
    assert!(me.body["account"]["resident_id"].as_str().unwrap().contains('*'));
    let forged = p.call(with_cookie("POST", "/api/v1/me/tokens", None)).await;
    assert_eq!(
        (forged.status, forged.code()),
        (StatusCode::FORBIDDEN, "csrf_failed")
    );
    let wrong = p
        .call(with_cookie("POST", "/api/v1/me/tokens", Some("guess")))
        .await;
    assert_eq!(wrong.code(), "csrf_failed");
    let issued = p
        .call(with_cookie("POST", "/api/v1/me/tokens", Some(&csrf)))
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.body);
    let token = issued.body["secret"].as_str().unwrap().to_owned();
    let token_id = issued.body["id"].as_str().unwrap().to_owned();
    assert!(
        !p.store
            .token(&token_id)
            .await
            .unwrap()
            .unwrap()
            .secret_hash
            .contains(&token)
    );

    // The token works without CSRF; revoked, it does not.
    let listed = p
        .send(Some(&token), "GET", "/api/v1/me/tokens", Value::Null)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(
        !listed.body.to_string().contains(token.split('.').nth(2).unwrap()),
        "no secret listed"
    );
    let revoked = p
        .send(
            Some(&token),
            "DELETE",
            &format!("/api/v1/me/tokens/{token_id}"),
            Value::Null,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let after = p.send(Some(&token), "GET", "/api/v1/me", Value::Null).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);

    // An expired token is refused.
    let (expiring, _) = common::enrolled(&p.store, "zhao-qiang", &["operator@province"]).await;
    let id = expiring.split('.').nth(1).unwrap();
    let Pool::Sqlite(pool) = p.store.pool() else {
        unreachable!()
    };
    sqlx::query("UPDATE account_tokens SET expires_at = $2 WHERE id = $1")
        .bind(id)
        .bind(Utc::now() - chrono::TimeDelta::seconds(1))
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        p.send(Some(&expiring), "GET", "/api/v1/me", Value::Null)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // An idle session ends after 30 minutes; a signed-out one at once.
    let session_hash = secret::secret_hash(session.split_once('=').unwrap().1);
    sqlx::query("UPDATE account_sessions SET last_seen_at = $2 WHERE id_hash = $1")
        .bind(&session_hash)
        .bind(Utc::now() - chrono::TimeDelta::minutes(31))
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        p.call(with_cookie("GET", "/api/v1/me", None)).await.status,
        StatusCode::UNAUTHORIZED
    );
    sqlx::query("UPDATE account_sessions SET last_seen_at = $2 WHERE id_hash = $1")
        .bind(&session_hash)
        .bind(Utc::now())
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        p.call(with_cookie("GET", "/api/v1/me", None)).await.status,
        StatusCode::OK
    );
    let out = p
        .call(with_cookie("POST", "/api/v1/auth/sign-out", Some(&csrf)))
        .await;
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(
        p.call(with_cookie("GET", "/api/v1/me", None)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Five failures lock the account, even against the right password and code.
    for _ in 0..5 {
        let answer = p
            .call(
                Request::post("/api/v1/auth/sign-in")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        json!({"account": "wang-li", "password": "Wrong-Password-1", "code": "000000"})
                            .to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert!(matches!(
            answer.status,
            StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
        ));
    }
    let locked = sign_in(&p, "wang-li", &code(now() + 30)).await;
    assert_eq!(
        (locked.status, locked.code()),
        (StatusCode::TOO_MANY_REQUESTS, "account_locked")
    );
    assert!(locked.headers.contains_key(header::RETRY_AFTER));

    // Every sign-in, failure and token use is in the audit log.
    let actions: Vec<String> = common::audit_trail(&p.store, "account:wang-li")
        .await
        .into_iter()
        .map(|(_, action)| action)
        .collect();
    for action in [
        "account.create",
        "account.enrol",
        "auth.sign_in",
        "auth.sign_in_failed",
        "token.create",
        "token.revoke",
        "auth.sign_out",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} missing in {actions:?}"
        );
    }
}

async fn reset_failures(store: &Store, account: &str) {
    let Pool::Sqlite(pool) = store.pool() else {
        unreachable!()
    };
    sqlx::query("UPDATE accounts SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1")
        .bind(account)
        .execute(pool)
        .await
        .unwrap();
}

async fn set_last_step(store: &Store, account: &str, step: u64) {
    let Pool::Sqlite(pool) = store.pool() else {
        unreachable!()
    };
    sqlx::query("UPDATE accounts SET totp_last_step = $2 WHERE id = $1")
        .bind(account)
        .bind(i64::try_from(step).unwrap())
        .execute(pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_account_lifecycle_ends_sessions_and_keeps_history() {
    let p = Platform::new().await;
    let admin = common::admin_token(&p.store).await;
    let (person, _) = common::enrolled(&p.store, "li-na", &["engineer@region:520100"]).await;
    assert_eq!(
        p.send(Some(&person), "GET", "/api/v1/me", Value::Null)
            .await
            .status,
        StatusCode::OK
    );
    // Suspended: the token stops working; disabled is final.
    let set_status = async |status: &str, reason: &str| {
        p.send(
            Some(&admin),
            "POST",
            "/api/v1/accounts/li-na/status",
            json!({"status": status, "reason": reason}),
        )
        .await
        .status
    };
    assert_eq!(set_status("suspended", "休假").await, StatusCode::NO_CONTENT);
    assert_eq!(
        p.send(Some(&person), "GET", "/api/v1/me", Value::Null)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(set_status("pending", "x").await, StatusCode::CONFLICT);
    assert_eq!(set_status("disabled", "离职").await, StatusCode::NO_CONTENT);
    assert_eq!(
        set_status("active", "x").await,
        StatusCode::CONFLICT,
        "disabled is final"
    );
    let shown = p
        .send(Some(&admin), "GET", "/api/v1/accounts/li-na", Value::Null)
        .await;
    assert_eq!(shown.body["status"], "disabled");
    assert_eq!(
        shown.body["grants"].as_array().unwrap().len(),
        1,
        "the history stays"
    );
    // Bad input: every problem at once, nothing written.
    let before = p.store.list_accounts().await.unwrap().len();
    let invalid = p
        .send(
            Some(&admin),
            "POST",
            "/api/v1/accounts",
            json!({"id": "X", "name": "", "resident_id": "12345", "mobile": "12",
                   "agency": "a", "region": "999999", "grants": [], "reason": "x"}),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = invalid.body["error"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["id", "name", "resident_id", "mobile", "region", "grants"]
    );
    assert_eq!(p.store.list_accounts().await.unwrap().len(), before);
    // The same person twice is refused.
    let same_person = async |id: &str| {
        p.send(
            Some(&admin),
            "POST",
            "/api/v1/accounts",
            json!({"id": id, "name": "李娜", "resident_id": common::synthetic_resident_id("li-na"),
                   "mobile": "13800000001", "agency": "a", "region": "520100",
                   "grants": [{"role": "operator", "scope": "region:520100"}], "reason": "x"}),
        )
        .await
    };
    let twice = same_person("li-na-2").await;
    assert_eq!(
        twice.status,
        StatusCode::CREATED,
        "a disabled account's person may come back: {}",
        twice.body
    );
    let thrice = same_person("li-na-3").await;
    assert_eq!(thrice.status, StatusCode::CONFLICT, "{}", thrice.body);
    // Nothing personal in the store in clear.
    let Pool::Sqlite(pool) = p.store.pool() else {
        unreachable!()
    };
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT name, resident_id, mobile FROM accounts")
            .fetch_all(pool)
            .await
            .unwrap();
    for (name, id, mobile) in rows {
        assert!(
            !name.contains("李娜") && !id.starts_with("5201") && !mobile.starts_with("138"),
            "{name} {id} {mobile}"
        );
    }
    let audit: Vec<(String,)> = sqlx::query_as("SELECT detail FROM audit_events")
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .all(|(d,)| !d.contains(&common::synthetic_resident_id("li-na")))
    );
}

#[test]
fn the_host_bootstraps_a_store_written_by_the_previous_build() {
    let dir = tempfile::tempdir().unwrap();
    let database = common::store_written_by("v17", &dir);
    let key = dir.path().join("node.key");
    std::fs::write(&key, common::key_secret("node")).unwrap();
    let config = dir.path().join("ronghe.toml");
    std::fs::write(
        &config,
        format!(
            "[bridge]\nactive_key = \"node\"\n[[bridge.keys]]\nid = \"node\"\nsecret = \"file:{}\"\n",
            key.display()
        ),
    )
    .unwrap();
    let run = |args: &[&str], stdin: Option<&[u8]>| {
        let mut all = vec![
            "--database",
            database.as_str(),
            "--config",
            config.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        common::binary::run_ronghe(dir.path(), &all, stdin)
    };
    // The old store's systems are still there; it has no account yet.
    run(&["systems", "list"], None).check(0, &["sim-rest", "sim-soap", "sim-sql"]);
    run(&["accounts", "list"], None).check(0, &[]);
    let person = common::binary::BOOTSTRAP_PERSON;
    let link = run(
        &[&["--json", "accounts", "bootstrap"][..], &person[..]].concat(),
        None,
    )
    .check(0, &[])
    .json();
    let token = link["token"].as_str().unwrap().to_owned();
    run(&[&["accounts", "bootstrap"][..], &person[..]].concat(), None)
        .check(1, &[])
        .stderr_has(&["already has a platform administrator"]);
    let setup = run(
        &["--json", "accounts", "enrol", &token],
        Some(common::STAFF_PASSWORD.as_bytes()),
    )
    .check(0, &[])
    .json();
    // A token may begin with '-' (URL-safe base64): it is read as the token, not as a flag.
    run(&["accounts", "enrol", "-not-a-token"], Some(b"x"))
        .check(1, &[])
        .stderr_has(&["enrolment link"]);
    let secret = secret::totp_secret_from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let code = |at: u64| secret::totp_code(&secret, "lin-ping", at).unwrap();
    run(&["accounts", "confirm", &token, "--code", "000000"], None)
        .check(1, &[])
        .stderr_has(&["code"]);
    run(&["accounts", "confirm", &token, "--code", &code(now())], None).check(0, &["active"]);
    run(&["accounts", "confirm", &token, "--code", &code(now())], None)
        .check(1, &[])
        .stderr_has(&["enrolment link"]);
    let issued = run(
        &[
            "--json",
            "accounts",
            "token",
            "create",
            "--account",
            "lin-ping",
            "--code",
            &code(now() + 30),
        ],
        Some(common::STAFF_PASSWORD.as_bytes()),
    )
    .check(0, &[])
    .json();
    let token = issued["secret"].as_str().unwrap();
    run(&["--token", token, "accounts", "token", "list"], None).check(0, &["cli"]);
    // A token carries only roles its owner holds (checked before the code is taken).
    run(
        &[
            "accounts",
            "token",
            "create",
            "--account",
            "lin-ping",
            "--code",
            "000000",
            "--role",
            "nobody",
        ],
        Some(common::STAFF_PASSWORD.as_bytes()),
    )
    .check(2, &[])
    .stderr_has(&["unknown role"]);
    run(&["accounts", "show", "lin-ping"], None).check(0, &["platform_admin@province", "1101**********002X"]);
    // A new enrolment link, as the console's page to open (the default public URL).
    run(&["accounts", "enrolment", "lin-ping"], None).check(0, &["http://localhost:8080/enrol?token="]);
    // The old audit events and the new ones form one chain.
    run(&["audit", "verify"], None).check(0, &["chain intact"]);
    assert!(policy::POLICY.len() > 80);
}

#[tokio::test]
async fn a_passkey_is_registered_and_signs_in_with_the_password() {
    let p = Platform::new().await;
    let (token, _) = common::enrolled(&p.store, "he-min", &["operator@province"]).await;
    let mut authenticator = common::passkey::SoftAuthenticator::new(common::PUBLIC_URL, 3);

    // Registered by the signed-in person.
    let started = p
        .send(
            Some(&token),
            "POST",
            "/api/v1/me/passkeys/registration",
            json!({}),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    assert_eq!(started.body["options"]["publicKey"]["rp"]["id"], "localhost");
    let ceremony = started.body["ceremony"].as_str().unwrap().to_owned();
    let credential = authenticator.register(&started.body["options"]);
    let body = json!({"ceremony": ceremony, "name": "办公电脑指纹", "credential": credential});
    let registered = p
        .send(Some(&token), "POST", "/api/v1/me/passkeys", body.clone())
        .await;
    assert_eq!(registered.status, StatusCode::CREATED, "{}", registered.body);
    let again = p.send(Some(&token), "POST", "/api/v1/me/passkeys", body).await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::GONE, "ceremony_invalid")
    );
    let listed = p
        .send(Some(&token), "GET", "/api/v1/me/passkeys", Value::Null)
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);

    // Password + passkey: a session.
    let post = async |path: &str, body: Value| p.send(None, "POST", path, body).await;
    let start = async |password: &str| {
        post(
            "/api/v1/auth/passkey/start",
            json!({"account": "he-min", "password": password}),
        )
        .await
    };
    let wrong = start("Wrong-Password-1").await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "sign_in_failed")
    );
    let challenge = start(common::STAFF_PASSWORD).await;
    assert_eq!(challenge.status, StatusCode::OK, "{}", challenge.body);
    let forged = authenticator.assert_with(
        &challenge.body["options"],
        Some(&common::passkey::SoftAuthenticator::forger()),
    );
    let refused = post(
        "/api/v1/auth/passkey/finish",
        json!({"ceremony": challenge.body["ceremony"], "credential": forged}),
    )
    .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "sign_in_failed")
    );
    let challenge = start(common::STAFF_PASSWORD).await;
    let assertion = authenticator.assert_with(&challenge.body["options"], None);
    let finish = json!({"ceremony": challenge.body["ceremony"], "credential": assertion});
    let signed = post("/api/v1/auth/passkey/finish", finish.clone()).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    let session = cookie(&signed);
    let me = p
        .call(
            Request::get("/api/v1/me")
                .header(header::COOKIE, session)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(me.body["account"]["id"], "he-min");
    let replayed = post("/api/v1/auth/passkey/finish", finish).await;
    assert_eq!(
        replayed.code(),
        "ceremony_invalid",
        "a challenge is answered once"
    );

    let actions: Vec<String> = common::audit_trail(&p.store, "account:he-min")
        .await
        .into_iter()
        .map(|(_, action)| action)
        .collect();
    assert!(actions.contains(&"passkey.register".to_owned()), "{actions:?}");
    let Pool::Sqlite(pool) = p.store.pool() else {
        unreachable!()
    };
    let (detail,): (String,) = sqlx::query_as(
        "SELECT detail FROM audit_events WHERE action = 'auth.sign_in' AND target = 'account:he-min' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(detail.contains("passkey"), "{detail}");
}

/// Issue 20: an applicant's cases are found by certificate number through its blind index, only
/// in the systems of the caller's scope, with a stated purpose, audited with the number masked.
#[tokio::test]
async fn an_applicants_cases_are_found_by_number_in_scope_with_a_purpose() {
    let p = Platform::on(|store| common::sealed(store, "k1", &[("k1", ronghe_crypto::Cipher::Sm4Gcm)])).await;
    p.system("gy-a", "520100", GY_DEPT).await;
    p.system("zy-a", "520300", ZY_DEPT).await;
    let mut case = common::case("case_finished");
    case.applicant.certificate_no = "52010219900101123X".to_owned();
    for system in ["gy-a", "zy-a"] {
        p.store
            .upsert_cases(system, std::slice::from_ref(&case))
            .await
            .unwrap();
    }
    let mut other = common::case("case_finished");
    other.case_no = "OTHER-1".to_owned();
    other.applicant.certificate_no = common::synthetic_resident_id("someone-else");
    p.store.upsert_cases("gy-a", &[other]).await.unwrap();

    let search = |number: &str| json!({ "certificate_no": number, "purpose": "个人信息查阅申请 2026-118" });
    let found = |answer: &Answer| -> Vec<(String, String)> {
        answer
            .body
            .as_array()
            .unwrap_or_else(|| panic!("{}", answer.body))
            .iter()
            .map(|c| {
                (
                    c["system_id"].as_str().unwrap().to_owned(),
                    c["case_no"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let gy = common::staff_token(&p.store, "op-gy", &["operator@region:520100"]).await;
    let answer = p
        .send(
            Some(&gy),
            "POST",
            "/api/v1/cases/search",
            search("52010219900101123x"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        found(&answer),
        vec![("gy-a".to_owned(), case.case_no.clone())],
        "贵阳 only, any letter case"
    );
    assert!(
        !answer.body.to_string().contains("5201021990"),
        "no personal value in the answer"
    );

    let province = common::staff_token(&p.store, "op-all", &["operator@province"]).await;
    let answer = p
        .send(
            Some(&province),
            "POST",
            "/api/v1/cases/search",
            search(&case.applicant.certificate_no),
        )
        .await;
    let mut systems: Vec<String> = found(&answer).into_iter().map(|(s, _)| s).collect();
    systems.sort();
    assert_eq!(systems, ["gy-a", "zy-a"]);
    let answer = p
        .send(
            Some(&province),
            "POST",
            "/api/v1/cases/search",
            search("110105194912310021"),
        )
        .await;
    assert_eq!(found(&answer), Vec::<(String, String)>::new(), "nobody's cases");

    // Refused: no purpose, no number, a role that reads no cases.
    let answer = p
        .send(
            Some(&gy),
            "POST",
            "/api/v1/cases/search",
            json!({ "certificate_no": case.applicant.certificate_no, "purpose": " " }),
        )
        .await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::BAD_REQUEST, "purpose_required")
    );
    assert_eq!(answer.body["error"]["field"], "purpose");
    let answer = p
        .send(Some(&gy), "POST", "/api/v1/cases/search", search(""))
        .await;
    assert_eq!(answer.body["error"]["field"], "certificate_no", "{}", answer.body);
    let expert = common::staff_token(&p.store, "expert-1", &["expert@province"]).await;
    let answer = p
        .send(
            Some(&expert),
            "POST",
            "/api/v1/cases/search",
            search(&case.applicant.certificate_no),
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);

    // Each search is audited under its actor, the number masked, the purpose kept.
    let events = p
        .store
        .audit_events(&ronghe::store::AuditFilter {
            action: Some("case.search".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0].detail["certificate_no"], "5201**********123x");
    assert_eq!(events[0].detail["purpose"], "个人信息查阅申请 2026-118");
    assert!(
        events
            .iter()
            .all(|e| !e.detail.to_string().contains("52010219900101123"))
    );
}

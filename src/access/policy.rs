//! The one policy table: for every HTTP operation, who may call it and how its scope is
//! checked. The server's authorization layer reads it on every request, the command line reads
//! it for the commands that act as a person, and the OpenAPI document publishes it. A route
//! with no row here is refused (and the authorization matrix test fails).

use super::model::Role::{self, *};

/// How an operation's scope is decided, once the caller holds one of its roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeRule {
    /// The role alone suffices (the operation is not about one system).
    Role,
    /// The system named by this path parameter must lie in a grant's scope.
    System(&'static str),
    /// The assessment `{id}`: an expert must be its chair or a member; other roles need its
    /// system in scope. Who may do what inside it (chair, own scores) the panel decides.
    Assessment,
    /// The correction request `{id}`: its system in scope.
    Correction,
    /// The quality item `{id}`: its system in scope.
    QualityItem,
    /// The account `{id}`: it lies in an administrative grant's scope.
    Account,
    /// The handler decides: it filters a list to the caller's scope, or checks the system named
    /// in the request body.
    InHandler,
    /// The caller's own account, sessions and tokens.
    Own,
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone who reaches the port: departmental systems authenticate with their own keys or
    /// credentials (write-back, ticket redeem/prove), public feeds, health, sign-in.
    Public(&'static str),
    /// A signed-in principal holding one of `roles`, in scope by `scope`.
    Signed {
        roles: &'static [Role],
        scope: ScopeRule,
    },
}

/// Whom a route answers: programs (JSON, published in the OpenAPI document) or people in a
/// browser (the web console's zh-CN pages: a refusal is a page, a missing sign-in a redirect to
/// the sign-in form, and a form sends its CSRF token as a field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Api,
    Console,
}

/// One row of the table: an HTTP method and a route path as in the OpenAPI document (or, for
/// the console, as the router declares it).
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub surface: Surface,
}

const ADMINS: &[Role] = &[PlatformAdmin, RegionalAdmin, AgencyAdmin];
const SYSTEM_READERS: &[Role] = &[
    PlatformAdmin,
    RegionalAdmin,
    AgencyAdmin,
    Engineer,
    ProjectManager,
    Operator,
];
const SYSTEM_WRITERS: &[Role] = &[PlatformAdmin, RegionalAdmin, AgencyAdmin, Engineer];
const CASE_READERS: &[Role] = &[Engineer, Operator];
const PANEL: &[Role] = &[PlatformAdmin, RegionalAdmin, AgencyAdmin, ProjectManager, Expert];
const PLAN_READERS: &[Role] = &[
    PlatformAdmin,
    RegionalAdmin,
    AgencyAdmin,
    ProjectManager,
    Engineer,
];
const MONITORS: &[Role] = &[PlatformAdmin, RegionalAdmin, AgencyAdmin, Operator];
/// Whoever may open one of the monitoring pages (the overview links those they may open).
const MONITORING_PAGES: &[Role] = &[PlatformAdmin, RegionalAdmin, AgencyAdmin, Operator, Engineer];
const EVERYONE: &[Role] = &Role::ALL;
/// Who announces a change to a system in their scope (Art. 16, 29, 30).
const NOTICE_PUBLISHERS: &[Role] = &[
    PlatformAdmin,
    RegionalAdmin,
    AgencyAdmin,
    Engineer,
    ProjectManager,
];
/// Who draws spot-check samples (卷宗抽查, Art. 15): the API's route and the console's page.
const SPOT_CHECKERS: &[Role] = &[PlatformAdmin, Operator];
/// Who plans, calls and reports return visits (办件回访, Art. 15); the handlers keep each to the
/// systems in the caller's scope.
const VISITORS: &[Role] = &[PlatformAdmin, Operator];
/// Who reads the audit log and checks its chain (Art. 21, 32).
const AUDITORS: &[Role] = &[Auditor];

const fn signed(roles: &'static [Role], scope: ScopeRule) -> Access {
    Access::Signed { roles, scope }
}

const fn row(method: &'static str, path: &'static str, access: Access) -> Entry {
    Entry {
        method,
        path,
        access,
        surface: Surface::Api,
    }
}

const fn page(method: &'static str, path: &'static str, access: Access) -> Entry {
    Entry {
        method,
        path,
        access,
        surface: Surface::Console,
    }
}

use Access::Public;
use ScopeRule::{Account as AccountRule, Assessment as AssessmentRule, *};

/// Every operation the server offers.
pub const POLICY: &[Entry] = &[
    // health, documents, sign-in
    row("GET", "/healthz", Public("liveness probe")),
    row("GET", "/readyz", Public("readiness probe")),
    row(
        "GET",
        "/api/v1/openapi.json",
        Public("the published API document"),
    ),
    row("GET", "/metrics", signed(&[PlatformAdmin, Operator], Role)),
    row(
        "POST",
        "/api/v1/auth/sign-in",
        Public("password and second factor"),
    ),
    row(
        "POST",
        "/api/v1/auth/enrolment",
        Public("the one-time enrolment link is the credential"),
    ),
    row(
        "POST",
        "/api/v1/auth/enrolment/confirm",
        Public("the one-time enrolment link is the credential"),
    ),
    row(
        "POST",
        "/api/v1/auth/passkey/start",
        Public("password, then a passkey"),
    ),
    row(
        "POST",
        "/api/v1/auth/passkey/finish",
        Public("the passkey's signature over the challenge"),
    ),
    // the caller's own account
    row("POST", "/api/v1/auth/sign-out", signed(EVERYONE, Own)),
    row("POST", "/api/v1/auth/sign-out-everywhere", signed(EVERYONE, Own)),
    row("GET", "/api/v1/me", signed(EVERYONE, Own)),
    row("GET", "/api/v1/me/tokens", signed(EVERYONE, Own)),
    row("POST", "/api/v1/me/tokens", signed(EVERYONE, Own)),
    row("DELETE", "/api/v1/me/tokens/{id}", signed(EVERYONE, Own)),
    row("GET", "/api/v1/me/passkeys", signed(EVERYONE, Own)),
    row("POST", "/api/v1/me/passkeys/registration", signed(EVERYONE, Own)),
    row("POST", "/api/v1/me/passkeys", signed(EVERYONE, Own)),
    row("DELETE", "/api/v1/me/passkeys/{id}", signed(EVERYONE, Own)),
    // accounts (Art. 20, 21)
    row("GET", "/api/v1/accounts", signed(ADMINS, InHandler)),
    row("POST", "/api/v1/accounts", signed(ADMINS, InHandler)),
    row("GET", "/api/v1/accounts/{id}", signed(ADMINS, AccountRule)),
    row(
        "POST",
        "/api/v1/accounts/{id}/grants",
        signed(ADMINS, AccountRule),
    ),
    row(
        "POST",
        "/api/v1/accounts/{id}/grants/revoke",
        signed(ADMINS, AccountRule),
    ),
    row(
        "POST",
        "/api/v1/accounts/{id}/status",
        signed(ADMINS, AccountRule),
    ),
    row(
        "POST",
        "/api/v1/accounts/{id}/enrolment",
        signed(ADMINS, AccountRule),
    ),
    // audit (Art. 21, 32)
    row("GET", "/api/v1/audit", signed(AUDITORS, Role)),
    row("GET", "/api/v1/audit/verify", signed(AUDITORS, Role)),
    // systems
    row("GET", "/api/v1/systems", signed(SYSTEM_READERS, InHandler)),
    row("POST", "/api/v1/systems", signed(SYSTEM_WRITERS, InHandler)),
    row(
        "GET",
        "/api/v1/systems/{id}",
        signed(SYSTEM_READERS, System("id")),
    ),
    row(
        "PATCH",
        "/api/v1/systems/{id}",
        signed(SYSTEM_WRITERS, System("id")),
    ),
    row(
        "POST",
        "/api/v1/systems/{id}/retire",
        signed(ADMINS, System("id")),
    ),
    row(
        "GET",
        "/api/v1/systems/{id}/cases",
        signed(CASE_READERS, System("id")),
    ),
    row(
        "GET",
        "/api/v1/systems/{id}/cases/{case_no}",
        signed(CASE_READERS, System("id")),
    ),
    // An applicant's cases by certificate number: only those of systems in the caller's scope.
    row("POST", "/api/v1/cases/search", signed(CASE_READERS, InHandler)),
    row(
        "GET",
        "/api/v1/systems/{id}/cases/{case_no}/history",
        signed(CASE_READERS, System("id")),
    ),
    row(
        "POST",
        "/api/v1/systems/{id}/applications",
        signed(&[Operator], System("id")),
    ),
    row(
        "GET",
        "/api/v1/systems/{id}/applications/{case_no}",
        signed(CASE_READERS, System("id")),
    ),
    row(
        "GET",
        "/api/v1/systems/{id}/migration",
        signed(SYSTEM_READERS, System("id")),
    ),
    row(
        "GET",
        "/api/v1/systems/{id}/migrations",
        signed(SYSTEM_READERS, System("id")),
    ),
    row(
        "GET",
        "/api/v1/systems/{id}/migration/report",
        signed(SYSTEM_READERS, System("id")),
    ),
    // how a system is integrated (adapter, mapping, write-back settings): integration
    // engineers own these, administrators oversee them; read-only, never secrets
    row(
        "GET",
        "/api/v1/systems/{id}/adapter",
        signed(&[PlatformAdmin, Engineer], System("id")),
    ),
    row(
        "GET",
        "/api/v1/systems/{id}/mapping",
        signed(&[PlatformAdmin, Engineer], System("id")),
    ),
    row(
        "GET",
        "/api/v1/systems/{id}/writeback",
        signed(&[PlatformAdmin, Engineer], System("id")),
    ),
    // assessments (Art. 25)
    row("GET", "/api/v1/assessments", signed(PANEL, InHandler)),
    row("POST", "/api/v1/assessments", signed(ADMINS, InHandler)),
    row(
        "GET",
        "/api/v1/assessments/portfolio",
        signed(
            &[PlatformAdmin, RegionalAdmin, AgencyAdmin, ProjectManager],
            InHandler,
        ),
    ),
    row("GET", "/api/v1/assessments/rubrics", signed(PANEL, Role)),
    row(
        "POST",
        "/api/v1/assessments/rubrics",
        signed(&[PlatformAdmin], Role),
    ),
    row(
        "GET",
        "/api/v1/assessments/rubrics/{id}/{version}",
        signed(PANEL, Role),
    ),
    row("GET", "/api/v1/assessments/{id}", signed(PANEL, AssessmentRule)),
    row(
        "POST",
        "/api/v1/assessments/{id}/experts",
        signed(&[Expert], AssessmentRule),
    ),
    row(
        "PUT",
        "/api/v1/assessments/{id}/experts/{expert}/conflicts",
        signed(&[Expert], AssessmentRule),
    ),
    row(
        "PUT",
        "/api/v1/assessments/{id}/experts/{expert}/scores",
        signed(&[Expert], AssessmentRule),
    ),
    row(
        "POST",
        "/api/v1/assessments/{id}/close",
        signed(&[Expert], AssessmentRule),
    ),
    row(
        "GET",
        "/api/v1/assessments/{id}/rounds/{round}",
        signed(PANEL, AssessmentRule),
    ),
    row(
        "POST",
        "/api/v1/assessments/{id}/verdict",
        signed(&[Expert], AssessmentRule),
    ),
    row(
        "GET",
        "/api/v1/assessments/{id}/report",
        signed(PANEL, AssessmentRule),
    ),
    // user bridge (用户互认); the departmental systems' own calls are public
    row(
        "POST",
        "/api/v1/bridge/identities",
        signed(&[PlatformAdmin, Operator], Role),
    ),
    row(
        "GET",
        "/api/v1/bridge/identities/{user_id}",
        signed(&[PlatformAdmin, Operator], Role),
    ),
    row(
        "GET",
        "/api/v1/bridge/identities/{user_id}/cases",
        signed(&[Operator], Role),
    ),
    row(
        "POST",
        "/api/v1/bridge/systems/{id}/accounts",
        signed(&[PlatformAdmin, Engineer], System("id")),
    ),
    row(
        "GET",
        "/api/v1/bridge/links",
        signed(&[PlatformAdmin, Operator, Engineer], InHandler),
    ),
    row(
        "POST",
        "/api/v1/bridge/links",
        signed(&[PlatformAdmin, Operator], InHandler),
    ),
    row(
        "POST",
        "/api/v1/bridge/links/revoke",
        signed(&[PlatformAdmin, Operator], InHandler),
    ),
    row(
        "POST",
        "/api/v1/bridge/tickets",
        signed(&[PlatformAdmin], InHandler),
    ),
    row(
        "POST",
        "/api/v1/bridge/tickets/redeem",
        Public("the departmental system's bridge credentials"),
    ),
    row(
        "POST",
        "/api/v1/bridge/proofs",
        Public("the departmental system's bridge credentials"),
    ),
    row(
        "GET",
        "/api/v1/bridge/keys",
        Public("public keys for offline ticket verification"),
    ),
    row(
        "GET",
        "/api/v1/bridge/report",
        signed(&[PlatformAdmin, Operator, Engineer], InHandler),
    ),
    // the organisations registry (部门库): read by all staff; imported by administrators, each
    // agency in their scope (the handler checks every agency's division, and an agency
    // administrator's own name)
    row("GET", "/api/v1/orgs", signed(EVERYONE, Role)),
    row("GET", "/api/v1/orgs/{id}", signed(EVERYONE, Role)),
    row("POST", "/api/v1/orgs", signed(ADMINS, InHandler)),
    // published rules and notices (Art. 16, 29, 30)
    row("GET", "/api/v1/rules", signed(EVERYONE, Role)),
    row(
        "POST",
        "/api/v1/rules",
        signed(&[PlatformAdmin, RegionalAdmin], Role),
    ),
    row("GET", "/api/v1/notices", signed(EVERYONE, Role)),
    row("POST", "/api/v1/notices", signed(NOTICE_PUBLISHERS, InHandler)),
    row("GET", "/api/v1/notices.atom", Public("the public notices feed")),
    // plans
    row("GET", "/api/v1/plans", signed(PLAN_READERS, InHandler)),
    row(
        "GET",
        "/api/v1/plans/{system}",
        signed(PLAN_READERS, System("system")),
    ),
    row(
        "PUT",
        "/api/v1/plans/{system}",
        signed(&[ProjectManager], System("system")),
    ),
    row(
        "POST",
        "/api/v1/plans/{system}/baseline",
        signed(&[ProjectManager], System("system")),
    ),
    row(
        "PUT",
        "/api/v1/plans/{system}/milestones/{milestone}",
        signed(&[ProjectManager], System("system")),
    ),
    row(
        "GET",
        "/api/v1/plans/{system}/gantt.svg",
        signed(PLAN_READERS, System("system")),
    ),
    row(
        "GET",
        "/api/v1/plans/{system}/report",
        signed(PLAN_READERS, System("system")),
    ),
    // monitoring (Art. 15), notifications (Art. 33)
    row(
        "GET",
        "/api/v1/monitoring/{system}/reconciliation",
        signed(&[PlatformAdmin, Operator, Engineer], System("system")),
    ),
    row(
        "GET",
        "/api/v1/monitoring/{system}/spot-check",
        signed(SPOT_CHECKERS, System("system")),
    ),
    row(
        "GET",
        "/api/v1/monitoring/reconciliations",
        signed(MONITORS, InHandler),
    ),
    // system checks (系统检查): the recorded ones, or one now (accepting drift with a reason)
    row(
        "GET",
        "/api/v1/monitoring/{system}/checks",
        signed(&[PlatformAdmin, Operator, Engineer], System("system")),
    ),
    row(
        "POST",
        "/api/v1/monitoring/{system}/checks",
        signed(&[PlatformAdmin, Operator, Engineer], System("system")),
    ),
    row("GET", "/api/v1/monitoring/visits", signed(VISITORS, InHandler)),
    row("POST", "/api/v1/monitoring/visits", signed(VISITORS, InHandler)),
    row(
        "GET",
        "/api/v1/monitoring/visits/report",
        signed(VISITORS, InHandler),
    ),
    row(
        "POST",
        "/api/v1/monitoring/visits/{id}/outcome",
        signed(VISITORS, InHandler),
    ),
    row(
        "GET",
        "/api/v1/notifications",
        signed(&[PlatformAdmin, ProjectManager, Operator], InHandler),
    ),
    // write-back: departmental systems sign their own calls
    row(
        "POST",
        "/api/v1/writeback/{system}",
        Public("the departmental system's write-back signature"),
    ),
    row(
        "POST",
        "/soap/{system}/writeback",
        Public("the departmental system's write-back signature"),
    ),
    row(
        "GET",
        "/soap/{system}/writeback",
        Public("the WSDL of the write-back service"),
    ),
    row(
        "GET",
        "/api/v1/quality",
        signed(&[PlatformAdmin, Operator, Engineer], InHandler),
    ),
    row(
        "GET",
        "/api/v1/quality/{id}",
        signed(&[Operator, Engineer], QualityItem),
    ),
    // Dismissing is the service centre's (operators'), as closing a correction is.
    row(
        "POST",
        "/api/v1/quality/{id}/dismiss",
        signed(&[Operator], QualityItem),
    ),
    // exchange (Art. 27)
    row(
        "GET",
        "/api/v1/exchange/status",
        signed(&[PlatformAdmin, Operator], Role),
    ),
    row(
        "GET",
        "/api/v1/exchange/dlq",
        signed(&[PlatformAdmin, Operator], InHandler),
    ),
    row(
        "POST",
        "/api/v1/exchange/dlq/replay",
        signed(&[PlatformAdmin, Operator], InHandler),
    ),
    // corrections (Art. 28)
    row("GET", "/api/v1/corrections", signed(MONITORS, InHandler)),
    row(
        "POST",
        "/api/v1/corrections",
        signed(&[PlatformAdmin, Operator], InHandler),
    ),
    row("GET", "/api/v1/corrections/{id}", signed(MONITORS, Correction)),
    row(
        "POST",
        "/api/v1/corrections/{id}/answer",
        signed(&[AgencyAdmin, Operator], Correction),
    ),
    row(
        "POST",
        "/api/v1/corrections/{id}/close",
        signed(&[Operator], Correction),
    ),
    row(
        "POST",
        "/api/v1/corrections/{id}/withdraw",
        signed(&[Operator], Correction),
    ),
    // the web console (issue 15): zh-CN pages for people; each section of a page shows only
    // what the caller's roles and scope may read
    page("GET", "/sign-in", Public("the sign-in form")),
    page("POST", "/sign-in", Public("password and second factor")),
    page(
        "GET",
        "/assets/{file}",
        Public("the console's style sheet and script"),
    ),
    page("GET", "/favicon.ico", Public("the console's icon")),
    page(
        "GET",
        "/enrol",
        Public("the one-time enrolment link is the credential"),
    ),
    page(
        "POST",
        "/enrol",
        Public("the one-time enrolment link is the credential"),
    ),
    page(
        "POST",
        "/enrol/confirm",
        Public("the one-time enrolment link is the credential"),
    ),
    page("POST", "/sign-out", signed(EVERYONE, Own)),
    page("GET", "/", signed(EVERYONE, InHandler)),
    page("GET", "/me", signed(EVERYONE, Own)),
    page("GET", "/systems", signed(SYSTEM_READERS, InHandler)),
    page("GET", "/systems/{id}", signed(SYSTEM_READERS, System("id"))),
    page("GET", "/assessments", signed(PANEL, InHandler)),
    page("GET", "/assessments/{id}", signed(PANEL, AssessmentRule)),
    page(
        "POST",
        "/assessments/{id}/conflicts",
        signed(&[Expert], AssessmentRule),
    ),
    page(
        "POST",
        "/assessments/{id}/scores",
        signed(&[Expert], AssessmentRule),
    ),
    page(
        "POST",
        "/assessments/{id}/close",
        signed(&[Expert], AssessmentRule),
    ),
    page(
        "POST",
        "/assessments/{id}/verdict",
        signed(&[Expert], AssessmentRule),
    ),
    page("GET", "/assessments/{id}/report", signed(PANEL, AssessmentRule)),
    page("GET", "/plans", signed(PLAN_READERS, InHandler)),
    page("GET", "/plans/{system}", signed(PLAN_READERS, System("system"))),
    page(
        "POST",
        "/plans/{system}/milestones/{milestone}",
        signed(&[ProjectManager], System("system")),
    ),
    page(
        "POST",
        "/plans/{system}/baseline",
        signed(&[ProjectManager], System("system")),
    ),
    page(
        "GET",
        "/plans/{system}/report",
        signed(PLAN_READERS, System("system")),
    ),
    // 监测: each page and form with the roles of the API route that does the same thing
    page("GET", "/monitoring", signed(MONITORING_PAGES, InHandler)),
    page(
        "GET",
        "/monitoring/quality",
        signed(&[PlatformAdmin, Operator, Engineer], InHandler),
    ),
    page(
        "GET",
        "/monitoring/quality/{id}",
        signed(&[Operator, Engineer], QualityItem),
    ),
    // The form of `POST /api/v1/quality/{id}/dismiss`, with its roles.
    page(
        "POST",
        "/monitoring/quality/{id}/dismiss",
        signed(&[Operator], QualityItem),
    ),
    page(
        "GET",
        "/monitoring/exchange",
        signed(&[PlatformAdmin, Operator], InHandler),
    ),
    page(
        "POST",
        "/monitoring/exchange/replay",
        signed(&[PlatformAdmin, Operator], InHandler),
    ),
    page("GET", "/monitoring/corrections", signed(MONITORS, InHandler)),
    page("GET", "/monitoring/reconciliations", signed(MONITORS, InHandler)),
    // the API's spot-check row's roles; its system checked in the handler (`require_system`)
    page("GET", "/monitoring/spot-check", signed(SPOT_CHECKERS, InHandler)),
    // 办件回访: the API's visits roles; each visit's system checked in the handler
    // (`require_system`); the phone shown for a stated purpose, audited
    page("GET", "/monitoring/visits", signed(VISITORS, InHandler)),
    page("GET", "/monitoring/visits/{id}", signed(VISITORS, InHandler)),
    page(
        "POST",
        "/monitoring/visits/{id}/reveal",
        signed(VISITORS, InHandler),
    ),
    page(
        "POST",
        "/monitoring/visits/{id}/outcome",
        signed(VISITORS, InHandler),
    ),
    // 公告与规则: as the API's notices and rules routes
    page("GET", "/notices", signed(EVERYONE, Role)),
    page("POST", "/notices", signed(NOTICE_PUBLISHERS, InHandler)),
    page("GET", "/rules", signed(EVERYONE, Role)),
    // 部门库: as the API's organisations routes (the import form for administrators)
    page("GET", "/orgs", signed(EVERYONE, Role)),
    page("POST", "/orgs", signed(ADMINS, InHandler)),
    // 账号: as the API's account routes (the list filtered by the accounts service)
    page("GET", "/accounts", signed(ADMINS, InHandler)),
    page("GET", "/accounts/{id}", signed(ADMINS, AccountRule)),
    page("POST", "/accounts/{id}/status", signed(ADMINS, AccountRule)),
    page("POST", "/accounts/{id}/grants", signed(ADMINS, AccountRule)),
    page(
        "POST",
        "/accounts/{id}/grants/revoke",
        signed(ADMINS, AccountRule),
    ),
    page("POST", "/accounts/{id}/enrolment", signed(ADMINS, AccountRule)),
    // 审计: as the API's audit routes
    page("GET", "/audit", signed(AUDITORS, Role)),
    page("GET", "/audit/verify", signed(AUDITORS, Role)),
];

/// The row of an operation, by method and route path (`/api/v1/systems/{id}`).
pub fn lookup(method: &str, path: &str) -> Option<&'static Entry> {
    POLICY
        .iter()
        .find(|entry| entry.method.eq_ignore_ascii_case(method) && entry.path == path)
}

impl Access {
    /// One line for people: who may call, in which scope (published in the OpenAPI document).
    pub fn describe(&self) -> String {
        match self {
            Access::Public(why) => format!("公开 public: {why}"),
            Access::Signed { roles, scope } => {
                let names: Vec<String> = roles
                    .iter()
                    .map(|r| format!("{} {}", r.label(), r.name()))
                    .collect();
                let scope = match scope {
                    ScopeRule::Role => "any scope",
                    ScopeRule::System(_) => "the system must lie in the grant's scope",
                    ScopeRule::Assessment => {
                        "experts: only as the assessment's chair or member; others: its system in scope"
                    }
                    ScopeRule::Correction | ScopeRule::QualityItem => {
                        "its system must lie in the grant's scope"
                    }
                    ScopeRule::Account => "the account must lie in an administrative grant's scope",
                    ScopeRule::InHandler => {
                        "results filtered to, or the named system checked against, the grant's scope"
                    }
                    ScopeRule::Own => "the caller's own account",
                };
                format!("角色 roles: {}; 范围 scope: {scope}", names.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_unique() {
        for (i, a) in POLICY.iter().enumerate() {
            for b in &POLICY[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {} has two rows",
                    a.method,
                    a.path
                );
            }
        }
    }

    #[test]
    fn system_rules_name_a_path_parameter() {
        for entry in POLICY {
            if let Access::Signed {
                scope: ScopeRule::System(param),
                ..
            } = entry.access
            {
                assert!(
                    entry.path.contains(&format!("{{{param}}}")),
                    "{} {} names {param}",
                    entry.method,
                    entry.path
                );
            }
        }
    }
}

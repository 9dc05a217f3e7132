//! Staff roles by duty (Art. 20, 21), the scope each grant of a role covers, and the principal a
//! request or command resolves to. Pure: no I/O.

use serde::{Deserialize, Serialize};

/// A duty a staff account can hold. Each grant of a role carries a [`Scope`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    /// 平台管理员: the whole province; grants any role.
    PlatformAdmin,
    /// 市州/县区管理员: a division and everything under it (Art. 20).
    RegionalAdmin,
    /// 政务服务机构管理员: one agency (Art. 20).
    AgencyAdmin,
    /// 接入工程师: systems in scope — registration, adapters, mappings, write-back.
    Engineer,
    /// 项目经理: migration plans in scope.
    ProjectManager,
    /// 服务中心运营人员: monitoring, corrections, the quality queue, the exchange in scope.
    Operator,
    /// 评估专家: only the assessments they are a member of; chair is per assessment.
    Expert,
    /// 审计员: reads the audit log, nothing else.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::PlatformAdmin,
        Role::RegionalAdmin,
        Role::AgencyAdmin,
        Role::Engineer,
        Role::ProjectManager,
        Role::Operator,
        Role::Expert,
        Role::Auditor,
    ];

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "平台管理员",
            Role::RegionalAdmin => "区域管理员",
            Role::AgencyAdmin => "机构管理员",
            Role::Engineer => "接入工程师",
            Role::ProjectManager => "项目经理",
            Role::Operator => "服务中心运营",
            Role::Expert => "评估专家",
            Role::Auditor => "审计员",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        name.parse().ok()
    }

    /// The roles an administrator of this role may grant (within their own scope). Nobody
    /// grants a role wider than their own: only a platform administrator makes another one,
    /// and auditors are appointed by the platform only, so that no regional administrator picks
    /// who audits them.
    pub fn may_grant(self, role: Role) -> bool {
        match self {
            Role::PlatformAdmin => true,
            Role::RegionalAdmin => !matches!(role, Role::PlatformAdmin | Role::Auditor),
            Role::AgencyAdmin => !matches!(role, Role::PlatformAdmin | Role::RegionalAdmin | Role::Auditor),
            _ => false,
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(
            self,
            Role::PlatformAdmin | Role::RegionalAdmin | Role::AgencyAdmin
        )
    }
}

/// Where a grant applies. Written `province`, `region:520100` or `agency:520100:贵阳市市场监督管理局`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Scope {
    Province,
    /// A division code (GB/T 2260) and every division under it.
    Region(String),
    /// One agency (the department name systems are registered under) in a division.
    Agency {
        region: String,
        name: String,
    },
}

impl Scope {
    /// Parses the written form; the error says what is expected.
    pub fn parse(text: &str) -> Result<Scope, String> {
        let text = text.trim();
        if text == "province" {
            return Ok(Scope::Province);
        }
        if let Some(code) = text.strip_prefix("region:") {
            crate::validate::division(code).map_err(|v| format!("scope {text:?}: {}", v.message))?;
            return Ok(Scope::Region(code.to_owned()));
        }
        if let Some(rest) = text.strip_prefix("agency:") {
            let (code, name) = rest
                .split_once(':')
                .ok_or_else(|| format!("scope {text:?}: write agency:DIVISION:NAME"))?;
            crate::validate::division(code).map_err(|v| format!("scope {text:?}: {}", v.message))?;
            let name = name.trim();
            if name.is_empty() || name.chars().any(char::is_control) {
                return Err(format!(
                    "scope {text:?}: the agency name is empty or has control characters"
                ));
            }
            return Ok(Scope::Agency {
                region: code.to_owned(),
                name: name.to_owned(),
            });
        }
        Err(format!(
            "scope {text:?}: expected province, region:DIVISION or agency:DIVISION:NAME"
        ))
    }

    /// Whether a system registered in `region` under `department` lies in this scope.
    pub fn covers_system(&self, region: &str, department: &str) -> bool {
        match self {
            Scope::Province => true,
            Scope::Region(code) => region_within(region, code),
            Scope::Agency { region: code, name } => name == department && region_within(region, code),
        }
    }

    /// Whether everything in `other` lies in this scope (for grants and account management).
    pub fn contains(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::Province, _) => true,
            (Scope::Region(mine), Scope::Region(theirs)) => region_within(theirs, mine),
            (Scope::Region(mine), Scope::Agency { region, .. }) => region_within(region, mine),
            (Scope::Agency { .. }, Scope::Agency { .. }) => self == other,
            _ => false,
        }
    }
}

/// Whether division `code` is `within` or under it: a province (`520000`) covers `52…`, a
/// city (`520100`) `5201…`, a county its own six digits and its townships.
pub fn region_within(code: &str, within: &str) -> bool {
    code.starts_with(division_prefix(within))
}

/// The significant prefix of a division code: trailing zero levels dropped.
fn division_prefix(code: &str) -> &str {
    let mut prefix = code;
    if prefix.len() == 9 && prefix.ends_with("000") {
        prefix = &prefix[..6];
    }
    while prefix.len() > 2 && prefix.ends_with("00") {
        prefix = &prefix[..prefix.len() - 2];
    }
    prefix
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Province => f.write_str("province"),
            Scope::Region(code) => write!(f, "region:{code}"),
            Scope::Agency { region, name } => write!(f, "agency:{region}:{name}"),
        }
    }
}

impl TryFrom<String> for Scope {
    type Error = String;
    fn try_from(text: String) -> Result<Scope, String> {
        Scope::parse(&text)
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> String {
        scope.to_string()
    }
}

/// Where an account is in its life (Art. 21: full-lifecycle management).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum AccountStatus {
    /// Created; waits for its person to enrol from the one-time link.
    Pending,
    /// Enrolled: password and second factor set.
    Active,
    /// Temporarily barred (e.g. on leave, under investigation); can be reactivated.
    Suspended,
    /// Left the post: never signs in again; the account and its history stay.
    Disabled,
}

impl AccountStatus {
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The zh-CN name, for the console.
    pub fn label(self) -> &'static str {
        match self {
            AccountStatus::Pending => "待启用",
            AccountStatus::Active => "正常",
            AccountStatus::Suspended => "已暂停",
            AccountStatus::Disabled => "已停用",
        }
    }

    pub fn parse(name: &str) -> Option<AccountStatus> {
        name.parse().ok()
    }

    /// The moves an administrator may make: suspend an active account, reactivate a suspended
    /// one, disable any account that is not already disabled. Enrolment activates a pending one.
    pub fn can_become(self, next: AccountStatus) -> bool {
        use AccountStatus::*;
        matches!(
            (self, next),
            (Active, Suspended) | (Suspended, Active) | (Pending | Active | Suspended, Disabled)
        )
    }
}

/// Whether `id` can name an account: 3-32 of `a-z 0-9 . _ -`, starting with a letter (so it can
/// never look like the host's `host:…` or a system's name).
pub fn account_id_problem(id: &str) -> Option<String> {
    let ok = (3..=32).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    (!ok).then(|| format!("account id {id:?}: use 3-32 of a-z, 0-9, '.', '_', '-', starting with a letter"))
}

/// A role held in a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Grant {
    pub role: Role,
    /// `province`, `region:DIVISION` or `agency:DIVISION:NAME`.
    #[schema(value_type = String, example = "region:520100", pattern = "^(province|region:[0-9]{6}([0-9]{3})?|agency:[0-9]{6}([0-9]{3})?:.+)$")]
    pub scope: Scope,
}

/// How a person's request was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A browser session; changes need its CSRF token.
    Session { id_hash: String, csrf: String },
    /// A personal API token (no cookie, so no CSRF).
    Token { id: String },
}

/// Who acts. Every request that is not a departmental system's signed call resolves to one,
/// before anything else happens; the audit log records its `actor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The audit name: the account id of a person, `host:USER@HOST` on the host.
    pub actor: String,
    pub kind: PrincipalKind,
    /// The grants in force for this request (a token carries a subset of its owner's).
    pub grants: Vec<Grant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A signed-in staff account.
    Person { account: String, via: Via },
    /// The host administrator: a command run on the platform's own machine, acting directly on
    /// the store. Administers everything; is nobody's expert, so never scores or chairs.
    Host,
}

impl Principal {
    /// The host administrator for a command line run by `user` on `host`.
    pub fn host(user: &str, host: &str) -> Principal {
        Principal {
            actor: format!("host:{user}@{host}"),
            kind: PrincipalKind::Host,
            grants: vec![Grant {
                role: Role::PlatformAdmin,
                scope: Scope::Province,
            }],
        }
    }

    /// The account id of a person (None for the host).
    pub fn account(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::Person { account, .. } => Some(account),
            PrincipalKind::Host => None,
        }
    }

    /// Whether any grant holds one of `roles`.
    pub fn holds_any(&self, roles: &[Role]) -> bool {
        self.grants.iter().any(|g| roles.contains(&g.role))
    }

    /// Whether a grant of one of `roles` covers a system in `region` under `department`.
    pub fn covers_system(&self, roles: &[Role], region: &str, department: &str) -> bool {
        self.grants
            .iter()
            .any(|g| roles.contains(&g.role) && g.scope.covers_system(region, department))
    }

    /// Whether a grant of one of `roles` covers the whole province (every system).
    pub fn province_wide(&self, roles: &[Role]) -> bool {
        self.grants
            .iter()
            .any(|g| roles.contains(&g.role) && g.scope == Scope::Province)
    }

    /// Whether an administrative grant may grant `grant` (the role and the whole scope).
    pub fn may_grant(&self, grant: &Grant) -> bool {
        self.grants
            .iter()
            .any(|g| g.role.may_grant(grant.role) && g.scope.contains(&grant.scope))
    }

    /// Whether an administrative grant covers the whole of `scope` (an account's home).
    pub fn administers(&self, scope: &Scope) -> bool {
        self.grants
            .iter()
            .any(|g| g.role.is_admin() && g.scope.contains(scope))
    }

    /// The roles this principal holds, each once, in a stable order (for the audit context).
    pub fn roles(&self) -> Vec<Role> {
        let mut roles: Vec<Role> = self.grants.iter().map(|g| g.role).collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_cover_what_lies_under_them() {
        let city = Scope::parse("region:520100").unwrap();
        assert!(city.covers_system("520102", "任意"));
        assert!(city.covers_system("520102016", "任意"));
        assert!(city.covers_system("520100", "任意"));
        assert!(!city.covers_system("520300", "任意"));
        assert!(
            !city.covers_system("520000", "任意"),
            "a city does not cover its province"
        );
        let province = Scope::parse("region:520000").unwrap();
        assert!(province.covers_system("520302", "x"));
        assert!(province.contains(&city));
        assert!(!city.contains(&province));
        let agency = Scope::parse("agency:520100:贵阳市市场监督管理局").unwrap();
        assert!(agency.covers_system("520102", "贵阳市市场监督管理局"));
        assert!(!agency.covers_system("520102", "贵阳市公安局"));
        assert!(!agency.covers_system("520302", "贵阳市市场监督管理局"));
        assert!(city.contains(&agency));
        assert!(!Scope::parse("region:520300").unwrap().contains(&agency));
    }

    #[test]
    fn scopes_parse_and_print() {
        for text in ["province", "region:520100", "agency:520100:贵阳市市场监督管理局"] {
            assert_eq!(Scope::parse(text).unwrap().to_string(), text);
        }
        for bad in [
            "",
            "region:999999",
            "agency:520100",
            "agency:520100: ",
            "city:520100",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn nobody_grants_wider_than_their_own() {
        let regional = Principal {
            actor: "li".into(),
            kind: PrincipalKind::Host,
            grants: vec![Grant {
                role: Role::RegionalAdmin,
                scope: Scope::parse("region:520100").unwrap(),
            }],
        };
        let grant = |role, scope: &str| Grant {
            role,
            scope: Scope::parse(scope).unwrap(),
        };
        assert!(regional.may_grant(&grant(Role::Engineer, "region:520102")));
        assert!(regional.may_grant(&grant(Role::RegionalAdmin, "region:520100")));
        assert!(!regional.may_grant(&grant(Role::Engineer, "region:520300")));
        assert!(!regional.may_grant(&grant(Role::Engineer, "province")));
        assert!(!regional.may_grant(&grant(Role::PlatformAdmin, "region:520100")));
        assert!(!regional.may_grant(&grant(Role::Auditor, "region:520100")));
    }
}

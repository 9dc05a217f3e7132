//! The registry of departmental systems: what a system is, how a registration and an update are
//! validated (every problem at once, by field), and the order its status may move in.

use chrono::{DateTime, SubsecRound, Utc};
use ronghe_adapters::AdapterKind;
use serde::{Deserialize, Serialize};

use crate::case::{FieldIssue, Problems};
use crate::validate;

/// A departmental approval system known to the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct System {
    /// Slug: lower-case letters, digits and `-`, 2–63 characters, starting with a letter.
    pub id: String,
    /// 系统名称.
    pub name: String,
    /// 所属部门.
    pub department: String,
    /// 所属区划: GB/T 2260 division code.
    pub region_code: String,
    /// How ronghe talks to it.
    #[schema(value_type = String, example = "rest")]
    pub protocol: AdapterKind,
    /// Base URL (REST, SOAP) or database address (SQL); never with a password in it.
    pub endpoint: String,
    /// Where the credentials live: `env:NAME` or `file:PATH`; never the secret itself.
    pub credentials_ref: Option<String>,
    /// 涉密: bound by secrecy rules; such a system is never served online (Art. 13, 25).
    pub secret: bool,
    pub status: SystemStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a system stands on its way onto the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum SystemStatus {
    Registered,
    Assessed,
    Planned,
    Integrating,
    Live,
    Retired,
}

impl SystemStatus {
    pub const ALL: &'static [SystemStatus] = &[
        SystemStatus::Registered,
        SystemStatus::Assessed,
        SystemStatus::Planned,
        SystemStatus::Integrating,
        SystemStatus::Live,
        SystemStatus::Retired,
    ];

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn label(self) -> &'static str {
        match self {
            SystemStatus::Registered => "已登记",
            SystemStatus::Assessed => "已评估",
            SystemStatus::Planned => "已计划",
            SystemStatus::Integrating => "融合中",
            SystemStatus::Live => "已上线",
            SystemStatus::Retired => "已停用",
        }
    }

    pub fn parse(name: &str) -> Option<SystemStatus> {
        name.parse().ok()
    }

    /// Legal moves: one step forward, back to `assessed` for a re-assessment, or retirement from
    /// anywhere. Nothing leaves `retired`.
    pub fn can_move_to(self, next: SystemStatus) -> bool {
        use SystemStatus::*;
        match (self, next) {
            (Retired, _) => false,
            (_, Retired) => true,
            (from, Assessed) if from >= Assessed => true,
            (from, to) => to as u8 == from as u8 + 1,
        }
    }
}

impl std::fmt::Display for SystemStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A registration, as an operator sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSystem {
    pub id: String,
    pub name: String,
    pub department: String,
    pub region_code: String,
    /// `rest`, `soap`, `sql` or `mssql`.
    pub protocol: String,
    pub endpoint: String,
    #[serde(default)]
    pub credentials_ref: Option<String>,
    #[serde(default)]
    pub secret: bool,
}

/// A partial update: absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemPatch {
    pub name: Option<String>,
    pub department: Option<String>,
    pub region_code: Option<String>,
    pub protocol: Option<String>,
    pub endpoint: Option<String>,
    /// An empty string removes the reference.
    pub credentials_ref: Option<String>,
    pub secret: Option<bool>,
    /// `registered`, `assessed`, `planned`, `integrating` or `live` (retire with the retire call).
    pub status: Option<String>,
}

/// Why a registration or update was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SystemError {
    #[error("invalid system: {}", summary(.0))]
    Invalid(Vec<FieldIssue>),
}

/// Every issue on one line, for error messages.
pub(crate) fn summary(issues: &[FieldIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("{}: {} [{}]", i.field, i.message, i.rule))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Timestamps keep microseconds: the precision both stores hold, so a record reads back equal.
pub(crate) fn stamp(now: DateTime<Utc>) -> DateTime<Utc> {
    now.trunc_subsecs(6)
}

/// A slug: 2-63 lower-case letters, digits and '-', starting with a letter.
pub(crate) fn is_slug(id: &str) -> bool {
    (2..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn check_id(p: &mut Problems, id: &str) {
    if !is_slug(id) {
        p.add(
            "id",
            "system.id",
            "use 2-63 lower-case letters, digits and '-', starting with a letter (e.g. gy-scjg-xk)",
        );
    }
}

fn check_protocol(p: &mut Problems, protocol: &str) -> Option<AdapterKind> {
    let kind = AdapterKind::parse(protocol);
    if kind.is_none() {
        let known: Vec<_> = ronghe_adapters::KINDS.iter().map(|(k, _)| k.name()).collect();
        p.add(
            "protocol",
            "system.protocol",
            format!("unknown protocol {protocol:?}; use one of {}", known.join(", ")),
        );
    }
    kind
}

fn check_endpoint(p: &mut Problems, kind: Option<AdapterKind>, endpoint: &str) {
    let Some(kind) = kind else { return };
    match url::Url::parse(endpoint) {
        Ok(url) => {
            if url.password().is_some() {
                p.add(
                    "endpoint",
                    "system.endpoint_secret",
                    "must not contain a password; put the credentials where credentials_ref points",
                );
            }
            let http = matches!(url.scheme(), "http" | "https");
            if kind.speaks_http() && !http {
                p.add(
                    "endpoint",
                    "system.endpoint_scheme",
                    format!("a {kind} system needs an http:// or https:// URL"),
                );
            }
            if !kind.speaks_http() && http {
                p.add(
                    "endpoint",
                    "system.endpoint_scheme",
                    format!(
                        "a {kind} system needs a database address (e.g. postgres://host/db), not an http URL"
                    ),
                );
            }
        }
        Err(e) => p.add("endpoint", "system.endpoint", format!("not a URL ({e})")),
    }
}

fn check_credentials_ref(p: &mut Problems, value: &str) {
    let valid = value
        .strip_prefix("env:")
        .map(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .or_else(|| value.strip_prefix("file:").map(|path| !path.trim().is_empty()))
        .unwrap_or(false);
    if !valid {
        p.add("credentials_ref", "system.credentials_ref", "must name where the secret lives, as env:VARIABLE_NAME or file:/path/to/secret; never the secret itself");
    }
}

fn check_region(p: &mut Problems, code: &str) {
    if let Err(v) = validate::division(code) {
        p.add("region_code", v.rule, v.message);
    }
}

impl NewSystem {
    /// Validates every field and builds the system, status `registered`.
    pub fn validate(self, now: DateTime<Utc>) -> Result<System, SystemError> {
        let mut p = Problems::default();
        check_id(&mut p, &self.id);
        p.plain_text("name", &self.name, 200);
        p.plain_text("department", &self.department, 200);
        check_region(&mut p, &self.region_code);
        let kind = check_protocol(&mut p, &self.protocol);
        check_endpoint(&mut p, kind, &self.endpoint);
        if let Some(r) = &self.credentials_ref {
            check_credentials_ref(&mut p, r);
        }
        let Some(protocol) = kind else {
            return Err(SystemError::Invalid(p.into_issues()));
        };
        p.finish(
            System {
                id: self.id,
                name: self.name.trim().to_owned(),
                department: self.department.trim().to_owned(),
                region_code: self.region_code,
                protocol,
                endpoint: self.endpoint,
                credentials_ref: self.credentials_ref,
                secret: self.secret,
                status: SystemStatus::Registered,
                created_at: stamp(now),
                updated_at: stamp(now),
            },
            SystemError::Invalid,
        )
    }
}

impl System {
    /// Applies a patch, validating every changed field and the status move.
    pub fn apply(&self, patch: SystemPatch, now: DateTime<Utc>) -> Result<System, SystemError> {
        let mut p = Problems::default();
        let mut next = self.clone();
        if self.status == SystemStatus::Retired {
            p.add(
                "status",
                "system.retired",
                "a retired system cannot be changed; register a new one",
            );
        }
        if let Some(name) = patch.name {
            p.plain_text("name", &name, 200);
            next.name = name.trim().to_owned();
        }
        if let Some(department) = patch.department {
            p.plain_text("department", &department, 200);
            next.department = department.trim().to_owned();
        }
        if let Some(region) = patch.region_code {
            check_region(&mut p, &region);
            next.region_code = region;
        }
        if let Some(kind) = patch
            .protocol
            .and_then(|protocol| check_protocol(&mut p, &protocol))
        {
            next.protocol = kind;
        }
        if let Some(endpoint) = patch.endpoint {
            next.endpoint = endpoint;
        }
        check_endpoint(&mut p, Some(next.protocol), &next.endpoint);
        match patch.credentials_ref.as_deref() {
            Some("") => next.credentials_ref = None,
            Some(r) => {
                check_credentials_ref(&mut p, r);
                next.credentials_ref = Some(r.to_owned());
            }
            None => {}
        }
        if let Some(secret) = patch.secret {
            next.secret = secret;
        }
        if let Some(status) = patch.status {
            match SystemStatus::parse(&status) {
                Some(SystemStatus::Retired) => p.add(
                    "status",
                    "system.status",
                    "retire a system with the retire call, which records the reason",
                ),
                Some(to) if !self.status.can_move_to(to) => p.add(
                    "status",
                    "system.status_move",
                    format!(
                        "cannot move from {} to {to}; a status moves one step forward, or back to assessed",
                        self.status
                    ),
                ),
                Some(to) => next.status = to,
                None => p.add("status", "system.status", format!("unknown status {status:?}")),
            }
        }
        if next.secret && next.status > SystemStatus::Assessed {
            p.add("status", "system.secret", "a system bound by secrecy rules is not integrated (Art. 13, 25); it stays registered or assessed");
        }
        next.updated_at = stamp(now);
        p.finish(next, SystemError::Invalid)
    }

    /// Retires the system; legal from any status but `retired`.
    pub fn retire(&self, reason: &str, now: DateTime<Utc>) -> Result<System, SystemError> {
        let mut p = Problems::default();
        if self.status == SystemStatus::Retired {
            p.add("status", "system.retired", "the system is already retired");
        }
        p.plain_text("reason", reason, 500);
        let mut next = self.clone();
        next.status = SystemStatus::Retired;
        next.updated_at = stamp(now);
        p.finish(next, SystemError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_system() -> NewSystem {
        NewSystem {
            id: "gy-scjg-xk".into(),
            name: "市场监管许可系统".into(),
            department: "贵阳市市场监督管理局".into(),
            region_code: "520100".into(),
            protocol: "rest".into(),
            endpoint: "http://127.0.0.1:9001/api".into(),
            credentials_ref: Some("env:GY_SCJG_API_KEY".into()),
            secret: false,
        }
    }

    fn rules(result: Result<System, SystemError>) -> Vec<(String, String)> {
        match result {
            Ok(_) => vec![],
            Err(SystemError::Invalid(issues)) => issues.into_iter().map(|i| (i.field, i.rule)).collect(),
        }
    }

    #[test]
    fn registration_reports_every_problem_at_once() {
        assert!(new_system().validate(Utc::now()).is_ok());
        let bad = NewSystem {
            id: "Bad Id".into(),
            name: " ".into(),
            region_code: "999999".into(),
            endpoint: "postgres://u:pw@db/x".into(),
            credentials_ref: Some("hunter2".into()),
            ..new_system()
        };
        let found = rules(bad.validate(Utc::now()));
        for expected in [
            ("id", "system.id"),
            ("name", "required"),
            ("region_code", "division.unknown"),
            ("endpoint", "system.endpoint_secret"),
            ("endpoint", "system.endpoint_scheme"),
            ("credentials_ref", "system.credentials_ref"),
        ] {
            assert!(
                found.iter().any(|(f, r)| (f.as_str(), r.as_str()) == expected),
                "{expected:?} missing from {found:?}"
            );
        }
    }

    #[test]
    fn status_moves() {
        use SystemStatus::*;
        for (from, to, ok) in [
            (Registered, Assessed, true),
            (Registered, Planned, false),
            (Assessed, Planned, true),
            (Planned, Assessed, true),
            (Live, Assessed, true),
            (Integrating, Live, true),
            (Live, Registered, false),
            (Live, Retired, true),
            (Retired, Registered, false),
        ] {
            assert_eq!(from.can_move_to(to), ok, "{from} -> {to}");
        }
    }

    #[test]
    fn secret_systems_are_not_integrated() {
        let mut s = NewSystem {
            secret: true,
            ..new_system()
        }
        .validate(Utc::now())
        .unwrap();
        s = s
            .apply(
                SystemPatch {
                    status: Some("assessed".into()),
                    ..Default::default()
                },
                Utc::now(),
            )
            .unwrap();
        let found = rules(s.apply(
            SystemPatch {
                status: Some("planned".into()),
                ..Default::default()
            },
            Utc::now(),
        ));
        assert_eq!(found, vec![("status".to_owned(), "system.secret".to_owned())]);
    }

    #[test]
    fn retired_is_final() {
        let s = new_system()
            .validate(Utc::now())
            .unwrap()
            .retire("replaced by the platform", Utc::now())
            .unwrap();
        assert_eq!(
            rules(s.retire("again", Utc::now())),
            vec![("status".to_owned(), "system.retired".to_owned())]
        );
        assert!(
            !rules(s.apply(
                SystemPatch {
                    name: Some("x".into()),
                    ..Default::default()
                },
                Utc::now()
            ))
            .is_empty()
        );
    }
}

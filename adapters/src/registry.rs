//! The registry of adapter kinds: the one place that lists every driver. A new driver is a new
//! module with its config and client, plus one line in `KINDS` and one variant in `AdapterConfig`.

use serde::{Deserialize, Serialize};

use crate::config::{ConfigIssue, Issues, from_table};
use crate::{Adapter, AdapterError, Secrets, mssql, rest, soap, sql};

/// How ronghe talks to a departmental system; its name (serde, `Display`, `FromStr`) is the
/// lowercase variant.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum AdapterKind {
    /// REST/JSON over HTTP.
    Rest,
    /// SOAP 1.1/1.2 with XML bodies, often GBK-encoded.
    Soap,
    /// A SQL database: SQLite, PostgreSQL or MySQL/MariaDB.
    Sql,
    /// Microsoft SQL Server over TDS.
    Mssql,
}

/// Every adapter kind with its one-line description.
pub const KINDS: &[(AdapterKind, &str)] = &[
    (AdapterKind::Rest, "REST/JSON over HTTP"),
    (AdapterKind::Soap, "SOAP/XML over HTTP (UTF-8, GBK, GB18030)"),
    (
        AdapterKind::Sql,
        "SQL database: SQLite, PostgreSQL, MySQL/MariaDB",
    ),
    (AdapterKind::Mssql, "Microsoft SQL Server"),
];

impl AdapterKind {
    /// The name used in config files and the store.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Looks a kind up by name.
    pub fn parse(name: &str) -> Option<AdapterKind> {
        name.parse().ok()
    }

    /// Whether an endpoint is an HTTP URL (REST, SOAP) rather than a database address.
    pub fn speaks_http(self) -> bool {
        matches!(self, AdapterKind::Rest | AdapterKind::Soap)
    }
}

/// An adapter config of any kind; `type = "…"` selects the variant.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum AdapterConfig {
    Rest(rest::RestConfig),
    Soap(soap::SoapConfig),
    Sql(sql::SqlConfig),
    Mssql(mssql::MssqlConfig),
}

impl AdapterConfig {
    pub fn kind(&self) -> AdapterKind {
        match self {
            AdapterConfig::Rest(_) => AdapterKind::Rest,
            AdapterConfig::Soap(_) => AdapterKind::Soap,
            AdapterConfig::Sql(_) => AdapterKind::Sql,
            AdapterConfig::Mssql(_) => AdapterKind::Mssql,
        }
    }

    /// Reads a config table: `type` picks the kind, whose own config reads the rest, so that
    /// every shape error has its full path (see `config::from_table`).
    pub(crate) fn from_table(mut table: toml::Table) -> Result<AdapterConfig, Vec<ConfigIssue>> {
        let names = || KINDS.iter().map(|(k, _)| k.name()).collect::<Vec<_>>().join(", ");
        let kind = match table.remove("type") {
            None => return Err(vec![issue("type", format!("missing field: one of {}", names()))]),
            Some(toml::Value::String(name)) => AdapterKind::parse(&name).ok_or_else(|| {
                vec![issue(
                    "type",
                    format!("unknown adapter type {name:?}: one of {}", names()),
                )]
            })?,
            Some(other) => {
                return Err(vec![issue(
                    "type",
                    format!(
                        "a {} where a string is expected: one of {}",
                        other.type_str(),
                        names()
                    ),
                )]);
            }
        };
        Ok(match kind {
            AdapterKind::Rest => AdapterConfig::Rest(from_table(table)?),
            AdapterKind::Soap => AdapterConfig::Soap(from_table(table)?),
            AdapterKind::Sql => AdapterConfig::Sql(from_table(table)?),
            AdapterKind::Mssql => AdapterConfig::Mssql(from_table(table)?),
        })
    }

    pub(crate) fn check(&self, issues: &mut Issues) {
        match self {
            AdapterConfig::Rest(c) => c.check(issues),
            AdapterConfig::Soap(c) => c.check(issues),
            AdapterConfig::Sql(c) => c.check(issues),
            AdapterConfig::Mssql(c) => c.check(issues),
        }
    }

    pub(crate) async fn build(&self, secrets: &dyn Secrets) -> Result<Box<dyn Adapter>, AdapterError> {
        Ok(match self {
            AdapterConfig::Rest(c) => Box::new(rest::RestAdapter::build(c, secrets)?),
            AdapterConfig::Soap(c) => Box::new(soap::SoapAdapter::build(c, secrets)?),
            AdapterConfig::Sql(c) => Box::new(sql::SqlAdapter::build(c, secrets)?),
            AdapterConfig::Mssql(c) => Box::new(c.build(secrets)?),
        })
    }
}

fn issue(path: &str, message: String) -> ConfigIssue {
    ConfigIssue {
        path: path.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_back_and_matches_serde() {
        for (kind, _) in KINDS {
            assert_eq!(AdapterKind::parse(kind.name()), Some(*kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.name())
            );
        }
        assert_eq!(AdapterKind::parse("ftp"), None);
    }
}

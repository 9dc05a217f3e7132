//! Adapters speak to departmental approval systems in their own shapes (raw JSON values, XML
//! element trees, SQL rows); they know nothing of the canonical case. This crate starts with the
//! registry of adapter kinds; each kind's driver is a module listed in [`KINDS`].

use serde::{Deserialize, Serialize};

/// How ronghe talks to a departmental system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// Every adapter kind with its one-line description: the one place that lists them.
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
        match self {
            AdapterKind::Rest => "rest",
            AdapterKind::Soap => "soap",
            AdapterKind::Sql => "sql",
            AdapterKind::Mssql => "mssql",
        }
    }

    /// Looks a kind up by name.
    pub fn parse(name: &str) -> Option<AdapterKind> {
        KINDS.iter().map(|(k, _)| *k).find(|k| k.name() == name)
    }

    /// Whether an endpoint is an HTTP URL (REST, SOAP) rather than a database address.
    pub fn speaks_http(self) -> bool {
        matches!(self, AdapterKind::Rest | AdapterKind::Soap)
    }
}

impl std::fmt::Display for AdapterKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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

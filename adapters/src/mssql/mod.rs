//! The SQL Server driver (tiberius over tokio): the SQL driver's capabilities on Microsoft SQL
//! Server — catalogue via `INFORMATION_SCHEMA`, keyset reads (`TOP (n)`, the expanded keyset
//! form), `rowversion` watermarks as hex, bounded by `MIN_ACTIVE_ROWVERSION()` — with the
//! query building shared with the SQL driver (`sql::query`), where the other databases test it
//! for real. `tds` is this driver's connection. Only a real server confirms the wire path.

mod tds;

use serde::Deserialize;

use crate::config::Issues;
use crate::sql::{MSSQL_SCHEMES, SqlAdapter, SqlConfig};
use crate::{AdapterError, Secrets};

pub(crate) use tds::Tds;

/// A departmental system on SQL Server (`type = "mssql"`): the SQL config's fields, with a URL
/// `mssql://USER@HOST:PORT/DATABASE?encrypt=required&trust_server_certificate=false`.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct MssqlConfig(pub SqlConfig);

impl MssqlConfig {
    pub(crate) fn check(&self, issues: &mut Issues) {
        self.0.check_with(issues, MSSQL_SCHEMES);
        if let Some(url) = &self.0.url {
            tds::url_problems(issues, url);
        }
    }

    /// Resolves the URL and prepares the connections; none is opened until the first call.
    pub fn build(&self, secrets: &dyn Secrets) -> Result<SqlAdapter, AdapterError> {
        let url = crate::sql::url(&self.0, secrets)?;
        let tds = Tds::open(&url, self.0.read_only, &self.0.resilience)?;
        Ok(SqlAdapter::new(&self.0, Box::new(tds)))
    }
}

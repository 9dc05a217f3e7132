//! The SQL driver (sqlx): a departmental system read straight from its database — SQLite,
//! PostgreSQL or MySQL/MariaDB (and the wire-compatible domestic databases that ride on the last
//! two). `query` and `catalogue` build the SQL for every dialect, SQL Server's included; `driver`
//! is the adapter over any `Connection`, shared with the SQL Server driver (`crate::mssql`);
//! `pool` is this driver's connection.

pub(crate) mod catalogue;
mod config;
mod driver;
pub(crate) mod pool;
pub(crate) mod query;

pub use config::{SqlConfig, Submit};
pub use driver::SqlAdapter;

pub(crate) use config::MSSQL_SCHEMES;
pub(crate) use driver::{Connection, database_error, write_broke};

use crate::{AdapterError, Secrets};

impl SqlAdapter {
    /// Resolves the URL and prepares a pool; no connection is opened until the first call.
    pub fn build(config: &SqlConfig, secrets: &dyn Secrets) -> Result<SqlAdapter, AdapterError> {
        let url = url(config, secrets)?;
        let pools = pool::Pools::open(&url, config.read_only, &config.resilience)?;
        Ok(SqlAdapter::new(config, Box::new(pools)))
    }
}

/// The database URL: as configured, or from its secret.
pub(crate) fn url(config: &SqlConfig, secrets: &dyn Secrets) -> Result<String, AdapterError> {
    match (&config.url, &config.url_secret) {
        (Some(url), _) => Ok(url.clone()),
        (None, Some(secret)) => secrets.resolve(secret),
        (None, None) => Err(AdapterError::configuration("no url or url_secret configured")),
    }
}

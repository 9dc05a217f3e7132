//! The config of a database system (`type = "sql"`, and `type = "mssql"` with the same fields):
//! where to connect, the table or view holding the cases, its key and watermark columns, an
//! optional filter, and (only when `read_only = false`) where applications are inserted.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::query::{Filter, filter_placeholders, identifier_problem};
use crate::config::Issues;
use crate::resilience::ResilienceConfig;
use crate::{SecretRef, SqlValue, WindowFormat};

/// A departmental system read from its database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlConfig {
    /// The database URL when it carries no password: `sqlite://PATH`, `postgres://USER@HOST/DB`,
    /// `mysql://USER@HOST/DB` (MariaDB too), `mssql://USER@HOST:1433/DB`.
    #[serde(default)]
    pub url: Option<String>,
    /// Where the URL lives when it carries a password: `env:NAME` or `file:PATH`.
    #[serde(default)]
    pub url_secret: Option<SecretRef>,
    /// Schema (PostgreSQL, SQL Server) or database (MySQL) of the table; the connection's default
    /// when absent.
    #[serde(default)]
    pub schema: Option<String>,
    /// The table or view holding the cases.
    pub table: String,
    /// The column holding each case's key (its case number): unique and never null.
    pub key: String,
    /// The column that grows when a case changes (update time, version, SQL Server `rowversion`);
    /// records are read in (watermark, key) order. Without one: key order, and a resumed read
    /// sees no changes to records already read.
    #[serde(default)]
    pub watermark: Option<String>,
    /// How the watermark writes a time, when it is one (see `WindowFormat`).
    #[serde(default)]
    pub window_format: Option<WindowFormat>,
    /// Columns to read; every column when empty.
    #[serde(default)]
    pub columns: Vec<String>,
    /// An extra condition on the records, in the database's SQL, with `?` for each value in
    /// `filter_params` (e.g. `"SXBM" = ? AND "XZQHDM" LIKE ?`). Values are always bound.
    #[serde(default)]
    pub filter: Option<String>,
    /// The values of the filter's `?`s: strings, integers, floats or booleans.
    #[serde(default)]
    pub filter_params: Vec<serde_json::Value>,
    /// Rows per query.
    #[serde(default = "page_size")]
    pub page_size: u32,
    /// Open read-only sessions and refuse writes. Set to `false` to allow `[submit]`.
    #[serde(default = "yes")]
    pub read_only: bool,
    /// Where applications are inserted (needs `read_only = false`).
    #[serde(default)]
    pub submit: Option<Submit>,
    #[serde(default)]
    pub resilience: ResilienceConfig,
}

fn page_size() -> u32 {
    1000
}

fn yes() -> bool {
    true
}

/// Applications become rows of a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submit {
    /// The table receiving applications (in `schema`).
    pub table: String,
    /// Column name → JSON pointer into the submitted payload ("" for the whole payload as JSON
    /// text). A missing or null value inserts NULL; objects and arrays are inserted as JSON text.
    pub columns: BTreeMap<String, String>,
    /// The column whose value is the receipt's id.
    #[serde(default)]
    pub id: Option<String>,
}

/// The URL schemes each kind accepts.
pub(crate) const SQL_SCHEMES: &[&str] = &["sqlite", "postgres", "postgresql", "mysql", "mariadb"];
pub(crate) const MSSQL_SCHEMES: &[&str] = &["mssql", "sqlserver"];

impl SqlConfig {
    pub(crate) fn check(&self, issues: &mut Issues) {
        self.check_with(issues, SQL_SCHEMES);
    }

    /// Every problem, with URLs limited to `schemes`.
    pub(crate) fn check_with(&self, issues: &mut Issues, schemes: &[&str]) {
        match (&self.url, &self.url_secret) {
            (Some(url), None) => url_problems(issues, url, schemes),
            (None, Some(secret)) => issues.secret("url_secret", secret),
            (Some(_), Some(_)) => issues.add("url", "give url or url_secret, not both"),
            (None, None) => issues.add(
                "url",
                format!(
                    "missing: give url (without a password) or url_secret; schemes: {}",
                    schemes.join(", ")
                ),
            ),
        }
        let mut identifier = |path: String, name: &str| {
            if let Some(problem) = identifier_problem(name) {
                issues.add(path, problem);
            }
        };
        if let Some(schema) = &self.schema {
            identifier("schema".to_owned(), schema);
        }
        identifier("table".to_owned(), &self.table);
        identifier("key".to_owned(), &self.key);
        if let Some(watermark) = &self.watermark {
            identifier("watermark".to_owned(), watermark);
        }
        for (i, c) in self.columns.iter().enumerate() {
            identifier(format!("columns[{i}]"), c);
        }
        if let Some(submit) = &self.submit {
            identifier("submit.table".to_owned(), &submit.table);
            for column in submit.columns.keys() {
                identifier(format!("submit.columns.{column}"), column);
            }
        }
        issues.window_format(
            "window_format",
            self.window_format.as_ref(),
            self.watermark.is_some(),
        );
        if self.watermark.as_ref() == Some(&self.key) {
            issues.add(
                "watermark",
                "must not be the key column: the key always ends the order",
            );
        }
        if !self.columns.is_empty() {
            for needed in std::iter::once(&self.key).chain(&self.watermark) {
                if !self.columns.contains(needed) {
                    issues.add(
                        "columns",
                        format!("must include {needed}, which orders the records"),
                    );
                }
            }
        }
        self.check_filter(issues);
        if !(1..=10_000).contains(&self.page_size) {
            issues.add("page_size", "must be between 1 and 10000");
        }
        if let Some(submit) = &self.submit {
            if submit.columns.is_empty() {
                issues.add("submit.columns", "must map at least one column to a JSON pointer");
            }
            for (column, pointer) in &submit.columns {
                if !(pointer.is_empty() || pointer.starts_with('/')) {
                    issues.add(
                        format!("submit.columns.{column}"),
                        format!("{pointer:?} is not a JSON pointer: start with / (e.g. /applicant/name), or \"\" for the whole payload"),
                    );
                }
            }
            if let Some(id) = &submit.id
                && !submit.columns.contains_key(id)
            {
                issues.add("submit.id", format!("{id} is not one of submit.columns"));
            }
        }
        issues.resilience(&self.resilience);
    }

    fn check_filter(&self, issues: &mut Issues) {
        match &self.filter {
            Some(filter) => match filter_placeholders(filter) {
                Ok(marks) if marks.len() != self.filter_params.len() => issues.add(
                    "filter_params",
                    format!(
                        "the filter has {} placeholder(s) but {} value(s) are given",
                        marks.len(),
                        self.filter_params.len()
                    ),
                ),
                Ok(_) => {}
                Err(problem) => issues.add("filter", problem),
            },
            None if !self.filter_params.is_empty() => issues.add("filter_params", "given without a filter"),
            None => {}
        }
        for (i, value) in self.filter_params.iter().enumerate() {
            if scalar(value).is_none() {
                issues.add(
                    format!("filter_params[{i}]"),
                    "must be a string, integer, float or boolean",
                );
            }
        }
    }

    /// The filter with its values, once validated.
    pub(crate) fn filter(&self) -> Option<Filter> {
        self.filter.as_ref().map(|sql| Filter {
            sql: sql.clone(),
            params: self.filter_params.iter().filter_map(scalar).collect(),
        })
    }
}

fn url_problems(issues: &mut Issues, url: &str, schemes: &[&str]) {
    match url::Url::parse(url) {
        Ok(u) if !schemes.contains(&u.scheme()) => issues.add(
            "url",
            format!("scheme {:?} is not one of {}", u.scheme(), schemes.join(", ")),
        ),
        Ok(u) if u.password().is_some() => issues.add(
            "url",
            "must not contain a password; put the whole URL in a secret and use url_secret",
        ),
        Ok(_) => {}
        Err(e) => issues.add("url", format!("not a URL ({e})")),
    }
}

/// A JSON scalar as a SQL value; `None` for null, arrays and objects.
pub(crate) fn scalar(value: &serde_json::Value) -> Option<SqlValue> {
    use serde_json::Value;
    match value {
        Value::String(s) => Some(SqlValue::Text(s.clone())),
        Value::Bool(b) => Some(SqlValue::Bool(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(SqlValue::Int)
            .or_else(|| n.as_f64().map(SqlValue::Float)),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

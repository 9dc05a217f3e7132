//! What the plan tests need from the store (issue 23): the plan of a statement on either backend
//! (`explain`), fresh planner statistics (`analyze`), and tables filled to a realistic size by
//! the database itself (`fill`: one `INSERT … SELECT` over a recursive count, not a row at a
//! time). Hidden from the documentation: nothing in the service calls them.

use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use sqlx::error::BoxDynError;
use sqlx::{Arguments, Database, Encode, Postgres, Sqlite, Type};

use super::{Backend, Pool, Store, StoreError};

/// A value bound to a statement whose plan a test asks for, or to the rows `fill` makes.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum PlanArg {
    Text(String),
    Time(DateTime<Utc>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(chrono::NaiveDate),
    Json(serde_json::Value),
    /// A null of a parameter compared with text, with a time or with a number (PostgreSQL
    /// types each parameter; an optional filter left out binds one).
    NoText,
    NoTime,
    NoInt,
}

/// One column of the rows [`Store::fill`] makes; `n` is the row's number.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum Fill {
    /// The same value in every row.
    Value(PlanArg),
    /// `n` itself.
    Number,
    /// The text followed by `n` (`C17`): a distinct key per row.
    Numbered(String),
    /// `n` seconds after the instant: distinct times in row order.
    SecondsAfter(DateTime<Utc>),
}

/// `args` as `DB`'s arguments (times at the precision both stores keep).
fn arguments<DB: Database>(args: &[PlanArg]) -> Result<DB::Arguments, sqlx::Error>
where
    String: for<'t> Encode<'t, DB> + Type<DB>,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
    f64: for<'t> Encode<'t, DB> + Type<DB>,
    bool: for<'t> Encode<'t, DB> + Type<DB>,
    DateTime<Utc>: for<'t> Encode<'t, DB> + Type<DB>,
    chrono::NaiveDate: for<'t> Encode<'t, DB> + Type<DB>,
    Option<String>: for<'t> Encode<'t, DB> + Type<DB>,
    Option<DateTime<Utc>>: for<'t> Encode<'t, DB> + Type<DB>,
    Option<i64>: for<'t> Encode<'t, DB> + Type<DB>,
    sqlx::types::Json<serde_json::Value>: for<'t> Encode<'t, DB> + Type<DB>,
{
    let mut bound = DB::Arguments::default();
    for arg in args {
        let added: Result<(), BoxDynError> = match arg {
            PlanArg::Text(text) => bound.add(text.clone()),
            PlanArg::Time(at) => bound.add(crate::systems::stamp(*at)),
            PlanArg::Int(n) => bound.add(*n),
            PlanArg::Float(x) => bound.add(*x),
            PlanArg::Bool(b) => bound.add(*b),
            PlanArg::Date(day) => bound.add(*day),
            PlanArg::Json(value) => bound.add(sqlx::types::Json(value.clone())),
            PlanArg::NoText => bound.add(None::<String>),
            PlanArg::NoTime => bound.add(None::<DateTime<Utc>>),
            PlanArg::NoInt => bound.add(None::<i64>),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(bound)
}

/// The statement [`Store::fill`] runs and the values it binds: `$1`..`$2` are the numbers, each
/// column's value follows. Both backends take a `WITH` before an `INSERT`.
fn fill_sql(
    backend: Backend,
    table: &str,
    columns: &[(&str, Fill)],
    numbers: &RangeInclusive<i64>,
) -> (String, Vec<PlanArg>) {
    let mut args = vec![PlanArg::Int(*numbers.start()), PlanArg::Int(*numbers.end())];
    let mut values = Vec::with_capacity(columns.len());
    for (_, fill) in columns {
        let mut next = |arg: PlanArg| {
            args.push(arg);
            format!("${}", args.len())
        };
        values.push(match fill {
            Fill::Value(arg) => next(arg.clone()),
            Fill::Number => "n.i".to_owned(),
            Fill::Numbered(prefix) => format!("{} || n.i", next(PlanArg::Text(prefix.clone()))),
            Fill::SecondsAfter(at) => backend.plus_seconds(&next(PlanArg::Time(*at)), "n.i"),
        });
    }
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < $2)
         INSERT INTO {table} ({}) SELECT {} FROM n",
        names.join(", "),
        values.join(", ")
    );
    (sql, args)
}

/// One step of SQLite's `EXPLAIN QUERY PLAN` (its other columns, the step's ids, are not read).
#[derive(sqlx::FromRow)]
struct PlanStep {
    detail: String,
}

impl Store {
    /// Adds a row to `table` for each number in `numbers`, its `columns` made from the number
    /// (see [`Fill`]) by the database in one statement: tens of thousands of rows in well under
    /// a second on either backend. Returns how many were added.
    #[doc(hidden)]
    pub async fn fill(
        &self,
        table: &str,
        columns: &[(&str, Fill)],
        numbers: RangeInclusive<i64>,
    ) -> Result<u64, StoreError> {
        let (sql, args) = fill_sql(self.backend(), table, columns, &numbers);
        let sql = sqlx::AssertSqlSafe(sql);
        let added = match &self.pool {
            Pool::Sqlite(pool) => {
                let bound = arguments::<Sqlite>(&args)?;
                sqlx::query_with(sql, bound).execute(pool).await?.rows_affected()
            }
            Pool::Postgres(pool) => {
                let bound = arguments::<Postgres>(&args)?;
                sqlx::query_with(sql, bound).execute(pool).await?.rows_affected()
            }
        };
        Ok(added)
    }

    /// Refreshes the planner's statistics (PostgreSQL `ANALYZE`; SQLite keeps none unless asked,
    /// and the store never asks, so its plans are checked without).
    #[doc(hidden)]
    pub async fn analyze(&self) -> Result<(), StoreError> {
        if let Pool::Postgres(pool) = &self.pool {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        Ok(())
    }

    /// The plan of `sql` with `args` bound, without running it: SQLite's `EXPLAIN QUERY PLAN`
    /// details, one per line; PostgreSQL's `EXPLAIN (FORMAT JSON)` document. For the tests that
    /// fail a full scan.
    #[doc(hidden)]
    pub async fn explain(&self, sql: &str, args: &[PlanArg]) -> Result<String, StoreError> {
        self.explain_with(&[], sql, args).await
    }

    /// [`Store::explain`] after `setup` (planner settings a statement runs with, such as
    /// [`super::claim_setup`]), in a transaction that is rolled back.
    #[doc(hidden)]
    pub async fn explain_with(
        &self,
        setup: &[&str],
        sql: &str,
        args: &[PlanArg],
    ) -> Result<String, StoreError> {
        let plan = match &self.pool {
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for statement in setup {
                    sqlx::query(sqlx::AssertSqlSafe(*statement))
                        .execute(&mut *tx)
                        .await?;
                }
                let sql = sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}"));
                let rows: Vec<PlanStep> = sqlx::query_as_with(sql, arguments::<Sqlite>(args)?)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.rollback().await?;
                rows.into_iter()
                    .map(|step| step.detail)
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for statement in setup {
                    sqlx::query(sqlx::AssertSqlSafe(*statement))
                        .execute(&mut *tx)
                        .await?;
                }
                let sql = sqlx::AssertSqlSafe(format!("EXPLAIN (FORMAT JSON) {sql}"));
                let (plan,): (serde_json::Value,) = sqlx::query_as_with(sql, arguments::<Postgres>(args)?)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.rollback().await?;
                plan.to_string()
            }
        };
        Ok(plan)
    }
}

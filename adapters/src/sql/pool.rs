//! The SQL driver's connections (sqlx): a lazy pool per system on SQLite, PostgreSQL or
//! MySQL/MariaDB, read-only sessions by default, parameters bound by value, rows decoded by the
//! type each value arrives with, and database failures classified.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{Column as _, Database, Encode, Executor, Row as _, Type, TypeInfo, ValueRef};

use super::driver::{Connection, database_error, write_broke};
use super::query::{Dialect, Statement};
use crate::resilience::ResilienceConfig;
use crate::{AdapterError, AdapterKind, ErrorClass, Row, SqlValue};

/// A pool of connections to one database.
pub(crate) enum Pools {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
}

/// The dialect only: the pools' connect options hold the password of a URL from a secret.
impl std::fmt::Debug for Pools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pools").field(&self.dialect()).finish()
    }
}

impl Pools {
    /// A pool that connects on first use, so that a system that is down does not stop the
    /// adapter from being built: its calls fail `Unavailable` instead.
    pub(crate) fn open(
        url: &str,
        read_only: bool,
        resilience: &ResilienceConfig,
    ) -> Result<Pools, AdapterError> {
        let scheme = url
            .split_once(':')
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        let invalid = |e: sqlx::Error| AdapterError::configuration(format!("database URL: {e}"));
        let max = resilience.max_concurrency.max(1);
        let acquire = resilience.connect_timeout();
        Ok(match scheme.as_str() {
            "sqlite" => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(invalid)?
                    .read_only(read_only);
                Pools::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(acquire)
                        .connect_lazy_with(options),
                )
            }
            "postgres" | "postgresql" => {
                let mut options = PgConnectOptions::from_str(url).map_err(invalid)?;
                if read_only {
                    options = options.options([("default_transaction_read_only", "on")]);
                }
                Pools::Postgres(
                    PgPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(acquire)
                        .connect_lazy_with(options),
                )
            }
            "mysql" | "mariadb" => {
                let url = format!("mysql:{}", &url[scheme.len() + 1..]);
                let options = MySqlConnectOptions::from_str(&url).map_err(invalid)?;
                let pool = MySqlPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(acquire);
                let pool = match read_only {
                    true => pool.after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                            Ok(())
                        })
                    }),
                    false => pool,
                };
                Pools::MySql(pool.connect_lazy_with(options))
            }
            _ => {
                return Err(AdapterError::configuration(format!(
                    "database URL scheme {scheme:?} is not sqlite, postgres or mysql"
                )));
            }
        })
    }
}

/// Binds the statement's parameters in order.
fn bind<'q, DB: Database>(
    mut query: sqlx::query::Query<'q, DB, DB::Arguments>,
    params: &[SqlValue],
) -> sqlx::query::Query<'q, DB, DB::Arguments>
where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> f64: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> Vec<u8>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<String>: Encode<'t, DB> + Type<DB>,
{
    for value in params {
        query = match value {
            SqlValue::Null => query.bind(None::<String>),
            SqlValue::Bool(b) => query.bind(*b),
            SqlValue::Int(i) => query.bind(*i),
            SqlValue::Float(f) => query.bind(*f),
            SqlValue::Text(t) => query.bind(t.clone()),
            SqlValue::Bytes(b) => query.bind(b.clone()),
        };
    }
    query
}

/// A row as names and values, each value decoded by `value`.
fn row<R: sqlx::Row>(
    row: &R,
    value: fn(&R, usize) -> Result<SqlValue, sqlx::Error>,
) -> Result<Row, sqlx::Error> {
    row.columns()
        .iter()
        .map(|c| Ok((c.name().to_owned(), value(row, c.ordinal())?)))
        .collect::<Result<_, _>>()
        .map(Row)
}

/// The type a value arrived with, or `None` for NULL.
fn arrived_as<R: sqlx::Row>(row: &R, i: usize) -> Result<Option<String>, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
{
    let raw = row.try_get_raw(i)?;
    Ok((!raw.is_null()).then(|| raw.type_info().name().to_owned()))
}

/// SQLite values by their storage class.
fn sqlite_value(row: &SqliteRow, i: usize) -> Result<SqlValue, sqlx::Error> {
    let Some(class) = arrived_as(row, i)? else {
        return Ok(SqlValue::Null);
    };
    Ok(match class.as_str() {
        "INTEGER" => SqlValue::Int(row.try_get_unchecked(i)?),
        "REAL" => SqlValue::Float(row.try_get_unchecked(i)?),
        "BLOB" => SqlValue::Bytes(row.try_get_unchecked(i)?),
        _ => SqlValue::Text(row.try_get_unchecked(i)?),
    })
}

/// PostgreSQL values by type; the plan casts the types decoded here as text to text.
fn pg_value(row: &PgRow, i: usize) -> Result<SqlValue, sqlx::Error> {
    let Some(name) = arrived_as(row, i)? else {
        return Ok(SqlValue::Null);
    };
    Ok(match name.as_str() {
        "INT2" => SqlValue::Int(row.try_get::<i16, _>(i)?.into()),
        "INT4" => SqlValue::Int(row.try_get::<i32, _>(i)?.into()),
        "INT8" => SqlValue::Int(row.try_get(i)?),
        "FLOAT4" => SqlValue::Float(row.try_get::<f32, _>(i)?.into()),
        "FLOAT8" => SqlValue::Float(row.try_get(i)?),
        "BOOL" => SqlValue::Bool(row.try_get(i)?),
        "BYTEA" => SqlValue::Bytes(row.try_get(i)?),
        _ => SqlValue::Text(row.try_get(i)?),
    })
}

/// MySQL values by type; the plan casts the types decoded here as text to `CHAR`.
fn mysql_value(row: &MySqlRow, i: usize) -> Result<SqlValue, sqlx::Error> {
    let Some(name) = arrived_as(row, i)? else {
        return Ok(SqlValue::Null);
    };
    Ok(match name.as_str() {
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => SqlValue::Int(row.try_get(i)?),
        n if n.ends_with(" UNSIGNED") => {
            let value: u64 = row.try_get(i)?;
            i64::try_from(value).map_or_else(|_| SqlValue::Text(value.to_string()), SqlValue::Int)
        }
        "FLOAT" => SqlValue::Float(row.try_get::<f32, _>(i)?.into()),
        "DOUBLE" => SqlValue::Float(row.try_get(i)?),
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
            SqlValue::Bytes(row.try_get(i)?)
        }
        _ => SqlValue::Text(row.try_get(i)?),
    })
}

#[async_trait]
impl Connection for Pools {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Sql
    }

    fn dialect(&self) -> Dialect {
        match self {
            Pools::Sqlite(_) => Dialect::Sqlite,
            Pools::Postgres(_) => Dialect::Postgres,
            Pools::MySql(_) => Dialect::MySql,
        }
    }

    async fn query(&self, statement: &Statement) -> Result<Vec<Row>, AdapterError> {
        let fail = |e| classify(self.dialect(), e, false);
        let sql = || sqlx::AssertSqlSafe(statement.sql.clone());
        match self {
            Pools::Sqlite(pool) => decode(
                bind(sqlx::query(sql()), &statement.params).fetch_all(pool).await,
                sqlite_value,
            ),
            Pools::Postgres(pool) => decode(
                bind(sqlx::query(sql()), &statement.params).fetch_all(pool).await,
                pg_value,
            ),
            Pools::MySql(pool) => decode(
                bind(sqlx::query(sql()), &statement.params).fetch_all(pool).await,
                mysql_value,
            ),
        }
        .map_err(fail)
    }

    async fn execute(&self, statement: &Statement) -> Result<u64, AdapterError> {
        let sql = || sqlx::AssertSqlSafe(statement.sql.clone());
        match self {
            Pools::Sqlite(pool) => bind(sqlx::query(sql()), &statement.params)
                .execute(pool)
                .await
                .map(|d| d.rows_affected()),
            Pools::Postgres(pool) => bind(sqlx::query(sql()), &statement.params)
                .execute(pool)
                .await
                .map(|d| d.rows_affected()),
            Pools::MySql(pool) => bind(sqlx::query(sql()), &statement.params)
                .execute(pool)
                .await
                .map(|d| d.rows_affected()),
        }
        .map_err(|e| classify(self.dialect(), e, true))
    }
}

fn decode<R: sqlx::Row>(
    rows: Result<Vec<R>, sqlx::Error>,
    value: fn(&R, usize) -> Result<SqlValue, sqlx::Error>,
) -> Result<Vec<Row>, sqlx::Error> {
    rows?.iter().map(|r| row(r, value)).collect()
}

/// Classifies a sqlx failure. Database errors carry a SQLSTATE (PostgreSQL, MySQL) or a result
/// code (SQLite). In a `write`, a connection that broke mid-way leaves the outcome unknown:
/// `Unavailable`, so that the policy does not write twice.
fn classify(dialect: Dialect, err: sqlx::Error, write: bool) -> AdapterError {
    let (class, refusal) = match &err {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let mysql_number = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|e| e.number());
            let class = database_class(dialect, &code, mysql_number);
            (
                class,
                (class == ErrorClass::Data).then(|| format!("{:?}, code {code}", db.kind())),
            )
        }
        sqlx::Error::Io(io) if write && write_broke(io.kind()) => (ErrorClass::Unavailable, None),
        sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed if write => (ErrorClass::Unavailable, None),
        sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => (ErrorClass::Retryable, None),
        sqlx::Error::PoolClosed => (ErrorClass::Unavailable, None),
        sqlx::Error::Tls(_)
        | sqlx::Error::Configuration(_)
        | sqlx::Error::InvalidArgument(_)
        | sqlx::Error::TypeNotFound { .. } => (ErrorClass::Configuration, None),
        _ => (ErrorClass::Data, None),
    };
    database_error(dialect, class, write, err, refusal)
}

/// The class of a database error by its code: SQLSTATE classes on PostgreSQL and MySQL (with
/// MySQL's error number where the SQLSTATE is the catch-all HY000), primary result codes on
/// SQLite.
fn database_class(dialect: Dialect, code: &str, mysql_number: Option<u16>) -> ErrorClass {
    if dialect == Dialect::Sqlite {
        return match code.parse::<i32>().map(|c| c & 0xff) {
            Ok(5 | 6 | 10) => ErrorClass::Retryable, // busy, locked, I/O error
            Ok(1 | 3 | 8 | 14 | 23 | 26) => ErrorClass::Configuration, // error (no such table…), perm, readonly, cantopen, auth, notadb
            _ => ErrorClass::Data,
        };
    }
    match (code.get(..2).unwrap_or_default(), mysql_number) {
        // Lock wait timeout, deadlock, server shutting down, too many connections.
        (_, Some(1205 | 1213 | 1053 | 1040)) => ErrorClass::Retryable,
        ("08" | "40" | "53" | "57" | "58", _) => ErrorClass::Retryable,
        ("42" | "3D" | "3F" | "28" | "0A" | "25" | "2F", _) => ErrorClass::Configuration,
        _ => ErrorClass::Data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_codes_are_classified() {
        for (dialect, code, number, class) in [
            (Dialect::Postgres, "40P01", None, ErrorClass::Retryable),
            (Dialect::Postgres, "08006", None, ErrorClass::Retryable),
            (Dialect::Postgres, "42P01", None, ErrorClass::Configuration),
            (Dialect::Postgres, "25006", None, ErrorClass::Configuration),
            (Dialect::Postgres, "23505", None, ErrorClass::Data),
            (Dialect::MySql, "HY000", Some(1205), ErrorClass::Retryable),
            (Dialect::MySql, "42S02", Some(1146), ErrorClass::Configuration),
            (Dialect::MySql, "25006", Some(1792), ErrorClass::Configuration),
            (Dialect::MySql, "23000", Some(1062), ErrorClass::Data),
            (Dialect::Sqlite, "517", None, ErrorClass::Retryable),
            (Dialect::Sqlite, "8", None, ErrorClass::Configuration),
            (Dialect::Sqlite, "2067", None, ErrorClass::Data),
        ] {
            assert_eq!(database_class(dialect, code, number), class, "{dialect:?} {code}");
        }
    }

    #[test]
    fn broken_writes_are_not_retried() {
        let reset = || sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(
            classify(Dialect::MySql, reset(), false).class,
            ErrorClass::Retryable
        );
        assert_eq!(
            classify(Dialect::MySql, reset(), true).class,
            ErrorClass::Unavailable
        );
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            classify(Dialect::MySql, refused, true).class,
            ErrorClass::Retryable,
            "nothing was sent"
        );
    }

    #[tokio::test]
    async fn debug_output_holds_no_password() {
        let pools = Pools::open(
            "postgres://reader:s3cret@127.0.0.1/sp",
            true,
            &ResilienceConfig::default(),
        )
        .unwrap();
        assert_eq!(format!("{pools:?}"), "Pools(Postgres)");
    }

    fn sql(text: &str) -> Statement {
        Statement {
            sql: text.to_owned(),
            params: Vec::new(),
        }
    }

    /// A read-only pool cannot write, whatever statement reaches it: the database refuses.
    async fn check_read_only_session(url: &str, table: &str) {
        let config = ResilienceConfig::default();
        let writer = Pools::open(url, false, &config).unwrap();
        writer
            .execute(&sql(&format!("CREATE TABLE {table} (x INTEGER)")))
            .await
            .unwrap();
        let reader = Pools::open(url, true, &config).unwrap();
        let insert = sql(&format!("INSERT INTO {table} (x) VALUES (1)"));
        let err = reader.execute(&insert).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Configuration, "{url}: {err}");
        assert_eq!(writer.execute(&insert).await.unwrap(), 1, "the writer can");
        writer
            .execute(&sql(&format!("DROP TABLE {table}")))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn sqlite_sessions_are_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("ro.db").display());
        check_read_only_session(&url, "read_only_check").await;
    }

    #[cfg(feature = "server-tests")]
    #[tokio::test]
    async fn server_sessions_are_read_only() {
        for variable in ["RONGHE_TEST_PG_URL", "RONGHE_TEST_MYSQL_URL"] {
            let url = std::env::var(variable).unwrap_or_else(|_| {
                panic!("{variable} is not set: run scripts/test, which starts the servers")
            });
            check_read_only_session(&url, &format!("read_only_check_{}", std::process::id())).await;
        }
    }
}

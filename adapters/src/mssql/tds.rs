//! SQL Server connections (tiberius over tokio TCP): settings from a `mssql://` URL, a deadpool
//! of clients (no tiberius pool crate follows tiberius 0.13), parameters as TDS values, rows
//! decoded from TDS values, and failures classified by SQL Server's error numbers.

use std::borrow::Cow;
use std::time::Duration;

use async_trait::async_trait;
use deadpool::managed::{Manager, Metrics, Object, Pool, PoolError, RecycleError, RecycleResult};
use tiberius::error::Error as TdsError;
use tiberius::{AuthMethod, Client, ColumnData, Config, EncryptionLevel, Query};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

use crate::config::Issues;
use crate::resilience::ResilienceConfig;
use crate::sql::query::{Dialect, Statement};
use crate::sql::{Connection, database_error, write_broke};
use crate::{AdapterError, AdapterKind, ErrorClass, Row, SqlValue};

type TdsClient = Client<Compat<TcpStream>>;

/// Connections to one SQL Server database, at most `max_concurrency` of them.
pub(crate) struct Tds {
    pool: Pool<Connector>,
}

impl std::fmt::Debug for Tds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tds")
            .field("target", &self.pool.manager().target)
            .finish_non_exhaustive()
    }
}

/// Opens the pool's clients.
struct Connector {
    config: Config,
    /// `host:port/database`, for messages (no credentials).
    target: String,
    connect_timeout: Duration,
}

/// A pooled client. It is `idle` only between calls: one whose call failed or was abandoned
/// (a timeout drops the call) may be mid-answer, so the pool drops it instead of reusing it.
struct Session {
    client: TdsClient,
    idle: bool,
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The tiberius settings of a `mssql://USER:PASSWORD@HOST:PORT/DATABASE?…` URL, and the
/// target for messages. Parameters: `encrypt` = `required` (the default), `on`, `off` (only
/// the login is encrypted) or `not_supported`; `trust_server_certificate` = `true`/`false`;
/// `application_name`.
pub(crate) fn parse_url(url: &str, read_only: bool) -> Result<(Config, String), String> {
    let u = url::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(u.scheme(), "mssql" | "sqlserver") {
        return Err(format!("scheme {:?} is not mssql", u.scheme()));
    }
    let host = u.host_str().filter(|h| !h.is_empty()).ok_or("has no host")?;
    if u.username().is_empty() {
        return Err("has no user: give mssql://USER@HOST/DATABASE (SQL Server authentication)".to_owned());
    }
    let mut config = Config::new();
    config.host(host);
    config.port(u.port().unwrap_or(1433));
    let database = decode(u.path().trim_start_matches('/'));
    if !database.is_empty() {
        config.database(&database);
    }
    config.authentication(AuthMethod::sql_server(
        decode(u.username()),
        decode(u.password().unwrap_or_default()),
    ));
    config.application_name("ronghe");
    // ApplicationIntent=ReadOnly: routes to a readable secondary where there is one. SQL Server
    // has no read-only session; only the login's permissions stop writes.
    config.readonly(read_only);
    config.encryption(EncryptionLevel::Required);
    for (key, value) in u.query_pairs() {
        match (key.as_ref(), value.as_ref()) {
            ("encrypt", "required" | "true") => config.encryption(EncryptionLevel::Required),
            ("encrypt", "on") => config.encryption(EncryptionLevel::On),
            ("encrypt", "off" | "false") => config.encryption(EncryptionLevel::Off),
            ("encrypt", "not_supported") => config.encryption(EncryptionLevel::NotSupported),
            ("trust_server_certificate", "true") => config.trust_cert(),
            ("trust_server_certificate", "false") => {}
            ("application_name", name) => config.application_name(name),
            (key, value) => return Err(format!("unknown parameter {key}={value}")),
        }
    }
    let target = format!("{host}:{}/{database}", u.port().unwrap_or(1433));
    Ok((config, target))
}

/// Adds the problem of a configured URL, if any (validation: no I/O).
pub(crate) fn url_problems(issues: &mut Issues, url: &str) {
    if let Err(problem) = parse_url(url, true) {
        issues.add("url", problem);
    }
}

impl Tds {
    pub(crate) fn open(
        url: &str,
        read_only: bool,
        resilience: &ResilienceConfig,
    ) -> Result<Tds, AdapterError> {
        let (config, target) = parse_url(url, read_only)
            .map_err(|problem| AdapterError::configuration(format!("database URL {problem}")))?;
        let connector = Connector {
            config,
            target,
            connect_timeout: resilience.connect_timeout(),
        };
        // The policy's limiter keeps calls within `max_concurrency`, so a call never waits here.
        let pool = Pool::builder(connector)
            .max_size(usize::try_from(resilience.max_concurrency.max(1)).unwrap_or(1))
            .build()
            .map_err(|e| AdapterError::configuration(format!("SQL Server pool: {e}")))?;
        Ok(Tds { pool })
    }

    /// An idle client, or a new one, marked busy until its call succeeds.
    async fn session(&self) -> Result<Object<Connector>, AdapterError> {
        let mut session = self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => e,
            // No timeout, hook or close is configured: only connecting fails.
            other => AdapterError::retryable(format!("SQL Server {}: {other}", self.pool.manager().target)),
        })?;
        session.idle = false;
        Ok(session)
    }
}

impl Manager for Connector {
    type Type = Session;
    type Error = AdapterError;

    async fn create(&self) -> Result<Session, AdapterError> {
        let client = tokio::time::timeout(self.connect_timeout, self.connect())
            .await
            .unwrap_or_else(|_| {
                Err(AdapterError::retryable(format!(
                    "SQL Server {}: no connection within {:?}",
                    self.target, self.connect_timeout
                )))
            })?;
        Ok(Session { client, idle: true })
    }

    async fn recycle(&self, session: &mut Session, _: &Metrics) -> RecycleResult<AdapterError> {
        match session.idle {
            true => Ok(()),
            false => Err(RecycleError::message("its last call did not finish")),
        }
    }
}

impl Connector {
    /// Connects, following one redirection (Azure SQL gateways redirect to the node).
    async fn connect(&self) -> Result<TdsClient, AdapterError> {
        let mut config = self.config.clone();
        for _ in 0..2 {
            let tcp = TcpStream::connect(config.get_addr()).await.map_err(|e| {
                AdapterError::retryable(format!("SQL Server {}: cannot connect", self.target)).with_source(e)
            })?;
            // Small requests and answers: do not wait to fill packets.
            let _ = tcp.set_nodelay(true);
            match Client::connect(config.clone(), tcp.compat_write()).await {
                Ok(client) => return Ok(client),
                Err(TdsError::Routing { host, port }) => {
                    config.host(host);
                    config.port(port);
                }
                Err(e) => return Err(classify(e, false)),
            }
        }
        Err(AdapterError::configuration(format!(
            "SQL Server {}: redirected more than once",
            self.target
        )))
    }
}

fn query(statement: &Statement) -> Query<'_> {
    let mut query = Query::new(statement.sql.as_str());
    for value in &statement.params {
        query.bind(param(value));
    }
    query
}

/// A parameter as a TDS value: text as `nvarchar`, bytes as `varbinary`, integers as `bigint`.
fn param(value: &SqlValue) -> ColumnData<'_> {
    match value {
        SqlValue::Null => ColumnData::String(None),
        SqlValue::Bool(b) => ColumnData::Bit(Some(*b)),
        SqlValue::Int(i) => ColumnData::I64(Some(*i)),
        SqlValue::Float(f) => ColumnData::F64(Some(*f)),
        SqlValue::Text(t) => ColumnData::String(Some(Cow::Borrowed(t))),
        SqlValue::Bytes(b) => ColumnData::Binary(Some(Cow::Borrowed(b))),
    }
}

/// A TDS value as a SQL value. Dates and times never arrive as such: the plan reads them as
/// text (style 121).
fn value(column: &str, data: &ColumnData<'_>) -> Result<SqlValue, AdapterError> {
    fn or_null<T>(v: &Option<T>, f: impl FnOnce(&T) -> SqlValue) -> SqlValue {
        v.as_ref().map_or(SqlValue::Null, f)
    }
    Ok(match data {
        ColumnData::U8(v) => or_null(v, |v| SqlValue::Int((*v).into())),
        ColumnData::I16(v) => or_null(v, |v| SqlValue::Int((*v).into())),
        ColumnData::I32(v) => or_null(v, |v| SqlValue::Int((*v).into())),
        ColumnData::I64(v) => or_null(v, |v| SqlValue::Int(*v)),
        ColumnData::F32(v) => or_null(v, |v| SqlValue::Float((*v).into())),
        ColumnData::F64(v) => or_null(v, |v| SqlValue::Float(*v)),
        ColumnData::Bit(v) => or_null(v, |v| SqlValue::Bool(*v)),
        ColumnData::String(v) => or_null(v, |v| SqlValue::Text(v.to_string())),
        ColumnData::Guid(v) => or_null(v, |v| SqlValue::Text(v.to_string())),
        ColumnData::Binary(v) => or_null(v, |v| SqlValue::Bytes(v.to_vec())),
        ColumnData::Numeric(v) => or_null(v, |v| SqlValue::Text(v.to_string())),
        ColumnData::Xml(v) => or_null(v, |v| SqlValue::Text(v.to_string())),
        ColumnData::DateTime(None)
        | ColumnData::SmallDateTime(None)
        | ColumnData::Time(None)
        | ColumnData::Date(None)
        | ColumnData::DateTime2(None)
        | ColumnData::DateTimeOffset(None) => SqlValue::Null,
        _ => {
            return Err(AdapterError::data(format!(
                "column {column}: a date or time arrived undecoded; select it as text"
            )));
        }
    })
}

fn row(row: tiberius::Row) -> Result<Row, AdapterError> {
    row.cells()
        .map(|(column, data)| Ok((column.name().to_owned(), value(column.name(), data)?)))
        .collect::<Result<_, _>>()
        .map(Row)
}

#[async_trait]
impl Connection for Tds {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Mssql
    }

    fn dialect(&self) -> Dialect {
        Dialect::Mssql
    }

    async fn query(&self, statement: &Statement) -> Result<Vec<Row>, AdapterError> {
        let mut session = self.session().await?;
        let rows = match query(statement).query(&mut session.client).await {
            Ok(stream) => stream.into_first_result().await,
            Err(e) => Err(e),
        }
        .map_err(|e| classify(e, false))?;
        session.idle = true;
        rows.into_iter().map(row).collect()
    }

    async fn execute(&self, statement: &Statement) -> Result<u64, AdapterError> {
        let mut session = self.session().await?;
        let done = query(statement)
            .execute(&mut session.client)
            .await
            .map_err(|e| classify(e, true))?;
        session.idle = true;
        Ok(done.total())
    }
}

/// Classifies a tiberius failure; in a `write`, a connection that broke mid-way leaves the
/// outcome unknown (`Unavailable`).
fn classify(err: TdsError, write: bool) -> AdapterError {
    let (class, refusal) = match &err {
        TdsError::Server(e) => {
            let class = server_class(e.code());
            (
                class,
                (class == ErrorClass::Data).then(|| format!("error {}", e.code())),
            )
        }
        TdsError::Io { kind, .. } if write && write_broke(*kind) => (ErrorClass::Unavailable, None),
        TdsError::Protocol(_) if write => (ErrorClass::Unavailable, None),
        TdsError::Io { .. } | TdsError::Protocol(_) => (ErrorClass::Retryable, None),
        TdsError::Tls(_) | TdsError::Routing { .. } => (ErrorClass::Configuration, None),
        _ => (ErrorClass::Data, None),
    };
    database_error(Dialect::Mssql, class, write, err, refusal)
}

/// The class of a SQL Server error number.
fn server_class(number: u32) -> ErrorClass {
    match number {
        // Deadlock victim, lock timeout, transport errors, Azure SQL's transient errors.
        1205 | 1222 | 233 | 10053 | 10054 | 10060 | 40197 | 40501 | 40613 | 49918 | 49919 | 49920 => {
            ErrorClass::Retryable
        }
        // Syntax, unknown object or column, permissions, login, database, read-only database.
        102 | 156 | 207 | 208 | 229 | 230 | 262 | 916 | 2812 | 3906 | 4060 | 18452 | 18456 => {
            ErrorClass::Configuration
        }
        _ => ErrorClass::Data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_settings() {
        let (config, target) = parse_url(
            "mssql://reader:p%40ss%2Bw0rd@10.0.0.7:14330/审批库?encrypt=off&trust_server_certificate=true",
            true,
        )
        .unwrap();
        assert_eq!(config.get_addr(), "10.0.0.7:14330");
        assert_eq!(target, "10.0.0.7:14330/审批库");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("p@ss+w0rd") && !target.contains("reader"),
            "no secret in messages"
        );
        let (config, _) = parse_url("sqlserver://sa@db/x", false).unwrap();
        assert_eq!(config.get_addr(), "db:1433");
        for (url, problem) in [
            ("mssql://db/x", "no user"),
            ("mssql://sa@db/x?encrypt=maybe", "unknown parameter encrypt=maybe"),
            (
                "mssql://sa@db/x?instance=SQLEXPRESS",
                "unknown parameter instance",
            ),
            ("postgres://sa@db/x", "scheme"),
        ] {
            let err = parse_url(url, true).unwrap_err();
            assert!(err.contains(problem), "{url}: {err}");
        }
    }

    #[test]
    fn values_convert_both_ways() {
        let values = [
            SqlValue::Null,
            SqlValue::Bool(true),
            SqlValue::Int(-7),
            SqlValue::Float(2.5),
            SqlValue::Text("张三".into()),
            SqlValue::Bytes(vec![0, 0, 0, 0, 0, 0, 7, 0xd1]),
        ];
        for v in &values {
            assert_eq!(value("c", &param(v)).unwrap(), *v);
        }
        for (data, expected) in [
            (ColumnData::U8(Some(3)), SqlValue::Int(3)),
            (ColumnData::I16(Some(-3)), SqlValue::Int(-3)),
            (ColumnData::I32(None), SqlValue::Null),
            (ColumnData::F32(Some(0.5)), SqlValue::Float(0.5)),
            (
                ColumnData::Numeric(Some(tiberius::numeric::Numeric::new_with_scale(12345, 2))),
                SqlValue::Text("123.45".into()),
            ),
            (ColumnData::DateTime2(None), SqlValue::Null),
        ] {
            assert_eq!(value("c", &data).unwrap(), expected);
        }
        let undecoded = ColumnData::Date(Some(tiberius::time::Date::new(45000)));
        assert_eq!(value("SLSJ", &undecoded).unwrap_err().class, ErrorClass::Data);
    }

    #[test]
    fn server_errors_are_classified() {
        for (number, class) in [
            (1205, ErrorClass::Retryable),
            (40613, ErrorClass::Retryable),
            (208, ErrorClass::Configuration),
            (18456, ErrorClass::Configuration),
            (2627, ErrorClass::Data),
            (8152, ErrorClass::Data),
        ] {
            assert_eq!(server_class(number), class, "{number}");
        }
        let reset = || TdsError::Io {
            kind: std::io::ErrorKind::ConnectionReset,
            message: "reset".into(),
        };
        assert_eq!(classify(reset(), false).class, ErrorClass::Retryable);
        assert_eq!(classify(reset(), true).class, ErrorClass::Unavailable);
        assert_eq!(
            classify(TdsError::Tls("bad certificate".into()), false).class,
            ErrorClass::Configuration
        );
    }

    #[tokio::test]
    async fn a_server_that_is_not_there_is_retryable() {
        let resilience = ResilienceConfig::default();
        let tds = Tds::open("mssql://sa@127.0.0.1:1/x", true, &resilience).unwrap();
        let err = tds
            .query(&Statement {
                sql: "SELECT 1".into(),
                params: Vec::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Retryable, "{err}");
        assert!(err.message.contains("127.0.0.1:1/x"), "{err}");
    }
}

//! The adapter over any SQL connection, shared by the SQL and SQL Server drivers: it resolves the
//! configured table against the catalogue, reads keyset pages, fetches by key and inserts
//! applications. A `Connection` only runs statements and turns rows into `Row`s.

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset};
use tokio::sync::OnceCell;

use super::catalogue::{self, Table};
use super::config::SqlConfig;
use super::query::{self, Column, Dialect, Plan, Statement};
use crate::resilience::Policy;
use crate::watermark::{Position, paged};
use crate::{
    Adapter, AdapterError, AdapterKind, Capabilities, Checkpoint, Entity, ErrorClass, Field, MAX_DISTINCT,
    Profile, Raw, Receipt, Record, RecordStream, Row, SCAN_RECORDS, SqlValue, ValueCount, low_cardinality,
};

/// What a driver must provide: statements in, rows out, failures classified.
#[async_trait]
pub(crate) trait Connection: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> AdapterKind;

    fn dialect(&self) -> Dialect;

    /// Runs a query and returns all its rows (a page at most, by construction).
    async fn query(&self, statement: &Statement) -> Result<Vec<Row>, AdapterError>;

    /// Runs a statement that writes and returns the number of rows it changed. A failure after
    /// the statement may have reached the database is `Unavailable`, never `Retryable`: running
    /// it again could write twice.
    async fn execute(&self, statement: &Statement) -> Result<u64, AdapterError>;
}

/// Whether an I/O failure of this kind, during a write, may have come after the statement
/// reached the database (a refused connection sent nothing).
pub(crate) fn write_broke(kind: std::io::ErrorKind) -> bool {
    !matches!(
        kind,
        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
    )
}

/// A classified database failure as an `AdapterError`. A refused value is described by its
/// `refusal` code only: the database's own text may quote personal values (names, ID numbers),
/// so it stays out of messages, logs and the error chain.
pub(crate) fn database_error(
    dialect: Dialect,
    class: ErrorClass,
    write: bool,
    err: impl std::error::Error + Send + Sync + 'static,
    refusal: Option<String>,
) -> AdapterError {
    let database = dialect.name();
    match (class, refusal) {
        (ErrorClass::Data, Some(code)) => AdapterError::data(format!("{database} refused the data ({code})")),
        (ErrorClass::Unavailable, _) if write => AdapterError::unavailable(format!(
            "{database}: the connection failed during a write, which may or may not have been made: {err}"
        ))
        .with_source(err),
        (ErrorClass::Data, None) => AdapterError::data(format!("{database}: cannot decode a value ({err})")),
        _ => AdapterError::new(class, format!("{database}: {err}")).with_source(err),
    }
}

/// A departmental system read from its database.
#[derive(Debug)]
pub struct SqlAdapter {
    config: SqlConfig,
    connection: Box<dyn Connection>,
    policy: Policy,
    /// How to read the case table, resolved against the catalogue at first use.
    plan: OnceCell<Plan>,
    /// The submit table, quoted, and its columns.
    submit_table: OnceCell<(String, Vec<Column>)>,
}

impl SqlAdapter {
    pub(crate) fn new(config: &SqlConfig, connection: Box<dyn Connection>) -> SqlAdapter {
        SqlAdapter {
            policy: Policy::new(&config.resilience),
            config: config.clone(),
            connection,
            plan: OnceCell::new(),
            submit_table: OnceCell::new(),
        }
    }

    fn dialect(&self) -> Dialect {
        self.connection.dialect()
    }

    async fn query(&self, what: &str, statement: &Statement) -> Result<Vec<Row>, AdapterError> {
        self.policy.run(what, || self.connection.query(statement)).await
    }

    /// Finds a table and its columns in the catalogue (exactly, or ignoring case when that is
    /// unambiguous).
    async fn table(&self, name: &str) -> Result<Table, AdapterError> {
        let schema = self.config.schema.as_deref();
        let what = format!("catalogue of {name}");
        let tables = self
            .query(&what, &catalogue::tables(self.dialect(), schema))
            .await?;
        let names: Vec<Vec<SqlValue>> = tables.into_iter().map(values).collect();
        let found = catalogue::find(&names, name, |row| match row.first() {
            Some(SqlValue::Text(t)) => t.as_str(),
            _ => "",
        })
        .ok_or_else(|| {
            AdapterError::configuration(format!(
                "no table or view {name:?} in {} (schema {})",
                self.dialect().name(),
                schema.unwrap_or("of the connection")
            ))
        })?
        .clone();
        let actual = found.first().and_then(SqlValue::as_text).unwrap_or_default();
        let columns = self
            .query(&what, &catalogue::columns(self.dialect(), schema, Some(&actual)))
            .await?;
        let columns: Vec<Vec<SqlValue>> = columns.into_iter().map(values).collect();
        Ok(catalogue::assemble(self.dialect(), &[found], &columns)
            .pop()
            .unwrap_or_else(|| unreachable!("assemble keeps the one table it is given")))
    }

    async fn plan(&self) -> Result<&Plan, AdapterError> {
        self.plan
            .get_or_try_init(|| async {
                let c = &self.config;
                let table = self.table(&c.table).await?;
                let column = |name: &str| {
                    catalogue::find(&table.columns, name, |c| &c.name).ok_or_else(|| {
                        AdapterError::configuration(format!("table {} has no column {name:?}", table.name))
                    })
                };
                let columns: Vec<Column> = match c.columns.is_empty() {
                    true => table.columns.clone(),
                    false => c
                        .columns
                        .iter()
                        .map(|n| column(n).cloned())
                        .collect::<Result<_, _>>()?,
                };
                let index = |name: &str| -> Result<usize, AdapterError> {
                    let wanted = &column(name)?.name;
                    Ok(columns
                        .iter()
                        .position(|c| &c.name == wanted)
                        .unwrap_or_else(|| unreachable!("config validation makes columns include it")))
                };
                Ok(Plan {
                    dialect: self.dialect(),
                    from: self.dialect().table(c.schema.as_deref(), &table.name),
                    key: index(&c.key)?,
                    watermark: c.watermark.as_deref().map(index).transpose()?,
                    columns,
                    filter: c.filter(),
                    page_size: c.page_size,
                })
            })
            .await
    }

    /// The records of one page, and the position to read the next from when the page was full.
    async fn page(
        &self,
        after: Option<Position>,
    ) -> Result<(Vec<Record>, Option<Option<Position>>), AdapterError> {
        let plan = self.plan().await?;
        let statement = plan.page(after.as_ref())?;
        let rows = self
            .query(&format!("read {}", self.config.table), &statement)
            .await?;
        let full = rows.len() == plan.page_size as usize;
        let mut records = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in rows {
            let position = plan.position(&row.0)?;
            records.push(Record {
                key: Some(position.key.clone()),
                checkpoint: Some(position.checkpoint()),
                raw: Raw::Row(row),
            });
            last = Some(position);
        }
        Ok((records, last.filter(|_| full).map(Some)))
    }

    /// Probes one table: its row count, a few rows (all of a table no larger than a code
    /// table), each low-cardinality column's distinct values with their counts, and a row for
    /// each of those values the sampled rows miss.
    async fn entity(&self, table: Table, sample_size: u32) -> Result<Entity, AdapterError> {
        let from = self.dialect().table(self.config.schema.as_deref(), &table.name);
        let count = query::count(self.dialect(), &from);
        let what = format!("probe {}", table.name);
        let read = self
            .policy
            .run(&what, || async {
                let count: Option<u64> = self
                    .connection
                    .query(&statement(&count))
                    .await?
                    .first()
                    .and_then(|r| r.0.first())
                    .and_then(|(_, v)| v.as_text())
                    .and_then(|t| t.parse().ok());
                let limit = match count {
                    Some(n) if sample_size > 0 && n <= MAX_DISTINCT as u64 => sample_size.max(n as u32),
                    _ => sample_size,
                };
                let rows = match limit {
                    0 => Vec::new(),
                    _ => {
                        let sample = query::sample(self.dialect(), &from, &table.columns, limit);
                        self.connection.query(&statement(&sample)).await?
                    }
                };
                Ok((count, rows))
            })
            .await;
        let (record_count, mut rows) = match read {
            Ok(read) => read,
            Err(err) if err.class == ErrorClass::Unavailable => return Err(err),
            Err(err) => {
                // A broken view or a table without read permission: profile what there is.
                tracing::warn!(table = %table.name, error = %err, "probe: cannot read the table");
                (None, Vec::new())
            }
        };
        let mut counted = Vec::with_capacity(table.columns.len());
        for column in &table.columns {
            counted.push(match record_count {
                Some(n) if n > 0 => self.distinct(&what, &from, column).await?,
                _ => Vec::new(),
            });
        }
        // A row for each counted value the samples miss, columns with the fewest values first.
        let mut order: Vec<usize> = (0..counted.len()).filter(|i| !counted[*i].is_empty()).collect();
        order.sort_by_key(|i| counted[*i].len());
        let budget = match sample_size {
            0 => 0,
            n => n as usize + MAX_DISTINCT,
        };
        'columns: for i in order {
            let column = &table.columns[i];
            for (value, _) in &counted[i] {
                if rows.len() >= budget {
                    break 'columns;
                }
                let shown = rows
                    .iter()
                    .any(|r| r.0.iter().any(|(n, v)| *n == column.name && v == value));
                if !shown {
                    let row = query::row_with(self.dialect(), &from, &table.columns, column, value.clone());
                    let found = self
                        .policy
                        .run(&what, || async { self.connection.query(&row).await })
                        .await?;
                    rows.extend(found);
                }
            }
        }
        let fields = table
            .columns
            .iter()
            .zip(counted)
            .map(|(column, values)| Field {
                name: column.name.clone(),
                data_type: column.data_type.clone(),
                nullable: column.nullable,
                distinct: values
                    .into_iter()
                    .filter_map(|(v, records)| v.as_text().map(|value| ValueCount { value, records }))
                    .collect(),
            })
            .collect();
        Ok(Entity {
            name: table.name,
            kind: if table.view { "view" } else { "table" }.to_owned(),
            fields,
            record_count,
            samples: rows.into_iter().map(|r| Raw::Row(r).to_json()).collect(),
        })
    }

    /// A column's distinct values with their counts over the table's first `SCAN_RECORDS` rows
    /// (bounded: a probe never scans a large table once per column), when it is of low
    /// cardinality (at most `MAX_DISTINCT` of them, each held by two rows on average); none for
    /// a column the database cannot group (a text blob).
    async fn distinct(
        &self,
        what: &str,
        from: &str,
        column: &Column,
    ) -> Result<Vec<(SqlValue, u64)>, AdapterError> {
        let sql = query::distinct(
            self.dialect(),
            from,
            column,
            SCAN_RECORDS as u32,
            MAX_DISTINCT as u32 + 1,
        );
        let read = self
            .policy
            .run(what, || async { self.connection.query(&statement(&sql)).await })
            .await;
        let rows = match read {
            Ok(rows) => rows,
            Err(err) if err.class == ErrorClass::Unavailable => return Err(err),
            Err(err) => {
                tracing::warn!(column = %column.name, error = %err, "probe: cannot count the column's values");
                return Ok(Vec::new());
            }
        };
        let values: Vec<(SqlValue, u64)> = rows
            .into_iter()
            .filter_map(|row| {
                let mut values = row.0.into_iter().map(|(_, v)| v);
                let value = values.next()?;
                let records = values.next()?.as_text()?.parse().ok()?;
                (value != SqlValue::Null).then_some((value, records))
            })
            .collect();
        let held = values.iter().map(|(_, n)| n).sum();
        Ok(match low_cardinality(values.len(), held) {
            true => values,
            false => Vec::new(),
        })
    }

    /// The number of rows the config reads: the table's rows that pass its `filter`.
    async fn records_count(&self) -> Result<Option<u64>, AdapterError> {
        let plan = self.plan().await?;
        let rows = self
            .query(&format!("count {}", self.config.table), &plan.count())
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.0.first())
            .and_then(|(_, v)| v.as_text())
            .and_then(|t| t.parse().ok()))
    }

    async fn submit_table(&self, name: &str) -> Result<&(String, Vec<Column>), AdapterError> {
        self.submit_table
            .get_or_try_init(|| async {
                let table = self.table(name).await?;
                let from = self.dialect().table(self.config.schema.as_deref(), &table.name);
                Ok((from, table.columns))
            })
            .await
    }
}

fn values(row: Row) -> Vec<SqlValue> {
    row.0.into_iter().map(|(_, v)| v).collect()
}

fn statement(sql: &str) -> Statement {
    Statement {
        sql: sql.to_owned(),
        params: Vec::new(),
    }
}

/// A payload value as a SQL value: scalars as themselves, objects and arrays as JSON text.
fn payload_value(value: Option<&serde_json::Value>) -> SqlValue {
    match value {
        None | Some(serde_json::Value::Null) => SqlValue::Null,
        Some(v) => super::config::scalar(v).unwrap_or_else(|| SqlValue::Text(v.to_string())),
    }
}

#[async_trait]
impl Adapter for SqlAdapter {
    fn kind(&self) -> AdapterKind {
        self.connection.kind()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            probe: true,
            read: true,
            fetch: true,
            submit: !self.config.read_only && self.config.submit.is_some(),
            call: false,
        }
    }

    async fn probe(&self, sample_size: usize) -> Result<Profile, AdapterError> {
        let dialect = self.dialect();
        let schema = self.config.schema.as_deref();
        let (tables, columns) = self
            .policy
            .run("probe: catalogue", || async {
                let tables = self.connection.query(&catalogue::tables(dialect, schema)).await?;
                let columns = self
                    .connection
                    .query(&catalogue::columns(dialect, schema, None))
                    .await?;
                Ok((tables, columns))
            })
            .await?;
        let tables: Vec<Vec<SqlValue>> = tables.into_iter().map(values).collect();
        let columns: Vec<Vec<SqlValue>> = columns.into_iter().map(values).collect();
        let sample_size = u32::try_from(sample_size.min(1000)).unwrap_or(1000);
        let mut tables = catalogue::assemble(dialect, &tables, &columns);
        // The records' table leads (see `Profile::entities`), its count the rows the config reads.
        let records = catalogue::find(&tables, &self.config.table, |t| &t.name)
            .and_then(|found| tables.iter().position(|t| t.name == found.name));
        if let Some(i) = records {
            let table = tables.remove(i);
            tables.insert(0, table);
        }
        let mut entities = Vec::new();
        for table in tables {
            entities.push(self.entity(table, sample_size).await?);
        }
        if let (Some(_), Some(first)) = (records, entities.first_mut())
            && self.config.filter.is_some()
            && first.record_count.is_some()
        {
            first.record_count = self.records_count().await?;
        }
        Ok(Profile { entities })
    }

    fn read(&self, from: Option<Checkpoint>) -> RecordStream<'_> {
        // A checkpoint is ["watermark","key"] (the watermark empty when the records have none),
        // or a bare watermark: everything at or after it.
        let start = from.as_ref().map(Position::parse).transpose();
        paged(start.map(|after| (after, None)), move |after, _| self.page(after))
    }

    fn since(&self, at: DateTime<FixedOffset>) -> Option<Checkpoint> {
        crate::watermark::since(self.config.window_format.as_ref(), at)
    }

    async fn fetch(&self, key: &str) -> Result<Option<Record>, AdapterError> {
        let plan = self.plan().await?;
        let Some(statement) = plan.fetch(key) else {
            return Ok(None);
        };
        let mut rows = self
            .query(&format!("fetch from {}", self.config.table), &statement)
            .await?;
        if rows.len() > 1 {
            return Err(AdapterError::configuration(format!(
                "key column {} of {} is not unique: choose a unique key",
                self.config.key, self.config.table
            )));
        }
        Ok(rows.pop().map(|row| Record {
            key: Some(key.to_owned()),
            checkpoint: None,
            raw: Raw::Row(row),
        }))
    }

    async fn submit(&self, payload: &serde_json::Value) -> Result<Receipt, AdapterError> {
        let submit = match (&self.config.submit, self.config.read_only) {
            (None, _) => return Err(AdapterError::configuration("no [submit] table configured")),
            (Some(_), true) => {
                return Err(AdapterError::configuration(
                    "the system is configured read-only: set read_only = false to insert applications",
                ));
            }
            (Some(submit), false) => submit,
        };
        let (from, columns) = self.submit_table(&submit.table).await?;
        let mut targets = Vec::with_capacity(submit.columns.len());
        let mut row = Vec::with_capacity(submit.columns.len());
        let mut id = None;
        for (name, pointer) in &submit.columns {
            let column = catalogue::find(columns, name, |c| &c.name).ok_or_else(|| {
                AdapterError::configuration(format!("submit table {} has no column {name:?}", submit.table))
            })?;
            let value = payload_value(payload.pointer(pointer));
            if submit.id.as_ref() == Some(name) {
                id = value.as_text();
            }
            targets.push(column);
            row.push(value);
        }
        let insert = query::insert(self.dialect(), from, &targets, vec![row]);
        let what = format!("submit to {}", submit.table);
        let rows = self
            .policy
            .run(&what, || self.connection.execute(&insert))
            .await?;
        Ok(Receipt {
            id,
            response: serde_json::json!({ "table": submit.table, "rows": rows }),
        })
    }

    async fn call(&self, operation: &str, _payload: &serde_json::Value) -> Result<Raw, AdapterError> {
        Err(AdapterError::configuration(format!(
            "the {} driver has no named operations ({operation:?}): use read, fetch or submit",
            self.connection.kind()
        )))
    }
}

//! Dialect-neutral SQL building, shared by the SQL driver (SQLite, PostgreSQL, MySQL/MariaDB) and
//! the SQL Server driver: identifier quoting, placeholders, keyset pages over (watermark, key),
//! fetch by key, inserts, and the operator's filter with its placeholders renumbered. Values are
//! always bound as parameters, never spliced into the text.

use crate::watermark::Position;
use crate::{AdapterError, SqlValue};

/// The SQL a database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
    MySql,
    Mssql,
}

/// How a column's values travel: what they decode to, and how a checkpoint value is bound back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Integer,
    Float,
    Bool,
    Text,
    /// Binary, including SQL Server's `rowversion`: hex in checkpoints.
    Bytes,
    /// Dates, times, decimals and the rest: read as the database's own text, bound back as text
    /// (cast to the column's type where the database wants it).
    Other,
}

/// A column as the catalogue describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    pub(crate) name: String,
    /// The database's own type name, for people (`varchar(50)`, `timestamp without time zone`).
    pub(crate) data_type: String,
    pub(crate) nullable: bool,
    pub(crate) kind: Kind,
    /// PostgreSQL only: the quoted type that bound values are cast to (`"pg_catalog"."int4"`),
    /// because it refuses to compare a text parameter with a timestamp.
    pub(crate) cast: Option<String>,
}

/// A SQL text with its parameters, one per placeholder in order of appearance.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) params: Vec<SqlValue>,
}

impl Dialect {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL",
            Dialect::Mssql => "SQL Server",
        }
    }

    /// Quotes one identifier, doubling any quote character inside it.
    pub(crate) fn quote(self, identifier: &str) -> String {
        match self {
            Dialect::Sqlite | Dialect::Postgres => format!("\"{}\"", identifier.replace('"', "\"\"")),
            Dialect::MySql => format!("`{}`", identifier.replace('`', "``")),
            Dialect::Mssql => format!("[{}]", identifier.replace(']', "]]")),
        }
    }

    /// A table name, qualified by its schema when one is given.
    pub(crate) fn table(self, schema: Option<&str>, table: &str) -> String {
        match schema {
            Some(schema) => format!("{}.{}", self.quote(schema), self.quote(table)),
            None => self.quote(table),
        }
    }

    /// The `n`th placeholder (1-based).
    pub(crate) fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite | Dialect::MySql => "?".to_owned(),
            Dialect::Postgres => format!("${n}"),
            Dialect::Mssql => format!("@P{n}"),
        }
    }

    /// How values of a catalogue type travel. `data_type` is the catalogue's type name
    /// (lower-case; MySQL's full column type, e.g. `bigint(20) unsigned`).
    pub(crate) fn kind(self, data_type: &str) -> Kind {
        let t = data_type.to_ascii_lowercase();
        let base = t.split(['(', ' ']).next().unwrap_or_default();
        match self {
            // SQLite's affinity rules (https://sqlite.org/datatype3.html, 3.1).
            Dialect::Sqlite if t.contains("int") => Kind::Integer,
            Dialect::Sqlite if ["char", "clob", "text"].iter().any(|s| t.contains(s)) || t.is_empty() => {
                Kind::Text
            }
            Dialect::Sqlite if t.contains("blob") => Kind::Bytes,
            Dialect::Sqlite if ["real", "floa", "doub"].iter().any(|s| t.contains(s)) => Kind::Float,
            Dialect::Sqlite => Kind::Other,
            Dialect::Postgres => match t.as_str() {
                "smallint" | "integer" | "bigint" => Kind::Integer,
                "real" | "double precision" => Kind::Float,
                "boolean" => Kind::Bool,
                "character varying" | "character" | "text" | "name" => Kind::Text,
                "bytea" => Kind::Bytes,
                _ => Kind::Other,
            },
            Dialect::MySql => match base {
                "bigint" if t.contains("unsigned") => Kind::Other,
                "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => Kind::Integer,
                "float" | "double" | "real" => Kind::Float,
                "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => Kind::Text,
                "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => Kind::Bytes,
                _ => Kind::Other,
            },
            Dialect::Mssql => match base {
                "tinyint" | "smallint" | "int" | "bigint" => Kind::Integer,
                "bit" => Kind::Bool,
                "real" | "float" => Kind::Float,
                "char" | "varchar" | "nchar" | "nvarchar" | "text" | "ntext" => Kind::Text,
                "binary" | "varbinary" | "image" | "timestamp" | "rowversion" => Kind::Bytes,
                _ => Kind::Other,
            },
        }
    }

    /// A column of the table read, through its alias.
    fn column(self, name: &str) -> String {
        format!("{SOURCE}.{}", self.quote(name))
    }

    /// A column in a select list: as is, or converted to the database's text where the driver
    /// does not decode the type itself.
    pub(crate) fn select(self, column: &Column) -> String {
        let c = self.column(&column.name);
        let q = self.quote(&column.name);
        if column.kind != Kind::Other {
            return c;
        }
        match self {
            Dialect::Sqlite => c,
            Dialect::Postgres => format!("CAST({c} AS text) AS {q}"),
            Dialect::MySql => format!("CAST({c} AS CHAR) AS {q}"),
            Dialect::Mssql if is_mssql_time(&column.data_type) => {
                // Style 121: yyyy-mm-dd hh:mi:ss.fff(ffff), which converts back exactly.
                format!("CONVERT(nvarchar(40), {c}, 121) AS {q}")
            }
            Dialect::Mssql => format!("CAST({c} AS nvarchar(max)) AS {q}"),
        }
    }

    /// `SELECT columns FROM table AS src tail`, limited to `limit` rows: `LIMIT n`, or `TOP (n)`
    /// on SQL Server.
    fn limited(self, columns: &str, from: &str, tail: &str, limit: u32) -> String {
        match self {
            Dialect::Mssql => format!("SELECT TOP ({limit}) {columns} FROM {from} AS {SOURCE}{tail}"),
            _ => format!("SELECT {columns} FROM {from} AS {SOURCE}{tail} LIMIT {limit}"),
        }
    }

    /// Whether the dialect compares row values, `(a, b) > (x, y)`. MySQL does but may not use
    /// an index for it; SQL Server does not at all: both get the expanded form.
    fn has_row_values(self) -> bool {
        matches!(self, Dialect::Sqlite | Dialect::Postgres)
    }
}

fn is_mssql_time(data_type: &str) -> bool {
    let t = data_type.to_ascii_lowercase();
    [
        "date",
        "datetime",
        "datetime2",
        "smalldatetime",
        "time",
        "datetimeoffset",
    ]
    .contains(&t.split('(').next().unwrap_or_default())
}

/// The alias of the table read. `WHERE` and `ORDER BY` name columns through it: a bare name in
/// `ORDER BY` would mean the select list's text cast of the same name (PostgreSQL, MySQL), which
/// sorts differently (numbers as text) and cannot use an index.
const SOURCE: &str = "src";

/// Whether a column is SQL Server's `rowversion` (the catalogue calls it `timestamp`).
pub(crate) fn is_rowversion(dialect: Dialect, column: &Column) -> bool {
    dialect == Dialect::Mssql
        && matches!(
            column.data_type.to_ascii_lowercase().as_str(),
            "timestamp" | "rowversion"
        )
}

/// Why an identifier from a config is unusable, if it is. Any other character is quoted.
pub(crate) fn identifier_problem(identifier: &str) -> Option<&'static str> {
    if identifier.is_empty() {
        Some("must not be empty")
    } else if identifier.chars().count() > 128 {
        Some("is longer than 128 characters")
    } else if identifier.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else {
        None
    }
}

/// Collects parameters and writes their placeholders.
#[derive(Debug)]
pub(crate) struct Binder {
    dialect: Dialect,
    params: Vec<SqlValue>,
}

impl Binder {
    pub(crate) fn new(dialect: Dialect) -> Binder {
        Binder {
            dialect,
            params: Vec::new(),
        }
    }

    /// The placeholder for `value`, cast to the column's type where the dialect needs it.
    pub(crate) fn bind(&mut self, value: SqlValue, column: Option<&Column>) -> String {
        self.params.push(value);
        let placeholder = self.dialect.placeholder(self.params.len());
        match column.and_then(|c| c.cast.as_ref()) {
            Some(cast) => format!("CAST({placeholder} AS {cast})"),
            None => placeholder,
        }
    }

    pub(crate) fn finish(self, sql: String) -> Statement {
        Statement {
            sql,
            params: self.params,
        }
    }
}

/// An operator's extra condition with its values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    /// The condition as written, with `?` for each value.
    pub(crate) sql: String,
    pub(crate) params: Vec<SqlValue>,
}

/// Where the `?` placeholders of a filter stand, skipping quoted literals and identifiers;
/// or why the filter is unusable (an unterminated quote, a second statement).
pub(crate) fn filter_placeholders(sql: &str) -> Result<Vec<usize>, String> {
    let mut found = Vec::new();
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let close = match c {
            '\'' => '\'',
            '"' => '"',
            '`' => '`',
            '[' => ']',
            '?' => {
                found.push(i);
                continue;
            }
            ';' => return Err("must be one condition: no ';'".to_owned()),
            '-' if chars.peek().map(|(_, c)| *c) == Some('-') => {
                return Err("must not contain comments".to_owned());
            }
            '/' if chars.peek().map(|(_, c)| *c) == Some('*') => {
                return Err("must not contain comments".to_owned());
            }
            _ => continue,
        };
        loop {
            match chars.next() {
                Some((_, c)) if c == close => {
                    // A doubled quote is an escaped quote, still inside.
                    if chars.peek().map(|(_, c)| *c) == Some(close) && close != ']' {
                        chars.next();
                    } else {
                        break;
                    }
                }
                Some(_) => {}
                None => return Err(format!("has an unterminated {c}")),
            }
        }
    }
    Ok(found)
}

impl Filter {
    /// The condition with the dialect's placeholders, its values bound through `binder`.
    fn render(&self, binder: &mut Binder) -> String {
        let mut out = String::with_capacity(self.sql.len() + 8);
        let mut last = 0;
        // Validated at config time; a filter that fails here binds nothing and fails in the database.
        let positions = filter_placeholders(&self.sql).unwrap_or_default();
        for (position, value) in positions.into_iter().zip(&self.params) {
            out.push_str(&self.sql[last..position]);
            out.push_str(&binder.bind(value.clone(), None));
            last = position + 1;
        }
        out.push_str(&self.sql[last..]);
        out
    }
}

/// How to read one table or view as records: resolved from the config and the catalogue.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) dialect: Dialect,
    /// The quoted, qualified table.
    pub(crate) from: String,
    /// The columns read, in select order.
    pub(crate) columns: Vec<Column>,
    /// Index of the key column in `columns`.
    pub(crate) key: usize,
    /// Index of the watermark column in `columns`, if the records have one.
    pub(crate) watermark: Option<usize>,
    pub(crate) filter: Option<Filter>,
    pub(crate) page_size: u32,
}

impl Plan {
    fn select_list(&self) -> String {
        let list: Vec<String> = self.columns.iter().map(|c| self.dialect.select(c)).collect();
        list.join(", ")
    }

    /// The ordering columns: the watermark column, then the key.
    fn order(&self) -> impl Iterator<Item = &Column> {
        self.watermark
            .iter()
            .chain(std::iter::once(&self.key))
            .map(|i| &self.columns[*i])
    }

    /// The next page after `after` (from the start when `None`), in (watermark, key) order.
    pub(crate) fn page(&self, after: Option<&Position>) -> Result<Statement, AdapterError> {
        let mut binder = Binder::new(self.dialect);
        let mut conditions = Vec::new();
        if let Some(filter) = &self.filter {
            conditions.push(format!("({})", filter.render(&mut binder)));
        }
        if let Some(position) = after {
            conditions.push(self.keyset(position, &mut binder)?);
        }
        if let Some(column) = self.watermark.map(|i| &self.columns[i])
            && is_rowversion(self.dialect, column)
        {
            // Rows of transactions still open get lower rowversions than rows already
            // committed; reading past the lowest open one would skip them for good.
            conditions.push(format!(
                "{} < MIN_ACTIVE_ROWVERSION()",
                self.dialect.column(&column.name)
            ));
        }
        let order: Vec<String> = self.order().map(|c| self.dialect.column(&c.name)).collect();
        let tail = match conditions.is_empty() {
            true => format!(" ORDER BY {}", order.join(", ")),
            false => format!(
                " WHERE {} ORDER BY {}",
                conditions.join(" AND "),
                order.join(", ")
            ),
        };
        let sql = self
            .dialect
            .limited(&self.select_list(), &self.from, &tail, self.page_size);
        Ok(binder.finish(sql))
    }

    /// `(watermark, key) > (position)`; with an empty key (a bare watermark), `watermark >=
    /// position`.
    fn keyset(&self, position: &Position, binder: &mut Binder) -> Result<String, AdapterError> {
        let inclusive = position.key.is_empty();
        let mut columns: Vec<&Column> = self.watermark.iter().map(|i| &self.columns[*i]).collect();
        let mut texts: Vec<&str> = self
            .watermark
            .iter()
            .map(|_| position.watermark.as_str())
            .collect();
        if !inclusive {
            columns.push(&self.columns[self.key]);
            texts.push(&position.key);
        }
        if columns.is_empty() {
            return Err(AdapterError::configuration(
                "a checkpoint with a watermark only needs a watermark column in the config",
            ));
        }
        let values = columns
            .iter()
            .zip(&texts)
            .map(|(c, t)| {
                parse_value(c, t).ok_or_else(|| {
                    AdapterError::configuration(format!(
                        "checkpoint value {t:?} does not fit column {} ({})",
                        c.name, c.data_type
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let last = if inclusive { ">=" } else { ">" };
        let quoted: Vec<String> = columns.iter().map(|c| self.dialect.column(&c.name)).collect();
        if self.dialect.has_row_values() && columns.len() > 1 {
            let placeholders: Vec<String> = columns
                .iter()
                .zip(values)
                .map(|(c, v)| binder.bind(v, Some(c)))
                .collect();
            return Ok(format!(
                "({}) {last} ({})",
                quoted.join(", "),
                placeholders.join(", ")
            ));
        }
        // c1 >= x1 AND (c1 > x1 OR (c1 = x1 AND (c2 > x2 OR …))): the leading range lets an
        // index on c1 narrow the scan.
        let n = columns.len();
        let mut expr = String::new();
        if n > 1 {
            let bound = binder.bind(values[0].clone(), Some(columns[0]));
            expr.push_str(&format!("{} >= {bound} AND ", quoted[0]));
        }
        let mut closing = String::new();
        for i in 0..n {
            if i + 1 == n {
                let bound = binder.bind(values[i].clone(), Some(columns[i]));
                expr.push_str(&format!("{} {last} {bound}", quoted[i]));
            } else {
                let greater = binder.bind(values[i].clone(), Some(columns[i]));
                let equal = binder.bind(values[i].clone(), Some(columns[i]));
                expr.push_str(&format!(
                    "({} > {greater} OR ({} = {equal} AND ",
                    quoted[i], quoted[i]
                ));
                closing.push_str("))");
            }
        }
        expr.push_str(&closing);
        Ok(format!("({expr})"))
    }

    /// `SELECT COUNT(*)` of the rows read: those that pass the filter.
    pub(crate) fn count(&self) -> Statement {
        let mut binder = Binder::new(self.dialect);
        let tail = match &self.filter {
            Some(filter) => format!(" WHERE ({})", filter.render(&mut binder)),
            None => String::new(),
        };
        let count = match self.dialect {
            Dialect::Mssql => "COUNT_BIG(*)",
            _ => "COUNT(*)",
        };
        binder.finish(format!("SELECT {count} FROM {} AS {SOURCE}{tail}", self.from))
    }

    /// One record by key, or `None` when the key cannot be a value of the key column.
    pub(crate) fn fetch(&self, key: &str) -> Option<Statement> {
        let column = &self.columns[self.key];
        let value = parse_value(column, key)?;
        let mut binder = Binder::new(self.dialect);
        let mut conditions = Vec::new();
        if let Some(filter) = &self.filter {
            conditions.push(format!("({})", filter.render(&mut binder)));
        }
        let bound = binder.bind(value, Some(column));
        conditions.push(format!("{} = {bound}", self.dialect.column(&column.name)));
        let tail = format!(" WHERE {}", conditions.join(" AND "));
        Some(binder.finish(self.dialect.limited(&self.select_list(), &self.from, &tail, 2)))
    }

    /// The position of a row read with this plan, or why it has none.
    pub(crate) fn position(&self, row: &[(String, SqlValue)]) -> Result<Position, AdapterError> {
        let text = |i: usize| row.get(i).and_then(|(_, v)| v.as_text());
        let key = text(self.key).ok_or_else(|| {
            AdapterError::data(format!(
                "a row of {} has no key in {}",
                self.from, self.columns[self.key].name
            ))
        })?;
        let watermark = match self.watermark {
            Some(i) => text(i).ok_or_else(|| {
                AdapterError::data(format!(
                    "record {key} of {} has no watermark in {}: give it one, or exclude such rows with a filter (e.g. \"{} IS NOT NULL\")",
                    self.from, self.columns[i].name, self.columns[i].name
                ))
            })?,
            None => String::new(),
        };
        Ok(Position { watermark, key })
    }
}

/// A checkpoint or key text as a value of `column`, or `None` when it cannot be one.
fn parse_value(column: &Column, text: &str) -> Option<SqlValue> {
    Some(match column.kind {
        Kind::Integer => SqlValue::Int(text.parse().ok()?),
        Kind::Float => SqlValue::Float(text.parse().ok()?),
        Kind::Bool => SqlValue::Bool(match text {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return None,
        }),
        Kind::Bytes => SqlValue::Bytes(hex::decode(text.trim_start_matches("0x")).ok()?),
        Kind::Text | Kind::Other => SqlValue::Text(text.to_owned()),
    })
}

/// `SELECT COUNT(*)` of a table.
pub(crate) fn count(dialect: Dialect, from: &str) -> String {
    match dialect {
        Dialect::Mssql => format!("SELECT COUNT_BIG(*) FROM {from}"),
        _ => format!("SELECT COUNT(*) FROM {from}"),
    }
}

/// A column's distinct values with their row counts, most frequent first, at most `limit`,
/// over the first `rows` rows the database returns: the database reads that many rows whatever
/// the table's size, not the whole table once per column.
pub(crate) fn distinct(dialect: Dialect, from: &str, column: &Column, rows: u32, limit: u32) -> String {
    let bounded = format!(
        "({})",
        dialect.limited(&dialect.column(&column.name), from, "", rows)
    );
    let grouped = format!(
        " GROUP BY {} ORDER BY COUNT(*) DESC",
        dialect.column(&column.name)
    );
    dialect.limited(
        &format!(
            "{}, COUNT(*) AS {}",
            dialect.select(column),
            dialect.quote("records")
        ),
        &bounded,
        &grouped,
        limit,
    )
}

/// One row of a table whose `column` holds `value`.
pub(crate) fn row_with(
    dialect: Dialect,
    from: &str,
    columns: &[Column],
    column: &Column,
    value: SqlValue,
) -> Statement {
    let mut binder = Binder::new(dialect);
    let bound = binder.bind(value, Some(column));
    let list: Vec<String> = columns.iter().map(|c| dialect.select(c)).collect();
    let tail = format!(" WHERE {} = {bound}", dialect.column(&column.name));
    binder.finish(dialect.limited(&list.join(", "), from, &tail, 1))
}

/// Up to `limit` rows of a table, in no particular order.
pub(crate) fn sample(dialect: Dialect, from: &str, columns: &[Column], limit: u32) -> String {
    let list: Vec<String> = columns.iter().map(|c| dialect.select(c)).collect();
    dialect.limited(&list.join(", "), from, "", limit)
}

/// `INSERT INTO table (columns) VALUES (row), (row)…`: one statement for many rows.
pub(crate) fn insert(
    dialect: Dialect,
    from: &str,
    columns: &[&Column],
    rows: Vec<Vec<SqlValue>>,
) -> Statement {
    let mut binder = Binder::new(dialect);
    let names: Vec<String> = columns.iter().map(|c| dialect.quote(&c.name)).collect();
    let rows: Vec<String> = rows
        .into_iter()
        .map(|row| {
            let placeholders: Vec<String> = columns
                .iter()
                .zip(row)
                .map(|(column, value)| binder.bind(value, Some(column)))
                .collect();
            format!("({})", placeholders.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {from} ({}) VALUES {}",
        names.join(", "),
        rows.join(", ")
    );
    binder.finish(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(dialect: Dialect, name: &str, data_type: &str) -> Column {
        Column {
            name: name.to_owned(),
            data_type: data_type.to_owned(),
            nullable: false,
            kind: dialect.kind(data_type),
            cast: (dialect == Dialect::Postgres).then(|| {
                format!(
                    "\"pg_catalog\".\"{}\"",
                    data_type.replace("character varying", "varchar")
                )
            }),
        }
    }

    fn plan(dialect: Dialect, watermark: Option<(&str, &str)>, filter: Option<Filter>) -> Plan {
        let text = match dialect {
            Dialect::Postgres => "character varying",
            _ => "varchar",
        };
        let mut columns = vec![column(dialect, "SBLSH", text), column(dialect, "SXMC", text)];
        columns.extend(watermark.map(|(n, t)| column(dialect, n, t)));
        Plan {
            dialect,
            from: dialect.table(None, "SP_BJXX"),
            watermark: (columns.len() > 2).then_some(2),
            columns,
            key: 0,
            filter,
            page_size: 100,
        }
    }

    fn at(watermark: &str, key: &str) -> Position {
        Position {
            watermark: watermark.to_owned(),
            key: key.to_owned(),
        }
    }

    #[test]
    fn identifiers_are_quoted_per_dialect() {
        for (dialect, expected) in [
            (Dialect::Sqlite, r#""a""b""#),
            (Dialect::Postgres, r#""a""b""#),
            (Dialect::MySql, "`a\"b`"),
            (Dialect::Mssql, "[a\"b]"),
        ] {
            assert_eq!(dialect.quote("a\"b"), expected);
        }
        assert_eq!(Dialect::MySql.quote("x`; DROP"), "`x``; DROP`");
        assert_eq!(Dialect::Mssql.quote("办件]x"), "[办件]]x]");
        assert_eq!(
            Dialect::Postgres.table(Some("legacy"), "SP_BJXX"),
            r#""legacy"."SP_BJXX""#
        );
        assert_eq!(identifier_problem("申请人 名称"), None);
        assert!(identifier_problem("").is_some());
        assert!(identifier_problem("a\0b").is_some());
        assert!(identifier_problem(&"x".repeat(129)).is_some());
    }

    #[test]
    fn kinds_follow_each_catalogue() {
        for (dialect, data_type, kind) in [
            (Dialect::Sqlite, "VARCHAR(50)", Kind::Text),
            (Dialect::Sqlite, "BIGINT", Kind::Integer),
            (Dialect::Sqlite, "DATETIME", Kind::Other),
            (Dialect::Sqlite, "", Kind::Text),
            (Dialect::Postgres, "timestamp without time zone", Kind::Other),
            (Dialect::Postgres, "integer", Kind::Integer),
            (Dialect::Postgres, "character varying", Kind::Text),
            (Dialect::MySql, "bigint(20) unsigned", Kind::Other),
            (Dialect::MySql, "int(11)", Kind::Integer),
            (Dialect::MySql, "datetime", Kind::Other),
            (Dialect::MySql, "varbinary(16)", Kind::Bytes),
            (Dialect::Mssql, "timestamp", Kind::Bytes),
            (Dialect::Mssql, "datetime2", Kind::Other),
            (Dialect::Mssql, "nvarchar", Kind::Text),
            (Dialect::Mssql, "bit", Kind::Bool),
        ] {
            assert_eq!(dialect.kind(data_type), kind, "{dialect:?} {data_type}");
        }
    }

    #[test]
    fn pages_are_keyset_not_offset() {
        let p = plan(Dialect::Postgres, Some(("GXSJ", "timestamp")), None);
        let first = p.page(None).unwrap();
        assert_eq!(
            first.sql,
            r#"SELECT src."SBLSH", src."SXMC", CAST(src."GXSJ" AS text) AS "GXSJ" FROM "SP_BJXX" AS src ORDER BY src."GXSJ", src."SBLSH" LIMIT 100"#
        );
        let next = p.page(Some(&at("2025-01-01 08:00:00", "520102000001"))).unwrap();
        assert_eq!(
            next.sql,
            r#"SELECT src."SBLSH", src."SXMC", CAST(src."GXSJ" AS text) AS "GXSJ" FROM "SP_BJXX" AS src WHERE (src."GXSJ", src."SBLSH") > (CAST($1 AS "pg_catalog"."timestamp"), CAST($2 AS "pg_catalog"."varchar")) ORDER BY src."GXSJ", src."SBLSH" LIMIT 100"#
        );
        assert_eq!(
            next.params,
            [
                SqlValue::Text("2025-01-01 08:00:00".into()),
                SqlValue::Text("520102000001".into())
            ]
        );
    }

    #[test]
    fn mysql_and_sql_server_get_the_expanded_keyset() {
        let p = plan(Dialect::MySql, Some(("GXSJ", "datetime")), None);
        let next = p.page(Some(&at("2025-01-01 08:00:00", "K"))).unwrap();
        assert_eq!(
            next.sql,
            "SELECT src.`SBLSH`, src.`SXMC`, CAST(src.`GXSJ` AS CHAR) AS `GXSJ` FROM `SP_BJXX` AS src \
             WHERE (src.`GXSJ` >= ? AND (src.`GXSJ` > ? OR (src.`GXSJ` = ? AND src.`SBLSH` > ?))) \
             ORDER BY src.`GXSJ`, src.`SBLSH` LIMIT 100"
        );
        let w = SqlValue::Text("2025-01-01 08:00:00".into());
        assert_eq!(next.params, [w.clone(), w.clone(), w, SqlValue::Text("K".into())]);

        let p = plan(Dialect::Mssql, Some(("RV", "timestamp")), None);
        let next = p.page(Some(&at("00000000000007d1", "K"))).unwrap();
        assert_eq!(
            next.sql,
            "SELECT TOP (100) src.[SBLSH], src.[SXMC], src.[RV] FROM [SP_BJXX] AS src WHERE \
             (src.[RV] >= @P1 AND (src.[RV] > @P2 OR (src.[RV] = @P3 AND src.[SBLSH] > @P4))) \
             AND src.[RV] < MIN_ACTIVE_ROWVERSION() ORDER BY src.[RV], src.[SBLSH]"
        );
        assert_eq!(next.params[0], SqlValue::Bytes(vec![0, 0, 0, 0, 0, 0, 7, 0xd1]));
    }

    #[test]
    fn an_empty_key_resumes_at_the_watermark_inclusive() {
        let p = plan(Dialect::Sqlite, Some(("GXSJ", "TEXT")), None);
        let since = p.page(Some(&at("2025-06-01", ""))).unwrap();
        assert!(since.sql.contains(r#"WHERE (src."GXSJ" >= ?)"#), "{}", since.sql);
        assert_eq!(since.params, [SqlValue::Text("2025-06-01".into())]);
        let keyed = plan(Dialect::Sqlite, None, None);
        assert!(
            keyed.page(Some(&at("2025-06-01", ""))).is_err(),
            "no watermark column"
        );
        let next = keyed.page(Some(&at("", "K9"))).unwrap();
        assert!(
            next.sql
                .contains(r#"WHERE (src."SBLSH" > ?) ORDER BY src."SBLSH""#),
            "{}",
            next.sql
        );
    }

    #[test]
    fn filters_keep_their_values_bound_and_come_first() {
        let filter = Filter {
            sql: "\"SXMC\" <> '?' AND [X?] = ? AND `SXBM` LIKE ?".to_owned(),
            params: vec![
                SqlValue::Text("x'; DROP TABLE SP_BJXX; --".into()),
                SqlValue::Int(5),
            ],
        };
        assert_eq!(filter_placeholders(&filter.sql).unwrap().len(), 2);
        let p = plan(Dialect::Postgres, Some(("GXSJ", "timestamp")), Some(filter));
        let next = p.page(Some(&at("2025-01-01", "K"))).unwrap();
        assert!(
            next.sql.contains(
                r#"WHERE ("SXMC" <> '?' AND [X?] = $1 AND `SXBM` LIKE $2) AND (src."GXSJ", src."SBLSH") > (CAST($3"#
            ),
            "{}",
            next.sql
        );
        assert_eq!(next.params.len(), 4);
        let fetch = p.fetch("K").unwrap();
        assert!(
            fetch
                .sql
                .ends_with(r#"AND src."SBLSH" = CAST($3 AS "pg_catalog"."varchar") LIMIT 2"#),
            "{}",
            fetch.sql
        );
        for bad in ["a = 1; DELETE FROM t", "a = 'open", "a = 1 -- x", "a /* x */ = 1"] {
            assert!(filter_placeholders(bad).is_err(), "{bad}");
        }
        assert_eq!(filter_placeholders("a = 'it''s ?' AND b = ?").unwrap(), vec![22]);
    }

    #[test]
    fn checkpoint_values_must_fit_their_columns() {
        let p = plan(Dialect::Postgres, Some(("BBH", "integer")), None);
        let err = p.page(Some(&at("not a number", "K"))).unwrap_err();
        assert!(err.message.contains("BBH"), "{err}");
        let by_int = Plan {
            key: 2,
            ..plan(Dialect::Postgres, Some(("ID", "integer")), None)
        };
        assert!(by_int.fetch("abc").is_none(), "no such key can exist");
        let row = vec![
            ("SBLSH".to_owned(), SqlValue::Text("K".into())),
            ("SXMC".to_owned(), SqlValue::Text("x".into())),
            ("BBH".to_owned(), SqlValue::Null),
        ];
        let err = p.position(&row).unwrap_err();
        assert!(err.message.contains("no watermark in BBH"), "{err}");
    }

    #[test]
    fn inserts_bind_every_value() {
        let c = column(Dialect::Mssql, "SQRMC", "nvarchar");
        let rows = vec![vec![SqlValue::Text("张三".into())], vec![SqlValue::Null]];
        let insert = insert(Dialect::Mssql, "[dbo].[WSSQ]", &[&c], rows);
        assert_eq!(
            insert.sql,
            "INSERT INTO [dbo].[WSSQ] ([SQRMC]) VALUES (@P1), (@P2)"
        );
        assert_eq!(count(Dialect::Mssql, "[t]"), "SELECT COUNT_BIG(*) FROM [t]");
        assert_eq!(
            sample(Dialect::Mssql, "[t]", &[c], 3),
            "SELECT TOP (3) src.[SQRMC] FROM [t] AS src"
        );
    }
}

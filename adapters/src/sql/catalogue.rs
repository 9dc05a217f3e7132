//! What a database says about its tables, shared by both SQL drivers: the catalogue queries of
//! each dialect (`sqlite_master` and `pragma_table_info` on SQLite, `information_schema` on
//! PostgreSQL and MySQL, `INFORMATION_SCHEMA` on SQL Server), all answering in one row shape, and
//! the tables and columns built from their rows.

use super::query::{Column, Dialect, Statement};
use crate::SqlValue;

/// A table or view with its columns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub(crate) name: String,
    pub(crate) view: bool,
    pub(crate) columns: Vec<Column>,
}

/// The query listing tables and views as rows of (name, type), where type contains `VIEW` for
/// a view. `schema` is the connection's default when `None`.
pub(crate) fn tables(dialect: Dialect, schema: Option<&str>) -> Statement {
    let sql = match dialect {
        Dialect::Sqlite => format!(
            "SELECT name, upper(type) FROM {}.sqlite_master WHERE type IN ('table', 'view') \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
            dialect.quote(schema.unwrap_or("main"))
        ),
        Dialect::Postgres => "SELECT CAST(table_name AS text), CAST(table_type AS text) \
             FROM information_schema.tables WHERE table_schema = COALESCE($1, current_schema()) \
             ORDER BY table_name"
            .to_owned(),
        Dialect::MySql => "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) ORDER BY TABLE_NAME"
            .to_owned(),
        Dialect::Mssql => "SELECT TABLE_NAME, TABLE_TYPE FROM INFORMATION_SCHEMA.TABLES \
             WHERE TABLE_SCHEMA = COALESCE(@P1, SCHEMA_NAME()) ORDER BY TABLE_NAME"
            .to_owned(),
    };
    with_schema(dialect, sql, schema)
}

/// The query listing columns, in table then ordinal order, as rows of (table, column, type,
/// type shown to people, cast type or NULL, nullable as `YES`/`NO` or 1/0). Only `table`'s
/// when given.
pub(crate) fn columns(dialect: Dialect, schema: Option<&str>, table: Option<&str>) -> Statement {
    let (sql, table_condition) = match dialect {
        Dialect::Sqlite => (
            format!(
                "SELECT m.name, p.name, p.type, p.type, NULL, CASE WHEN p.\"notnull\" = 0 THEN 'YES' ELSE 'NO' END \
                 FROM {schema}.sqlite_master m JOIN pragma_table_info(m.name, {schema_text}) p \
                 WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                schema = dialect.quote(schema.unwrap_or("main")),
                schema_text = text_literal(schema.unwrap_or("main")),
            ),
            " AND m.name = ? ORDER BY m.name, p.cid",
        ),
        Dialect::Postgres => (
            "SELECT CAST(table_name AS text), CAST(column_name AS text), CAST(data_type AS text), \
             CAST(CASE WHEN character_maximum_length IS NULL THEN data_type \
             ELSE data_type || '(' || character_maximum_length || ')' END AS text), \
             CAST('\"' || replace(udt_schema, '\"', '\"\"') || '\".\"' || replace(udt_name, '\"', '\"\"') || '\"' AS text), \
             CAST(is_nullable AS text) \
             FROM information_schema.columns WHERE table_schema = COALESCE($1, current_schema())"
                .to_owned(),
            " AND table_name = $2 ORDER BY table_name, ordinal_position",
        ),
        Dialect::MySql => (
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, COLUMN_TYPE, NULL, IS_NULLABLE \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE())"
                .to_owned(),
            " AND TABLE_NAME = ? ORDER BY TABLE_NAME, ORDINAL_POSITION",
        ),
        Dialect::Mssql => (
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, \
             CASE WHEN CHARACTER_MAXIMUM_LENGTH IS NULL THEN DATA_TYPE \
             WHEN CHARACTER_MAXIMUM_LENGTH = -1 THEN DATA_TYPE + '(max)' \
             ELSE DATA_TYPE + '(' + CAST(CHARACTER_MAXIMUM_LENGTH AS varchar(11)) + ')' END, \
             NULL, IS_NULLABLE \
             FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = COALESCE(@P1, SCHEMA_NAME())"
                .to_owned(),
            " AND TABLE_NAME = @P2 ORDER BY TABLE_NAME, ORDINAL_POSITION",
        ),
    };
    let mut statement = match table {
        Some(_) => with_schema(dialect, format!("{sql}{table_condition}"), schema),
        None => {
            let order = table_condition
                .split_once(" ORDER BY ")
                .map(|(_, order)| order)
                .unwrap_or_default();
            with_schema(dialect, format!("{sql} ORDER BY {order}"), schema)
        }
    };
    if let Some(table) = table {
        statement.params.push(SqlValue::Text(table.to_owned()));
    }
    statement
}

/// SQLite names its schema in the text (it is an identifier there); the others bind it.
fn with_schema(dialect: Dialect, sql: String, schema: Option<&str>) -> Statement {
    let params = match dialect {
        Dialect::Sqlite => Vec::new(),
        _ => vec![schema.map_or(SqlValue::Null, |s| SqlValue::Text(s.to_owned()))],
    };
    Statement { sql, params }
}

/// A string literal (for SQLite's `pragma_table_info`, whose schema argument is a value).
fn text_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Tables from the rows of `tables` and `columns`, in the order listed.
pub(crate) fn assemble(dialect: Dialect, tables: &[Vec<SqlValue>], columns: &[Vec<SqlValue>]) -> Vec<Table> {
    let text = |row: &[SqlValue], i: usize| row.get(i).and_then(SqlValue::as_text).unwrap_or_default();
    let mut result: Vec<Table> = tables
        .iter()
        .map(|row| Table {
            name: text(row, 0),
            view: text(row, 1).to_ascii_uppercase().contains("VIEW"),
            columns: Vec::new(),
        })
        .collect();
    for row in columns {
        let table = text(row, 0);
        let Some(entry) = result.iter_mut().find(|t| t.name == table) else {
            continue;
        };
        entry.columns.push(column(dialect, row));
    }
    result
}

/// A column from one row of the `columns` query.
pub(crate) fn column(dialect: Dialect, row: &[SqlValue]) -> Column {
    let text = |i: usize| row.get(i).and_then(SqlValue::as_text).unwrap_or_default();
    let data_type = text(2);
    Column {
        name: text(1),
        kind: dialect.kind(&data_type),
        data_type: text(3),
        nullable: matches!(text(5).to_ascii_uppercase().as_str(), "YES" | "1" | "TRUE"),
        cast: (dialect == Dialect::Postgres)
            .then(|| text(4))
            .filter(|c| !c.is_empty()),
    }
}

/// Finds a name in a list: exactly, or else the one that matches ignoring ASCII case (an
/// unquoted name folds to lower case on PostgreSQL and keeps its case elsewhere).
pub(crate) fn find<'a, T>(items: &'a [T], name: &str, name_of: impl Fn(&T) -> &str) -> Option<&'a T> {
    items.iter().find(|t| name_of(t) == name).or_else(|| {
        let mut folded = items.iter().filter(|t| name_of(t).eq_ignore_ascii_case(name));
        match (folded.next(), folded.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(values: &[&str]) -> Vec<SqlValue> {
        values
            .iter()
            .map(|v| match *v {
                "" => SqlValue::Null,
                v => SqlValue::Text(v.to_owned()),
            })
            .collect()
    }

    #[test]
    fn catalogue_rows_become_tables() {
        let tables = [texts(&["SP_BJXX", "BASE TABLE"]), texts(&["V_BJ", "VIEW"])];
        let columns = [
            texts(&[
                "SP_BJXX",
                "SBLSH",
                "character varying",
                "character varying(50)",
                "\"pg_catalog\".\"varchar\"",
                "NO",
            ]),
            texts(&[
                "SP_BJXX",
                "GXSJ",
                "timestamp without time zone",
                "timestamp without time zone",
                "\"pg_catalog\".\"timestamp\"",
                "YES",
            ]),
            texts(&["OTHER", "X", "text", "text", "", "YES"]),
        ];
        let assembled = assemble(Dialect::Postgres, &tables, &columns);
        assert_eq!(assembled.len(), 2);
        assert!(!assembled[0].view && assembled[1].view);
        let gxsj = &assembled[0].columns[1];
        assert_eq!(
            (gxsj.name.as_str(), gxsj.nullable, gxsj.kind, gxsj.cast.as_deref()),
            (
                "GXSJ",
                true,
                super::super::query::Kind::Other,
                Some("\"pg_catalog\".\"timestamp\"")
            )
        );
        assert_eq!(assembled[0].columns[0].data_type, "character varying(50)");
    }

    #[test]
    fn names_match_exactly_then_ignoring_case_when_unambiguous() {
        let names = ["sp_bjxx", "A", "a"];
        assert_eq!(find(&names, "SP_BJXX", |n| n), Some(&"sp_bjxx"));
        assert_eq!(find(&names, "a", |n| n), Some(&"a"));
        assert_eq!(find(&names, "A", |n| n), Some(&"A"));
        assert_eq!(find(&["A", "a"], "Ab", |n| *n), None);
        assert_eq!(find(&["Ab", "aB"], "AB", |n| *n), None, "ambiguous");
    }

    #[test]
    fn statements_bind_the_schema_and_table() {
        let s = columns(Dialect::MySql, None, Some("SP_BJXX"));
        assert!(
            s.sql
                .ends_with("AND TABLE_NAME = ? ORDER BY TABLE_NAME, ORDINAL_POSITION"),
            "{}",
            s.sql
        );
        assert_eq!(s.params, [SqlValue::Null, SqlValue::Text("SP_BJXX".into())]);
        let s = columns(Dialect::Sqlite, Some("legacy"), None);
        assert!(
            s.sql
                .contains(r#"FROM "legacy".sqlite_master m JOIN pragma_table_info(m.name, 'legacy')"#)
        );
        assert!(
            s.sql.ends_with("ORDER BY m.name, p.cid") && s.params.is_empty(),
            "{}",
            s.sql
        );
        let s = tables(Dialect::Mssql, Some("dbo"));
        assert_eq!(s.params, [SqlValue::Text("dbo".into())]);
    }
}

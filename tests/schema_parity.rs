//! The two dialects' migrations build the same store (issue 18): after migrating a fresh SQLite
//! store and a fresh PostgreSQL store, both have the same tables, the same columns with the same
//! nullability and a matching type family, the same primary keys and the same indexes (their
//! columns, uniqueness and whether they are partial). Names of indexes may differ.
//! Needs `--features postgres-tests` and RONGHE_TEST_PG_URL (`.ci/run` starts a server).
#![cfg(feature = "postgres-tests")]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use ronghe::store::{Store, StoreOptions};
use sqlx::Connection as _;

/// A column: its type family and whether it may be NULL (not compared on primary-key columns,
/// which SQLite reports as nullable).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    family: &'static str,
    nullable: Option<bool>,
}

/// An index that is not the primary key: its columns in order (`<expr>` for an expression),
/// unique, partial.
type Index = (Vec<String>, bool, bool);

#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    columns: BTreeMap<String, Column>,
    primary_key: Vec<String>,
    indexes: BTreeSet<Index>,
}

type Schema = BTreeMap<String, Table>;

/// Differences that are known and harmless, with why they stay.
const KNOWN: &[(&str, &str)] = &[(
    "reconciliations.clean:",
    "SQLite declares it INTEGER where other flags are BOOLEAN; both hold 0/1 read through sqlx's \
     bool, and changing a SQLite column's type means rebuilding the table",
)];

/// Bookkeeping tables of sqlx and SQLite, not ours.
fn ours(table: &str) -> bool {
    !table.starts_with("_sqlx") && !table.starts_with("sqlite_")
}

/// SQLite's type affinity of a declared type (https://www.sqlite.org/datatype3.html §3.1).
fn sqlite_family(declared: &str) -> &'static str {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        "integer"
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        "text"
    } else if t.is_empty() || t.contains("BLOB") {
        "blob"
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        "real"
    } else {
        "numeric"
    }
}

/// How SQLite keeps what a PostgreSQL type holds: timestamps, dates and JSON as text, booleans
/// as 0/1 with numeric affinity.
fn postgres_family(data_type: &str) -> &'static str {
    match data_type {
        "bigint" | "integer" | "smallint" => "integer",
        "text" | "character varying" | "timestamp with time zone" | "date" | "jsonb" | "json" => "text",
        "boolean" => "numeric",
        "double precision" | "real" => "real",
        "bytea" => "blob",
        other => panic!("PostgreSQL type {other:?} has no SQLite family here; add it to postgres_family"),
    }
}

async fn sqlite_schema(path: &std::path::Path) -> Schema {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let tables: Vec<(String,)> = sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mut schema = Schema::new();
    for (name,) in tables.into_iter().filter(|(n,)| ours(n)) {
        let mut table = Table::default();
        let columns: Vec<(String, String, i64, i64)> =
            sqlx::query_as("SELECT name, type, \"notnull\", pk FROM pragma_table_info($1)")
                .bind(&name)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        let mut primary: Vec<(i64, String)> = Vec::new();
        for (column, declared, notnull, pk) in columns {
            if pk > 0 {
                primary.push((pk, column.clone()));
            }
            let nullable = (pk == 0).then_some(notnull == 0);
            table.columns.insert(
                column,
                Column {
                    family: sqlite_family(&declared),
                    nullable,
                },
            );
        }
        primary.sort();
        table.primary_key = primary.into_iter().map(|(_, c)| c).collect();
        let indexes: Vec<(String, i64, String, i64)> =
            sqlx::query_as("SELECT name, \"unique\", origin, partial FROM pragma_index_list($1)")
                .bind(&name)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        for (index, unique, origin, partial) in indexes {
            if origin == "pk" {
                continue;
            }
            let columns: Vec<(Option<String>,)> =
                sqlx::query_as("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            let columns = columns
                .into_iter()
                .map(|(c,)| c.unwrap_or_else(|| "<expr>".to_owned()))
                .collect();
            table.indexes.insert((columns, unique == 1, partial == 1));
        }
        schema.insert(name, table);
    }
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text
         FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let indexes: Vec<(String, bool, bool, bool, Vec<String>)> = sqlx::query_as(
        "SELECT t.relname::text, ix.indisprimary, ix.indisunique, ix.indpred IS NOT NULL,
                ARRAY(SELECT COALESCE(a.attname::text, '<expr>')
                      FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                      LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                      ORDER BY k.n)
         FROM pg_index ix
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_namespace ns ON ns.oid = t.relnamespace
         WHERE ns.nspname = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for (table, column, data_type, nullable) in columns.into_iter().filter(|c| ours(&c.0)) {
        schema.entry(table).or_default().columns.insert(
            column,
            Column {
                family: postgres_family(&data_type),
                nullable: Some(nullable == "YES"),
            },
        );
    }
    for (table, primary, unique, partial, columns) in indexes.into_iter().filter(|i| ours(&i.0)) {
        let entry = schema.entry(table).or_default();
        if primary {
            for column in &columns {
                if let Some(c) = entry.columns.get_mut(column) {
                    c.nullable = None;
                }
            }
            entry.primary_key = columns;
        } else {
            entry.indexes.insert((columns, unique, partial));
        }
    }
    schema
}

/// Every difference between the two schemas, one line each.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    let names: BTreeSet<&String> = sqlite.keys().chain(postgres.keys()).collect();
    for name in names {
        let (Some(s), Some(p)) = (sqlite.get(name), postgres.get(name)) else {
            let only = if sqlite.contains_key(name) {
                "SQLite"
            } else {
                "PostgreSQL"
            };
            out.push(format!("table {name}: only on {only}"));
            continue;
        };
        let columns: BTreeSet<&String> = s.columns.keys().chain(p.columns.keys()).collect();
        for column in columns {
            match (s.columns.get(column), p.columns.get(column)) {
                (Some(a), Some(b)) if a == b => {}
                (a, b) => out.push(format!("{name}.{column}: SQLite {a:?}, PostgreSQL {b:?}")),
            }
        }
        if s.primary_key != p.primary_key {
            out.push(format!(
                "{name} primary key: SQLite {:?}, PostgreSQL {:?}",
                s.primary_key, p.primary_key
            ));
        }
        for index in s.indexes.symmetric_difference(&p.indexes) {
            let only = if s.indexes.contains(index) {
                "SQLite"
            } else {
                "PostgreSQL"
            };
            out.push(format!(
                "{name} index {index:?} (columns, unique, partial): only on {only}"
            ));
        }
    }
    out
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_build_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    Store::open(&format!("sqlite://{}", path.display()), &StoreOptions::default())
        .await
        .unwrap();
    let url = common::fresh_pg_url().await;
    Store::open(&url, &StoreOptions::default()).await.unwrap();
    let (sqlite, postgres) = (sqlite_schema(&path).await, postgres_schema(&url).await);
    assert!(sqlite.len() > 30, "read {} SQLite tables", sqlite.len());
    let found = differences(&sqlite, &postgres);
    let unexpected: Vec<&str> = found
        .iter()
        .map(String::as_str)
        .filter(|d| !KNOWN.iter().any(|(prefix, _)| d.starts_with(prefix)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "the dialects' schemas differ:\n{}",
        unexpected.join("\n")
    );
    for (prefix, why) in KNOWN {
        assert!(
            found.iter().any(|d| d.starts_with(prefix)),
            "{prefix} agrees now; drop it from KNOWN ({why})"
        );
    }
}

#[test]
fn a_difference_is_named() {
    let table = |family, nullable, index: bool| Table {
        columns: BTreeMap::from([(
            "created_at".to_owned(),
            Column {
                family,
                nullable: Some(nullable),
            },
        )]),
        primary_key: vec!["id".to_owned()],
        indexes: if index {
            BTreeSet::from([(vec!["created_at".to_owned()], false, false)])
        } else {
            BTreeSet::new()
        },
    };
    let base = Schema::from([("t".to_owned(), table("text", false, true))]);
    assert!(
        differences(
            &base,
            &Schema::from([("t".to_owned(), table("text", false, true))])
        )
        .is_empty()
    );
    let other = Schema::from([("t".to_owned(), table("integer", true, false))]);
    let found = differences(&base, &other);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("t.created_at:"), "{found:?}");
    assert!(found[1].contains("only on SQLite"), "{found:?}");
}

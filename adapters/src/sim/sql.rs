//! A SQL-database approval system (a county-level 审批系统 on a legacy database): pinyin-initial
//! table and column names, legacy code tables, times in three formats (text `YYYYMMDDhhmmss`,
//! text `YYYY-MM-DD hh:mm:ss`, and real timestamps), an update time `GXSJ` stamped by an hourly
//! sync batch (so that many rows share a watermark), a view with a Chinese name, and a table for
//! applications handed over by the platform, with a column named like a keyword (`DESC`).
//!
//! `load` writes the same schema and data to SQLite, PostgreSQL, MySQL/MariaDB or SQL Server
//! (where `SP_BJXX` also gets a `rowversion` column, `RV`), chosen by URL; rows are generated one
//! chunk at a time and inserted with multi-row statements inside transactions, so millions of
//! cases fit in bounded memory. `touch` changes cases as the system's users would. This system
//! has no fault injection: the SQL drivers' resilience is exercised against unreachable servers
//! and missing tables.

use super::beijing;
use super::data::{self, LegacyCase, State};
use crate::mssql::Tds;
use crate::resilience::ResilienceConfig;
use crate::sql::Connection;
use crate::sql::pool::Pools;
use crate::sql::query::{self, Binder, Column, Dialect, Kind, Statement};
use crate::{AdapterError, SqlValue};

/// 审批办件信息: one row per case.
pub const CASES: &str = "SP_BJXX";
/// 网上申请信息: applications inserted by the platform (front-end migration).
pub const APPLICATIONS: &str = "WS_SQXX";
/// 已办结办件: a view of the finished cases.
pub const FINISHED_VIEW: &str = "V_已办结办件";

/// Rows per transaction.
const ROWS_PER_TRANSACTION: usize = 10_000;

/// A column type, written per dialect.
#[derive(Debug, Clone, Copy)]
enum Type {
    Text(u32),
    Int,
    /// `DECIMAL(10,2)`.
    Money,
    Timestamp,
}

struct Spec {
    name: &'static str,
    columns: &'static [(&'static str, Type, bool)],
    primary_key: &'static str,
}

use Type::{Int, Money, Text, Timestamp};

const CASE_TABLE: Spec = Spec {
    name: CASES,
    // (column, type, NOT NULL)
    columns: &[
        ("SBLSH", Text(32), true),   // 申办流水号
        ("SXBM", Text(50), true),    // 事项编码 (实施编码)
        ("SXMC", Text(200), true),   // 事项名称
        ("SQRLX", Text(1), true),    // 申请人类型: 1 自然人, 2 法人
        ("SQRMC", Text(100), true),  // 申请人名称
        ("SQRZJLX", Text(3), true),  // 申请人证件类型 (DM_ZJLX)
        ("SQRZJHM", Text(18), true), // 申请人证件号码
        ("LXDH", Text(20), false),   // 联系电话
        ("XZQHDM", Text(12), true),  // 行政区划代码
        ("SLBM", Text(100), true),   // 受理部门
        ("SLBMDM", Text(18), true),  // 受理部门统一社会信用代码
        ("SLRXM", Text(30), false),  // 受理人姓名
        ("SQSJ", Text(14), true),    // 申请时间, YYYYMMDDhhmmss
        ("SLSJ", Text(19), false),   // 受理时间, YYYY-MM-DD hh:mm:ss
        ("BJSJ", Timestamp, false),  // 办结时间
        ("CNBJSX", Int, true),       // 承诺办结时限 (工作日)
        ("SFJE", Money, true),       // 收费金额 (元)
        ("BLZT", Text(2), true),     // 办理状态 (DM_BLZT)
        ("BJJGDM", Text(1), false),  // 办结结果代码 (DM_BJJG)
        ("SPYJ", Text(1000), false), // 审批意见
        ("SPRXM", Text(30), false),  // 审批人姓名
        ("ZZBH", Text(50), false),   // 证照编号
        ("GXSJ", Timestamp, true),   // 更新时间 (hourly sync batch)
        ("BBH", Int, true),          // 版本号
    ],
    primary_key: "SBLSH",
};

const APPLICATION_TABLE: Spec = Spec {
    name: APPLICATIONS,
    columns: &[
        ("SQBH", Text(50), true),     // 申请编号
        ("SXBM", Text(50), false),    // 事项编码
        ("SXMC", Text(200), false),   // 事项名称
        ("SQRMC", Text(100), false),  // 申请人名称
        ("SQRZJLX", Text(3), false),  // 申请人证件类型
        ("SQRZJHM", Text(18), false), // 申请人证件号码
        ("LXDH", Text(20), false),    // 联系电话
        ("XZQHDM", Text(12), false),  // 行政区划代码
        ("SQSJ", Timestamp, false),   // 申请时间
        ("DESC", Text(2000), false),  // 申请说明 (a keyword as a column name)
    ],
    primary_key: "SQBH",
};

/// Code tables: (table, rows of (DM 代码, MC 名称)).
const CODE_TABLES: &[(&str, &[(&str, &str)])] = &[
    (
        "DM_BJJG", // 办结结果
        &[
            ("0", "出证办结"),
            ("1", "不予许可"),
            ("2", "作废"),
            ("3", "删除"),
            ("4", "转报"),
            ("5", "退件"),
            ("6", "不予受理"),
        ],
    ),
    (
        "DM_BLZT", // 办理状态
        &[
            ("5", "收件"),
            ("8", "受理"),
            ("9", "不予受理"),
            ("13", "在办"),
            ("15", "办结"),
        ],
    ),
    (
        "DM_ZJLX", // 证件类型 (GA/T 2000.156, and this system's own 001)
        &[
            ("111", "居民身份证"),
            ("414", "普通护照"),
            ("516", "港澳居民来往内地通行证"),
            ("001", "统一社会信用代码"),
        ],
    ),
];

/// The system's 办理状态 and 办结结果代码 for a state.
pub fn state_codes(state: State) -> (&'static str, Option<&'static str>) {
    match state {
        State::Submitted => ("5", None),
        State::Accepted => ("8", None),
        State::UnderReview => ("13", None),
        State::Approved => ("15", Some("0")),
        State::Rejected => ("15", Some("1")),
        State::NotAccepted => ("9", Some("6")),
    }
}

/// `GXSJ`: the hourly batch stamps a change with the next full hour.
fn gxsj(c: &LegacyCase) -> String {
    beijing(
        c.updated_at - c.updated_at.rem_euclid(3600) + 3600,
        "%Y-%m-%d %H:%M:%S",
    )
}

/// `SFJE`: the fee, by time limit (a few values, whose text order is not their numeric order).
fn fee(c: &LegacyCase) -> String {
    format!(
        "{}.{:02}",
        c.time_limit_days * 25 / 2,
        c.time_limit_days * 25 % 2 * 50
    )
}

/// A case as a row of `SP_BJXX`, in column order.
pub fn case_row(c: &LegacyCase) -> Vec<SqlValue> {
    let text = |s: &str| SqlValue::Text(s.to_owned());
    let maybe = |s: Option<String>| s.map_or(SqlValue::Null, SqlValue::Text);
    let (status, result) = state_codes(c.state);
    let finished = c.finished_at.is_some();
    vec![
        text(&c.no),
        text(&c.item_code),
        text(&c.item_name),
        text(if c.applicant_is_company { "2" } else { "1" }),
        text(&c.applicant_name),
        text(if c.applicant_is_company { "001" } else { "111" }),
        text(&c.applicant_cert_no),
        text(&c.phone),
        text(&c.region),
        text(&c.department),
        text(&c.department_uscc),
        maybe(c.accepted_at.map(|_| c.acceptor.clone())),
        text(&beijing(c.applied_at, "%Y%m%d%H%M%S")),
        maybe(c.accepted_at.map(|t| beijing(t, "%Y-%m-%d %H:%M:%S"))),
        maybe(c.finished_at.map(|t| beijing(t, "%Y-%m-%d %H:%M:%S"))),
        SqlValue::Int(c.time_limit_days.into()),
        text(&fee(c)),
        text(status),
        maybe(result.map(str::to_owned)),
        maybe(c.opinion.clone()),
        maybe(finished.then(|| c.acceptor.clone())),
        maybe(c.certificate_no.clone()),
        text(&gxsj(c)),
        SqlValue::Int(c.version),
    ]
}

fn type_sql(dialect: Dialect, t: Type) -> String {
    match (dialect, t) {
        // SQL Server keeps Chinese only in national character types.
        (Dialect::Mssql, Text(n)) => format!("NVARCHAR({n})"),
        (_, Text(n)) => format!("VARCHAR({n})"),
        (Dialect::MySql, Int) => "INT".to_owned(),
        (_, Int) => "INTEGER".to_owned(),
        (_, Money) => "DECIMAL(10,2)".to_owned(),
        (Dialect::Sqlite, Timestamp) => "DATETIME".to_owned(),
        (Dialect::Postgres, Timestamp) => "TIMESTAMP(0)".to_owned(),
        (Dialect::MySql, Timestamp) => "DATETIME".to_owned(),
        (Dialect::Mssql, Timestamp) => "DATETIME2(0)".to_owned(),
    }
}

/// The columns of a table as the driver's query builder wants them for inserts.
fn columns(dialect: Dialect, spec: &Spec) -> Vec<Column> {
    spec.columns
        .iter()
        .map(|(name, t, not_null)| Column {
            name: (*name).to_owned(),
            data_type: type_sql(dialect, *t),
            nullable: !not_null,
            kind: dialect.kind(&type_sql(dialect, *t)),
            cast: match (dialect, t) {
                (Dialect::Postgres, Timestamp) => Some("timestamp".to_owned()),
                (Dialect::Postgres, Int) => Some("integer".to_owned()),
                (Dialect::Postgres, Money) => Some("numeric".to_owned()),
                (Dialect::Postgres, Text(_)) => Some("varchar".to_owned()),
                _ => None,
            },
        })
        .collect()
}

fn create_table(dialect: Dialect, spec: &Spec) -> String {
    let mut lines: Vec<String> = spec
        .columns
        .iter()
        .map(|(name, t, not_null)| {
            let null = if *not_null { " NOT NULL" } else { "" };
            format!("{} {}{null}", dialect.quote(name), type_sql(dialect, *t))
        })
        .collect();
    lines.push(format!("PRIMARY KEY ({})", dialect.quote(spec.primary_key)));
    let options = match dialect {
        Dialect::MySql => " DEFAULT CHARSET=utf8mb4",
        _ => "",
    };
    format!(
        "CREATE TABLE {} ({}){options}",
        dialect.quote(spec.name),
        lines.join(", ")
    )
}

fn plain(sql: String) -> Statement {
    Statement {
        sql,
        params: Vec::new(),
    }
}

/// The schema, in creation order (code tables, cases, applications; the view and the index
/// come after the data).
fn schema(dialect: Dialect) -> Vec<String> {
    let q = |name: &str| dialect.quote(name);
    let mut statements = vec![format!("DROP VIEW IF EXISTS {}", q(FINISHED_VIEW))];
    let tables = CODE_TABLES.iter().map(|(t, _)| *t).chain([CASES, APPLICATIONS]);
    statements.extend(tables.map(|t| format!("DROP TABLE IF EXISTS {}", q(t))));
    for (table, _) in CODE_TABLES {
        statements.push(format!(
            "CREATE TABLE {} ({} VARCHAR(4) NOT NULL PRIMARY KEY, {} VARCHAR(50) NOT NULL){}",
            q(table),
            q("DM"),
            q("MC"),
            if dialect == Dialect::MySql {
                " DEFAULT CHARSET=utf8mb4"
            } else {
                ""
            }
        ));
    }
    statements.push(create_table(dialect, &CASE_TABLE));
    statements.push(create_table(dialect, &APPLICATION_TABLE));
    statements
}

/// A writable connection to the database at `url`: one, so that transactions and session
/// settings hold across statements.
fn connect(url: &str) -> Result<Box<dyn Connection>, AdapterError> {
    let one = ResilienceConfig {
        max_concurrency: 1,
        ..ResilienceConfig::default()
    };
    Ok(match url.starts_with("mssql:") || url.starts_with("sqlserver:") {
        true => Box::new(Tds::open(url, false, &one)?),
        false => Box::new(Pools::open(url, false, &one)?),
    })
}

/// Rows per multi-row `INSERT`: 500, or fewer where the parameter limit is lower (SQL Server
/// takes 2100 parameters).
fn rows_per_insert(dialect: Dialect, columns: usize) -> usize {
    let limit = match dialect {
        Dialect::Mssql => 2_000,
        _ => 30_000,
    };
    (limit / columns).clamp(1, 500)
}

fn code_column(name: &str, dialect: Dialect, length: u32) -> Column {
    Column {
        name: name.to_owned(),
        data_type: type_sql(dialect, Text(length)),
        nullable: false,
        kind: Kind::Text,
        cast: None,
    }
}

/// Writes the system's schema and `count` cases of the series `seed` to the database at
/// `url` (`sqlite://PATH`, created if missing; `postgres://…`; `mysql://…`; `mssql://…`),
/// replacing the simulator's tables if they exist.
pub async fn load(url: &str, seed: u64, count: usize) -> Result<(), AdapterError> {
    load_spaced(url, seed, count, data::SPACING_SECONDS).await
}

/// `load` with the cases `spacing` seconds apart (`data::history_spacing` fits a long history
/// into the past).
pub async fn load_spaced(url: &str, seed: u64, count: usize, spacing: i64) -> Result<(), AdapterError> {
    let url = match url.starts_with("sqlite:") && !url.contains('?') {
        true => format!("{url}?mode=rwc"),
        false => url.to_owned(),
    };
    let db = connect(&url)?;
    let dialect = db.dialect();
    let run = |sql: String| {
        let db = &db;
        async move { db.execute(&plain(sql)).await }
    };
    if dialect == Dialect::Sqlite {
        // A generated file: losing it in a crash costs a rerun.
        run("PRAGMA synchronous = OFF".to_owned()).await?;
    }
    for statement in schema(dialect) {
        run(statement).await?;
    }
    let code_columns = [code_column("DM", dialect, 4), code_column("MC", dialect, 50)];
    let refs: Vec<&Column> = code_columns.iter().collect();
    for (table, codes) in CODE_TABLES {
        let rows = codes
            .iter()
            .map(|(dm, mc)| vec![SqlValue::Text((*dm).to_owned()), SqlValue::Text((*mc).to_owned())])
            .collect();
        db.execute(&query::insert(dialect, &dialect.quote(table), &refs, rows))
            .await?;
    }
    let case_columns = columns(dialect, &CASE_TABLE);
    let refs: Vec<&Column> = case_columns.iter().collect();
    let from = dialect.quote(CASES);
    // SQL Server runs every statement through sp_executesql, which refuses to return with a
    // transaction open (error 266): there each multi-row insert commits on its own.
    let transaction = match dialect {
        Dialect::MySql => Some(("START TRANSACTION", "COMMIT")),
        Dialect::Mssql => None,
        _ => Some(("BEGIN", "COMMIT")),
    };
    let chunk = rows_per_insert(dialect, refs.len());
    for batch in (0..count).step_by(ROWS_PER_TRANSACTION) {
        if let Some((begin, _)) = transaction {
            run(begin.to_owned()).await?;
        }
        let end = (batch + ROWS_PER_TRANSACTION).min(count);
        for start in (batch..end).step_by(chunk) {
            let rows = (start..(start + chunk).min(end))
                .map(|i| case_row(&data::case_spaced(seed, i, spacing)))
                .collect();
            db.execute(&query::insert(dialect, &from, &refs, rows)).await?;
        }
        if let Some((_, commit)) = transaction {
            run(commit.to_owned()).await?;
        }
    }
    let q = |name: &str| dialect.quote(name);
    run(format!(
        "CREATE INDEX {} ON {from} ({}, {})",
        q("IDX_SP_BJXX_GXSJ"),
        q("GXSJ"),
        q("SBLSH")
    ))
    .await?;
    if dialect == Dialect::Mssql {
        run(format!("ALTER TABLE {from} ADD {} rowversion", q("RV"))).await?;
    }
    // Statistics, as a database in service has them, so that plans use the index.
    run(match dialect {
        Dialect::Sqlite => "ANALYZE".to_owned(),
        Dialect::Postgres => format!("ANALYZE {from}"),
        Dialect::MySql => format!("ANALYZE TABLE {from}"),
        Dialect::Mssql => format!("UPDATE STATISTICS {from}"),
    })
    .await?;
    let view_columns = ["SBLSH", "SXMC", "SQRMC", "BJSJ", "BJJGDM", "GXSJ"]
        .map(q)
        .join(", ");
    run(format!(
        "CREATE VIEW {} AS SELECT {view_columns} FROM {from} WHERE {} IS NOT NULL",
        q(FINISHED_VIEW),
        q("BJSJ"),
    ))
    .await?;
    Ok(())
}

/// Changes cases as the system's users would: each gets `GXSJ` = `at` (`YYYY-MM-DD hh:mm:ss`)
/// and its next version (and, on SQL Server, a new `rowversion`).
pub async fn touch(url: &str, case_numbers: &[&str], at: &str) -> Result<(), AdapterError> {
    let db = connect(url)?;
    let dialect = db.dialect();
    let columns = columns(dialect, &CASE_TABLE);
    let column = |name: &str| columns.iter().find(|c| c.name == name);
    let (Some(gxsj), Some(sblsh)) = (column("GXSJ"), column("SBLSH")) else {
        unreachable!("SP_BJXX has GXSJ and SBLSH")
    };
    for no in case_numbers {
        let mut binder = Binder::new(dialect);
        let stamp = binder.bind(SqlValue::Text(at.to_owned()), Some(gxsj));
        let key = binder.bind(SqlValue::Text((*no).to_owned()), Some(sblsh));
        let sql = format!(
            "UPDATE {} SET {g} = {stamp}, {v} = {v} + 1 WHERE {k} = {key}",
            dialect.quote(CASES),
            g = dialect.quote("GXSJ"),
            v = dialect.quote("BBH"),
            k = dialect.quote("SBLSH"),
        );
        db.execute(&binder.finish(sql)).await?;
    }
    Ok(())
}

/// The adapter config an engineer writes for this system at `url`: cases by `GXSJ` then
/// `SBLSH`, and applications into `WS_SQXX` (read-only, so refused until `read_only = false`).
pub fn adapter_config(url: &str, page_size: u32) -> String {
    format!(
        r#"# 审批办件系统 (SQL simulator)
type = "sql"
url = "{url}"
table = "{CASES}"
key = "SBLSH"
watermark = "GXSJ"
window_format = "%Y-%m-%d %H:%M:%S"
page_size = {page_size}

[submit]
table = "{APPLICATIONS}"
id = "SQBH"

[submit.columns]
SQBH = "/applicationNo"
SXBM = "/itemCode"
SXMC = "/itemName"
SQRMC = "/applicant/name"
SQRZJLX = "/applicant/idType"
SQRZJHM = "/applicant/idNo"
LXDH = "/applicant/mobile"
XZQHDM = "/areaCode"
SQSJ = "/appliedAt"
DESC = "/description"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_the_schema_and_the_code_tables() {
        let cases = data::cases(3, 200);
        for c in &cases {
            let row = case_row(c);
            assert_eq!(row.len(), CASE_TABLE.columns.len());
            for ((name, _, not_null), value) in CASE_TABLE.columns.iter().zip(&row) {
                assert!(
                    !(*not_null && *value == SqlValue::Null),
                    "{name} of {} is null",
                    c.no
                );
            }
            let (status, result) = state_codes(c.state);
            for (table, code) in [("DM_BLZT", Some(status)), ("DM_BJJG", result)] {
                if let Some(code) = code {
                    let (_, codes) = CODE_TABLES.iter().find(|(t, _)| *t == table).unwrap();
                    assert!(codes.iter().any(|(dm, _)| *dm == code), "{table} {code}");
                }
            }
        }
        let stamps: Vec<String> = cases.iter().map(gxsj).collect();
        assert!(stamps.iter().all(|s| s.ends_with(":00:00")));
        let mut distinct = stamps.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() < stamps.len(), "the hourly batch makes ties");
    }

    #[test]
    fn the_schema_quotes_every_name() {
        let ddl = create_table(Dialect::MySql, &APPLICATION_TABLE);
        assert!(ddl.contains("`DESC` VARCHAR(2000)"), "{ddl}");
        let ddl = create_table(Dialect::Postgres, &CASE_TABLE);
        assert!(
            ddl.starts_with(r#"CREATE TABLE "SP_BJXX" ("SBLSH" VARCHAR(32) NOT NULL"#),
            "{ddl}"
        );
        assert!(
            ddl.contains(r#""GXSJ" TIMESTAMP(0) NOT NULL"#) && ddl.ends_with(r#"PRIMARY KEY ("SBLSH"))"#)
        );
    }
}

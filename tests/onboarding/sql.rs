//! A wide SQLite table with pinyin-initial columns, numeric status codes explained by a separate
//! code table, the result in its own column, and the department's division code in a column
//! whose name reads as the department's code.

use sqlx::Connection as _;

use super::cases::{Case, Status, beijing};

const TIME: &str = "%Y-%m-%d %H:%M:%S";

/// The status codes, as the code table `DM_BJZT` explains them.
const STATUS_CODES: &[(i64, &str)] = &[
    (1, "待受理"),
    (2, "补正材料"),
    (3, "已受理"),
    (4, "办理中"),
    (5, "已办结"),
    (6, "不予受理"),
];

fn status_code(status: Status) -> i64 {
    match status {
        Status::Submitted => 1,
        Status::Correction => 2,
        Status::Accepted => 3,
        Status::InReview => 4,
        Status::Approved | Status::Rejected => 5,
        Status::NotAccepted => 6,
    }
}

const CREATE: &str = r#"
CREATE TABLE DM_BJZT (DM INTEGER PRIMARY KEY, MC TEXT NOT NULL);
CREATE TABLE T_SP_BJXX (
    BJBH TEXT PRIMARY KEY, SXBM TEXT NOT NULL, SXMC TEXT NOT NULL, XZQHDM TEXT NOT NULL,
    SQRMC TEXT NOT NULL, SQRLX TEXT NOT NULL, ZJLX TEXT NOT NULL, ZJHM TEXT NOT NULL,
    LXDH TEXT, TXDZ TEXT, BLXS INTEGER NOT NULL, SQSJ TEXT NOT NULL,
    SLBM TEXT NOT NULL, SLBMDM TEXT NOT NULL, SLDWXYDM TEXT NOT NULL, SLR TEXT, SLSJ TEXT,
    CNSX INTEGER NOT NULL, ZT INTEGER NOT NULL, SPYJ TEXT, BJJG TEXT, JGMS TEXT, BJSJ TEXT,
    BJR TEXT, ZZBH TEXT, GXSJ TEXT NOT NULL, CJR TEXT NOT NULL, CJSJ TEXT NOT NULL,
    SFYX TEXT NOT NULL, BZ TEXT
);"#;

/// Writes `cases` into a new SQLite file at `path`; the adapter config that reads them.
pub(crate) async fn load(path: &std::path::Path, cases: &[Case]) -> String {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(CREATE).execute(&mut db).await.unwrap();
    for (code, label) in STATUS_CODES {
        sqlx::query("INSERT INTO DM_BJZT VALUES (?, ?)")
            .bind(code)
            .bind(label)
            .execute(&mut db)
            .await
            .unwrap();
    }
    let mut tx = db.begin().await.unwrap();
    for c in cases {
        let time = |at: Option<i64>| at.map(|t| beijing(t, TIME));
        let result = match c.status {
            Status::Approved => Some("准予许可"),
            Status::Rejected => Some("不予许可"),
            Status::NotAccepted => Some("不予受理"),
            _ => None,
        };
        sqlx::query(
            "INSERT INTO T_SP_BJXX VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.no)
        .bind(&c.item_code)
        .bind(c.item_name)
        .bind(c.region)
        .bind(&c.applicant)
        .bind(if c.company { "企业" } else { "个人" })
        .bind(if c.company { "02" } else { "01" })
        .bind(&c.certificate_no)
        .bind(&c.phone)
        .bind(&c.address)
        .bind(if c.online { 2 } else { 1 })
        .bind(beijing(c.applied_at, TIME))
        .bind(c.department)
        .bind(c.department_region)
        .bind(&c.department_uscc)
        .bind(c.acceptor)
        .bind(time(c.accepted_at))
        .bind(c.time_limit_days)
        .bind(status_code(c.status))
        .bind(c.opinion)
        .bind(result)
        .bind(c.reason)
        .bind(time(c.finished_at))
        .bind(c.handler)
        .bind(&c.licence_no)
        .bind(beijing(c.updated_at, TIME))
        .bind(c.created_by)
        .bind(beijing(c.applied_at, TIME))
        .bind("1")
        .bind(None::<String>)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    format!(
        r#"type = "sql"
url = "sqlite://{}"
table = "T_SP_BJXX"
key = "BJBH"
watermark = "GXSJ"
page_size = 100
"#,
        path.display()
    )
}

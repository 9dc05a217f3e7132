//! A county ledger in SQLite with no applicant-kind column: the kind must be derived from the
//! certificate type, whose numeric codes the table `DM_ZJLX` explains (with passports, which no
//! certificate number gives away); an ethnic-group table `DM_MZ` that also holds those
//! codes, with fewer extra entries, comes first. The contact column `LXFS` mixes mobiles and
//! landlines under a name no vocabulary knows, while `SJHM` (收件号码, a receipt number) reads
//! as 手机号码.

use sqlx::Connection as _;

use super::cases::{Case, beijing};

const TIME: &str = "%Y-%m-%d %H:%M:%S";

const CREATE: &str = r#"
CREATE TABLE DM_MZ (DM INTEGER PRIMARY KEY, MC TEXT NOT NULL);
CREATE TABLE DM_ZJLX (DM INTEGER PRIMARY KEY, MC TEXT NOT NULL);
CREATE TABLE T_XT_BJTZ (
    BJBH TEXT PRIMARY KEY, SXBM TEXT NOT NULL, SXMC TEXT NOT NULL, XZQHDM TEXT NOT NULL,
    SQRMC TEXT NOT NULL, ZJLX INTEGER NOT NULL, ZJHM TEXT NOT NULL, LXFS TEXT, SJHM TEXT NOT NULL,
    TXDZ TEXT, BLXS INTEGER NOT NULL, SQSJ TEXT NOT NULL, SLBM TEXT NOT NULL, SLDWXYDM TEXT NOT NULL,
    SLR TEXT, SLSJ TEXT, CNSX INTEGER NOT NULL, BJZT TEXT NOT NULL, SPYJ TEXT, BJJG TEXT,
    JGMS TEXT, BJSJ TEXT, BJR TEXT, ZZBH TEXT, GXSJ TEXT NOT NULL
);"#;

/// The ledger's certificate types (code, label); the ethnic groups' (code, label).
const CERTIFICATE_TYPES: &[(i64, &str)] = &[
    (1, "居民身份证"),
    (2, "统一社会信用代码"),
    (3, "护照"),
    (4, "港澳居民来往内地通行证"),
    (9, "其他证件"),
];
const ETHNIC_GROUPS: &[(i64, &str)] = &[(1, "汉族"), (2, "苗族"), (3, "布依族")];

/// The passport number of a person who applied with one: one valid natural person in five
/// (an invalid case keeps its broken resident ID).
fn passport(c: &Case) -> Option<String> {
    (!c.company && c.valid && c.version == 1).then(|| format!("E{}", &c.no[c.no.len() - 8..]))
}

/// The contact number as the ledger writes it: a landline with its area code for a company,
/// with or without the dash, a mobile for a person.
fn contact(c: &Case) -> String {
    match (c.company, c.version % 2) {
        (true, 0) => format!("0851-8{}", &c.phone[4..]),
        (true, _) => format!("08518{}", &c.phone[4..]),
        (false, _) => c.phone.clone(),
    }
}

/// Writes `cases` into a new SQLite file at `path`; the adapter config that reads them.
pub(crate) async fn load(path: &std::path::Path, cases: &[Case]) -> String {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(CREATE).execute(&mut db).await.unwrap();
    for (insert, rows) in [
        ("INSERT INTO DM_MZ VALUES (?, ?)", ETHNIC_GROUPS),
        ("INSERT INTO DM_ZJLX VALUES (?, ?)", CERTIFICATE_TYPES),
    ] {
        for (code, label) in rows {
            sqlx::query(insert)
                .bind(code)
                .bind(label)
                .execute(&mut db)
                .await
                .unwrap();
        }
    }
    let mut tx = db.begin().await.unwrap();
    for (i, c) in cases.iter().enumerate() {
        let time = |at: Option<i64>| at.map(|t| beijing(t, TIME));
        let result = match c.status {
            super::cases::Status::Approved => Some("准予许可"),
            super::cases::Status::Rejected => Some("不予许可"),
            super::cases::Status::NotAccepted => Some("不予受理"),
            _ => None,
        };
        let (certificate_type, certificate_no) = match (passport(c), c.company) {
            (Some(number), _) => (3, number),
            (None, true) => (2, c.certificate_no.clone()),
            (None, false) => (1, c.certificate_no.clone()),
        };
        sqlx::query(
            "INSERT INTO T_XT_BJTZ VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.no)
        .bind(&c.item_code)
        .bind(c.item_name)
        .bind(c.region)
        .bind(&c.applicant)
        .bind(certificate_type)
        .bind(certificate_no)
        .bind(contact(c))
        .bind(format!("SJ2025{:06}", i + 1))
        .bind(&c.address)
        .bind(if c.online { 2 } else { 1 })
        .bind(beijing(c.applied_at, TIME))
        .bind(c.department)
        .bind(&c.department_uscc)
        .bind(c.acceptor)
        .bind(time(c.accepted_at))
        .bind(c.time_limit_days)
        .bind(c.status.label())
        .bind(c.opinion)
        .bind(result)
        .bind(c.reason)
        .bind(time(c.finished_at))
        .bind(c.handler)
        .bind(&c.licence_no)
        .bind(beijing(c.updated_at, TIME))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    format!(
        r#"type = "sql"
url = "sqlite://{}"
table = "T_XT_BJTZ"
key = "BJBH"
watermark = "GXSJ"
page_size = 100
"#,
        path.display()
    )
}

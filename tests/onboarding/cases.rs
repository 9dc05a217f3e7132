//! Seeded cases for the onboarding schemas, in neutral terms: each schema writes them in its own
//! shape, names and codes (the REST and SOAP ones from a server `listen`ing on loopback). Identifiers carry valid check digits (GB 11643, GB 32100); a few
//! cases carry a resident ID with a broken one, as real legacy data does, and are not valid.

use ronghe_adapters::sim::data::{resident_id_check, uscc_check};

/// 2025-01-06T00:00:00+08:00, seconds since the epoch.
const START: i64 = 1_736_092_800;
const HOUR: i64 = 3600;

/// Where a case stands, with the Chinese status label legacy systems write for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Submitted,
    Correction,
    Accepted,
    InReview,
    Approved,
    Rejected,
    NotAccepted,
}

impl Status {
    pub(crate) const ALL: [Status; 7] = [
        Status::Submitted,
        Status::Correction,
        Status::Accepted,
        Status::InReview,
        Status::Approved,
        Status::Rejected,
        Status::NotAccepted,
    ];

    /// The label a system that writes one status per outcome uses.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Status::Submitted => "待受理",
            Status::Correction => "补正材料",
            Status::Accepted => "已受理",
            Status::InReview => "办理中",
            Status::Approved => "准予许可",
            Status::Rejected => "不予许可",
            Status::NotAccepted => "不予受理",
        }
    }

    pub(crate) fn accepted(self) -> bool {
        matches!(
            self,
            Status::Accepted | Status::InReview | Status::Approved | Status::Rejected
        )
    }

    pub(crate) fn finished(self) -> bool {
        matches!(self, Status::Approved | Status::Rejected | Status::NotAccepted)
    }
}

/// One case as the department knows it. Times are seconds since the epoch.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) no: String,
    pub(crate) version: u32,
    pub(crate) item_code: String,
    pub(crate) item_name: &'static str,
    pub(crate) company: bool,
    pub(crate) applicant: String,
    pub(crate) certificate_no: String,
    pub(crate) phone: String,
    pub(crate) address: String,
    pub(crate) region: &'static str,
    pub(crate) online: bool,
    pub(crate) department: &'static str,
    pub(crate) department_uscc: String,
    pub(crate) department_region: &'static str,
    pub(crate) applied_at: i64,
    pub(crate) acceptor: Option<&'static str>,
    pub(crate) accepted_at: Option<i64>,
    pub(crate) time_limit_days: u32,
    pub(crate) status: Status,
    pub(crate) opinion: Option<&'static str>,
    pub(crate) finished_at: Option<i64>,
    pub(crate) handler: Option<&'static str>,
    pub(crate) reason: Option<&'static str>,
    pub(crate) licence_no: Option<String>,
    pub(crate) updated_at: i64,
    pub(crate) created_by: &'static str,
    /// Whether every identifier is well formed: only valid cases must map.
    pub(crate) valid: bool,
}

const COUNTIES: &[&str] = &[
    "520102", "520103", "520111", "520112", "520113", "520115", "520121", "520181",
];
const ITEMS: &[&str] = &[
    "餐饮服务许可",
    "道路运输经营许可",
    "建设工程规划许可",
    "排水许可",
    "取水许可",
];
const SURNAMES: &[&str] = &["张", "王", "李", "赵", "陈", "杨", "吴", "刘", "龙", "潘"];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰",
];
const FIRMS: &[&str] = &[
    "黔味食品有限公司",
    "乌江运输有限责任公司",
    "苗岭建设有限公司",
    "云雾水务有限公司",
];
const STAFF: &[&str] = &["何平", "罗敏", "韦强", "田芳"];
const DEPARTMENTS: &[(&str, &str)] = &[
    ("贵阳市交通运输局", "520100"),
    ("贵阳市水务管理局", "520100"),
    ("南明区市场监督管理局", "520102"),
    ("花溪区自然资源局", "520111"),
];
const REASONS: &[&str] = &["材料不齐全", "不符合法定条件", "不属于本机关职权范围"];

/// A name of two or three characters.
fn person(rng: &mut fastrand::Rng) -> String {
    let mut name = SURNAMES[rng.usize(..SURNAMES.len())].to_owned();
    for _ in 0..rng.usize(1..=2) {
        name.push_str(GIVEN[rng.usize(..GIVEN.len())]);
    }
    name
}

fn digits(rng: &mut fastrand::Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.u8(0..10))).collect()
}

/// A resident ID born 1960–2000 in `region`.
fn resident_id(rng: &mut fastrand::Rng, region: &str) -> String {
    let body = format!(
        "{region}{}{:02}{:02}{}",
        rng.u32(1960..2000),
        rng.u32(1..13),
        rng.u32(1..29),
        digits(rng, 3)
    );
    format!("{body}{}", resident_id_check(&body))
}

/// A credit code of an enterprise (`91`) or an organ (`11`) in `region`.
pub(crate) fn uscc(rng: &mut fastrand::Rng, prefix: &str, region: &str) -> String {
    let body = format!("{prefix}{region}{}", digits(rng, 9));
    format!("{body}{}", uscc_check(&body))
}

/// `count` cases from `seed`, in case-number order.
pub(crate) fn cases(seed: u64, count: usize) -> Vec<Case> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let department_codes: Vec<String> = DEPARTMENTS
        .iter()
        .map(|(_, region)| uscc(&mut rng, "11", region))
        .collect();
    (0..count)
        .map(|i| {
            let status = Status::ALL[rng.usize(..Status::ALL.len())];
            let region = COUNTIES[rng.usize(..COUNTIES.len())];
            let company = rng.u8(0..10) < 3;
            let mut certificate_no = if company {
                uscc(&mut rng, "91", region)
            } else {
                resident_id(&mut rng, region)
            };
            // One case in thirty carries a resident ID with a wrong check digit.
            let valid = company || rng.u8(0..30) != 0;
            if !valid {
                let last = if certificate_no.ends_with('0') { '1' } else { '0' };
                certificate_no.pop();
                certificate_no.push(last);
            }
            let d = rng.usize(..DEPARTMENTS.len());
            let applied_at = START + i as i64 * 7 * HOUR + rng.i64(0..HOUR);
            let accepted_at = status.accepted().then(|| applied_at + rng.i64(1..48) * HOUR);
            let finished_at = status
                .finished()
                .then(|| accepted_at.unwrap_or(applied_at) + rng.i64(24..240) * HOUR);
            let updated_at = finished_at.or(accepted_at).unwrap_or(applied_at) + rng.i64(60..HOUR);
            let item = rng.usize(..ITEMS.len());
            Case {
                no: format!("{}{:06}", 2025, 10_000 + i * 7),
                version: rng.u32(1..6),
                item_code: format!("11520100MB{:04}{:03}K{}", 1700 + item, item, 2001 + item),
                item_name: ITEMS[item],
                company,
                applicant: if company {
                    FIRMS[rng.usize(..FIRMS.len())].to_owned()
                } else {
                    person(&mut rng)
                },
                certificate_no,
                phone: format!("1{}{}", [3, 5, 8][rng.usize(..3)], digits(&mut rng, 9)),
                address: format!(
                    "贵州省贵阳市{}路{}号",
                    ["中华", "宝山", "北京", "延安"][rng.usize(..4)],
                    rng.u32(1..300)
                ),
                region,
                online: rng.bool(),
                department: DEPARTMENTS[d].0,
                department_uscc: department_codes[d].clone(),
                department_region: DEPARTMENTS[d].1,
                applied_at,
                acceptor: status.accepted().then(|| STAFF[rng.usize(..STAFF.len())]),
                accepted_at,
                time_limit_days: [5, 10, 20][rng.usize(..3)],
                status,
                opinion: match status {
                    Status::Approved => Some("材料齐全，符合法定条件，同意"),
                    Status::Rejected => Some("经审查不符合法定条件"),
                    Status::InReview => Some("审查中").filter(|_| rng.bool()),
                    _ => None,
                },
                finished_at,
                handler: status.finished().then(|| STAFF[rng.usize(..STAFF.len())]),
                reason: matches!(status, Status::Rejected | Status::NotAccepted)
                    .then(|| REASONS[rng.usize(..REASONS.len())]),
                licence_no: (status == Status::Approved).then(|| format!("黔证{}", digits(&mut rng, 8))),
                updated_at,
                created_by: STAFF[rng.usize(..STAFF.len())],
                valid,
            }
        })
        .collect()
}

/// The adapter a schema's `config` builds, as `adapters attach` would build it.
pub(crate) async fn adapter(config: &str) -> Box<dyn ronghe_adapters::Adapter> {
    ronghe_adapters::AdapterConfig::from_toml(config)
        .expect("the schema's adapter config parses")
        .validate()
        .expect("the schema's adapter config is valid")
        .build(&ronghe_adapters::Fixed::default())
        .await
        .expect("the driver builds")
}

/// Serves `records` at `path` on a loopback port until the runtime ends; its address.
pub(crate) async fn listen<T: Send + Sync + 'static>(
    path: &str,
    route: axum::routing::MethodRouter<std::sync::Arc<Vec<T>>>,
    records: Vec<T>,
) -> std::net::SocketAddr {
    let app = axum::Router::new()
        .route(path, route)
        .with_state(std::sync::Arc::new(records));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// A time in Beijing time written with `format`.
pub(crate) fn beijing(at: i64, format: &str) -> String {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset");
    chrono::DateTime::from_timestamp(at, 0)
        .expect("fixture times are in range")
        .with_timezone(&offset)
        .format(format)
        .to_string()
}

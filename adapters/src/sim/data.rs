//! Seeded, deterministic legacy cases for the simulators: the same seed and count always give
//! the same cases. Identifiers are valid (GB 11643 resident IDs, GB 32100 credit codes) and
//! regions are Guizhou counties from the project's division list. Codes are the legacy
//! systems' own, which the mappings must translate.

use std::sync::LazyLock;

/// One case as a departmental system stores it, before any system-specific shaping.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyCase {
    /// 申办流水号, unique per system.
    pub no: String,
    /// Monotonic per case: bumped at every change.
    pub version: i64,
    /// 实施编码.
    pub item_code: String,
    /// 事项名称.
    pub item_name: String,
    pub applicant_name: String,
    /// `true` for an enterprise (credit code), `false` for a person (resident ID).
    pub applicant_is_company: bool,
    pub applicant_cert_no: String,
    pub phone: String,
    /// The applicant's account in this system (`u00001`, …, as `accounts` lists them).
    pub account: String,
    /// Six-digit Guizhou county code.
    pub region: String,
    pub department: String,
    pub department_uscc: String,
    pub acceptor: String,
    /// Seconds since the Unix epoch, Beijing time implied by the shapers.
    pub applied_at: i64,
    pub accepted_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub updated_at: i64,
    /// Promised time limit in working days.
    pub time_limit_days: u32,
    /// Where the case stands, in the simulator's neutral vocabulary.
    pub state: State,
    pub opinion: Option<String>,
    pub certificate_no: Option<String>,
}

/// A case's state; each simulator writes it in its own legacy codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Submitted,
    Accepted,
    UnderReview,
    Approved,
    Rejected,
    NotAccepted,
}

impl State {
    pub fn is_finished(self) -> bool {
        matches!(self, State::Approved | State::Rejected | State::NotAccepted)
    }
}

const ITEMS: &[(&str, &str)] = &[
    ("食品经营许可", "11520000009390240A4520117005000"),
    ("个体工商户设立登记", "11520000009390240A4520117001000"),
    ("药品零售企业许可", "11520000009390240A4520117008000"),
    ("养老保险待遇申领", "11520000MB1563282M4520111002000"),
    ("失业保险金申领", "11520000MB1563282M4520111005000"),
    ("建筑工程施工许可", "11520000009390232E4520112003000"),
];

const SURNAMES: &[&str] = &[
    "张", "王", "李", "赵", "陈", "杨", "吴", "刘", "黄", "周", "欧阳", "龙", "罗", "潘",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超",
];
const COMPANY: &[&str] = &["黔味", "山水", "苗岭", "乌江", "黔南", "云雾", "梵净", "红枫"];
const TRADE: &[&str] = &[
    "食品有限公司",
    "商贸有限责任公司",
    "药房连锁有限公司",
    "建设工程有限公司",
];

/// Guizhou's county-level divisions, from the embedded division list.
static COUNTIES: LazyLock<Vec<(&'static str, &'static str)>> = LazyLock::new(|| {
    include_str!("../../../data/divisions.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let (code, name, _parent, level) = (cols.next()?, cols.next()?, cols.next()?, cols.next()?);
            (code.starts_with("52") && code.len() == 6 && level == "county").then_some((code, name))
        })
        .collect()
});

/// The GB 11643 check character of a 17-digit body.
pub fn resident_id_check(body: &str) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    b"10X98765432"[(sum % 11) as usize] as char
}

/// The GB 32100 check character of a 17-character body.
pub fn uscc_check(body: &str) -> char {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [usize; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
    let sum: usize = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(c, w)| ALPHABET.iter().position(|a| *a == c).unwrap_or(0) * w)
        .sum();
    ALPHABET[(31 - sum % 31) % 31] as char
}

/// 2025-01-01T00:00:00+08:00.
pub const START: i64 = 1_735_660_800;

/// Seconds between consecutive cases of the series.
pub const SPACING_SECONDS: i64 = 600;
/// The last day a history may reach: 2026-10-31T00:00:00+08:00 (every case, finished up to 11
/// days after it was applied for, lies in the past and inside the embedded calendar's years).
const HISTORY_END: i64 = 1_793_376_000;

/// `count` cases from `seed`, in `no` order; `updated_at` grows with the index so that a
/// watermark read sees them in order.
pub fn cases(seed: u64, count: usize) -> Vec<LegacyCase> {
    (0..count).map(|i| case(seed, i)).collect()
}

/// The spacing that fits `count` cases between 2025-01-01 and the end of October 2026: the
/// usual 10 minutes for up to about 96,000 cases, closer for a longer history (a million: 57 s).
pub fn history_spacing(count: usize) -> i64 {
    let count = i64::try_from(count.max(1)).unwrap_or(i64::MAX);
    ((HISTORY_END - START) / count).clamp(1, SPACING_SECONDS)
}

/// Case number `index` of the series `seed` (independent of the others: cheap to stream).
pub fn case(seed: u64, index: usize) -> LegacyCase {
    case_spaced(seed, index, SPACING_SECONDS)
}

/// Case number `index` of the series `seed`, `spacing` seconds after the one before it.
pub fn case_spaced(seed: u64, index: usize, spacing: i64) -> LegacyCase {
    let mut rng = fastrand::Rng::with_seed(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let counties = &*COUNTIES;
    let (region, county) = counties[rng.usize(..counties.len())];
    let (item_name, item_code) = ITEMS[rng.usize(..ITEMS.len())];
    let applicant_is_company = rng.u8(..4) == 0;
    let (applicant_name, applicant_cert_no) = if applicant_is_company {
        let name = format!(
            "贵州{}{}",
            COMPANY[rng.usize(..COMPANY.len())],
            TRADE[rng.usize(..TRADE.len())]
        );
        let body = format!("91{region}MA{:07}", rng.u32(..10_000_000));
        let body = &body[..17];
        (name, format!("{body}{}", uscc_check(body)))
    } else {
        let name = format!(
            "{}{}",
            SURNAMES[rng.usize(..SURNAMES.len())],
            GIVEN[rng.usize(..GIVEN.len())]
        );
        let birth = format!(
            "{}{:02}{:02}",
            rng.u32(1950..2006),
            rng.u32(1..13),
            rng.u32(1..29)
        );
        let body = format!("{region}{birth}{:03}", rng.u32(..1000));
        let check = resident_id_check(&body);
        (name, format!("{body}{check}"))
    };
    let applied_at = START + (index as i64) * spacing + rng.i64(0..spacing);
    let state = match rng.u8(..20) {
        0..=1 => State::Submitted,
        2..=3 => State::Accepted,
        4..=6 => State::UnderReview,
        7..=16 => State::Approved,
        17..=18 => State::Rejected,
        _ => State::NotAccepted,
    };
    let accepted_at =
        (state != State::Submitted && state != State::NotAccepted).then(|| applied_at + rng.i64(600..86_400));
    let finished_at = state
        .is_finished()
        .then(|| accepted_at.unwrap_or(applied_at) + rng.i64(86_400..10 * 86_400));
    let updated_at = finished_at
        .or(accepted_at)
        .unwrap_or(applied_at)
        .max(START + (index as i64) * spacing);
    let opinion = match state {
        State::Approved => Some("材料齐全,符合法定条件,同意".to_owned()),
        State::Rejected => Some("申请材料不符合法定条件,不予许可".to_owned()),
        State::NotAccepted => Some("不属于本机关职权范围,不予受理".to_owned()),
        _ => None,
    };
    let dept_body = format!("11{}00{:09}", &region[..4], rng.u32(..1_000_000_000));
    let dept_body = &dept_body[..17];
    LegacyCase {
        no: format!("{region}{:08}", index + 1),
        account: account_id(index),
        version: match state {
            State::Submitted => 1,
            State::Accepted | State::NotAccepted => 2,
            State::UnderReview => 3,
            _ => 4,
        },
        item_code: item_code.to_owned(),
        item_name: item_name.to_owned(),
        applicant_name,
        applicant_is_company,
        applicant_cert_no,
        phone: format!("1{}{:09}", [3, 5, 8][rng.usize(..3)], rng.u32(..1_000_000_000)),
        region: region.to_owned(),
        department: format!("{county}市场监督管理局"),
        department_uscc: format!("{dept_body}{}", uscc_check(dept_body)),
        acceptor: format!(
            "{}{}",
            SURNAMES[rng.usize(..SURNAMES.len())],
            GIVEN[rng.usize(..GIVEN.len())]
        ),
        applied_at,
        accepted_at,
        finished_at,
        updated_at,
        time_limit_days: [5, 10, 15, 20][rng.usize(..4)],
        state,
        opinion,
        certificate_no: (state == State::Approved).then(|| format!("JY1{region}{:07}", index + 1)),
    }
}

/// A user account of a departmental system: its own login name and password, and the
/// certificate number it was registered with.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyAccount {
    pub account_id: String,
    pub password: String,
    pub name: String,
    pub certificate_no: String,
}

/// The accounts of the applicants of the first `count` cases of `seed` (`u00001`, …), plus
/// the kind of mess real systems hold: the second applicant registered twice (`u00002b`).
/// The account of the applicant of case `index`.
fn account_id(index: usize) -> String {
    format!("u{:05}", index + 1)
}

pub fn accounts(seed: u64, count: usize) -> Vec<LegacyAccount> {
    let mut accounts: Vec<LegacyAccount> = (0..count)
        .map(|i| {
            let c = case(seed, i);
            let account_id = account_id(i);
            LegacyAccount {
                password: format!("pw-{account_id}"),
                account_id,
                name: c.applicant_name,
                certificate_no: c.applicant_cert_no,
            }
        })
        .collect();
    if let Some(second) = accounts.get(1).cloned() {
        accounts.push(LegacyAccount {
            account_id: "u00002b".to_owned(),
            password: "pw-u00002b".to_owned(),
            ..second
        });
    }
    accounts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_history_is_spaced_closer_to_stay_in_the_past() {
        assert_eq!(history_spacing(200), SPACING_SECONDS);
        assert_eq!(history_spacing(0), SPACING_SECONDS);
        assert_eq!(history_spacing(1_000_000), 57);
        for count in [96_000, 1_000_000, 5_000_000] {
            let spacing = history_spacing(count);
            let last = case_spaced(2025, count - 1, spacing);
            // Finished at most 11 days after 2026-10-31: before 2026-11-12, inside 2026.
            assert!(
                last.updated_at < HISTORY_END + 12 * 86_400,
                "{count}: {}",
                last.updated_at
            );
        }
        assert_eq!(case_spaced(9, 41, SPACING_SECONDS), case(9, 41));
    }

    #[test]
    fn same_seed_same_cases_and_valid_identifiers() {
        assert_eq!(cases(7, 50), cases(7, 50));
        assert_ne!(cases(7, 5), cases(8, 5));
        // Published examples: GB 11643's own and a real credit code.
        assert_eq!(resident_id_check("11010519491231002"), 'X');
        assert_eq!(uscc_check("91110000600037341"), 'L');
        let all = cases(1, 500);
        let mut numbers: Vec<_> = all.iter().map(|c| c.no.clone()).collect();
        numbers.dedup();
        assert_eq!(numbers.len(), 500, "case numbers are unique");
        for c in &all {
            assert_eq!(c.applicant_cert_no.len(), 18);
            let (body, check) = c.applicant_cert_no.split_at(17);
            let expected = if c.applicant_is_company {
                uscc_check(body)
            } else {
                resident_id_check(body)
            };
            assert_eq!(check.chars().next(), Some(expected), "{}", c.applicant_cert_no);
            assert!(COUNTIES.iter().any(|(code, _)| *code == c.region));
            assert!(c.updated_at >= c.applied_at);
        }
    }
}

//! How far a panel agrees: Kendall's coefficient of concordance W (with the correction for
//! tied ranks) and the intraclass correlation ICC(2,1) / ICC(2,k) of Shrout & Fleiss (1979).
//! Both are invariant under reordering the raters.

use serde::{Deserialize, Serialize};

/// Kendall's W for m raters ranking n objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concordance {
    /// 0 (no agreement) to 1 (identical rankings).
    pub w: f64,
    pub raters: usize,
    pub objects: usize,
    /// Whether some rater tied objects (the tie correction then applies).
    pub ties: bool,
}

/// Kendall's W from one row of values per rater (higher value = ranked higher; any scale).
/// Tied values get their average rank, and the denominator is corrected for ties:
/// W = 12·S / (m²(n³ − n) − m·ΣT), T = Σ(t³ − t) over each rater's groups of t ties.
/// `None` with fewer than two raters or objects, ragged rows, or when every rater ties
/// everything (W is then undefined).
pub fn kendall_w(rows: &[Vec<f64>]) -> Option<Concordance> {
    let m = rows.len();
    let n = rows.first()?.len();
    if m < 2 || n < 2 || rows.iter().any(|r| r.len() != n) {
        return None;
    }
    let mut rank_sums = vec![0.0; n];
    let mut ties_total = 0.0;
    for row in rows {
        let (ranks, ties) = average_ranks(row);
        ties_total += ties;
        rank_sums.iter_mut().zip(ranks).for_each(|(sum, r)| *sum += r);
    }
    let (m, nf) = (m as f64, n as f64);
    let mean = m * (nf + 1.0) / 2.0;
    let s: f64 = rank_sums.iter().map(|r| (r - mean).powi(2)).sum();
    let denominator = m * m * (nf.powi(3) - nf) - m * ties_total;
    (denominator > 1e-12).then(|| Concordance {
        w: 12.0 * s / denominator,
        raters: rows.len(),
        objects: n,
        ties: ties_total > 0.0,
    })
}

/// Average (fractional) ranks, 1 = lowest, and Σ(t³ − t) over the groups of ties.
fn average_ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut ties = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let t = (end - start) as f64;
        let rank = (start + end + 1) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        ties += t.powi(3) - t;
        start = end;
    }
    (ranks, ties)
}

/// The intraclass correlation of a complete score matrix: Shrout & Fleiss (1979) case 2,
/// two-way random effects, absolute agreement. Raters are a sample of possible experts and the
/// absolute level of a score matters (the classification compares scores with thresholds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Icc {
    /// ICC(2,1): the reliability of one expert's scores.
    pub single: f64,
    /// ICC(2,k): the reliability of the panel's mean score.
    pub average: f64,
    /// k, the raters (experts).
    pub raters: usize,
    /// n, the targets (criteria).
    pub targets: usize,
}

/// ICC(2,1) and ICC(2,k) from `rows` = one row per target with one value per rater:
/// ICC(2,1) = (BMS − EMS) / (BMS + (k−1)·EMS + k·(JMS − EMS)/n),
/// ICC(2,k) = (BMS − EMS) / (BMS + (JMS − EMS)/n).
/// `None` with fewer than two targets or raters, ragged rows, or when a denominator is not
/// positive: the targets (criteria) hardly differ, and the coefficient is undefined (it would
/// come out far outside [−1, 1]).
pub fn icc(rows: &[Vec<f64>]) -> Option<Icc> {
    let n = rows.len();
    let k = rows.first()?.len();
    if n < 2 || k < 2 || rows.iter().any(|r| r.len() != k) {
        return None;
    }
    let (nf, kf) = (n as f64, k as f64);
    let grand = rows.iter().flatten().sum::<f64>() / (nf * kf);
    let ss_total: f64 = rows.iter().flatten().map(|x| (x - grand).powi(2)).sum();
    let ss_rows: f64 = kf
        * rows
            .iter()
            .map(|r| (r.iter().sum::<f64>() / kf - grand).powi(2))
            .sum::<f64>();
    let ss_cols: f64 = nf
        * (0..k)
            .map(|j| (rows.iter().map(|r| r[j]).sum::<f64>() / nf - grand).powi(2))
            .sum::<f64>();
    let ss_error = ss_total - ss_rows - ss_cols;
    let bms = ss_rows / (nf - 1.0);
    let jms = ss_cols / (kf - 1.0);
    let ems = ss_error / ((nf - 1.0) * (kf - 1.0));
    let single_den = bms + (kf - 1.0) * ems + kf * (jms - ems) / nf;
    let average_den = bms + (jms - ems) / nf;
    (single_den > 1e-12 && average_den > 1e-12).then(|| Icc {
        single: (bms - ems) / single_den,
        average: (bms - ems) / average_den,
        raters: k,
        targets: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[&[f64]]) -> Vec<Vec<f64>> {
        data.iter().map(|r| r.to_vec()).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-4
    }

    /// Three raters rank four objects, no ties. Rank sums R = 4, 6, 8, 12; mean 7.5;
    /// S = 12.25 + 2.25 + 0.25 + 20.25 = 35; W = 12·35 / (9·60) = 0.778.
    #[test]
    fn kendall_w_without_ties() {
        let w = kendall_w(&rows(&[
            &[4.0, 3.0, 2.0, 1.0],
            &[4.0, 2.0, 3.0, 1.0],
            &[3.0, 4.0, 2.0, 1.0],
        ]))
        .unwrap();
        assert!(close(w.w, 0.7778) && !w.ties, "{w:?}");
    }

    /// The same shape with ties; the values are the ranks themselves. Rater 1 ties objects 2
    /// and 3 (2.5 each), rater 3 ties objects 3 and 4 (3.5 each). R = 4, 5.5, 9, 11.5; S = 12.25 + 4 + 2.25 + 16 = 34.5; ΣT = 6 + 6 = 12;
    /// W = 12·34.5 / (9·60 − 3·12) = 414 / 504 = 0.821 (0.767 without the correction).
    #[test]
    fn kendall_w_with_ties() {
        let w = kendall_w(&rows(&[
            &[1.0, 2.5, 2.5, 4.0],
            &[1.0, 2.0, 3.0, 4.0],
            &[2.0, 1.0, 3.5, 3.5],
        ]))
        .unwrap();
        assert!(close(w.w, 0.8214) && w.ties, "{w:?}");
    }

    #[test]
    fn kendall_w_edges() {
        // Perfect agreement, and two raters in exactly opposite order.
        let same = kendall_w(&rows(&[&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]])).unwrap();
        assert!(close(same.w, 1.0));
        let opposite = kendall_w(&rows(&[&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]])).unwrap();
        assert!(close(opposite.w, 0.0));
        // Everything tied by everyone: undefined.
        assert!(kendall_w(&rows(&[&[3.0, 3.0], &[2.0, 2.0]])).is_none());
        assert!(kendall_w(&rows(&[&[1.0, 2.0]])).is_none());
    }

    /// Shrout & Fleiss (1979), "Intraclass correlations: uses in assessing rater reliability",
    /// Psychological Bulletin 86(2), Table 2 (six targets, four judges); Table 4 gives
    /// ICC(2,1) = .29 and ICC(2,4) = .62 (exactly .2898 and .6201).
    #[test]
    fn icc_matches_shrout_and_fleiss() {
        let icc = icc(&rows(&[
            &[9.0, 2.0, 5.0, 8.0],
            &[6.0, 1.0, 3.0, 2.0],
            &[8.0, 4.0, 6.0, 8.0],
            &[7.0, 1.0, 2.0, 6.0],
            &[10.0, 5.0, 6.0, 9.0],
            &[6.0, 2.0, 4.0, 7.0],
        ]))
        .unwrap();
        assert!(close(icc.single, 0.2898), "{icc:?}");
        assert!(close(icc.average, 0.6201), "{icc:?}");
        assert_eq!((icc.raters, icc.targets), (4, 6));
    }

    #[test]
    fn icc_edges() {
        assert!(icc(&rows(&[&[3.0, 3.0], &[3.0, 3.0]])).is_none());
        // Targets with equal means and only disagreement around them: BMS = JMS = 0, EMS = 1;
        // the average-measures denominator is negative, so no coefficient.
        assert!(icc(&rows(&[&[1.0, 2.0], &[2.0, 1.0]])).is_none());
        assert!(icc(&rows(&[&[1.0, 2.0]])).is_none());
        let perfect = icc(&rows(&[&[1.0, 1.0], &[3.0, 3.0], &[5.0, 5.0]])).unwrap();
        assert!(close(perfect.single, 1.0) && close(perfect.average, 1.0));
    }
}

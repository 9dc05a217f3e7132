//! One criterion's scores reduced to the panel's value (trimmed mean or median, as the rubric
//! says) and described by their spread (quartiles, IQR, coefficient of variation, the count at
//! each level). Every function here reads a multiset: the order of the experts never matters.

use serde::{Deserialize, Serialize};

/// The levels of the rubric's scale.
pub const LEVELS: std::ops::RangeInclusive<u8> = 1..=5;

/// How a criterion's scores become the panel's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// The mean after dropping the highest and the lowest score, once there are at least
    /// `trim_from_scores` scores; the plain mean below that.
    TrimmedMean,
    /// The median.
    Median,
}

impl Aggregation {
    /// The panel's value of `scores`; `None` when there is none.
    pub fn apply(self, scores: &[u8], trim_from_scores: usize) -> Option<f64> {
        if scores.is_empty() {
            return None;
        }
        let mut sorted = scores.to_vec();
        sorted.sort_unstable();
        let kept = match self {
            Aggregation::TrimmedMean if sorted.len() >= trim_from_scores => &sorted[1..sorted.len() - 1],
            Aggregation::TrimmedMean => &sorted[..],
            Aggregation::Median => return Some(quantile(&as_f64(&sorted), 0.5)),
        };
        Some(kept.iter().map(|&s| f64::from(s)).sum::<f64>() / kept.len() as f64)
    }

    /// zh-CN description for reports.
    pub fn label(self, trim_from_scores: usize) -> String {
        match self {
            Aggregation::TrimmedMean => {
                format!("截尾均值(评分数不少于{trim_from_scores}个时去掉一个最高分和一个最低分)")
            }
            Aggregation::Median => "中位数".to_owned(),
        }
    }
}

fn as_f64(sorted: &[u8]) -> Vec<f64> {
    sorted.iter().map(|&s| f64::from(s)).collect()
}

/// The p-quantile of sorted values by linear interpolation between order statistics
/// (Hyndman & Fan type 7, the default of R and NumPy).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// How a criterion's scores spread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
    /// Interquartile range q3 − q1 (type-7 quartiles).
    pub iqr: f64,
    /// Coefficient of variation: sample standard deviation / mean; `None` for a single score.
    pub cv: Option<f64>,
    /// How many experts gave each level, levels 1 to 5.
    pub distribution: [u32; 5],
}

impl Spread {
    /// `None` when there is no score.
    pub fn of(scores: &[u8]) -> Option<Spread> {
        if scores.is_empty() {
            return None;
        }
        let mut sorted = scores.to_vec();
        sorted.sort_unstable();
        let values = as_f64(&sorted);
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let cv = (n > 1).then(|| {
            let variance = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            variance.sqrt() / mean
        });
        let mut distribution = [0; 5];
        for &s in &sorted {
            if LEVELS.contains(&s) {
                distribution[usize::from(s - 1)] += 1;
            }
        }
        let (q1, q3) = (quantile(&values, 0.25), quantile(&values, 0.75));
        Some(Spread {
            n,
            mean,
            median: quantile(&values, 0.5),
            q1,
            q3,
            iqr: q3 - q1,
            cv,
            distribution,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimmed_mean_drops_one_highest_and_one_lowest_from_five_up() {
        let t = Aggregation::TrimmedMean;
        assert_eq!(t.apply(&[1, 4, 4, 5, 5], 5), Some(13.0 / 3.0));
        assert_eq!(
            t.apply(&[1, 4, 5, 5], 5),
            Some(15.0 / 4.0),
            "four scores: plain mean"
        );
        assert_eq!(t.apply(&[], 5), None);
        assert_eq!(Aggregation::Median.apply(&[5, 1, 3, 4], 5), Some(3.5));
    }

    #[test]
    fn spread_of_five_scores() {
        let s = Spread::of(&[2, 3, 3, 4, 5]).unwrap();
        assert_eq!((s.q1, s.median, s.q3, s.iqr), (3.0, 3.0, 4.0, 1.0));
        assert_eq!(s.distribution, [0, 1, 2, 1, 1]);
        // sd = sqrt(5.2 / 4) = 1.1402; mean 3.4.
        assert!((s.cv.unwrap() - 1.140_175_4 / 3.4).abs() < 1e-6);
        assert_eq!(Spread::of(&[4]).unwrap().cv, None);
        assert!(Spread::of(&[]).is_none());
    }
}

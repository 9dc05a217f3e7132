//! Across systems: the integration burden index (融合难度指数) of a set of values, and Kendall's
//! W over the systems that the same experts scored with the same rubric — do the experts agree
//! on which systems are the harder ones?

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::agreement::{Concordance, kendall_w};
use crate::panel::Sheet;
use crate::rubric::Rubric;

/// The weighted mean (overall weights) of the values present, with the criteria of groups that
/// ease integration counted reversed (6 − v): 1 is an easy system to integrate, 5 a hard one.
pub fn burden_index(rubric: &Rubric, values: &[Option<f64>]) -> Option<f64> {
    let (sum, weight) = rubric
        .spec
        .criteria
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let v = values[i]?;
            let eases = rubric.group(&c.group).is_some_and(|(_, g)| g.eases_integration);
            let burden = if eases { 6.0 - v } else { v };
            Some((burden * rubric.weights.global[i], rubric.weights.global[i]))
        })
        .fold((0.0, 0.0), |(s, w), (x, y)| (s + x, w + y));
    (weight > 0.0).then(|| sum / weight)
}

/// Kendall's W across systems for one rubric version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemsConcordance {
    /// `id@version` of the rubric.
    pub rubric: String,
    pub systems: Vec<String>,
    /// Experts who scored every criterion of every one of these systems.
    pub experts: usize,
    /// `None` with fewer than two such experts or systems.
    pub concordance: Option<Concordance>,
}

/// W over `systems` = (system id, each expert's sheet by expert id), ranking each expert's
/// systems by that expert's own burden index.
pub fn across_systems(rubric: &Rubric, systems: &[(String, BTreeMap<String, Sheet>)]) -> SystemsConcordance {
    let complete = |sheet: &Sheet| -> Option<Vec<Option<f64>>> {
        rubric
            .spec
            .criteria
            .iter()
            .map(|c| {
                sheet
                    .scores
                    .get(&c.id)
                    .copied()
                    .flatten()
                    .map(|s| Some(f64::from(s)))
            })
            .collect()
    };
    let experts: Vec<&String> = systems
        .first()
        .map(|(_, sheets)| {
            sheets
                .keys()
                .filter(|e| {
                    systems
                        .iter()
                        .all(|(_, s)| s.get(*e).and_then(&complete).is_some())
                })
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<Vec<f64>> = experts
        .iter()
        .map(|e| {
            systems
                .iter()
                .map(|(_, s)| {
                    s.get(*e)
                        .and_then(&complete)
                        .and_then(|values| burden_index(rubric, &values))
                        .unwrap_or(0.0)
                })
                .collect()
        })
        .collect();
    SystemsConcordance {
        rubric: format!("{}@{}", rubric.spec.id, rubric.spec.version),
        systems: systems.iter().map(|(id, _)| id.clone()).collect(),
        experts: experts.len(),
        concordance: kendall_w(&rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(rubric: &Rubric, level: u8) -> Sheet {
        Sheet {
            scores: rubric
                .spec
                .criteria
                .iter()
                .map(|c| (c.id.clone(), Some(level)))
                .collect(),
            reasons: BTreeMap::new(),
        }
    }

    #[test]
    fn burden_reverses_the_groups_that_ease_integration() {
        let rubric = Rubric::builtin();
        let all = |v: f64| vec![Some(v); rubric.spec.criteria.len()];
        assert!((burden_index(&rubric, &all(3.0)).unwrap() - 3.0).abs() < 1e-9);
        // All 5: the burden groups weigh more than the easing ones, so above 3.
        let high = burden_index(&rubric, &all(5.0)).unwrap();
        let eases: f64 = rubric
            .spec
            .criteria
            .iter()
            .enumerate()
            .filter(|(_, c)| rubric.group(&c.group).unwrap().1.eases_integration)
            .map(|(i, _)| rubric.weights.global[i])
            .sum();
        assert!((high - (5.0 * (1.0 - eases) + eases)).abs() < 1e-9, "{high}");
    }

    #[test]
    fn experts_who_agree_on_the_order_of_systems() {
        let rubric = Rubric::builtin();
        let panel = |levels: [u8; 3]| -> BTreeMap<String, Sheet> {
            ["a", "b", "c"]
                .iter()
                .zip(levels)
                .map(|(e, l)| ((*e).to_owned(), sheet(&rubric, l)))
                .collect()
        };
        // Every expert scores system x highest and z lowest, at their own levels.
        let systems = vec![
            ("x".to_owned(), panel([5, 4, 5])),
            ("y".to_owned(), panel([3, 3, 4])),
            ("z".to_owned(), panel([1, 2, 2])),
        ];
        let w = across_systems(&rubric, &systems);
        assert_eq!(w.experts, 3);
        assert!((w.concordance.unwrap().w - 1.0).abs() < 1e-9);
        let one = across_systems(&rubric, &systems[..1]);
        assert!(one.concordance.is_none());
    }
}

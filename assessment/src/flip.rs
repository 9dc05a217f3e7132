//! The smallest change of individual scores that would change a verdict: what an expert who
//! disagrees needs to see ("one score of 4 for 技术架构与改造 → 3 would make it 前端迁移").
//!
//! Cost is the number of one-point changes to individual scores. A criterion's panel value
//! depends only on the multiset of its scores, so each criterion has a list of options: every
//! value its scores can take, with the cheapest multiset giving it (moving sorted scores pairwise
//! is the cheapest way from one multiset to another). The rules read subjects (group indices or
//! criteria, disjoint by the rubric's validation), so options combine per subject.
//!
//! For a target mode, a subject whose every condition pulls one way is monotone: moving it
//! further that way never loses the target (each slack is monotone, min/max keep that, and the
//! tie rule only ever favours the larger fit). Such a subject needs only its best value at each
//! cost — a short chain. A subject pulled both ways keeps all its options. Combinations of
//! subject options are visited in order of total cost (each reached once, by raising option
//! indices in position order); the first that gives the target is its smallest flip. Exact; a
//! visit budget bounds pathological rubrics, and the report says when it was reached.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use serde::{Deserialize, Serialize};

use crate::IntegrationMode;
use crate::aggregate::LEVELS;
use crate::rubric::Rubric;
use crate::verdict::Rules;

/// Combinations visited at most per target mode.
const VISIT_BUDGET: usize = 200_000;

/// Some experts' scores of one criterion move from one level to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreChange {
    pub criterion: String,
    pub name: String,
    pub from: u8,
    pub to: u8,
    /// How many experts' scores make this move.
    pub count: u32,
}

/// The cheapest way to another mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flip {
    pub to: IntegrationMode,
    pub score_changes: u32,
    pub changes: Vec<ScoreChange>,
}

/// Every other mode reached, and whether the budget ran out before one was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlipSearch {
    pub flips: Vec<Flip>,
    /// A target was neither reached nor proven unreachable within the budget.
    pub exhausted: bool,
    /// The largest cost visited.
    pub searched_up_to: u32,
}

/// One value a criterion's scores can take, and the cheapest sorted scores that give it.
#[derive(Debug, Clone)]
struct Choice {
    value: f64,
    cost: u32,
    scores: Vec<u8>,
}

/// One value a subject can take: its cost and the choice made for each member criterion.
#[derive(Debug, Clone)]
struct SubjectOption {
    value: f64,
    cost: u32,
    /// (criterion position, index into that criterion's choices).
    picks: Vec<(usize, usize)>,
}

/// Every non-decreasing sequence of `n` levels.
fn multisets(n: usize) -> Vec<Vec<u8>> {
    fn extend(prefix: &mut Vec<u8>, n: usize, from: u8, out: &mut Vec<Vec<u8>>) {
        if prefix.len() == n {
            out.push(prefix.clone());
            return;
        }
        for level in from..=*LEVELS.end() {
            prefix.push(level);
            extend(prefix, n, level, out);
            prefix.pop();
        }
    }
    let mut out = Vec::new();
    extend(&mut Vec::with_capacity(n), n, *LEVELS.start(), &mut out);
    out
}

/// One-point changes between two sorted multisets of the same size.
fn distance(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| u32::from(x.abs_diff(*y))).sum()
}

fn key(value: f64) -> i64 {
    (value * 1e9).round() as i64
}

/// The values `scores` can be moved to, cheapest first (the current value, at cost 0, first).
fn choices(rubric: &Rubric, scores: &[u8]) -> Vec<Choice> {
    let panel = &rubric.spec.panel;
    let mut current = scores.to_vec();
    current.sort_unstable();
    let mut best: BTreeMap<i64, Choice> = BTreeMap::new();
    for candidate in multisets(current.len()) {
        let Some(value) = panel.aggregation.apply(&candidate, panel.trim_from_scores) else {
            continue;
        };
        let cost = distance(&current, &candidate);
        if best.get(&key(value)).is_none_or(|o| cost < o.cost) {
            best.insert(
                key(value),
                Choice {
                    value,
                    cost,
                    scores: candidate,
                },
            );
        }
    }
    let mut list: Vec<Choice> = best.into_values().collect();
    list.sort_by(|a, b| a.cost.cmp(&b.cost).then(a.value.total_cmp(&b.value)));
    list
}

/// Keeps, in order of cost, only options that improve on every cheaper one in `direction`
/// (+1: larger is better, −1: smaller is better).
fn chain(mut options: Vec<SubjectOption>, direction: f64) -> Vec<SubjectOption> {
    options.sort_by(|a, b| {
        a.cost
            .cmp(&b.cost)
            .then((b.value * direction).total_cmp(&(a.value * direction)))
    });
    let mut out: Vec<SubjectOption> = Vec::new();
    for o in options {
        if out
            .last()
            .is_none_or(|last| o.value * direction > last.value * direction + 1e-12)
        {
            out.push(o);
        }
    }
    out
}

/// A subject's options: the weighted means its members' choices give, cheapest per value.
/// Directed subjects are built member by member keeping only the improving chain, so the list
/// stays short; undirected ones keep every distinct value.
fn subject_options(
    members: &[(usize, f64)],
    lists: &[Vec<Choice>],
    direction: Option<f64>,
) -> Vec<SubjectOption> {
    let total: f64 = members.iter().map(|&(_, w)| w).sum();
    let mut partial = vec![SubjectOption {
        value: 0.0,
        cost: 0,
        picks: Vec::new(),
    }];
    for &(i, w) in members {
        let mut next: BTreeMap<(u32, i64), SubjectOption> = BTreeMap::new();
        for p in &partial {
            for (k, c) in lists[i].iter().enumerate() {
                let value = p.value + w * c.value / total;
                let cost = p.cost + c.cost;
                let mut picks = p.picks.clone();
                picks.push((i, k));
                next.entry((cost, key(value)))
                    .or_insert(SubjectOption { value, cost, picks });
            }
        }
        let all: Vec<SubjectOption> = next.into_values().collect();
        partial = match direction {
            Some(d) => chain(all, d),
            None => {
                let mut cheapest: BTreeMap<i64, SubjectOption> = BTreeMap::new();
                for o in all {
                    if cheapest.get(&key(o.value)).is_none_or(|c| o.cost < c.cost) {
                        cheapest.insert(key(o.value), o);
                    }
                }
                let mut list: Vec<SubjectOption> = cheapest.into_values().collect();
                list.sort_by(|a, b| a.cost.cmp(&b.cost).then(a.value.total_cmp(&b.value)));
                list
            }
        };
    }
    partial
}

/// Which way each subject should move for `target` to win: +1, −1, or `None` when its
/// conditions pull both ways.
fn directions(rules: &Rules, target: IntegrationMode) -> Vec<Option<f64>> {
    let mut pulls: Vec<(bool, bool)> = vec![(false, false); rules.subjects.len()];
    for rule in &rules.rules {
        for &(s, bound) in &rule.conditions {
            // The target's own conditions should hold better; other rules should hold worse.
            let up = bound.rises() == (rule.mode == target);
            if up {
                pulls[s].0 = true;
            } else {
                pulls[s].1 = true;
            }
        }
    }
    pulls
        .into_iter()
        .map(|pull| match pull {
            (true, false) => Some(1.0),
            (false, true) => Some(-1.0),
            _ => None,
        })
        .collect()
}

/// The moves from `from` to `to` (both sorted), grouped.
fn changes(criterion: &str, name: &str, from: &[u8], to: &[u8]) -> Vec<ScoreChange> {
    let mut grouped: BTreeMap<(u8, u8), u32> = BTreeMap::new();
    for (a, b) in from.iter().zip(to) {
        if a != b {
            *grouped.entry((*a, *b)).or_default() += 1;
        }
    }
    grouped
        .into_iter()
        .map(|((from, to), count)| ScoreChange {
            criterion: criterion.to_owned(),
            name: name.to_owned(),
            from,
            to,
            count,
        })
        .collect()
}

/// The result of searching one target.
enum Outcome {
    Found(u32, Vec<usize>),
    Unreachable,
    Exhausted,
}

/// Visits combinations of subject options in order of total cost until one gives `target`.
fn search(
    rules: &Rules,
    options: &[Vec<SubjectOption>],
    target: IntegrationMode,
    deepest: &mut u32,
) -> Outcome {
    let gives_target = |idx: &[usize]| {
        let values: Vec<f64> = idx.iter().zip(options).map(|(&k, o)| o[k].value).collect();
        rules.classify(&values).mode == target
    };
    // When every subject is directed, the far end of every chain is the best case: if the target
    // does not win there, it wins nowhere.
    let ends: Vec<usize> = options.iter().map(|o| o.len() - 1).collect();
    let chains_only = directions(rules, target).iter().all(Option::is_some);
    if chains_only && !gives_target(&ends) {
        return Outcome::Unreachable;
    }
    let cost_of = |idx: &[usize]| -> u32 { idx.iter().zip(options).map(|(&k, o)| o[k].cost).sum() };
    let mut heap = BinaryHeap::from([Reverse((0u32, vec![0usize; options.len()], 0usize))]);
    let mut visited = 0;
    while let Some(Reverse((cost, idx, last))) = heap.pop() {
        visited += 1;
        if visited > VISIT_BUDGET {
            return Outcome::Exhausted;
        }
        *deepest = (*deepest).max(cost);
        if gives_target(&idx) {
            return Outcome::Found(cost, idx);
        }
        for p in last..idx.len() {
            if idx[p] + 1 < options[p].len() {
                let mut next = idx.clone();
                next[p] += 1;
                heap.push(Reverse((cost_of(&next), next, p)));
            }
        }
    }
    Outcome::Unreachable
}

/// The smallest flips from `current` to every other mode the rules can give. `scores` holds each
/// criterion's scores, rubric order.
pub fn smallest_flips(rubric: &Rubric, scores: &[Vec<u8>], current: IntegrationMode) -> FlipSearch {
    let rules = Rules::compile(rubric);
    let lists: Vec<Vec<Choice>> = scores.iter().map(|s| choices(rubric, s)).collect();
    let mut result = FlipSearch {
        flips: Vec::new(),
        exhausted: false,
        searched_up_to: 0,
    };
    // Members without scores stay out of their subject, as in the panel's value.
    let scored = |members: &[(usize, f64)]| -> Vec<(usize, f64)> {
        members
            .iter()
            .copied()
            .filter(|&(i, _)| !lists[i].is_empty())
            .collect()
    };
    if rules.subjects.iter().any(|s| scored(&s.members).is_empty()) {
        return result;
    }
    let targets = rules
        .rules
        .iter()
        .map(|r| r.mode)
        .chain([rules.otherwise])
        .filter(|m| *m != current);
    for target in targets {
        let directions = directions(&rules, target);
        let options: Vec<Vec<SubjectOption>> = rules
            .subjects
            .iter()
            .zip(&directions)
            .map(|(s, d)| subject_options(&scored(&s.members), &lists, *d))
            .collect();
        match search(&rules, &options, target, &mut result.searched_up_to) {
            Outcome::Found(cost, idx) => {
                let mut moves = Vec::new();
                for (o, &k) in options.iter().zip(&idx) {
                    for &(i, pick) in &o[k].picks {
                        let criterion = &rubric.spec.criteria[i];
                        let mut from = scores[i].clone();
                        from.sort_unstable();
                        moves.extend(changes(
                            &criterion.id,
                            &criterion.name,
                            &from,
                            &lists[i][pick].scores,
                        ));
                    }
                }
                result.flips.push(Flip {
                    to: target,
                    score_changes: cost,
                    changes: moves,
                });
            }
            Outcome::Unreachable => {}
            Outcome::Exhausted => result.exhausted = true,
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use IntegrationMode::*;

    /// Five experts' scores per criterion of the default rubric: `by_group` sets a group's
    /// criteria, the rest score 3.
    fn panel(rubric: &Rubric, by_group: &[(&str, [u8; 5])]) -> Vec<Vec<u8>> {
        crate::fixtures::per_criterion(rubric, by_group, [3; 5])
            .iter()
            .map(|s| s.to_vec())
            .collect()
    }

    #[test]
    fn multisets_and_distance() {
        assert_eq!(multisets(2).len(), 15);
        assert_eq!(multisets(5).len(), 126);
        assert_eq!(distance(&[1, 3, 5], &[2, 3, 3]), 3);
    }

    /// Process and integration criteria all at a trimmed mean of 3.67 (scores 3,3,4,4,5):
    /// compatible transition by 0.17. One process score 4 → 3 only takes the process index to
    /// 3.50, still at the inclusive bar; but one 技术架构与改造 score 4 → 3 takes the integration
    /// index to 0.586·3.33 + 0.414·3.67 = 3.47 (that criterion weighs more within its group),
    /// which is front-end migration. The search finds exactly that single change.
    #[test]
    fn the_smallest_flip_to_each_mode() {
        let rubric = Rubric::builtin();
        let scores = panel(
            &rubric,
            &[("process", [3, 3, 4, 4, 5]), ("integration", [3, 3, 4, 4, 5])],
        );
        let search = smallest_flips(&rubric, &scores, CompatibleTransition);
        assert!(!search.exhausted);
        let to_front = search.flips.iter().find(|f| f.to == FrontEndMigration).unwrap();
        assert_eq!(to_front.score_changes, 1, "{to_front:?}");
        assert_eq!(to_front.changes.len(), 1);
        let change = &to_front.changes[0];
        assert_eq!(
            (change.criterion.as_str(), change.from, change.to, change.count),
            ("integration_tech", 4, 3, 1),
            "{change:?}"
        );
        let to_full = search.flips.iter().find(|f| f.to == FullMigration).unwrap();
        assert!(to_full.score_changes > to_front.score_changes);
    }

    /// A smaller rubric for exhaustive checks: five classifying criteria (two in 支撑能力, with
    /// unequal weights), and 兼容过渡 also asking 支撑能力 ≥ 3, so that the ordinary mode pulls
    /// 支撑能力 both ways and that subject keeps all its options.
    fn small_rubric() -> Rubric {
        let mut spec = Rubric::builtin().spec;
        spec.criteria.retain(|c| {
            !["business_coupling", "process_rules", "integration_network"].contains(&c.id.as_str())
        });
        spec.weights = crate::rubric::Weighting::Direct {
            criteria: spec
                .criteria
                .iter()
                .map(|c| (c.id.clone(), if c.id == "support_coverage" { 3.0 } else { 1.0 }))
                .collect(),
        };
        spec.classification.rules[1].all.push(crate::rubric::Condition {
            group: Some("support".into()),
            criterion: None,
            at_least: Some(3.0),
            at_most: None,
        });
        Rubric::from_spec(spec).unwrap()
    }

    /// The search is exact: an exhaustive walk over every combination of the classifying
    /// criteria's values finds the same smallest cost for every mode, from several panels.
    #[test]
    fn the_search_agrees_with_exhaustive_enumeration() {
        let rubric = small_rubric();
        let rules = Rules::compile(&rubric);
        let used = rubric.classifying_criteria();
        assert_eq!(used.len(), 5);
        for panel in [
            [[2, 2, 3], [1, 3, 2], [2, 3, 2], [4, 3, 5], [4, 4, 3]],
            [[4, 4, 3], [3, 3, 4], [3, 3, 3], [4, 5, 4], [4, 3, 4]],
            [[3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]],
        ] {
            let mut scores: Vec<Vec<u8>> = vec![vec![3, 3, 3]; rubric.spec.criteria.len()];
            for (p, s) in used.iter().zip(panel) {
                scores[*p] = s.to_vec();
            }
            let lists: Vec<Vec<Choice>> = scores.iter().map(|s| choices(&rubric, s)).collect();
            let base: Vec<Option<f64>> = lists.iter().map(|l| Some(l[0].value)).collect();
            let mut best: BTreeMap<&str, u32> = BTreeMap::new();
            let mut idx = vec![0usize; used.len()];
            loop {
                let mut values = base.clone();
                for (p, &k) in idx.iter().enumerate() {
                    values[used[p]] = Some(lists[used[p]][k].value);
                }
                let cost: u32 = idx.iter().enumerate().map(|(p, &k)| lists[used[p]][k].cost).sum();
                let mode = rules.classify(&rules.subject_values(&values).unwrap()).mode;
                let entry = best.entry(mode.name()).or_insert(u32::MAX);
                *entry = (*entry).min(cost);
                // The next combination, odometer-style.
                let mut p = 0;
                while p < idx.len() {
                    idx[p] += 1;
                    if idx[p] < lists[used[p]].len() {
                        break;
                    }
                    idx[p] = 0;
                    p += 1;
                }
                if p == idx.len() {
                    break;
                }
            }
            let current = rules.classify(&rules.subject_values(&base).unwrap()).mode;
            let search = smallest_flips(&rubric, &scores, current);
            assert!(!search.exhausted);
            for flip in &search.flips {
                assert_eq!(
                    Some(&flip.score_changes),
                    best.get(flip.to.name()),
                    "{panel:?} to {:?}",
                    flip.to
                );
            }
            assert_eq!(
                search.flips.len() + 1,
                best.len(),
                "{panel:?}: every reachable mode is found: {best:?}"
            );
        }
    }

    #[test]
    fn permuting_experts_changes_no_flip() {
        let rubric = Rubric::builtin();
        let scores = panel(
            &rubric,
            &[("support", [1, 2, 2, 3, 5]), ("business", [2, 2, 1, 3, 2])],
        );
        let reversed: Vec<Vec<u8>> = scores.iter().map(|s| s.iter().rev().copied().collect()).collect();
        assert_eq!(
            smallest_flips(&rubric, &scores, FullMigration),
            smallest_flips(&rubric, &reversed, FullMigration)
        );
    }
}

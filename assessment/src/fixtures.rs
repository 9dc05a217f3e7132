//! Test data on the default rubric: one value per criterion from one value per group.

use crate::rubric::Rubric;

/// One value per criterion of `rubric`, in its order: the value given for the criterion's group
/// in `by_group`, else `default`.
pub(crate) fn per_criterion<T: Clone>(rubric: &Rubric, by_group: &[(&str, T)], default: T) -> Vec<T> {
    rubric
        .spec
        .criteria
        .iter()
        .map(|c| {
            by_group
                .iter()
                .find(|(g, _)| *g == c.group)
                .map_or_else(|| default.clone(), |(_, v)| v.clone())
        })
        .collect()
}

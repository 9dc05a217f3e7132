//! The plan file (`migration-plans/SYSTEM.toml`): one system's migration to its verdict's mode as
//! milestones in working days, readable and diffable in git. `ronghe generate` writes drafts of
//! it; project managers edit it. Parsing and `validate` are pure and report every problem with its
//! path. `schedule.rs` lays it on the working-day calendar.

use std::collections::HashMap;

use chrono::NaiveDate;
use ronghe_adapters::ConfigIssue;
use ronghe_adapters::config::{Issues, parse_toml};
use ronghe_assessment::IntegrationMode;
use serde::Deserialize;

/// Longest milestone: a year of working days.
const MAX_DURATION_WORKING_DAYS: u32 = 250;

/// A system's plan as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub plan: PlanHeader,
    /// In any order; dependencies decide the schedule.
    #[serde(default)]
    pub milestones: Vec<Milestone>,
}

/// What the plan is for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanHeader {
    /// The system's id in the registry.
    pub system: String,
    /// The verdict's mode (Art. 25): `full_migration`, `front_end_migration`,
    /// `compatible_transition` or `secrecy_exception`.
    pub mode: String,
    /// The assessment whose verdict the plan follows (`SYSTEM.N`).
    #[serde(default)]
    pub assessment: Option<String>,
    /// The day work starts; milestones without dependencies start on the first working day from it.
    pub start: NaiveDate,
    /// Who answers for the plan (项目负责人).
    pub owner: String,
}

/// One milestone (里程碑).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Milestone {
    /// Lower-case letters, digits and `-`; unique in the plan.
    pub id: String,
    /// The phase it belongs to (评估, 映射, 迁移, 试点, 切换, 下线, …), for grouping.
    pub phase: String,
    /// What is done when it is reached (zh-CN).
    pub name: String,
    /// Who answers for it.
    pub owner: String,
    /// Working days of work; 0 for a point in time (a decision, a go-live).
    pub duration_working_days: u32,
    /// Milestones that must finish first (finish-to-start), each with an optional lag in working days.
    #[serde(default)]
    pub depends_on: Vec<Dependency>,
    /// The evidence that must exist before it counts as reached (an evidence gate), e.g.
    /// "回传对账连续 10 个工作日无差异".
    #[serde(default)]
    pub gate: Option<String>,
}

/// A finish-to-start dependency: `"id"` or `{ id = "id", lag_working_days = 2 }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Dependency {
    Plain(String),
    Lagged {
        id: String,
        #[serde(default)]
        lag_working_days: u32,
    },
}

impl Dependency {
    pub fn id(&self) -> &str {
        match self {
            Dependency::Plain(id) | Dependency::Lagged { id, .. } => id,
        }
    }

    pub fn lag(&self) -> u32 {
        match self {
            Dependency::Plain(_) => 0,
            Dependency::Lagged { lag_working_days, .. } => *lag_working_days,
        }
    }
}

impl PlanFile {
    /// Parses and validates a plan file, reporting every problem with its path.
    pub fn parse(text: &str) -> Result<PlanFile, Vec<ConfigIssue>> {
        let plan: PlanFile = parse_toml(text)?;
        plan.validate()
    }

    /// Every problem at once: ids, durations, unknown or circular dependencies, the mode.
    pub fn validate(self) -> Result<PlanFile, Vec<ConfigIssue>> {
        let mut issues = Issues::default();
        if !IntegrationMode::ALL.iter().any(|m| m.name() == self.plan.mode) {
            let modes: Vec<&str> = IntegrationMode::ALL.iter().map(|m| m.name()).collect();
            issues.add("plan.mode", format!("must be one of {}", modes.join(", ")));
        }
        for (field, value) in [
            ("plan.system", &self.plan.system),
            ("plan.owner", &self.plan.owner),
        ] {
            if value.trim().is_empty() {
                issues.add(field, "must not be empty");
            }
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, m) in self.milestones.iter().enumerate() {
            let at = |field: &str| format!("milestones[{i}].{field}");
            let valid_id = !m.id.is_empty()
                && m.id.len() <= 63
                && m.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid_id {
                issues.add(at("id"), "use 1-63 lower-case letters, digits and -");
            } else if let Some(first) = seen.insert(&m.id, i) {
                issues.add(at("id"), format!("{:?} is already milestones[{first}]", m.id));
            }
            for (field, value) in [("phase", &m.phase), ("name", &m.name), ("owner", &m.owner)] {
                if value.trim().is_empty() {
                    issues.add(at(field), "must not be empty");
                }
            }
            if m.duration_working_days > MAX_DURATION_WORKING_DAYS {
                issues.add(
                    at("duration_working_days"),
                    format!("at most {MAX_DURATION_WORKING_DAYS} working days; split longer work"),
                );
            }
        }
        for (i, m) in self.milestones.iter().enumerate() {
            for (j, d) in m.depends_on.iter().enumerate() {
                if d.id() == m.id {
                    issues.add(
                        format!("milestones[{i}].depends_on[{j}]"),
                        "a milestone cannot wait for itself",
                    );
                } else if !seen.contains_key(d.id()) {
                    issues.add(
                        format!("milestones[{i}].depends_on[{j}]"),
                        format!("no milestone {:?} in this plan", d.id()),
                    );
                }
            }
        }
        if issues.0.is_empty()
            && let Err(cycle) = self.dependency_order()
        {
            issues.add(
                "milestones",
                format!("dependencies go round in a circle: {}", cycle.join(" → ")),
            );
        }
        if issues.0.is_empty() {
            Ok(self)
        } else {
            Err(issues.0)
        }
    }

    /// Indexes of the milestones in dependency order (a validated plan has no cycle).
    pub(super) fn order(&self) -> Vec<usize> {
        self.dependency_order()
            .unwrap_or_else(|_| (0..self.milestones.len()).collect())
    }

    /// Indexes of the milestones in dependency order, or the ids on a cycle.
    fn dependency_order(&self) -> Result<Vec<usize>, Vec<String>> {
        let index: HashMap<&str, usize> = self
            .milestones
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.as_str(), i))
            .collect();
        // 0 unvisited, 1 on the current path, 2 done.
        let mut state = vec![0u8; self.milestones.len()];
        let mut order = Vec::with_capacity(self.milestones.len());
        fn visit(
            i: usize,
            plan: &PlanFile,
            index: &HashMap<&str, usize>,
            state: &mut [u8],
            order: &mut Vec<usize>,
            path: &mut Vec<usize>,
        ) -> Result<(), Vec<String>> {
            match state[i] {
                2 => return Ok(()),
                1 => {
                    let from = path.iter().position(|&p| p == i).unwrap_or(0);
                    let mut cycle: Vec<String> = path[from..]
                        .iter()
                        .map(|&p| plan.milestones[p].id.clone())
                        .collect();
                    cycle.push(plan.milestones[i].id.clone());
                    return Err(cycle);
                }
                _ => {}
            }
            state[i] = 1;
            path.push(i);
            for d in &plan.milestones[i].depends_on {
                if let Some(&j) = index.get(d.id()) {
                    visit(j, plan, index, state, order, path)?;
                }
            }
            path.pop();
            state[i] = 2;
            order.push(i);
            Ok(())
        }
        for i in 0..self.milestones.len() {
            visit(i, self, &index, &mut state, &mut order, &mut Vec::new())?;
        }
        Ok(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let bad = super::super::TEST_PLAN
            .replace("mode = \"compatible_transition\"", "mode = \"big_bang\"")
            .replace(
                "depends_on = [\"bridge\", \"writeback\"]",
                "depends_on = [\"pilot\", \"nowhere\"]",
            )
            .replace("id = \"writeback\"", "id = \"Write Back\"");
        let issues = PlanFile::parse(&bad).unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "plan.mode",
                "milestones[2].id",
                "milestones[3].depends_on[0]",
                "milestones[3].depends_on[1]"
            ],
            "{issues:?}"
        );
    }

    #[test]
    fn circular_dependencies_are_named() {
        let circular = super::super::TEST_PLAN.replacen(
            "duration_working_days = 3\n",
            "duration_working_days = 3\ndepends_on = [\"pilot\"]\n",
            1,
        );
        let issues = PlanFile::parse(&circular).unwrap_err();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].path, "milestones");
        assert!(
            issues[0].message.contains("mapping → pilot → bridge → mapping"),
            "{issues:?}"
        );
    }
}

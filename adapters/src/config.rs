//! Adapter configs: TOML written by integration engineers, with `type` selecting the driver.
//! Parsing catches shape errors; `validate` is pure and reports every problem at once with its
//! path; only `ValidatedConfig::build` does I/O (resolving secrets, opening connections).

use serde::Serialize;

use crate::registry::AdapterConfig;
use crate::resilience::ResilienceConfig;
use crate::{Adapter, AdapterError, Secrets, WindowFormat};

/// One problem in a config, at a path like `records.paging.size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigIssue {
    pub path: String,
    pub message: String,
}

impl ConfigIssue {
    /// Every issue on one line, `; ` between them, for messages.
    pub fn joined(issues: &[ConfigIssue]) -> String {
        issues
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Collects problems, each under a path prefix.
#[derive(Debug, Default)]
pub struct Issues(pub Vec<ConfigIssue>);

impl Issues {
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigIssue {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Checks a `window_format`: a chrono `strftime` pattern (e.g. `%Y-%m-%d %H:%M:%S`) for a
    /// watermark that is a time, so it needs the watermark it writes.
    pub fn window_format(&mut self, path: &str, format: Option<&WindowFormat>, has_watermark: bool) {
        let Some(WindowFormat(format)) = format else {
            return;
        };
        let items = chrono::format::StrftimeItems::new(format);
        if format.trim().is_empty()
            || items
                .clone()
                .any(|item| matches!(item, chrono::format::Item::Error))
        {
            self.add(
                path,
                format!("{format:?} is not a strftime pattern; write the watermark's form, e.g. \"%Y-%m-%d %H:%M:%S\""),
            );
        } else if !items.clone().any(|item| {
            matches!(
                item,
                chrono::format::Item::Numeric(..) | chrono::format::Item::Fixed(..)
            )
        }) {
            self.add(path, format!("{format:?} writes no part of a time; write the watermark's form, e.g. \"%Y-%m-%d %H:%M:%S\""));
        }
        if !has_watermark {
            self.add(
                path,
                "needs the watermark it writes: set the records' watermark too",
            );
        }
    }

    /// Adds the problems of a `[resilience]` table.
    pub fn resilience(&mut self, config: &ResilienceConfig) {
        for (field, message) in config.problems() {
            self.add(format!("resilience.{field}"), message);
        }
    }

    /// Adds the problem of a secret reference, if any.
    pub fn secret(&mut self, path: &str, secret: &crate::SecretRef) {
        if let Some(message) = secret.problem() {
            self.add(path, message);
        }
    }

    /// Checks that a URL parses and is http(s).
    pub fn http_url(&mut self, path: &str, url: &str) {
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.password().is_none() => {}
            Ok(u) if u.password().is_some() => {
                self.add(path, "must not contain a password; use a secret reference")
            }
            Ok(_) => self.add(path, "must be an http:// or https:// URL"),
            Err(e) => self.add(path, format!("not a URL ({e})")),
        }
    }
}

/// Parses a TOML config of any shape. A syntax error names its line; the shape errors (a key
/// missing, unknown or of the wrong type) come all at once, each at its full path
/// (`records.select: missing field`).
pub fn parse_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Vec<ConfigIssue>> {
    from_table(toml_table(text)?)
}

/// The TOML document as a table; a syntax error names its line.
pub fn toml_table(text: &str) -> Result<toml::Table, Vec<ConfigIssue>> {
    text.parse::<toml::Table>().map_err(|e| {
        let line = e
            .span()
            .and_then(|s| text.get(..s.start))
            .map(|before| before.matches('\n').count() + 1);
        vec![ConfigIssue {
            path: line.map(|l| format!("line {l}")).unwrap_or_default(),
            message: e.message().to_owned(),
        }]
    })
}

/// How many shape errors one parse reports at most: each costs a pass over the table.
const MAX_SHAPE_ISSUES: usize = 50;

/// Stand-ins for a missing or mistyped key, tried in turn until the key's type takes one, so
/// that deserializing goes on to the next problem.
fn stand_ins() -> [toml::Value; 5] {
    [
        toml::Value::String(String::new()),
        toml::Value::Integer(0),
        toml::Value::Boolean(false),
        toml::Value::Table(toml::Table::new()),
        toml::Value::Array(Vec::new()),
    ]
}

/// Deserializes a table. On a shape error the offending key is removed (unknown) or stood in
/// for (missing or mistyped) and deserializing starts again, so that every error is found;
/// an error inside one already reported is not reported again.
pub fn from_table<T: serde::de::DeserializeOwned>(table: toml::Table) -> Result<T, Vec<ConfigIssue>> {
    let mut root = toml::Value::Table(table);
    let mut issues: Vec<ConfigIssue> = Vec::new();
    // The stand-in tried last at each path.
    let mut tried: std::collections::HashMap<Vec<Step>, usize> = Default::default();
    while issues.len() < MAX_SHAPE_ISSUES {
        let err = match serde_path_to_error::deserialize::<_, T>(root.clone()) {
            Ok(value) if issues.is_empty() => return Ok(value),
            Ok(_) => break,
            Err(err) => err,
        };
        let message = err.inner().message();
        let Some(mut steps) = steps_of(err.path()) else {
            issues.push(ConfigIssue {
                path: err.path().to_string(),
                message: message.to_owned(),
            });
            break;
        };
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        if missing.is_none()
            && let Some(key) = tagged_key::<T>(&root, &steps, &err.path().to_string(), message)
        {
            steps.push(Step::Key(key));
        }
        if let Some(field) = missing {
            steps.push(Step::Key(field.to_owned()));
        }
        let path = dotted(&steps);
        if !issues.iter().any(|i| {
            path == i.path
                || path.starts_with(&format!("{}.", i.path))
                || path.starts_with(&format!("{}[", i.path))
        }) {
            let message = if missing.is_some() {
                "missing field"
            } else {
                message
            };
            issues.push(ConfigIssue {
                path,
                message: message.to_owned(),
            });
        }
        let repaired = if message.starts_with("unknown field") {
            remove(&mut root, &steps)
        } else {
            let next = tried.get(&steps).map_or(0, |n| n + 1);
            tried.insert(steps.clone(), next);
            stand_ins()
                .into_iter()
                .nth(next)
                .is_some_and(|value| put(&mut root, &steps, value))
        };
        if !repaired {
            break;
        }
    }
    Err(issues)
}

/// The key an error reported at a section selected by a `type` tag is about. serde reads such a
/// section (an internally tagged enum) from a buffer, so its errors stop at the section's
/// path: the key is the tag itself for an unknown variant, the one an unknown-field message
/// names, or else the first key whose removal changes the error (the one that has it).
fn tagged_key<T: serde::de::DeserializeOwned>(
    root: &toml::Value,
    steps: &[Step],
    path: &str,
    message: &str,
) -> Option<String> {
    let table = steps
        .iter()
        .try_fold(root, |value, step| match (value, step) {
            (toml::Value::Table(t), Step::Key(k)) => t.get(k),
            (toml::Value::Array(a), Step::Index(i)) => a.get(*i),
            _ => None,
        })?
        .as_table()?;
    if !table.contains_key("type") {
        return None;
    }
    if message.starts_with("unknown variant") {
        return Some("type".to_owned());
    }
    if let Some(key) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        return Some(key.to_owned());
    }
    table.keys().filter(|k| *k != "type").find_map(|key| {
        let mut trial = root.clone();
        let mut at_key = steps.to_vec();
        at_key.push(Step::Key(key.clone()));
        remove(&mut trial, &at_key);
        let changed = match serde_path_to_error::deserialize::<_, T>(trial) {
            Ok(_) => true,
            Err(e) => e.path().to_string() != path || e.inner().message() != message,
        };
        changed.then(|| key.clone())
    })
}

/// One step of a path into a TOML document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Step {
    Key(String),
    Index(usize),
}

/// The steps of a path, or `None` when it goes through an enum (whose inside serde does not
/// track).
fn steps_of(path: &serde_path_to_error::Path) -> Option<Vec<Step>> {
    path.iter()
        .map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
            _ => None,
        })
        .collect()
}

/// Steps as a TOML dotted key: `records.select`, `keys[0].id`, `fields."applicant.name".from`.
fn dotted(steps: &[Step]) -> String {
    let bare = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Index(i) => out.push_str(&format!("[{i}]")),
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                if bare(k) {
                    out.push_str(k);
                } else {
                    out.push_str(&format!("{k:?}"));
                }
            }
        }
    }
    out
}

/// The value at `steps`, if each step before the last is a table or an array.
fn at<'a>(root: &'a mut toml::Value, steps: &[Step]) -> Option<&'a mut toml::Value> {
    steps.iter().try_fold(root, |value, step| match (value, step) {
        (toml::Value::Table(t), Step::Key(k)) => t.get_mut(k),
        (toml::Value::Array(a), Step::Index(i)) => a.get_mut(*i),
        _ => None,
    })
}

fn remove(root: &mut toml::Value, steps: &[Step]) -> bool {
    let Some((Step::Key(key), above)) = steps.split_last() else {
        return false;
    };
    at(root, above)
        .and_then(toml::Value::as_table_mut)
        .is_some_and(|t| t.remove(key).is_some())
}

fn put(root: &mut toml::Value, steps: &[Step], value: toml::Value) -> bool {
    let Some((last, above)) = steps.split_last() else {
        return false;
    };
    match (at(root, above), last) {
        (Some(toml::Value::Table(t)), Step::Key(key)) => {
            t.insert(key.clone(), value);
            true
        }
        (Some(toml::Value::Array(a)), Step::Index(i)) if *i < a.len() => {
            a[*i] = value;
            true
        }
        _ => false,
    }
}

/// A config that passed validation and can be built.
#[derive(Debug, Clone)]
pub struct ValidatedConfig(AdapterConfig);

impl AdapterConfig {
    /// Parses TOML: a syntax error names its line, the shape errors their full paths, all at
    /// once (`type` picks the kind's config, read as that kind's own table).
    pub fn from_toml(text: &str) -> Result<AdapterConfig, Vec<ConfigIssue>> {
        AdapterConfig::from_table(toml_table(text)?)
    }

    /// Checks every field; no I/O.
    pub fn validate(self) -> Result<ValidatedConfig, Vec<ConfigIssue>> {
        let mut issues = Issues::default();
        self.check(&mut issues);
        if issues.0.is_empty() {
            Ok(ValidatedConfig(self))
        } else {
            Err(issues.0)
        }
    }
}

impl ValidatedConfig {
    pub fn config(&self) -> &AdapterConfig {
        &self.0
    }

    /// Resolves secrets and builds the driver.
    pub async fn build(&self, secrets: &dyn Secrets) -> Result<Box<dyn Adapter>, AdapterError> {
        self.0.build(secrets).await
    }
}

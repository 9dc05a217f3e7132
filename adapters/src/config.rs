//! Adapter configs: TOML written by integration engineers, with `type` selecting the driver.
//! Parsing catches shape errors; `validate` is pure and reports every problem at once with its
//! path; only `ValidatedConfig::build` does I/O (resolving secrets, opening connections).

use serde::Serialize;

use crate::registry::AdapterConfig;
use crate::resilience::ResilienceConfig;
use crate::{Adapter, AdapterError, Secrets};

/// One problem in a config, at a path like `records.paging.size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigIssue {
    pub path: String,
    pub message: String,
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
    pub fn window_format(&mut self, path: &str, format: Option<&str>, has_watermark: bool) {
        let Some(format) = format else { return };
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

/// Parses a TOML config of any shape; a syntax or shape error names its line and the key.
pub fn parse_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ConfigIssue> {
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .and_then(|s| text.get(..s.start))
            .map(|before| before.matches('\n').count() + 1);
        ConfigIssue {
            path: line.map(|l| format!("line {l}")).unwrap_or_default(),
            message: e.message().to_owned(),
        }
    })
}

/// A config that passed validation and can be built.
#[derive(Debug, Clone)]
pub struct ValidatedConfig(AdapterConfig);

impl AdapterConfig {
    /// Parses TOML; a syntax or shape error names its line and the key.
    pub fn from_toml(text: &str) -> Result<AdapterConfig, ConfigIssue> {
        parse_toml(text)
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

//! `[exchange]`: where and how the node delivers cases to the provincial data-sharing exchange.
//! `problems` checks the table without I/O (every problem at once); `build` resolves the token
//! reference and reads the template file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ronghe_adapters::{SecretRef, Secrets};
use serde::Deserialize;

use super::payload::{PayloadError, Template};
use crate::retry::RetryPolicy;

/// The `[exchange]` table of the node's config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    /// The exchange's endpoint for cases; each case version is POSTed there as JSON.
    pub url: String,
    /// Bearer token sent in `Authorization`, as an `env:`/`file:` reference; none when absent.
    #[serde(default)]
    pub token: Option<SecretRef>,
    /// A handlebars template for the payload (relative to the config file); the built-in
    /// template with the Art. 27 fields when absent.
    #[serde(default)]
    pub template: Option<PathBuf>,
    /// No longer read (issue 22): retries stop at `retry_horizon_seconds`, not after a count.
    /// Accepted so a node whose settings still have it starts after an upgrade; `build` logs a
    /// warning saying what to do instead.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Items claimed (and delivered concurrently) per pass.
    #[serde(default = "defaults::batch_size")]
    pub batch_size: u32,
    /// How long a claim is this node's, in seconds; another node takes over after it runs out.
    #[serde(default = "defaults::lease_seconds")]
    pub lease_seconds: u64,
    /// Pause between passes when there is nothing due, in milliseconds (new items on this node
    /// wake the worker at once).
    #[serde(default = "defaults::poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Time allowed for one delivery request, in seconds.
    #[serde(default = "defaults::timeout_seconds")]
    pub timeout_seconds: u64,
    /// First retry delay in milliseconds; doubles per attempt, with jitter.
    #[serde(default = "defaults::backoff_base_ms")]
    pub backoff_base_ms: u64,
    /// Longest retry delay, in seconds.
    #[serde(default = "defaults::backoff_max_seconds")]
    pub backoff_max_seconds: u64,
    /// How long an item keeps being retried after its first retriable failure (5xx, 408, 429,
    /// timeouts, connection errors) before it goes to the dead-letter queue, in seconds (72 h).
    #[serde(default = "defaults::retry_horizon_seconds")]
    pub retry_horizon_seconds: u64,
    /// After how long unreachable a notification (提醒) is raised, in seconds.
    #[serde(default = "defaults::notify_after_seconds")]
    pub notify_after_seconds: u64,
    /// After how long unreachable an escalation (督办升级, Art. 33) is raised, in seconds.
    #[serde(default = "defaults::escalate_after_seconds")]
    pub escalate_after_seconds: u64,
}

mod defaults {
    pub(super) fn batch_size() -> u32 {
        32
    }
    pub(super) fn lease_seconds() -> u64 {
        60
    }
    pub(super) fn poll_interval_ms() -> u64 {
        1000
    }
    pub(super) fn timeout_seconds() -> u64 {
        10
    }
    pub(super) fn backoff_base_ms() -> u64 {
        500
    }
    pub(super) fn backoff_max_seconds() -> u64 {
        300
    }
    pub(super) fn retry_horizon_seconds() -> u64 {
        72 * 3600
    }
    pub(super) fn notify_after_seconds() -> u64 {
        300
    }
    pub(super) fn escalate_after_seconds() -> u64 {
        1800
    }
}

impl ExchangeConfig {
    /// A config for `url` with every default.
    pub fn new(url: impl Into<String>) -> ExchangeConfig {
        ExchangeConfig {
            url: url.into(),
            token: None,
            template: None,
            max_attempts: None,
            batch_size: defaults::batch_size(),
            lease_seconds: defaults::lease_seconds(),
            poll_interval_ms: defaults::poll_interval_ms(),
            timeout_seconds: defaults::timeout_seconds(),
            backoff_base_ms: defaults::backoff_base_ms(),
            backoff_max_seconds: defaults::backoff_max_seconds(),
            retry_horizon_seconds: defaults::retry_horizon_seconds(),
            notify_after_seconds: defaults::notify_after_seconds(),
            escalate_after_seconds: defaults::escalate_after_seconds(),
        }
    }

    /// Every problem of the table, each with its path; no I/O.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match url::Url::parse(&self.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                if url.password().is_some() {
                    problems.push(
                        "exchange.url: must not carry a password; use exchange.token = \"env:…\"".to_owned(),
                    );
                }
            }
            _ => problems.push(format!(
                "exchange.url: {:?} is not an http:// or https:// URL",
                self.url
            )),
        }
        if let Some(problem) = self.token.as_ref().and_then(SecretRef::problem) {
            problems.push(format!("exchange.token: {problem}"));
        }
        let mut at_least = |name: &str, value: u64, min: u64| {
            if value < min {
                problems.push(format!("exchange.{name}: must be at least {min}"));
            }
        };
        at_least("batch_size", self.batch_size.into(), 1);
        at_least("timeout_seconds", self.timeout_seconds, 1);
        at_least("poll_interval_ms", self.poll_interval_ms, 10);
        at_least("backoff_base_ms", self.backoff_base_ms, 1);
        at_least("backoff_max_seconds", self.backoff_max_seconds, 1);
        // The horizon must allow a retry at the longest delay, and people hear of an outage
        // (a notification, then an escalation) before anything is given up.
        if self.retry_horizon_seconds < self.backoff_max_seconds {
            problems.push(format!(
                "exchange.retry_horizon_seconds: must be at least exchange.backoff_max_seconds ({})",
                self.backoff_max_seconds
            ));
        }
        if self.notify_after_seconds >= self.escalate_after_seconds {
            problems.push(format!(
                "exchange.notify_after_seconds: must be shorter than exchange.escalate_after_seconds ({})",
                self.escalate_after_seconds
            ));
        }
        if self.escalate_after_seconds >= self.retry_horizon_seconds {
            problems.push(format!(
                "exchange.escalate_after_seconds: must be shorter than exchange.retry_horizon_seconds ({})",
                self.retry_horizon_seconds
            ));
        }
        if self.batch_size > 1000 {
            problems.push("exchange.batch_size: must be at most 1000".to_owned());
        }
        // A lease must outlast a delivery, or a slow answer would let another node deliver the
        // same item at the same time.
        if self.lease_seconds <= self.timeout_seconds {
            problems.push(format!(
                "exchange.lease_seconds: must be longer than exchange.timeout_seconds ({})",
                self.timeout_seconds
            ));
        }
        problems
    }

    /// Makes a relative template path relative to the config file's directory.
    pub(crate) fn relative_to(&mut self, dir: &Path) {
        if let Some(template) = self.template.as_mut() {
            *template = dir.join(&*template);
        }
    }

    /// Resolves the token and reads and compiles the template.
    pub fn build(&self, secrets: &dyn Secrets) -> Result<Exchange, BuildError> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(BuildError::Invalid(problems.join("; ")));
        }
        if let Some(attempts) = self.max_attempts {
            tracing::warn!(
                max_attempts = attempts,
                "exchange.max_attempts is no longer read: retries stop at exchange.retry_horizon_seconds \
                 (default 259200, 72 hours) after an item's first failure; remove the line"
            );
        }
        let token = match &self.token {
            Some(reference) => Some(
                secrets
                    .resolve(reference)
                    .map_err(|e| BuildError::Token(e.to_string()))?,
            ),
            None => None,
        };
        let template = match &self.template {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| BuildError::TemplateFile {
                    path: path.clone(),
                    source,
                })?;
                Template::compile(&text)?
            }
            None => Template::builtin(),
        };
        Ok(Exchange {
            url: self.url.clone(),
            token,
            template,
            batch_size: self.batch_size,
            lease: Duration::from_secs(self.lease_seconds),
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            timeout: Duration::from_secs(self.timeout_seconds),
            retry: RetryPolicy {
                base: Duration::from_millis(self.backoff_base_ms),
                cap: Duration::from_secs(self.backoff_max_seconds),
                horizon: Duration::from_secs(self.retry_horizon_seconds),
            },
            notify_after: Duration::from_secs(self.notify_after_seconds),
            escalate_after: Duration::from_secs(self.escalate_after_seconds),
        })
    }
}

/// A checked and built `[exchange]`: what the worker runs with.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub url: String,
    pub(crate) token: Option<String>,
    pub template: Template,
    pub batch_size: u32,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub notify_after: Duration,
    pub escalate_after: Duration,
}

/// Why `[exchange]` cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("invalid [exchange]: {0}")]
    Invalid(String),
    #[error("exchange.token: {0}")]
    Token(String),
    #[error("exchange.template: cannot read {path}")]
    TemplateFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("exchange.template: {0}")]
    Template(#[from] PayloadError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_at_once() {
        let text = "url = \"ftp://x\"\ntoken = \"abc\"\nbatch_size = 0\nlease_seconds = 5\ntimeout_seconds = 10\n\
                    max_attempts = 12\nretry_horizon_seconds = 60\nescalate_after_seconds = 120\n";
        let config: ExchangeConfig = toml::from_str(text).unwrap();
        let problems = config.problems().join("\n");
        for path in [
            "exchange.url",
            "exchange.token",
            "exchange.batch_size",
            "exchange.lease_seconds",
            "exchange.retry_horizon_seconds: must be at least exchange.backoff_max_seconds (300)",
            "exchange.escalate_after_seconds: must be shorter than exchange.retry_horizon_seconds (60)",
        ] {
            assert!(problems.contains(path), "{path} missing in {problems}");
        }
        let err = toml::from_str::<ExchangeConfig>("url = \"http://x\"\nretries = 3\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `retries`"), "{err}");
        assert!(
            ExchangeConfig::new("http://127.0.0.1:1/cases")
                .problems()
                .is_empty()
        );
        // Settings written before issue 22 still start: max_attempts is read and ignored.
        let old: ExchangeConfig =
            toml::from_str("url = \"http://127.0.0.1:1/cases\"\nmax_attempts = 12\n").unwrap();
        assert_eq!(old.problems(), Vec::<String>::new());
        assert!(old.build(&ronghe_adapters::Fixed(Default::default())).is_ok());
    }
}

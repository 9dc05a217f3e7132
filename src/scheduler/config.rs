//! `[scheduler]`: the cron schedule of each job (with a seconds field, in Asia/Shanghai time),
//! the notification webhooks and the escalation rule (Art. 33). `problems` checks the table
//! without I/O, every problem at once.

use std::str::FromStr as _;
use std::time::Duration;

use ronghe_adapters::SecretRef;
use serde::Deserialize;

use crate::retry::RetryPolicy;

/// Settings of the scheduler inside `ronghe serve`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Whether `ronghe serve` runs the jobs (`false`: only `ronghe scheduler run`).
    pub enabled: bool,
    /// Cron expression (sec min hour day month weekday, Beijing time) of the daily plan
    /// evaluation: overdue milestones, plans turning amber or red, notices taking effect.
    pub plans_schedule: String,
    /// Cron expression of the correction-request deadline reminders (Art. 28).
    pub corrections_schedule: String,
    /// Cron expression of the reconciliation of each attached system's previous day (Art. 15).
    pub reconcile_schedule: String,
    /// Cron expression of the check of each probed system: reachability and schema drift (Art. 15).
    pub checks_schedule: String,
    /// Cron expression of the return-visit job (Art. 15): it draws the previous month's plan when
    /// the tick falls on the month's first working day, and does nothing on other days.
    pub visits_schedule: String,
    /// Cron expression of the delivery of queued notifications to the webhook (retries included).
    pub deliver_schedule: String,
    /// Where notifications are POSTed as JSON; without it they are logged and stay queued.
    pub webhook_url: Option<String>,
    /// Where escalations go; without it, to `webhook_url`.
    pub escalation_webhook_url: Option<String>,
    /// The HMAC-SHA256 key (`env:NAME` or `file:/path`) that signs every webhook request the way
    /// write-back pushes are signed (key id `ronghe`), so a receiver can tell them from forgeries.
    pub webhook_secret: Option<SecretRef>,
    /// Overdue reminders (one per item per day) after which a still-overdue item is escalated.
    pub escalate_after_reminders: u32,
    /// A correction request due within this many working days gets a reminder.
    pub due_soon_working_days: u32,
    /// Time a webhook has to answer, in seconds.
    pub webhook_timeout_seconds: u64,
    /// Wait before the first retry of a failed delivery, in seconds; doubled per attempt.
    pub retry_base_seconds: u64,
    /// Longest wait between retries, in seconds.
    pub retry_max_seconds: u64,
    /// How long after it was raised a notification is still retried on retriable failures
    /// (5xx, 408, 429, timeouts, connection errors), in seconds (72 h); then it is `failed`.
    pub retry_horizon_seconds: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            enabled: true,
            plans_schedule: "0 0 8 * * *".to_owned(),
            corrections_schedule: "0 5 8 * * *".to_owned(),
            reconcile_schedule: "0 30 2 * * *".to_owned(),
            checks_schedule: "0 0 6 * * *".to_owned(),
            visits_schedule: "0 0 7 * * *".to_owned(),
            deliver_schedule: "0 * * * * *".to_owned(),
            webhook_url: None,
            escalation_webhook_url: None,
            webhook_secret: None,
            escalate_after_reminders: 3,
            due_soon_working_days: 2,
            webhook_timeout_seconds: 10,
            retry_base_seconds: 60,
            retry_max_seconds: 3600,
            retry_horizon_seconds: 72 * 3600,
        }
    }
}

impl SchedulerConfig {
    /// The webhook's retry rule (`crate::retry`).
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(self.retry_base_seconds),
            cap: Duration::from_secs(self.retry_max_seconds),
            horizon: Duration::from_secs(self.retry_horizon_seconds),
        }
    }

    /// Every problem of the table, each with its path; no I/O.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, text) in [
            ("plans_schedule", &self.plans_schedule),
            ("corrections_schedule", &self.corrections_schedule),
            ("reconcile_schedule", &self.reconcile_schedule),
            ("checks_schedule", &self.checks_schedule),
            ("visits_schedule", &self.visits_schedule),
            ("deliver_schedule", &self.deliver_schedule),
        ] {
            if let Err(e) = cron::Schedule::from_str(text) {
                problems.push(format!(
                    "scheduler.{name}: {text:?} is not a cron expression with seconds \
                     (sec min hour day month weekday): {e}"
                ));
            }
        }
        for (name, url) in [
            ("webhook_url", &self.webhook_url),
            ("escalation_webhook_url", &self.escalation_webhook_url),
        ] {
            if let Some(url) = url {
                match url::Url::parse(url) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.password().is_none() => {}
                    _ => problems.push(format!(
                        "scheduler.{name}: {url:?} is not an http:// or https:// URL without a password"
                    )),
                }
            }
        }
        if let Some(problem) = self.webhook_secret.as_ref().and_then(SecretRef::problem) {
            problems.push(format!("scheduler.webhook_secret: {problem}"));
        }
        if self.escalation_webhook_url.is_some() && self.webhook_url.is_none() {
            problems.push("scheduler.escalation_webhook_url: needs scheduler.webhook_url as well".to_owned());
        }
        let mut at_least = |name: &str, value: u64, min: u64| {
            if value < min {
                problems.push(format!("scheduler.{name}: must be at least {min}"));
            }
        };
        at_least(
            "escalate_after_reminders",
            self.escalate_after_reminders.into(),
            1,
        );
        at_least("webhook_timeout_seconds", self.webhook_timeout_seconds, 1);
        at_least("retry_base_seconds", self.retry_base_seconds, 1);
        at_least(
            "retry_max_seconds",
            self.retry_max_seconds,
            self.retry_base_seconds.max(1),
        );
        at_least(
            "retry_horizon_seconds",
            self.retry_horizon_seconds,
            self.retry_max_seconds.max(1),
        );
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_every_problem_is_named() {
        assert_eq!(SchedulerConfig::default().problems(), Vec::<String>::new());
        let config: SchedulerConfig = toml::from_str(
            "plans_schedule = \"0 8 * * *\"\nescalation_webhook_url = \"ftp://x\"\nescalate_after_reminders = 0\n\
             webhook_secret = \"the-secret-itself\"\n",
        )
        .unwrap();
        let problems = config.problems().join("\n");
        for needle in [
            "scheduler.plans_schedule",
            "scheduler.webhook_secret: must be env:VARIABLE_NAME",
            "scheduler.escalation_webhook_url: \"ftp",
            "needs scheduler.webhook_url",
            "scheduler.escalate_after_reminders",
        ] {
            assert!(problems.contains(needle), "{needle} missing in {problems}");
        }
        let err = toml::from_str::<SchedulerConfig>("webhook = \"x\"").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}

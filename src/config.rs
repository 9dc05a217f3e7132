//! Configuration of `ronghe serve` and of the commands that open the store: a TOML file written
//! by operators, then environment overrides (`RONGHE_DATABASE_URL`, `RONGHE_LISTEN`), then
//! command-line flags. Validated whole before anything starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ronghe_crypto::Named as _;
use serde::Deserialize;

use std::sync::Arc;

use crate::bridge::{BridgeKeysConfig, Keyring};
use crate::exchange::ExchangeConfig;
use crate::housekeeping::HousekeepingConfig;
use crate::scheduler::SchedulerConfig;
use crate::store::{Store, StoreOptions};

/// The store the embedded default uses: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://ronghe.db";

/// Settings of a ronghe node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// The address people open the platform at (scheme, host, port), e.g.
    /// `https://zwfw.example.gov.cn`. Passkeys are bound to its host; by default
    /// `http://localhost:PORT` of `listen` (browsers refuse passkeys for IP addresses).
    pub public_url: Option<url::Url>,
    /// Platform store: `sqlite://PATH` (embedded default) or `postgres://USER@HOST/DB`.
    pub database_url: String,
    /// Connections in the store's pool.
    pub max_connections: u32,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Bytes of write-back bodies (pushes) the node reads, parses and commits at once, each
    /// push weighed by its `Content-Length`; pushes past it wait their turn, never refused. A
    /// push without a length, or larger than this, runs alone. Bounds the intake's memory under
    /// bursts of large SOAP pushes (default 8 MiB: eight 1 MiB pushes at a time).
    pub writeback_bytes_in_flight: usize,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_grace_seconds: u64,
    /// A working-day file that adds or replaces years of the embedded calendar
    /// (a newly published State Council notice), same shape as `data/cn-workdays.toml`.
    pub calendar_override: Option<PathBuf>,
    /// Directory of the mapping configs, one `SYSTEM.toml` per system.
    pub mappings_dir: PathBuf,
    /// `[bridge]`: the keys of the user bridge (key ids and secret references; see README).
    /// Without it the bridge's commands and endpoints say it is not configured.
    pub bridge: Option<BridgeKeysConfig>,
    /// `[exchange]`: delivery to the provincial data-sharing exchange (Art. 27). With it,
    /// `ronghe serve` runs the delivery worker; without it cases wait in the outbox.
    pub exchange: Option<ExchangeConfig>,
    /// `[scheduler]`: job schedules, notification webhooks and escalation (see README).
    pub scheduler: SchedulerConfig,
    /// `[housekeeping]`: how long delivered outbox items and finished job runs are kept (see
    /// README, operations).
    pub housekeeping: HousekeepingConfig,
    /// `[visits]`: return visits (办件回访, Art. 15): the monthly sample's size (see README,
    /// monitoring).
    pub visits: crate::visits::VisitsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            max_connections: 8,
            max_body_bytes: 1024 * 1024,
            writeback_bytes_in_flight: crate::intake::budget::DEFAULT_BYTES,
            shutdown_grace_seconds: 10,
            calendar_override: None,
            mappings_dir: PathBuf::from("mappings"),
            bridge: None,
            exchange: None,
            scheduler: SchedulerConfig::default(),
            housekeeping: HousekeepingConfig::default(),
            visits: crate::visits::VisitsConfig::default(),
        }
    }
}

impl Config {
    /// The node's keys (`[bridge]`), their secrets resolved from the environment; `None`
    /// without the table.
    pub fn keyring(&self) -> anyhow::Result<Option<Arc<Keyring>>> {
        self.bridge
            .as_ref()
            .map(|keys| {
                Keyring::build(keys, &ronghe_adapters::Environment)
                    .map(Arc::new)
                    .context("cannot build the node's keys ([bridge])")
            })
            .transpose()
    }

    /// Opens the platform store, which seals applicants' personal values with the node's keys
    /// when it has them (issue 20); answers the keys too.
    pub async fn open_store(&self, options: &StoreOptions) -> anyhow::Result<(Store, Option<Arc<Keyring>>)> {
        let keyring = self.keyring()?;
        let store = Store::open(&self.database_url, options)
            .await
            .with_context(|| format!("cannot open the platform store at {}", redact(&self.database_url)))?;
        let store = match &keyring {
            Some(keys) => store.sealed_with(keys.clone()),
            None => store,
        };
        if let (Some(keys), Some(bridge)) = (&keyring, &self.bridge) {
            let mut problems = Vec::new();
            for (i, key) in bridge.keys.iter().enumerate() {
                if !crate::accounts::key_opens_its_seals(&store, keys, &key.id).await? {
                    problems.push(format!(
                        "bridge.keys[{i}] ({:?}, cipher {}): cannot open the values it sealed in this store: its secret or its cipher is not the one that sealed them. A key that named no cipher sealed with aes-256-gcm before 2026-12 (sm4-gcm since): add cipher = \"aes-256-gcm\" to it",
                        key.id,
                        key.cipher.name(),
                    ));
                }
            }
            if !problems.is_empty() {
                anyhow::bail!("{}", problems.join("\n"));
            }
        }
        Ok((store, keyring))
    }

    /// The public URL people open the platform at: `public_url`, else `http://localhost:PORT`
    /// with the port the server is bound to (known only once bound for `--listen …:0`).
    pub fn public_url(&self, bound_port: u16) -> url::Url {
        self.public_url.clone().unwrap_or_else(|| {
            url::Url::parse(&format!("http://localhost:{bound_port}"))
                .unwrap_or_else(|_| unreachable!("a port always makes a URL"))
        })
    }

    /// Reads the file (if any), then applies the environment overrides read through `env`.
    pub fn load(path: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                let mut config = Config::parse(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?;
                // Paths in a config file are relative to the file, not to where ronghe runs.
                if let Some(dir) = path.parent() {
                    if let Some(file) = config.calendar_override.as_mut() {
                        *file = dir.join(&*file);
                    }
                    config.mappings_dir = dir.join(&config.mappings_dir);
                    if let Some(exchange) = config.exchange.as_mut() {
                        exchange.relative_to(dir);
                    }
                }
                config
            }
            None => Config::default(),
        };
        if let Some(url) = env("RONGHE_DATABASE_URL") {
            config.database_url = url;
        }
        if let Some(listen) = env("RONGHE_LISTEN") {
            config.listen = listen
                .parse()
                .with_context(|| format!("RONGHE_LISTEN={listen:?} is not an address like 127.0.0.1:8080"))?;
        }
        config.check()?;
        Ok(config)
    }

    fn parse(text: &str) -> anyhow::Result<Config> {
        Ok(toml::from_str(text)?)
    }

    /// Every problem at once.
    fn check(&self) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        if self.max_connections == 0 {
            problems.push("max_connections must be at least 1".to_owned());
        }
        if self.max_body_bytes < 1024 {
            problems.push("max_body_bytes must be at least 1024".to_owned());
        }
        if self.writeback_bytes_in_flight < 1024 {
            problems.push("writeback_bytes_in_flight must be at least 1024".to_owned());
        }
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            problems.push("database_url must start with sqlite: or postgres://".to_owned());
        }
        if let Some(bridge) = &self.bridge {
            problems.extend(bridge.problems());
        }
        if let Some(exchange) = &self.exchange {
            problems.extend(exchange.problems());
        }
        problems.extend(self.scheduler.problems());
        problems.extend(self.housekeeping.problems());
        problems.extend(self.visits.problems());
        anyhow::ensure!(problems.is_empty(), "{}", problems.join("; "));
        Ok(())
    }
}

/// A database URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        let config = Config::parse("listen = \"0.0.0.0:9000\"\nmax_body_bytes = 2048\n").unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ronghe.toml");
        std::fs::write(&path, "database_url = \"sqlite://a.db\"\n").unwrap();
        let env = |k: &str| (k == "RONGHE_DATABASE_URL").then(|| "postgres://x@localhost/db".to_owned());
        assert_eq!(
            Config::load(Some(&path), env).unwrap().database_url,
            "postgres://x@localhost/db"
        );
    }

    #[test]
    fn the_write_back_budget_is_read_and_checked() {
        assert_eq!(
            Config::default().writeback_bytes_in_flight,
            8 * 1024 * 1024,
            "the documented default"
        );
        let config = Config::parse("writeback_bytes_in_flight = 65536\n").unwrap();
        assert_eq!(config.writeback_bytes_in_flight, 65536);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "writeback_bytes_in_flight = 10\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&path), |_| None).unwrap_err());
        assert!(
            err.contains("writeback_bytes_in_flight must be at least 1024"),
            "{err}"
        );
    }

    #[test]
    fn housekeeping_retentions_are_read_and_checked() {
        let config = Config::parse("[housekeeping]\ndelivered_outbox_retention_days = 30\n").unwrap();
        assert_eq!(config.housekeeping.delivered_outbox_retention_days, 30);
        assert_eq!(config.housekeeping.job_runs_retention_days, 30, "the default");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[housekeeping]\ndelivered_outbox_retention_days = 0\njob_runs_retention_days = 0\n",
        )
        .unwrap();
        let err = format!("{:#}", Config::load(Some(&path), |_| None).unwrap_err());
        assert!(
            err.contains("delivered_outbox_retention_days must be at least 1")
                && err.contains("job_runs_retention_days must be at least 1"),
            "{err}"
        );
    }

    #[test]
    fn paths_in_the_file_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ronghe.toml");
        std::fs::write(&path, "calendar_override = \"workdays-2027.toml\"\n").unwrap();
        let config = Config::load(Some(&path), |_| None).unwrap();
        assert_eq!(
            config.calendar_override,
            Some(dir.path().join("workdays-2027.toml"))
        );
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        let err = Config::parse("listen = \"127.0.0.1:1\"\nlisten_port = 3\n").unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown field `listen_port`"),
            "{err:#}"
        );
        let err = Config::load(None, |k| (k == "RONGHE_LISTEN").then(|| "nowhere".into())).unwrap_err();
        assert!(format!("{err:#}").contains("RONGHE_LISTEN"), "{err:#}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "max_connections = 0\ndatabase_url = \"mysql://x\"\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&path), |_| None).unwrap_err());
        assert!(
            err.contains("max_connections") && err.contains("database_url"),
            "{err}"
        );
    }

    #[test]
    fn exchange_is_checked_whole_and_its_template_is_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[exchange]\nurl = \"http://127.0.0.1:9/cases\"\ntemplate = \"payload.hbs\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), |_| None).unwrap();
        let exchange = config.exchange.unwrap();
        assert_eq!(exchange.template, Some(dir.path().join("payload.hbs")));
        assert_eq!(exchange.retry_horizon_seconds, 72 * 3600);
        std::fs::write(
            &path,
            "max_connections = 0\n[exchange]\nurl = \"nowhere\"\ntoken = \"plain\"\n",
        )
        .unwrap();
        let err = format!("{:#}", Config::load(Some(&path), |_| None).unwrap_err());
        for needle in ["max_connections", "exchange.url", "exchange.token"] {
            assert!(err.contains(needle), "{needle} missing in {err}");
        }
    }

    #[test]
    fn bridge_keys_are_references_checked_whole() {
        let text = "[bridge]\nactive_key = \"k2\"\n[[bridge.keys]]\nid = \"k1\"\nsecret = \"0123abcd\"\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        let err = format!("{:#}", Config::load(Some(&path), |_| None).unwrap_err());
        assert!(
            err.contains("bridge.keys[0].secret") && err.contains("bridge.active_key"),
            "{err}"
        );
        let good = "[bridge]\nactive_key = \"k1\"\n[[bridge.keys]]\nid = \"k1\"\nsecret = \"env:K1\"\ncipher = \"sm4-gcm\"\n";
        let config = Config::parse(good).unwrap();
        assert_eq!(
            config.bridge.unwrap().keys[0].cipher,
            ronghe_crypto::Cipher::Sm4Gcm
        );
    }
}

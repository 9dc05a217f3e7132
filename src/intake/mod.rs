//! The intake every case enters through: signed write-back pushes (办件回传) from legacy systems
//! in compatible transition, scheduled pulls (the `pull` module) and bulk migration
//! (the `migration` module) all map, judge and store records here. `config` is a system's write-back
//! config; `auth` checks signed requests (key id,
//! timestamp window, nonce once, HMAC-SHA256/SM3, optional SM4-GCM); `pipeline::ingest` maps,
//! validates and stores records for every channel; `soap` reads and answers SOAP pushes.
//! `Intake` holds what the endpoints share: the mappings directory, caches of compiled
//! mappings and built configs, keyed by their text so an edit is picked up without a restart,
//! the organisations registry for mappings that look agencies up (rebuilt when an import raised
//! its revision), each system's built adapter for pulls and reconciliations (`Intake::adapter`),
//! a one-second copy of what every push reads (`recent`), and the `budget` of pushed bodies in
//! flight.

pub mod auth;
pub mod budget;
pub mod commit;
pub mod config;
pub mod pipeline;
mod recent;
pub mod soap;

pub use self::config::{Writeback, WritebackConfig};
pub use budget::BodyBudget;
pub use commit::GroupCommit;
pub use pipeline::{Accepted, Channel, Delivery, Ingested, RecordResult, Records, ingest, receipt};
pub use recent::FRESH_FOR;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ronghe_adapters::{Adapter, AdapterError, ConfigIssue, Secrets};
use sha2::{Digest, Sha256};

use self::recent::Recent;
use crate::mapping::{Mapping, MappingIssue};
use crate::orgs::Directory;
use crate::rules::PublishedRule;
use crate::store::{Store, StoreError};
use crate::systems::System;

/// Why a system's intake cannot run.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("system {0:?} has no write-back config")]
    NotConfigured(String),
    #[error("the write-back config of system {system:?} does not build: {}", join(.issues))]
    Config {
        system: String,
        issues: Vec<ConfigIssue>,
    },
    #[error("cannot read the mapping of system {system:?} at {path}: {source}")]
    MappingMissing {
        system: String,
        path: String,
        source: std::io::Error,
    },
    #[error("the mapping of system {system:?} does not compile: {}", join(.issues))]
    Mapping {
        system: String,
        issues: Vec<MappingIssue>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every item on one line, `; ` between them, for error messages.
pub(crate) fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// How long a built adapter is reused at most, while its config is unchanged: its connections
/// and what it learnt of the source (an SQL adapter's catalogue, a breaker's state) are then
/// built again, and a rotated secret file is read again.
pub const ADAPTER_LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);

/// A value built from a text, reused while the text is unchanged.
type Cache<T> = Mutex<HashMap<String, ([u8; 32], Arc<T>)>>;

fn cached<T, E>(
    cache: &Cache<T>,
    system: &str,
    text: &str,
    build: impl FnOnce() -> Result<T, E>,
) -> Result<Arc<T>, E> {
    let hash: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    // A poisoned lock only means another request panicked while inserting; the map is intact.
    if let Some((h, value)) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(system)
        && *h == hash
    {
        return Ok(value.clone());
    }
    let value = Arc::new(build()?);
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(system.to_owned(), (hash, value.clone()));
    Ok(value)
}

/// What the write-back endpoints and the pull share: one per store and process.
#[derive(Clone)]
pub struct Intake {
    mappings_dir: PathBuf,
    secrets: Arc<dyn Secrets>,
    mappings: Arc<Cache<Mapping>>,
    /// The mappings that look agencies up, keyed by their text and the registry's revision.
    bound: Arc<Cache<Mapping>>,
    orgs: Arc<tokio::sync::Mutex<Option<Arc<Directory>>>>,
    configs: Arc<Cache<Writeback>>,
    /// The systems' adapters built for pulls and reconciliations, with the hash of the config
    /// text each was built from: reused while that text is unchanged, for at most
    /// `ADAPTER_LIFETIME`.
    adapters: moka::future::Cache<String, ([u8; 32], Arc<dyn Adapter>)>,
    /// What every push reads, kept for `FRESH_FOR` (`recent`).
    recent_systems: Recent<System>,
    recent_configs: Recent<Writeback>,
    recent_rules: Recent<Vec<PublishedRule>>,
    commits: GroupCommit,
    budget: BodyBudget,
}

impl Intake {
    /// Writes to `store`, reads mappings from `mappings_dir/SYSTEM.toml` and resolves config
    /// secrets with `secrets`.
    pub fn new(store: &Store, mappings_dir: impl Into<PathBuf>, secrets: Arc<dyn Secrets>) -> Intake {
        Intake {
            mappings_dir: mappings_dir.into(),
            secrets,
            mappings: Arc::default(),
            bound: Arc::default(),
            orgs: Arc::default(),
            configs: Arc::default(),
            adapters: moka::future::Cache::builder()
                .time_to_live(ADAPTER_LIFETIME)
                .build(),
            recent_systems: Recent::default(),
            recent_configs: Recent::default(),
            recent_rules: Recent::default(),
            commits: GroupCommit::new(store.clone()),
            budget: BodyBudget::default(),
        }
    }

    /// The same intake with a budget of `bytes` of pushed bodies in flight (`BodyBudget`).
    pub fn with_body_budget(mut self, bytes: usize) -> Intake {
        self.budget = BodyBudget::new(bytes);
        self
    }

    /// Where the systems' mappings are (`SYSTEM.toml`).
    pub fn mappings_dir(&self) -> &std::path::Path {
        &self.mappings_dir
    }

    /// The bytes of pushed bodies this node works on at once.
    pub fn budget(&self) -> &BodyBudget {
        &self.budget
    }

    /// Where the intake's writes are committed, in groups.
    pub fn commits(&self) -> &GroupCommit {
        &self.commits
    }

    /// The system's compiled mapping, recompiled when its file changed; one that looks agencies
    /// up reads the organisations registry of `store` at its current revision.
    pub async fn mapping(&self, store: &Store, system_id: &str) -> Result<Arc<Mapping>, IntakeError> {
        let path = self.mappings_dir.join(format!("{system_id}.toml"));
        let text = tokio::fs::read_to_string(&path)
            .await
            .map_err(|source| IntakeError::MappingMissing {
                system: system_id.to_owned(),
                path: path.display().to_string(),
                source,
            })?;
        let compile = || {
            Mapping::compile(&text).map_err(|issues| IntakeError::Mapping {
                system: system_id.to_owned(),
                issues,
            })
        };
        let mapping = cached(&self.mappings, system_id, &text, compile)?;
        if !mapping.uses_orgs() {
            return Ok(mapping);
        }
        let directory = self.directory(store).await?;
        let keyed = format!(
            "{text}\n# organisations registry revision {}",
            directory.revision()
        );
        cached(&self.bound, system_id, &keyed, || {
            compile().map(|m| m.with_orgs(directory))
        })
    }

    /// The organisations registry, read again when an import raised its revision.
    async fn directory(&self, store: &Store) -> Result<Arc<Directory>, StoreError> {
        let revision = store.orgs_revision().await?;
        let mut held = self.orgs.lock().await;
        match held.as_ref() {
            Some(directory) if directory.revision() == revision => Ok(directory.clone()),
            _ => {
                let directory = Arc::new(store.org_directory().await?);
                *held = Some(directory.clone());
                Ok(directory)
            }
        }
    }

    /// The system's adapter, built from its attached config (`attached_adapter`), reused by the
    /// pulls and reconciliations that follow while the config's text is unchanged (at most
    /// `ADAPTER_LIFETIME`): its connection pool, its SQL catalogue, its breaker and rate limit
    /// carry over instead of being set up again each run. Errors as `attached_adapter::build`.
    pub async fn adapter(
        &self,
        store: &Store,
        system_id: &str,
    ) -> Result<Result<Arc<dyn Adapter>, AdapterError>, StoreError> {
        let text = match crate::attached_adapter::config_text(store, system_id).await? {
            Ok(text) => text,
            Err(e) => return Ok(Err(e)),
        };
        let hash: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        if let Some((held, adapter)) = self.adapters.get(system_id).await
            && held == hash
        {
            return Ok(Ok(adapter));
        }
        let built: Arc<dyn Adapter> =
            match crate::attached_adapter::from_text(&text, self.secrets.as_ref(), system_id).await {
                Ok(adapter) => Arc::from(adapter),
                Err(e) => return Ok(Err(e)),
            };
        self.adapters
            .insert(system_id.to_owned(), (hash, built.clone()))
            .await;
        Ok(Ok(built))
    }

    /// The system as a push sees it (`recent`: read at most `FRESH_FOR` ago).
    pub async fn system(&self, store: &Store, system_id: &str) -> Result<Arc<System>, StoreError> {
        let read = async { store.get_system(system_id).await.map(Arc::new) };
        self.recent_systems.get(store, system_id, read).await
    }

    /// Every published rule, by publication date (`recent`: read at most `FRESH_FOR` ago).
    pub async fn rules(&self, store: &Store) -> Result<Arc<Vec<PublishedRule>>, StoreError> {
        let read = async { store.list_rules(None).await.map(Arc::new) };
        self.recent_rules.get(store, "", read).await
    }

    /// The system's write-back config with its secrets resolved (`recent`: read at most
    /// `FRESH_FOR` ago), rebuilt when its text changed.
    pub async fn config(&self, store: &Store, system_id: &str) -> Result<Arc<Writeback>, IntakeError> {
        let read = self.config_now(store, system_id);
        self.recent_configs.get(store, system_id, read).await
    }

    /// The system's write-back config as the store holds it now.
    async fn config_now(&self, store: &Store, system_id: &str) -> Result<Arc<Writeback>, IntakeError> {
        let text = match store.writeback_config(system_id).await {
            Ok(text) => text,
            Err(StoreError::NotFound { .. }) => return Err(IntakeError::NotConfigured(system_id.to_owned())),
            Err(e) => return Err(e.into()),
        };
        cached(&self.configs, system_id, &text, || {
            WritebackConfig::parse(&text)
                .and_then(|c| c.build(self.secrets.as_ref()))
                .map_err(|issues| IntakeError::Config {
                    system: system_id.to_owned(),
                    issues,
                })
        })
    }
}

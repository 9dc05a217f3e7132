//! System checks (系统检查, Art. 15): a departmental system probed through its attached adapter —
//! reachable or not, and how fast — and the fresh profile compared with the stored one
//! (`mapping::drift`), each change with the rules of the system's mapping it breaks. Drift with
//! no interface-change notice (Art. 30) effective since the stored profile was taken is flagged
//! as unannounced. An engineer who has adapted the mapping accepts the drift: the fresh profile
//! replaces the stored one, with who accepted it and why.

use std::path::Path;
use std::time::Instant;

use chrono::NaiveDate;
use ronghe_adapters::Secrets;

use crate::mapping::{Mapping, drift};
use crate::notices::NoticeKind;
use crate::pull::{PullError, attached_adapter};
use crate::store::{NewCheck, Store, StoredProfile, SystemCheck};

/// Records the probe takes samples of, as `adapters probe` does by default.
const SAMPLE: usize = 5;

/// Checks `system`: probes it, compares the profile with the stored one and records the check
/// as `actor`. With `accept` (a reason), drift is accepted: the fresh profile is kept.
pub async fn check(
    store: &Store,
    secrets: &dyn Secrets,
    mappings_dir: &Path,
    system: &str,
    actor: &str,
    accept: Option<&str>,
) -> Result<SystemCheck, PullError> {
    let adapter = attached_adapter(store, secrets, system).await?;
    let StoredProfile {
        profile: stored,
        probed_at,
    } = store.profile(system).await?;
    let started = Instant::now();
    let probed = adapter.probe(SAMPLE).await;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).ok();
    let fresh = match probed {
        Ok(fresh) => fresh,
        Err(e) => {
            let new = NewCheck {
                system_id: system,
                latency_ms,
                error: Some(e.to_string()),
                drifts: Vec::new(),
                unannounced: false,
                accepted: None,
            };
            return Ok(store.record_check(new, actor).await?);
        }
    };
    // The mapping the system's records go through, where it has one that compiles.
    let mapping = std::fs::read_to_string(mappings_dir.join(format!("{system}.toml")))
        .ok()
        .and_then(|text| Mapping::compile(&text).ok());
    let drifts = drift(&stored, &fresh, mapping.as_ref().map(Mapping::config));
    let since = crate::calendar::beijing_date(&probed_at);
    let unannounced = !drifts.is_empty() && !announced(store, system, since).await?;
    let new = NewCheck {
        system_id: system,
        latency_ms,
        error: None,
        unannounced,
        accepted: accept
            .filter(|_| !drifts.is_empty())
            .map(|reason| (&fresh, reason)),
        drifts,
    };
    Ok(store.record_check(new, actor).await?)
}

/// Whether an interface-change notice (Art. 30) of `system` took effect since `since`.
async fn announced(store: &Store, system: &str, since: NaiveDate) -> Result<bool, PullError> {
    let today = crate::calendar::today();
    Ok(store
        .list_notices(Some(system), Some(since))
        .await?
        .iter()
        .any(|n| n.kind == NoticeKind::InterfaceChange && n.effective_on <= today))
}

//! Who carries a run: one process at a time holds a run's lease (`migration_runs.owner`), and
//! every chunk it commits, and the run's end, is written only while it still holds it. A second
//! `ronghe migrate resume` is refused while the holder lives. A holder on this machine whose
//! process is gone (killed, crashed) is taken over at once; a holder elsewhere, once the run has
//! not moved for `STALE_AFTER`.

use chrono::{DateTime, Duration, Utc};

/// How long a run may go without a committed chunk (or, while reconciling, a renewal) before a
/// process on another machine may take it over.
pub const STALE_AFTER: Duration = Duration::minutes(5);

/// How often reconciliation renews the lease (it commits no chunks).
pub(super) const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// This process's name as a lease holder: `host:pid:nonce`.
pub(super) fn mine() -> String {
    format!(
        "{}:{}:{:08x}",
        host().unwrap_or_else(|| "?".to_owned()),
        std::process::id(),
        fastrand::u32(..)
    )
}

/// The machine's host name, where the system tells it.
fn host() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Whether `owner` is a process on this machine that no longer runs (its lease can be taken at
/// once). `false` when that cannot be told: another machine, or no `/proc`.
pub(super) fn gone(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (_nonce, pid, holder_host) = (parts.next(), parts.next(), parts.next());
    let (Some(pid), Some(holder_host), Some(here)) = (pid, holder_host, host()) else {
        return false;
    };
    holder_host == here
        && pid.parse::<u32>().is_ok()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new("/proc").join(pid).exists()
}

/// Runs last moved before this are stale (another machine may take them over).
pub(super) fn stale_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - STALE_AFTER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_is_gone_only_when_its_process_on_this_machine_is() {
        let me = mine();
        assert!(!gone(&me), "this process runs: {me}");
        let here = host().expect("a host name under /proc");
        // Pids are below 2^22 on Linux: this one cannot run.
        assert!(gone(&format!("{here}:4194399:00000000")));
        assert!(!gone("elsewhere.example:4194399:00000000"));
        assert!(!gone("not a holder"));
        assert!(!gone(&format!("{here}:notapid:00000000")));
    }
}

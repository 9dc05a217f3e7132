//! ronghe (融合) onboards a province's departmental approval systems onto its unified online
//! government service platform. See `docs/ARCHITECTURE.md` for the map of this crate.

pub mod access;
pub mod accounts;
pub mod artifacts;
pub mod assessments;
pub mod attached_adapter;
#[cfg(feature = "devtools")]
pub mod bench;
pub mod bridge;
pub mod calendar;
pub mod case;
pub mod cli;
pub mod config;
pub mod corrections;
pub mod delivery;
pub mod exchange;
pub mod handoff;
pub mod housekeeping;
pub mod intake;
pub mod mapping;
pub mod migration;
pub mod monitoring;
pub mod notices;
pub mod orgs;
pub mod planning;
pub mod plans;
pub mod pull;
pub mod reconciliation;
pub mod resealing;
pub mod retry;
pub mod rules;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod systems;
pub mod validate;

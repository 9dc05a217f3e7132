//! Adapters speak to departmental approval systems in their own shapes (raw JSON values, XML
//! element trees, SQL rows); they know nothing of the canonical case. `registry` lists every
//! kind; each driver is a module with its config and client; `resilience` wraps every call;
//! `sim` (feature `sim`) holds the legacy-system simulators used by the demo, the benchmarks and
//! the tests.

mod adapter;
mod batches;
pub mod config;
mod error;
pub mod mssql;
mod profile;
mod raw;
pub mod registry;
pub mod resilience;
pub mod rest;
pub mod round_trip;
mod secrets;
pub mod signing;
#[cfg(feature = "sim")]
pub mod sim;
pub mod soap;
pub mod sql;
mod watermark;

pub use adapter::{Adapter, Capabilities, Checkpoint, Receipt, Record, RecordStream};
pub use batches::{Batch, read_batches};
pub use config::{ConfigIssue, ValidatedConfig};
pub use error::{AdapterError, ErrorClass};
pub use profile::{Entity, Field, MAX_DISTINCT, Profile, SCAN_RECORDS, ValueCount};
use profile::{covering_samples, low_cardinality, scan};
pub use raw::{Raw, Row, SqlValue, XmlElement};
pub use registry::{AdapterConfig, AdapterKind, KINDS};
pub use round_trip::{Cause, RoundTrip, round_trip};
pub use secrets::{Environment, Fixed, SecretRef, Secrets};
pub use watermark::WindowFormat;

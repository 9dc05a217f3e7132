//! The `Adapter` trait: what every driver can be asked to do, in the legacy system's own shapes.

use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset};
use futures_util::Stream;
use serde::{Deserialize, Serialize};

use crate::{AdapterError, AdapterKind, Profile, Raw};

/// A position in a system's records to resume reading from: opaque to callers, meaningful to
/// the driver that issued it (a watermark with its tie-breaking key, or a cursor token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Checkpoint(pub String);

/// One record read from a system.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The record's key in its system (usually the case number), where the driver knows it.
    pub key: Option<String>,
    /// Where to resume so that this record is not read again.
    pub checkpoint: Option<Checkpoint>,
    pub raw: Raw,
}

/// A system's answer to a submission.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receipt {
    /// The system's own id for what was submitted, where it gives one.
    pub id: Option<String>,
    /// The system's answer, as JSON.
    pub response: serde_json::Value,
}

/// What a driver can do with its system as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub probe: bool,
    pub read: bool,
    pub fetch: bool,
    pub submit: bool,
    pub call: bool,
}

/// A stream of records, read page by page: memory stays bounded whatever the volume.
pub type RecordStream<'a> = Pin<Box<dyn Stream<Item = Result<Record, AdapterError>> + Send + 'a>>;

/// A connection to one departmental system.
#[async_trait]
pub trait Adapter: Send + Sync {
    fn kind(&self) -> AdapterKind;

    fn capabilities(&self) -> Capabilities;

    /// Discovers operations or tables, fields, counts, the distinct values of low-cardinality
    /// fields, and about `sample_size` records each (more where the first ones miss a value or
    /// a field: see `Field::distinct`).
    async fn probe(&self, sample_size: usize) -> Result<Profile, AdapterError>;

    /// Reads the configured case records from `from` (the start when `None`), oldest first.
    fn read(&self, from: Option<Checkpoint>) -> RecordStream<'_>;

    /// Where `read` starts to read every record changed at or after `at` (a window: a day's
    /// reconciliation reads that day, not the history), when the config says how the system's
    /// watermark writes a time (`window_format`); `None` otherwise: read from the start.
    fn since(&self, at: DateTime<FixedOffset>) -> Option<Checkpoint>;

    /// The encoding requests are sent in, where the config chooses one (SOAP's
    /// `request_encoding`); `None` where the protocol fixes it (REST's UTF-8 query strings, SQL's
    /// bound values). A watermark round trip names it when text does not survive a request.
    fn request_encoding(&self) -> Option<&'static str> {
        None
    }

    /// One record by key, or `None` when the system has none.
    async fn fetch(&self, key: &str) -> Result<Option<Record>, AdapterError>;

    /// Hands an application or other write to the system.
    async fn submit(&self, payload: &serde_json::Value) -> Result<Receipt, AdapterError>;

    /// Calls a configured operation with a payload.
    async fn call(&self, operation: &str, payload: &serde_json::Value) -> Result<Raw, AdapterError>;
}

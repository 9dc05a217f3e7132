//! The `Adapter` trait: what every driver can be asked to do, in the legacy system's own shapes.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
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

/// Reads page after page: `page` turns a request into its records and the request after it
/// (`None` at the end). Memory holds one page at a time; an error ends the stream.
pub(crate) fn paged<'a, P, F, Fut>(first: Result<P, AdapterError>, page: F) -> RecordStream<'a>
where
    P: Send + 'a,
    F: FnMut(P) -> Fut + Send + 'a,
    Fut: Future<Output = Result<(Vec<Record>, Option<P>), AdapterError>> + Send + 'a,
{
    struct State<P, F> {
        next: Option<P>,
        buffer: VecDeque<Record>,
        page: F,
    }
    let start = first.map(|first| State {
        next: Some(first),
        buffer: VecDeque::new(),
        page,
    });
    Box::pin(futures_util::stream::try_unfold(start, |state| async move {
        let mut state = state?;
        loop {
            if let Some(record) = state.buffer.pop_front() {
                return Ok(Some((record, Ok(state))));
            }
            let Some(next) = state.next.take() else {
                return Ok(None);
            };
            let (records, following) = (state.page)(next).await?;
            state.buffer.extend(records);
            state.next = following;
        }
    }))
}

/// A connection to one departmental system.
#[async_trait]
pub trait Adapter: Send + Sync {
    fn kind(&self) -> AdapterKind;

    fn capabilities(&self) -> Capabilities;

    /// Discovers operations or tables, fields, counts, and up to `sample_size` records each.
    async fn probe(&self, sample_size: usize) -> Result<Profile, AdapterError>;

    /// Reads the configured case records from `from` (the start when `None`), oldest first.
    fn read(&self, from: Option<Checkpoint>) -> RecordStream<'_>;

    /// One record by key, or `None` when the system has none.
    async fn fetch(&self, key: &str) -> Result<Option<Record>, AdapterError>;

    /// Hands an application or other write to the system.
    async fn submit(&self, payload: &serde_json::Value) -> Result<Receipt, AdapterError>;

    /// Calls a configured operation with a payload.
    async fn call(&self, operation: &str, payload: &serde_json::Value) -> Result<Raw, AdapterError>;
}

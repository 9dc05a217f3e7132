//! The watermark round trip (issue 16): read some records, then read again from an early
//! record's checkpoint, as a resumed pull or migration does, and check that the records after
//! it come back with the same keys in the same order. A resumed read that silently skips
//! records (a watermark that does not survive the request's encoding, a form the system does
//! not read, an order that is not the system's) is then found when a system is onboarded, not
//! after a pull has lost cases.

use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::watermark::Position;
use crate::{Adapter, AdapterError, Checkpoint, ErrorClass, Record};

/// How many records the round trip reads from the start (a few pages of most listings).
pub const ROUND_TRIP_RECORDS: usize = 500;

/// Why a resumed read did not give back the records that followed its checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The watermark holds non-ASCII text, which the system did not read as it was sent.
    RequestEncoding,
    /// The system did not read the watermark as the value it filters on.
    WatermarkFormat,
    /// The system does not answer in watermark, then key order.
    Ordering,
}

impl Cause {
    /// The cause as the message names it.
    pub fn name(self) -> &'static str {
        match self {
            Cause::RequestEncoding => "request encoding",
            Cause::WatermarkFormat => "watermark format",
            Cause::Ordering => "ordering",
        }
    }
}

/// What a watermark round trip found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RoundTrip {
    /// Resumed after record `from_key`, the read gave back the `compared` records that
    /// followed it in the first `read`, same keys, same order.
    Passed {
        read: usize,
        from_key: String,
        compared: usize,
    },
    /// Not checked, and why (too few records, records without a checkpoint).
    Skipped { reason: String },
    /// The resumed read gave back other records: the likely cause and what was seen.
    Failed { cause: Cause, message: String },
}

/// Reads up to `ROUND_TRIP_RECORDS` records from the start, resumes from the checkpoint of the
/// record a tenth of the way in, and compares. An unreachable system is an error; a resumed
/// read the system refuses is a `Failed` round trip.
pub async fn round_trip(adapter: &dyn Adapter) -> Result<RoundTrip, AdapterError> {
    let first: Vec<Record> = adapter.read(None).take(ROUND_TRIP_RECORDS).try_collect().await?;
    if first.len() < 2 {
        return Ok(RoundTrip::Skipped {
            reason: format!("it needs two records and the read gave {}", first.len()),
        });
    }
    let Some(marked) = first
        .iter()
        .map(|r| r.key.clone().zip(r.checkpoint.clone()))
        .collect::<Option<Vec<(String, Checkpoint)>>>()
    else {
        return Ok(RoundTrip::Skipped {
            reason: "the records carry no checkpoint (no watermark configured): a read cannot resume, \
                     it starts over"
                .to_owned(),
        });
    };
    let at = (marked.len() - 1) / 10;
    let (from_key, from) = &marked[at];
    let expected: Vec<&str> = marked[at + 1..].iter().map(|(k, _)| k.as_str()).collect();
    let watermark = Position::parse(from)?.watermark;
    let resumed: Result<Vec<Record>, AdapterError> = adapter
        .read(Some(from.clone()))
        .take(expected.len())
        .try_collect()
        .await;
    let resumed = match resumed {
        Ok(records) => records,
        Err(e) if matches!(e.class, ErrorClass::Retryable | ErrorClass::Unavailable) => return Err(e),
        Err(e) => {
            let cause = match watermark.is_ascii() {
                true => Cause::WatermarkFormat,
                false => Cause::RequestEncoding,
            };
            return Ok(failed(
                adapter,
                cause,
                &watermark,
                format!(
                    "resumed after record {from_key} (checkpoint {}), the read failed: {e}",
                    from.0
                ),
            ));
        }
    };
    let got: Vec<&str> = resumed
        .iter()
        .map(|r| r.key.as_deref().unwrap_or_default())
        .collect();
    if got == expected {
        return Ok(RoundTrip::Passed {
            read: first.len(),
            from_key: from_key.clone(),
            compared: expected.len(),
        });
    }
    let differ = got
        .iter()
        .zip(&expected)
        .position(|(g, e)| g != e)
        .unwrap_or(got.len().min(expected.len()));
    let seen = format!(
        "resumed after record {from_key} (checkpoint {}), the read gave back {} records where {} followed it; \
         the first difference is record {}: {} where {} was expected",
        from.0,
        got.len(),
        expected.len(),
        differ + 1,
        got.get(differ).map_or("none", |k| k),
        expected.get(differ).map_or("none", |k| k),
    );
    let (mut sorted_got, mut sorted_expected) = (got.clone(), expected.clone());
    sorted_got.sort_unstable();
    sorted_expected.sort_unstable();
    let positions: Vec<Position> = marked
        .iter()
        .filter_map(|(_, c)| Position::parse(c).ok())
        .collect();
    let ordered = positions
        .windows(2)
        .all(|w| w[0].before(&w[1].watermark, &w[1].key));
    let cause = if sorted_got == sorted_expected {
        Cause::Ordering
    } else if !watermark.is_ascii() {
        Cause::RequestEncoding
    } else if !ordered {
        Cause::Ordering
    } else {
        Cause::WatermarkFormat
    };
    Ok(failed(adapter, cause, &watermark, seen))
}

fn failed(adapter: &dyn Adapter, cause: Cause, watermark: &str, seen: String) -> RoundTrip {
    let why = match cause {
        Cause::RequestEncoding => {
            let sent = adapter
                .request_encoding()
                .map(|e| format!(" (requests are sent in {e}: request_encoding = \"{e}\")"))
                .unwrap_or_default();
            format!(
                "the watermark {watermark:?} holds non-ASCII text that did not survive the request{sent}; \
                 a system that decodes requests in another encoding (UTF-8, say) filters on another value: \
                 set the request encoding to the one the system decodes"
            )
        }
        Cause::WatermarkFormat => format!(
            "the system did not filter on the watermark {watermark:?} as sent: check the parameter that \
             carries it (REST records.since_param, SOAP the listing body's since) and the form the system expects"
        ),
        Cause::Ordering => "the system does not answer in watermark, then key order, so a resumed read \
             skips or repeats records: choose a watermark (and key) the system sorts its answers by"
            .to_owned(),
    };
    RoundTrip::Failed {
        cause,
        message: format!("likely cause: {}: {why}; {seen}", cause.name()),
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use chrono::{DateTime, FixedOffset};

    use super::*;
    use crate::{AdapterKind, Capabilities, Profile, Raw, Receipt, RecordStream};

    /// A listing that answers `first` from the start and `resumed` from any checkpoint (or an
    /// error of that class).
    struct Listing {
        first: Vec<Record>,
        resumed: Result<Vec<Record>, ErrorClass>,
    }

    fn records(rows: &[(&str, &str)]) -> Vec<Record> {
        rows.iter()
            .map(|(watermark, key)| Record {
                key: Some((*key).to_owned()),
                checkpoint: Some(
                    Position {
                        watermark: (*watermark).to_owned(),
                        key: (*key).to_owned(),
                    }
                    .checkpoint(),
                ),
                raw: Raw::Json(serde_json::json!({ "key": key })),
            })
            .collect()
    }

    #[async_trait]
    impl Adapter for Listing {
        fn kind(&self) -> AdapterKind {
            AdapterKind::Soap
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                probe: false,
                read: true,
                fetch: false,
                submit: false,
                call: false,
            }
        }
        async fn probe(&self, _: usize) -> Result<Profile, AdapterError> {
            Err(AdapterError::configuration("no probe"))
        }
        fn read(&self, from: Option<Checkpoint>) -> RecordStream<'_> {
            let answer = match from {
                None => Ok(self.first.clone()),
                Some(_) => self.resumed.clone(),
            };
            let items: Vec<Result<Record, AdapterError>> = match answer {
                Ok(records) => records.into_iter().map(Ok).collect(),
                Err(class) => vec![Err(AdapterError::new(class, "the system answered 1001"))],
            };
            Box::pin(futures_util::stream::iter(items))
        }
        fn since(&self, _: DateTime<FixedOffset>) -> Option<Checkpoint> {
            None
        }
        fn request_encoding(&self) -> Option<&'static str> {
            Some("GBK")
        }
        async fn fetch(&self, _: &str) -> Result<Option<Record>, AdapterError> {
            Ok(None)
        }
        async fn submit(&self, _: &serde_json::Value) -> Result<Receipt, AdapterError> {
            Err(AdapterError::configuration("no submit"))
        }
        async fn call(&self, _: &str, _: &serde_json::Value) -> Result<Raw, AdapterError> {
            Err(AdapterError::configuration("no call"))
        }
    }

    /// The round trip over `first`, resumed answering `resumed`: its outcome, as the cause of a
    /// failure or `passed`/`skipped`.
    async fn check(first: &[(&str, &str)], resumed: Result<&[(&str, &str)], ErrorClass>) -> String {
        let listing = Listing {
            first: records(first),
            resumed: resumed.map(records),
        };
        match round_trip(&listing).await.unwrap() {
            RoundTrip::Passed { .. } => "passed".to_owned(),
            RoundTrip::Skipped { .. } => "skipped".to_owned(),
            RoundTrip::Failed { cause, message } => {
                assert!(
                    message.starts_with(&format!("likely cause: {}", cause.name())),
                    "{message}"
                );
                cause.name().to_owned()
            }
        }
    }

    #[tokio::test]
    async fn mismatches_name_their_likely_cause() {
        let ascii = [("1", "a"), ("2", "b"), ("3", "c"), ("4", "d")];
        let chinese = [("1日", "a"), ("2日", "b"), ("3日", "c"), ("4日", "d")];
        assert_eq!(check(&ascii, Ok(&ascii[1..])).await, "passed");
        assert_eq!(check(&chinese, Ok(&chinese[1..])).await, "passed");
        // Fewer records than followed: a Chinese watermark points at the encoding, an ASCII one
        // at its format.
        assert_eq!(check(&chinese, Ok(&chinese[3..])).await, "request encoding");
        assert_eq!(check(&ascii, Ok(&ascii[3..])).await, "watermark format");
        // The same records in another order; or a first read out of watermark order.
        let swapped = [ascii[1], ascii[3], ascii[2]];
        assert_eq!(check(&ascii, Ok(&swapped)).await, "ordering");
        let unordered = [("1", "a"), ("3", "b"), ("2", "c"), ("4", "d")];
        assert_eq!(check(&unordered, Ok(&unordered[3..])).await, "ordering");
        // A resumed read the system refuses; an unreachable system is an error, not a verdict.
        assert_eq!(check(&ascii, Err(ErrorClass::Data)).await, "watermark format");
        let down = Listing {
            first: records(&ascii),
            resumed: Err(ErrorClass::Unavailable),
        };
        assert!(round_trip(&down).await.is_err());
        // Too few records, or no checkpoints, cannot be checked.
        assert_eq!(check(&ascii[..1], Ok(&[])).await, "skipped");
        let unmarked = Listing {
            first: records(&ascii)
                .into_iter()
                .map(|r| Record {
                    checkpoint: None,
                    ..r
                })
                .collect(),
            resumed: Ok(Vec::new()),
        };
        assert!(matches!(
            round_trip(&unmarked).await.unwrap(),
            RoundTrip::Skipped { .. }
        ));
    }
}

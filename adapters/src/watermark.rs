//! Resuming reads, shared by the paged drivers: the position of the last record read (its
//! watermark and key) carried in a `Checkpoint`, and the page-by-page record stream.

use std::collections::VecDeque;
use std::future::Future;

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use crate::{AdapterError, Checkpoint, Raw, Record, RecordStream};

/// Position within a listing: the watermark and key of the last record read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Position {
    pub(crate) watermark: String,
    pub(crate) key: String,
}

impl Position {
    /// The checkpoint text: a JSON array `["watermark","key"]`, readable and safe to pass on a
    /// command line.
    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint(serde_json::json!([self.watermark, self.key]).to_string())
    }

    /// Reads a checkpoint, or a bare watermark (everything at or after it).
    pub(crate) fn parse(checkpoint: &Checkpoint) -> Result<Position, AdapterError> {
        let text = checkpoint.0.trim();
        if !text.starts_with('[') {
            return Ok(Position {
                watermark: text.to_owned(),
                key: String::new(),
            });
        }
        serde_json::from_str::<(String, String)>(text)
            .map(|(watermark, key)| Position { watermark, key })
            .map_err(|_| {
                AdapterError::configuration(format!(
                    "checkpoint {text:?} is neither [\"watermark\",\"key\"] nor a bare watermark"
                ))
            })
    }

    /// The position to resume after, from a caller's checkpoint; resuming needs a watermark.
    pub(crate) fn resume(
        from: Option<&Checkpoint>,
        has_watermark: bool,
    ) -> Result<Option<Position>, AdapterError> {
        match from.map(Position::parse).transpose()? {
            Some(_) if !has_watermark => Err(AdapterError::configuration(
                "resuming from a checkpoint needs records.watermark in the config",
            )),
            after => Ok(after),
        }
    }

    /// Whether a record at (`watermark`, `key`) comes after this position: numbers compare as
    /// numbers, anything else as text (ISO timestamps sort as text).
    pub(crate) fn before(&self, watermark: &str, key: &str) -> bool {
        let order = match (self.watermark.parse::<f64>(), watermark.parse::<f64>()) {
            (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
            _ => self.watermark.as_str().cmp(watermark),
        };
        order.then_with(|| self.key.as_str().cmp(key)).is_lt()
    }
}

/// How a system's watermark writes a time, when it is one (a config's `window_format`, the same
/// for every driver that resumes by watermark): a chrono `strftime` pattern in the system's
/// local time (e.g. `%Y-%m-%d %H:%M:%S`, `%Y年%m月%d日 %H:%M`, `%+` for RFC 3339). With it a
/// read can start at a time, so a day's reconciliation reads that day's records and not the
/// whole history. Written in TOML as the pattern's string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct WindowFormat(pub String);

/// The bare watermark (everything at or after it) that a system whose watermark writes a time
/// as `window_format` gives to `at`, in `at`'s offset.
pub(crate) fn since(window_format: Option<&WindowFormat>, at: DateTime<FixedOffset>) -> Option<Checkpoint> {
    window_format.map(|WindowFormat(format)| Checkpoint(at.format(format).to_string()))
}

/// A listed record with its checkpoint (when it has both a key and a watermark), or `None`
/// when it lies at or before `after` and so was read already.
pub(crate) fn listed(
    key: Option<String>,
    watermark: Option<String>,
    after: Option<&Position>,
    raw: impl FnOnce() -> Raw,
) -> Option<Record> {
    let position = key
        .clone()
        .zip(watermark)
        .map(|(key, watermark)| Position { watermark, key });
    if let (Some(after), Some(p)) = (after, &position)
        && !after.before(&p.watermark, &p.key)
    {
        return None;
    }
    Some(Record {
        key,
        checkpoint: position.as_ref().map(Position::checkpoint),
        raw: raw(),
    })
}

/// Reads page by page from the request `start`: `page(request, after)` fetches one page, drops
/// the records at or before `after`, and says which request comes next. One page is in memory
/// at a time, whatever the volume.
pub(crate) fn paged<'a, Q, F, Fut>(
    start: Result<(Q, Option<Position>), AdapterError>,
    page: F,
) -> RecordStream<'a>
where
    Q: Send + 'a,
    F: Fn(Q, Option<Position>) -> Fut + Send + Sync + 'a,
    Fut: Future<Output = Result<(Vec<Record>, Option<Q>), AdapterError>> + Send + 'a,
{
    struct State<Q> {
        next: Option<Q>,
        buffer: VecDeque<Record>,
        after: Option<Position>,
    }
    let start = start.map(|(first, after)| {
        Some(State {
            next: Some(first),
            buffer: VecDeque::new(),
            after,
        })
    });
    let page = std::sync::Arc::new(page);
    Box::pin(futures_util::stream::try_unfold(start, move |state| {
        let page = page.clone();
        async move {
            let mut state = match state {
                Ok(Some(s)) => s,
                Ok(None) => return Ok(None),
                Err(e) => return Err(e),
            };
            loop {
                if let Some(record) = state.buffer.pop_front() {
                    return Ok(Some((record, Ok(Some(state)))));
                }
                let Some(next) = state.next.take() else {
                    return Ok(None);
                };
                let (records, following) = page(next, state.after.clone()).await?;
                state.buffer.extend(records);
                state.next = following;
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_is_written_as_the_systems_watermark() {
        let at = DateTime::parse_from_rfc3339("2025-05-11T00:00:00+08:00").unwrap();
        let since = |format: Option<&str>| {
            since(format.map(|f| WindowFormat(f.to_owned())).as_ref(), at).map(|c| c.0)
        };
        assert_eq!(
            since(Some("%Y年%m月%d日 %H:%M")).as_deref(),
            Some("2025年05月11日 00:00")
        );
        assert_eq!(
            since(Some("%Y-%m-%d %H:%M:%S")).as_deref(),
            Some("2025-05-11 00:00:00")
        );
        assert_eq!(since(Some("%+")).as_deref(), Some("2025-05-11T00:00:00+08:00"));
        assert_eq!(since(None), None);
        // A bare watermark: everything at or after it, whatever its key.
        let from = Position::parse(&Checkpoint("2025-05-11 00:00:00".to_owned())).unwrap();
        assert!(from.before("2025-05-11 00:00:00", "A1"));
        assert!(!from.before("2025-05-10 23:59:59", "Z9"));
    }

    #[test]
    fn positions_round_trip_and_order() {
        let p = Position {
            watermark: "2025年11月20日 14时30分".into(),
            key: "52010200000007".into(),
        };
        assert_eq!(Position::parse(&p.checkpoint()).unwrap(), p);
        assert!(
            p.before("2025年11月20日 14时30分", "52010200000008"),
            "same watermark, later key"
        );
        assert!(!p.before("2025年11月20日 14时30分", "52010200000007"), "itself");
        assert!(p.before("2025年11月20日 14时31分", "1"));
        let n = Position {
            watermark: "9".into(),
            key: "a".into(),
        };
        assert!(n.before("10", "a"), "numbers compare as numbers");
        assert!(Position::parse(&Checkpoint("[\"only one\"]".into())).is_err());
        let bare = Position::parse(&Checkpoint("2025-01-01".into())).unwrap();
        assert_eq!(
            (bare.watermark.as_str(), bare.key.as_str()),
            ("2025-01-01", ""),
            "a bare watermark"
        );
        assert!(Position::resume(Some(&p.checkpoint()), false).is_err());
        assert_eq!(Position::resume(Some(&p.checkpoint()), true).unwrap(), Some(p));
        assert_eq!(Position::resume(None, false).unwrap(), None);
    }
}

//! Resume positions of the drivers that read in watermark order (REST, SQL, SQL Server): the
//! watermark value(s) and the key of the last record read, carried as text in a `Checkpoint`.

use std::cmp::Ordering;

use crate::{AdapterError, Checkpoint};

/// Where a read stands: the watermark and key of the last record read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Position {
    /// One value per watermark column or pointer, in order (none when reading in key order).
    pub(crate) watermark: Vec<String>,
    /// The record's key. Empty means "from this watermark on, inclusive" (see
    /// `Checkpoint::since`).
    pub(crate) key: String,
}

/// Separates the values in a checkpoint (ASCII unit separator: in no watermark or key).
const SEP: char = '\u{1f}';

impl Checkpoint {
    /// A checkpoint that starts at a watermark, inclusive: every record whose (single) watermark
    /// is at or after `watermark`, e.g. from `ronghe adapters read --since`.
    pub fn since(watermark: &str) -> Checkpoint {
        Position {
            watermark: vec![watermark.to_owned()],
            key: String::new(),
        }
        .checkpoint()
    }
}

impl Position {
    pub(crate) fn checkpoint(&self) -> Checkpoint {
        let mut text = String::new();
        for value in &self.watermark {
            text.push_str(value);
            text.push(SEP);
        }
        text.push_str(&self.key);
        Checkpoint(text)
    }

    /// Reads a checkpoint issued by a driver that orders by `watermarks` values, then the key.
    pub(crate) fn parse(
        checkpoint: &Checkpoint,
        watermarks: usize,
        driver: &str,
    ) -> Result<Position, AdapterError> {
        let mut values: Vec<String> = checkpoint
            .0
            .splitn(watermarks + 1, SEP)
            .map(str::to_owned)
            .collect();
        if values.len() != watermarks + 1 {
            return Err(AdapterError::configuration(format!(
                "checkpoint {:?} was not issued by the {driver} driver as configured (expected {watermarks} watermark value(s) and a key)",
                checkpoint.0
            )));
        }
        let key = values.pop().unwrap_or_default();
        Ok(Position {
            watermark: values,
            key,
        })
    }

    /// Whether `other` comes after this position: watermark values in order (numbers compare as
    /// numbers, anything else as text: ISO timestamps sort as text), then the key.
    pub(crate) fn before(&self, other: &Position) -> bool {
        let order = self
            .watermark
            .iter()
            .zip(&other.watermark)
            .map(|(a, b)| match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
                _ => a.cmp(b),
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal);
        order.then_with(|| self.key.cmp(&other.key)).is_lt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(watermark: &[&str], key: &str) -> Position {
        Position {
            watermark: watermark.iter().map(|w| (*w).to_owned()).collect(),
            key: key.to_owned(),
        }
    }

    #[test]
    fn checkpoints_round_trip() {
        for (position, count) in [
            (at(&["2025-01-01 08:00:00"], "520102000001"), 1),
            (at(&["2025-01-01", "7"], "A 1"), 2),
            (at(&[], "520102000001"), 0),
            (at(&["0000000000000bb8"], ""), 1),
        ] {
            let checkpoint = position.checkpoint();
            assert_eq!(Position::parse(&checkpoint, count, "SQL").unwrap(), position);
        }
        let err = Position::parse(&Checkpoint("no separator".into()), 1, "REST").unwrap_err();
        assert!(err.message.contains("REST driver"), "{err}");
        assert_eq!(
            Position::parse(&Checkpoint::since("2025-06-01"), 1, "SQL").unwrap(),
            at(&["2025-06-01"], "")
        );
    }

    #[test]
    fn order_is_watermark_then_key_with_numbers_as_numbers() {
        assert!(at(&["9"], "b").before(&at(&["10"], "a")));
        assert!(at(&["2025-01-01"], "b").before(&at(&["2025-01-01"], "c")));
        assert!(!at(&["2025-01-01"], "c").before(&at(&["2025-01-01"], "c")));
        assert!(
            at(&["2025-01-01"], "").before(&at(&["2025-01-01"], "a")),
            "since: inclusive"
        );
    }
}

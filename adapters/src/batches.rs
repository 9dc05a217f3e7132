//! An adapter's records cut into batches, each with where its reading started and the checkpoint
//! after its last record: what a pull and a bulk migration commit one at a time.

use futures_util::StreamExt as _;
use futures_util::stream::{self, BoxStream};

use crate::{Adapter, AdapterError, Checkpoint, Raw};

/// Records read in one go.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Where reading started: the previous batch's `to` (the first batch's: where it was asked to).
    pub from: Option<String>,
    /// The checkpoint after the batch's last record that carries one, else `from`.
    pub to: Option<String>,
    pub raws: Vec<Raw>,
}

/// Reads `adapter` from `from` in batches of `sizes[0]`, `sizes[1]`, … records (the last size
/// repeats; an empty list means 1). The last batch may be short; an empty source gives none. A
/// read error ends the batches with that error.
pub fn read_batches<'a>(
    adapter: &'a dyn Adapter,
    from: Option<String>,
    sizes: &'a [usize],
) -> BoxStream<'a, Result<Batch, AdapterError>> {
    let size = move |i: usize| sizes.get(i).or(sizes.last()).copied().unwrap_or(1).max(1);
    let records = adapter.read(from.clone().map(Checkpoint));
    stream::unfold(Some((records, from, 0)), move |state| async move {
        let (mut records, from, index) = state?;
        let wanted = size(index);
        let mut raws = Vec::with_capacity(wanted);
        let mut to = from.clone();
        while raws.len() < wanted {
            match records.next().await {
                Some(Ok(record)) => {
                    if let Some(Checkpoint(at)) = record.checkpoint {
                        to = Some(at);
                    }
                    raws.push(record.raw);
                }
                Some(Err(e)) => return Some((Err(e), None)),
                None => break,
            }
        }
        if raws.is_empty() {
            return None;
        }
        // A short batch means the source ended.
        let next = (raws.len() == wanted).then(|| (records, to.clone(), index + 1));
        Some((Ok(Batch { from, to, raws }), next))
    })
    .boxed()
}

// Reads the SQL simulator's database, so runs with the `sim` feature (as the workspace's tests do).
#[cfg(all(test, feature = "sim"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_follow_the_sizes_and_carry_their_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("legacy.db").display());
        crate::sim::sql::load(&url, 7, 10).await.unwrap();
        let adapter = crate::AdapterConfig::from_toml(&crate::sim::sql::adapter_config(&url, 3))
            .unwrap()
            .validate()
            .unwrap()
            .build(&crate::Environment)
            .await
            .unwrap();
        let all: Vec<Batch> = read_batches(adapter.as_ref(), None, &[4, 2])
            .map(Result::unwrap)
            .collect()
            .await;
        let sizes: Vec<usize> = all.iter().map(|b| b.raws.len()).collect();
        assert_eq!(sizes, [4, 2, 2, 2]);
        assert_eq!(all[0].from, None);
        for pair in all.windows(2) {
            assert_eq!(
                pair[1].from, pair[0].to,
                "a batch starts where the one before ended"
            );
            assert!(pair[0].to.is_some());
        }
        // Resuming from a batch's end reads exactly what followed it.
        let rest: Vec<Batch> = read_batches(adapter.as_ref(), all[1].to.clone(), &[100])
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].raws, [&all[2].raws[..], &all[3].raws[..]].concat());
        assert_eq!(rest[0].to, all[3].to);
    }
}

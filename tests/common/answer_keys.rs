//! Hand-labelled answer keys (`tests/data/answer-keys/NAME.toml`: canonical field → source
//! path) and the precision and recall of a generated proposal against one.
#![allow(clippy::print_stdout)] // the quality figures are printed for the record

use std::collections::BTreeMap;

use ronghe::mapping::Proposal;

pub fn answer_key(name: &str) -> BTreeMap<String, String> {
    let path = format!(
        "{}/tests/data/answer-keys/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Precision and recall of the proposal's source fields against the key, printed for the record.
pub fn score(name: &str, proposal: &Proposal) -> (f64, f64) {
    let key = answer_key(name);
    let proposed: Vec<(&str, &str)> = proposal
        .rules
        .iter()
        .filter_map(|r| r.source.as_deref().map(|s| (r.field, s)))
        .collect();
    let correct = proposed
        .iter()
        .filter(|(f, s)| key.get(*f).map(String::as_str) == Some(*s))
        .count() as f64;
    let (precision, recall) = (correct / proposed.len() as f64, correct / key.len() as f64);
    for (f, s) in &proposed {
        if key.get(*f).map(String::as_str) != Some(*s) {
            println!("{name}: proposed {f} <- {s}, key says {:?}", key.get(*f));
        }
    }
    for (f, s) in &key {
        if !proposed.iter().any(|(pf, _)| pf == f) {
            println!("{name}: missed {f} <- {s}");
        }
    }
    println!(
        "{name}: precision {precision:.2}, recall {recall:.2} ({correct} of {} proposed, {} in the key)",
        proposed.len(),
        key.len()
    );
    (precision, recall)
}

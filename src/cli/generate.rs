//! `ronghe generate SYSTEM`: writes the system's mapping proposal (`mappings/SYSTEM.toml`) from
//! its probe profile. A generated file records a hash of what was generated; re-generating
//! replaces it only while nobody edited it, and otherwise shows the diff and refuses.

use std::path::Path;

use anyhow::Context as _;
use clap::Args;
use ronghe_adapters::{AdapterConfig, AdapterKind};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Context, Failure};
use crate::mapping::{Mapping, Shape, propose, render};

#[derive(Debug, Args)]
pub(super) struct GenerateArgs {
    system: String,
    /// Overwrite the mapping even if it was edited since it was generated.
    #[arg(long)]
    force: bool,
    /// Print the proposal instead of writing it.
    #[arg(long)]
    print: bool,
}

const HASH_LINE: &str = "# generated-sha256: ";

/// The text with its hash line appended.
fn sealed(text: &str) -> String {
    format!(
        "{text}{HASH_LINE}{}\n",
        hex::encode(Sha256::digest(text.as_bytes()))
    )
}

/// Whether a file is exactly what generation wrote (its hash line matches its content).
fn unedited(existing: &str) -> bool {
    let Some(at) = existing.rfind(HASH_LINE) else {
        return false;
    };
    let (body, line) = existing.split_at(at);
    line.trim_end().strip_prefix(HASH_LINE) == Some(hex::encode(Sha256::digest(body.as_bytes())).as_str())
}

fn shape_of(kind: AdapterKind) -> Shape {
    match kind {
        AdapterKind::Rest => Shape::Json,
        AdapterKind::Soap => Shape::Xml,
        AdapterKind::Sql | AdapterKind::Mssql => Shape::Row,
    }
}

pub(super) async fn run(ctx: &Context, args: GenerateArgs) -> Result<(), Failure> {
    let mappings_dir = ctx.config()?.mappings_dir;
    let store = ctx.store().await?;
    let system = store.get_system(&args.system).await?;
    let kind = AdapterConfig::from_toml(&store.adapter_config(&args.system).await?)
        .map(|c| c.kind())
        .unwrap_or(system.protocol);
    let (profile, probed_at) = store.profile(&args.system).await.map_err(|_| {
        Failure::Refused(anyhow::anyhow!(
            "system {} has not been probed yet: run `ronghe adapters probe {}` first",
            args.system,
            args.system
        ))
    })?;
    let proposal = propose(&profile, shape_of(kind)).ok_or_else(|| {
        Failure::Refused(anyhow::anyhow!(
            "the probe profile of {} holds no sample records to learn from",
            args.system
        ))
    })?;
    let text = sealed(
        &render(&proposal, &args.system, &probed_at.to_rfc3339())
            .context("cannot render the mapping template")?,
    );
    if args.print {
        ctx.out.show(&text, &proposal);
        return Ok(());
    }
    let path = mappings_dir.join(format!("{}.toml", args.system));
    write_generated(&path, &text, args.force)?;
    let remaining = match Mapping::compile(&text) {
        Ok(_) => Vec::new(),
        Err(issues) => issues.iter().map(ToString::to_string).collect(),
    };
    let mut human = format!(
        "已生成 generated {}: {} rules, {} code table(s) to fill, {} required field(s) unmatched",
        path.display(),
        proposal.rules.len(),
        proposal.tables.len(),
        proposal.unmatched.len()
    );
    if !remaining.is_empty() {
        human.push_str(&format!(
            "\n待处理 to finish before use (ronghe mapping check):\n  {}",
            remaining.join("\n  ")
        ));
    }
    ctx.out.show(
        human,
        &json!({ "file": path, "proposal": proposal, "remaining": remaining }),
    );
    Ok(())
}

/// Writes a generated file unless an engineer edited the one in place (then: the diff, refused).
fn write_generated(path: &Path, text: &str, force: bool) -> Result<(), Failure> {
    if let Ok(existing) = std::fs::read_to_string(path)
        && existing != text
        && !unedited(&existing)
        && !force
    {
        let diff = similar::TextDiff::from_lines(existing.as_str(), text)
            .unified_diff()
            .header("current", "generated")
            .to_string();
        return Err(Failure::Refused(anyhow::anyhow!(
            "{} was edited since it was generated; not overwriting it. The new proposal differs by:\n{diff}\nMerge by hand, or re-run with --force to replace it",
            path.display()
        )));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_files_are_recognised_until_edited() {
        let text = sealed("a = 1\n");
        assert!(unedited(&text));
        assert!(!unedited(&text.replace("a = 1", "a = 2")));
        assert!(!unedited("a = 1\n"));
    }
}

//! `ronghe generate SYSTEM`: writes the system's mapping proposal (`mappings/SYSTEM.toml`) from
//! its probe profile, and from its verdict the plan draft and the mode's settings (see
//! `crate::artifacts`). A generated file records a hash of what was generated; re-generating
//! replaces files only while nobody edited them, and otherwise shows the diffs and writes nothing.

use std::path::Path;

use anyhow::Context as _;
use clap::Args;
use ronghe_adapters::{AdapterConfig, AdapterKind};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Context, Failure};
use crate::artifacts;
use crate::mapping::{Mapping, Shape, propose, render};
use crate::store::{LatestVerdict, StoredProfile};

#[derive(Debug, Args)]
pub(super) struct GenerateArgs {
    system: String,
    /// Overwrite the files even if they were edited since they were generated.
    #[arg(long)]
    force: bool,
    /// Print the files instead of writing them.
    #[arg(long)]
    print: bool,
}

const HASH_MARK: &str = "generated-sha256: ";

/// The text with its hash line appended: a `#` comment, or an HTML comment in Markdown.
fn sealed(text: &str, markdown: bool) -> String {
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    match markdown {
        true => format!("{text}<!-- {HASH_MARK}{hash} -->\n"),
        false => format!("{text}# {HASH_MARK}{hash}\n"),
    }
}

/// Whether a file is exactly what generation wrote (its hash line matches its content).
fn unedited(existing: &str) -> bool {
    let Some(mark) = existing.rfind(HASH_MARK) else {
        return false;
    };
    let line_start = existing[..mark].rfind('\n').map_or(0, |i| i + 1);
    let (body, line) = existing.split_at(line_start);
    let hash = line[mark - line_start + HASH_MARK.len()..]
        .trim_end()
        .trim_end_matches("-->")
        .trim_end();
    hash == hex::encode(Sha256::digest(body.as_bytes()))
}

fn shape_of(kind: AdapterKind) -> Shape {
    match kind {
        AdapterKind::Rest => Shape::Json,
        AdapterKind::Soap => Shape::Xml,
        AdapterKind::Sql | AdapterKind::Mssql => Shape::Row,
    }
}

pub(super) async fn run(ctx: &Context, args: GenerateArgs) -> Result<(), Failure> {
    let config = ctx.config()?;
    let store = ctx.store().await?;
    let system = store.get_system(&args.system).await?;
    let adapter =
        AdapterConfig::from_toml(&store.adapter_config(&args.system).await.unwrap_or_default()).ok();
    let kind = adapter.as_ref().map_or(system.protocol, AdapterConfig::kind);
    // A SOAP system pushes the records its listing selects: the last step of that path.
    let soap_record = match &adapter {
        Some(AdapterConfig::Soap(soap)) => soap.records.select.rsplit('/').next(),
        _ => None,
    };
    let profile = store.profile(&args.system).await.ok();
    let verdict = store.latest_verdict(&args.system).await?;
    if profile.is_none() && verdict.is_none() {
        return Err(Failure::Refused(anyhow::anyhow!(
            "nothing to generate for {id}: it has not been probed (run `ronghe adapters probe {id}` for its mapping) and has no verdict (run its assessment for the plan and the mode's settings)",
            id = args.system
        )));
    }
    // Artifacts go beside the mappings directory: `mappings/`, `migration-plans/`, `integration/`.
    let project = config
        .mappings_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut files: Vec<Generated> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut proposal_json = serde_json::Value::Null;
    match &profile {
        Some(StoredProfile { profile, probed_at }) => {
            let orgs = store.org_directory().await?;
            let proposal = propose(profile, shape_of(kind), &orgs).ok_or_else(|| {
                Failure::Refused(anyhow::anyhow!(
                    "the probe profile of {} holds no sample records to learn from",
                    args.system
                ))
            })?;
            let text = render(&proposal, &args.system, &probed_at.to_rfc3339())
                .context("cannot render the mapping template")?;
            let remaining = match Mapping::compile(&text) {
                Ok(_) => Vec::new(),
                Err(issues) => issues.iter().map(ToString::to_string).collect(),
            };
            let mut summary = format!(
                "{} rules, {} code table(s) to fill, {} required field(s) unmatched",
                proposal.rules.len(),
                proposal.tables.len(),
                proposal.unmatched.len()
            );
            if !remaining.is_empty() {
                summary.push_str(&format!(
                    "\n    待处理 to finish before use (ronghe mapping check):\n      {}",
                    remaining.join("\n      ")
                ));
            }
            files.push(Generated {
                path: config.mappings_dir.join(format!("{}.toml", args.system)),
                what: "映射配置 mapping".to_owned(),
                text: sealed(&text, false),
                summary,
            });
            proposal_json = json!({ "proposal": proposal, "remaining": remaining });
        }
        None => notes.push(format!(
            "未生成映射 no mapping: {} has not been probed (`ronghe adapters probe {}`)",
            args.system, args.system
        )),
    }
    match &verdict {
        Some(LatestVerdict { assessment_id, mode }) => {
            let calendar = crate::calendar::Calendar::load(config.calendar_override.as_deref())
                .context("cannot load the working-day calendar")?;
            let inputs = artifacts::Inputs {
                system: &system,
                mode: *mode,
                assessment: assessment_id,
                adapter: kind,
                soap_record,
                today: crate::calendar::today(),
            };
            for artifact in
                artifacts::generate(&inputs, &calendar).context("cannot generate the mode's files")?
            {
                files.push(Generated {
                    path: project.join(&artifact.path),
                    what: artifact.what.to_owned(),
                    text: sealed(&artifact.text, artifact.markdown),
                    summary: format!("{} ({})", mode.label(), mode.name()),
                });
            }
        }
        None => notes.push(format!(
            "未生成计划与配置 no plan or settings: {} has no verdict yet (`ronghe assess verdict`)",
            args.system
        )),
    }
    if args.print {
        let text: Vec<String> = files
            .iter()
            .map(|f| format!("==> {}\n{}", f.path.display(), f.text))
            .collect();
        ctx.out.show(
            text.join("\n"),
            &json!({ "files": files, "mapping": proposal_json, "notes": notes }),
        );
        return Ok(());
    }
    // Check every file before writing any, so that a refusal leaves nothing half-written.
    let refusals: Vec<String> = files.iter().filter_map(|f| edited(&f.path, &f.text)).collect();
    if !refusals.is_empty() && !args.force {
        return Err(Failure::Refused(anyhow::anyhow!(
            "{}\nMerge by hand, or re-run with --force to replace them",
            refusals.join("\n")
        )));
    }
    for file in &files {
        write(&file.path, &file.text)?;
    }
    let mut human: Vec<String> = files
        .iter()
        .map(|f| {
            format!(
                "已生成 generated {} — {}: {}",
                f.path.display(),
                f.what,
                f.summary
            )
        })
        .collect();
    human.extend(notes.iter().cloned());
    ctx.out.show(
        human.join("\n"),
        &json!({ "files": files, "mapping": proposal_json, "notes": notes }),
    );
    Ok(())
}

/// One file `generate` writes.
#[derive(Debug, serde::Serialize)]
struct Generated {
    path: std::path::PathBuf,
    what: String,
    text: String,
    summary: String,
}

/// Why a generated file may not replace the one in place (an engineer edited it), with the diff.
fn edited(path: &Path, text: &str) -> Option<String> {
    let existing = std::fs::read_to_string(path).ok()?;
    if existing == text || unedited(&existing) {
        return None;
    }
    let diff = similar::TextDiff::from_lines(existing.as_str(), text)
        .unified_diff()
        .header("current", "generated")
        .to_string();
    Some(format!(
        "{} was edited since it was generated; not overwriting it. The new proposal differs by:\n{diff}",
        path.display()
    ))
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
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
        for markdown in [false, true] {
            let text = sealed("a = 1\n", markdown);
            assert!(unedited(&text), "{text}");
            assert!(!unedited(&text.replace("a = 1", "a = 2")));
        }
        assert!(!unedited("a = 1\n"));
    }
}

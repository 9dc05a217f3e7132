//! `ronghe orgs import|list|show`: the organisations registry (部门库) that mappings look the
//! accepting agency up in, written straight to the store (the same checks and audit log as the API).

use std::path::PathBuf;

use clap::Subcommand;

use super::{Context, Failure};
use crate::orgs::{self, Miss, Organisation};

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Import agencies from CSV or JSON Lines, all or nothing 导入部门库.
    ///
    /// CSV: a header naming the columns credit_code (统一社会信用代码), name (机构名称), division
    /// (行政区划), and optionally parent (上级机构), aliases (别名) and codes (部门代码), several
    /// separated by `|`, and synthetic (示例数据: true/false). JSON Lines: one object per line with
    /// the same keys (aliases and codes as arrays). An agency already in the registry (same credit
    /// code) is replaced.
    Import {
        file: PathBuf,
        /// csv or jsonl; by default from the file's extension.
        #[arg(long)]
        format: Option<String>,
    },
    /// List agencies 列出机构.
    List {
        /// Only agencies in this division or under it (e.g. 520100).
        #[arg(long)]
        within: Option<String>,
        /// Only agencies whose credit code, name, alias or code contains this.
        #[arg(long)]
        search: Option<String>,
    },
    /// Show one agency, by credit code, name, alias or departmental code 查看机构.
    Show { key: String },
}

fn parse(file: &std::path::Path, format: Option<&str>) -> Result<Vec<(usize, Organisation)>, Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Failed(anyhow::anyhow!("cannot read {}: {e}", file.display())))?;
    let format = format.map(str::to_owned).or_else(|| {
        file.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
    });
    let parsed = match format.as_deref() {
        Some("csv") => orgs::parse_csv(&text),
        Some("jsonl" | "ndjson") => orgs::parse_jsonl(&text),
        other => {
            return Err(Failure::Usage(anyhow::anyhow!(
                "{}: format {:?} is neither csv nor jsonl; name the file .csv or .jsonl, or give --format",
                file.display(),
                other.unwrap_or("")
            )));
        }
    };
    parsed.map_err(|refused| Failure::Refused(anyhow::anyhow!("{}: {refused}", file.display())))
}

fn row(o: &Organisation) -> Vec<String> {
    vec![
        o.credit_code.clone(),
        if o.synthetic {
            format!("{}（示例数据 synthetic）", o.name)
        } else {
            o.name.clone()
        },
        o.division.clone(),
        o.parent.clone().unwrap_or_default(),
        o.aliases.join(" | "),
        o.codes.join(" | "),
    ]
}

const HEADER: [&str; 6] = [
    "统一社会信用代码 credit code",
    "机构名称 name",
    "行政区划 division",
    "上级 parent",
    "别名 aliases",
    "部门代码 codes",
];

pub(super) async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Import { file, format } => {
            let import = parse(&file, format.as_deref())?;
            let store = ctx.store().await?;
            let imported = store.import_orgs(import, &ctx.actor).await.map_err(|e| match e {
                crate::store::Guarded::Refused(refused) => {
                    Failure::Refused(anyhow::anyhow!("{}: {refused}", file.display()))
                }
                crate::store::Guarded::Store(e) => e.into(),
            })?;
            ctx.out.show(
                format!(
                    "已导入 imported {}: {} new, {} replaced (registry revision {})",
                    file.display(),
                    imported.created,
                    imported.updated,
                    imported.revision
                ),
                &imported,
            );
        }
        Command::List { within, search } => {
            if let Some(code) = &within {
                crate::validate::division(code)
                    .map_err(|v| Failure::Usage(anyhow::anyhow!("--within {code:?}: {}", v.message)))?;
            }
            let listed: Vec<Organisation> = ctx
                .store()
                .await?
                .list_orgs(within.as_deref())
                .await?
                .into_iter()
                .filter(|o| search.as_deref().is_none_or(|q| orgs::matches(o, q)))
                .collect();
            ctx.out.table(&HEADER, listed.iter().map(row).collect(), &listed);
        }
        Command::Show { key } => {
            let directory = ctx.store().await?.org_directory().await?;
            match directory.find(&key) {
                Ok(org) => ctx.out.table(&HEADER, vec![row(org)], org),
                Err(Miss::Unknown) => {
                    return Err(Failure::Refused(anyhow::anyhow!(
                        "no agency in the registry is known by {key:?} ({} agencies; `ronghe orgs list --search` finds parts of names)",
                        directory.len()
                    )));
                }
                Err(Miss::Ambiguous(several)) => {
                    let names: Vec<String> = several.iter().map(|(n, c)| format!("{n} {c}")).collect();
                    return Err(Failure::Refused(anyhow::anyhow!(
                        "{key:?} names {} agencies: {}; give a credit code",
                        several.len(),
                        names.join(", ")
                    )));
                }
            }
        }
    }
    Ok(())
}

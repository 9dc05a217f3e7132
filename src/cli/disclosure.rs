//! `--unmask --purpose TEXT`: the command line's purpose-bound disclosure of personal values
//! (Art. 23, 32). Commands that print records or cases mask them by default; with these flags
//! they print them in clear after writing a `personal.unmask` audit event with the command, the
//! target and the purpose. An unmasking that cannot be audited is refused.

use clap::Args;
use serde_json::json;

use super::{Context, Failure};
use crate::store::Store;
use crate::validate::stated::{self, PURPOSE_MAX_CHARS};

/// The audit action of every unmasked print on the command line.
pub(super) const UNMASK_ACTION: &str = "personal.unmask";

/// The flags, flattened into each command that prints records or cases.
#[derive(Debug, Clone, Args)]
pub(super) struct Disclosure {
    /// Print personal values (names, certificate numbers, phones) in clear instead of masked;
    /// needs --purpose and is audited 显示明文(需说明用途, 记入审计日志).
    #[arg(long)]
    unmask: bool,
    /// Why the clear values are needed, 1-200 characters; kept in the audit log with --unmask 用途.
    #[arg(long, value_name = "TEXT")]
    purpose: Option<String>,
}

/// A checked purpose: the clear values may be printed once it is recorded.
#[derive(Debug, Clone)]
pub(super) struct Purpose(String);

impl Disclosure {
    /// `None` for a masked print, the purpose for an unmasked one; a usage error (exit 2) naming
    /// the flag and its rule otherwise. Checked before the command does any work.
    pub(super) fn purpose(&self) -> Result<Option<Purpose>, Failure> {
        let usage = |message: String| Err(Failure::Usage(anyhow::anyhow!(message)));
        match (self.unmask, self.purpose.as_deref()) {
            (false, None) => Ok(None),
            (false, Some(_)) => usage(
                "--purpose goes with --unmask: without --unmask personal values are masked and need no purpose"
                    .to_owned(),
            ),
            (true, None) => usage(format!(
                "--unmask needs --purpose TEXT: why the clear values are needed, 1-{PURPOSE_MAX_CHARS} characters, kept in the audit log (e.g. --purpose \"核实校核申请 12\")"
            )),
            (true, Some(text)) => Purpose::checked(text).map(Some),
        }
    }
}

impl Purpose {
    /// `--purpose TEXT` checked: 1-200 characters without control characters; a usage error
    /// (exit 2) otherwise.
    pub(super) fn checked(text: &str) -> Result<Purpose, Failure> {
        let text = stated::purpose(text).map_err(|length| {
            Failure::Usage(anyhow::anyhow!(
                "--purpose must be 1-{PURPOSE_MAX_CHARS} characters without control characters (it has {length})"
            ))
        })?;
        Ok(Purpose(text.to_owned()))
    }

    pub(super) fn text(&self) -> &str {
        &self.0
    }
}

impl Purpose {
    /// Records the unmasking (`personal.unmask`: the host actor, `target`, the command and the
    /// purpose) before anything is printed in clear. A command that has no store open passes
    /// `None`: the configured store is opened for the event, and when it cannot be, or the
    /// event cannot be written, the unmasking is refused.
    pub(super) async fn record(
        &self,
        ctx: &Context,
        store: Option<&Store>,
        command: &str,
        target: &str,
    ) -> Result<(), Failure> {
        let refused = |err: anyhow::Error| {
            Failure::Failed(err.context(
                "--unmask is refused: the unmasking cannot be recorded in the audit log, so nothing is shown in clear",
            ))
        };
        let opened;
        let store = match store {
            Some(store) => store,
            None => {
                opened = ctx.store().await.map_err(|failure| match failure {
                    Failure::Failed(err) | Failure::Refused(err) | Failure::Usage(err) => refused(err),
                    Failure::No => refused(anyhow::anyhow!("the platform store is not available")),
                })?;
                &opened
            }
        };
        store
            .record_audit(
                &ctx.actor,
                UNMASK_ACTION,
                target,
                json!({ "command": command, "purpose": self.0 }),
            )
            .await
            .map_err(|err| refused(err.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(unmask: bool, purpose: Option<&str>, expected: Result<Option<&str>, &str>) {
        let disclosure = Disclosure {
            unmask,
            purpose: purpose.map(str::to_owned),
        };
        match (disclosure.purpose(), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got.map(|p| p.0).as_deref(), want),
            (Err(Failure::Usage(err)), Err(needle)) => {
                assert!(err.to_string().contains(needle), "{err} lacks {needle:?}")
            }
            (got, want) => panic!("{unmask} {purpose:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn purposes() {
        check(false, None, Ok(None));
        check(true, Some(" 核实校核申请 12 "), Ok(Some("核实校核申请 12")));
        check(true, Some(&"因".repeat(200)), Ok(Some(&"因".repeat(200))));
        check(true, None, Err("--unmask needs --purpose"));
        check(true, Some("  "), Err("--purpose must be 1-200 characters"));
        check(true, Some(&"因".repeat(201)), Err("(it has 201)"));
        check(true, Some("a\u{7}b"), Err("without control characters"));
        check(false, Some("why"), Err("--purpose goes with --unmask"));
    }
}

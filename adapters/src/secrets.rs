//! References to secrets: a config names where a secret lives (`env:NAME` or `file:PATH`) and
//! never holds it. Resolution happens when an adapter is built, through a `Secrets` source.

use std::collections::HashMap;

use serde::Deserialize;

use crate::AdapterError;

/// Where a secret lives: `env:VARIABLE_NAME` or `file:/path/to/secret`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretRef(pub String);

impl SecretRef {
    /// Why the reference is malformed, if it is.
    pub fn problem(&self) -> Option<String> {
        let ok = match self.0.split_once(':') {
            Some(("env", name)) => {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            }
            Some(("file", path)) => !path.trim().is_empty(),
            _ => false,
        };
        (!ok).then(|| "must be env:VARIABLE_NAME or file:/path/to/secret, never the secret itself".to_owned())
    }
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A source of secrets.
pub trait Secrets: Send + Sync {
    fn resolve(&self, reference: &SecretRef) -> Result<String, AdapterError>;
}

/// The process environment and the file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct Environment;

impl Secrets for Environment {
    fn resolve(&self, reference: &SecretRef) -> Result<String, AdapterError> {
        match reference.0.split_once(':') {
            Some(("env", name)) => std::env::var(name).map_err(|_| {
                AdapterError::configuration(format!(
                    "secret {reference}: environment variable {name} is not set"
                ))
            }),
            Some(("file", path)) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|e| {
                    AdapterError::configuration(format!("secret {reference}: cannot read the file"))
                        .with_source(e)
                }),
            _ => Err(AdapterError::configuration(format!(
                "secret reference {reference:?} is malformed"
            ))),
        }
    }
}

/// Fixed secrets by reference, for tests and the simulators' demo configs.
#[derive(Debug, Default, Clone)]
pub struct Fixed(pub HashMap<String, String>);

impl Secrets for Fixed {
    fn resolve(&self, reference: &SecretRef) -> Result<String, AdapterError> {
        self.0
            .get(&reference.0)
            .cloned()
            .ok_or_else(|| AdapterError::configuration(format!("secret {reference} is not set")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_checked_and_resolved() {
        for (r, ok) in [
            ("env:SIM_KEY", true),
            ("file:/run/secrets/k", true),
            ("env:lower", false),
            ("hunter2", false),
            ("file:", false),
        ] {
            assert_eq!(SecretRef(r.into()).problem().is_none(), ok, "{r}");
        }
        let dir = std::env::temp_dir().join(format!("ronghe-secret-{}", std::process::id()));
        std::fs::write(&dir, "s3cret\n").unwrap();
        let r = SecretRef(format!("file:{}", dir.display()));
        assert_eq!(Environment.resolve(&r).unwrap(), "s3cret");
        std::fs::remove_file(&dir).unwrap();
        let missing = Environment
            .resolve(&SecretRef("env:RONGHE_SURELY_UNSET_VARIABLE".into()))
            .unwrap_err();
        assert!(
            missing.message.contains("RONGHE_SURELY_UNSET_VARIABLE") && !missing.message.contains("s3cret")
        );
    }
}

//! The user references' examples (issue 16): every block tagged ```` ```toml KIND-NAME ```` in
//! `README.md`, `docs/adapters.md`, `mapping.md`, `migration-job.md` and `writeback.md` is parsed and checked by
//! the library function the product uses for that file, so a reference cannot show a config the
//! product refuses. A failure names the doc and the block.

use std::path::Path;

use ronghe::intake::config::WritebackConfig;
use ronghe::mapping::Mapping;
use ronghe::migration::job::MigrationJob;
use ronghe_adapters::AdapterConfig;

/// Checks one example: `Err` with every problem, one per line.
type Check = fn(name: &str, text: &str) -> Result<(), String>;

/// Each reference: its file, the tag prefix of its examples, the check, and the examples it
/// must hold (so an example that is deleted or renamed fails too).
const REFERENCES: &[(&str, &str, Check, &[&str])] = &[
    ("README.md", "adapter-", adapter, &["adapter-soap"]),
    (
        "docs/adapters.md",
        "adapter-",
        adapter,
        &["adapter-rest", "adapter-soap", "adapter-sql", "adapter-mssql"],
    ),
    (
        "docs/mapping.md",
        "mapping-",
        mapping,
        &["mapping-soap", "mapping-row"],
    ),
    (
        "docs/migration-job.md",
        "migration-job",
        migration_job,
        &["migration-job"],
    ),
    (
        "docs/writeback.md",
        "writeback-",
        writeback,
        &["writeback-push", "writeback-pull"],
    ),
];

fn lines<T: std::fmt::Display>(issues: Vec<T>) -> String {
    issues
        .iter()
        .map(|i| format!("    {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `AdapterConfig::from_toml` and `validate`, as `ronghe adapters check`; the block's name
/// gives the kind its `type` must select.
fn adapter(name: &str, text: &str) -> Result<(), String> {
    let config = AdapterConfig::from_toml(text).map_err(lines)?;
    let kind = config.kind().name();
    config.validate().map_err(lines)?;
    if name.strip_prefix("adapter-") != Some(kind) {
        return Err(format!(
            "    the example is of type {kind:?}, not what its tag names"
        ));
    }
    Ok(())
}

/// `Mapping::compile`, as `ronghe mapping test` and the migration.
fn mapping(_: &str, text: &str) -> Result<(), String> {
    Mapping::compile(text).map(drop).map_err(lines)
}

/// `MigrationJob::parse`, as `ronghe migrate run`.
fn migration_job(_: &str, text: &str) -> Result<(), String> {
    MigrationJob::parse(text).map(drop).map_err(lines)
}

/// `WritebackConfig::parse`, as `ronghe writeback check`.
fn writeback(_: &str, text: &str) -> Result<(), String> {
    WritebackConfig::parse(text).map(drop).map_err(lines)
}

/// The tagged TOML blocks of a Markdown text: (tag, body, line of the opening fence).
fn tagged_blocks(markdown: &str) -> Vec<(String, String, usize)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String, usize)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match open.take() {
            Some(block) if line.trim_end() == "```" => blocks.push(block),
            Some((tag, mut body, at)) => {
                body.push_str(line);
                body.push('\n');
                open = Some((tag, body, at));
            }
            None => {
                if let Some(info) = line.strip_prefix("```toml ") {
                    let tag = info.trim();
                    if !tag.is_empty() {
                        open = Some((tag.to_owned(), String::new(), i + 1));
                    }
                }
            }
        }
    }
    assert!(open.is_none(), "a tagged block is not closed");
    blocks
}

#[test]
fn every_example_in_the_references_parses_and_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    for (file, prefix, check, expected) in REFERENCES {
        let text = std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let blocks = tagged_blocks(&text);
        for (tag, body, line) in &blocks {
            if !tag.starts_with(prefix) {
                failures.push(format!(
                    "{file}:{line}: block {tag:?}: tags here start with {prefix:?}"
                ));
            } else if let Err(problems) = check(tag, body) {
                failures.push(format!("{file}:{line}: block {tag:?}:\n{problems}"));
            }
        }
        for name in *expected {
            if !blocks.iter().any(|(tag, _, _)| tag == name) {
                failures.push(format!("{file}: no example tagged {name:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "examples in the references fail:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_broken_example_is_named_with_its_file_and_block() {
    let markdown = "text\n\n```toml migration-job\n[job]\nsystem = \"\"\n```\n";
    let blocks = tagged_blocks(markdown);
    assert_eq!(blocks.len(), 1);
    let (tag, body, line) = &blocks[0];
    assert_eq!((tag.as_str(), *line), ("migration-job", 3));
    assert!(migration_job(tag, body).is_err());
}

/// The README's worked signature (issue 19, ```` ```text signing-example ````): every value a
/// developer reproduces — the body's SHA-256, the string to sign and the signature — is what
/// ronghe's own signer computes from the example's secret, timestamp, nonce, path and body, and
/// the intake's verifier accepts it; the headers shown beside it carry the same values.
#[test]
fn the_readme_signature_example_is_what_the_signer_computes() {
    use ronghe_adapters::signing::{self, SignedParts, Signer};
    use ronghe_crypto::{MacAlgorithm, Named as _};

    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("```text signing-example\n")
        .expect("README.md has a ```text signing-example block");
    let block = &readme[start..]
        .lines()
        .skip(1)
        .take_while(|l| *l != "```")
        .collect::<Vec<_>>();
    let value = |name: &str| -> &str {
        block
            .iter()
            .find_map(|line| {
                let (key, value) = line.split_once(" = ")?;
                (key.trim() == name).then_some(value)
            })
            .unwrap_or_else(|| panic!("the example has no {name:?}"))
    };
    let algorithm = MacAlgorithm::ALL
        .iter()
        .copied()
        .find(|a| a.name() == value("algorithm"))
        .expect("a known algorithm");
    let (secret, key_id, path, nonce) = (value("secret"), value("key id"), value("path"), value("nonce"));
    let body = value("body").as_bytes();
    let timestamp: i64 = value("timestamp").parse().unwrap();
    assert_eq!(value("method"), "POST");

    let to_sign = signing::string_to_sign("POST", path, &timestamp.to_string(), nonce, body);
    assert_eq!(
        value("string to sign").replace("\\n", "\n"),
        to_sign,
        "the string to sign"
    );
    assert_eq!(
        to_sign.rsplit('\n').next(),
        Some(value("body sha256")),
        "the body's SHA-256"
    );
    let headers = Signer::new(key_id, algorithm, secret.as_bytes().to_vec())
        .headers_at("POST", path, body, timestamp, nonce);
    let header = |name: &str| headers.iter().find(|(h, _)| *h == name).map(|(_, v)| v.as_str());
    assert_eq!(
        header(signing::SIGNATURE),
        Some(value("signature")),
        "the signature"
    );
    let parts = SignedParts {
        method: "POST",
        path,
        timestamp: value("timestamp"),
        nonce,
        signature: value("signature"),
    };
    assert!(signing::verify(algorithm, secret.as_bytes(), &parts, body));
    for (name, shown) in [
        ("X-Ronghe-Key-Id", key_id),
        ("X-Ronghe-Timestamp", value("timestamp")),
        ("X-Ronghe-Nonce", nonce),
        ("X-Ronghe-Signature", value("signature")),
    ] {
        assert_eq!(header(&name.to_ascii_lowercase()), Some(shown), "{name}");
        assert!(
            readme.contains(&format!("`{name}: {shown}`")),
            "the README shows {name}: {shown}"
        );
    }
}

//! The layers of `src/` (issue 18): every top-level module belongs to one layer, imports only
//! from its own layer or those below, and no two modules import each other, directly or round
//! about. The domain layer does no I/O of its own (no database, no network, nothing async).
//!
//! Reads the source as text: a module's imports are the `crate::NAME` paths in its files (also
//! inside `use crate::{…}` groups), comment lines left out. `cargo test --test layers --
//! --nocapture` prints the module graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// From the bottom up. See "Layers" in docs/ARCHITECTURE.md.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "domain",
        &[
            "access",
            "assessments",
            "calendar",
            "case",
            "corrections",
            "mapping",
            "notices",
            "orgs",
            "plans",
            "reconciliation",
            "rules",
            "systems",
            "validate",
            "visits",
        ],
    ),
    ("store", &["store"]),
    (
        "services",
        &[
            "accounts",
            "artifacts",
            "attached_adapter",
            "bridge",
            "delivery",
            "exchange",
            "handoff",
            "housekeeping",
            "intake",
            "migration",
            "monitoring",
            "planning",
            "pull",
            "resealing",
            "retry",
            "scheduler",
        ],
    ),
    ("edge", &["bench", "cli", "config", "server"]),
];

/// What the domain layer must not touch: databases, the network, async runtimes.
const DOMAIN_FORBIDDEN: &[&str] = &["sqlx::", "tokio::", "std::net", "reqwest", "async fn"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for the crate root files).
fn module_of(file: &Path) -> Option<String> {
    let first = file.strip_prefix(src()).unwrap().components().next()?;
    let name = first.as_os_str().to_str()?;
    let name = name.strip_suffix(".rs").unwrap_or(name);
    (name != "lib" && name != "main").then(|| name.to_owned())
}

/// The source without its comment lines.
fn code(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The top-level modules `code` names through `crate::`.
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::c, d::{e, f}}`: the names at the group's first level.
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        start = false;
                        found.insert(identifier(&group[i..]).to_owned());
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(identifier(rest).to_owned());
        }
    }
    found
}

struct Graph {
    /// module → (imported module → the first file naming it)
    edges: BTreeMap<String, BTreeMap<String, PathBuf>>,
    modules: BTreeSet<String>,
}

fn graph() -> Graph {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
    let mut edges: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for file in &files {
        let Some(from) = module_of(file) else { continue };
        let text = code(&std::fs::read_to_string(file).unwrap());
        let entry = edges.entry(from.clone()).or_default();
        for to in imports(&text) {
            if to != from && modules.contains(&to) {
                entry.entry(to).or_insert_with(|| file.clone());
            }
        }
    }
    Graph { edges, modules }
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, members)| members.contains(&module))
}

/// A cycle through `start`, if any (depth-first search).
fn cycle_through(graph: &Graph, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &Graph,
        at: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.edges.get(at).into_iter().flat_map(|e| e.keys()) {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_owned()];
    walk(graph, start, start, &mut path, &mut BTreeSet::new()).then(|| {
        path.push(start.to_owned());
        path
    })
}

#[test]
fn every_module_has_a_layer() {
    let graph = graph();
    let listed: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|(_, members)| members.iter().map(|m| (*m).to_owned()))
        .collect();
    let unlisted: Vec<_> = graph.modules.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "src/ modules without a layer: {unlisted:?}; add each to LAYERS in tests/layers.rs and to the layer diagram in docs/ARCHITECTURE.md"
    );
    let gone: Vec<_> = listed.difference(&graph.modules).collect();
    assert!(
        gone.is_empty(),
        "LAYERS lists modules that do not exist: {gone:?}"
    );
}

#[test]
fn modules_import_only_their_own_layer_or_below() {
    let graph = graph();
    let mut upward = Vec::new();
    for (from, targets) in &graph.edges {
        for (to, file) in targets {
            if let (Some(a), Some(b)) = (layer_of(from), layer_of(to))
                && b > a
            {
                upward.push(format!(
                    "{from} ({}) imports {to} ({}) in {}",
                    LAYERS[a].0,
                    LAYERS[b].0,
                    file.display()
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that go up a layer:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_module_imports_itself_round_about() {
    let graph = graph();
    for (from, targets) in &graph.edges {
        let names: Vec<&str> = targets.keys().map(String::as_str).collect();
        eprintln!("{from} -> {}", names.join(" "));
    }
    let cycles: Vec<String> = graph
        .modules
        .iter()
        .filter_map(|m| cycle_through(&graph, m))
        .map(|path| path.join(" -> "))
        .collect();
    assert!(
        cycles.is_empty(),
        "import cycles between src/ modules:\n{}",
        cycles.join("\n")
    );
}

/// The files whose times are leases, due times and claims (issue 22): they read the database's
/// clock (`Store::clock`, or `Backend::now` inside a statement), never a node's, so that skew
/// between nodes cannot hand one item to two of them.
const ON_THE_DATABASE_CLOCK: &[&str] = &[
    "delivery.rs",
    "exchange/sink.rs",
    "exchange/worker.rs",
    "handoff.rs",
    "pull.rs",
    "scheduler/mod.rs",
    "scheduler/webhook.rs",
    "scheduler/jobs.rs",
    "store/outbox.rs",
    "store/handoffs.rs",
    "store/pull.rs",
    "store/scheduler.rs",
    "store/migration.rs",
    "store/queue.rs",
    "store/lease.rs",
];

#[test]
fn leases_and_due_times_use_the_database_clock() {
    let mut found = Vec::new();
    for name in ON_THE_DATABASE_CLOCK {
        let text = code(&std::fs::read_to_string(src().join(name)).unwrap());
        for line in text.lines() {
            if ["Utc::now()", "SystemTime::now()", "Local::now()"]
                .iter()
                .any(|clock| line.contains(clock))
            {
                found.push(format!("src/{name}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a node's clock where the database's is the rule (use Store::clock):\n{}",
        found.join("\n")
    );
}

/// Store files that may open a transaction without the write lock: they only read (EXPLAIN)
/// or are the bench's baseline.
const READ_ONLY_TRANSACTIONS: &[&str] = &["store/explain.rs", "store/baseline.rs"];

/// Every write transaction of the store begins with the backend's write lock
/// (`begin_with(backend.begin_write())`: `BEGIN IMMEDIATE` on SQLite). A deferred transaction
/// that reads and then writes fails at once with "database is locked" when another connection
/// writes, whatever the busy timeout.
#[test]
fn store_transactions_take_the_write_lock() {
    let mut files = Vec::new();
    rust_files(&src().join("store"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let name = file.strip_prefix(src()).unwrap().display().to_string();
        if READ_ONLY_TRANSACTIONS.contains(&name.as_str()) {
            continue;
        }
        let text = code(&std::fs::read_to_string(&file).unwrap());
        for line in text.lines().filter(|l| l.contains(".begin().await")) {
            found.push(format!("src/{name}: {}", line.trim()));
        }
    }
    assert!(
        found.is_empty(),
        "a transaction without the write lock (use pool.begin_with(self.backend().begin_write())):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_domain_does_no_io() {
    let (_, domain) = LAYERS[0];
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut found = Vec::new();
    for file in files {
        if module_of(&file).is_some_and(|m| domain.contains(&m.as_str())) {
            let text = code(&std::fs::read_to_string(&file).unwrap());
            for needle in DOMAIN_FORBIDDEN {
                if text.contains(needle) {
                    found.push(format!("{} uses {needle}", file.display()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "the domain layer does I/O:\n{}",
        found.join("\n")
    );
}

#[test]
fn imports_are_read_from_paths_and_groups() {
    let text = code(
        "use crate::store::{Store, StoreError};\n\
         use crate::{case::Case, mapping::{Mapping, Rule}, validate};\n\
         // use crate::server::Metrics;\n\
         let x = crate::calendar::today();",
    );
    let found: Vec<String> = imports(&text).into_iter().collect();
    assert_eq!(found, ["calendar", "case", "mapping", "store", "validate"]);
}

#[test]
fn a_cycle_is_found_and_a_chain_is_not() {
    let edge = |to: &str| BTreeMap::from([(to.to_owned(), PathBuf::from("x.rs"))]);
    let mut graph = Graph {
        edges: BTreeMap::from([("a".to_owned(), edge("b")), ("b".to_owned(), edge("c"))]),
        modules: ["a", "b", "c"].map(String::from).into(),
    };
    assert_eq!(cycle_through(&graph, "a"), None);
    graph.edges.insert("c".to_owned(), edge("a"));
    assert_eq!(
        cycle_through(&graph, "b").map(|p| p.join(" -> ")),
        Some("b -> c -> a -> b".to_owned())
    );
}

/// Each type the OpenAPI document describes has its own schema name: two types of one name
/// would share a component, and the document would describe one with the other's fields
/// (issue 19: the bridge report was published as the visits report). A second type of a name
/// takes `#[schema(as = OtherName)]`.
#[test]
fn openapi_schema_names_are_unique() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut pending = false;
        let mut renamed: Option<String> = None;
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[derive(") && line.contains("ToSchema") {
                pending = true;
            } else if pending && line.starts_with("#[schema(as = ") {
                renamed = line["#[schema(as = ".len()..]
                    .split(')')
                    .next()
                    .map(str::to_owned);
            } else if pending && !line.starts_with("#[") && !line.starts_with("///") {
                let declared = line
                    .split_whitespace()
                    .skip_while(|w| *w != "struct" && *w != "enum")
                    .nth(1)
                    .map(|name| {
                        name.trim_end_matches(['{', '(', ';'])
                            .split('<')
                            .next()
                            .unwrap_or_default()
                            .to_owned()
                    });
                let name = renamed.take().or(declared);
                if let Some(other) = name.as_ref().and_then(|n| seen.insert(n.clone(), file.clone())) {
                    panic!(
                        "schema {} is declared in {} and in {}",
                        name.unwrap_or_default(),
                        other.display(),
                        file.display()
                    );
                }
                pending = false;
            }
        }
    }
    assert!(seen.len() > 100, "{} schemas", seen.len());
}

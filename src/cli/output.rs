//! Everything the CLI prints: human text (zh-CN first) or JSON with `--json`. The one module
//! allowed to write to stdout.
#![allow(clippy::print_stdout)]

use std::fmt::Display;

use comfy_table::Table;
use serde::Serialize;

/// Where and how results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Output {
        Output { json }
    }

    /// Whether results are printed as JSON (the demo passes it on to its child commands).
    #[cfg(feature = "devtools")]
    pub(crate) fn is_json(&self) -> bool {
        self.json
    }

    /// Prints `human` for people, or `value` as JSON for scripts.
    pub(crate) fn show(&self, human: impl Display, value: &impl Serialize) {
        if self.json {
            self.json_line(value);
        } else {
            println!("{human}");
        }
    }

    /// Prints one JSON document on one line.
    pub(crate) fn json_line(&self, value: &impl Serialize) {
        match serde_json::to_string(value) {
            Ok(text) => println!("{text}"),
            Err(err) => eprintln!("error: cannot encode output as JSON: {err}"),
        }
    }

    /// A buffered writer on stdout, for streams of JSON lines.
    pub(crate) fn writer(&self) -> std::io::BufWriter<std::io::StdoutLock<'static>> {
        std::io::BufWriter::new(std::io::stdout().lock())
    }

    /// Prints rows as a table for people, or `value` as JSON.
    pub(crate) fn table(&self, header: &[&str], rows: Vec<Vec<String>>, value: &impl Serialize) {
        if self.json {
            self.json_line(value);
            return;
        }
        if rows.is_empty() {
            println!("(无 none)");
            return;
        }
        let mut table = Table::new();
        table.set_header(header.to_vec());
        for row in rows {
            table.add_row(row);
        }
        println!("{table}");
    }

    /// Prints a line for people; nothing with `--json`, where the printed value carries it.
    pub(crate) fn note(&self, text: &str) {
        if !self.json {
            println!("{text}");
        }
    }

    /// Reports a failure: `{"error": {"message"}}` on stdout with `--json`, text on stderr otherwise.
    pub(crate) fn error(&self, err: &anyhow::Error) {
        if self.json {
            self.json_line(&serde_json::json!({ "error": { "message": format!("{err:#}") } }));
        } else {
            eprintln!("错误 error: {err:#}");
        }
    }
}

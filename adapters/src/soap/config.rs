//! The SOAP driver's config (`type = "soap"`): the endpoint, version and encodings, the
//! operations as request templates, and which operation lists, fetches and submits cases.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::charset;
use super::envelope::{SoapVersion, Templates};
use super::xml::ElementPath;
use crate::config::Issues;
use crate::resilience::ResilienceConfig;
use crate::{SecretRef, WindowFormat};

/// A SOAP/XML departmental system.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoapConfig {
    /// The service endpoint, where envelopes are POSTed.
    pub endpoint: String,
    /// `"1.1"` (the default) or `"1.2"`.
    #[serde(default)]
    pub version: SoapVersion,
    /// Where the WSDL is, for `probe`: an http(s) URL or a file path. Default: `ENDPOINT?wsdl`.
    #[serde(default)]
    pub wsdl: Option<String>,
    /// The encoding requests are sent in: `UTF-8` (the default), `GBK` or `GB18030`.
    /// Answers are decoded whatever they use.
    #[serde(default = "utf8")]
    pub request_encoding: String,
    /// The largest answer accepted, in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// Secrets the templates may use as `{{secret.NAME}}` (e.g. a WS-Security password).
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRef>,
    /// Template of the SOAP Header's content sent with every request (e.g. a WS-Security
    /// UsernameToken); none when absent.
    #[serde(default)]
    pub header: Option<String>,
    /// The system's own result code inside its answers, where it has one.
    #[serde(default)]
    pub status: Option<Status>,
    /// How the case records are listed.
    pub records: Records,
    /// How one record is fetched by key.
    #[serde(default)]
    pub fetch: Option<Fetch>,
    /// How applications are handed to the system.
    #[serde(default)]
    pub submit: Option<Submit>,
    /// The operations, by name; `records`, `fetch` and `submit` name one of them each.
    pub operations: BTreeMap<String, Operation>,
    #[serde(default)]
    pub resilience: ResilienceConfig,
}

fn utf8() -> String {
    "UTF-8".to_owned()
}

fn default_max_body_bytes() -> u64 {
    32 * 1024 * 1024
}

/// One SOAP operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    /// The SOAP action: the `SOAPAction` header (1.1) or the `action` parameter (1.2).
    #[serde(default)]
    pub action: String,
    /// Handlebars template of the Body's content. The payload is its context (plus `secret`);
    /// values are XML-escaped; a variable the payload lacks is an error.
    pub body: String,
    /// Element path from the response element (the Body's child) to the result; `""` is the
    /// response element itself.
    #[serde(default)]
    pub result: String,
    /// The result element holds an XML document as text (in CDATA or escaped), a legacy
    /// habit: that document is parsed and its root becomes the result.
    #[serde(default)]
    pub inner_document: bool,
}

/// The system's result code: answers whose code is not a success become errors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    /// Element path from the result to the code, e.g. `返回码`. Answers without it pass.
    pub path: String,
    /// Codes that mean success.
    pub success: Vec<String>,
    /// Element path from the result to the system's message, e.g. `返回信息`.
    #[serde(default)]
    pub message: Option<String>,
    /// Codes that mean "no such record": `fetch` answers `None` for them.
    #[serde(default)]
    pub not_found: Vec<String>,
}

/// The listing of case records, page by page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Records {
    /// The listing operation. Its template gets `page`, `page_size`, `offset` and `since` (the
    /// watermark to resume from, or null), plus `secret`.
    pub operation: String,
    /// Element path from the result to each record, e.g. `办件列表/办件`.
    pub select: String,
    /// Element path from a record to its key (its case number).
    pub key: String,
    /// Element path from a record to its update time or version; needed to resume. The system
    /// must answer in watermark order, then key order, and treat `since` as inclusive.
    #[serde(default)]
    pub watermark: Option<String>,
    /// How the watermark writes a time, when it is one (see `WindowFormat`).
    #[serde(default)]
    pub window_format: Option<WindowFormat>,
    /// Element path from the result to the total number of records, if the system gives it.
    #[serde(default)]
    pub total: Option<String>,
    /// Records per page; without it the listing is one call.
    #[serde(default)]
    pub page_size: Option<u32>,
    /// The number of the first page.
    #[serde(default = "one")]
    pub first_page: u32,
}

fn one() -> u32 {
    1
}

/// Fetching one record: the operation's template gets `key`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fetch {
    pub operation: String,
    /// Element path from the result to the record; when it finds nothing, there is no record.
    #[serde(default)]
    pub select: String,
}

/// Submitting an application: the payload is the operation's template context.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submit {
    pub operation: String,
    /// Element path from the result to the system's receipt id.
    #[serde(default)]
    pub id: Option<String>,
}

fn path(issues: &mut Issues, at: &str, value: &str) {
    if let Err(message) = ElementPath::parse(value) {
        issues.add(at, message);
    }
}

fn template(issues: &mut Issues, at: &str, source: &str) {
    if let Some(message) = Templates::problem(source) {
        issues.add(at, message);
    }
}

impl SoapConfig {
    /// The WSDL's location.
    pub(crate) fn wsdl_location(&self) -> String {
        self.wsdl
            .clone()
            .unwrap_or_else(|| format!("{}?wsdl", self.endpoint))
    }

    pub(crate) fn check(&self, issues: &mut Issues) {
        issues.http_url("endpoint", &self.endpoint);
        if let Some(wsdl) = &self.wsdl
            && wsdl.contains("://")
        {
            issues.http_url("wsdl", wsdl);
        }
        if charset::for_requests(&self.request_encoding).is_none() {
            issues.add("request_encoding", "must be UTF-8, GBK or GB18030");
        }
        if self.max_body_bytes == 0 {
            issues.add("max_body_bytes", "must be positive");
        }
        for (name, secret) in &self.secrets {
            issues.secret(&format!("secrets.{name}"), secret);
        }
        if let Some(header) = &self.header {
            template(issues, "header", header);
        }
        if let Some(status) = &self.status {
            path(issues, "status.path", &status.path);
            if status.success.is_empty() {
                issues.add("status.success", "list the codes that mean success");
            }
            if let Some(message) = &status.message {
                path(issues, "status.message", message);
            }
        }
        if self.operations.is_empty() {
            issues.add("operations", "configure at least the listing operation");
        }
        for (name, op) in &self.operations {
            template(issues, &format!("operations.{name}.body"), &op.body);
            path(issues, &format!("operations.{name}.result"), &op.result);
            if !op.action.chars().all(|c| c.is_ascii_graphic() || c == ' ') || op.action.contains('"') {
                issues.add(
                    format!("operations.{name}.action"),
                    "must be printable ASCII without quotes (it travels in an HTTP header)",
                );
            }
        }
        let mut known = |at: &str, name: &str| {
            if !self.operations.contains_key(name) {
                issues.add(at, format!("no operation {name:?} in [operations]"));
            }
        };
        known("records.operation", &self.records.operation);
        if let Some(f) = &self.fetch {
            known("fetch.operation", &f.operation);
        }
        if let Some(s) = &self.submit {
            known("submit.operation", &s.operation);
        }
        let r = &self.records;
        path(issues, "records.select", &r.select);
        if r.select.is_empty() {
            issues.add("records.select", "must reach the records, e.g. 办件列表/办件");
        }
        path(issues, "records.key", &r.key);
        if r.key.is_empty() {
            issues.add("records.key", "must reach the record's key, e.g. 办件编号");
        }
        for (at, value) in [("records.watermark", &r.watermark), ("records.total", &r.total)] {
            if let Some(v) = value {
                path(issues, at, v);
            }
        }
        issues.window_format(
            "records.window_format",
            r.window_format.as_ref(),
            r.watermark.is_some(),
        );
        if let Some(size) = r.page_size
            && !(1..=10_000).contains(&size)
        {
            issues.add("records.page_size", "must be between 1 and 10000");
        }
        if let Some(f) = &self.fetch {
            path(issues, "fetch.select", &f.select);
        }
        if let Some(id) = self.submit.as_ref().and_then(|s| s.id.as_ref()) {
            path(issues, "submit.id", id);
        }
        issues.resilience(&self.resilience);
    }
}

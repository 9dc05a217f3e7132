//! The REST driver's config (`type = "rest"`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::Issues;
use crate::resilience::ResilienceConfig;
use crate::{SecretRef, WindowFormat};

/// A REST/JSON departmental system.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestConfig {
    /// Base URL; every path below is relative to it.
    pub base_url: String,
    #[serde(default)]
    pub auth: Auth,
    /// Where the case records are listed.
    pub records: Records,
    /// How to fetch one record by key.
    #[serde(default)]
    pub fetch: Option<Endpoint>,
    /// Where applications are handed to the system.
    #[serde(default)]
    pub submit: Option<Submit>,
    /// Other operations, callable by name.
    #[serde(default)]
    pub operations: BTreeMap<String, Endpoint>,
    #[serde(default)]
    pub resilience: ResilienceConfig,
}

/// How requests authenticate.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    #[default]
    None,
    /// `Authorization: Bearer TOKEN`.
    Bearer { token: SecretRef },
    /// `Authorization: Basic …`.
    Basic { username: String, password: SecretRef },
    /// A key in a header, e.g. `X-Api-Key`.
    ApiKey { header: String, key: SecretRef },
    /// HMAC-SHA256 over method, path and query, timestamp, nonce and body digest (the
    /// write-back's string to sign, `signing::string_to_sign`), sent in `X-Key-Id`,
    /// `X-Timestamp`, `X-Nonce` and `X-Signature` (hex).
    Hmac { key_id: String, secret: SecretRef },
}

/// The listing of case records.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Records {
    /// Path relative to `base_url`.
    pub path: String,
    /// JSON pointer to the array of records in a response ("" when the body is the array).
    #[serde(default)]
    pub select: String,
    /// JSON pointer to a record's key (its case number) within the record.
    pub key: String,
    /// JSON pointer to a record's update time or version; needed to resume from a checkpoint.
    #[serde(default)]
    pub watermark: Option<String>,
    /// Query parameter that asks for records with a watermark at or after a value. The system
    /// must answer in watermark order, then key order.
    #[serde(default)]
    pub since_param: Option<String>,
    /// How the watermark writes a time, when it is one (see `WindowFormat`).
    #[serde(default)]
    pub window_format: Option<WindowFormat>,
    /// JSON pointer to the total number of records in a response, if the system gives it.
    #[serde(default)]
    pub total: Option<String>,
    /// Fixed query parameters sent with every listing request.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(default)]
    pub paging: Paging,
}

/// How the listing pages.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Paging {
    /// Everything in one response.
    #[default]
    None,
    /// `?page=N&size=M`, N from `first`.
    Page {
        param: String,
        size_param: String,
        size: u32,
        #[serde(default = "one")]
        first: u32,
    },
    /// `?offset=N&limit=M`.
    Offset {
        param: String,
        size_param: String,
        size: u32,
    },
    /// `?cursor=TOKEN`, the next token at JSON pointer `next` in each response.
    Cursor {
        param: String,
        next: String,
        #[serde(default)]
        size_param: Option<String>,
        #[serde(default)]
        size: Option<u32>,
    },
    /// The `Link: <…>; rel="next"` header (RFC 8288).
    Link {
        #[serde(default)]
        size_param: Option<String>,
        #[serde(default)]
        size: Option<u32>,
    },
}

fn one() -> u32 {
    1
}

/// A request to one endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    #[serde(default)]
    pub method: Method,
    /// Path relative to `base_url`; `{key}` is replaced by the (URL-encoded) key.
    pub path: String,
    /// JSON pointer to the result within the response ("" for the whole body).
    #[serde(default)]
    pub select: String,
}

/// Where applications go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submit {
    #[serde(default = "post")]
    pub method: Method,
    pub path: String,
    /// JSON pointer to the system's id for the submission in its answer.
    #[serde(default)]
    pub id: Option<String>,
}

fn post() -> Method {
    Method::Post
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Get,
    Post,
    Put,
}

fn pointer(issues: &mut Issues, path: &str, value: &str) {
    if !(value.is_empty() || value.starts_with('/')) {
        issues.add(path, format!("{value:?} is not a JSON pointer: start with / (e.g. /data/items), or leave empty for the whole body"));
    }
}

fn relative(issues: &mut Issues, path: &str, value: &str) {
    if value.contains("://") || value.starts_with('/') {
        issues.add(path, "must be relative to base_url (no scheme, no leading /)");
    }
}

impl RestConfig {
    pub(crate) fn check(&self, issues: &mut Issues) {
        issues.http_url("base_url", &self.base_url);
        match &self.auth {
            Auth::None => {}
            Auth::Bearer { token } => issues.secret("auth.token", token),
            Auth::Basic { username, password } => {
                if username.is_empty() {
                    issues.add("auth.username", "must not be empty");
                }
                issues.secret("auth.password", password);
            }
            Auth::ApiKey { header, key } => {
                if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    issues.add("auth.header", format!("{header:?} is not a valid header name"));
                }
                issues.secret("auth.key", key);
            }
            Auth::Hmac { key_id, secret } => {
                if key_id.is_empty() {
                    issues.add("auth.key_id", "must not be empty");
                }
                issues.secret("auth.secret", secret);
            }
        }
        let r = &self.records;
        relative(issues, "records.path", &r.path);
        pointer(issues, "records.select", &r.select);
        pointer(issues, "records.key", &r.key);
        if r.key.is_empty() {
            issues.add("records.key", "must point at the record's key, e.g. /caseNo");
        }
        for (field, value) in [("records.watermark", &r.watermark), ("records.total", &r.total)] {
            if let Some(v) = value {
                pointer(issues, field, v);
            }
        }
        issues.window_format(
            "records.window_format",
            r.window_format.as_ref(),
            r.watermark.is_some(),
        );
        if r.since_param.is_some() && r.watermark.is_none() {
            issues.add(
                "records.since_param",
                "needs records.watermark to know each record's position",
            );
        }
        match &r.paging {
            Paging::Page { size, .. } | Paging::Offset { size, .. } if !(1..=10_000).contains(size) => {
                issues.add("records.paging.size", "must be between 1 and 10000");
            }
            Paging::Cursor { next, .. } => pointer(issues, "records.paging.next", next),
            _ => {}
        }
        if let Some(f) = &self.fetch {
            relative(issues, "fetch.path", &f.path);
            pointer(issues, "fetch.select", &f.select);
            if !f.path.contains("{key}") {
                issues.add("fetch.path", "must contain {key}");
            }
        }
        if let Some(s) = &self.submit {
            relative(issues, "submit.path", &s.path);
            if s.method == Method::Get {
                issues.add("submit.method", "a submission is a POST or PUT");
            }
            if let Some(id) = &s.id {
                pointer(issues, "submit.id", id);
            }
        }
        for (name, op) in &self.operations {
            relative(issues, &format!("operations.{name}.path"), &op.path);
            pointer(issues, &format!("operations.{name}.select"), &op.select);
        }
        issues.resilience(&self.resilience);
    }
}

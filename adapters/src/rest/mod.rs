//! The REST/JSON driver (reqwest): authenticated requests, paged listings with a watermark to
//! resume from, fetch by key, submission, and named operations; every request goes through the
//! system's resilience policy.

mod auth;
mod config;

pub use config::{Auth, Endpoint, Method, Paging, Records, RestConfig, Submit};

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::resilience::Policy;
use crate::watermark::{self, Position};
use crate::{
    Adapter, AdapterError, AdapterKind, Capabilities, Checkpoint, Entity, Profile, Raw, Receipt, Record,
    RecordStream, SCAN_RECORDS, Secrets, covering_samples, scan,
};
use auth::Signer;

/// A connection to one REST system.
#[derive(Debug)]
pub struct RestAdapter {
    config: RestConfig,
    base: url::Url,
    client: reqwest::Client,
    signer: Signer,
    policy: Policy,
}

/// The next listing request.
#[derive(Debug, Clone)]
enum Next {
    /// Query parameters on the listing path.
    Query(Vec<(String, String)>),
    /// An absolute URL (from a `Link` header).
    Url(url::Url),
}

/// A JSON scalar as text, for keys and watermarks.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn select<'a>(body: &'a Value, pointer: &str, what: &str) -> Result<&'a Value, AdapterError> {
    body.pointer(pointer)
        .ok_or_else(|| AdapterError::data(format!("{what}: the response has nothing at {pointer:?}")))
}

impl RestAdapter {
    pub fn build(config: &RestConfig, secrets: &dyn Secrets) -> Result<RestAdapter, AdapterError> {
        let mut base = url::Url::parse(&config.base_url)
            .map_err(|e| AdapterError::configuration(format!("base_url: {e}")))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(config.resilience.connect_timeout())
            .timeout(config.resilience.request_timeout())
            .build()
            .map_err(|e| AdapterError::configuration("cannot build the HTTP client").with_source(e))?;
        Ok(RestAdapter {
            signer: Signer::new(&config.auth, secrets)?,
            policy: Policy::new(&config.resilience),
            config: config.clone(),
            base,
            client,
        })
    }

    fn url(&self, path: &str) -> Result<url::Url, AdapterError> {
        self.base
            .join(path)
            .map_err(|e| AdapterError::configuration(format!("path {path:?}: {e}")))
    }

    /// Sends one request through the policy and returns the parsed JSON body and headers.
    async fn send(
        &self,
        method: Method,
        url: url::Url,
        body: Option<&Value>,
    ) -> Result<(Value, reqwest::header::HeaderMap), AdapterError> {
        let what = format!("{} {}", method_name(method), url.path());
        let bytes = match body {
            Some(v) => serde_json::to_vec(v)
                .map_err(|e| AdapterError::data("cannot encode the request body").with_source(e))?,
            None => Vec::new(),
        };
        self.policy
            .run(&what, || async {
                let mut request = self.client.request(reqwest_method(method), url.clone());
                if body.is_some() {
                    request = request
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(bytes.clone());
                }
                let path_and_query = match url.query() {
                    Some(q) => format!("{}?{q}", url.path()),
                    None => url.path().to_owned(),
                };
                let request = self
                    .signer
                    .sign(request, method_name(method), &path_and_query, &bytes);
                let response = request
                    .send()
                    .await
                    .map_err(|e| AdapterError::transport(&what, e))?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response
                    .bytes()
                    .await
                    .map_err(|e| AdapterError::transport(&what, e))?;
                if !status.is_success() {
                    return Err(AdapterError::from_http_status(status.as_u16(), &what));
                }
                let value = if body.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&body)
                        .map_err(|e| AdapterError::data(format!("{what}: the body is not JSON ({e})")))?
                };
                Ok((value, headers))
            })
            .await
    }

    /// The first listing request, resuming at `from` when given.
    fn first_page(&self, from: Option<&Position>, size_override: Option<u32>) -> Next {
        let r = &self.config.records;
        let mut query: Vec<(String, String)> = r.query.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if let (Some(position), Some(param)) = (from, &r.since_param) {
            query.push((param.clone(), position.watermark.clone()));
        }
        match &r.paging {
            Paging::None => {}
            Paging::Page {
                param,
                size_param,
                size,
                first,
            } => {
                query.push((param.clone(), first.to_string()));
                query.push((size_param.clone(), size_override.unwrap_or(*size).to_string()));
            }
            Paging::Offset {
                param,
                size_param,
                size,
            } => {
                query.push((param.clone(), "0".to_owned()));
                query.push((size_param.clone(), size_override.unwrap_or(*size).to_string()));
            }
            Paging::Cursor { size_param, size, .. } | Paging::Link { size_param, size } => {
                if let (Some(p), Some(s)) = (size_param, size_override.or(*size)) {
                    query.push((p.clone(), s.to_string()));
                }
            }
        }
        Next::Query(query)
    }

    /// The request after `current`, given how many records its page held.
    fn next_page(
        &self,
        current: &Next,
        count: usize,
        body: &Value,
        headers: &reqwest::header::HeaderMap,
    ) -> Option<Next> {
        let bump = |query: &[(String, String)], param: &str, by: u64| -> Vec<(String, String)> {
            query
                .iter()
                .map(|(k, v)| {
                    if k == param {
                        (k.clone(), (v.parse::<u64>().unwrap_or(0) + by).to_string())
                    } else {
                        (k.clone(), v.clone())
                    }
                })
                .collect()
        };
        let page_size = |query: &[(String, String)], size_param: &str| {
            query
                .iter()
                .find(|(k, _)| k == size_param)
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0)
        };
        match (&self.config.records.paging, current) {
            (Paging::None, _) => None,
            (
                Paging::Page {
                    param, size_param, ..
                },
                Next::Query(q),
            ) => (count > 0 && count >= page_size(q, size_param)).then(|| Next::Query(bump(q, param, 1))),
            (
                Paging::Offset {
                    param, size_param, ..
                },
                Next::Query(q),
            ) => (count > 0 && count >= page_size(q, size_param))
                .then(|| Next::Query(bump(q, param, count as u64))),
            (Paging::Cursor { param, next, .. }, Next::Query(q)) => {
                let token = body.pointer(next).and_then(scalar).filter(|t| !t.is_empty())?;
                let mut q: Vec<_> = q.iter().filter(|(k, _)| k != param).cloned().collect();
                q.push((param.clone(), token));
                Some(Next::Query(q))
            }
            (Paging::Link { .. }, _) => next_link(headers)
                .and_then(|href| self.base.join(&href).ok())
                .map(Next::Url),
            _ => None,
        }
    }

    /// Fetches one listing page: its records (with checkpoints) and the request after it.
    async fn page(
        &self,
        next: &Next,
        after: Option<&Position>,
    ) -> Result<(Vec<Record>, Option<Next>), AdapterError> {
        let r = &self.config.records;
        let url = match next {
            Next::Query(query) => {
                let mut url = self.url(&r.path)?;
                url.query_pairs_mut().extend_pairs(query);
                url
            }
            Next::Url(url) => url.clone(),
        };
        let (body, headers) = self.send(Method::Get, url, None).await?;
        let items = select(&body, &r.select, &r.path)?.as_array().ok_or_else(|| {
            AdapterError::data(format!("{}: {:?} is not an array of records", r.path, r.select))
        })?;
        let mut records = Vec::with_capacity(items.len());
        for item in items {
            let key = item.pointer(&r.key).and_then(scalar);
            let watermark = match (&r.watermark, &key) {
                (Some(w), Some(k)) => Some(item.pointer(w).and_then(scalar).ok_or_else(|| {
                    AdapterError::data(format!("{}: record {k} has no watermark at {w:?}", r.path))
                })?),
                _ => None,
            };
            records.extend(watermark::listed(key, watermark, after, || {
                Raw::Json(item.clone())
            }));
        }
        let following = self.next_page(next, items.len(), &body, &headers);
        Ok((records, following))
    }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
    }
}

fn reqwest_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
    }
}

/// The target of `rel="next"` in a `Link` header (RFC 8288), if any.
fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|link| {
            let (target, params) = link.split_once(';')?;
            let is_next = params.split(';').any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            is_next.then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
        })
}

#[async_trait]
impl Adapter for RestAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Rest
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            probe: true,
            read: true,
            fetch: self.config.fetch.is_some(),
            submit: self.config.submit.is_some(),
            call: !self.config.operations.is_empty(),
        }
    }

    async fn probe(&self, sample_size: usize) -> Result<Profile, AdapterError> {
        let r = &self.config.records;
        let scanned = scan(self.read(None)).await?;
        // The scan counts a source it read to the end; a larger one tells its total, if at all,
        // and so does one where the scan found no record (a selection that matches nothing
        // reads none of the records the system says it holds).
        let record_count = match &r.total {
            Some(total) if scanned.is_empty() || scanned.len() >= SCAN_RECORDS => {
                let url = match self.first_page(None, Some(1)) {
                    Next::Query(query) => {
                        let mut url = self.url(&r.path)?;
                        url.query_pairs_mut().extend_pairs(query);
                        url
                    }
                    Next::Url(url) => url,
                };
                let (body, _) = self.send(Method::Get, url, None).await?;
                body.pointer(total).and_then(Value::as_u64)
            }
            _ if scanned.len() < SCAN_RECORDS => Some(scanned.len() as u64),
            _ => None,
        };
        let mut entities = vec![Entity {
            name: r.path.clone(),
            kind: "resource".to_owned(),
            fields: Profile::fields_from_scan(&scanned),
            record_count,
            samples: covering_samples(&scanned, sample_size),
        }];
        let endpoints = self
            .config
            .fetch
            .iter()
            .map(|f| ("fetch".to_owned(), f.path.clone()));
        let submit = self
            .config
            .submit
            .iter()
            .map(|s| ("submit".to_owned(), s.path.clone()));
        let operations = self
            .config
            .operations
            .iter()
            .map(|(n, o)| (n.clone(), o.path.clone()));
        for (name, path) in endpoints.chain(submit).chain(operations) {
            entities.push(Entity {
                name: format!("{name}: {path}"),
                kind: "operation".to_owned(),
                fields: Vec::new(),
                record_count: None,
                samples: Vec::new(),
            });
        }
        Ok(Profile { entities })
    }

    fn read(&self, from: Option<Checkpoint>) -> RecordStream<'_> {
        let start = Position::resume(from.as_ref(), self.config.records.watermark.is_some())
            .map(|after| (self.first_page(after.as_ref(), None), after));
        watermark::paged(start, move |next, after| async move {
            self.page(&next, after.as_ref()).await
        })
    }

    fn since(&self, at: DateTime<FixedOffset>) -> Option<Checkpoint> {
        watermark::since(self.config.records.window_format.as_ref(), at)
    }

    async fn fetch(&self, key: &str) -> Result<Option<Record>, AdapterError> {
        let endpoint = self
            .config
            .fetch
            .as_ref()
            .ok_or_else(|| AdapterError::configuration("no [fetch] endpoint configured"))?;
        let encoded: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
        let url = self.url(&endpoint.path.replace("{key}", &encoded))?;
        match self.send(endpoint.method, url, None).await {
            Ok((body, _)) => {
                let item = select(&body, &endpoint.select, &endpoint.path)?.clone();
                Ok(Some(Record {
                    key: Some(key.to_owned()),
                    checkpoint: None,
                    raw: Raw::Json(item),
                }))
            }
            Err(e) if e.http_status == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn submit(&self, payload: &Value) -> Result<Receipt, AdapterError> {
        let submit = self
            .config
            .submit
            .as_ref()
            .ok_or_else(|| AdapterError::configuration("no [submit] endpoint configured"))?;
        let (response, _) = self
            .send(submit.method, self.url(&submit.path)?, Some(payload))
            .await?;
        let id = submit
            .id
            .as_ref()
            .and_then(|p| response.pointer(p))
            .and_then(scalar);
        Ok(Receipt { id, response })
    }

    async fn call(&self, operation: &str, payload: &Value) -> Result<Raw, AdapterError> {
        let endpoint =
            self.config.operations.get(operation).ok_or_else(|| {
                AdapterError::configuration(format!("no operation {operation:?} configured"))
            })?;
        let mut url = self.url(&endpoint.path)?;
        let body = match endpoint.method {
            Method::Get => {
                if let Some(params) = payload.as_object() {
                    let mut pairs = url.query_pairs_mut();
                    for (k, v) in params {
                        pairs.append_pair(k, &scalar(v).unwrap_or_default());
                    }
                }
                None
            }
            _ => Some(payload),
        };
        let (response, _) = self.send(endpoint.method, url, body).await?;
        Ok(Raw::Json(
            select(&response, &endpoint.select, &endpoint.path)?.clone(),
        ))
    }
}

//! The SOAP/XML driver (reqwest + roxmltree): SOAP 1.1 and 1.2, request envelopes from
//! handlebars templates, answers in UTF-8, GBK or GB18030 (whatever they declare), inner XML
//! documents unwrapped, faults as typed errors, the WSDL read for `probe`, and a paged listing
//! with a watermark to resume from. Every request goes through the system's resilience policy.

mod charset;
mod config;
mod envelope;
mod wsdl;
pub(crate) mod xml;

pub use charset::{DecodeError, Decoded, charset_of, declared, decode, decode_declared, encode};
pub use config::{Fetch, Operation, Records, SoapConfig, Status, Submit};
pub use envelope::SoapVersion;
pub use xml::{XmlError, escape, parse as parse_xml};

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset};
use encoding_rs::Encoding;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::resilience::Policy;
use crate::watermark::{self, Position};
use crate::{
    Adapter, AdapterError, AdapterKind, Capabilities, Checkpoint, Entity, Profile, Raw, Receipt, Record,
    RecordStream, SCAN_RECORDS, Secrets, XmlElement, covering_samples, scan,
};
use envelope::Templates;
use xml::ElementPath;

const HEADER: &str = "header";

/// Resolved secrets, as the `secret` object templates see; never printed.
struct SecretValues(Value);

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValues(***)")
    }
}

/// The config's element paths, parsed once.
#[derive(Debug)]
struct Paths {
    results: BTreeMap<String, ElementPath>,
    select: ElementPath,
    key: ElementPath,
    watermark: Option<ElementPath>,
    total: Option<ElementPath>,
    fetch: Option<ElementPath>,
    submit_id: Option<ElementPath>,
    status: Option<(ElementPath, Option<ElementPath>)>,
}

fn compile(at: &str, path: &str) -> Result<ElementPath, AdapterError> {
    ElementPath::parse(path).map_err(|e| AdapterError::configuration(format!("{at}: {e}")))
}

fn compile_opt(at: &str, path: Option<&String>) -> Result<Option<ElementPath>, AdapterError> {
    path.map(|p| compile(at, p)).transpose()
}

/// An operation's outcome: its result, or the system's word that there is no such record.
enum Answer {
    Found(XmlElement),
    NotFound(String),
}

impl Answer {
    fn found(self) -> Result<XmlElement, AdapterError> {
        match self {
            Answer::Found(result) => Ok(result),
            Answer::NotFound(message) => Err(AdapterError::data(message)),
        }
    }
}

/// A connection to one SOAP system.
#[derive(Debug)]
pub struct SoapAdapter {
    config: SoapConfig,
    endpoint: url::Url,
    client: reqwest::Client,
    templates: Templates,
    secrets: SecretValues,
    request_encoding: &'static Encoding,
    paths: Paths,
    policy: Policy,
}

impl SoapAdapter {
    pub fn build(config: &SoapConfig, secrets: &dyn Secrets) -> Result<SoapAdapter, AdapterError> {
        let endpoint = url::Url::parse(&config.endpoint)
            .map_err(|e| AdapterError::configuration(format!("endpoint: {e}")))?;
        let request_encoding = charset::for_requests(&config.request_encoding)
            .ok_or_else(|| AdapterError::configuration("request_encoding: must be UTF-8, GBK or GB18030"))?;
        let mut templates = Templates::new();
        if let Some(header) = &config.header {
            templates.add(HEADER, header)?;
        }
        let mut results = BTreeMap::new();
        for (name, op) in &config.operations {
            templates.add(name, &op.body)?;
            results.insert(
                name.clone(),
                compile(&format!("operations.{name}.result"), &op.result)?,
            );
        }
        let mut resolved = serde_json::Map::new();
        for (name, reference) in &config.secrets {
            resolved.insert(name.clone(), Value::String(secrets.resolve(reference)?));
        }
        let r = &config.records;
        let paths = Paths {
            results,
            select: compile("records.select", &r.select)?,
            key: compile("records.key", &r.key)?,
            watermark: compile_opt("records.watermark", r.watermark.as_ref())?,
            total: compile_opt("records.total", r.total.as_ref())?,
            fetch: config
                .fetch
                .as_ref()
                .map(|f| compile("fetch.select", &f.select))
                .transpose()?,
            submit_id: compile_opt("submit.id", config.submit.as_ref().and_then(|s| s.id.as_ref()))?,
            status: config
                .status
                .as_ref()
                .map(|s| {
                    Ok::<_, AdapterError>((
                        compile("status.path", &s.path)?,
                        compile_opt("status.message", s.message.as_ref())?,
                    ))
                })
                .transpose()?,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(config.resilience.connect_timeout())
            .timeout(config.resilience.request_timeout())
            .build()
            .map_err(|e| AdapterError::configuration("cannot build the HTTP client").with_source(e))?;
        Ok(SoapAdapter {
            policy: Policy::new(&config.resilience),
            secrets: SecretValues(Value::Object(resolved)),
            config: config.clone(),
            endpoint,
            client,
            templates,
            request_encoding,
            paths,
        })
    }

    /// Calls operation `name` with `context` as its template context; the answer's result.
    async fn invoke(&self, name: &str, mut context: Value) -> Result<Answer, AdapterError> {
        let op = self
            .config
            .operations
            .get(name)
            .ok_or_else(|| AdapterError::configuration(format!("no operation {name:?} configured")))?;
        if let Value::Object(map) = &mut context {
            map.insert("secret".to_owned(), self.secrets.0.clone());
        }
        let header = match &self.config.header {
            Some(_) => Some(self.templates.render(HEADER, &context)?),
            None => None,
        };
        let body = self.templates.render(name, &context)?;
        let charset = self.request_encoding.name();
        let envelope = self.config.version.envelope(charset, header.as_deref(), &body);
        let bytes = encode(&envelope, self.request_encoding);
        let content_type = self.config.version.content_type(charset, &op.action);
        let what = format!("soap {name}");
        let response = self
            .policy
            .run(&what, || async {
                let mut request = self
                    .client
                    .post(self.endpoint.clone())
                    .header(CONTENT_TYPE, content_type.as_str())
                    .body(bytes.clone());
                if let Some(action) = self.config.version.soap_action(&op.action) {
                    request = request.header("SOAPAction", action);
                }
                let (status, document) = self.receive(request, &what).await?;
                let ok = (200..300).contains(&status);
                match envelope::open(document, &what, status) {
                    Ok(content) if ok => Ok(content),
                    // A fault carries its own class, whatever the status.
                    Err(fault) if fault.http_status.is_some() => Err(fault),
                    Err(e) if ok => Err(e),
                    _ => Err(AdapterError::from_http_status(status, &what)),
                }
            })
            .await?;
        self.result(name, op, response, &what)
    }

    /// Sends a request and parses its answer, whatever its status: SOAP faults come with 4xx
    /// and 5xx. A body that is no XML is the status's error, or a data error after a 2xx.
    async fn receive(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(u16, XmlElement), AdapterError> {
        let mut response = request
            .send()
            .await
            .map_err(|e| AdapterError::transport(what, e))?;
        let status = response.status().as_u16();
        let ok = (200..300).contains(&status);
        let http_charset = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(charset::charset_of)
            .map(str::to_owned);
        let limit = self.config.max_body_bytes;
        let too_large = || {
            AdapterError::data(format!(
                "{what}: the answer is larger than max_body_bytes ({limit})"
            ))
        };
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| AdapterError::transport(what, e))?
        {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        match xml::read(&body, http_charset.as_deref()) {
            Ok(document) => Ok((status, document)),
            Err(e @ XmlError::Refused(_)) => Err(AdapterError::data(format!("{what}: {e}"))),
            Err(e) if ok => Err(AdapterError::data(format!("{what}: the answer is {e}"))),
            Err(_) => Err(AdapterError::from_http_status(status, what)),
        }
    }

    /// The result of an answer: the configured element, its inner document unwrapped, and
    /// the system's result code checked.
    fn result(
        &self,
        name: &str,
        op: &Operation,
        response: XmlElement,
        what: &str,
    ) -> Result<Answer, AdapterError> {
        let path = self
            .paths
            .results
            .get(name)
            .ok_or_else(|| AdapterError::configuration(format!("no operation {name:?} configured")))?;
        let mut result = path
            .select(&response)
            .into_iter()
            .next()
            .cloned()
            .ok_or_else(|| {
                AdapterError::data(format!(
                    "{what}: the answer has no {:?} in <{}>",
                    op.result, response.name
                ))
            })?;
        if op.inner_document {
            result = xml::parse(&result.text).map_err(|e| {
                AdapterError::data(format!("{what}: the document inside {:?} is {e}", op.result))
            })?;
        }
        if let (Some((code_path, message_path)), Some(status)) = (&self.paths.status, &self.config.status)
            && let Some(code) = code_path.value(&result)
            && !status.success.contains(&code)
        {
            let message = message_path
                .as_ref()
                .and_then(|m| m.value(&result))
                .unwrap_or_default();
            let message = format!("{what}: the system answered {code} {message}");
            if status.not_found.contains(&code) {
                return Ok(Answer::NotFound(message));
            }
            return Err(AdapterError::data(message));
        }
        Ok(Answer::Found(result))
    }

    /// One listing page's result.
    async fn listing(
        &self,
        page: u32,
        size: Option<u32>,
        since: Option<&str>,
    ) -> Result<XmlElement, AdapterError> {
        let first = self.config.records.first_page;
        let offset = u64::from(page.saturating_sub(first)) * u64::from(size.unwrap_or(0));
        let context = json!({ "page": page, "page_size": size, "offset": offset, "since": since });
        self.invoke(&self.config.records.operation, context)
            .await?
            .found()
    }

    /// One page of records after `after`, and the number of the page after it.
    async fn page(
        &self,
        number: u32,
        after: Option<&Position>,
    ) -> Result<(Vec<Record>, Option<u32>), AdapterError> {
        let size = self.config.records.page_size;
        let result = self
            .listing(number, size, after.map(|p| p.watermark.as_str()))
            .await?;
        let items = self.paths.select.select(&result);
        let count = items.len();
        let mut records = Vec::with_capacity(count);
        for item in items {
            let key = self.paths.key.value(item);
            let watermark = match (&self.paths.watermark, &key) {
                (Some(w), Some(k)) => Some(w.value(item).ok_or_else(|| {
                    AdapterError::data(format!(
                        "soap {}: record {k} has no watermark",
                        self.config.records.operation
                    ))
                })?),
                _ => None,
            };
            records.extend(watermark::listed(key, watermark, after, || {
                Raw::Xml(item.clone())
            }));
        }
        let next = size
            .filter(|s| count > 0 && count >= *s as usize)
            .map(|_| number + 1);
        Ok((records, next))
    }

    /// The service's WSDL document, from its URL or file.
    async fn wsdl(&self) -> Result<XmlElement, AdapterError> {
        let location = self.config.wsdl_location();
        let what = format!("WSDL {location}");
        if location.contains("://") {
            let url =
                url::Url::parse(&location).map_err(|e| AdapterError::configuration(format!("wsdl: {e}")))?;
            self.policy
                .run(&what, || async {
                    let (status, document) = self.receive(self.client.get(url.clone()), &what).await?;
                    if (200..300).contains(&status) {
                        Ok(document)
                    } else {
                        Err(AdapterError::from_http_status(status, &what))
                    }
                })
                .await
        } else {
            let bytes = tokio::fs::read(&location).await.map_err(|e| {
                AdapterError::configuration(format!("{what}: cannot read the file")).with_source(e)
            })?;
            xml::read(&bytes, None).map_err(|e| AdapterError::data(format!("{what}: {e}")))
        }
    }
}

#[async_trait]
impl Adapter for SoapAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Soap
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            probe: true,
            read: true,
            fetch: self.config.fetch.is_some(),
            submit: self.config.submit.is_some(),
            call: true,
        }
    }

    async fn probe(&self, sample_size: usize) -> Result<Profile, AdapterError> {
        let document = self.wsdl().await?;
        let operations = wsdl::operations(&document)
            .map_err(|e| AdapterError::data(format!("WSDL {}: {e}", self.config.wsdl_location())))?;
        let r = &self.config.records;
        let scanned = scan(self.read(None)).await?;
        // The scan counts a source it read to the end; a larger one tells its total, if at all,
        // and so does one where the scan found no record (a selection that matches nothing
        // reads none of the records the system says it holds).
        let record_count = match &self.paths.total {
            Some(total) if scanned.is_empty() || scanned.len() >= SCAN_RECORDS => {
                let result = self.listing(r.first_page, Some(1), None).await?;
                total.value(&result).and_then(|t| t.trim().parse().ok())
            }
            _ if scanned.len() < SCAN_RECORDS => Some(scanned.len() as u64),
            _ => None,
        };
        let mut records = Some(Entity {
            name: r.operation.clone(),
            kind: "operation".to_owned(),
            fields: Profile::fields_from_scan(&scanned),
            record_count,
            samples: covering_samples(&scanned, sample_size),
        });
        let mut entities = Vec::with_capacity(operations.len() + 1);
        for op in operations {
            if op.name == r.operation
                && let Some(records) = records.take()
            {
                entities.push(records);
                continue;
            }
            entities.push(Entity {
                name: op.name,
                kind: "operation".to_owned(),
                fields: op.fields,
                record_count: None,
                samples: Vec::new(),
            });
        }
        // The listing operation leads even when the WSDL does not list it.
        if let Some(records) = records {
            entities.insert(0, records);
        }
        Ok(Profile { entities })
    }

    fn read(&self, from: Option<Checkpoint>) -> RecordStream<'_> {
        let start = Position::resume(from.as_ref(), self.paths.watermark.is_some())
            .map(|after| (self.config.records.first_page, after));
        watermark::paged(start, move |number, after| async move {
            self.page(number, after.as_ref()).await
        })
    }

    fn since(&self, at: DateTime<FixedOffset>) -> Option<Checkpoint> {
        watermark::since(self.config.records.window_format.as_ref(), at)
    }

    fn request_encoding(&self) -> Option<&'static str> {
        Some(self.request_encoding.name())
    }

    async fn fetch(&self, key: &str) -> Result<Option<Record>, AdapterError> {
        let (fetch, select) = self
            .config
            .fetch
            .as_ref()
            .zip(self.paths.fetch.as_ref())
            .ok_or_else(|| AdapterError::configuration("no [fetch] operation configured"))?;
        match self.invoke(&fetch.operation, json!({ "key": key })).await? {
            Answer::NotFound(_) => Ok(None),
            Answer::Found(result) => Ok(select.select(&result).first().map(|e| Record {
                key: Some(key.to_owned()),
                checkpoint: None,
                raw: Raw::Xml((*e).clone()),
            })),
        }
    }

    async fn submit(&self, payload: &Value) -> Result<Receipt, AdapterError> {
        let submit = self
            .config
            .submit
            .as_ref()
            .ok_or_else(|| AdapterError::configuration("no [submit] operation configured"))?;
        let result = self.invoke(&submit.operation, payload.clone()).await?.found()?;
        let id = self.paths.submit_id.as_ref().and_then(|p| p.value(&result));
        Ok(Receipt {
            id,
            response: Raw::Xml(result).to_json(),
        })
    }

    async fn call(&self, operation: &str, payload: &Value) -> Result<Raw, AdapterError> {
        self.invoke(operation, payload.clone())
            .await?
            .found()
            .map(Raw::Xml)
    }
}

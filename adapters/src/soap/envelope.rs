//! SOAP envelopes: the two versions' namespaces and content types, request envelopes rendered
//! from handlebars templates (strict, with XML escaping), and answers opened into their
//! response element or turned into a typed error when they carry a SOAP fault.

use handlebars::Handlebars;
use serde::Deserialize;
use serde_json::Value;

use super::xml::escape;
use crate::{AdapterError, ErrorClass, XmlElement};

pub(crate) const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub(crate) const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";

/// The SOAP version a system speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum SoapVersion {
    /// SOAP 1.1: `text/xml`, the action in a `SOAPAction` header.
    #[default]
    #[serde(rename = "1.1")]
    Soap11,
    /// SOAP 1.2: `application/soap+xml`, the action as a content-type parameter.
    #[serde(rename = "1.2")]
    Soap12,
}

impl SoapVersion {
    pub fn namespace(self) -> &'static str {
        match self {
            SoapVersion::Soap11 => SOAP11,
            SoapVersion::Soap12 => SOAP12,
        }
    }

    /// The version whose envelope namespace this is.
    pub fn of_namespace(namespace: &str) -> Option<SoapVersion> {
        [SoapVersion::Soap11, SoapVersion::Soap12]
            .into_iter()
            .find(|v| v.namespace() == namespace)
    }

    /// The `Content-Type` of a request or answer in `charset`, with the 1.2 `action` parameter.
    pub fn content_type(self, charset: &str, action: &str) -> String {
        match self {
            SoapVersion::Soap11 => format!("text/xml; charset={charset}"),
            SoapVersion::Soap12 if action.is_empty() => format!("application/soap+xml; charset={charset}"),
            SoapVersion::Soap12 => format!("application/soap+xml; charset={charset}; action=\"{action}\""),
        }
    }

    /// The `SOAPAction` header SOAP 1.1 sends (quoted, as the specification writes it).
    pub fn soap_action(self, action: &str) -> Option<String> {
        (self == SoapVersion::Soap11).then(|| format!("\"{action}\""))
    }

    /// A whole envelope around the rendered header and body contents, declared in `charset`.
    pub fn envelope(self, charset: &str, header: Option<&str>, body: &str) -> String {
        let header = header
            .map(|h| format!("<soapenv:Header>{h}</soapenv:Header>"))
            .unwrap_or_default();
        format!(
            "<?xml version=\"1.0\" encoding=\"{charset}\"?>\n<soapenv:Envelope xmlns:soapenv=\"{}\">{header}<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>",
            self.namespace()
        )
    }
}

/// Request templates: handlebars in strict mode (a variable missing from the payload is an
/// error, not an empty string), escaping values for XML rather than HTML.
#[derive(Debug)]
pub(crate) struct Templates(Handlebars<'static>);

impl Templates {
    pub(crate) fn new() -> Templates {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(escape);
        Templates(registry)
    }

    /// Why a template does not compile, if it does not (pure: for config validation).
    pub(crate) fn problem(source: &str) -> Option<String> {
        handlebars::Template::compile(source).err().map(|e| e.to_string())
    }

    pub(crate) fn add(&mut self, name: &str, source: &str) -> Result<(), AdapterError> {
        self.0
            .register_template_string(name, source)
            .map_err(|e| AdapterError::configuration(format!("template {name}: {e}")))
    }

    /// Renders a template; a payload that lacks what the template uses is a data error.
    pub(crate) fn render(&self, name: &str, context: &Value) -> Result<String, AdapterError> {
        self.0
            .render(name, context)
            .map_err(|e| AdapterError::data(format!("template {name}: {e}")))
    }
}

/// A SOAP fault, in either version's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    /// The fault code and any subcodes, as written (`soap:Server`, `wsse:FailedAuthentication`).
    pub(crate) codes: Vec<String>,
    pub(crate) reason: String,
}

/// Codes that say the request itself, as configured, cannot work: fix the config.
const CONFIGURATION_CODES: &[&str] = &[
    "VersionMismatch",
    "MustUnderstand",
    "DataEncodingUnknown",
    "FailedAuthentication",
    "InvalidSecurity",
    "InvalidSecurityToken",
    "SecurityTokenUnavailable",
    "UnsupportedSecurityToken",
    "FailedCheck",
];

impl Fault {
    /// Reads a fault from the Body's child, if it is one.
    pub(crate) fn read(e: &XmlElement) -> Option<Fault> {
        if e.name != "Fault" {
            return None;
        }
        match SoapVersion::of_namespace(e.namespace.as_deref()?)? {
            // 1.1: unqualified faultcode and faultstring.
            SoapVersion::Soap11 => Some(Fault {
                codes: e.child("faultcode").map(|c| c.text.clone()).into_iter().collect(),
                reason: e.child("faultstring").map(|c| c.text.clone()).unwrap_or_default(),
            }),
            // 1.2: Code/Value, nested Subcode/Value, and the first Reason/Text.
            SoapVersion::Soap12 => {
                let mut codes = Vec::new();
                let mut code = e.child("Code");
                while let Some(c) = code {
                    codes.extend(c.child("Value").map(|v| v.text.clone()));
                    code = c.child("Subcode");
                }
                let reason = e
                    .child("Reason")
                    .and_then(|r| r.child("Text"))
                    .map(|t| t.text.clone())
                    .unwrap_or_default();
                Some(Fault { codes, reason })
            }
        }
    }

    /// Server (1.1) and Receiver (1.2) faults may pass: retryable. Faults about the envelope
    /// or the credentials are configuration; other client (Sender) faults are about the data.
    pub(crate) fn class(&self) -> ErrorClass {
        // A code is a QName (`soap:Client.Authentication`): compare its local part, and the
        // part before any dot that 1.1 allows.
        let locals: Vec<&str> = self
            .codes
            .iter()
            .map(|c| c.rsplit(':').next().unwrap_or(c).trim())
            .collect();
        if locals.iter().any(|l| CONFIGURATION_CODES.contains(l)) {
            ErrorClass::Configuration
        } else if locals
            .first()
            .map(|l| l.split('.').next().unwrap_or(l))
            .is_some_and(|base| base == "Server" || base == "Receiver")
        {
            ErrorClass::Retryable
        } else {
            ErrorClass::Data
        }
    }

    pub(crate) fn into_error(self, what: &str, http_status: u16) -> AdapterError {
        let class = self.class();
        AdapterError {
            http_status: Some(http_status),
            ..AdapterError::new(
                class,
                format!("{what}: SOAP fault {}: {}", self.codes.join(" / "), self.reason),
            )
        }
    }
}

/// The SOAP Body's content of a parsed answer: its first child element (the response
/// element), a fault as a typed error, or a data error when the document is no envelope.
pub(crate) fn open(document: XmlElement, what: &str, http_status: u16) -> Result<XmlElement, AdapterError> {
    let is_envelope = document.name == "Envelope"
        && document
            .namespace
            .as_deref()
            .and_then(SoapVersion::of_namespace)
            .is_some();
    if !is_envelope {
        return Err(AdapterError::data(format!(
            "{what}: the answer is not a SOAP envelope (root element <{}>)",
            document.name
        )));
    }
    let namespace = document.namespace.clone();
    let body = document
        .children
        .into_iter()
        .find(|c| c.name == "Body" && c.namespace == namespace)
        .ok_or_else(|| AdapterError::data(format!("{what}: the envelope has no Body")))?;
    let content = body
        .children
        .into_iter()
        .next()
        .ok_or_else(|| AdapterError::data(format!("{what}: the Body is empty")))?;
    match Fault::read(&content) {
        Some(fault) => Err(fault.into_error(what, http_status)),
        None => Ok(content),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::xml::parse;
    use serde_json::json;

    fn fault(doc: &str) -> AdapterError {
        open(parse(doc).unwrap(), "soap op", 500).unwrap_err()
    }

    #[test]
    fn faults_of_both_versions_are_typed() {
        let v11 = |code: &str| {
            fault(&format!(
                r#"<s:Envelope xmlns:s="{SOAP11}"><s:Body><s:Fault><faultcode>{code}</faultcode><faultstring>系统繁忙</faultstring></s:Fault></s:Body></s:Envelope>"#
            ))
        };
        let server = v11("s:Server");
        assert_eq!(server.class, ErrorClass::Retryable);
        assert_eq!(server.message, "soap op: SOAP fault s:Server: 系统繁忙");
        assert_eq!(server.http_status, Some(500));
        assert_eq!(v11("soapenv:Client").class, ErrorClass::Data);
        assert_eq!(v11("Client.InvalidParameter").class, ErrorClass::Data);
        assert_eq!(v11("Server.Busy").class, ErrorClass::Retryable);
        assert_eq!(v11("wsse:FailedAuthentication").class, ErrorClass::Configuration);
        assert_eq!(v11("s:VersionMismatch").class, ErrorClass::Configuration);

        let v12 = |code: &str, sub: &str| {
            fault(&format!(
                r#"<e:Envelope xmlns:e="{SOAP12}"><e:Body><e:Fault><e:Code><e:Value>{code}</e:Value><e:Subcode><e:Value>{sub}</e:Value></e:Subcode></e:Code><e:Reason><e:Text xml:lang="zh">参数错误</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>"#
            ))
        };
        let sender = v12("e:Sender", "app:BadCaseNo");
        assert_eq!(sender.class, ErrorClass::Data);
        assert_eq!(
            sender.message,
            "soap op: SOAP fault e:Sender / app:BadCaseNo: 参数错误"
        );
        assert_eq!(v12("e:Receiver", "app:Down").class, ErrorClass::Retryable);
        assert_eq!(
            v12("e:Sender", "wsse:InvalidSecurityToken").class,
            ErrorClass::Configuration
        );
    }

    #[test]
    fn answers_open_to_their_response_element() {
        let ok = format!(
            r#"<soap:Envelope xmlns:soap="{SOAP12}"><soap:Header/><soap:Body><r:queryResponse xmlns:r="urn:x"><return>1</return></r:queryResponse></soap:Body></soap:Envelope>"#
        );
        let content = open(parse(&ok).unwrap(), "op", 200).unwrap();
        assert_eq!(
            (content.name.as_str(), content.namespace.as_deref()),
            ("queryResponse", Some("urn:x"))
        );
        let not_soap = open(parse("<Envelope><Body/></Envelope>").unwrap(), "op", 200).unwrap_err();
        assert_eq!(not_soap.class, ErrorClass::Data);
        assert!(not_soap.message.contains("not a SOAP envelope"), "{not_soap}");
    }

    #[test]
    fn templates_escape_for_xml_and_are_strict() {
        let mut t = Templates::new();
        t.add("op", "<姓名>{{name}}</姓名><备注>{{note}}</备注>").unwrap();
        let out = t
            .render("op", &json!({"name": "张三 <admin>", "note": "a & 'b' \"c\""}))
            .unwrap();
        assert_eq!(
            out,
            "<姓名>张三 &lt;admin&gt;</姓名><备注>a &amp; &apos;b&apos; &quot;c&quot;</备注>"
        );
        let missing = t.render("op", &json!({"name": "x"})).unwrap_err();
        assert_eq!(missing.class, ErrorClass::Data);
        assert!(missing.message.contains("note"), "{missing}");
        assert!(Templates::problem("{{#if x}}").is_some());
        assert!(Templates::problem("<a>{{x}}</a>").is_none());
    }

    #[test]
    fn versions_differ_in_content_type_and_action() {
        let v11 = SoapVersion::Soap11;
        let v12 = SoapVersion::Soap12;
        assert_eq!(v11.content_type("GBK", "urn:q"), "text/xml; charset=GBK");
        assert_eq!(v11.soap_action("urn:q").as_deref(), Some("\"urn:q\""));
        assert_eq!(
            v12.content_type("UTF-8", "urn:q"),
            "application/soap+xml; charset=UTF-8; action=\"urn:q\""
        );
        assert_eq!(v12.soap_action("urn:q"), None);
        let envelope = parse(&v12.envelope("UTF-8", Some("<h/>"), "<b/>")).unwrap();
        assert_eq!(envelope.namespace.as_deref(), Some(SOAP12));
        assert_eq!(envelope.children.len(), 2);
    }
}

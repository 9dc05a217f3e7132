//! SOAP pushes: the version from the content type, the body decoded strictly by its declared
//! charset (UTF-8, GBK or GB18030) and parsed by the adapters' safe XML reader (no DTD, no
//! entity), the case elements found in the Body; answers with the per-record results, faults in
//! the request's version, and the WSDL 1.1 that describes the operation.

use ronghe_adapters::XmlElement;
use ronghe_adapters::soap::{SoapVersion, XmlError, decode_declared, escape, parse_xml};

use super::RecordResult;
use crate::mapping::{RecordElement, XmlRecord, is_xml_name};

/// The namespace of ronghe's write-back messages.
pub const NAMESPACE: &str = "urn:ronghe:writeback";

/// Why a SOAP push cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoapError {
    #[error("the body does not match its declared encoding: {0}")]
    Encoding(String),
    #[error("the XML is refused: {0}")]
    Refused(String),
    #[error("the body is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the document is not a SOAP {0} envelope with a Body")]
    NotEnvelope(&'static str),
}

/// The SOAP version a content type announces: `text/xml` is 1.1, `application/soap+xml` 1.2.
pub fn version_of(content_type: &str) -> Option<SoapVersion> {
    match content_type.split(';').next().map(str::trim) {
        Some(mime) if mime.eq_ignore_ascii_case("text/xml") => Some(SoapVersion::Soap11),
        Some(mime) if mime.eq_ignore_ascii_case("application/soap+xml") => Some(SoapVersion::Soap12),
        _ => None,
    }
}

fn version_name(version: SoapVersion) -> &'static str {
    match version {
        SoapVersion::Soap11 => "1.1",
        SoapVersion::Soap12 => "1.2",
    }
}

/// The elements named `record` (local name) in the envelope's Body, outermost ones only.
pub fn records(
    bytes: &[u8],
    http_charset: Option<&str>,
    version: SoapVersion,
    record: &str,
) -> Result<Vec<XmlElement>, SoapError> {
    let decoded = decode_declared(bytes, http_charset).map_err(|e| SoapError::Encoding(e.to_string()))?;
    let envelope = parse_xml(&decoded.text).map_err(|e| match e {
        XmlError::Refused(m) => SoapError::Refused(m),
        XmlError::Malformed(m) => SoapError::Malformed(m),
    })?;
    let ns = Some(version.namespace());
    if envelope.name != "Envelope" || envelope.namespace.as_deref() != ns {
        return Err(SoapError::NotEnvelope(version_name(version)));
    }
    let body = envelope
        .children
        .into_iter()
        .find(|c| c.name == "Body" && c.namespace.as_deref() == ns)
        .ok_or(SoapError::NotEnvelope(version_name(version)))?;
    let mut found = Vec::new();
    collect(body, record, &mut found);
    Ok(found)
}

fn collect(element: XmlElement, record: &str, found: &mut Vec<XmlElement>) {
    for child in element.children {
        if child.name == record {
            found.push(child);
        } else {
            collect(child, record, found);
        }
    }
}

fn envelope(version: SoapVersion, body: &str) -> String {
    version.envelope("UTF-8", None, body)
}

/// The answer to a push: one `<wb:record>` per record, in order.
pub fn answer(version: SoapVersion, results: &[RecordResult]) -> String {
    let mut body = format!("<wb:pushCasesResponse xmlns:wb=\"{NAMESPACE}\">");
    for (i, result) in results.iter().enumerate() {
        body.push_str(&format!("<wb:record index=\"{i}\" result=\"{}\"", result.kind()));
        let attribute = |body: &mut String, name: &str, value: &str| {
            body.push_str(&format!(" {name}=\"{}\"", escape(value)));
        };
        match result {
            RecordResult::Accepted {
                outcome,
                receipt,
                case_no,
                version,
            } => {
                let outcome = serde_json::to_value(outcome).ok();
                attribute(
                    &mut body,
                    "outcome",
                    outcome.as_ref().and_then(|o| o.as_str()).unwrap_or_default(),
                );
                attribute(&mut body, "receipt", receipt);
                attribute(&mut body, "caseNo", case_no);
                attribute(&mut body, "version", &version.to_string());
                body.push_str("/>");
            }
            RecordResult::Duplicate {
                receipt,
                case_no,
                version,
            } => {
                attribute(&mut body, "receipt", receipt);
                attribute(&mut body, "caseNo", case_no);
                attribute(&mut body, "version", &version.to_string());
                body.push_str("/>");
            }
            RecordResult::Rejected {
                case_no,
                version,
                reasons,
                quality_item,
                mapping_version,
            } => {
                if let Some(case_no) = case_no {
                    attribute(&mut body, "caseNo", case_no);
                }
                if let Some(version) = version {
                    attribute(&mut body, "version", &version.to_string());
                }
                attribute(&mut body, "qualityItem", &quality_item.to_string());
                attribute(&mut body, "mappingVersion", mapping_version);
                body.push('>');
                for reason in reasons {
                    body.push_str("<wb:reason");
                    attribute(&mut body, "code", &reason.code);
                    if let Some(field) = &reason.field {
                        attribute(&mut body, "field", field);
                    }
                    body.push_str(&format!(">{}</wb:reason>", escape(&reason.message)));
                }
                body.push_str("</wb:record>");
            }
        }
    }
    body.push_str("</wb:pushCasesResponse>");
    envelope(version, &body)
}

/// A fault in `version` carrying the API's error (stable code, message, field) in its detail;
/// `sender` tells the client's fault from the service's.
pub fn fault(version: SoapVersion, sender: bool, code: &str, message: &str, field: Option<&str>) -> String {
    let field = field
        .map(|f| format!("<wb:field>{}</wb:field>", escape(f)))
        .unwrap_or_default();
    let detail = format!(
        "<wb:error xmlns:wb=\"{NAMESPACE}\"><wb:code>{}</wb:code><wb:message>{}</wb:message>{field}</wb:error>",
        escape(code),
        escape(message)
    );
    let message = escape(message);
    let body = match version {
        SoapVersion::Soap11 => format!(
            "<soapenv:Fault><faultcode>soapenv:{}</faultcode><faultstring>{message}</faultstring><detail>{detail}</detail></soapenv:Fault>",
            if sender { "Client" } else { "Server" }
        ),
        SoapVersion::Soap12 => format!(
            "<soapenv:Fault><soapenv:Code><soapenv:Value>soapenv:{}</soapenv:Value></soapenv:Code><soapenv:Reason><soapenv:Text xml:lang=\"en\">{message}</soapenv:Text></soapenv:Reason><soapenv:Detail>{detail}</soapenv:Detail></soapenv:Fault>",
            if sender { "Sender" } else { "Receiver" }
        ),
    };
    envelope(version, &body)
}

/// How a signed request is made, as the WSDL's service documents it (`{PATH}`: the endpoint's
/// path). The README's "Signing (签名)" has a worked example; keep both in step.
const SIGNING: &str = "Signing (签名): every request carries four HTTP headers. \
X-Ronghe-Key-Id: the id of a key of this system's write-back config ([[keys]] id). \
X-Ronghe-Timestamp: the Unix time in seconds; it must be within the key's window of the platform's clock (timestamp_window_seconds, default 300). \
X-Ronghe-Nonce: a fresh random value (e.g. 32 hex characters), never sent twice. \
X-Ronghe-Signature: the lowercase hex HMAC of the string to sign with the key's shared secret and algorithm: hmac-sha256 (HMAC-SHA256) or hmac-sm3 (HMAC-SM3, GB/T 32905). \
The string to sign is five lines joined by a line feed (\\n, no trailing line feed): METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY_SHA256, where METHOD is POST, PATH is the request path ({PATH}, no query), TIMESTAMP and NONCE are the headers' values and BODY_SHA256 is the lowercase hex SHA-256 of the HTTP body exactly as sent (after any encryption). \
Optional: X-Ronghe-Encryption: sm4-gcm when the body is encrypted with the system's SM4 key (the body is then a 12-byte nonce followed by the SM4-GCM ciphertext and tag, and is signed as sent). \
Every authentication failure is answered alike: 401 unauthenticated (a retired key: 403 forbidden). \
A worked example with every intermediate value: ronghe's README, section 办件回传 / Case write-back, Signing (签名).";

/// What the WSDL says a pushed case element is.
#[derive(Debug, Clone, Copy)]
pub enum RecordSchema<'a> {
    /// The elements and attributes the system's mapping reads, typed by its rules.
    Typed {
        record: &'a XmlRecord,
        /// The mapping's file, as named in the documentation.
        mapping_file: &'a str,
        mapping_version: &'a str,
    },
    /// Any content, and why (no mapping, or one that does not read XML).
    Untyped(&'a str),
}

/// The WSDL 1.1 of a system's write-back endpoint at `endpoint`: one operation, `pushCases`,
/// whose request is a sequence of case elements named `record` (at most `max_batch`) typed by
/// `schema`, and whose answer lists a record result each; bindings for SOAP 1.1 and 1.2; the
/// signature documented on the service.
pub fn wsdl(
    endpoint: &str,
    system_id: &str,
    record: &str,
    max_batch: Option<usize>,
    schema: RecordSchema<'_>,
) -> String {
    let path = endpoint
        .find("://")
        .and_then(|scheme| {
            endpoint[scheme + 3..]
                .find('/')
                .map(|p| &endpoint[scheme + 3 + p..])
        })
        .unwrap_or("/soap/SYSTEM/writeback");
    let schema = match schema {
        RecordSchema::Typed { .. } if !is_xml_name(record) => {
            RecordSchema::Untyped("the case element's name (intake.soap_record) is not an XML name")
        }
        schema => schema,
    };
    let max = max_batch.map_or_else(|| "unbounded".to_owned(), |n| n.to_string());
    let request = match schema {
        RecordSchema::Typed {
            record: shape,
            mapping_file,
            mapping_version,
        } => typed_request(record, &max, shape, mapping_file, mapping_version),
        RecordSchema::Untyped(why) => format!(
            "      <xsd:element name=\"pushCases\">\n        <xsd:annotation><xsd:documentation>Any element whose descendants include the case elements (local name {}); their content is not typed here: {}.</xsd:documentation></xsd:annotation>\n        <xsd:complexType><xsd:sequence><xsd:any processContents=\"lax\" minOccurs=\"0\" maxOccurs=\"unbounded\" namespace=\"##any\"/></xsd:sequence></xsd:complexType>\n      </xsd:element>",
            escape(record),
            escape(why)
        ),
    };
    include_str!("writeback.wsdl")
        .replace("{{SIGNING}}", &SIGNING.replace("{PATH}", &escape(path)))
        .replace("{{ENDPOINT}}", &escape(endpoint))
        .replace("{{SYSTEM}}", &escape(system_id))
        .replace("{{RECORD}}", &escape(record))
        .replace("{{NAMESPACE}}", NAMESPACE)
        .replace("{{REQUEST_TYPES}}", &request)
}

/// `pushCases` as a sequence of `record` elements of type `wb:CaseRecord`, the record the
/// mapping reads.
fn typed_request(record: &str, max: &str, shape: &XmlRecord, file: &str, version: &str) -> String {
    let mut out = format!(
        "      <xsd:element name=\"pushCases\">\n        <xsd:annotation><xsd:documentation>One {record} element per case, at most {max} (intake.max_batch).</xsd:documentation></xsd:annotation>\n        <xsd:complexType><xsd:sequence><xsd:element name=\"{record}\" type=\"wb:CaseRecord\" minOccurs=\"1\" maxOccurs=\"{max}\"/></xsd:sequence></xsd:complexType>\n      </xsd:element>\n",
        record = escape(record),
    );
    let mut note = format!(
        "A case as the system's mapping ({}, version {}) reads it: each element and attribute is a source path of its rules, typed as its rule reads it; minOccurs=\"0\" unless every case needs it. Elements in any namespace are matched by local name; others are ignored.",
        escape(file),
        escape(version)
    );
    if !shape.skipped.is_empty() {
        note.push_str(&format!(
            " Paths that are not XML names, left out: {}.",
            escape(&shape.skipped.join(", "))
        ));
    }
    out.push_str(&format!(
        "      <xsd:complexType name=\"CaseRecord\"{}>\n        <xsd:annotation><xsd:documentation>{note}</xsd:documentation></xsd:annotation>\n",
        mixed(&shape.root)
    ));
    content(&mut out, &shape.root, 8);
    out.push_str("      </xsd:complexType>");
    out
}

/// ` mixed="true"` for an element whose text is read besides its children.
fn mixed(element: &RecordElement) -> &'static str {
    if element.text.is_some() && !element.children.is_empty() {
        " mixed=\"true\""
    } else {
        ""
    }
}

/// The content of a complex type for `element`: its children in a sequence and its attributes,
/// or its text with attributes as simple content.
fn content(out: &mut String, element: &RecordElement, indent: usize) {
    let pad = " ".repeat(indent);
    let attributes = |out: &mut String, pad: &str| {
        for (name, read) in &element.attributes {
            let required = if read.required { " use=\"required\"" } else { "" };
            out.push_str(&format!(
                "{pad}<xsd:attribute name=\"{}\" type=\"{}\"{required}/>\n",
                escape(name),
                read.xsd.name()
            ));
        }
    };
    match (&element.text, element.children.is_empty()) {
        (Some(text), true) => {
            out.push_str(&format!(
                "{pad}<xsd:simpleContent>\n{pad}  <xsd:extension base=\"{}\">\n",
                text.xsd.name()
            ));
            attributes(out, &format!("{pad}    "));
            out.push_str(&format!("{pad}  </xsd:extension>\n{pad}</xsd:simpleContent>\n"));
        }
        _ => {
            if !element.children.is_empty() {
                out.push_str(&format!("{pad}<xsd:sequence>\n"));
                for child in &element.children {
                    declare(out, child, indent + 2);
                }
                out.push_str(&format!("{pad}</xsd:sequence>\n"));
            }
            attributes(out, &pad);
        }
    }
}

/// An element of the record: a simple type when only its text is read, else a complex one.
fn declare(out: &mut String, element: &RecordElement, indent: usize) {
    let pad = " ".repeat(indent);
    let occurs = if element.required() {
        ""
    } else {
        " minOccurs=\"0\""
    };
    let name = escape(&element.name);
    match &element.text {
        Some(text) if element.children.is_empty() && element.attributes.is_empty() => {
            out.push_str(&format!(
                "{pad}<xsd:element name=\"{name}\" type=\"{}\"{occurs}/>\n",
                text.xsd.name()
            ));
        }
        _ => {
            out.push_str(&format!(
                "{pad}<xsd:element name=\"{name}\"{occurs}>\n{pad}  <xsd:complexType{}>\n",
                mixed(element)
            ));
            content(out, element, indent + 4);
            out.push_str(&format!("{pad}  </xsd:complexType>\n{pad}</xsd:element>\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_found_in_the_body_and_hostile_xml_is_refused() {
        let doc = |body: &str| {
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>{body}</s:Body></s:Envelope>"
            )
        };
        let text = doc(
            "<x:push xmlns:x=\"urn:x\"><办件><办件编号>1</办件编号></办件><办件><办件编号>2</办件编号></办件></x:push>",
        );
        let found = records(text.as_bytes(), None, SoapVersion::Soap11, "办件").unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].child("办件编号").unwrap().text, "2");
        assert_eq!(
            records(text.as_bytes(), None, SoapVersion::Soap12, "办件"),
            Err(SoapError::NotEnvelope("1.2"))
        );
        let dtd = format!("<!DOCTYPE a [<!ENTITY x \"y\">]>{}", doc(""));
        assert!(matches!(
            records(dtd.as_bytes(), None, SoapVersion::Soap11, "办件"),
            Err(SoapError::Refused(_))
        ));
        assert!(matches!(
            records(b"<a>", None, SoapVersion::Soap11, "a"),
            Err(SoapError::Malformed(_))
        ));
    }

    #[test]
    fn the_wsdl_is_well_formed_typed_or_not() {
        let config: crate::mapping::MappingConfig = toml::from_str(
            r#"
[source]
shape = "xml"
key = "@id"
[fields]
case_no = { from = "@id" }
version = { from = "版本" }
item_name = { from = "." }
"applicant.name" = { from = "申请人", when = { path = "申请人/@类型" } }
"#,
        )
        .unwrap();
        let record = crate::mapping::xml_record(&config).unwrap();
        let typed = RecordSchema::Typed {
            record: &record,
            mapping_file: "mappings/x.toml",
            mapping_version: "v1",
        };
        let endpoint = "https://gov.example/soap/x&y/writeback";
        for (schema, needle) in [
            (typed, "<xsd:complexType name=\"CaseRecord\" mixed=\"true\">"),
            (RecordSchema::Untyped("no <mapping>"), "no &lt;mapping&gt;"),
        ] {
            let text = wsdl(endpoint, "x&y", "办件", Some(5), schema);
            let parsed = parse_xml(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(parsed.name, "definitions");
            assert!(text.contains(needle), "{text}");
            assert!(
                text.contains("PATH is the request path (/soap/x&amp;y/writeback"),
                "{text}"
            );
        }
        let text = wsdl(endpoint, "x", "办件", Some(5), typed);
        assert!(text.contains("<xsd:attribute name=\"id\" type=\"xsd:string\" use=\"required\"/>"));
        assert!(text.contains("<xsd:attribute name=\"类型\" type=\"xsd:string\"/>"));
        assert!(text.contains("maxOccurs=\"5\""));
        let text = wsdl(endpoint, "x", "a:b", None, typed);
        assert!(
            text.contains("<xsd:any ") && text.contains("not an XML name"),
            "{text}"
        );
    }
}

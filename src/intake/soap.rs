//! SOAP pushes: the version from the content type, the body decoded strictly by its declared
//! charset (UTF-8, GBK or GB18030) and parsed by the adapters' safe XML reader (no DTD, no
//! entity), the case elements found in the Body; answers with the per-record results, faults in
//! the request's version, and the WSDL 1.1 that describes the operation.

use ronghe_adapters::XmlElement;
use ronghe_adapters::soap::{SoapVersion, XmlError, decode_declared, escape, parse_xml};

use super::RecordResult;

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

/// The WSDL 1.1 of a system's write-back endpoint at `endpoint`: one operation, `pushCases`,
/// whose request carries case elements (any content) and whose answer lists a record result
/// each; bindings for SOAP 1.1 and 1.2.
pub fn wsdl(endpoint: &str, system_id: &str) -> String {
    include_str!("writeback.wsdl")
        .replace("{{ENDPOINT}}", &escape(endpoint))
        .replace("{{SYSTEM}}", &escape(system_id))
        .replace("{{NAMESPACE}}", NAMESPACE)
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
}

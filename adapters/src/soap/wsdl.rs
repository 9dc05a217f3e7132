//! WSDL 1.1 documents, read for `probe`: the operations of a service, their SOAP actions, and
//! the fields of their input and output messages from the embedded XML Schema. QName-valued
//! attributes (`element="tns:queryCases"`) are matched by local part within the document.

use crate::{Field, XmlElement};

const WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";
const XSD: &str = "http://www.w3.org/2001/XMLSchema";
const WSDL_SOAP11: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
const WSDL_SOAP12: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";

/// One operation a service offers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Operation {
    pub(crate) name: String,
    /// The SOAP action of its first binding, if any binding gives one.
    pub(crate) action: Option<String>,
    /// The input message's fields, as `input/NAME`, and the output's, as `output/NAME`.
    pub(crate) fields: Vec<Field>,
}

fn children<'a>(
    e: &'a XmlElement,
    namespace: &'a str,
    name: &'a str,
) -> impl Iterator<Item = &'a XmlElement> {
    e.children
        .iter()
        .filter(move |c| c.name == name && c.namespace.as_deref() == Some(namespace))
}

fn local(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

/// The operations of a WSDL 1.1 document, in port-type order, or why it is not one.
pub(crate) fn operations(wsdl: &XmlElement) -> Result<Vec<Operation>, String> {
    if wsdl.name != "definitions" || wsdl.namespace.as_deref() != Some(WSDL) {
        return Err(format!(
            "not a WSDL 1.1 document (root <{}> in {:?})",
            wsdl.name,
            wsdl.namespace.as_deref().unwrap_or("no namespace")
        ));
    }
    let schemas: Vec<&XmlElement> = children(wsdl, WSDL, "types")
        .flat_map(|t| children(t, XSD, "schema"))
        .collect();
    let top = |kind: &str, name: &str| top_level(&schemas, kind, name);
    // The fields of an element: the particles of its (inline or named) complex type.
    let element_fields = |name: &str| -> Vec<Field> {
        let Some(element) = top("element", name) else {
            return Vec::new();
        };
        let complex = children(element, XSD, "complexType").next().or_else(|| {
            element
                .attribute("type")
                .and_then(|t| top("complexType", local(t)))
        });
        let Some(complex) = complex else {
            return vec![field(element)];
        };
        ["sequence", "all", "choice"]
            .iter()
            .flat_map(|group| children(complex, XSD, group).collect::<Vec<_>>())
            .flat_map(|group| children(group, XSD, "element").collect::<Vec<_>>())
            .map(field)
            .collect()
    };
    let message_fields = |qname: Option<&str>, direction: &str| -> Vec<Field> {
        let Some(message) = qname
            .and_then(|q| children(wsdl, WSDL, "message").find(|m| m.attribute("name") == Some(local(q))))
        else {
            return Vec::new();
        };
        children(message, WSDL, "part")
            .flat_map(|part| {
                // A part whose element the document does not declare (an imported schema)
                // stands as itself, typed by its element's name.
                let fields = part
                    .attribute("element")
                    .map(|element| element_fields(local(element)))
                    .unwrap_or_default();
                if fields.is_empty() {
                    vec![field(part)]
                } else {
                    fields
                }
            })
            .map(|f| Field {
                name: format!("{direction}/{}", f.name),
                ..f
            })
            .collect()
    };
    let action = |name: &str| {
        children(wsdl, WSDL, "binding")
            .flat_map(|b| children(b, WSDL, "operation").collect::<Vec<_>>())
            .filter(|o| o.attribute("name") == Some(name))
            .flat_map(|o| {
                o.children
                    .iter()
                    .filter(|c| c.name == "operation")
                    .filter(|c| matches!(c.namespace.as_deref(), Some(WSDL_SOAP11 | WSDL_SOAP12)))
            })
            .find_map(|o| o.attribute("soapAction").filter(|a| !a.is_empty()))
            .map(str::to_owned)
    };
    Ok(children(wsdl, WSDL, "portType")
        .flat_map(|p| children(p, WSDL, "operation").collect::<Vec<_>>())
        .filter_map(|o| {
            let name = o.attribute("name")?;
            let message = |direction| {
                children(o, WSDL, direction)
                    .next()
                    .and_then(|m| m.attribute("message"))
            };
            let mut fields = message_fields(message("input"), "input");
            fields.extend(message_fields(message("output"), "output"));
            Some(Operation {
                name: name.to_owned(),
                action: action(name),
                fields,
            })
        })
        .collect())
}

/// A schema's top-level declaration of `kind` (element, complexType) called `name`.
fn top_level<'a>(schemas: &[&'a XmlElement], kind: &str, name: &str) -> Option<&'a XmlElement> {
    schemas
        .iter()
        .flat_map(|s| s.children.iter())
        .find(|e| e.name == kind && e.namespace.as_deref() == Some(XSD) && e.attribute("name") == Some(name))
}

/// A schema element or message part as a field: its name, its declared type (or `complex`
/// for an inline type), nullable when it may be absent or nil.
fn field(e: &XmlElement) -> Field {
    let name = e
        .attribute("name")
        .or_else(|| e.attribute("ref").map(local))
        .unwrap_or_default();
    Field {
        name: name.to_owned(),
        data_type: e
            .attribute("type")
            .or_else(|| e.attribute("element"))
            .unwrap_or("complex")
            .to_owned(),
        nullable: e.attribute("minOccurs") == Some("0") || e.attribute("nillable") == Some("true"),
        distinct: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::xml::parse;

    #[test]
    fn operations_and_message_fields_are_read() {
        let wsdl = r#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:xs="http://www.w3.org/2001/XMLSchema"
            xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:t="urn:t" targetNamespace="urn:t">
          <types><xs:schema targetNamespace="urn:t">
            <xs:element name="getCase"><xs:complexType><xs:sequence>
              <xs:element name="办件编号" type="xs:string"/>
              <xs:element name="备注" type="xs:string" minOccurs="0"/>
            </xs:sequence></xs:complexType></xs:element>
            <xs:element name="getCaseResponse" type="t:Answer"/>
            <xs:complexType name="Answer"><xs:sequence><xs:element name="return" type="xs:string" nillable="true"/></xs:sequence></xs:complexType>
          </xs:schema></types>
          <message name="getCaseIn"><part name="p" element="t:getCase"/></message>
          <message name="getCaseOut"><part name="p" element="t:getCaseResponse"/></message>
          <message name="pingIn"><part name="n" type="xs:int"/><part name="x" element="other:Imported"/></message>
          <portType name="P">
            <operation name="getCase"><input message="t:getCaseIn"/><output message="t:getCaseOut"/></operation>
            <operation name="ping"><input message="t:pingIn"/></operation>
          </portType>
          <binding name="B" type="t:P"><operation name="getCase"><soap12:operation soapAction="urn:getCase"/></operation></binding>
        </definitions>"#;
        let ops = operations(&parse(wsdl).unwrap()).unwrap();
        let f = |name: &str, data_type: &str, nullable| Field {
            name: name.into(),
            data_type: data_type.into(),
            nullable,
            distinct: Vec::new(),
        };
        assert_eq!(
            ops,
            vec![
                Operation {
                    name: "getCase".into(),
                    action: Some("urn:getCase".into()),
                    fields: vec![
                        f("input/办件编号", "xs:string", false),
                        f("input/备注", "xs:string", true),
                        f("output/return", "xs:string", true),
                    ],
                },
                Operation {
                    name: "ping".into(),
                    action: None,
                    fields: vec![
                        f("input/n", "xs:int", false),
                        f("input/x", "other:Imported", false)
                    ],
                },
            ]
        );
        assert!(operations(&parse("<description xmlns=\"http://www.w3.org/ns/wsdl\"/>").unwrap()).is_err());
    }
}

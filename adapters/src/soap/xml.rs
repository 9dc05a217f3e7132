//! XML as the legacy systems send it, read safely: `parse` builds an `XmlElement` tree from
//! roxmltree's document with namespaces resolved (elements are matched by namespace URI and
//! local name, never by prefix) and refuses any DTD or entity declaration, so nothing is ever
//! expanded or fetched (billion laughs, XXE). `ElementPath` selects elements and values;
//! `escape` writes text.

use roxmltree::{Document, Node, NodeType, ParsingOptions};

use crate::XmlElement;

/// Why a text is not an XML document ronghe will read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// A DTD or an entity: refused before anything is expanded.
    #[error("refused: {0}")]
    Refused(String),
    #[error("not well-formed XML: {0}")]
    Malformed(String),
}

/// Decodes a body (see `charset::decode`) and parses it.
pub(crate) fn read(bytes: &[u8], http_charset: Option<&str>) -> Result<XmlElement, XmlError> {
    let decoded = super::charset::decode(bytes, http_charset).map_err(malformed)?;
    parse(&decoded.text)
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

/// How deep elements may nest: legacy documents are shallow, and the tree is built and dropped
/// recursively, so a hostile depth must not reach the stack.
const MAX_DEPTH: usize = 256;

/// Parses a document into its root element. Text is concatenated (CDATA as it stands,
/// references resolved) and trimmed; comments and processing instructions are dropped.
pub fn parse(text: &str) -> Result<XmlElement, XmlError> {
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let document = Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::Refused(
            "the document has a DTD (<!DOCTYPE …>); DTDs and entities are never processed".to_owned(),
        ),
        roxmltree::Error::UnknownEntityReference(name, at) => XmlError::Refused(format!(
            "entity &{name}; at {at} is not predefined; entities are never expanded"
        )),
        e => malformed(e),
    })?;
    element(document.root_element(), 1)
}

/// The owned tree of `node`, which lies `depth` elements deep (the root is 1).
fn element(node: Node<'_, '_>, depth: usize) -> Result<XmlElement, XmlError> {
    if depth > MAX_DEPTH {
        return Err(XmlError::Refused(format!(
            "elements nest deeper than {MAX_DEPTH}"
        )));
    }
    let mut text = String::new();
    let mut children = Vec::new();
    for child in node.children() {
        match child.node_type() {
            NodeType::Element => children.push(element(child, depth + 1)?),
            NodeType::Text => text.push_str(child.text().unwrap_or_default()),
            _ => {}
        }
    }
    let trimmed = text.trim();
    if trimmed.len() != text.len() {
        text = trimmed.to_owned();
    }
    Ok(XmlElement {
        name: node.tag_name().name().to_owned(),
        namespace: node.tag_name().namespace().map(str::to_owned),
        // Namespace declarations are not among roxmltree's attributes.
        attributes: node
            .attributes()
            .map(|a| (a.name().to_owned(), a.value().to_owned()))
            .collect(),
        text,
        children,
    })
}

/// Escapes text for XML content and attribute values. Characters XML 1.0 cannot carry at all
/// (control characters other than tab, line feed and carriage return) are dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// One step of an element path: a local name, with a namespace URI when written `{uri}name`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    namespace: Option<String>,
    name: String,
}

impl Step {
    fn matches(&self, e: &XmlElement) -> bool {
        e.name == self.name
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| e.namespace.as_deref().unwrap_or("") == ns)
    }
}

/// A path from an element to elements below it: local names separated by `/`, each optionally
/// qualified by a namespace URI as `{uri}name` (prefixes mean nothing), and optionally ending
/// in `@attribute`. `""` is the element itself. Examples: `办件列表/办件`, `{urn:x}return`,
/// `受理部门/@代码`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ElementPath {
    steps: Vec<Step>,
    attribute: Option<String>,
}

impl ElementPath {
    pub(crate) fn parse(path: &str) -> Result<ElementPath, String> {
        let mut parsed = ElementPath::default();
        if path.is_empty() {
            return Ok(parsed);
        }
        let mut rest = path;
        while !rest.is_empty() {
            let (namespace, after) = match rest.strip_prefix('{') {
                Some(qualified) => {
                    let close = qualified
                        .find('}')
                        .ok_or_else(|| format!("{path:?}: a {{namespace}} is not closed"))?;
                    (Some(qualified[..close].to_owned()), &qualified[close + 1..])
                }
                None => (None, rest),
            };
            let (name, next) = match after.find('/') {
                Some(slash) => (&after[..slash], Some(&after[slash + 1..])),
                None => (after, None),
            };
            if parsed.attribute.is_some() {
                return Err(format!("{path:?}: @attribute must be the last step"));
            }
            if let Some(attribute) = name.strip_prefix('@') {
                if namespace.is_some() || attribute.is_empty() {
                    return Err(format!("{path:?}: write an attribute as @name"));
                }
                parsed.attribute = Some(attribute.to_owned());
            } else if name.is_empty() || name.contains(['{', '}', '@', ' ', '<', '>', ':']) {
                return Err(format!(
                    "{path:?}: steps are local names separated by /, optionally {{namespace-uri}}name (no prefixes)"
                ));
            } else {
                parsed.steps.push(Step {
                    namespace,
                    name: name.to_owned(),
                });
            }
            rest = match next {
                Some("") => return Err(format!("{path:?} ends with /")),
                Some(next) => next,
                None => "",
            };
        }
        Ok(parsed)
    }

    /// Every element the path reaches from `from`, in document order.
    pub(crate) fn select<'a>(&self, from: &'a XmlElement) -> Vec<&'a XmlElement> {
        let mut current = vec![from];
        for step in &self.steps {
            current = current
                .into_iter()
                .flat_map(|e| e.children.iter().filter(|c| step.matches(c)))
                .collect();
        }
        current
    }

    /// The text (or attribute value) of the first element the path reaches.
    pub(crate) fn value(&self, from: &XmlElement) -> Option<String> {
        let first = self.select(from).into_iter().next()?;
        match &self.attribute {
            Some(name) => first.attribute(name).map(str::to_owned),
            None => Some(first.text.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_matched_by_uri_not_prefix() {
        let doc = r#"<a:Envelope xmlns:a="http://schemas.xmlsoap.org/soap/envelope/" xmlns:x="urn:one">
            <a:Body><x:r xmlns="urn:two"><v>1</v><x:v>2</x:v></x:r></a:Body></a:Envelope>"#;
        let other_prefixes = doc
            .replace("a:", "soapenv:")
            .replace("xmlns:a=", "xmlns:soapenv=");
        for text in [doc.to_owned(), other_prefixes] {
            let root = parse(&text).unwrap();
            assert_eq!(
                (root.name.as_str(), root.namespace.as_deref()),
                ("Envelope", Some("http://schemas.xmlsoap.org/soap/envelope/"))
            );
            let path = |p: &str| ElementPath::parse(p).unwrap().value(&root);
            assert_eq!(
                path("Body/r/v"),
                Some("1".into()),
                "local names match any namespace"
            );
            assert_eq!(
                path("Body/{urn:one}r/{urn:two}v"),
                Some("1".into()),
                "default namespace"
            );
            assert_eq!(path("Body/{urn:one}r/{urn:one}v"), Some("2".into()));
            assert_eq!(path("Body/{urn:two}r"), None);
            assert!(
                root.attributes.is_empty(),
                "xmlns declarations are not attributes"
            );
        }
    }

    #[test]
    fn chinese_names_text_references_and_cdata() {
        let root = parse(
            "<?xml version=\"1.0\"?>\n<!-- 注释 --><办件 编号=\"A&amp;1\">\n  <事项名称>养老&lt;保险&gt;&#x5F85;&#36935;</事项名称>\n  <意见><![CDATA[<同意> & 办结]]></意见><空/></办件>",
        )
        .unwrap();
        assert_eq!(root.attribute("编号"), Some("A&1"));
        let text = |p: &str| ElementPath::parse(p).unwrap().value(&root);
        assert_eq!(text("事项名称"), Some("养老<保险>待遇".into()));
        assert_eq!(text("意见"), Some("<同意> & 办结".into()));
        assert_eq!(text("空"), Some(String::new()));
        assert_eq!(text("@编号"), Some("A&1".into()));
        assert_eq!(root.text, "", "whitespace between children is trimmed away");
    }

    #[test]
    fn dtds_and_entities_are_refused_never_expanded() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        let xxe = r#"<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>"#;
        // Neither declares anything, and still: no DTD at all (issue 18, roxmltree's allow_dtd).
        let external = r#"<!-- x --><!DOCTYPE r SYSTEM "http://127.0.0.1:1/evil.dtd"><r/>"#;
        let empty = "<!DOCTYPE r []><r/>";
        let undeclared = "<r>&xxe;</r>";
        let in_attribute = r#"<r a="&xxe;"/>"#;
        for (doc, says) in [
            (laughs, "has a DTD"),
            (xxe, "has a DTD"),
            (external, "has a DTD"),
            (empty, "has a DTD"),
            (undeclared, "entity &xxe; at 1:4 is not predefined"),
            (in_attribute, "entity &xxe;"),
        ] {
            match parse(doc) {
                Err(XmlError::Refused(message)) => assert!(
                    message.contains(says) && message.contains("never") && !message.contains("lollol"),
                    "{doc}: {message}"
                ),
                other => panic!("{doc}: {other:?}"),
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        assert!(parse(&deep(MAX_DEPTH)).is_ok());
        assert!(matches!(parse(&deep(100_000)), Err(XmlError::Refused(_))));
    }

    #[test]
    fn broken_documents_are_malformed() {
        for doc in [
            "<a><b></a>",
            "<a>",
            "",
            "not xml",
            "<a/><b/>",
            "<x:a/>",
            "{\"json\":1}",
        ] {
            assert!(
                matches!(parse(doc), Err(XmlError::Malformed(_))),
                "{doc:?}: {:?}",
                parse(doc)
            );
        }
    }

    #[test]
    fn paths_are_checked() {
        for ok in ["", "a", "a/b", "{urn:x}a/b", "a/@id", "办件列表/办件"] {
            assert!(ElementPath::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["a/", "/a", "ns:a", "{urn:x", "@a/b", "a//b", "@"] {
            assert!(ElementPath::parse(bad).is_err(), "{bad}");
        }
        let root = parse("<r><l><i>1</i><i>2</i></l><l><i>3</i></l></r>").unwrap();
        let all: Vec<_> = ElementPath::parse("l/i")
            .unwrap()
            .select(&root)
            .iter()
            .map(|e| e.text.clone())
            .collect();
        assert_eq!(all, ["1", "2", "3"]);
    }

    #[test]
    fn escaping_is_xml_safe() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>\u{1}\t"),
            "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;\t"
        );
        let round = parse(&format!("<r>{}</r>", escape("1 < 2 & \"引号\""))).unwrap();
        assert_eq!(round.text, "1 < 2 & \"引号\"");
    }
}

//! A SOAP/XML social-security benefits system (社保待遇系统), the kind an integrator meets in
//! a provincial human-resources department: a WSDL at `?wsdl`, SOAP 1.1 and 1.2, a WS-Security
//! UsernameToken, Chinese element names, its own status codes ("01" 已申报 … "09" 审核通过),
//! dates like `2025年11月20日` and times like `2025年11月20日 14时30分`, answers encoded in GBK,
//! and the legacy habit of returning the result as an escaped XML document inside `<return>`.
//! Operations: queryCases (paging and 更新时间起), getCase, submitApplication. It can also push
//! its completed cases out, as SOAP envelopes in GBK, to a write-back intake. A quirk some real
//! services have can be switched on: reading request parameters as UTF-8 whatever encoding the
//! request was sent in (`SoapSim::read_parameters_as_utf8`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use encoding_rs::{Encoding, GBK};
use serde_json::Value;

use super::data::{self, LegacyCase};
use super::{Applications, Fault, FaultPlan, Faults, Running, SimOptions, beijing};
use crate::signing::Signer;
use crate::soap::xml::{self, escape};
use crate::soap::{SoapVersion, charset_of, decode, encode};
use crate::{AdapterError, Raw, XmlElement};

/// Where the service listens, below the simulator's address; its WSDL is at `PATH?wsdl`.
pub const PATH: &str = "/sbdy/services/CaseService";
/// The service's target namespace.
pub const NAMESPACE: &str = "urn:gz:rst:sbdy";
/// The WS-Security UsernameToken the service accepts.
pub const USERNAME: &str = "sbdy_jk";
pub const PASSWORD: &str = "sim-soap-secret";
/// This system's code in the cases it pushes out.
pub const SYSTEM_CODE: &str = "GZ-RST-SBDY";

const WSSE: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const CHARSET: &str = "GBK";
const MAX_PAGE_SIZE: usize = 1000;

/// An adapter config for this simulator at `endpoint`, reading the WS-Security password from
/// `password` (a secret reference such as `env:SBDY_PASSWORD` or `file:/…/soap.password`).
pub fn adapter_config(endpoint: &str, password: &str) -> String {
    include_str!("sbdy.toml")
        .replace("{{ENDPOINT}}", endpoint)
        .replace("{{PASSWORD}}", password)
}

/// The system's own status code for a state.
pub fn status_code(state: data::State) -> &'static str {
    match state {
        data::State::Submitted => "01",
        data::State::Accepted => "02",
        data::State::UnderReview => "03",
        data::State::Approved => "09",
        data::State::Rejected => "08",
        data::State::NotAccepted => "07",
    }
}

const DATE: &str = "%Y年%m月%d日";
const TIME: &str = "%Y年%m月%d日 %H时%M分";

fn leaf(out: &mut String, name: &str, value: &str) {
    out.push_str(&format!("<{name}>{}</{name}>", escape(value)));
}

/// A case as this system writes it: `<办件>` with Chinese element names.
pub fn case_xml(c: &LegacyCase) -> String {
    let mut x = String::with_capacity(1024);
    x.push_str("<办件>");
    leaf(&mut x, "办件编号", &c.no);
    leaf(&mut x, "版本号", &c.version.to_string());
    leaf(&mut x, "事项编码", &c.item_code);
    leaf(&mut x, "事项名称", &c.item_name);
    x.push_str(&format!(
        "<申请人 类型=\"{}\">",
        if c.applicant_is_company { "2" } else { "1" }
    ));
    leaf(&mut x, "姓名", &c.applicant_name);
    leaf(
        &mut x,
        "证件类型",
        if c.applicant_is_company { "49" } else { "111" },
    );
    leaf(&mut x, "证件号码", &c.applicant_cert_no);
    leaf(&mut x, "联系电话", &c.phone);
    x.push_str("</申请人>");
    leaf(&mut x, "行政区划", &c.region);
    x.push_str(&format!(
        "<受理部门 代码=\"{}\">{}</受理部门>",
        escape(&c.department_uscc),
        escape(&c.department)
    ));
    leaf(&mut x, "申请日期", &beijing(c.applied_at, DATE));
    for (name, at) in [("受理时间", c.accepted_at), ("办结时间", c.finished_at)] {
        if let Some(at) = at {
            leaf(&mut x, name, &beijing(at, TIME));
        }
    }
    if c.accepted_at.is_some() {
        leaf(&mut x, "受理人", &c.acceptor);
    }
    leaf(&mut x, "承诺时限", &c.time_limit_days.to_string());
    leaf(&mut x, "办理状态", status_code(c.state));
    if let Some(opinion) = &c.opinion {
        leaf(&mut x, "审核意见", opinion);
    }
    if let Some(no) = &c.certificate_no {
        leaf(&mut x, "待遇核定编号", no);
    }
    leaf(&mut x, "更新时间", &updated(c));
    x.push_str("</办件>");
    x
}

fn updated(c: &LegacyCase) -> String {
    beijing(c.updated_at, TIME)
}

/// A case, rendered once.
struct Stored {
    no: String,
    /// 更新时间, which sorts as text.
    updated: String,
    finished: bool,
    xml: String,
    /// `xml` escaped (as it stands inside `<return>`) and encoded in GBK, ready to answer with:
    /// escaping and encoding both distribute over concatenation, and GBK encoding is slow.
    answer: Vec<u8>,
}

struct Sim {
    /// Sorted by (更新时间, 办件编号): the order the listing answers in.
    cases: Vec<Stored>,
    by_no: HashMap<String, usize>,
    applications: Applications,
    faults: Arc<Faults>,
    /// The quirk: request parameters read as UTF-8, whatever the request's encoding.
    utf8_parameters: AtomicBool,
}

/// A running SOAP simulator.
pub struct SoapSim {
    pub running: Running,
    sim: Arc<Sim>,
}

impl SoapSim {
    /// Starts the simulator with `options.cases` seeded cases.
    pub async fn start(options: &SimOptions) -> std::io::Result<SoapSim> {
        let mut cases: Vec<Stored> = data::cases(options.seed, options.cases)
            .iter()
            .map(|c| {
                let xml = case_xml(c);
                Stored {
                    no: c.no.clone(),
                    updated: updated(c),
                    finished: c.state.is_finished(),
                    answer: encode(&escape(&xml), GBK),
                    xml,
                }
            })
            .collect();
        cases.sort_by(|a, b| (&a.updated, &a.no).cmp(&(&b.updated, &b.no)));
        let by_no = cases.iter().enumerate().map(|(i, c)| (c.no.clone(), i)).collect();
        let faults = Arc::new(Faults::default());
        let sim = Arc::new(Sim {
            cases,
            by_no,
            applications: Applications::default(),
            faults: faults.clone(),
            utf8_parameters: AtomicBool::new(false),
        });
        let app = Router::new()
            .route(PATH, get(wsdl).post(service))
            .route("/__sim/faults", post(set_faults))
            .with_state(sim.clone());
        let running = Running::serve(options.listen, app, faults).await?;
        Ok(SoapSim { running, sim })
    }

    /// The service endpoint, e.g. `http://127.0.0.1:40123/sbdy/services/CaseService`.
    pub fn endpoint(&self) -> String {
        format!("{}{PATH}", self.running.url())
    }

    /// Switches the quirk of services whose application code takes a parameter's bytes as
    /// UTF-8 whatever the request declared: sent in GBK, the 更新时间起 of a resumed listing
    /// (`2025年11月20日 14时30分`) arrives as other text, and the listing answers from another
    /// place, without an error (issue 16). Element names are read correctly.
    pub fn read_parameters_as_utf8(&self, on: bool) {
        self.sim.utf8_parameters.store(on, Ordering::SeqCst);
    }

    /// The applications handed to this system so far, as JSON (see `Raw::to_json`).
    pub fn applications(&self) -> Vec<Value> {
        self.sim.applications.all()
    }

    /// The completed cases, each as its `<办件>` element, in listing order.
    pub fn completed(&self) -> Vec<String> {
        self.sim
            .cases
            .iter()
            .filter(|c| c.finished)
            .map(|c| c.xml.clone())
            .collect()
    }

    /// Pushes every completed case, one envelope in GBK each, to `push.url` (ronghe's
    /// write-back intake); returns how many were accepted. Stops at the first refusal.
    pub async fn push_completed(&self, push: &Push) -> Result<usize, AdapterError> {
        let mut pushed = 0;
        for case in self.sim.cases.iter().filter(|c| c.finished) {
            let answer = push.send(std::slice::from_ref(&case.xml)).await?;
            if !(200..300).contains(&answer.status) {
                return Err(AdapterError::from_http_status(
                    answer.status,
                    &format!("push to {}", push.url),
                ));
            }
            pushed += 1;
        }
        Ok(pushed)
    }
}

/// How the simulator pushes cases to a write-back intake: where, in which SOAP version, and
/// signed (and optionally SM4-encrypted) with which credentials.
#[derive(Debug, Clone)]
pub struct Push {
    pub url: String,
    pub version: SoapVersion,
    pub signer: Option<Signer>,
}

/// The intake's answer to one push.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Push {
    /// SOAP 1.1, signed by `signer`.
    pub fn new(url: impl Into<String>, signer: Option<Signer>) -> Push {
        Push {
            url: url.into(),
            version: SoapVersion::Soap11,
            signer,
        }
    }

    /// The envelope (in GBK) that carries `records` (`<办件>` elements, e.g. from `case_xml`
    /// or `SoapSim::completed`, any subset or version of them).
    pub fn envelope(&self, records: &[String]) -> Vec<u8> {
        let body = format!(
            "<sb:办件回传 xmlns:sb=\"{NAMESPACE}\"><系统编码>{SYSTEM_CODE}</系统编码>{}</sb:办件回传>",
            records.concat()
        );
        encode(&self.version.envelope(CHARSET, None, &body), GBK)
    }

    /// Pushes `records` in one envelope and returns the intake's answer, whatever its status.
    pub async fn send(&self, records: &[String]) -> Result<Pushed, AdapterError> {
        let what = format!("push to {}", self.url);
        let path = url::Url::parse(&self.url)
            .map_err(|e| AdapterError::configuration(format!("{what}: not a URL")).with_source(e))?
            .path()
            .to_owned();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| AdapterError::configuration("cannot build the HTTP client").with_source(e))?;
        let mut request = client.post(&self.url).header(
            header::CONTENT_TYPE,
            self.version.content_type(CHARSET, "urn:pushCase"),
        );
        if let Some(action) = self.version.soap_action("urn:pushCase") {
            request = request.header("SOAPAction", action);
        }
        let mut body = self.envelope(records);
        if let Some(signer) = &self.signer {
            let signed = signer
                .sign("POST", &path, &body)
                .map_err(|e| AdapterError::configuration(format!("{what}: cannot sign: {e}")))?;
            for (name, value) in signed.headers {
                request = request.header(name, value);
            }
            body = signed.body;
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| AdapterError::transport(&what, e))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| AdapterError::transport(&what, e))?;
        Ok(Pushed {
            status,
            content_type,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}

/// An answer in `version`, encoded in GBK as the system does.
fn answer(version: SoapVersion, status: StatusCode, body: &str) -> Response {
    let envelope = version.envelope(CHARSET, None, body);
    (
        status,
        [(header::CONTENT_TYPE, version.content_type(CHARSET, ""))],
        encode(&envelope, GBK),
    )
        .into_response()
}

/// A SOAP fault: the sender's (`client`) or the service's, with an optional qualified subcode.
fn fault(version: SoapVersion, client: bool, subcode: Option<(&str, &str)>, reason: &str) -> Response {
    let reason = escape(reason);
    let body = match version {
        SoapVersion::Soap11 => {
            let code = match subcode {
                Some((ns, local)) => format!("<faultcode xmlns:c=\"{ns}\">c:{local}</faultcode>"),
                None if client => "<faultcode>soapenv:Client</faultcode>".to_owned(),
                None => "<faultcode>soapenv:Server</faultcode>".to_owned(),
            };
            format!("<soapenv:Fault>{code}<faultstring>{reason}</faultstring></soapenv:Fault>")
        }
        SoapVersion::Soap12 => {
            let sub = subcode
                .map(|(ns, local)| {
                    format!("<soapenv:Subcode><soapenv:Value xmlns:c=\"{ns}\">c:{local}</soapenv:Value></soapenv:Subcode>")
                })
                .unwrap_or_default();
            format!(
                "<soapenv:Fault><soapenv:Code><soapenv:Value>soapenv:{}</soapenv:Value>{sub}</soapenv:Code><soapenv:Reason><soapenv:Text xml:lang=\"zh-CN\">{reason}</soapenv:Text></soapenv:Reason></soapenv:Fault>",
                if client { "Sender" } else { "Receiver" }
            )
        }
    };
    // SOAP 1.1 sends every fault with 500; 1.2 tells the sender's (400) from the service's.
    let status = if client && version == SoapVersion::Soap12 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    answer(version, status, &body)
}

/// Stands for the Body's content while an envelope is split around it.
const BODY: &str = "\u{1}";

/// An operation's answer: the legacy result document, escaped inside `<return>`. `rest` is
/// what follows the code and message in the document, already escaped and encoded.
fn result(version: SoapVersion, operation: &str, code: &str, message: &str, rest: &[u8]) -> Response {
    let envelope = version.envelope(CHARSET, None, BODY);
    let (head, tail) = envelope.split_once(BODY).unwrap_or((&envelope, ""));
    let inner_head = format!(
        "<?xml version=\"1.0\" encoding=\"GBK\"?><结果><返回码>{code}</返回码><返回信息>{}</返回信息>",
        escape(message)
    );
    let mut bytes = encode(
        &format!(
            "{head}<ns:{operation}Response xmlns:ns=\"{NAMESPACE}\"><return>{}",
            escape(&inner_head)
        ),
        GBK,
    );
    bytes.extend_from_slice(rest);
    bytes.extend(encode(
        &format!("{}</return></ns:{operation}Response>{tail}", escape("</结果>")),
        GBK,
    ));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, version.content_type(CHARSET, ""))],
        bytes,
    )
        .into_response()
}

/// Escapes and encodes part of a result document.
fn part(text: &str) -> Vec<u8> {
    encode(&escape(text), GBK)
}

fn text<'a>(e: &'a XmlElement, name: &str) -> &'a str {
    e.child(name).map(|c| c.text.as_str()).unwrap_or_default()
}

fn child_in<'a>(e: &'a XmlElement, namespace: &str, name: &str) -> Option<&'a XmlElement> {
    e.children
        .iter()
        .find(|c| c.name == name && c.namespace.as_deref() == Some(namespace))
}

async fn service(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let asked = if content_type.starts_with("application/soap+xml") {
        SoapVersion::Soap12
    } else {
        SoapVersion::Soap11
    };
    match sim.faults.next().await {
        Some(Fault::ServerError) => return fault(asked, false, None, "系统繁忙,请稍后再试"),
        Some(Fault::Garbage) => {
            let page = "<html><head><title>502 Bad Gateway</title></head><body><center>网关错误</center><hr></body></html>";
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=GBK")],
                encode(page, GBK),
            )
                .into_response();
        }
        Some(Fault::Truncated) => {
            let whole = format!(
                "<ns:queryCasesResponse xmlns:ns=\"{NAMESPACE}\"><return>&lt;结果&gt;&lt;返回码&gt;0000&lt;/返回码&gt;&lt;办件列表&gt;&lt;办件&gt;&lt;办件编号&gt;"
            );
            let envelope = asked.envelope(CHARSET, None, &whole);
            let bytes = encode(&envelope, GBK);
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, asked.content_type(CHARSET, ""))],
                bytes[..bytes.len() / 2].to_vec(),
            )
                .into_response();
        }
        None => {}
    }
    let read = decode(&body, charset_of(content_type))
        .map_err(|e| e.to_string())
        .and_then(|d| Ok((xml::parse(&d.text).map_err(|e| e.to_string())?, d.encoding)));
    let (document, encoding) = match read {
        Ok(read) => read,
        Err(e) => return fault(asked, true, None, &format!("请求报文格式错误: {e}")),
    };
    let version = match document.namespace.as_deref().and_then(SoapVersion::of_namespace) {
        Some(v) if document.name == "Envelope" && v == asked => v,
        _ => {
            let envelope = asked.namespace();
            return fault(
                asked,
                true,
                Some((envelope, "VersionMismatch")),
                "报文版本与请求类型不符",
            );
        }
    };
    let ns = version.namespace();
    let token = child_in(&document, ns, "Header")
        .and_then(|h| child_in(h, WSSE, "Security"))
        .and_then(|s| child_in(s, WSSE, "UsernameToken"));
    let authenticated = token.is_some_and(|t| {
        child_in(t, WSSE, "Username").is_some_and(|u| u.text == USERNAME)
            && child_in(t, WSSE, "Password").is_some_and(|p| p.text == PASSWORD)
    });
    if !authenticated {
        return fault(
            version,
            true,
            Some((WSSE, "FailedAuthentication")),
            "身份认证失败",
        );
    }
    let Some(request) = child_in(&document, ns, "Body").and_then(|b| b.children.first()) else {
        return fault(version, true, None, "报文体为空");
    };
    if request.namespace.as_deref() != Some(NAMESPACE) {
        return fault(version, true, None, &format!("未知操作: {}", request.name));
    }
    match request.name.as_str() {
        "queryCases" => query_cases(&sim, version, request, encoding),
        "getCase" => get_case(&sim, version, request),
        "submitApplication" => submit_application(&sim, version, request),
        other => fault(version, true, None, &format!("未知操作: {other}")),
    }
}

fn query_cases(
    sim: &Sim,
    version: SoapVersion,
    request: &XmlElement,
    sent_in: &'static Encoding,
) -> Response {
    let page = text(request, "页码")
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|p| *p >= 1);
    let size = text(request, "每页条数")
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|s| (1..=MAX_PAGE_SIZE).contains(s));
    let (Some(page), Some(size)) = (page, size) else {
        return result(
            version,
            "queryCases",
            "1001",
            &format!("参数错误: 页码须为正整数, 每页条数须在1至{MAX_PAGE_SIZE}之间"),
            &[],
        );
    };
    let mut since = text(request, "更新时间起").trim().to_owned();
    if sim.utf8_parameters.load(Ordering::SeqCst) {
        since = String::from_utf8_lossy(&encode(&since, sent_in)).into_owned();
    }
    let start = sim.cases.partition_point(|c| c.updated < since);
    let matching = &sim.cases[start..];
    let mut rest = part(&format!(
        "<总记录数>{}</总记录数><当前页>{page}</当前页><办件列表>",
        matching.len()
    ));
    for c in matching.iter().skip((page - 1) * size).take(size) {
        rest.extend_from_slice(&c.answer);
    }
    rest.extend(part("</办件列表>"));
    result(version, "queryCases", "0000", "成功", &rest)
}

fn get_case(sim: &Sim, version: SoapVersion, request: &XmlElement) -> Response {
    let no = text(request, "办件编号").trim();
    match sim.by_no.get(no) {
        Some(i) => result(version, "getCase", "0000", "成功", &sim.cases[*i].answer),
        None => result(version, "getCase", "1004", &format!("办件不存在: {no}"), &[]),
    }
}

/// Fields an application must carry.
const REQUIRED: &[&str] = &["事项编码", "申请人姓名", "证件类型", "证件号码"];

fn submit_application(sim: &Sim, version: SoapVersion, request: &XmlElement) -> Response {
    if let Some(missing) = REQUIRED.iter().find(|f| text(request, f).trim().is_empty()) {
        return result(
            version,
            "submitApplication",
            "1001",
            &format!("参数错误: 缺少{missing}"),
            &[],
        );
    }
    let number = sim.applications.keep(Raw::Xml(request.clone()).to_json());
    let receipt = format!("SB{number:010}");
    result(
        version,
        "submitApplication",
        "0000",
        "受理成功",
        &part(&format!("<受理编号>{receipt}</受理编号>")),
    )
}

async fn wsdl(RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    if !query.is_some_and(|q| q.eq_ignore_ascii_case("wsdl")) {
        return (StatusCode::NOT_FOUND, "CaseService: 请使用 ?wsdl 获取服务描述").into_response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let location = format!("http://{host}{PATH}");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=UTF-8")],
        WSDL.replace("{location}", &escape(&location)),
    )
        .into_response()
}

async fn set_faults(State(sim): State<Arc<Sim>>, Json(plan): Json<FaultPlan>) -> StatusCode {
    sim.faults.set(plan);
    StatusCode::NO_CONTENT
}

/// The service description, as an Axis2-era tool would generate it: document/literal wrapped,
/// one SOAP 1.1 and one SOAP 1.2 binding, unqualified Chinese parameter names.
const WSDL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:ns="urn:gz:rst:sbdy" targetNamespace="urn:gz:rst:sbdy">
  <wsdl:documentation>社保待遇系统 办件服务</wsdl:documentation>
  <wsdl:types>
    <xsd:schema targetNamespace="urn:gz:rst:sbdy" elementFormDefault="unqualified">
      <xsd:element name="queryCases">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="页码" type="xsd:int"/>
          <xsd:element name="每页条数" type="xsd:int"/>
          <xsd:element name="更新时间起" type="xsd:string" minOccurs="0"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="queryCasesResponse" type="ns:StringResult"/>
      <xsd:element name="getCase">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="办件编号" type="xsd:string"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="getCaseResponse" type="ns:StringResult"/>
      <xsd:element name="submitApplication">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="事项编码" type="xsd:string"/>
          <xsd:element name="事项名称" type="xsd:string" minOccurs="0"/>
          <xsd:element name="申请人姓名" type="xsd:string"/>
          <xsd:element name="证件类型" type="xsd:string"/>
          <xsd:element name="证件号码" type="xsd:string"/>
          <xsd:element name="联系电话" type="xsd:string" minOccurs="0"/>
          <xsd:element name="行政区划" type="xsd:string" minOccurs="0"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="submitApplicationResponse" type="ns:StringResult"/>
      <xsd:complexType name="StringResult">
        <xsd:sequence><xsd:element name="return" type="xsd:string" nillable="true"/></xsd:sequence>
      </xsd:complexType>
    </xsd:schema>
  </wsdl:types>
  <wsdl:message name="queryCasesRequest"><wsdl:part name="parameters" element="ns:queryCases"/></wsdl:message>
  <wsdl:message name="queryCasesResponse"><wsdl:part name="parameters" element="ns:queryCasesResponse"/></wsdl:message>
  <wsdl:message name="getCaseRequest"><wsdl:part name="parameters" element="ns:getCase"/></wsdl:message>
  <wsdl:message name="getCaseResponse"><wsdl:part name="parameters" element="ns:getCaseResponse"/></wsdl:message>
  <wsdl:message name="submitApplicationRequest"><wsdl:part name="parameters" element="ns:submitApplication"/></wsdl:message>
  <wsdl:message name="submitApplicationResponse"><wsdl:part name="parameters" element="ns:submitApplicationResponse"/></wsdl:message>
  <wsdl:portType name="CaseServicePortType">
    <wsdl:operation name="queryCases">
      <wsdl:documentation>查询办件列表</wsdl:documentation>
      <wsdl:input message="ns:queryCasesRequest"/><wsdl:output message="ns:queryCasesResponse"/>
    </wsdl:operation>
    <wsdl:operation name="getCase">
      <wsdl:documentation>查询办件详情</wsdl:documentation>
      <wsdl:input message="ns:getCaseRequest"/><wsdl:output message="ns:getCaseResponse"/>
    </wsdl:operation>
    <wsdl:operation name="submitApplication">
      <wsdl:documentation>提交待遇申请</wsdl:documentation>
      <wsdl:input message="ns:submitApplicationRequest"/><wsdl:output message="ns:submitApplicationResponse"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="CaseServiceSoap11Binding" type="ns:CaseServicePortType">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http" style="document"/>
    <wsdl:operation name="queryCases"><soap:operation soapAction="urn:queryCases" style="document"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>
    <wsdl:operation name="getCase"><soap:operation soapAction="urn:getCase" style="document"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>
    <wsdl:operation name="submitApplication"><soap:operation soapAction="urn:submitApplication" style="document"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>
  </wsdl:binding>
  <wsdl:binding name="CaseServiceSoap12Binding" type="ns:CaseServicePortType">
    <soap12:binding transport="http://schemas.xmlsoap.org/soap/http" style="document"/>
    <wsdl:operation name="queryCases"><soap12:operation soapAction="urn:queryCases" style="document"/>
      <wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation>
    <wsdl:operation name="getCase"><soap12:operation soapAction="urn:getCase" style="document"/>
      <wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation>
    <wsdl:operation name="submitApplication"><soap12:operation soapAction="urn:submitApplication" style="document"/>
      <wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="CaseService">
    <wsdl:port name="CaseServiceHttpSoap11Endpoint" binding="ns:CaseServiceSoap11Binding"><soap:address location="{location}"/></wsdl:port>
    <wsdl:port name="CaseServiceHttpSoap12Endpoint" binding="ns:CaseServiceSoap12Binding"><soap12:address location="{location}"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"#;

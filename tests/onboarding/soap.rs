//! A SOAP 1.1 service with Chinese element names and values in attributes (the case number,
//! the applicant's kind, the acceptance and the result), dates like `2025年05月11日 04:56`;
//! served by a real HTTP server on a loopback port, paged by page number.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;

use super::cases::{Case, Status, beijing};

const TIME: &str = "%Y年%m月%d日 %H:%M";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A case as this service writes it: `<案卷>`.
pub(crate) fn record(c: &Case) -> String {
    let mut x = String::new();
    let e = |t: &str| escape(t);
    write!(x, "<案卷 办件编号=\"{}\" 版本号=\"{}\">", e(&c.no), c.version).unwrap();
    write!(
        x,
        "<事项 编码=\"{}\" 名称=\"{}\"/>",
        e(&c.item_code),
        e(c.item_name)
    )
    .unwrap();
    write!(
        x,
        "<申请人 类型=\"{}\"><名称>{}</名称><证件 类型=\"{}\">{}</证件><手机>{}</手机></申请人>",
        if c.company { "法人" } else { "自然人" },
        e(&c.applicant),
        if c.company {
            "统一社会信用代码"
        } else {
            "身份证"
        },
        e(&c.certificate_no),
        e(&c.phone)
    )
    .unwrap();
    write!(x, "<办理区划>{}</办理区划>", c.region).unwrap();
    write!(
        x,
        "<办理形式>{}</办理形式>",
        if c.online { "网上办理" } else { "窗口办理" }
    )
    .unwrap();
    write!(x, "<申请时间>{}</申请时间>", beijing(c.applied_at, TIME)).unwrap();
    write!(
        x,
        "<受理 部门=\"{}\" 信用代码=\"{}\" 区划=\"{}\">",
        e(c.department),
        e(&c.department_uscc),
        c.department_region
    )
    .unwrap();
    if let (Some(acceptor), Some(at)) = (c.acceptor, c.accepted_at) {
        write!(
            x,
            "<受理人>{}</受理人><受理时间>{}</受理时间>",
            e(acceptor),
            beijing(at, TIME)
        )
        .unwrap();
    }
    write!(x, "<承诺时限>{}</承诺时限></受理>", c.time_limit_days).unwrap();
    let status = match c.status {
        Status::Approved | Status::Rejected => "已办结",
        other => other.label(),
    };
    write!(x, "<状态>{status}</状态>").unwrap();
    if let Some(opinion) = c.opinion {
        write!(x, "<审核意见>{}</审核意见>", e(opinion)).unwrap();
    }
    if let Some(at) = c.finished_at {
        write!(
            x,
            "<办结 结果=\"{}\" 时间=\"{}\" 办结人=\"{}\">",
            c.status.label(),
            beijing(at, TIME),
            e(c.handler.unwrap_or_default())
        )
        .unwrap();
        if let Some(reason) = c.reason {
            write!(x, "<结果描述>{}</结果描述>", e(reason)).unwrap();
        }
        if let Some(no) = &c.licence_no {
            write!(x, "<证照编号>{}</证照编号>", e(no)).unwrap();
        }
        x.push_str("</办结>");
    }
    write!(x, "<更新时间>{}</更新时间></案卷>", beijing(c.updated_at, TIME)).unwrap();
    x
}

/// The number between `<name>` and `</name>` in a request.
fn number(body: &str, name: &str) -> Option<usize> {
    let start = body.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + body[start..].find('<')?;
    body[start..end].trim().parse().ok()
}

async fn service(State(records): State<Arc<Vec<String>>>, body: String) -> impl IntoResponse {
    let page = number(&body, "页码").unwrap_or(1).max(1);
    let size = number(&body, "每页条数").unwrap_or(100).max(1);
    let list: String = records
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .cloned()
        .collect();
    let envelope = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>\
         <ns:查询案卷Response xmlns:ns=\"urn:gy:zrzy:ajxt\"><return><总数>{}</总数><案卷列表>{list}</案卷列表></return></ns:查询案卷Response>\
         </soap:Body></soap:Envelope>",
        records.len()
    );
    ([(header::CONTENT_TYPE, "text/xml; charset=UTF-8")], envelope)
}

const WSDL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" targetNamespace="urn:gy:zrzy:ajxt">
  <wsdl:documentation>案卷服务</wsdl:documentation>
</wsdl:definitions>"#;

async fn wsdl() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/xml; charset=UTF-8")], WSDL)
}

/// Serves `cases` on a loopback port until the runtime ends; the adapter config that reads them.
pub(crate) async fn serve(cases: &[Case]) -> String {
    serve_records(cases.iter().map(record).collect()).await
}

/// Serves records of this service's shape (`record`, perhaps edited); the adapter config that reads them.
pub(crate) async fn serve_records(records: Vec<String>) -> String {
    let address = super::cases::listen("/ajxt/services/CaseService", post(service).get(wsdl), records).await;
    format!(
        r#"type = "soap"
endpoint = "http://{address}/ajxt/services/CaseService"

[records]
operation = "queryFiles"
select = "案卷列表/案卷"
key = "@办件编号"
total = "总数"
page_size = 100

[operations.queryFiles]
action = "urn:queryFiles"
result = "return"
body = """<ns:查询案卷 xmlns:ns="urn:gy:zrzy:ajxt"><页码>{{{{page}}}}</页码><每页条数>{{{{page_size}}}}</每页条数></ns:查询案卷>"""
"#
    )
}

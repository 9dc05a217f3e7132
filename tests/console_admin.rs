//! The console's administration pages (issue 15) in a real headless Chromium against a real
//! `ronghe serve`: 账号 (a regional administrator manages their city's accounts and no other
//! city's; an administrator suspends an account and the API says so), 审计 (an auditor filters
//! the log and checks the chain; nobody else opens it) and 公告与规则 (a notice dated before the
//! notice period allows is refused on the form and nothing is written; a valid one is listed).
//! Every page visited passes `Browser::check`. Also, without a browser, that every new form
//! refuses a missing or wrong CSRF token and changes nothing.

mod common;

use common::browser::Browser;
use common::console::{FORM, GY_SYSTEM, Platform, form};
use ronghe::access::{AccountStatus, Grant, Principal, Role, Scope};
use ronghe::accounts::NewAccount;
use ronghe::notices::NoticeKind;
use ronghe::store::Store;

/// A pending account `id` of an agency in `region`, holding the operator role there, created
/// by the host.
async fn city_account(store: &Store, id: &str, agency: &str, region: &str) {
    let home = Scope::Agency {
        region: region.to_owned(),
        name: agency.to_owned(),
    };
    common::staff_accounts(store)
        .create(
            &Principal::host("test", "localhost"),
            NewAccount {
                id: id.to_owned(),
                name: "王小明".to_owned(),
                resident_id: common::synthetic_resident_id(id),
                mobile: "13900000000".to_owned(),
                agency: agency.to_owned(),
                region: region.to_owned(),
                grants: vec![Grant {
                    role: Role::Operator,
                    scope: home,
                }],
                approved_by: None,
                reason: "新入职".to_owned(),
            },
        )
        .await
        .expect("create the account");
}

async fn status_of(store: &Store, id: &str) -> AccountStatus {
    store
        .account(id)
        .await
        .unwrap()
        .expect("the account")
        .status()
        .unwrap()
}

/// Sets a form control's value as a script would (a date picker's typing depends on the
/// browser's locale; a select's option by its value).
async fn set_value(browser: &Browser, id: &str, value: &str) {
    browser
        .run(&format!(
            "document.getElementById('{id}').value = '{value}'; return null;"
        ))
        .await;
}

#[tokio::test]
async fn a_regional_administrator_manages_only_their_citys_accounts() {
    let p = Platform::new(&[("gy-admin", &["regional_admin@region:520100"])]).await;
    let store = p.store().await;
    city_account(&store, "gy-clerk", "贵阳市市场监督管理局", "520100").await;
    city_account(&store, "zy-clerk", "遵义市自然资源局", "520300").await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&p.url("/accounts")).await;
    p.sign_in(&browser, "gy-admin").await;
    assert_eq!(browser.path().await, "/accounts");
    let text = browser.text().await;
    assert!(
        text.contains("gy-clerk") && text.contains("贵阳市市场监督管理局"),
        "{text}"
    );
    assert!(
        !text.contains("zy-clerk") && !text.contains("遵义市自然资源局"),
        "another city's account is listed: {text}"
    );
    assert!(text.contains("共 1 个账号"), "{text}");
    browser.check("accounts").await;
    // The section is in the navigation; the auditors' is not.
    let nav = browser
        .run("return [...document.querySelectorAll('header nav a')].map(a => a.textContent);")
        .await;
    assert!(
        nav.as_array().unwrap().iter().any(|a| a == "账号")
            && !nav.as_array().unwrap().iter().any(|a| a == "审计"),
        "{nav}"
    );
    // Search; an empty result says what to do next.
    browser.goto(&p.url("/accounts?q=nobody")).await;
    assert!(browser.text().await.contains("没有符合条件的账号"));
    browser.check("accounts-empty").await;
    // Another city's account: not found, its existence not told.
    browser.goto(&p.url("/accounts/zy-clerk")).await;
    let text = browser.text().await;
    assert!(
        text.contains("未找到") && !text.contains("遵义市自然资源局"),
        "{text}"
    );
    browser.check_answered("account-out-of-scope", 404).await;
    // The own city's: masked, with its grant.
    browser.goto(&p.url("/accounts/gy-clerk")).await;
    let text = browser.text().await;
    let resident_id = common::synthetic_resident_id("gy-clerk");
    assert!(
        !text.contains(&resident_id) && !text.contains("王小明") && text.contains("待启用"),
        "{text}"
    );
    assert!(text.contains("服务中心运营") && text.contains("新入职"), "{text}");
    browser.check("account").await;
    // A grant in another city's scope is refused on the form; nothing is granted.
    set_value(&browser, "role", "engineer").await;
    browser.fill("scope", "region:520300").await;
    browser.fill("grant-reason", "支援遵义").await;
    browser.click("#grant button[type=submit]").await;
    let text = browser.text().await;
    assert!(text.contains("无权访问：you may not grant engineer"), "{text}");
    browser.check_answered("account-grant-refused", 403).await;
    let grants = store.account_grants("gy-clerk", false).await.unwrap();
    assert_eq!(grants.len(), 1, "{grants:?}");
    // In the own city: granted, and the page says so.
    set_value(&browser, "role", "engineer").await;
    browser.fill("scope", "agency:520100:贵阳市市场监督管理局").await;
    browser.fill("grant-reason", "兼任接入工程师").await;
    browser.click("#grant button[type=submit]").await;
    assert_eq!(browser.path().await, "/accounts/gy-clerk?done=grant");
    let text = browser.text().await;
    assert!(
        text.contains("已授予角色") && text.contains("接入工程师"),
        "{text}"
    );
    browser.check("account-granted").await;
    let grants = store.account_grants("gy-clerk", false).await.unwrap();
    assert!(grants.iter().any(|g| g.role == "engineer"), "{grants:?}");
    // Revoked again, with a reason.
    let engineer = grants.iter().find(|g| g.role == "engineer").unwrap().id;
    browser
        .fill(&format!("revoke-reason-{engineer}"), "不再兼任")
        .await;
    browser
        .click(&format!(
            "form[action$='/grants/revoke']:has(input[value='{engineer}']) button"
        ))
        .await;
    assert_eq!(browser.path().await, "/accounts/gy-clerk?done=revoke");
    let grants = store.account_grants("gy-clerk", false).await.unwrap();
    assert!(!grants.iter().any(|g| g.role == "engineer"), "{grants:?}");
    // A new enrolment link, at the platform's public URL as the command line prints it.
    browser.click("#reenrol button[type=submit]").await;
    let link = browser
        .run("return document.getElementById('enrol-link').textContent;")
        .await;
    let link = link.as_str().unwrap();
    assert!(link.starts_with(&format!("{}/enrol?token=", p.base)), "{link}");
    browser.check("account-reenrolled").await;
    // The link works: it opens the enrolment form.
    browser.goto(link).await;
    assert!(browser.text().await.contains("第 1 步，共 2 步：设置密码"));
    browser.close().await;
    p.server.stop();
}

#[tokio::test]
async fn an_administrator_suspends_an_account_and_the_api_shows_it() {
    let p = Platform::new(&[
        ("admin-1", &["platform_admin@province"]),
        ("admin-2", &["platform_admin@province"]),
        ("clerk-1", &["operator@province"]),
    ])
    .await;
    let store = p.store().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&p.url("/accounts/clerk-1")).await;
    p.sign_in(&browser, "admin-1").await;
    assert_eq!(browser.path().await, "/accounts/clerk-1");
    assert!(browser.text().await.contains("正常"));
    // No reason: the form again, the field named, the account unchanged.
    set_value(&browser, "new-status", "suspended").await;
    browser.click("#status-change button[type=submit]").await;
    let text = browser.text().await;
    assert!(text.contains("reason：必填"), "{text}");
    browser.check_answered("account-status-refused", 422).await;
    assert_eq!(status_of(&store, "clerk-1").await, AccountStatus::Active);
    // With one: suspended.
    set_value(&browser, "new-status", "suspended").await;
    browser.fill("status-reason", "休假期间暂停").await;
    browser.click("#status-change button[type=submit]").await;
    assert_eq!(browser.path().await, "/accounts/clerk-1?done=status");
    let text = browser.text().await;
    assert!(
        text.contains("已更改账号状态") && text.contains("已暂停"),
        "{text}"
    );
    browser.check("account-suspended").await;
    browser.close().await;
    // The API says so too (to another administrator: a code is taken once).
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (jar, _) = p.signed_in(&client, "admin-2").await;
    let account: serde_json::Value = client
        .get(p.url("/api/v1/accounts/clerk-1"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(account["status"], "suspended", "{account}");
    p.server.stop();
}

#[tokio::test]
async fn an_auditor_filters_the_log_and_checks_the_chain() {
    let p = Platform::new(&[
        ("auditor-1", &["auditor@province"]),
        ("admin-1", &["platform_admin@province"]),
    ])
    .await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    // An administrator is refused the log, and has no such section.
    browser.goto(&p.url("/audit")).await;
    p.sign_in(&browser, "admin-1").await;
    let text = browser.text().await;
    assert!(text.contains("无权访问"), "{text}");
    browser.check_answered("audit-refused", 403).await;
    let links = browser
        .run("return document.querySelectorAll(\"header nav a[href='/audit']\").length;")
        .await;
    assert_eq!(links, serde_json::json!(0));
    browser.close().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&p.url("/audit")).await;
    p.sign_in(&browser, "auditor-1").await;
    assert_eq!(browser.path().await, "/audit");
    let text = browser.text().await;
    assert!(text.contains("auth.sign_in"), "{text}");
    browser.check("audit").await;
    // Filtered by actor and action: only the administrator's sign-ins.
    browser.fill("actor", "admin-1").await;
    browser.fill("action", "auth.sign_in").await;
    let today = ronghe::calendar::today().to_string();
    set_value(&browser, "since", &today).await;
    set_value(&browser, "until", &today).await;
    browser.click("form.filters button[type=submit]").await;
    assert!(browser.path().await.contains("actor=admin-1"));
    let actors = browser
        .run("return [...document.querySelectorAll('tbody tr td:nth-child(3)')].map(td => td.textContent);")
        .await;
    let actors = actors.as_array().unwrap();
    assert!(
        !actors.is_empty() && actors.iter().all(|a| a == "admin-1"),
        "{actors:?}"
    );
    let targets = browser.text().await;
    assert!(
        targets.contains("account:admin-1") && !targets.contains("account:auditor-1"),
        "{targets}"
    );
    browser.check("audit-filtered").await;
    // A range with nothing in it says what to do next; a date that is none is named.
    browser
        .goto(&p.url("/audit?since=2001-01-01&until=2001-01-31"))
        .await;
    assert!(browser.text().await.contains("没有符合条件的审计事件"));
    browser.check("audit-empty").await;
    browser.goto(&p.url("/audit?since=yesterday")).await;
    let text = browser.text().await;
    assert!(text.contains("since："), "{text}");
    browser.check_answered("audit-bad-filter", 400).await;
    // The chain check.
    browser.goto(&p.url("/audit")).await;
    browser.click("form[action='/audit/verify'] button").await;
    assert!(browser.path().await.starts_with("/audit/verify"));
    let result = browser
        .run("return document.getElementById('check-result').textContent;")
        .await;
    assert!(result.as_str().unwrap().contains("审计链完整"), "{result}");
    browser.check("audit-verified").await;
    browser.close().await;
    p.server.stop();
}

#[tokio::test]
async fn a_notice_before_its_notice_period_is_refused_and_a_valid_one_is_listed() {
    let p = Platform::new(&[("eng-1", &["engineer@region:520100"])]).await;
    let store = p.store().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&p.url("/notices")).await;
    p.sign_in(&browser, "eng-1").await;
    assert_eq!(browser.path().await, "/notices");
    let today = ronghe::calendar::today();
    let earliest = NoticeKind::InterfaceChange
        .earliest_effective(ronghe::calendar::Calendar::embedded(), today)
        .unwrap();
    let text = browser.text().await;
    assert!(
        text.contains(&earliest.to_string()) && text.contains("还没有变更公告"),
        "the earliest date {earliest} is not shown: {text}"
    );
    // Only the engineer's own city's systems are offered.
    let offered = browser
        .run("return [...document.querySelectorAll('#system_id option')].map(o => o.value);")
        .await;
    assert_eq!(offered, serde_json::json!(["", GY_SYSTEM]));
    browser.check("notices").await;
    // Too early: refused on the form, the field named, what was typed kept, nothing written.
    let too_early = earliest.pred_opt().unwrap();
    set_value(&browser, "system_id", GY_SYSTEM).await;
    set_value(&browser, "kind", "interface_change").await;
    browser.fill("title", "写回接口升级到 v2").await;
    set_value(&browser, "effective_on", &too_early.to_string()).await;
    browser.click("#publish button[type=submit]").await;
    let text = browser.text().await;
    assert!(
        text.contains("effective_on：") && text.contains(&format!("最早生效日期为 {earliest}")),
        "{text}"
    );
    let kept = browser
        .run("return [document.getElementById('title').value, document.getElementById('effective_on').value, document.getElementById('effective_on').getAttribute('aria-invalid')];")
        .await;
    assert_eq!(
        kept,
        serde_json::json!(["写回接口升级到 v2", too_early.to_string(), "true"])
    );
    browser.check_answered("notice-refused", 422).await;
    assert!(store.list_notices(None, None).await.unwrap().is_empty());
    // On the earliest date: published and listed.
    set_value(&browser, "effective_on", &earliest.to_string()).await;
    browser.click("#publish button[type=submit]").await;
    let notices = store.list_notices(None, None).await.unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(
        browser.path().await,
        format!("/notices?published={}", notices[0].id)
    );
    let text = browser.text().await;
    assert!(
        text.contains("已发布变更公告") && text.contains("写回接口升级到 v2"),
        "{text}"
    );
    browser.check("notices-published").await;
    // The rules, none published yet.
    browser.click("a[href='/rules']").await;
    assert!(browser.text().await.contains("没有已公布的采集规则"));
    browser.check("rules").await;
    browser.close().await;
    p.server.stop();
}

/// Every new form refuses a missing or a wrong CSRF token (403, a page) and changes nothing;
/// with the token, a form does its act.
#[tokio::test]
async fn admin_forms_need_the_csrf_token() {
    let p = Platform::new(&[
        ("admin-1", &["platform_admin@province"]),
        ("clerk-1", &["operator@province"]),
    ])
    .await;
    let store = p.store().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Without a session, each new page sends the browser to sign in first.
    for page in [
        "/notices",
        "/rules",
        "/accounts",
        "/accounts/clerk-1",
        "/audit",
        "/audit/verify",
    ] {
        let answer = client.get(p.url(page)).send().await.unwrap();
        assert_eq!(answer.status(), 303, "{page}");
        let next: String = url::form_urlencoded::byte_serialize(page.as_bytes()).collect();
        assert_eq!(
            answer.headers()["location"],
            format!("/sign-in?next={next}").as_str()
        );
    }
    let (jar, csrf) = p.signed_in(&client, "admin-1").await;
    let post = |path: &str, pairs: &[(&str, &str)]| {
        client
            .post(p.url(path))
            .header("cookie", &jar)
            .header("content-type", FORM)
            .body(form(pairs))
            .send()
    };
    let grant = store.account_grants("clerk-1", false).await.unwrap()[0]
        .id
        .to_string();
    let effective = NoticeKind::InterfaceChange
        .earliest_effective(ronghe::calendar::Calendar::embedded(), ronghe::calendar::today())
        .unwrap()
        .to_string();
    let registry = format!(
        "credit_code,name,division\n{},贵阳市市场监督管理局,520100\n",
        credit_code("520100", 1)
    );
    let forms: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "/accounts/clerk-1/status",
            vec![("status", "suspended"), ("reason", "测试")],
        ),
        (
            "/accounts/clerk-1/grants",
            vec![("role", "engineer"), ("scope", "province"), ("reason", "测试")],
        ),
        (
            "/accounts/clerk-1/grants/revoke",
            vec![("grant", &grant), ("reason", "测试")],
        ),
        ("/accounts/clerk-1/enrolment", vec![]),
        (
            "/notices",
            vec![
                ("system_id", GY_SYSTEM),
                ("kind", "interface_change"),
                ("title", "测试公告"),
                ("effective_on", &effective),
            ],
        ),
        ("/orgs", vec![("csv", &registry)]),
    ];
    for (path, pairs) in &forms {
        let mut forged = pairs.clone();
        forged.push(("csrf_token", "forged"));
        for sent in [pairs.clone(), forged] {
            let refused = post(path, &sent).await.unwrap();
            assert_eq!(refused.status(), 403, "{path} {sent:?}");
            assert!(
                refused.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
        }
    }
    // Nothing changed.
    assert_eq!(status_of(&store, "clerk-1").await, AccountStatus::Active);
    let grants = store.account_grants("clerk-1", false).await.unwrap();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert!(store.list_notices(None, None).await.unwrap().is_empty());
    assert!(store.list_orgs(None).await.unwrap().is_empty());
    // With the token: done, and the answer sends the browser on.
    let mut with_token = forms[0].1.clone();
    with_token.push(("csrf_token", &csrf));
    let done = post(forms[0].0, &with_token).await.unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "/accounts/clerk-1?done=status");
    assert_eq!(status_of(&store, "clerk-1").await, AccountStatus::Suspended);
    let mut with_token = forms[4].1.clone();
    with_token.push(("csrf_token", &csrf));
    let done = post(forms[4].0, &with_token).await.unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(store.list_notices(None, None).await.unwrap().len(), 1);
    let mut with_token = forms[5].1.clone();
    with_token.push(("csrf_token", &csrf));
    let done = post(forms[5].0, &with_token).await.unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(store.list_orgs(None).await.unwrap().len(), 1);
    p.server.stop();
}

/// A credit code of an organ (`11`) in `region`, organisation number `n`.
fn credit_code(region: &str, n: u32) -> String {
    let body = format!("11{region}MB{n:07}");
    format!("{body}{}", ronghe_adapters::sim::data::uscc_check(&body))
}

/// 部门库 (issue 16): a regional administrator pastes a CSV; a line with a wrong division is
/// named on the form, what was pasted is kept and nothing is written; an agency of another city
/// is refused; the corrected text is imported and listed, a synthetic row marked as such. An
/// operator reads the registry but gets no form, and the form's POST refuses them.
#[tokio::test]
async fn a_regional_administrator_imports_the_agencies_of_their_city() {
    let p = Platform::new(&[
        ("admin-gy", &["regional_admin@region:520100"]),
        ("clerk-1", &["operator@province"]),
        ("clerk-2", &["operator@province"]),
    ])
    .await;
    let store = p.store().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&p.url("/orgs")).await;
    p.sign_in(&browser, "admin-gy").await;
    assert_eq!(browser.path().await, "/orgs");
    assert!(browser.text().await.contains("部门库还是空的"));
    browser.check("orgs-empty").await;
    let header = "统一社会信用代码,机构名称,行政区划,上级机构,别名,示例数据";
    let (city, county) = (credit_code("520100", 1), credit_code("520102", 2));
    let bad = format!(
        "{header}\n{city},贵阳市市场监督管理局,520100,,,否\n{county},南明区市场监督管理局,5201,{city},南明区市监局,是\n"
    );
    browser.fill("csv", &bad).await;
    browser.click("#import button[type=submit]").await;
    let text = browser.text().await;
    assert!(text.contains("第 2 行 division："), "{text}");
    let kept = browser.run("return document.getElementById('csv').value;").await;
    assert!(
        kept.as_str().unwrap().contains("南明区市场监督管理局,5201,"),
        "{kept}"
    );
    browser.check_answered("orgs-refused", 422).await;
    assert!(store.list_orgs(None).await.unwrap().is_empty());

    let zunyi = format!(
        "{header}\n{},遵义市市场监督管理局,520300,,,否\n",
        credit_code("520300", 3)
    );
    browser.fill("csv", &zunyi).await;
    browser.click("#import button[type=submit]").await;
    assert!(
        browser
            .text()
            .await
            .contains("第 1 行: 遵义市市场监督管理局 in 520300 lies outside the scope")
    );
    browser.check_answered("orgs-out-of-scope", 403).await;
    assert!(store.list_orgs(None).await.unwrap().is_empty());

    browser.fill("csv", &bad.replace(",5201,", ",520102,")).await;
    browser.click("#import button[type=submit]").await;
    assert_eq!(browser.path().await, "/orgs?created=2&updated=0&revision=1");
    let text = browser.text().await;
    assert!(
        text.contains("新增 2 个机构") && text.contains("南明区市监局"),
        "{text}"
    );
    assert_eq!(text.matches("（示例数据，非真实机构）").count(), 1, "{text}");
    browser.check("orgs-imported").await;
    assert_eq!(store.list_orgs(None).await.unwrap().len(), 2);

    // The operator reads, searches, and has no form.
    p.open_as(&browser, "clerk-1", "/orgs").await;
    assert_eq!(
        browser.run("return document.getElementById('import');").await,
        serde_json::Value::Null
    );
    browser.goto(&p.url("/orgs?search=南明")).await;
    let rows = browser
        .run("return document.querySelectorAll('table.list tbody tr').length;")
        .await;
    assert_eq!(rows, serde_json::json!(1));
    browser.check("orgs-search").await;
    browser.close().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (jar, csrf) = p.signed_in(&client, "clerk-2").await;
    let refused = client
        .post(p.url("/orgs"))
        .header("cookie", &jar)
        .header("content-type", FORM)
        .body(form(&[("csv", &zunyi), ("csrf_token", &csrf)]))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(store.list_orgs(None).await.unwrap().len(), 2);
    p.server.stop();
}

/// The lists that grow come 50 a page: 55 notices are two pages, and the audit log (which
/// each of them wrote to) pages on by seq.
#[tokio::test]
async fn notices_and_the_audit_log_come_fifty_a_page() {
    let p = Platform::new(&[
        ("admin-1", &["platform_admin@province"]),
        ("auditor-1", &["auditor@province"]),
    ])
    .await;
    let store = p.store().await;
    let today = ronghe::calendar::today();
    for n in 1..=55 {
        let notice = ronghe::notices::NewNotice {
            system_id: GY_SYSTEM.to_owned(),
            kind: NoticeKind::FunctionChange,
            title: format!("第{n:02}号公告"),
            body: String::new(),
            published_on: None,
            effective_on: today + chrono::Days::new(30),
            emergency_reason: None,
        };
        store
            .insert_notice(&notice, today, today + chrono::Days::new(7), "test")
            .await
            .unwrap();
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |jar: String, path: String| {
        let request = client.get(p.url(&path)).header("cookie", jar).send();
        async move {
            let answer = request.await.unwrap();
            assert_eq!(answer.status(), 200, "{path}");
            // As the browser reads the addresses (handlebars escapes `=` and `&`).
            answer
                .text()
                .await
                .unwrap()
                .replace("&#x3D;", "=")
                .replace("&amp;", "&")
        }
    };
    let (admin, _) = p.signed_in(&client, "admin-1").await;
    let first = get(admin.clone(), "/notices".to_owned()).await;
    assert!(
        first.contains("共 55 条公告，第 1 / 2 页")
            && first.contains("第55号公告")
            && !first.contains("第05号公告"),
        "{first}"
    );
    assert!(first.contains("href=\"/notices?page=2\""), "{first}");
    let second = get(admin, "/notices?page=2".to_owned()).await;
    assert!(
        second.contains("第 2 / 2 页") && second.contains("第05号公告") && !second.contains("第55号公告"),
        "{second}"
    );
    // The audit log: 50 events, then the next page after the last one's seq.
    let (auditor, _) = p.signed_in(&client, "auditor-1").await;
    let first = get(auditor.clone(), "/audit?action=notice.publish".to_owned()).await;
    assert_eq!(first.matches("<tr><td class=\"num\">").count(), 50, "{first}");
    let next = first
        .split("href=\"")
        .find(|s| s.starts_with("/audit?") && s.contains("after_seq"))
        .and_then(|s| s.split('"').next())
        .expect("a link to the next page")
        .to_owned();
    let second = get(auditor, next).await;
    assert_eq!(second.matches("<tr><td class=\"num\">").count(), 5, "{second}");
    assert!(second.contains("第一页") && !second.contains("rel=\"next\""));
    p.server.stop();
}

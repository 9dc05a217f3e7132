//! The web console (issue 15) in a real headless Chromium against a real `ronghe serve`:
//! signing in with password and TOTP, what each person sees by role and scope, and the
//! refusals (no session, no CSRF token, another city's system). Every page visited passes
//! `Browser::check` (no console errors, no failed requests, labels and contrast) and leaves a
//! screenshot in `target/tmp/console-screenshots/`. Also, without a browser, the HTTP edges of
//! the console: the form tokens and the security headers.

mod common;

use common::browser::Browser;
use common::console::{FORM, GY_SYSTEM, Platform, ZY_SYSTEM, form};

#[tokio::test]
async fn a_regional_administrator_signs_in_and_sees_only_their_city() {
    let p = Platform::new(&[("gy-admin", &["regional_admin@region:520100"])]).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    // No session: the page sends the browser to the sign-in form, and back afterwards.
    browser.goto(&p.url("/systems")).await;
    assert_eq!(browser.path().await, "/sign-in?next=%2Fsystems");
    browser.check("sign-in").await;
    // A wrong code: the form again, with the reason, and no session.
    browser.fill("account", "gy-admin").await;
    browser.fill("password", common::STAFF_PASSWORD).await;
    browser.fill("code", "000000").await;
    browser.click("#sign-in button[type=submit]").await;
    let text = browser.text().await;
    assert!(text.contains("账号、密码或动态口令不正确"), "{text}");
    browser.check_answered("sign-in-refused", 401).await;
    // Both factors: signed in, on the page asked for.
    p.sign_in(&browser, "gy-admin").await;
    assert_eq!(browser.path().await, "/systems", "{}", browser.text().await);
    let text = browser.text().await;
    assert!(
        text.contains(GY_SYSTEM) && text.contains("市场监管许可系统"),
        "{text}"
    );
    assert!(
        !text.contains(ZY_SYSTEM),
        "another city's system is listed: {text}"
    );
    assert!(text.contains("共 1 个系统"), "{text}");
    browser.check("systems").await;
    // Filters and search narrow the list; an empty result says what to do next.
    browser.goto(&p.url("/systems?status=live")).await;
    let text = browser.text().await;
    assert!(text.contains("没有符合条件的系统"), "{text}");
    browser.check("systems-empty").await;
    browser.goto(&p.url("/systems?q=%E5%B8%82%E5%9C%BA")).await;
    assert!(browser.text().await.contains(GY_SYSTEM));
    // A system's page; another city's is "not found" (its existence is not told).
    browser.goto(&p.url(&format!("/systems/{GY_SYSTEM}"))).await;
    let text = browser.text().await;
    assert!(
        text.contains("贵阳市市场监督管理局") && text.contains("未评估"),
        "{text}"
    );
    browser.check("system").await;
    browser.goto(&p.url(&format!("/systems/{ZY_SYSTEM}"))).await;
    let text = browser.text().await;
    assert!(
        text.contains("未找到") && !text.contains("遵义市自然资源局"),
        "{text}"
    );
    browser.check_answered("system-out-of-scope", 404).await;
    // The overview counts this city's systems only.
    browser.goto(&p.url("/")).await;
    let text = browser.text().await;
    assert!(text.contains("系统（共 1 个）"), "{text}");
    browser.check("overview").await;
    browser.goto(&p.url("/me")).await;
    let text = browser.text().await;
    assert!(text.contains("gy-admin") && text.contains("区域管理员"), "{text}");
    assert!(
        !text.contains("13800000000"),
        "the mobile number is shown unmasked: {text}"
    );
    browser.check("me").await;
    // Signing out ends the session: the pages ask for a sign-in again.
    browser.click("header form button").await;
    assert!(browser.path().await.starts_with("/sign-in"));
    browser.goto(&p.url("/")).await;
    assert!(browser.path().await.starts_with("/sign-in"), "still signed in");
    browser.close().await;
    p.server.stop();
}

#[tokio::test]
async fn an_expert_sees_no_systems_section_and_is_refused_the_systems_page() {
    let p = Platform::new(&[("expert-a", &["expert@province"])]).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&p.url("/sign-in")).await;
    p.sign_in(&browser, "expert-a").await;
    assert_eq!(browser.path().await, "/");
    let text = browser.text().await;
    assert!(
        !text.contains("系统（共"),
        "an expert sees the systems section: {text}"
    );
    assert!(!text.contains("数据共享交换"), "{text}");
    let nav = browser
        .run("return [...document.querySelectorAll('header nav a')].map(a => a.textContent);")
        .await;
    // The published notices and rules, and the organisations registry, are everyone's (as
    // `GET /api/v1/notices` and `GET /api/v1/orgs`).
    assert_eq!(
        nav,
        serde_json::json!(["总览", "评估", "公告与规则", "部门库", "我的账号"])
    );
    browser.check("overview-expert").await;
    browser.goto(&p.url("/systems")).await;
    let text = browser.text().await;
    assert!(text.contains("无权访问"), "{text}");
    browser.check_answered("systems-refused", 403).await;
    browser.close().await;
    p.server.stop();
}

/// The HTTP edges a browser does not show: a form without its token is refused and changes
/// nothing, and every console answer carries the security headers.
#[tokio::test]
async fn console_forms_need_their_tokens_and_pages_carry_a_strict_csp() {
    let p = Platform::new(&[("operator-1", &["operator@province"])]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(p.url("/sign-in")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("ronghe_form="))
        .expect("the form's cookie");
    let token = cookie.trim_start_matches("ronghe_form=").to_owned();
    let sign_in = |token: &str, cookie: Option<&str>| {
        let mut request = client
            .post(p.url("/sign-in"))
            .header("content-type", FORM)
            .body(form(&[
                ("account", "operator-1"),
                ("password", common::STAFF_PASSWORD),
                ("code", &p.code("operator-1")),
                ("csrf_token", token),
            ]));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    // Another site's form (no cookie, or a token that does not match it): refused, no session.
    let forged = sign_in("forged", Some(&cookie)).await.unwrap();
    assert_eq!(forged.status(), 403);
    assert!(
        forged
            .headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().starts_with("ronghe_session="))
    );
    assert_eq!(sign_in(&token, None).await.unwrap().status(), 403);
    // The real form signs in.
    let signed = sign_in(&token, Some(&cookie)).await.unwrap();
    assert_eq!(signed.status(), 303);
    let cookies: Vec<String> = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .filter(|c| c.starts_with("ronghe_session=") || c.starts_with("ronghe_csrf="))
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let jar = cookies.join("; ");
    // Sign-out without the session's CSRF token: refused with a page, the session lives on.
    let refused = client
        .post(p.url("/sign-out"))
        .header("cookie", &jar)
        .header("content-type", FORM)
        .body(form(&[("csrf_token", "wrong")]))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let me = client
        .get(p.url("/me"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "the session ended without its token");
    assert_eq!(me.headers()["cache-control"], "no-store");
    // With it: signed out.
    let csrf = jar
        .split("; ")
        .find_map(|c| c.strip_prefix("ronghe_csrf="))
        .unwrap()
        .to_owned();
    let out = client
        .post(p.url("/sign-out"))
        .header("cookie", &jar)
        .header("content-type", FORM)
        .body(form(&[("csrf_token", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let after = client
        .get(p.url("/me"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303, "the session outlived sign-out");
    p.server.stop();
}

/// The expert's workspace (Art. 25) in the browser: an expert declares, scores (sealed: no
/// other expert's scores or reasons on the page), the chair closes the round and gives the
/// verdict, and the report page shows the mode the store recorded.
#[tokio::test]
async fn experts_declare_and_score_sealed_and_the_chair_gives_the_verdict() {
    use ronghe::assessments::{Command, NewExpert};
    use ronghe_assessment::rubric::{DEFAULT_RUBRIC, Rubric};
    let p = Platform::new(&[
        ("chair-a", &["expert@province"]),
        ("expert-a", &["expert@province"]),
        ("expert-b", &["expert@province"]),
        ("expert-c", &["expert@province"]),
        ("expert-d", &["expert@province"]),
    ])
    .await;
    let store = p.store().await;
    let rubric = Rubric::builtin();
    store
        .register_rubric(&rubric, DEFAULT_RUBRIC, "test")
        .await
        .unwrap();
    let id = store
        .open_assessment(GY_SYSTEM, ("ronghe-default", 1), "chair-a", "test")
        .await
        .unwrap()
        .assessment
        .id;
    // Four members; expert d never submits, so the chair closes the round once three have.
    for expert in ["expert-a", "expert-b", "expert-c", "expert-d"] {
        let new = NewExpert {
            id: expert.to_owned(),
            name: format!("{expert} 专家"),
            department: "省大数据局".to_owned(),
        };
        store
            .act_on_assessment(&id, "chair-a", Command::AddExpert(new))
            .await
            .unwrap();
    }
    // Expert b declares and scores through the store (as the API would), with a reason no
    // other expert may read before the round closes.
    let criteria: Vec<String> = rubric.spec.criteria.iter().map(|c| c.id.clone()).collect();
    let submit = |expert: &'static str, reason: &'static str| {
        let store = store.clone();
        let id = id.clone();
        let criteria = criteria.clone();
        async move {
            store
                .act_on_assessment(
                    &id,
                    expert,
                    Command::Declare {
                        expert: expert.to_owned(),
                        conflicts: Vec::new(),
                    },
                )
                .await
                .unwrap();
            let mut sheet = ronghe_assessment::panel::Sheet::default();
            for c in &criteria {
                sheet.scores.insert(c.clone(), Some(2));
                sheet.reasons.insert(c.clone(), reason.to_owned());
            }
            store
                .act_on_assessment(
                    &id,
                    expert,
                    Command::Submit {
                        expert: expert.to_owned(),
                        sheet,
                    },
                )
                .await
                .unwrap();
        }
    };
    submit("expert-b", "乙专家的密封理由").await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&p.url("/sign-in")).await;
    p.sign_in(&browser, "expert-a").await;
    // The overview says what waits for this expert.
    let text = browser.text().await;
    assert!(
        text.contains("待我办理") && text.contains("第 1 轮评分"),
        "{text}"
    );
    browser.click(&format!("a[href='/assessments/{id}']")).await;
    let text = browser.text().await;
    assert!(
        text.contains("声明利益冲突") && !text.contains("第 1 轮评分表"),
        "{text}"
    );
    assert!(
        !text.contains("乙专家的密封理由"),
        "another expert's reason is shown: {text}"
    );
    browser.check("assessment-declare").await;
    // Neither a tie nor "none": refused, the field named, nothing recorded.
    browser.click("form[action$='/conflicts'] button").await;
    let text = browser.text().await;
    assert!(text.contains("ties：请逐行填写"), "{text}");
    browser.check_answered("assessment-declare-refused", 422).await;
    let view = store.assessment(&id).await.unwrap();
    let me = view.experts.iter().find(|e| e.id == "expert-a").unwrap();
    assert!(me.conflicts.is_none(), "a refused declaration was recorded");
    browser
        .client
        .find(fantoccini::Locator::Id("none"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.click("form[action$='/conflicts'] button").await;
    let text = browser.text().await;
    assert!(text.contains("第 1 轮评分表"), "{text}");
    browser.check("assessment-sheet").await;
    // A sheet with one criterion left out: refused with that criterion named, the other
    // answers kept; then the whole sheet.
    for c in &criteria[1..] {
        browser
            .client
            .find(fantoccini::Locator::Id(&format!("score-{c}-3")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    browser
        .fill(&format!("reason-{}", criteria[1]), "甲专家的理由")
        .await;
    browser.click("#sheet button[type=submit]").await;
    let text = browser.text().await;
    assert!(
        text.contains(&criteria[0]),
        "the missing criterion is not named: {text}"
    );
    browser.check_answered("assessment-sheet-refused", 422).await;
    let kept = browser
        .run(&format!(
            "return document.getElementById('score-{}-3').checked;",
            criteria[1]
        ))
        .await;
    assert_eq!(kept, serde_json::json!(true), "the answers given were lost");
    browser
        .client
        .find(fantoccini::Locator::Id(&format!("score-{}-4", criteria[0])))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.click("#sheet button[type=submit]").await;
    let text = browser.text().await;
    assert!(text.contains("您已提交本轮评分"), "{text}");
    assert!(!text.contains("乙专家的密封理由"), "{text}");
    browser.check("assessment-submitted").await;
    // The chair sees who has submitted, never what, and closes once three have.
    browser.click("header form button").await;
    p.sign_in(&browser, "chair-a").await;
    browser.goto(&p.url(&format!("/assessments/{id}"))).await;
    let text = browser.text().await;
    assert!(text.contains("已提交") && text.contains("未提交"), "{text}");
    assert!(
        !text.contains("乙专家的密封理由") && !text.contains("甲专家的理由"),
        "the chair reads sealed reasons: {text}"
    );
    browser.check("assessment-chair").await;
    submit("expert-c", "丙专家的理由").await;
    browser.goto(&p.url(&format!("/assessments/{id}"))).await;
    browser.click("form[action$='/close'] button").await;
    let text = browser.text().await;
    assert!(
        text.contains("第 1 轮结果（匿名）") && text.contains("乙专家的密封理由"),
        "{text}"
    );
    assert!(text.contains("主持人：给出结论"), "{text}");
    browser.check("assessment-closed").await;
    browser.click("form[action$='/verdict'] button").await;
    browser
        .click(&format!("a[href='/assessments/{id}/report']"))
        .await;
    let report = store.verdict_report(&id).await.unwrap();
    let text = browser.text().await;
    assert!(
        text.contains(report.verdict.mode.label()),
        "the report lacks the mode: {text}"
    );
    browser.check("assessment-report").await;
    browser.close().await;
    p.server.stop();
}

/// Waits (30 s at most) until `script` returns something other than null in the page, and
/// returns it.
async fn wait_for(browser: &Browser, script: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(value) = browser.client.execute(script, Vec::new()).await
            && !value.is_null()
        {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing after 30 s: {script}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A passkey registered on "my account" with Chromium's virtual authenticator, then used with
/// the password to sign in instead of the TOTP code.
#[tokio::test]
async fn a_passkey_is_registered_and_signs_in() {
    let p = Platform::new(&[("pk-user", &["engineer@province"])]).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.virtual_authenticator().await;
    browser.goto(&p.url("/sign-in?next=/me")).await;
    p.sign_in(&browser, "pk-user").await;
    assert_eq!(browser.path().await, "/me");
    assert!(browser.text().await.contains("尚未注册通行密钥"));
    browser.fill("passkey-name", "测试电脑").await;
    browser
        .client
        .find(fantoccini::Locator::Css("#passkey-register button"))
        .await
        .expect("the registration form is shown (the script runs)")
        .click()
        .await
        .unwrap();
    let outcome = wait_for(
        &browser,
        "const s = document.getElementById('passkey-register-status');
         if (s && s.textContent) return 'failed: ' + s.textContent;
         return document.body.innerText.includes('测试电脑') && !document.getElementById('passkey-name').value.includes('测试')
           ? 'registered' : null;",
    )
    .await;
    assert_eq!(outcome, serde_json::json!("registered"));
    browser.check("me-passkey").await;
    let store = p.store().await;
    assert_eq!(store.passkeys("pk-user").await.unwrap().len(), 1);
    // Signed out, then in again with the password and the passkey (no code).
    browser.click("header form button").await;
    browser.fill("account", "pk-user").await;
    browser.fill("password", common::STAFF_PASSWORD).await;
    browser
        .client
        .find(fantoccini::Locator::Id("passkey-sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let outcome = wait_for(
        &browser,
        "const s = document.getElementById('passkey-status');
         if (s && s.textContent) return 'failed: ' + s.textContent;
         return location.pathname === '/' && document.readyState === 'complete' ? 'signed in' : null;",
    )
    .await;
    assert_eq!(outcome, serde_json::json!("signed in"));
    assert!(browser.text().await.contains("pk-user"));
    browser.check("overview-after-passkey").await;
    browser.close().await;
    p.server.stop();
}

/// A project manager records a milestone's finish: the plan's status and its Gantt chart turn
/// from red to green. Another city's plan is not found; an expert has no plan pages.
#[tokio::test]
async fn a_project_manager_records_progress_and_the_plan_turns_green() {
    use ronghe::calendar::Calendar;
    let p = Platform::new(&[("pm-gy", &["project_manager@region:520100"])]).await;
    let store = p.store().await;
    let calendar = Calendar::embedded();
    // A one-milestone plan that started about six weeks ago (its first working day on or after
    // that), baselined as it stood on its first day: the mapping is long overdue.
    let mut start = ronghe::calendar::today() - chrono::Days::new(42);
    while !calendar.is_working_day(start).unwrap() {
        start = start.succ_opt().unwrap();
    }
    let plan = format!(
        "[plan]\nsystem = \"{GY_SYSTEM}\"\nmode = \"compatible_transition\"\nstart = \"{start}\"\nowner = \"张经理\"\n\n\
         [[milestones]]\nid = \"mapping\"\nphase = \"映射\"\nname = \"映射配置评审通过\"\nowner = \"接入工程师\"\nduration_working_days = 3\n"
    );
    ronghe::planning::import(&store, &plan, Some(GY_SYSTEM), "test")
        .await
        .unwrap();
    let progress = ronghe::plans::Progress {
        started_on: Some(start),
        finished_on: None,
    };
    ronghe::planning::record(&store, GY_SYSTEM, "mapping", &progress, "", start, "test")
        .await
        .unwrap();
    let dues = ronghe::plans::baseline_dues(&store.plan(GY_SYSTEM).await.unwrap(), start, calendar).unwrap();
    let due = dues["mapping"];
    store
        .add_baseline(GY_SYSTEM, &dues, "王处长", "初始基线", "test")
        .await
        .unwrap();
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&p.url("/sign-in?next=/plans")).await;
    p.sign_in(&browser, "pm-gy").await;
    let text = browser.text().await;
    assert!(text.contains(GY_SYSTEM) && text.contains("红 滞后"), "{text}");
    browser.check("plans").await;
    browser.click(&format!("a[href='/plans/{GY_SYSTEM}']")).await;
    let red = "#c62828";
    let gantt = browser
        .run("return document.querySelector('.gantt svg').outerHTML;")
        .await;
    assert!(gantt.as_str().unwrap().contains(red), "no red bar: {gantt}");
    browser.check("plan-red").await;
    // A finish in the future is refused with the field named, and nothing is recorded.
    let tomorrow = ronghe::calendar::today() + chrono::Days::new(1);
    // The date picker is set as its value (typing into it depends on the browser's locale).
    browser
        .run(&format!(
            "document.getElementById('finished-mapping').value = '{tomorrow}'; return null;"
        ))
        .await;
    browser.click("#milestone-mapping form button").await;
    let text = browser.text().await;
    assert!(text.contains("finished_on：只能记录已发生的进度"), "{text}");
    browser.check_answered("plan-refused", 422).await;
    assert_eq!(
        store.plan(GY_SYSTEM).await.unwrap().progress["mapping"].finished_on,
        None
    );
    browser
        .run(&format!(
            "document.getElementById('finished-mapping').value = '{due}'; return null;"
        ))
        .await;
    browser.fill("note-mapping", "评审会如期通过").await;
    browser.click("#milestone-mapping form button").await;
    assert_eq!(browser.path().await, format!("/plans/{GY_SYSTEM}"));
    let rag = browser
        .run("return document.getElementById('plan-rag').textContent;")
        .await;
    assert_eq!(rag, serde_json::json!("绿 正常"));
    let gantt = browser
        .run("return document.querySelector('.gantt svg').outerHTML;")
        .await;
    assert!(!gantt.as_str().unwrap().contains(red), "still a red bar: {gantt}");
    browser.check("plan-green").await;
    browser
        .click(&format!("a[href='/plans/{GY_SYSTEM}/report']"))
        .await;
    assert!(browser.text().await.contains("映射配置评审通过"));
    browser.check("plan-report").await;
    // Another city's plan: not found.
    browser.goto(&p.url(&format!("/plans/{ZY_SYSTEM}"))).await;
    assert!(browser.text().await.contains("未找到"));
    browser.close().await;
    p.server.stop();
}

/// A new person's first visit from the enrolment link: a mismatched and a weak password are
/// refused on the form, then the password is set, the authenticator added from the page's
/// secret, the account activated by a code; the person then signs in. A used link is a dead end.
#[tokio::test]
async fn a_new_person_enrols_from_the_link_and_signs_in() {
    let p = Platform::new(&[]).await;
    let store = p.store().await;
    let link = common::create_account(&store, "newcomer", &["operator@region:520100"]).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let page = p.url(&format!("/enrol?token={}", link.token));
    browser.goto(&page).await;
    browser.check("enrol").await;
    let strong = "Neues-Passwort-2026";
    browser.fill("password", strong).await;
    browser.fill("password_again", "something-else").await;
    browser.click("#enrol-password button").await;
    assert!(browser.text().await.contains("两次输入的密码不一致"));
    browser.check_answered("enrol-mismatch", 422).await;
    browser.fill("password", "short").await;
    browser.fill("password_again", "short").await;
    browser.click("#enrol-password button").await;
    let text = browser.text().await;
    assert!(
        text.contains("password："),
        "the policy's refusal names no field: {text}"
    );
    browser.check_answered("enrol-weak", 422).await;
    browser.fill("password", strong).await;
    browser.fill("password_again", strong).await;
    browser.click("#enrol-password button").await;
    let secret = browser
        .client
        .find(fantoccini::Locator::Id("totp-secret"))
        .await
        .expect("the authenticator's secret is shown")
        .text()
        .await
        .unwrap();
    let qr = browser
        .run("return document.querySelector('.qr svg') !== null;")
        .await;
    assert_eq!(qr, serde_json::json!(true), "no QR code");
    browser.check("enrol-authenticator").await;
    // Playing the authenticator app with the secret the page shows.
    let key = ronghe::access::secret::totp_secret_from_base32(&secret).unwrap();
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    browser.fill("code", "000000").await;
    browser.click("#enrol-confirm button").await;
    assert!(
        browser.text().await.contains("code"),
        "a wrong code is not refused on the form"
    );
    browser.check_answered("enrol-wrong-code", 422).await;
    browser
        .fill(
            "code",
            &ronghe::access::secret::totp_code(&key, "newcomer", now).unwrap(),
        )
        .await;
    browser.click("#enrol-confirm button").await;
    assert!(browser.text().await.contains("已启用"));
    browser.check("enrol-done").await;
    // The link is used up.
    browser.goto(&page).await;
    browser.fill("password", strong).await;
    browser.fill("password_again", strong).await;
    browser.click("#enrol-password button").await;
    assert!(browser.text().await.contains("启用链接无效"));
    browser.check_answered("enrol-used", 410).await;
    // And the person signs in with the password and the next code.
    browser.goto(&p.url("/sign-in")).await;
    browser.fill("account", "newcomer").await;
    browser.fill("password", strong).await;
    let code = ronghe::access::secret::totp_code(&key, "newcomer", now + 30).unwrap();
    browser.fill("code", &code).await;
    browser.click("#sign-in button[type=submit]").await;
    assert_eq!(browser.path().await, "/");
    browser.close().await;
    p.server.stop();
}

//! Headless Chromium for the console's browser tests, driven through chromedriver (WebDriver)
//! with fantoccini. Each `Browser` has its own chromedriver process, profile directory and
//! session; `check` runs the checks every visited page must pass and keeps a screenshot.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Where the screenshots of the visited pages are kept (a test artifact).
pub fn artifacts() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_TARGET_TMPDIR"), "/console-screenshots"))
}

/// The chromedriver to use: `RONGHE_CHROMEDRIVER`, else `chromedriver` on the PATH. `None`
/// when there is none: the browser tests then skip, except under CI (`CI` set), where
/// scripts/test installs Chromium and its driver and a missing one is a failure.
fn chromedriver() -> Option<PathBuf> {
    let candidate = std::env::var_os("RONGHE_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join("chromedriver"))
                    .find(|path| path.is_file())
            })
        });
    if candidate.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "no chromedriver: scripts/test installs chromium and chromium-driver"
        );
        eprintln!("skipping the browser test: no chromedriver (apt-get install chromium chromium-driver)");
    }
    candidate
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// A chromedriver command fantoccini has no method for: `POST /session/{id}/PATH` with a body.
#[derive(Debug)]
struct SessionPost {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for SessionPost {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/{}", session.unwrap_or_default(), self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

impl Browser {
    /// A fresh headless Chromium, or `None` when no chromedriver is installed (see above).
    pub async fn start() -> Option<Browser> {
        let driver_path = chromedriver()?;
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("its address").port()
        };
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("a profile directory");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1280,900",
                    "--lang=zh-CN",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            },
            "goog:loggingPrefs": { "browser": "ALL" }
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(err) if Instant::now() < deadline => {
                    let _ = err;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => panic!("no WebDriver session within 60 s: {err}"),
            }
        };
        Some(Browser {
            client,
            driver,
            _profile: profile,
        })
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The path (and query) the browser is on.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("the current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The visible text of the page's body.
    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .expect("a body")
            .text()
            .await
            .expect("its text")
    }

    /// Types `value` into the field `#id` (cleared first).
    pub async fn fill(&self, id: &str, value: &str) {
        let field = self
            .client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no field #{id}: {e}"));
        field.clear().await.expect("clear the field");
        field.send_keys(value).await.expect("type into the field");
    }

    /// Clicks the element `css` and waits for the next page to load: the old document gone
    /// (its root element stale), the new one complete.
    pub async fn click(&self, css: &str) {
        let old = self.client.find(Locator::Css("html")).await.expect("a document");
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("nothing matches {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while old.tag_name().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "clicking {css} loaded no page within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        while self.run("return document.readyState;").await != json!("complete") {
            assert!(
                Instant::now() < deadline,
                "the page after {css} did not load within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub async fn run(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// The cells of each row of the table in the section headed `#section`, as shown.
    pub async fn rows(&self, section: &str) -> Vec<Vec<String>> {
        let rows = self
            .run(&format!(
                "return [...document.querySelectorAll('section[aria-labelledby={section}] tbody tr')]
                   .map(tr => [...tr.cells].map(td => td.innerText.trim()));"
            ))
            .await;
        serde_json::from_value(rows).expect("rows of cells")
    }

    /// The browser's console messages since the last call, as `LEVEL message` lines.
    pub async fn console(&self) -> Vec<String> {
        let logs = self
            .client
            .issue_cmd(SessionPost {
                path: "se/log",
                body: json!({"type": "browser"}),
            })
            .await
            .expect("the browser log");
        logs.as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| format!("{} {}", e["level"].as_str().unwrap_or("?"), e["message"]))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Adds Chromium's virtual authenticator (CTAP2, internal, user verified), so that
    /// WebAuthn ceremonies succeed without hardware.
    pub async fn virtual_authenticator(&self) {
        self.client
            .issue_cmd(SessionPost {
                path: "webauthn/authenticator",
                body: json!({
                    "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                    "hasUserVerification": true, "isUserVerified": true
                }),
            })
            .await
            .expect("a virtual authenticator");
    }

    /// What every page the tests visit must pass: no console error or warning (failed
    /// requests and CSP violations are logged there), every request of the page answered
    /// below 400, the accessibility check (`tests/console/a11y.js`); the screenshot is kept
    /// as `NAME.png` among the artifacts.
    pub async fn check(&self, name: &str) {
        self.check_answered(name, 200).await;
    }

    /// As [`check`](Self::check), for a page that is itself a refusal answered with `status`
    /// (a wrong code, a system out of scope): that one answer is expected, nothing else may fail.
    pub async fn check_answered(&self, name: &str, status: u16) {
        let page = self
            .client
            .current_url()
            .await
            .expect("the current URL")
            .to_string();
        let expected =
            format!("{page} - Failed to load resource: the server responded with a status of {status}");
        let noisy: Vec<String> = self
            .console()
            .await
            .into_iter()
            .filter(|line| line.starts_with("SEVERE") || line.starts_with("WARNING"))
            .filter(|line| status == 200 || !line.contains(&expected))
            .collect();
        assert!(noisy.is_empty(), "{name}: the browser console reports {noisy:#?}");
        let answered = self
            .run("return performance.getEntriesByType('navigation')[0].responseStatus;")
            .await;
        assert_eq!(answered, json!(status), "{name}: the page's own status");
        let failed = self
            .run(
                "return performance.getEntriesByType('resource')
                   .filter(e => (e.responseStatus || 0) >= 400)
                   .map(e => e.name + ' ' + e.responseStatus);",
            )
            .await;
        assert_eq!(failed, json!([]), "{name}: failed requests");
        let problems = self.run(include_str!("../console/a11y.js")).await;
        assert_eq!(problems, json!([]), "{name}: accessibility problems");
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::create_dir_all(artifacts()).expect("the artifacts directory");
        std::fs::write(artifacts().join(format!("{name}.png")), png).expect("keep the screenshot");
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

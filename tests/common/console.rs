//! A platform for the console's browser tests: two cities' systems, the tests' accounts
//! enrolled, served by the `ronghe serve` binary and opened at `localhost`.

use std::path::PathBuf;

use ronghe::store::Store;

use super::binary::{Sandbox, Server};
use super::browser::Browser;

/// A platform with two cities' systems and the accounts of the tests, served by the binary.
pub struct Platform {
    pub sandbox: Sandbox,
    pub server: Server,
    /// The console's address as people open it (`localhost`, a secure context).
    pub base: String,
    secrets: std::collections::HashMap<String, Vec<u8>>,
}

pub const GY_SYSTEM: &str = "gy-scjg";
pub const ZY_SYSTEM: &str = "zy-gtzy";

impl Platform {
    pub async fn new(accounts: &[(&str, &[&str])]) -> Platform {
        let sandbox = Sandbox::new();
        let store = Store::open(&sandbox.database(), &Default::default())
            .await
            .expect("open the store");
        let guiyang = super::system(GY_SYSTEM);
        let mut zunyi = super::new_system(ZY_SYSTEM);
        zunyi.name = "自然资源审批系统".to_owned();
        zunyi.department = "遵义市自然资源局".to_owned();
        zunyi.region_code = "520300".to_owned();
        let zunyi = zunyi.validate(chrono::Utc::now()).expect("a valid system");
        for system in [&guiyang, &zunyi] {
            store.insert_system(system, "test").await.expect("register");
        }
        let mut secrets = std::collections::HashMap::new();
        for (id, grants) in accounts {
            secrets.insert((*id).to_owned(), super::enrol(&store, id, grants).await);
        }
        store.close().await;
        let key = sandbox.write("staff.key", super::key_secret("staff"));
        let config = sandbox.write(
            "ronghe.toml",
            format!(
                "[bridge]\nactive_key = \"staff\"\n[[bridge.keys]]\nid = \"staff\"\nsecret = \"file:{key}\"\n"
            ),
        );
        let server = Server::start(&sandbox.database(), &PathBuf::from(config));
        let base = server.base.replace("127.0.0.1", "localhost");
        Platform {
            sandbox,
            server,
            base,
            secrets,
        }
    }

    /// The platform's store, for a test to set up or inspect what the pages show (SQLite in
    /// WAL mode: the server keeps serving meanwhile), with the server's keys: the server seals
    /// in the background what a test writes in clear, and the test reads it back.
    pub async fn store(&self) -> Store {
        let store = Store::open(&self.sandbox.database(), &Default::default())
            .await
            .expect("open the store");
        super::sealed(store, "staff", &[("staff", ronghe_crypto::Cipher::Sm4Gcm)])
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The code the account's authenticator shows 30 seconds from now (the current step was
    /// used up by the enrolment; one step of skew accepts the next).
    pub fn code(&self, account: &str) -> String {
        let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
        ronghe::access::secret::totp_code(&self.secrets[account], account, now + 30).unwrap()
    }

    /// Signs `account` in through the form the browser is on.
    pub async fn sign_in(&self, browser: &Browser, account: &str) {
        sign_in_with(browser, account, super::STAFF_PASSWORD, &self.code(account)).await;
    }

    /// Signs `account` in on the page `path` (signing out whoever was signed in); an account
    /// signs in once a test, since its authenticator's code is taken once.
    pub async fn open_as(&self, browser: &Browser, account: &str, path: &str) {
        open_as(
            browser,
            &self.base,
            path,
            account,
            super::STAFF_PASSWORD,
            &self.code(account),
        )
        .await;
    }
}

/// Signs `account` in with `password` and the authenticator's `code` through the sign-in form
/// the browser is on.
pub async fn sign_in_with(browser: &Browser, account: &str, password: &str, code: &str) {
    browser.fill("account", account).await;
    browser.fill("password", password).await;
    browser.fill("code", code).await;
    browser.click("#sign-in button[type=submit]").await;
}

/// Opens `base` + `path` signed in as `account` (with `password` and `code`), signing out
/// whoever was signed in first; asserts the page is the one asked for.
pub async fn open_as(browser: &Browser, base: &str, path: &str, account: &str, password: &str, code: &str) {
    browser.goto(&format!("{base}/me")).await;
    if browser.path().await == "/me" {
        browser.click("form[action='/sign-out'] button").await;
    }
    browser.goto(&format!("{base}{path}")).await;
    sign_in_with(browser, account, password, code).await;
    assert_eq!(browser.path().await, path, "{}", browser.text().await);
}

/// The content type of a browser's form.
pub const FORM: &str = "application/x-www-form-urlencoded";

pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Signs `account` in through the console's form, as a browser would: the cookies to send and
/// the session's CSRF token.
impl Platform {
    pub async fn signed_in(&self, client: &reqwest::Client, account: &str) -> (String, String) {
        let p = self;
        let page = client.get(p.url("/sign-in")).send().await.unwrap();
        let cookie = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .find(|c| c.starts_with("ronghe_form="))
            .expect("the form's cookie");
        let token = cookie.trim_start_matches("ronghe_form=").to_owned();
        let signed = client
            .post(p.url("/sign-in"))
            .header("content-type", FORM)
            .header("cookie", &cookie)
            .body(form(&[
                ("account", account),
                ("password", super::STAFF_PASSWORD),
                ("code", &p.code(account)),
                ("csrf_token", &token),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 303);
        let cookies: Vec<String> = signed
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .filter(|c| c.starts_with("ronghe_session=") || c.starts_with("ronghe_csrf="))
            .collect();
        let jar = cookies.join("; ");
        let csrf = cookies
            .iter()
            .find_map(|c| c.strip_prefix("ronghe_csrf="))
            .expect("the CSRF cookie")
            .to_owned();
        (jar, csrf)
    }
}

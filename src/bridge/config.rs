//! A departmental system's bridge config: the TOML that `ronghe generate` will write for a
//! compatible-transition system, an engineer reviews, and `ronghe bridge attach` stores. It says
//! who may reach the system (minimum real-name level), how tickets for it live and are signed,
//! where users may be sent with a ticket, how the system authenticates, and which attributes it
//! receives. Parsing and `validate` are pure and report every problem with its path.

use std::collections::BTreeMap;

use ronghe_adapters::config::{Issues, parse_toml};
use ronghe_adapters::{ConfigIssue, SecretRef};
use ronghe_crypto::Signature;
use serde::Deserialize;

use super::identity::Level;
use crate::case::{ApplicantKind, CertificateType};

/// Ticket lifetimes allowed, in seconds: tickets are for an immediate redirect.
const LIFETIME_SECONDS: std::ops::RangeInclusive<u32> = 5..=300;

/// One system's bridge settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// Lowest real-name level a user needs to reach the system: `unverified` (1 非实名),
    /// `basic` (2 初级实名) or `advanced` (3 高级实名). Below it no ticket is issued or redeemed.
    pub minimum_level: Level,
    /// How long a ticket stays redeemable after it is issued, in seconds (5–300; default 60).
    #[serde(default = "default_lifetime")]
    pub ticket_lifetime_seconds: u32,
    /// How tickets for this system are signed: `hmac-sha256` (default), `hmac-sm3`, or
    /// `ed25519` for a system that verifies tickets offline with the keys at
    /// `GET /api/v1/bridge/keys`. Tokens are verified with this algorithm only: one whose header
    /// names another is refused (`ticket_wrong_algorithm`), so changing it refuses the tickets
    /// and proofs still outstanding.
    #[serde(default)]
    pub signature: Signature,
    /// The registered redirect URIs: where the platform may send a user with a ticket. A
    /// requested callback must be one of these exactly (scheme, host, port, path and query;
    /// RFC 9700 §4.1.3): no prefix match, no dot segments, no encoded separators, no `;`
    /// parameters. The platform adds `state` and `ticket`, so neither may be in one already.
    #[serde(default)]
    pub callback_urls: Vec<String>,
    /// How the system proves who it is when it redeems a ticket or asks for a link proof.
    pub credentials: Credentials,
    /// The platform attributes the system receives on redemption and their names there; nothing
    /// else is released (its own account id always is). `name` and `certificate_no` are
    /// released masked unless `legal_basis` is given.
    #[serde(default)]
    pub attributes: Vec<AttributeMapping>,
    /// The law or rule under which the system may receive the applicant's full name and
    /// certificate number (e.g. "《贵州省市场主体登记管理条例》第十二条"). Without it both are released
    /// masked (minimal disclosure); with it they are released in full, every release is
    /// audited, and `ronghe bridge check` says so.
    #[serde(default)]
    pub legal_basis: Option<String>,
}

fn default_lifetime() -> u32 {
    60
}

/// How a system authenticates to the bridge (one `type` per scheme; the write-back issue adds
/// signed requests).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Credentials {
    /// HTTP Basic: the user name is the system id, the password this secret.
    Basic {
        /// Where the secret lives: `env:NAME` or `file:PATH`; never the secret itself.
        secret: SecretRef,
    },
}

/// One released attribute.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeMapping {
    /// The platform attribute: `user_id`, `kind`, `name`, `certificate_type`,
    /// `certificate_no` or `level`.
    pub source: Attribute,
    /// Its name in the redemption's `attributes` object, as the system expects it.
    pub field: String,
    /// The system's codes for the platform's values (`kind`, `certificate_type` and `level`
    /// only), e.g. `{ natural_person = "1", legal_person = "2" }`; unlisted values pass as named.
    #[serde(default)]
    pub codes: BTreeMap<String, String>,
}

/// A platform attribute a system may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Attribute {
    UserId,
    Kind,
    Name,
    CertificateType,
    CertificateNo,
    Level,
}

impl Attribute {
    /// The values a code table may translate, or `None` when the attribute takes no codes.
    fn coded_values(self) -> Option<Vec<&'static str>> {
        match self {
            Attribute::Kind => Some(ApplicantKind::ALL.iter().map(|k| k.name()).collect()),
            Attribute::CertificateType => Some(vec![
                CertificateType::ResidentId.name(),
                CertificateType::UnifiedSocialCreditCode.name(),
            ]),
            Attribute::Level => Some(Level::ALL.iter().map(|l| l.name()).collect()),
            Attribute::UserId | Attribute::Name | Attribute::CertificateNo => None,
        }
    }

    /// The attributes released masked unless the config states a legal basis.
    pub fn is_personal(self) -> bool {
        matches!(self, Attribute::Name | Attribute::CertificateNo)
    }

    pub fn name(self) -> &'static str {
        self.into()
    }
}

impl BridgeConfig {
    /// Parses TOML: a syntax error names its line, the shape errors their paths, all at once.
    pub fn from_toml(text: &str) -> Result<BridgeConfig, Vec<ConfigIssue>> {
        parse_toml(text)
    }

    /// Parses and checks every field; no I/O.
    pub fn parse(text: &str) -> Result<BridgeConfig, Vec<ConfigIssue>> {
        BridgeConfig::from_toml(text)?.validate()
    }

    /// Checks every field; no I/O.
    pub fn validate(self) -> Result<BridgeConfig, Vec<ConfigIssue>> {
        let mut issues = Issues::default();
        if !LIFETIME_SECONDS.contains(&self.ticket_lifetime_seconds) {
            issues.add(
                "ticket_lifetime_seconds",
                format!(
                    "must be {} to {} seconds: tickets are for an immediate redirect",
                    LIFETIME_SECONDS.start(),
                    LIFETIME_SECONDS.end()
                ),
            );
        }
        for (i, url) in self.callback_urls.iter().enumerate() {
            let path = format!("callback_urls[{i}]");
            let before = issues.0.len();
            issues.http_url(&path, url);
            if issues.0.len() == before
                && let Some(problem) = callback_problem(url)
            {
                issues.add(path, problem);
            }
        }
        if let Some(basis) = &self.legal_basis {
            let basis = basis.trim();
            if basis.is_empty() || basis.chars().count() > 200 || basis.chars().any(char::is_control) {
                issues.add(
                    "legal_basis",
                    "must name the law or rule in 1-200 characters, or be left out",
                );
            }
        }
        match &self.credentials {
            Credentials::Basic { secret } => issues.secret("credentials.secret", secret),
        }
        for (i, mapping) in self.attributes.iter().enumerate() {
            let path = format!("attributes[{i}]");
            let field = mapping.field.trim();
            if field.is_empty() || field.len() > 64 || field.chars().any(char::is_control) {
                issues.add(format!("{path}.field"), "must be a name of 1-64 characters");
            } else if self.attributes[..i].iter().any(|m| m.field == mapping.field) {
                issues.add(format!("{path}.field"), format!("{field:?} is mapped twice"));
            }
            match mapping.source.coded_values() {
                None if !mapping.codes.is_empty() => issues.add(
                    format!("{path}.codes"),
                    "only kind, certificate_type and level take codes",
                ),
                Some(values) => {
                    for value in mapping.codes.keys().filter(|v| !values.contains(&v.as_str())) {
                        issues.add(
                            format!("{path}.codes.{value}"),
                            format!("not a value of this attribute; use one of {}", values.join(", ")),
                        );
                    }
                }
                None => {}
            }
        }
        if issues.0.is_empty() {
            Ok(self)
        } else {
            Err(issues.0)
        }
    }

    /// The registered callback that `requested` is exactly, if any (see `callback_urls`).
    pub fn registered_callback(&self, requested: &str) -> Option<url::Url> {
        if callback_problem(requested).is_some() {
            return None;
        }
        let requested = url::Url::parse(requested).ok()?;
        let key = |u: &url::Url| {
            (
                u.scheme().to_owned(),
                u.host_str().map(str::to_owned),
                u.port_or_known_default(),
                u.path().to_owned(),
                u.query().map(str::to_owned),
            )
        };
        self.callback_urls
            .iter()
            .filter_map(|allowed| url::Url::parse(allowed).ok())
            .find(|allowed| key(allowed) == key(&requested))
    }

    /// What a reviewer should know before attaching: personal attributes released in full (and
    /// under what basis) or masked, and a config that cannot redirect.
    pub fn warnings(&self) -> Vec<String> {
        let personal: Vec<String> = self
            .attributes
            .iter()
            .filter(|m| m.source.is_personal())
            .map(|m| format!("{} ({})", m.source.name(), m.field))
            .collect();
        let mut warnings = Vec::new();
        match (&self.legal_basis, personal.is_empty()) {
            (Some(basis), false) => warnings.push(format!(
                "releases {} IN FULL to the system under legal basis {basis:?}; every release is audited — check that the basis covers each",
                personal.join(", ")
            )),
            (None, false) => warnings.push(format!(
                "releases {} masked (张*, 5201**********1234): without legal_basis the system never receives them in full",
                personal.join(", ")
            )),
            (Some(basis), true) => warnings.push(format!(
                "legal_basis {basis:?} is given but no name or certificate_no is released; leave it out"
            )),
            (None, true) => {}
        }
        if self.callback_urls.is_empty() {
            warnings.push("no callback_urls: tickets come without a redirect URL".to_owned());
        }
        warnings
    }
}

/// Why a callback URL cannot be a registered redirect URI (or a requested one), judged on its
/// text before any parser normalises it away: user info, a fragment, dot segments, encoded
/// separators or dots, backslashes, `;` path parameters, or a `ticket` or `state` parameter.
fn callback_problem(raw: &str) -> Option<&'static str> {
    let lower = raw.to_ascii_lowercase();
    let Some((_, rest)) = lower.split_once("://") else {
        return Some("must be an absolute http:// or https:// URL");
    };
    let (authority, path_and_query) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let path = path_and_query.split(['?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Some("must not carry user information (user@host)");
    }
    if lower.contains('#') {
        return Some("must not have a fragment (#…)");
    }
    if ["%2f", "%5c", "%2e", "%00", "\\"]
        .iter()
        .any(|p| lower.contains(p))
    {
        return Some("must not contain encoded separators or dots (%2F, %5C, %2E) or backslashes");
    }
    if path.contains(';') {
        return Some("must not have ';' parameters in its path");
    }
    if path.split('/').any(|segment| segment == "." || segment == "..") {
        return Some("must not have dot segments (/./ or /../)");
    }
    let query = raw.split_once('?').map(|(_, q)| q).unwrap_or_default();
    if url::form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "ticket" || name == "state") {
        return Some("must not carry a ticket or state parameter: the platform adds them");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
minimum_level = "basic"
ticket_lifetime_seconds = 30
signature = "hmac-sm3"
callback_urls = ["https://scjg.example.gov.cn/sso/"]

[credentials]
type = "basic"
secret = "env:GY_SCJG_BRIDGE_SECRET"

[[attributes]]
source = "kind"
field = "userType"
codes = { natural_person = "1", legal_person = "2" }

[[attributes]]
source = "name"
field = "userName"
"#;

    #[test]
    fn a_complete_config_parses() {
        let config = BridgeConfig::parse(EXAMPLE).unwrap();
        assert_eq!(config.minimum_level, Level::Basic);
        assert_eq!(
            config.signature,
            Signature::Mac(ronghe_crypto::MacAlgorithm::HmacSm3)
        );
        assert_eq!(config.attributes[0].codes["natural_person"], "1");
        let allowed = |u: &str| config.registered_callback(u).is_some();
        assert!(allowed("https://scjg.example.gov.cn/sso/"));
        assert!(
            allowed("https://SCJG.example.gov.cn:443/sso/"),
            "host case, default port"
        );
        assert!(
            !allowed("https://scjg.example.gov.cn/sso/login"),
            "exact, not below"
        );
        assert!(!allowed("https://scjg.example.gov.cn/sso"));
        assert!(!allowed("http://scjg.example.gov.cn/sso/"));
        assert!(!allowed("https://scjg.example.gov.cn:8443/sso/"));
        assert!(!allowed("https://evil.example.com/sso/"));
        assert!(!allowed("https://u:p@scjg.example.gov.cn/sso/"));
    }

    /// Path and query tricks on the registered host (issue 24), each refused whatever its
    /// parser makes of it.
    #[test]
    fn a_callback_is_a_registered_redirect_uri_exactly() {
        let registered = "https://scjg.example.gov.cn/sso/login";
        let config = BridgeConfig {
            callback_urls: vec![
                registered.to_owned(),
                "https://scjg.example.gov.cn/cb?from=platform".to_owned(),
            ],
            ..BridgeConfig::parse(EXAMPLE).unwrap()
        };
        assert_eq!(
            config
                .registered_callback(registered)
                .map(String::from)
                .as_deref(),
            Some(registered)
        );
        assert!(
            config
                .registered_callback("https://scjg.example.gov.cn/cb?from=platform")
                .is_some()
        );
        for trick in [
            "https://scjg.example.gov.cn/sso/login/..;/..;/admin",
            "https://scjg.example.gov.cn/sso/login/../login",
            "https://scjg.example.gov.cn/sso/./login",
            "https://scjg.example.gov.cn/sso/login/..%2f..%2fadmin",
            "https://scjg.example.gov.cn/sso/login%2F..%2Fadmin",
            "https://scjg.example.gov.cn/sso/%2e%2e/sso/login",
            "https://scjg.example.gov.cn/sso\\login",
            "https://scjg.example.gov.cn/sso/login;jsessionid=1",
            "https://scjg.example.gov.cn/sso/login?next=http://evil.example/",
            "https://scjg.example.gov.cn/sso/login?ticket=stolen",
            "https://scjg.example.gov.cn/sso/login?state=forged",
            "https://scjg.example.gov.cn/sso/login#frag",
            "https://scjg.example.gov.cn/sso/login/",
            "https://scjg.example.gov.cn/sso/login/extra",
            "https://scjg.example.gov.cn@evil.example/sso/login",
            "https://evil.example/sso/login?x=https://scjg.example.gov.cn/sso/login",
            "https://scjg.example.gov.cn/cb?from=platform&next=/admin",
            "https://scjg.example.gov.cn/cb",
            "//scjg.example.gov.cn/sso/login",
            "scjg.example.gov.cn/sso/login",
        ] {
            assert!(config.registered_callback(trick).is_none(), "{trick}");
        }
        // The same rules when a URI is registered.
        for (bad, why) in [
            ("https://x.cn/sso/../admin", "dot segments"),
            ("https://x.cn/sso;a=b", "';' parameters"),
            ("https://x.cn/sso?ticket=1", "ticket or state"),
            ("https://x.cn/sso#top", "fragment"),
            ("https://x.cn/a%2Fb", "encoded separators"),
        ] {
            let text = format!(
                "legal_basis = \"\"\n{}",
                EXAMPLE.replace("https://scjg.example.gov.cn/sso/", bad)
            );
            let issues = BridgeConfig::parse(&text).unwrap_err();
            assert!(
                issues
                    .iter()
                    .any(|i| i.path == "callback_urls[0]" && i.message.contains(why)),
                "{bad}: {issues:?}"
            );
            assert!(issues.iter().any(|i| i.path == "legal_basis"), "{issues:?}");
        }
    }

    #[test]
    fn names_and_numbers_are_released_in_full_only_under_a_legal_basis() {
        let text = format!("legal_basis = \"《条例》第十二条\"\n{EXAMPLE}");
        let config = BridgeConfig::parse(&text).unwrap();
        assert!(
            config.warnings()[0].contains("name (userName) IN FULL"),
            "{:?}",
            config.warnings()
        );
        let masked = BridgeConfig::parse(EXAMPLE).unwrap().warnings();
        assert!(masked[0].contains("name (userName) masked"), "{masked:?}");
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let text = r#"
minimum_level = "basic"
ticket_lifetime_seconds = 3600
callback_urls = ["ftp://x", "https://u:pw@x.cn/"]
credentials = { type = "basic", secret = "hunter2" }
attributes = [
  { source = "name", field = "n", codes = { a = "b" } },
  { source = "level", field = "n", codes = { gold = "9" } },
]
"#;
        let issues = BridgeConfig::parse(text).unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "ticket_lifetime_seconds",
                "callback_urls[0]",
                "callback_urls[1]",
                "credentials.secret",
                "attributes[0].codes",
                "attributes[1].field",
                "attributes[1].codes.gold",
            ]
        );
        let unknown = BridgeConfig::parse("minimum_level = \"basic\"\nlifetime = 3\n").unwrap_err();
        assert!(
            unknown[0].message.contains("unknown field `lifetime`"),
            "{unknown:?}"
        );
        assert_eq!(unknown[0].path, "lifetime");
    }
}

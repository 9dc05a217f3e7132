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
    /// Where the platform may send a user with a ticket (allow-list). A requested callback must
    /// have the same scheme, host and port as one of these, and a path at or below its path.
    #[serde(default)]
    pub callback_urls: Vec<String>,
    /// How the system proves who it is when it redeems a ticket or asks for a link proof.
    pub credentials: Credentials,
    /// The platform attributes the system receives on redemption and their names there; nothing
    /// else is released (its own account id always is).
    #[serde(default)]
    pub attributes: Vec<AttributeMapping>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
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
}

impl BridgeConfig {
    /// Parses TOML; a syntax or shape error names its line.
    pub fn from_toml(text: &str) -> Result<BridgeConfig, ConfigIssue> {
        parse_toml(text)
    }

    /// Parses and checks every field; no I/O.
    pub fn parse(text: &str) -> Result<BridgeConfig, Vec<ConfigIssue>> {
        BridgeConfig::from_toml(text).map_err(|e| vec![e])?.validate()
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
            issues.http_url(&format!("callback_urls[{i}]"), url);
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

    /// Whether the platform may send a user to `requested` (see `callback_urls`).
    pub fn allows_callback(&self, requested: &url::Url) -> bool {
        if !requested.username().is_empty() || requested.password().is_some() {
            return false;
        }
        self.callback_urls.iter().any(|allowed| {
            let Ok(allowed) = url::Url::parse(allowed) else {
                return false;
            };
            let base = allowed.path().trim_end_matches('/');
            let path = requested.path();
            allowed.scheme() == requested.scheme()
                && allowed.host() == requested.host()
                && allowed.port_or_known_default() == requested.port_or_known_default()
                && (path == allowed.path()
                    || path
                        .strip_prefix(base)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
        })
    }
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
        let allowed = |u: &str| config.allows_callback(&url::Url::parse(u).unwrap());
        assert!(allowed("https://scjg.example.gov.cn/sso/login?x=1"));
        assert!(allowed("https://scjg.example.gov.cn/sso"));
        assert!(!allowed("https://scjg.example.gov.cn/ssox"));
        assert!(!allowed("http://scjg.example.gov.cn/sso/login"));
        assert!(!allowed("https://scjg.example.gov.cn:8443/sso/login"));
        assert!(!allowed("https://evil.example.com/sso/login"));
        assert!(!allowed("https://u:p@scjg.example.gov.cn/sso/login"));
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
        assert_eq!(unknown[0].path, "line 2");
    }
}

//! Adapter errors, classified so that callers know what to do: retry, fix the config, report
//! the data, or queue the work while the system is down (Art. 22: never refuse service).

use std::fmt;

/// What kind of failure, and so what the caller should do about it; its name (serde,
/// `Display`) is the snake_case variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, strum::Display, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ErrorClass {
    /// A passing fault (timeout, reset, 5xx, 429): trying again may work.
    Retryable,
    /// The config is wrong (bad URL, missing secret, 401/403, unknown table): fix it.
    Configuration,
    /// The system answered, but with something unusable (malformed body, SOAP fault on data).
    Data,
    /// The system is down (retries exhausted, circuit open): queue and try later.
    Unavailable,
}

impl ErrorClass {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// An adapter failure with its class and a message a person can act on.
#[derive(Debug, thiserror::Error)]
pub struct AdapterError {
    pub class: ErrorClass,
    pub message: String,
    /// The HTTP status the system answered with, when that is the failure.
    pub http_status: Option<u16>,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.class)
    }
}

impl AdapterError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> AdapterError {
        AdapterError {
            class,
            message: message.into(),
            http_status: None,
            source: None,
        }
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> AdapterError {
        self.source = Some(Box::new(source));
        self
    }

    pub fn retryable(message: impl Into<String>) -> AdapterError {
        AdapterError::new(ErrorClass::Retryable, message)
    }

    pub fn configuration(message: impl Into<String>) -> AdapterError {
        AdapterError::new(ErrorClass::Configuration, message)
    }

    pub fn data(message: impl Into<String>) -> AdapterError {
        AdapterError::new(ErrorClass::Data, message)
    }

    pub fn unavailable(message: impl Into<String>) -> AdapterError {
        AdapterError::new(ErrorClass::Unavailable, message)
    }

    /// A failure to reach the system or to read its answer: connection failures, resets,
    /// timeouts and cut-off bodies may pass, so they are retryable.
    pub fn transport(what: &str, err: reqwest::Error) -> AdapterError {
        let reason = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "cannot connect"
        } else {
            "the connection failed"
        };
        AdapterError::retryable(format!("{what}: {reason}")).with_source(err)
    }

    /// The class of an HTTP status: 408, 429 and 5xx are retryable; 401, 403, 404 and 405 are
    /// configuration; other 4xx are data.
    pub fn from_http_status(status: u16, what: &str) -> AdapterError {
        let class = match status {
            408 | 429 | 500..=599 => ErrorClass::Retryable,
            401 | 403 | 404 | 405 => ErrorClass::Configuration,
            _ => ErrorClass::Data,
        };
        AdapterError {
            http_status: Some(status),
            ..AdapterError::new(class, format!("{what}: HTTP {status}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_are_classified() {
        for (status, class) in [
            (500, ErrorClass::Retryable),
            (503, ErrorClass::Retryable),
            (429, ErrorClass::Retryable),
            (401, ErrorClass::Configuration),
            (404, ErrorClass::Configuration),
            (400, ErrorClass::Data),
            (422, ErrorClass::Data),
        ] {
            assert_eq!(
                AdapterError::from_http_status(status, "GET /x").class,
                class,
                "{status}"
            );
        }
    }

    #[test]
    fn class_names_match_serde_and_the_message() {
        for class in [
            ErrorClass::Retryable,
            ErrorClass::Configuration,
            ErrorClass::Data,
            ErrorClass::Unavailable,
        ] {
            assert_eq!(
                serde_json::to_value(class).unwrap(),
                serde_json::json!(class.name())
            );
        }
        assert_eq!(AdapterError::data("bad body").to_string(), "bad body (data)");
    }
}

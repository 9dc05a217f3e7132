//! The exchange as a delivery sink: renders a claimed case version with the configured template
//! and POSTs it with its `Idempotency-Key` (and the bearer token, when configured). A template
//! that cannot render the case is a permanent failure; the answer is classified by
//! `delivery::send`.

use std::sync::Arc;

use super::config::Exchange;
use super::payload::idempotency_key;
use crate::delivery::{Sink, send};
use crate::retry::Failure;
use crate::store::Claimed;

/// Why a sink cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the exchange HTTP client")]
pub struct ClientError(#[source] reqwest::Error);

/// The exchange's endpoint with its HTTP client.
#[derive(Clone)]
pub struct ExchangeSink {
    exchange: Arc<Exchange>,
    http: reqwest::Client,
}

impl ExchangeSink {
    /// A client with the exchange's timeout that follows no redirects.
    pub fn new(exchange: Arc<Exchange>) -> Result<ExchangeSink, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(exchange.timeout)
            .connect_timeout(exchange.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ClientError)?;
        Ok(ExchangeSink { exchange, http })
    }
}

impl Sink for ExchangeSink {
    type Item = Claimed;
    type Receipt = ();

    async fn deliver(&self, claimed: &Claimed) -> Result<(), Failure> {
        let item = &claimed.item;
        let payload = self
            .exchange
            .template
            .render(&item.system_id, &claimed.case)
            .map_err(|err| Failure::Permanent(format!("payload: {err}")))?;
        let mut request = self
            .http
            .post(&self.exchange.url)
            .header(
                "Idempotency-Key",
                idempotency_key(&item.system_id, &item.case_no, item.version),
            )
            .json(&payload);
        if let Some(token) = &self.exchange.token {
            request = request.bearer_auth(token);
        }
        send(request).await.map(drop)
    }
}

//! Real-time delivery of every case version to the provincial data-sharing exchange (Art. 27):
//! `config` (`[exchange]`), `payload` (the handlebars-rendered JSON with the Art. 27 fields),
//! `sink` (one POST to the exchange, a `delivery::Sink`) and `worker` (claims from the store's
//! transactional outbox, delivers through the sink, retries, dead-letters).

pub mod config;
pub mod payload;
pub mod sink;
pub mod worker;

pub use self::config::{BuildError, Exchange, ExchangeConfig};
pub use payload::{PayloadError, Template, idempotency_key};
pub use sink::{ClientError, ExchangeSink};
pub use worker::{DeliveryMetrics, PassReport, Worker};

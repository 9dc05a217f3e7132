//! Read throughput of the SOAP driver: starts the social-security simulator with N cases
//! (default 3000), reads its whole history through the driver as the test fixture configures
//! it, and reports records per second on stderr. `cargo run --release -p ronghe-adapters
//! --example soap_read -- 3000`

use std::collections::HashMap;
use std::time::Instant;

use futures_util::TryStreamExt;
use ronghe_adapters::sim::SimOptions;
use ronghe_adapters::sim::soap::{PASSWORD, SoapSim};
use ronghe_adapters::{AdapterConfig, Fixed};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cases: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(3000);
    let sim = SoapSim::start(&SimOptions {
        cases,
        ..Default::default()
    })
    .await?;
    let mut config = match AdapterConfig::from_toml(&ronghe_adapters::sim::soap::adapter_config(
        &sim.endpoint(),
        "env:SBDY_PASSWORD",
    )) {
        Ok(AdapterConfig::Soap(c)) => c,
        other => return Err(format!("the fixture is not a SOAP config: {other:?}").into()),
    };
    config.endpoint = sim.endpoint();
    let secrets = Fixed(HashMap::from([(
        "env:SBDY_PASSWORD".to_owned(),
        PASSWORD.to_owned(),
    )]));
    let adapter = AdapterConfig::Soap(config)
        .validate()
        .map_err(|issues| format!("{issues:?}"))?
        .build(&secrets)
        .await?;
    let started = Instant::now();
    let read = adapter
        .read(None)
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "read {read} records in {seconds:.2} s: {:.0} records/s (pages of 200, GBK, escaped inner documents)",
        read as f64 / seconds
    );
    Ok(())
}

//! Legacy-system simulators, for the demo (`ronghe sim`) and the tests: departmental systems
//! with the quirks an integrator meets, served on loopback over real sockets, with seeded
//! deterministic data and injectable faults.

pub mod data;
pub mod exchange;
pub mod faults;
pub mod rest;
pub mod soap;
pub mod sql;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultPlan, Faults};

/// What every simulator is started with.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Seed of the generated cases.
    pub seed: u64,
    /// How many cases the system holds.
    pub cases: usize,
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The platform's user bridge, for the single sign-on login; `None`: no such login.
    pub bridge: Option<SimBridge>,
}

/// How a simulator reaches the platform's user bridge (用户互认), server to server.
#[derive(Debug, Clone)]
pub struct SimBridge {
    /// The platform's base address, e.g. `http://127.0.0.1:8080`.
    pub platform_url: String,
    /// The system id the platform knows this simulator by (the HTTP Basic user name).
    pub system_id: String,
    /// The system's bridge secret (the HTTP Basic password).
    pub secret: String,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 2025,
            cases: 3000,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            bridge: None,
        }
    }
}

/// A simulator serving on a socket until dropped or stopped.
#[derive(Debug)]
pub struct Running {
    /// Base address, e.g. `http://127.0.0.1:40123`.
    pub address: SocketAddr,
    pub faults: Arc<Faults>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    /// Serves `app` on `listen` until stopped.
    pub(crate) async fn serve(
        listen: SocketAddr,
        app: axum::Router,
        faults: Arc<Faults>,
    ) -> std::io::Result<Running> {
        let listener = TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(err) = served.await {
                tracing::warn!(error = %err, "simulator stopped with an error");
            }
        });
        Ok(Running {
            address,
            faults,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops serving and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The applications a simulator has accepted, in order.
#[derive(Debug, Default)]
pub(crate) struct Applications(Mutex<Vec<serde_json::Value>>);

impl Applications {
    /// Keeps an application; returns its number (from 1), which receipts are made of.
    pub(crate) fn keep(&self, application: serde_json::Value) -> usize {
        // A poisoned lock only means another handler panicked mid-push; the list is still usable.
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.push(application);
        all.len()
    }

    pub(crate) fn all(&self) -> Vec<serde_json::Value> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Formats epoch seconds as Beijing time with `format` (chrono syntax).
pub(crate) fn beijing(epoch_seconds: i64, format: &str) -> String {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("+08:00 is valid"));
    chrono::DateTime::from_timestamp(epoch_seconds, 0)
        .map(|t| t.with_timezone(&offset).format(format).to_string())
        .unwrap_or_default()
}

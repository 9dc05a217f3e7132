//! The provincial data-sharing exchange (数据共享交换平台), simulated: `POST /api/exchange/cases`
//! takes one case as JSON with an `Idempotency-Key` header and records it with the time it came.
//! `facts()` deduplicates by key (what the exchange holds); deliveries of a key that arrive while
//! another delivery of the same key is still in flight are recorded as concurrent, so tests can
//! assert there were none. Fault switches: down (503 for everything), reject a key (400), slow
//! (every answer waits).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{Faults, Running};

/// The path cases are POSTed to.
pub const PATH: &str = "/api/exchange/cases";

/// One request the exchange answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The `Idempotency-Key` header.
    pub key: String,
    /// The JSON body.
    pub payload: Value,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// When it arrived.
    pub at: SystemTime,
    /// The status it was answered with.
    pub status: u16,
}

/// What the simulator keeps of each request it answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Recording {
    /// Everything (`Received` with its payload and headers).
    #[default]
    Everything,
    /// Key, time and status only: an hour-long load keeps a few bytes per request.
    KeysOnly,
    /// Nothing: the simulator only answers (a soak measuring the server's memory).
    Nothing,
}

#[derive(Debug, Default)]
struct Log {
    recording: Recording,
    received: Vec<Received>,
    in_flight: HashSet<String>,
    concurrent: Vec<String>,
    down: bool,
    rejected: HashSet<String>,
    delay: Duration,
}

#[derive(Debug, Default)]
struct Sim {
    log: Mutex<Log>,
}

impl Sim {
    fn lock(&self) -> MutexGuard<'_, Log> {
        // A poisoned lock only means a handler panicked mid-update; the log is still usable.
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running exchange simulator.
pub struct ExchangeSim {
    pub running: Running,
    sim: Arc<Sim>,
}

impl ExchangeSim {
    /// Starts the simulator on `listen` (port 0: any free port).
    pub async fn start(listen: std::net::SocketAddr) -> std::io::Result<ExchangeSim> {
        let sim = Arc::new(Sim::default());
        let app = Router::new().route(PATH, post(receive)).with_state(sim.clone());
        let running = Running::serve(listen, app, Arc::new(Faults::default())).await?;
        Ok(ExchangeSim { running, sim })
    }

    /// The URL cases are delivered to.
    pub fn endpoint(&self) -> String {
        format!("{}{PATH}", self.running.url())
    }

    /// Every request answered, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.sim.lock().received.clone()
    }

    /// What the exchange holds: the first accepted delivery of each key, in arrival order.
    pub fn facts(&self) -> Vec<Received> {
        let log = self.sim.lock();
        let mut seen = HashSet::new();
        log.received
            .iter()
            .filter(|r| (200..300).contains(&r.status) && seen.insert(r.key.clone()))
            .cloned()
            .collect()
    }

    /// Keys accepted more than once, with how many times (at-least-once delivery allows it).
    pub fn repeated(&self) -> HashMap<String, usize> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for r in self
            .sim
            .lock()
            .received
            .iter()
            .filter(|r| (200..300).contains(&r.status))
        {
            *counts.entry(r.key.clone()).or_default() += 1;
        }
        counts.retain(|_, n| *n > 1);
        counts
    }

    /// Keys that arrived while another delivery of the same key was in flight.
    pub fn concurrent(&self) -> Vec<String> {
        self.sim.lock().concurrent.clone()
    }

    /// Down: every request gets 503 until switched back.
    pub fn set_down(&self, down: bool) {
        self.sim.lock().down = down;
    }

    /// Answers 400 to deliveries of `key` (true) or takes them again (false).
    pub fn reject(&self, key: &str, reject: bool) {
        let mut log = self.sim.lock();
        if reject {
            log.rejected.insert(key.to_owned());
        } else {
            log.rejected.remove(key);
        }
    }

    /// What is kept of each request from now on (see [`Recording`]).
    pub fn set_recording(&self, recording: Recording) {
        self.sim.lock().recording = recording;
    }

    /// Every answer waits this long first.
    pub fn set_delay(&self, delay: Duration) {
        self.sim.lock().delay = delay;
    }
}

async fn receive(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    let at = SystemTime::now();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(key) = header("idempotency-key") else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "code": "missing_idempotency_key" })),
        );
    };
    let (delay, down) = {
        let mut log = sim.lock();
        if !log.in_flight.insert(key.clone()) {
            log.concurrent.push(key.clone());
        }
        (log.delay, log.down)
    };
    // Out of flight when answered, or when the client gives up and the handler is dropped.
    let flight = InFlight {
        sim: &sim,
        key: key.clone(),
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    drop(flight);
    let payload: Option<Value> = serde_json::from_slice(&body).ok();
    let mut log = sim.lock();
    let (status, answer) = if down {
        (StatusCode::SERVICE_UNAVAILABLE, json!({ "code": "unavailable" }))
    } else if payload.is_none() {
        (StatusCode::BAD_REQUEST, json!({ "code": "not_json" }))
    } else if log.rejected.contains(&key) {
        (StatusCode::BAD_REQUEST, json!({ "code": "rejected" }))
    } else {
        (StatusCode::OK, json!({ "code": "0000", "key": key }))
    };
    let everything = log.recording == Recording::Everything;
    if log.recording == Recording::Nothing {
        return (status, Json(answer));
    }
    log.received.push(Received {
        key,
        payload: payload.filter(|_| everything).unwrap_or(Value::Null),
        authorization: header("authorization").filter(|_| everything),
        at,
        status: status.as_u16(),
    });
    (status, Json(answer))
}

/// Removes a key from the in-flight set when dropped.
struct InFlight<'a> {
    sim: &'a Sim,
    key: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.sim.lock().in_flight.remove(&self.key);
    }
}

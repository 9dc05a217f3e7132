//! The HTTP server: the router with every endpoint, shared state, and `serve` with graceful
//! shutdown. Handlers live in modules named for what they serve.

mod accounts;
mod assessments;
mod audit;
mod auth;
mod bridge;
mod cases;
mod console;
mod corrections;
mod error;
mod exchange;
mod handoff;
mod health;
mod integration;
mod metrics;
mod migration;
mod monitoring;
mod notices;
mod notifications;
mod openapi;
mod orgs;
mod plans;
mod quality;
mod rules;
mod systems;
mod visits;
mod writeback;

pub use auth::{Authorized, CSRF_HEADER, SESSION_COOKIE};
pub use error::{ApiError, ApiJson};
pub use metrics::Metrics;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::store::Store;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// The user bridge, when the node has `[bridge]` keys.
    pub bridge: Option<crate::bridge::Bridge>,
    /// Working days (the embedded calendar plus `calendar_override`), for due dates.
    pub calendar: Arc<crate::calendar::Calendar>,
    /// The write-back intake: mappings and configs of the systems that push.
    pub writeback: crate::intake::Intake,
    /// Staff accounts: sign-in, sessions, tokens; every caller resolves here.
    pub accounts: crate::accounts::Accounts,
}

/// The router with every endpoint, its limits and middleware.
pub fn app(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .route("/api/v1/openapi.json", get(openapi::document))
        .merge(systems::routes())
        .merge(integration::routes())
        .merge(assessments::routes())
        .merge(cases::routes())
        .merge(bridge::routes())
        .merge(rules::routes())
        .merge(orgs::routes())
        .merge(notices::routes())
        .merge(plans::routes())
        .merge(monitoring::routes())
        .merge(visits::routes())
        .merge(writeback::routes(&state))
        .merge(quality::routes())
        .merge(exchange::routes())
        .merge(corrections::routes())
        .merge(handoff::routes())
        .merge(notifications::routes())
        .merge(migration::routes())
        .merge(audit::routes())
        .merge(auth::routes())
        .merge(accounts::routes())
        .merge(console::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /api/v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; see /api/v1/openapi.json",
    )
}

/// Who makes a call, for the audit log: the authorized principal's actor name (the account id
/// of a person). Only routes the policy table signs have one.
pub struct Actor(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let authorized = Authorized::from_request_parts(parts, state).await?;
        Ok(Actor(authorized.principal.actor.clone()))
    }
}

/// How long the hand-off worker waits when nothing was due.
const HANDOFF_IDLE: Duration = Duration::from_secs(2);

/// Binds the listener and serves until SIGTERM or SIGINT; in-flight requests get
/// `shutdown_grace_seconds` to finish.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let shutdown = CancellationToken::new();
    let signals = cancel_on_signal(shutdown.clone());
    let served = serve_on(config, listener, shutdown).await;
    signals.abort();
    served
}

/// Opens the store and serves on `listener`, with the background tasks, until `shutdown` is
/// cancelled (`serve` cancels it on SIGTERM or SIGINT; `ronghe demo` and `bench soak` at their
/// own end).
pub async fn serve_on(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let options = crate::store::StoreOptions {
        max_connections: config.max_connections,
        ..Default::default()
    };
    let (store, keyring) = config.open_store(&options).await?;
    if keyring.is_none() {
        tracing::warn!(
            "no [bridge] keys: applicants' personal values are written to the store in clear; configure keys (README, 个人信息保护)"
        );
    }
    let bridge = keyring.as_ref().map(|keyring| {
        crate::bridge::Bridge::new(
            store.clone(),
            keyring.clone(),
            Arc::new(ronghe_adapters::Environment),
        )
    });
    let public_url = config.public_url(listener.local_addr()?.port());
    let accounts = crate::accounts::Accounts::new(store.clone(), keyring, Default::default())
        .with_passkeys(crate::accounts::relying_party(&public_url).context("cannot set up passkeys")?)
        .with_public_url(public_url);
    let calendar = crate::calendar::Calendar::load(config.calendar_override.as_deref())
        .context("cannot load the working-day calendar")?;
    let metrics = Metrics::new();
    // Background tasks, stopped together once the server is done: each gets a clone of `stop`.
    // It is not a child of `shutdown`: they keep working through the grace period. Returning
    // early (an error) drops the guard, which stops them too.
    let stop = CancellationToken::new();
    let _stop_on_return = stop.clone().drop_guard();
    let mut background: Vec<(&str, tokio::task::JoinHandle<()>)> = Vec::new();
    if let Some(exchange) = &config.exchange {
        let exchange = exchange
            .build(&ronghe_adapters::Environment)
            .context("cannot build [exchange]")?;
        let node = crate::store::random_id("node").context("cannot name this node")?;
        let worker = crate::exchange::Worker::new(store.clone(), exchange, node, metrics.exchange.clone())?;
        background.push(("exchange delivery", tokio::spawn(worker.run(stop.clone()))));
    }
    let intake = crate::intake::Intake::new(
        &store,
        config.mappings_dir.clone(),
        Arc::new(ronghe_adapters::Environment),
    )
    .with_body_budget(config.writeback_bytes_in_flight);
    let puller = crate::pull::Puller::new(store.clone(), intake.clone(), bridge.clone())?;
    background.push(("pull", tokio::spawn(puller.schedule_forever(stop.clone()))));
    let calendar = Arc::new(calendar);
    let scheduler = crate::scheduler::Scheduler::new(
        store.clone(),
        calendar.clone(),
        intake.clone(),
        Arc::new(ronghe_adapters::Environment),
        config.scheduler.clone(),
    )
    .context("cannot start the scheduler")?
    .with_visits(&config.visits);
    background.push(("scheduler", tokio::spawn(scheduler.run_forever(stop.clone()))));
    background.push((
        "housekeeping",
        tokio::spawn(
            crate::housekeeping::Housekeeper::new(store.clone(), config.housekeeping.clone())
                .with_metrics(metrics.housekeeping.clone())
                .run(stop.clone()),
        ),
    ));
    if let Some(bridge) = &bridge {
        let resealer =
            crate::resealing::Resealer::in_background(store.clone(), accounts.clone(), bridge.clone());
        background.push((
            "re-sealing",
            tokio::spawn(resealer.run_in_background(stop.clone())),
        ));
    }
    let local = listener.local_addr().context("listener has no local address")?;
    tracing::info!(listen = %local, backend = store.backend().name(), "ronghe serving");
    let state = AppState {
        store: store.clone(),
        metrics,
        bridge,
        calendar,
        writeback: intake,
        accounts,
    };
    background.push((
        "hand-off",
        tokio::spawn(
            crate::handoff::Worker::new(store.clone(), Arc::new(ronghe_adapters::Environment))
                .with_metrics(state.metrics.clone())
                .run(HANDOFF_IDLE, stop.clone()),
        ),
    ));
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let signalled = shutdown.clone();
    let mut server = tokio::spawn(
        axum::serve(
            listener,
            app(state, config.max_body_bytes).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            signalled.cancelled().await;
            tracing::info!(grace_seconds = grace.as_secs(), "shutting down");
        })
        .into_future(),
    );
    // Only after a shutdown; a server that ends before is reported by the other branch.
    let grace_over = async {
        shutdown.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = &mut server => result.context("server task failed")?.context("server failed")?,
        () = grace_over => tracing::warn!("grace period over; closing remaining connections"),
    }
    // Each task finishes the pass in progress (bounded by its request timeouts); what it leaves
    // leased goes to another node when the lease runs out.
    stop.cancel();
    for (task, handle) in background {
        match tokio::time::timeout(grace, handle).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(task, error = %err, "background task failed"),
            Err(_) => tracing::warn!(task, "background task did not stop in the grace period"),
        }
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Cancels `token` on SIGINT or SIGTERM, from a task of its own (abort it to stop watching).
pub fn cancel_on_signal(token: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        shutdown_signal().await;
        token.cancel();
    })
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {},
                    _ = term.recv() => {},
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot watch SIGTERM; stopping on SIGINT only");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

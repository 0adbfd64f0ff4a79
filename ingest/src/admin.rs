//! The admin HTTP listener: `/metrics` (Prometheus text), `/ready` (serving,
//! not draining, and the store can commit) and `/live` (the committer
//! thread is running).
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What the admin endpoints report on.
#[derive(Clone)]
pub struct AdminState {
    pub metrics: PrometheusHandle,
    pub ready: Arc<AtomicBool>,
    pub alive: Arc<AtomicBool>,
    /// False while the store cannot commit (a full disk, an I/O error).
    pub writable: Arc<AtomicBool>,
}

async fn metrics(State(s): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

async fn metrics_elsewhere() -> impl IntoResponse {
    (
        StatusCode::FORBIDDEN,
        "/metrics answers this machine only (server.metrics_loopback_only)\n",
    )
}

async fn ready(State(s): State<AdminState>) -> impl IntoResponse {
    if !s.writable.load(Ordering::SeqCst) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the store cannot commit (disk full or I/O error)\n",
        )
    } else if s.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn live(State(s): State<AdminState>) -> impl IntoResponse {
    if s.alive.load(Ordering::SeqCst) {
        (StatusCode::OK, "live\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "committer stopped\n")
    }
}

/// Serves until `shutdown` turns true, each connection within `limits`
/// (`crate::conn`).
pub async fn serve(
    listener: TcpListener,
    state: AdminState,
    mut shutdown: watch::Receiver<bool>,
    limits: crate::conn::Limits,
    metrics_loopback_only: bool,
) -> std::io::Result<()> {
    let upkeep = state.metrics.clone();
    tokio::spawn(async move {
        let mut t = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            t.tick().await;
            upkeep.run_upkeep();
        }
    });
    let probes = axum::Router::new()
        .route("/ready", get(ready))
        .route("/live", get(live));
    let app = probes
        .clone()
        .route("/metrics", get(metrics))
        .with_state(state.clone());
    // For peers elsewhere when /metrics is kept on this machine.
    let remote = probes
        .route("/metrics", get(metrics_elsewhere))
        .with_state(state);
    let slots = crate::conn::Slots::new(limits.max_connections);
    loop {
        let conn = tokio::select! {
            c = crate::conn::accept(&listener, &slots, limits) => c,
            _ = shutdown.wait_for(|v| *v) => return Ok(()),
        };
        let local = conn.peer().is_some_and(|p| p.ip().is_loopback());
        let router = if metrics_loopback_only && !local {
            remote.clone()
        } else {
            app.clone()
        };
        let svc = hyper_util::service::TowerToHyperService::new(router);
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(conn);
            // A request's headers must arrive within the idle limit (and a
            // second: a silent peer is closed and counted by the idle limit
            // first), even from a peer that trickles a byte now and then.
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.idle + std::time::Duration::from_secs(1))
                .serve_connection(io, svc)
                .await
            {
                tracing::debug!(error = %e, "admin connection ended");
            }
        });
    }
}

/// GET `/ready` on an admin listener: the HTTP status (for `hotlined ready`).
pub fn probe_ready(addr: &str) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let timeout = std::time::Duration::from_secs(3);
    let sa = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address"))?;
    let mut s = std::net::TcpStream::connect_timeout(&sa, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET /ready HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head)?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer"))
}

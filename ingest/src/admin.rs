//! The admin HTTP listener: `/metrics` (Prometheus text), `/ready` (serving,
//! not draining, and the store can commit), `/live` (the committer
//! thread is running), and the wall screen: `/wallboard` (one page, every
//! asset in the binary) fed by `/wallboard/events` (server-sent events, one
//! board a second, built by `state::board`).
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::StreamExt as _;

/// What the admin endpoints report on.
#[derive(Clone)]
pub struct AdminState {
    pub metrics: PrometheusHandle,
    pub ready: Arc<AtomicBool>,
    /// Every tenant's committer is running.
    pub alive: crate::sinks::committer::Flags,
    /// False while a store cannot commit (a full disk, an I/O error).
    pub writable: crate::sinks::committer::Flags,
    /// The latest wall-screen board (JSON).
    pub board: watch::Receiver<Option<Arc<str>>>,
    /// Who may read the wallboard (a dashboard token, when tokens are configured).
    pub auth: crate::auth::Auth,
    /// How long one wallboard events stream lasts: under the admin
    /// listener's idle limit (which counts the client's bytes), so the limit
    /// never cuts a screen; the browser reconnects at once.
    pub events_lifetime: std::time::Duration,
}

/// The wall screen's page: Chinese, inline styles and script, no CDN.
const WALLBOARD: &str = include_str!("admin/wallboard.html");

async fn wallboard() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        WALLBOARD,
    )
}

/// `%XX` decoded (what `encodeURIComponent` writes); None when malformed.
fn percent_decoded(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The token a wallboard request presents: `?token=` (an EventSource sends
/// no headers) or `Authorization: Bearer`.
fn presented_token(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let from_query = uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .and_then(percent_decoded)
    });
    from_query.or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::Auth::bearer_token)
            .map(str::to_string)
    })
}

/// The board as server-sent events: the latest at once, then each new
/// one, for `events_lifetime` (the browser reconnects at once, `retry: 500`).
async fn wallboard_events(State(s): State<AdminState>, uri: Uri, headers: HeaderMap) -> Response {
    if !s
        .auth
        .allows_dashboard(presented_token(&uri, &headers).as_deref())
    {
        return (
            StatusCode::UNAUTHORIZED,
            "the wallboard needs a dashboard token: /wallboard?token=...\n",
        )
            .into_response();
    }
    let end = std::time::Instant::now() + s.events_lifetime;
    let stream = tokio_stream::wrappers::WatchStream::new(s.board.clone())
        .filter_map(|b| b)
        .map(|b| {
            Ok::<_, std::convert::Infallible>(
                Event::default()
                    .retry(std::time::Duration::from_millis(500))
                    .data(&*b),
            )
        })
        // A board arrives every second: the stream ends within a second of `end`.
        .take_while(move |_| std::time::Instant::now() < end);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
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
    if !s.writable.all() {
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
    if s.alive.all() {
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
        .route("/live", get(live))
        .route("/", get(wallboard))
        .route("/wallboard", get(wallboard))
        .route("/wallboard/events", get(wallboard_events));
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

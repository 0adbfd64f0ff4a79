//! `hotlined serve`: config → build → spawn → wait for a signal → drain with
//! a deadline (`App::build`, `App::spawn`, `Running::drain`). Nothing here
//! decides anything; it wires the parts together.
mod build;
mod running;

pub use build::App;
pub use running::Running;

use crate::config::{Config, ConfigError};
use anyhow::Context;
use std::net::SocketAddr;
use tokio::net::TcpListener;

pub(crate) fn config_errors(what: &str, es: Vec<ConfigError>) -> anyhow::Error {
    let lines: Vec<String> = es.iter().map(|e| format!("  {e}")).collect();
    anyhow::anyhow!("{what}: {} error(s)\n{}", es.len(), lines.join("\n"))
}

/// Waits for SIGTERM or SIGINT.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the daemon");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the daemon on the configured addresses until SIGTERM or SIGINT,
/// then drains.
pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    let grpc_addr: SocketAddr = cfg.server.grpc_addr.parse().context("server.grpc_addr")?;
    let admin_addr: SocketAddr = cfg.server.admin_addr.parse().context("server.admin_addr")?;
    let grpc = TcpListener::bind(grpc_addr)
        .await
        .with_context(|| format!("binding gRPC {grpc_addr}"))?;
    let admin = TcpListener::bind(admin_addr)
        .await
        .with_context(|| format!("binding admin {admin_addr}"))?;
    run(cfg, grpc, admin, signal()).await
}

/// Runs the daemon on the given listeners until `shutdown` completes, then
/// drains within `pipeline.drain_timeout_secs`: build → spawn → wait →
/// drain. Tests run a daemon in-process with it.
pub async fn run(
    cfg: Config,
    grpc_listener: TcpListener,
    admin_listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let running = App::build(cfg, grpc_listener, admin_listener)
        .await?
        .spawn()
        .await?;
    shutdown.await;
    running.drain().await;
    Ok(())
}

//! `hotlined serve`: config → build → spawn → wait for a signal → drain with
//! a deadline. Nothing here decides anything; it wires the parts together.
use crate::admin::{self, AdminState};
use crate::admit::pipeline::Pipeline;
use crate::admit::Shared;
use crate::auth::Auth;
use crate::config::rules::build_router;
use crate::config::{Config, ConfigError};
use crate::sinks::committer::{Committer, CommitterConfig};
use crate::sinks::kafka::Publisher;
use crate::sinks::store::Reader;
use crate::sinks::store::Store;
use crate::sources::grpc::IntakeService;
use crate::sources::kafka::Ctx;
use crate::sources::kafka::KafkaIngest;
use crate::state::dedup::DedupStage;
use crate::state::orders::Orders;
use crate::state::sla::{Sla, SlaConfig};
use crate::state::stats::StatsService;
use anyhow::Context;
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_server::IntakeServer;
use hotline_proto::v1::stats_server::StatsServer;
use hotline_router::dedup::{Dedup, DedupRules};
use hotline_router::tracker::TrackerConfig;
use rdkafka::consumer::StreamConsumer;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Identity, Server, ServerTlsConfig};

fn config_errors(what: &str, es: Vec<ConfigError>) -> anyhow::Error {
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

/// Awaits a task for at most `left`; one that misses it is aborted, and
/// whichever way it ends is logged (an error, a panic, an abort).
async fn finish<T>(
    name: &'static str,
    task: tokio::task::JoinHandle<T>,
    left: Duration,
    failed: impl FnOnce(T) -> Option<String>,
) {
    let abort = task.abort_handle();
    match tokio::time::timeout(left, task).await {
        Ok(Ok(v)) => {
            if let Some(e) = failed(v) {
                tracing::error!(task = name, error = %e, "task failed");
            }
        }
        Ok(Err(e)) => tracing::error!(task = name, error = %e, "task panicked or was cancelled"),
        Err(_) => {
            tracing::warn!(task = name, "task missed the drain deadline; aborted");
            abort.abort();
        }
    }
}

/// Runs the daemon on the given listeners until `shutdown` completes, then
/// drains within `pipeline.drain_timeout_secs`: every task it started is
/// stopped (aborted if it misses the deadline) and how each ended is
/// logged. Tests run a daemon in-process with it.
pub async fn run(
    mut cfg: Config,
    grpc_listener: TcpListener,
    admin_listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    // Pseudonyms are never made with the built-in key: without one in the
    // environment, the data directory's own (created the first time).
    if !crate::config::rules::caller_secret_given(&cfg) {
        let f = crate::config::rules::ensure_caller_key_file(&cfg)
            .map_err(|e| config_errors("privacy", vec![e]))?;
        cfg.privacy.caller_key_file = Some(f);
    }
    let admin_public = cfg
        .server
        .admin_addr
        .parse::<SocketAddr>()
        .is_ok_and(|a| !a.ip().is_loopback());
    if admin_public {
        tracing::warn!(admin = %cfg.server.admin_addr, "the admin listener (/metrics unauthenticated, /ready, /live) is reachable beyond this machine");
    }
    let router = Arc::new(build_router(&cfg).map_err(|e| config_errors("rules", e))?);
    // Deadlines reach up to a few working days ahead: warn a month before the calendar ends.
    let soon = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    if !router.calendar().knows(soon) {
        tracing::warn!(
            year = %chrono::Datelike::year(&soon),
            "the holiday calendar ends within 30 days; add the next year's <year>.toml to rules.calendar_dir"
        );
    }
    let grpc_addr = grpc_listener.local_addr().context("gRPC listener")?;
    let admin_addr = admin_listener.local_addr().context("admin listener")?;
    let auth = Auth::from_config(&cfg.auth, grpc_addr).map_err(|e| config_errors("auth", e))?;
    crate::config::rules::require_caller_secret(&cfg, grpc_addr)
        .map_err(|e| config_errors("privacy", vec![e]))?;
    let metrics = crate::telemetry::metrics::install().context("metrics recorder")?;

    let mut store =
        Store::open(&cfg.store.data_dir, cfg.store.synchronous).context("opening the store")?;
    // With Kafka, decisions and alerts reach it through the store's outbox.
    let outbox_wake = Arc::new(tokio::sync::Notify::new());
    if cfg.kafka.is_some() {
        store.publish_through_outbox(outbox_wake.clone());
    }
    let outbox_mark = store.outbox_mark();
    let (published_tx, published_rx) = watch::channel(0i64);
    let (tx, rx) = mpsc::channel(cfg.pipeline.queue_capacity);
    let committer = Committer::start(
        store,
        rx,
        CommitterConfig {
            batch_max: cfg.pipeline.batch_max,
            batch_wait: Duration::from_millis(cfg.pipeline.batch_wait_ms),
            retention: Duration::from_secs(u64::from(cfg.store.retention_days) * 86_400),
        },
    )
    .context("starting the committer")?;

    let draining = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicBool::new(false));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    let (mut health, health_svc) = tonic_health::server::health_reporter();
    health.set_serving::<IntakeServer<IntakeService>>().await;
    health.set_serving::<StatsServer<StatsService>>().await;
    // Reflection in both versions: grpcurl and most tools speak v1, some v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1().context("reflection service")?;
    let reflection_v1alpha = reflection().build_v1alpha().context("reflection service")?;
    // Kafka: the producer for decisions, alerts, stats and dead letters.
    let publisher = match &cfg.kafka {
        Some(k) => Some(
            Publisher::new(
                k.producer_config()
                    .map_err(|e| config_errors("kafka", vec![e]))?,
                &k.topics,
                Duration::from_millis(k.produce_timeout_ms),
            )
            .context("kafka producer")?,
        ),
        None => None,
    };
    // The call windows, rebuilt from the call events of the last 25 h, and the
    // work-order tracker, from what the store holds of the last 40 days.
    let reader = Reader::open(&cfg.store.data_dir).context("opening the store for reading")?;
    let sla = Sla::new(SlaConfig::from(&cfg.sla));
    let since = (chrono::Utc::now() - chrono::Duration::hours(25)).timestamp_millis();
    let events = sla
        .restore(&reader, since)
        .context("restoring call windows")?;
    tracing::info!(call_events = events, "call windows restored");
    let (unpublished, _) = reader.outbox_backlog(0).context("reading the outbox")?;
    if unpublished > 0 {
        if cfg.kafka.is_some() {
            tracing::info!(
                rows = unpublished,
                "outbox: publishing what was not on Kafka at the last stop"
            );
        } else {
            tracing::warn!(
                rows = unpublished,
                "outbox: rows wait for Kafka, which is not configured"
            );
        }
    }
    // Dedup: its index rebuilt from the records of the last repeat window.
    let dedup = if cfg.dedup.enabled {
        let matters = match &cfg.dedup.matters_file {
            Some(f) => {
                std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?
            }
            None => hotline_router::dedup::text::EMBEDDED_MATTERS.to_string(),
        };
        let rules = Arc::new(
            DedupRules::new(cfg.dedup.to_config(), &matters).context("dedup matters lexicon")?,
        );
        let index = Arc::new(std::sync::Mutex::new(Dedup::new(rules.clone(), &router)));
        Some((rules, index))
    } else {
        None
    };
    let orders = Orders::new(
        router.calendar().clone(),
        TrackerConfig {
            due_soon_lead: chrono::Duration::minutes(cfg.sla.due_soon_minutes),
            max_cases: cfg.sla.max_open_cases,
        },
        dedup.as_ref().map(|(_, i)| i.clone()),
    );
    let dedup = dedup.map(|(rules, index)| DedupStage {
        rules,
        index,
        orders: orders.clone(),
    });
    // The tracker from the last 40 days, the dedup index from the repeat window.
    let now = chrono::Utc::now();
    let restored = crate::admit::restore::replay(
        &reader,
        (now - chrono::Duration::days(40)).timestamp_millis(),
        (now - chrono::Duration::days(cfg.dedup.repeat_window_days)).timestamp_millis(),
        &orders,
        dedup.as_ref(),
    )
    .context("restoring open work orders and the dedup index")?;
    if let Some(stage) = &dedup {
        stage.report();
    }
    tracing::info!(
        open_cases = restored.open_cases,
        decisions = restored.decisions,
        dedup_records = restored.matters,
        order_events = restored.order_events,
        "work-order tracker and dedup index restored"
    );
    drop(reader);

    let shared = Shared {
        pipeline: Pipeline::new(router, dedup.clone()),
        committer: tx,
        sla,
        orders,
        shutdown: shutdown_rx.clone(),
        outbox: cfg.kafka.is_some().then_some((outbox_mark, published_rx)),
    };
    // Every second: SLA gauges and answer-rate crossings; deadline alerts.
    let sla = shared.sla.clone();
    let sla_task = tokio::spawn(crate::state::orders::raise_every_second(
        move |now| sla.refresh(now),
        shared.committer.clone(),
        shutdown_rx.clone(),
    ));
    let orders = shared.orders.clone();
    let orders_task = tokio::spawn(crate::state::orders::raise_every_second(
        move |now| orders.tick(now),
        shared.committer.clone(),
        shutdown_rx.clone(),
    ));
    let (stats_tx, stats_rx) = watch::channel(None);
    let stats_task = tokio::spawn(crate::state::stats::run(
        crate::state::stats::Sources {
            sla: shared.sla.clone(),
            orders: shared.orders.clone(),
            dedup: dedup.clone(),
            node: cfg.stats.node_name(),
        },
        Duration::from_secs(cfg.stats.interval_secs),
        stats_tx,
        publisher.clone(),
        shutdown_rx.clone(),
    ));
    let mut kafka_task = None;
    let mut outbox_task = None;
    if let (Some(k), Some(publisher)) = (&cfg.kafka, &publisher) {
        let outbox = crate::sinks::outbox::Outbox {
            data_dir: cfg.store.data_dir.clone(),
            publisher: publisher.clone(),
            committer: shared.committer.clone(),
            wake: outbox_wake.clone(),
            published: published_tx,
        };
        outbox_task = Some(tokio::spawn(outbox.run(
            shutdown_rx.clone(),
            Duration::from_secs(cfg.pipeline.drain_timeout_secs),
        )));
        if k.consume {
            let c: StreamConsumer<Ctx> = k
                .consumer_config()
                .map_err(|e| config_errors("kafka", vec![e]))?
                .create_with_context(Ctx)
                .context("kafka consumer")?;
            let ingest =
                KafkaIngest::new(c, &k.topics, &shared, publisher.clone(), k.max_in_flight)
                    .context("kafka subscribe")?;
            kafka_task = Some(tokio::spawn(
                ingest.run(Duration::from_secs(cfg.pipeline.drain_timeout_secs)),
            ));
        }
        tracing::info!(brokers = %k.brokers, group = %k.group_id, consume = k.consume, "kafka configured");
    }
    let intake = IntakeService::new(
        &shared,
        draining.clone(),
        cfg.store.data_dir.clone(),
        cfg.pipeline.stream_window,
    );
    // The intake and the consumer hold their own senders; the committer stops once they are gone.
    drop(shared);
    let auth_i = auth.clone();
    let intake_svc = InterceptedService::new(
        IntakeServer::new(intake)
            .max_decoding_message_size(cfg.server.max_message_bytes)
            .max_encoding_message_size(cfg.server.max_message_bytes),
        move |req| auth_i.intercept(req),
    );

    let auth_s = auth.clone();
    let stats_svc =
        InterceptedService::new(StatsServer::new(StatsService::new(stats_rx)), move |req| {
            auth_s.intercept(req)
        });
    let idle = Duration::from_secs(cfg.server.idle_timeout_secs);
    let mut builder = Server::builder()
        // Pings every third of the idle limit: a healthy client answers
        // them, so only a silent peer reaches the limit (`crate::conn`).
        .http2_keepalive_interval(Some(idle / 3))
        .http2_keepalive_timeout(Some(idle / 3))
        .max_concurrent_streams(Some(256))
        .concurrency_limit_per_connection(1024)
        .tcp_nodelay(true);
    if let Some(tls) = &cfg.tls {
        let cert =
            std::fs::read(&tls.cert).with_context(|| format!("reading {}", tls.cert.display()))?;
        let key =
            std::fs::read(&tls.key).with_context(|| format!("reading {}", tls.key.display()))?;
        builder = builder
            .tls_config(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
            .context("TLS config")?;
    }
    let mut grpc_shutdown = shutdown_rx.clone();
    let grpc = builder
        .add_service(health_svc)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(intake_svc)
        .add_service(stats_svc)
        .serve_with_incoming_shutdown(
            crate::conn::incoming(
                grpc_listener,
                crate::conn::Limits {
                    max_connections: cfg.server.max_connections,
                    idle,
                },
            ),
            async move {
                let _ = grpc_shutdown.wait_for(|v| *v).await;
            },
        );
    let grpc_task = tokio::spawn(grpc);
    let admin_state = AdminState {
        metrics,
        ready: ready.clone(),
        alive: committer.alive(),
        writable: committer.writable(),
    };
    let admin_task = tokio::spawn(admin::serve(
        admin_listener,
        admin_state,
        shutdown_rx.clone(),
        crate::conn::Limits {
            max_connections: cfg.server.admin_max_connections,
            idle,
        },
        cfg.server.metrics_loopback_only,
    ));

    ready.store(true, Ordering::SeqCst);
    tracing::info!(
        grpc = %grpc_addr, admin = %admin_addr, data_dir = %cfg.store.data_dir.display(), tls = cfg.tls.is_some(),
        "hotlined serving"
    );
    if auth.is_open() {
        tracing::warn!("no auth tokens configured: gRPC is open to every local process (allowed on loopback only)");
    }

    shutdown.await;
    let deadline = Duration::from_secs(cfg.pipeline.drain_timeout_secs);
    tracing::info!(
        deadline_secs = deadline.as_secs(),
        "shutdown: refusing new calls, draining in-flight work"
    );
    ready.store(false, Ordering::SeqCst);
    draining.store(true, Ordering::SeqCst);
    health
        .set_not_serving::<IntakeServer<IntakeService>>()
        .await;
    health.set_not_serving::<StatsServer<StatsService>>().await;
    let _ = shutdown_tx.send(true);

    let started = tokio::time::Instant::now();
    let abort = grpc_task.abort_handle();
    match tokio::time::timeout(deadline, grpc_task).await {
        Ok(Ok(Ok(()))) => tracing::info!("gRPC drained"),
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "gRPC server error"),
        Ok(Err(e)) => tracing::error!(error = %e, "gRPC task failed"),
        Err(_) => {
            tracing::warn!("drain deadline passed; cutting the remaining calls (their contacts were not acknowledged)");
            abort.abort();
        }
    }
    let remaining = |started: tokio::time::Instant| {
        deadline
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(1))
    };
    finish(
        "work-order deadlines",
        orders_task,
        remaining(started),
        |()| None,
    )
    .await;
    // A consumer stopped at the deadline leaves its records for redelivery.
    if let Some(t) = kafka_task {
        finish("kafka consumer", t, deadline, |()| None).await;
    }
    // The outbox publishes what is stored until it is empty or the deadline
    // passes (the rest is published after the next start).
    if let Some(t) = outbox_task {
        let left = deadline.saturating_sub(started.elapsed());
        finish("outbox", t, left, |()| None).await;
    }
    if let Some(p) = &publisher {
        if let Err(e) = p.flush(Duration::from_secs(5)) {
            tracing::warn!(error = %e, "kafka producer flush");
        }
    }
    // Every sender is gone once the server and its streams are: the committer
    // commits what is queued and stops.
    let left = deadline
        .saturating_sub(started.elapsed())
        .max(Duration::from_secs(2));
    match tokio::time::timeout(left, tokio::task::spawn_blocking(move || committer.join())).await {
        Ok(_) => tracing::info!("last batch committed"),
        Err(_) => tracing::warn!("committer did not finish before the deadline; unacknowledged contacts may be resubmitted"),
    }
    finish("service targets", sla_task, remaining(started), |()| None).await;
    finish("stats", stats_task, remaining(started), |()| None).await;
    finish("admin listener", admin_task, remaining(started), |r| {
        r.err().map(|e| e.to_string())
    })
    .await;
    tracing::info!("hotlined stopped");
    Ok(())
}

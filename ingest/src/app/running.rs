//! `App::spawn` and `Running::drain`: the tasks the daemon runs — the
//! gRPC and admin servers, the Kafka consumer and the outbox, the
//! per-second trackers and the stats — started together, and stopped
//! together within a deadline: a task that misses it is aborted, and how
//! each ended is logged.
use super::{config_errors, App};
use crate::admin::{self, AdminState};
use crate::sinks::committer::Committer;
use crate::sinks::kafka::Publisher;
use crate::sources::grpc::IntakeService;
use crate::sources::kafka::{Ctx, KafkaIngest, Role};
use crate::state::stats::StatsService;
use anyhow::Context;
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_server::IntakeServer;
use hotline_proto::v1::stats_server::StatsServer;
use rdkafka::consumer::StreamConsumer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Identity, Server, ServerTlsConfig};

/// How long the listeners answer "not serving" before they stop (at most
/// a third of the drain deadline).
const GRACE: Duration = Duration::from_secs(1);

/// A serving daemon: its tasks, and what stopping them needs.
pub struct Running {
    deadline: Duration,
    ready: Arc<AtomicBool>,
    draining: Arc<AtomicBool>,
    health: tonic_health::server::HealthReporter,
    shutdown_tx: watch::Sender<bool>,
    grpc_task: JoinHandle<Result<(), tonic::transport::Error>>,
    /// Each tenant's tasks, the default tenant's first.
    tenants: Vec<TenantTasks>,
    board_task: JoinHandle<()>,
    /// The Kafka consumers (and a cluster's restore task).
    kafka_tasks: Vec<JoinHandle<()>>,
    admin_task: JoinHandle<std::io::Result<()>>,
    /// The admin listener stops last: `/ready` answers 503 through the drain.
    admin_stop: watch::Sender<bool>,
    publisher: Option<Publisher>,
}

/// What one tenant runs: its trackers' ticks, its stats, its outbox and
/// its store's writer.
struct TenantTasks {
    orders_task: JoinHandle<()>,
    sla_task: JoinHandle<()>,
    stats_task: JoinHandle<()>,
    outbox_task: Option<JoinHandle<()>>,
    committer: Committer,
}

impl App {
    /// Starts every task and turns `/ready` true.
    pub async fn spawn(self) -> anyhow::Result<Running> {
        let App {
            cfg,
            grpc_listener,
            admin_listener,
            auth,
            metrics,
            tenants,
            parts,
            publisher,
            shutdown_tx,
        } = self;
        let grpc_addr = grpc_listener.local_addr().context("gRPC listener")?;
        let admin_addr = admin_listener.local_addr().context("admin listener")?;
        let shutdown_rx = shutdown_tx.subscribe();
        // `/ready` turns true once everything is started; `draining` makes
        // the intake refuse new calls once shutdown begins.
        let ready = Arc::new(AtomicBool::new(false));
        let draining = Arc::new(AtomicBool::new(false));
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
        let drain_deadline = Duration::from_secs(cfg.pipeline.drain_timeout_secs);
        // More than one node: the internal topics, and this node's part.
        let mut cluster = None;
        if let Some((k, c)) = cfg
            .kafka
            .as_ref()
            .and_then(|k| k.cluster.as_ref().map(|c| (k, c)))
        {
            crate::sources::cluster::ensure_topics(k, c, cfg.store.retention_days)
                .await
                .context("kafka.cluster: internal topics")?;
            let horizon = crate::admit::restore::Horizon::of(&cfg);
            let advertise = c.advertised(grpc_addr);
            let (cl, restore_rx) = crate::sources::cluster::Cluster::new(
                k,
                c,
                &tenants,
                horizon,
                cfg.stats.node_name(),
                advertise,
            )
            .context("kafka.cluster")?;
            cluster = Some((cl, restore_rx));
        }
        let mut tenant_tasks = Vec::with_capacity(parts.len());
        let mut latest = Vec::with_capacity(parts.len());
        let mut alive = Vec::with_capacity(parts.len());
        let mut writable = Vec::with_capacity(parts.len());
        for (i, (shared, part)) in tenants.all().iter().zip(parts).enumerate() {
            let (tasks, stats_rx) = spawn_tenant(
                shared,
                part,
                &cfg,
                publisher.as_ref(),
                i,
                cluster.as_ref().map(|(c, _)| c),
                drain_deadline,
            );
            latest.push((shared.tenant.clone(), stats_rx));
            alive.push(tasks.committer.alive());
            writable.push(tasks.committer.writable());
            tenant_tasks.push(tasks);
        }
        let writable = crate::sinks::committer::Flags::new(writable);
        // The wall screen's figures, once a second: the default tenant's.
        let (board_tx, board_rx) = watch::channel(None);
        let home = tenants.default_tenant();
        let board_task = tokio::spawn(crate::state::board::run(
            crate::state::board::BoardSources {
                sla: home.sla.clone(),
                orders: home.orders.clone(),
                dedup: home.pipeline.dedup().cloned(),
                metrics: metrics.clone(),
                calendar: home.orders.calendar().clone(),
                ready: ready.clone(),
                writable: writable.clone(),
            },
            board_tx,
            shutdown_rx.clone(),
        ));
        let mut kafka_tasks = Vec::new();
        let mut forward = None;
        if let (Some(k), Some(publisher)) = (&cfg.kafka, &publisher) {
            let consumer = |group: &str, ctx: Ctx| -> anyhow::Result<StreamConsumer<Ctx>> {
                let mut c = k
                    .consumer_config()
                    .map_err(|e| config_errors("kafka", vec![e]))?;
                c.set("group.id", group);
                c.create_with_context(ctx).context("kafka consumer")
            };
            let intake_role = match &cluster {
                Some((c, _)) => Role::Repartition(c.clone()),
                None => Role::Direct,
            };
            if k.consume {
                let ingest = KafkaIngest::new(
                    consumer(&k.group_id, Ctx::default())?,
                    &k.topics,
                    &tenants,
                    publisher.clone(),
                    k.max_in_flight,
                    intake_role,
                )
                .context("kafka subscribe")?;
                kafka_tasks.push(tokio::spawn(ingest.run(drain_deadline)));
            }
            if let Some((c, restore_rx)) = cluster.take() {
                forward = Some(Arc::new(crate::sources::forward::Forwarder::new(c.clone())));
                // A node stopped past its session publishes nothing more
                // for the tenants it had (sinks::ownership::Fence::watch).
                let session = k.session_timeout();
                // Membership: announced, and read for forwarding gRPC.
                let announcing = c.clone();
                kafka_tasks.push(tokio::spawn(crate::sources::members::announce(
                    c.members.clone(),
                    c.producer(),
                    move || announcing.owned_partitions(),
                    shutdown_rx.clone(),
                )));
                kafka_tasks.push(tokio::spawn(crate::sources::members::follow(
                    c.members.clone(),
                    c.membership_reader(),
                    shutdown_rx.clone(),
                )));
                let owners = tenants.all().iter().map(|t| t.owner.clone()).collect();
                let fence = c.fence.clone();
                fence.set_lease(k.fence_lease());
                let stop = shutdown_rx.clone();
                kafka_tasks.push(tokio::spawn(async move {
                    fence.watch(session, owners, stop).await
                }));
                // The by-tenant topic's group: its assignment is what this
                // node decides for.
                let decide = KafkaIngest::new(
                    consumer(&format!("{}.state", k.group_id), Ctx::owning(c.clone()))?,
                    &k.topics,
                    &tenants,
                    publisher.clone(),
                    k.max_in_flight,
                    Role::Decide(c.clone()),
                )
                .context("kafka subscribe (by-tenant)")?;
                kafka_tasks.push(tokio::spawn(crate::sources::cluster::restore_task(
                    c, restore_rx,
                )));
                kafka_tasks.push(tokio::spawn(decide.run(drain_deadline)));
            }
            tracing::info!(brokers = %k.brokers, group = %k.group_id, consume = k.consume, cluster = k.cluster.is_some(), "kafka configured");
        }
        let intake = IntakeService::new(
            &tenants,
            draining.clone(),
            cfg.pipeline.stream_window,
            forward,
        );
        // The intake and the consumer hold their own senders; the committers stop once they are gone.
        drop(tenants);
        let auth_i = auth.clone();
        let intake_svc = InterceptedService::new(
            IntakeServer::new(intake)
                .max_decoding_message_size(cfg.server.max_message_bytes)
                .max_encoding_message_size(cfg.server.max_message_bytes),
            move |req| auth_i.intercept(req),
        );

        let auth_s = auth.clone();
        let stats_svc =
            InterceptedService::new(StatsServer::new(StatsService::new(latest)), move |req| {
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
            let cert = std::fs::read(&tls.cert)
                .with_context(|| format!("reading {}", tls.cert.display()))?;
            let key = std::fs::read(&tls.key)
                .with_context(|| format!("reading {}", tls.key.display()))?;
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
            alive: crate::sinks::committer::Flags::new(alive),
            writable,
            board: board_rx,
            auth: auth.clone(),
            events_lifetime: idle / 2,
        };
        let (admin_stop, admin_stop_rx) = watch::channel(false);
        let admin_task = tokio::spawn(admin::serve(
            admin_listener,
            admin_state,
            admin_stop_rx,
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

        Ok(Running {
            deadline: Duration::from_secs(cfg.pipeline.drain_timeout_secs),
            ready,
            draining,
            health,
            shutdown_tx,
            grpc_task,
            tenants: tenant_tasks,
            board_task,
            kafka_tasks,
            admin_task,
            admin_stop,
            publisher,
        })
    }
}

/// A tenant's per-second task: the alerts `due(now)` finds, raised while
/// this node decides for the tenant (`state::orders::raise_every_second`).
fn every_second(
    shared: &crate::admit::Shared,
    task: &'static str,
    due: impl FnMut(chrono::DateTime<chrono::Utc>) -> Vec<crate::state::orders::AlertOut>
        + Send
        + 'static,
) -> JoinHandle<()> {
    tokio::spawn(crate::state::orders::raise_every_second(
        task,
        due,
        shared.committer.clone(),
        shared.tenant.clone(),
        shared.owner.clone(),
        shared.shutdown.clone(),
    ))
}

/// Starts one tenant's tasks: the per-second ticks of its deadlines and
/// service targets, its stats, and (with Kafka) its outbox. Returns them
/// and its latest stats snapshot.
fn spawn_tenant(
    shared: &crate::admit::Shared,
    part: super::build::TenantParts,
    cfg: &crate::config::Config,
    publisher: Option<&Publisher>,
    index: usize,
    cluster: Option<&Arc<crate::sources::cluster::Cluster>>,
    drain_deadline: Duration,
) -> (TenantTasks, crate::state::stats::Latest) {
    let shutdown_rx = shared.shutdown.clone();
    // Every second: SLA gauges and answer-rate crossings; deadline alerts.
    let sla = shared.sla.clone();
    let sla_task = every_second(shared, "service_targets", move |now| sla.refresh(now));
    let orders = shared.orders.clone();
    let orders_task = every_second(shared, "deadlines", move |now| orders.tick(now));
    let (stats_tx, stats_rx) = watch::channel(None);
    let stats_task = tokio::spawn(crate::state::stats::run(
        crate::state::stats::Sources {
            sla: shared.sla.clone(),
            orders: shared.orders.clone(),
            dedup: part.dedup.clone(),
            node: cfg.stats.node_name(),
            tenant: shared.tenant.clone(),
            pipeline_latency: index == 0,
        },
        Duration::from_secs(cfg.stats.interval_secs),
        stats_tx,
        publisher.cloned(),
        shutdown_rx.clone(),
    ));
    let outbox_task = publisher.map(|publisher| {
        let outbox = crate::sinks::outbox::Outbox {
            data_dir: part.data_dir.clone(),
            publisher: publisher.clone(),
            committer: shared.committer.clone(),
            wake: part.outbox_wake.clone(),
            published: part.published_tx,
            tenant: shared.tenant.clone(),
            owner: shared.owner.clone(),
            fence: cluster.map(|c| c.fence.clone()),
            changelog: cluster.map(|c| (c.changelog.clone(), c.partition_of(index))),
        };
        tokio::spawn(outbox.run(shutdown_rx.clone(), drain_deadline))
    });
    let tasks = TenantTasks {
        orders_task,
        sla_task,
        stats_task,
        outbox_task,
        committer: part.committer,
    };
    (tasks, stats_rx)
}

impl Running {
    /// Stops taking calls (`/ready` 503, health NOT_SERVING, new calls
    /// UNAVAILABLE), then stops every task within the deadline, in the order
    /// that loses nothing: the servers and the consumer, the outbox, the
    /// store's writer (which commits what is queued), the rest.
    pub async fn drain(self) {
        let Running {
            deadline,
            ready,
            draining,
            mut health,
            shutdown_tx,
            grpc_task,
            tenants,
            board_task,
            kafka_tasks,
            admin_task,
            admin_stop,
            publisher,
        } = self;
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
        // The listeners stay up a moment, refusing new calls, so health
        // checkers and load balancers see NOT_SERVING and 503 rather than a
        // closed port; then the servers stop and open streams end.
        tokio::time::sleep(GRACE.min(deadline / 3)).await;
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
        let mut rest = Vec::with_capacity(tenants.len());
        let mut outboxes = Vec::with_capacity(tenants.len());
        let mut committers = Vec::with_capacity(tenants.len());
        for t in tenants {
            finish(
                "work-order deadlines",
                t.orders_task,
                remaining(started),
                |()| None,
            )
            .await;
            rest.push((t.sla_task, t.stats_task));
            outboxes.extend(t.outbox_task);
            committers.push(t.committer);
        }
        // A consumer stopped at the deadline leaves its records for redelivery.
        for t in kafka_tasks {
            finish("kafka consumer", t, deadline, |()| None).await;
        }
        // The outboxes publish what is stored until they are empty or the
        // deadline passes (the rest is published after the next start).
        for t in outboxes {
            let left = deadline.saturating_sub(started.elapsed());
            finish("outbox", t, left, |()| None).await;
        }
        if let Some(p) = &publisher {
            if let Err(e) = p.flush(Duration::from_secs(5)) {
                tracing::warn!(error = %e, "kafka producer flush");
            }
        }
        // Every sender is gone once the server and its streams are: each
        // committer commits what is queued and stops.
        let left = deadline
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(2));
        let join_all = tokio::task::spawn_blocking(move || {
            for c in committers {
                c.join();
            }
        });
        match tokio::time::timeout(left, join_all).await {
            Ok(_) => tracing::info!("last batch committed"),
            Err(_) => tracing::warn!("committer did not finish before the deadline; unacknowledged contacts may be resubmitted"),
        }
        for (sla_task, stats_task) in rest {
            finish("service targets", sla_task, remaining(started), |()| None).await;
            finish("stats", stats_task, remaining(started), |()| None).await;
        }
        finish("wallboard", board_task, remaining(started), |()| None).await;
        let _ = admin_stop.send(true);
        finish("admin listener", admin_task, remaining(started), |r| {
            r.err().map(|e| e.to_string())
        })
        .await;
        tracing::info!("hotlined stopped");
    }
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

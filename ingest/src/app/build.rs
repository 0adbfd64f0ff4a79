//! `App::build`: everything the daemon needs before it serves — the rules,
//! the store and its writer, the state restored from the store, the Kafka
//! producer — checked and opened, nothing spawned but the store's writer.
use super::config_errors;
use crate::admit::pipeline::Pipeline;
use crate::admit::tenants::Tenants;
use crate::admit::Shared;
use crate::auth::Auth;
use crate::config::rules::build_tenant_routers;
use crate::config::Config;
use crate::sinks::committer::{Committer, CommitterConfig};
use crate::sinks::kafka::Publisher;
use crate::sinks::ownership::Owner;
use crate::sinks::store::{Reader, Store};
use crate::state::dedup::DedupStage;
use crate::state::orders::Orders;
use crate::state::sla::{Sla, SlaConfig};
use anyhow::Context;
use hotline_router::dedup::{Dedup, DedupRules};
use hotline_router::tracker::TrackerConfig;
use hotline_router::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Notify};

/// A daemon built and not yet serving (see [`App::spawn`](super::App::spawn)).
pub struct App {
    pub(super) cfg: Config,
    pub(super) grpc_listener: TcpListener,
    pub(super) admin_listener: TcpListener,
    pub(super) auth: Auth,
    pub(super) metrics: PrometheusHandle,
    /// Every tenant's admit, the default first.
    pub(super) tenants: Tenants,
    /// Each tenant's own parts, in the same order.
    pub(super) parts: Vec<TenantParts>,
    pub(super) publisher: Option<Publisher>,
    /// Tells every task to stop; they hold its receiver (`shared.shutdown`).
    pub(super) shutdown_tx: watch::Sender<bool>,
}

/// What one tenant runs beside its admit: its store's writer, its dedup
/// stage and its outbox's signals.
pub(super) struct TenantParts {
    pub(super) committer: Committer,
    pub(super) dedup: Option<DedupStage>,
    pub(super) data_dir: PathBuf,
    pub(super) outbox_wake: Arc<Notify>,
    pub(super) published_tx: watch::Sender<i64>,
}

/// Where a tenant's store lives: the data directory for the default
/// tenant (as before tenants), `<data_dir>/tenants/<city code>` for the
/// others.
pub fn tenant_data_dir(data_dir: &Path, index: usize, code: &str) -> PathBuf {
    if index == 0 {
        data_dir.to_path_buf()
    } else {
        data_dir.join("tenants").join(code)
    }
}

impl App {
    /// Checks the configuration against the listeners, opens the store,
    /// starts its writer and restores the state (call windows, open work
    /// orders, the dedup index) from it.
    pub async fn build(
        mut cfg: Config,
        grpc_listener: TcpListener,
        admin_listener: TcpListener,
    ) -> anyhow::Result<App> {
        // Pseudonyms are never made with the built-in key: without one in the
        // environment, the data directory's own (created the first time).
        let clustered = cfg.kafka.as_ref().is_some_and(|k| k.cluster.is_some());
        let shared_key = cfg
            .privacy
            .caller_key_file
            .as_ref()
            .is_some_and(|f| f.exists());
        if clustered && !crate::config::rules::caller_secret_given(&cfg) && !shared_key {
            // Repeats are matched on keyed caller hashes: nodes with keys of
            // their own would never see one caller twice.
            return Err(config_errors(
                "privacy",
                vec![crate::config::ConfigError {
                    path: "privacy.caller_key_file".into(),
                    msg: "with [kafka.cluster] every node must key callers alike: set the caller secret's environment variable, or caller_key_file to a key file every node has".into(),
                }],
            ));
        }
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
        let routers = build_tenant_routers(&cfg).map_err(|e| config_errors("rules", e))?;
        let grpc_addr = grpc_listener.local_addr().context("gRPC listener")?;
        let auth = Auth::from_config(&cfg.auth, grpc_addr).map_err(|e| config_errors("auth", e))?;
        crate::config::rules::require_caller_secret(&cfg, grpc_addr)
            .map_err(|e| config_errors("privacy", vec![e]))?;
        let metrics = crate::telemetry::metrics::install().context("metrics recorder")?;
        if let Some(r) = routers.first() {
            calendar_end(r.calendar(), chrono::Utc::now());
        }
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        // Kafka: the producer for decisions, alerts, stats and dead letters.
        let publisher = match &cfg.kafka {
            Some(k) => Some(
                Publisher::new(
                    k.producer_config()
                        .map_err(|e| config_errors("kafka", vec![e]))?,
                    &k.topics,
                    Duration::from_millis(k.produce_timeout_ms),
                    &cfg.stats.node_name(),
                )
                .context("kafka producer")?,
            ),
            None => None,
        };
        let mut shared = Vec::with_capacity(routers.len());
        let mut parts = Vec::with_capacity(routers.len());
        for (i, router) in routers.into_iter().enumerate() {
            let code = router.city_code().to_string();
            let dir = tenant_data_dir(&cfg.store.data_dir, i, &code);
            let (s, p) = build_tenant(&cfg, Arc::new(router), dir, shutdown_rx.clone())
                .await
                .with_context(|| format!("tenant {code}"))?;
            shared.push(s);
            parts.push(p);
        }
        let tenants = Tenants::new(shared).context("no tenant")?;
        Ok(App {
            cfg,
            grpc_listener,
            admin_listener,
            auth,
            metrics,
            tenants,
            parts,
            publisher,
            shutdown_tx,
        })
    }
}

/// One tenant's store (opened, its writer started), its state restored
/// from it, and its admit.
async fn build_tenant(
    cfg: &Config,
    router: Arc<Router>,
    data_dir: PathBuf,
    shutdown_rx: watch::Receiver<bool>,
) -> anyhow::Result<(Shared, TenantParts)> {
    // The store creates its directory (0700); a tenant's parent too.
    if let Some(parent) = data_dir.parent() {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let tenant: Arc<str> = router.city_code().into();
    let clustered = cfg.kafka.as_ref().is_some_and(|k| k.cluster.is_some());
    // One node decides for its tenants for good; a cluster's node once
    // assigned their partition and restored (sources::kafka).
    let owner = if clustered {
        Owner::unowned()
    } else {
        Owner::always()
    };
    let mut store = Store::open_paged(&data_dir, cfg.store.synchronous, cfg.store.page_size_kib)
        .context("opening the store")?;
    if clustered {
        store.write_changelog(tenant.clone());
    }
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
            tenant: tenant.clone(),
        },
        owner.clone(),
    )
    .context("starting the committer")?;
    // The call windows, rebuilt from the call events of the last 25 h, and the
    // work-order tracker, from what the store holds of the last 40 days.
    let reader = Reader::open(&data_dir).context("opening the store for reading")?;
    let sla = Sla::new(SlaConfig::from(&cfg.sla), &tenant);
    let (unpublished, _) = reader.outbox_backlog(0).context("reading the outbox")?;
    crate::telemetry::metrics::outbox_backlog(&tenant, unpublished, Duration::ZERO);
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
        let mut rules =
            DedupRules::new(cfg.dedup.to_config(), &matters).context("dedup matters lexicon")?;
        if let Some(model) = cfg
            .dedup
            .types_model()
            .map_err(anyhow::Error::msg)
            .context("dedup problem types")?
        {
            rules.lexicon = rules.lexicon.with_types(Some(model));
        }
        let rules = Arc::new(rules);
        let index = Arc::new(std::sync::Mutex::new(Dedup::new(rules.clone(), &router)));
        Some((rules, index))
    } else {
        None
    };
    let orders = Orders::new(
        &router,
        TrackerConfig {
            due_soon_lead: chrono::Duration::minutes(cfg.sla.due_soon_minutes),
            max_cases: cfg.sla.max_open_cases,
            escalate_overdue_after: (cfg.sla.escalate_overdue_hours > 0)
                .then(|| chrono::Duration::hours(cfg.sla.escalate_overdue_hours)),
            revisit_window: chrono::Duration::days(cfg.sla.revisit_days),
            tallies: true,
        },
        dedup.as_ref().map(|(_, i)| i.clone()),
    );
    let dedup = dedup.map(|(rules, index)| DedupStage {
        rules,
        index,
        orders: orders.clone(),
    });
    drop(reader);

    let shared = Shared {
        tenant,
        owner,
        replicated: clustered,
        pipeline: Pipeline::new(router, dedup.clone()),
        committer: tx,
        sla,
        orders,
        shutdown: shutdown_rx,
        outbox: cfg.kafka.is_some().then_some((outbox_mark, published_rx)),
        data_dir: data_dir.clone(),
    };
    // The call windows from the call events of the last 25 h; the tracker
    // from the last 40 days (or the unresolved window, if longer); the
    // dedup index from the unresolved window: a work order still open
    // keeps its contacts past the repeat window, and the replay in time
    // order closes and expires the others as they were.
    let (restored, calls) = crate::admit::restore::rebuild(
        &shared,
        crate::admit::restore::Horizon::of(cfg),
        chrono::Utc::now(),
    )
    .context("restoring call windows, open work orders and the dedup index")?;
    tracing::info!(
        tenant = %shared.tenant,
        call_events = calls,
        open_cases = restored.open_cases,
        decisions = restored.decisions,
        dedup_records = restored.matters,
        order_events = restored.order_events,
        "state restored from the store"
    );
    let parts = TenantParts {
        committer,
        dedup,
        data_dir,
        outbox_wake,
        published_tx,
    };
    Ok((shared, parts))
}

/// Publishes when the holiday calendar ends (`hotline_calendar_end_timestamp_seconds`,
/// for the `HotlineCalendarEnding` alert) and logs the start-up warning
/// due ([`crate::config::rules::calendar_end`]).
fn calendar_end(calendar: &hotline_router::Calendar, now: chrono::DateTime<chrono::Utc>) {
    let (end, warning) = crate::config::rules::calendar_end(calendar, now);
    crate::telemetry::metrics::calendar_end(end.map_or(0, |e| e.timestamp()));
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
}

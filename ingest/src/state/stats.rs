//! Periodic StatsSnapshot (README.md, "Stats snapshots"): every `stats.interval_secs` the
//! window counters of every queue, the answer-wait, acceptance-latency and
//! pipeline-latency HdrHistograms of the interval, and the open work orders,
//! published to the stats topic (with Kafka) and to every gRPC `Stats/Watch`
//! stream. A watcher always gets the latest snapshot, never a backlog: a
//! slow dashboard skips snapshots instead of holding memory.
use crate::auth::{self, Role};
use crate::sinks::kafka::Publisher;
use crate::state::orders::Orders;
use crate::state::sla::Sla;
use crate::telemetry::hdr;
use crate::wire;
use hotline_proto::v1 as pb;
use prost::Message;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

/// Where the snapshots come from.
pub struct Sources {
    pub sla: Arc<Sla>,
    pub orders: Arc<Orders>,
    pub dedup: Option<crate::state::dedup::DedupStage>,
    pub node: String,
    /// The tenant's city code.
    pub tenant: Arc<str>,
    /// Whether the node-wide pipeline latency histogram goes into this
    /// tenant's snapshots (the default tenant's).
    pub pipeline_latency: bool,
}

impl Sources {
    /// Takes one snapshot as of `now`; the histograms restart empty.
    pub fn snapshot(&self, now: chrono::DateTime<chrono::Utc>) -> pb::StatsSnapshot {
        if let Some(d) = &self.dedup {
            d.report();
        }
        let mut histograms = Vec::new();
        if self.pipeline_latency {
            histograms.push(hdr::snapshot("pipeline_latency", &hdr::take_pipeline()));
        }
        histograms.extend(self.sla.accept_histograms());
        pb::StatsSnapshot {
            at: Some(wire::timestamp(now)),
            node: self.node.clone(),
            queues: self.sla.queue_stats(now),
            histograms,
            open_cases: self.orders.open_cases() as u64,
            tenant: self.tenant.to_string(),
        }
    }
}

/// The latest snapshot, shared with the watchers.
pub type Latest = watch::Receiver<Option<Arc<pb::StatsSnapshot>>>;

/// Takes a snapshot every `every` until `shutdown`, then drops the sender,
/// which ends every Watch stream.
pub async fn run(
    src: Sources,
    every: Duration,
    tx: watch::Sender<Option<Arc<pb::StatsSnapshot>>>,
    publisher: Option<Publisher>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|v| *v) => break,
        }
        let snap = src.snapshot(chrono::Utc::now());
        if let Some(p) = &publisher {
            let key = format!("{}/{}", src.node, src.tenant);
            if let Err(e) = p.stats(&key, &snap.encode_to_vec()).await {
                tracing::warn!(error = %e, "stats snapshot not delivered to Kafka");
            }
        }
        tx.send_replace(Some(Arc::new(snap)));
    }
}

/// `hotline.v1.Stats`.
pub struct StatsService {
    /// Each tenant's latest snapshot, the default tenant's first.
    latest: Vec<(Arc<str>, Latest)>,
}

impl StatsService {
    pub fn new(latest: Vec<(Arc<str>, Latest)>) -> StatsService {
        StatsService { latest }
    }
}

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<pb::StatsSnapshot, Status>> + Send>>;

/// A snapshot limited to `queues` (all when empty).
fn filtered(s: &pb::StatsSnapshot, queues: &[String]) -> pb::StatsSnapshot {
    let mut out = s.clone();
    if !queues.is_empty() {
        out.queues.retain(|q| queues.contains(&q.queue));
    }
    out
}

#[tonic::async_trait]
impl pb::stats_server::Stats for StatsService {
    type WatchStream = SnapshotStream;

    async fn watch(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        auth::require(&req, Role::Dashboard)?;
        let pb::WatchRequest { queues, tenant } = req.into_inner();
        if queues.len() > 64 {
            return Err(Status::invalid_argument("at most 64 queues"));
        }
        let latest = if tenant.is_empty() {
            self.latest.first()
        } else {
            self.latest.iter().find(|(t, _)| **t == *tenant)
        };
        let Some((_, latest)) = latest else {
            return Err(Status::not_found(format!(
                "no tenant {tenant:?} is served here"
            )));
        };
        let stream = tokio_stream::wrappers::WatchStream::new(latest.clone())
            .filter_map(move |s| s.map(|s| Ok(filtered(&s, &queues))));
        Ok(Response::new(Box::pin(stream)))
    }
}

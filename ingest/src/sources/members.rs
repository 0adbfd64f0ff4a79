//! Which node decides for which partition of the by-tenant topic, and where
//! to reach it over gRPC (README.md, "More than one node"): every node
//! announces itself on the compacted membership topic — its name, its
//! advertised gRPC address, the partitions whose tenants it has restored —
//! every 2 s and whenever that changes, and every node reads the topic. A
//! gRPC contact of a tenant another node decides for is forwarded there.
use hotline_proto::v1 as pb;
use prost::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// How often a node announces itself.
const EVERY: Duration = Duration::from_secs(2);
/// An announcement older than this names no owner (the node is gone or cut off).
const FRESH_MS: i64 = 10_000;

/// This node's view of the membership topic. A node is known by its
/// advertised address (unique: it is where the node is reached), keyed so
/// on the compacted topic; its name is for people.
pub struct Members {
    pub node: String,
    pub advertise: String,
    topic: String,
    table: RwLock<HashMap<String, pb::Member>>,
    changed: Notify,
}

impl Members {
    pub fn new(node: String, advertise: String, topic: String) -> Members {
        Members {
            node,
            advertise,
            topic,
            table: RwLock::new(HashMap::new()),
            changed: Notify::new(),
        }
    }

    /// What this node decides for changed: announce it now.
    pub fn changed(&self) {
        self.changed.notify_one();
    }

    /// The gRPC address of the node that announced `partition` last, if
    /// that was lately and is not this node.
    pub fn owner_of(&self, partition: i32, now_ms: i64) -> Option<String> {
        let table = self.table.read().ok()?;
        table
            .values()
            .filter(|m| m.grpc_addr != self.advertise && now_ms - m.at_ms <= FRESH_MS)
            .filter(|m| m.partitions.contains(&partition))
            .max_by_key(|m| m.at_ms)
            .map(|m| m.grpc_addr.clone())
    }

    fn record(&self, m: pb::Member) {
        if let Ok(mut t) = self.table.write() {
            t.insert(m.grpc_addr.clone(), m);
        }
    }

    /// The nodes that announced themselves lately, this one included, and
    /// the partitions they decide for.
    fn fresh(&self, now_ms: i64) -> (usize, usize) {
        let Ok(t) = self.table.read() else {
            return (0, 0);
        };
        let fresh: Vec<&pb::Member> = t
            .values()
            .filter(|m| now_ms - m.at_ms <= FRESH_MS)
            .collect();
        let mut parts: Vec<i32> = fresh
            .iter()
            .flat_map(|m| m.partitions.iter().copied())
            .collect();
        parts.sort_unstable();
        parts.dedup();
        (fresh.len(), parts.len())
    }
}

/// Announces this node every [`EVERY`] and at each change, with the
/// partitions `owned()` lists, until `shutdown` (then once with none).
pub async fn announce(
    members: Arc<Members>,
    producer: FutureProducer,
    owned: impl Fn() -> Vec<i32>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let stopping = *shutdown.borrow();
        let m = pb::Member {
            node: members.node.clone(),
            grpc_addr: members.advertise.clone(),
            partitions: if stopping { Vec::new() } else { owned() },
            at_ms: chrono::Utc::now().timestamp_millis(),
        };
        let body = m.encode_to_vec();
        let rec = FutureRecord::to(&members.topic)
            .key(members.advertise.as_bytes())
            .payload(&body);
        if let Err((e, _)) = producer.send(rec, Timeout::After(EVERY)).await {
            tracing::debug!(error = %e, "cluster: membership not announced");
        }
        if stopping {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = members.changed.notified() => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Follows the membership topic on a thread of its own until `shutdown`.
pub async fn follow(
    members: Arc<Members>,
    config: ClientConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let reading = stop.clone();
    let read = tokio::task::spawn_blocking(move || self::read(&members, &config, &reading));
    let _ = shutdown.wait_for(|v| *v).await;
    stop.store(true, Ordering::SeqCst);
    let _ = read.await;
}

/// Reads the membership topic from its start until `stop` (a blocking
/// loop).
fn read(members: &Members, config: &ClientConfig, stop: &AtomicBool) {
    let consumer: BaseConsumer = match config.create() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cluster: cannot read the membership topic; gRPC is not forwarded");
            return;
        }
    };
    let mut tpl = TopicPartitionList::new();
    if tpl
        .add_partition_offset(&members.topic, 0, Offset::Beginning)
        .and_then(|()| consumer.assign(&tpl))
        .is_err()
    {
        tracing::error!("cluster: cannot read the membership topic; gRPC is not forwarded");
        return;
    }
    while !stop.load(Ordering::SeqCst) {
        let Some(Ok(msg)) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        if let Some(m) = msg.payload().and_then(|b| pb::Member::decode(b).ok()) {
            members.record(m);
            let (nodes, partitions) = members.fresh(chrono::Utc::now().timestamp_millis());
            crate::telemetry::metrics::cluster_members(nodes, partitions);
        }
    }
}

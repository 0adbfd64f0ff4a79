//! More than one node (README.md, "More than one node"), the Kafka Streams
//! way: input records are re-keyed by tenant into the by-tenant topic
//! (`repartition`), whose partitions the consumer group spreads over the
//! nodes; the node assigned a partition restores its tenants' state from the
//! changelog topic (`restore`), then decides their records; the outboxes
//! publish only while the node is still a member of the group's generation
//! (`fence`). The tenant → partition table is the config's
//! (`kafka.cluster.tenant_partitions`), fixed, so adding a tenant never
//! moves another's state.
use crate::admit::restore::Horizon;
use crate::admit::tenants::Tenants;
use crate::admit::Shared;
use crate::config::kafka::{ClusterConfig, KafkaConfig};
use crate::sinks::committer;
use crate::telemetry::metrics as m;
use hotline_proto::v1 as pb;
use prost::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The header naming a by-tenant record's input stream.
pub const SOURCE: &str = "hotline.source";

/// What a by-tenant record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Contact,
    CallEvent,
    OrderEvent,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Contact => "contact",
            Source::CallEvent => "call_event",
            Source::OrderEvent => "order_event",
        }
    }

    /// The source a by-tenant record's header names.
    pub fn of(msg: &OwnedMessage) -> Option<Source> {
        let h = msg.headers()?;
        let v = h.iter().find(|x| x.key == SOURCE)?.value?;
        [Source::Contact, Source::CallEvent, Source::OrderEvent]
            .into_iter()
            .find(|s| s.as_str().as_bytes() == v)
    }
}

/// A node's part in the cluster: the table, the tenants and the topics.
pub struct Cluster {
    pub tenants: Tenants,
    /// Each tenant's partition, in the order of `tenants.all()`.
    partitions: Vec<i32>,
    pub by_tenant: String,
    pub changelog: String,
    /// For reading the changelog on restore (no group; assigned partitions).
    changelog_reader: ClientConfig,
    /// Partitions to restore, in assignment order.
    restore_tx: mpsc::UnboundedSender<i32>,
    horizon: Horizon,
    producer: FutureProducer,
    produce_timeout: Duration,
    /// The outboxes' check that this node is still a group member (set by
    /// the by-tenant consumer).
    pub fence: Arc<crate::sinks::ownership::Fence>,
    /// Who decides for which partition (`sources::members`).
    pub members: Arc<crate::sources::members::Members>,
}

/// Why the cluster cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("kafka.cluster.tenant_partitions has no partition for tenant {0}")]
    Unmapped(String),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("creating topic {0}: {1}")]
    Create(String, String),
    #[error("{0}")]
    Config(String),
}

impl Cluster {
    /// The cluster of `tenants`; every one of them must be in the table.
    /// Returns it and the receiver its restore task reads.
    pub fn new(
        k: &KafkaConfig,
        c: &ClusterConfig,
        tenants: &Tenants,
        horizon: Horizon,
        node: String,
        advertise: String,
    ) -> Result<(Arc<Cluster>, mpsc::UnboundedReceiver<i32>), ClusterError> {
        let mut partitions = Vec::new();
        for t in tenants.all() {
            let p = c
                .tenant_partitions
                .get(&*t.tenant)
                .copied()
                .ok_or_else(|| ClusterError::Unmapped(t.tenant.to_string()))?;
            partitions.push(p);
        }
        let producer: FutureProducer = k
            .producer_config()
            .map_err(|e| ClusterError::Config(e.to_string()))?
            .create()?;
        let mut reader = k
            .consumer_config()
            .map_err(|e| ClusterError::Config(e.to_string()))?;
        reader
            .set("group.id", format!("{}.restore", k.group_id))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            // The restore reads to the end as fast as it can: no waiting
            // for a fuller fetch.
            .set("fetch.wait.max.ms", "10")
            .remove("group.instance.id");
        let (restore_tx, restore_rx) = mpsc::unbounded_channel();
        Ok((
            Arc::new(Cluster {
                tenants: tenants.clone(),
                partitions,
                by_tenant: c.by_tenant.clone(),
                changelog: c.changelog.clone(),
                changelog_reader: reader,
                restore_tx,
                horizon,
                producer,
                produce_timeout: Duration::from_millis(k.produce_timeout_ms),
                fence: Arc::default(),
                members: Arc::new(crate::sources::members::Members::new(
                    node,
                    advertise,
                    c.membership.clone(),
                )),
            }),
            restore_rx,
        ))
    }

    /// The partitions whose every tenant this node has restored and decides for.
    pub fn owned_partitions(&self) -> Vec<i32> {
        let mut ps: Vec<i32> = self.partitions.clone();
        ps.sort_unstable();
        ps.dedup();
        ps.retain(|p| {
            self.tenants_of(*p)
                .all(|t| self.tenants.at(t).owner.is_owned())
        });
        ps
    }

    /// Where to forward a gRPC contact of the tenant at `i`: the node that
    /// announced its partition last (not this one), if lately.
    pub fn owner_addr(&self, i: usize) -> Option<String> {
        self.members
            .owner_of(self.partition_of(i), chrono::Utc::now().timestamp_millis())
    }

    /// The membership topic's reader config (no group, no end-of-partition events).
    pub fn membership_reader(&self) -> ClientConfig {
        let mut c = self.changelog_reader.clone();
        c.set("enable.partition.eof", "false");
        c
    }

    /// This node's producer (the membership announcements).
    pub fn producer(&self) -> FutureProducer {
        self.producer.clone()
    }

    /// Hands a contact this node may not decide to its tenant's partition of
    /// the by-tenant topic, for its owner to decide (with dedup) when it has one.
    pub async fn handoff(&self, contact: &pb::Contact, tenant: usize) -> Result<(), String> {
        let bytes = contact.encode_to_vec();
        self.send_by_tenant(
            tenant,
            Some(contact.contact_id.as_bytes()),
            &bytes,
            Source::Contact,
        )
        .await
        .map_err(|e| e.to_string())
    }

    /// One record to the tenant's partition of the by-tenant topic, with
    /// its `hotline.source` header.
    async fn send_by_tenant(
        &self,
        tenant: usize,
        key: Option<&[u8]>,
        payload: &[u8],
        source: Source,
    ) -> Result<(), rdkafka::error::KafkaError> {
        let headers = OwnedHeaders::new().insert(Header {
            key: SOURCE,
            value: Some(source.as_str()),
        });
        let rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.by_tenant)
            .partition(self.partition_of(tenant))
            .payload(payload)
            .headers(headers);
        let rec = match key {
            Some(k) => rec.key(k),
            None => rec,
        };
        self.producer
            .send(rec, Timeout::After(self.produce_timeout))
            .await
            .map(drop)
            .map_err(|(e, _)| e)
    }

    /// The partition of the tenant at `i` of `tenants.all()`.
    pub fn partition_of(&self, i: usize) -> i32 {
        self.partitions.get(i).copied().unwrap_or(0)
    }

    /// The tenants (indexes) whose state is in `partition`.
    fn tenants_of(&self, partition: i32) -> impl Iterator<Item = usize> + '_ {
        self.partitions
            .iter()
            .enumerate()
            .filter(move |(_, p)| **p == partition)
            .map(|(i, _)| i)
    }

    /// Partitions assigned here: their tenants wait while their state is
    /// restored (called from the consumer's rebalance callback: only marks
    /// and queues).
    pub fn assigned(&self, partitions: &[i32]) {
        for &p in partitions {
            for t in self.tenants_of(p) {
                self.tenants.at(t).owner.assign();
            }
            let _ = self.restore_tx.send(p);
        }
    }

    /// Partitions taken away: their tenants are decided elsewhere from now.
    pub fn revoked(&self, partitions: &[i32]) {
        for &p in partitions {
            for t in self.tenants_of(p) {
                self.tenants.at(t).owner.revoke();
            }
        }
        self.members.changed();
    }

    /// Re-keys an input record by tenant into the by-tenant topic: the
    /// tenant's partition, the record's key and bytes, and a header naming
    /// its stream. `Err`: a dead letter's reason and message.
    pub async fn repartition(
        &self,
        msg: &OwnedMessage,
        source: Source,
    ) -> Result<(), (&'static str, String)> {
        let bytes = msg.payload().unwrap_or_default();
        let undecodable = |what: &str, e: prost::DecodeError| {
            ("UNDECODABLE", format!("not a hotline.v1.{what}: {e}"))
        };
        let refused = |r: crate::admit::pipeline::Refusal| (r.code, r.message);
        let t = match source {
            Source::Contact => {
                let c = pb::Contact::decode(bytes).map_err(|e| undecodable("Contact", e))?;
                self.tenants.of_contact(&c).map_err(refused)?
            }
            Source::CallEvent => {
                let c = pb::CallEvent::decode(bytes).map_err(|e| undecodable("CallEvent", e))?;
                self.tenants.of_call(&c).map_err(refused)?
            }
            Source::OrderEvent => {
                let o = pb::OrderEvent::decode(bytes).map_err(|e| undecodable("OrderEvent", e))?;
                self.tenants.of_case(&o.case_id)
            }
        };
        // Until delivered: the input offset waits for it (at least once).
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.send_by_tenant(t, msg.key(), bytes, source).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(error = %e, "cluster: by-tenant record not delivered; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// Restores the tenants of each partition the group assigns here, one
/// partition at a time, until the channel closes. A tenant whose restore
/// fails is tried again (its partition's other tenants, restored and
/// deciding, are left alone), as long as it is still assigned here.
pub async fn restore_task(cluster: Arc<Cluster>, mut rx: mpsc::UnboundedReceiver<i32>) {
    while let Some(p) = rx.recv().await {
        for t in cluster.tenants_of(p).collect::<Vec<_>>() {
            let shared = cluster.tenants.at(t).clone();
            let epoch = shared.owner.epoch();
            let started = Instant::now();
            loop {
                let restored = restore_tenant(&cluster, &shared, p).await;
                // Revoked (or assigned again) meanwhile: that assignment restores it.
                if shared.owner.epoch() != epoch {
                    break;
                }
                match restored {
                    Ok(applied) => {
                        shared.owner.restored();
                        cluster.members.changed();
                        let secs = started.elapsed().as_secs_f64();
                        m::restore(secs);
                        tracing::info!(
                            tenant = %shared.tenant,
                            partition = p,
                            changelog_records = applied,
                            seconds = secs,
                            "cluster: tenant restored; deciding here"
                        );
                        break;
                    }
                    Err(e) => {
                        tracing::error!(tenant = %shared.tenant, partition = p, error = %e, "cluster: restore failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }
    }
}

/// One tenant's restore: the rows of its store not on the changelog rolled
/// back, the changelog's records from its checkpoint applied, the state
/// rebuilt from the store. Returns the records applied.
async fn restore_tenant(cluster: &Cluster, shared: &Shared, partition: i32) -> Result<u64, String> {
    // 1. What this store holds and the changelog does not: rolled back.
    let rolled = committer::rollback(&shared.committer).await?;
    if rolled > 0 {
        tracing::info!(tenant = %shared.tenant, rows = rolled, "cluster: rows not on the changelog rolled back");
    }
    // 2. The changelog from the checkpoint to its end.
    let dir = shared.data_dir.clone();
    let from = tokio::task::spawn_blocking(move || {
        crate::sinks::store::Reader::open(&dir).and_then(|r| r.checkpoint(partition))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let reader = cluster.changelog_reader.clone();
    let topic = cluster.changelog.clone();
    let tenant = shared.tenant.to_string();
    let (batches_tx, mut batches_rx) = mpsc::channel::<(Vec<pb::ChangelogRecord>, i64)>(4);
    let read = tokio::task::spawn_blocking(move || {
        read_changelog(&reader, &topic, partition, from, &tenant, &batches_tx)
    });
    let mut applied = 0u64;
    while let Some((records, next)) = batches_rx.recv().await {
        applied += records.len() as u64;
        committer::restore(&shared.committer, records, partition, next).await?;
    }
    read.await.map_err(|e| e.to_string())??;
    // 3. The state rebuilt from the store, as on start.
    let s = shared.clone();
    let horizon = cluster.horizon;
    tokio::task::spawn_blocking(move || {
        crate::admit::restore::rebuild(&s, horizon, chrono::Utc::now())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    Ok(applied)
}

/// Records per restore transaction.
const RESTORE_BATCH: usize = 2_000;

/// Reads `partition` of the changelog from `from` to its end as of now,
/// sending `tenant`'s records in batches with the offset after each batch.
fn read_changelog(
    config: &ClientConfig,
    topic: &str,
    partition: i32,
    from: i64,
    tenant: &str,
    out: &mpsc::Sender<(Vec<pb::ChangelogRecord>, i64)>,
) -> Result<(), String> {
    let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
    let (_, high) = consumer
        .fetch_watermarks(topic, partition, Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    if from >= high {
        return Ok(());
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(from))
        .map_err(|e| e.to_string())?;
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let mut batch = Vec::with_capacity(RESTORE_BATCH);
    let mut next = from;
    let deadline = Instant::now() + Duration::from_secs(600);
    while next < high {
        if Instant::now() > deadline {
            return Err(format!(
                "changelog {topic}/{partition}: not read to {high} in 600 s"
            ));
        }
        let Some(r) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let msg = match r {
            Ok(m) => m,
            Err(rdkafka::error::KafkaError::PartitionEOF(_)) => break,
            Err(e) => return Err(e.to_string()),
        };
        next = msg.offset() + 1;
        if let Some(rec) = msg
            .payload()
            .and_then(|b| pb::ChangelogRecord::decode(b).ok())
            .filter(|r| r.tenant == tenant)
        {
            batch.push(rec);
        }
        if batch.len() >= RESTORE_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(RESTORE_BATCH));
            out.blocking_send((full, next)).map_err(|e| e.to_string())?;
        }
    }
    out.blocking_send((batch, next.max(from)))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Creates the internal topics that do not exist, with the configured
/// partitions and their cleanup policies (the by-tenant topic is deleted
/// after the broker's retention; the changelog kept `retention_days`). The
/// input and output topics stay the operator's.
pub async fn ensure_topics(
    k: &KafkaConfig,
    c: &ClusterConfig,
    retention_days: u32,
) -> Result<(), ClusterError> {
    let config = k
        .producer_config()
        .map_err(|e| ClusterError::Config(e.to_string()))?;
    let admin: AdminClient<_> = config.create()?;
    let meta = admin
        .inner()
        .fetch_metadata(None, Timeout::After(Duration::from_secs(10)))?;
    let exists = |name: &str| {
        meta.topics()
            .iter()
            .any(|t| t.name() == name && t.error().is_none() && !t.partitions().is_empty())
    };
    let retention_ms = (u64::from(retention_days) * 86_400_000).to_string();
    // Name, partitions, cleanup policy, retention (None: the broker's).
    let internal = [
        (&c.by_tenant, c.partitions, "delete", None),
        (
            &c.changelog,
            c.partitions,
            "delete",
            Some(retention_ms.as_str()),
        ),
        (&c.membership, 1, "compact", None),
    ];
    let wanted: Vec<NewTopic<'_>> = internal
        .iter()
        .filter(|(name, ..)| !exists(name))
        .map(|&(name, partitions, policy, retention)| {
            let t = NewTopic::new(
                name,
                partitions,
                TopicReplication::Fixed(c.replication_factor),
            )
            .set("cleanup.policy", policy);
            match retention {
                Some(ms) => t.set("retention.ms", ms),
                None => t,
            }
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let results = admin
        .create_topics(
            &wanted,
            &AdminOptions::new().request_timeout(Some(Duration::from_secs(10))),
        )
        .await?;
    for r in results {
        match r {
            Ok(name) => {
                tracing::info!(topic = %name, partitions = c.partitions, "cluster: internal topic created")
            }
            Err((name, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::debug!(topic = %name, "cluster: internal topic created by another node");
            }
            Err((name, code)) => return Err(ClusterError::Create(name, code.to_string())),
        }
    }
    Ok(())
}

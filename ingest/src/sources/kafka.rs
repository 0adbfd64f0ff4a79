//! The consumer: reads contacts, call events and order events in a consumer
//! group, admits each record as its own task (`admit`, like gRPC), and
//! stores offsets in arrival order once each record's outputs are on Kafka
//! (durable in the store, then published by its outbox: the rust-rdkafka
//! at-least-once pattern). Too many records in flight pause the assigned
//! partitions while polling goes on; pending offsets are committed when
//! partitions are revoked and at shutdown.
use crate::admit::tenants::Tenants;
use crate::admit::{AdmitError, Event};
use crate::sinks::kafka::Publisher;
use crate::sinks::ownership::Membership;
use crate::sources::cluster::{Cluster, Source};
use crate::telemetry::log_limit::LogLimit;
use crate::telemetry::metrics as m;
use chrono::Utc;
use hotline_proto::v1 as pb;
use prost::Message as _;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::ClientContext;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Notify};

/// How long the pipeline may stay full before the partitions are paused.
const PAUSE_AFTER: Duration = Duration::from_millis(500);

async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Rebalance hooks: commit what is stored before partitions go away; count
/// assignments (a record consumed under an earlier one stores no offset);
/// with `[kafka.cluster]`, the by-tenant consumer's assignment is the
/// node's ownership of tenants (`sources::cluster`).
#[derive(Default)]
pub struct Ctx {
    generation: Arc<AtomicU64>,
    cluster: Option<Arc<Cluster>>,
}

impl Ctx {
    /// The by-tenant consumer's context: its assignment owns tenants.
    pub fn owning(cluster: Arc<Cluster>) -> Ctx {
        Ctx {
            generation: Arc::default(),
            cluster: Some(cluster),
        }
    }
}

/// The partitions of a list.
fn partitions(tpl: &rdkafka::TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

impl ClientContext for Ctx {}

impl ConsumerContext for Ctx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            self.generation.fetch_add(1, Ordering::SeqCst);
            if let Some(c) = &self.cluster {
                c.revoked(&partitions(tpl));
            }
            tracing::info!(
                partitions = tpl.count(),
                "kafka: partitions revoked; committing stored offsets"
            );
            if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
                tracing::debug!(error = %e, "kafka: nothing to commit on revoke");
            }
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        m::kafka_rebalance();
        if let Rebalance::Assign(tpl) = rebalance {
            self.generation.fetch_add(1, Ordering::SeqCst);
            tracing::info!(partitions = tpl.count(), "kafka: partitions assigned");
            if let Some(c) = &self.cluster {
                c.assigned(&partitions(tpl));
            }
        }
        let n = consumer.assignment().map(|a| a.count()).unwrap_or(0);
        let which = if self.cluster.is_some() {
            "by_tenant"
        } else {
            "input"
        };
        m::kafka_assigned(which, n);
    }
}

/// Whether the consumer is still a member of its group's current
/// generation: its committed offsets committed again, which the group
/// coordinator refuses from a member it has dropped. With nothing
/// committed yet (nothing to test with) only its own assignment says so,
/// which passes one batch but starts no lease.
fn still_member(c: &StreamConsumer<Ctx>) -> Membership {
    let Ok(committed) = c.committed(Duration::from_secs(5)) else {
        return Membership::Lost;
    };
    let mut tpl = rdkafka::TopicPartitionList::new();
    for e in committed.elements() {
        if let rdkafka::Offset::Offset(o) = e.offset() {
            if tpl
                .add_partition_offset(e.topic(), e.partition(), rdkafka::Offset::Offset(o))
                .is_err()
            {
                return Membership::Lost;
            }
        }
    }
    if tpl.count() == 0 {
        let assigned = !c.assignment().map(|a| a.count() == 0).unwrap_or(true);
        return if assigned {
            Membership::Assumed
        } else {
            Membership::Lost
        };
    }
    match c.commit(&tpl, CommitMode::Sync) {
        Ok(()) => Membership::Proven,
        Err(e) => {
            tracing::warn!(error = %e, "cluster: this node is no longer a member of its group's generation; publishing stops");
            Membership::Lost
        }
    }
}

/// How a record ended: `Done` lets its offset be stored.
#[derive(Debug)]
enum Outcome {
    Done,
    /// Could not be processed nor dead-lettered before shutdown: the offset
    /// must not move past it.
    Stuck,
    /// Its partition went to another node first: the new owner decides it.
    Abandoned,
}

struct Inflight {
    /// The consumer's assignment generation when it was read.
    generation: u64,
    topic: String,
    partition: i32,
    offset: i64,
    done: oneshot::Receiver<Outcome>,
}

/// The record's outputs are on Kafka (through its tenant's outbox): only
/// then may its offset be stored. Shutting down first leaves it for
/// redelivery.
async fn on_kafka(admit: &crate::admit::Shared, epoch: u64) -> Result<(), Failure> {
    admit.published(epoch).await.map_err(store_failure)
}

/// What this consumer does with the records it reads.
#[derive(Clone)]
pub enum Role {
    /// One node: the input topics are decided here.
    Direct,
    /// A cluster's intake: input records are re-keyed by tenant.
    Repartition(Arc<Cluster>),
    /// A cluster's by-tenant consumer: the records of the tenants whose
    /// partitions are assigned here are decided here.
    Decide(Arc<Cluster>),
}

/// What each record task needs.
#[derive(Clone)]
struct Work {
    role: Role,
    tenants: Tenants,
    /// The consumer's assignment generation (its context's).
    generation: Arc<AtomicU64>,
    /// For dead letters only: decisions and alerts go through the outbox.
    publisher: Publisher,
    contacts: String,
    call_events: String,
    order_events: String,
}

/// The running consumer.
pub struct KafkaIngest {
    consumer: Arc<StreamConsumer<Ctx>>,
    work: Work,
    max_in_flight: usize,
}

impl KafkaIngest {
    /// Subscribes to the input topics.
    pub fn new(
        consumer: StreamConsumer<Ctx>,
        topics: &crate::config::kafka::TopicsConfig,
        tenants: &Tenants,
        publisher: Publisher,
        max_in_flight: usize,
        role: Role,
    ) -> rdkafka::error::KafkaResult<KafkaIngest> {
        match &role {
            Role::Decide(c) => consumer.subscribe(&[&c.by_tenant])?,
            _ => consumer.subscribe(&[
                &topics.contacts,
                &topics.call_events,
                &topics.order_events,
            ])?,
        }
        let consumer = Arc::new(consumer);
        if let Role::Decide(c) = &role {
            // The outboxes publish only while this node is a member of the
            // group's current generation: a commit the coordinator refuses
            // from a member it dropped says it is not.
            let fenced = Arc::downgrade(&consumer);
            c.fence.set(Arc::new(move || {
                fenced
                    .upgrade()
                    .map_or(Membership::Lost, |c| still_member(&c))
            }));
        }
        let generation = consumer.context().generation.clone();
        Ok(KafkaIngest {
            consumer,
            work: Work {
                role,
                generation,
                tenants: tenants.clone(),
                publisher,
                contacts: topics.contacts.clone(),
                call_events: topics.call_events.clone(),
                order_events: topics.order_events.clone(),
            },
            max_in_flight: max_in_flight.max(1),
        })
    }

    fn set_paused(&self, pause: bool) {
        let Ok(tpl) = self.consumer.assignment() else {
            return;
        };
        if tpl.count() == 0 {
            return;
        }
        let r = if pause {
            self.consumer.pause(&tpl)
        } else {
            self.consumer.resume(&tpl)
        };
        match r {
            Ok(()) => {
                m::kafka_pause(pause);
                tracing::debug!(
                    paused = pause,
                    "kafka: partitions {}",
                    if pause { "paused" } else { "resumed" }
                );
            }
            Err(e) => tracing::warn!(error = %e, "kafka: pause/resume failed"),
        }
    }

    /// Consumes until shutdown, then finishes what is in flight (within
    /// `drain`) and commits the stored offsets.
    pub async fn run(self, drain: Duration) {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let drained = Arc::new(Notify::new());
        let (fifo_tx, fifo_rx) = mpsc::unbounded_channel::<Inflight>();
        let acker = tokio::spawn(ack_in_order(
            self.consumer.clone(),
            self.work.generation.clone(),
            fifo_rx,
            in_flight.clone(),
            drained.clone(),
            self.max_in_flight / 2,
        ));
        let mut shutdown = self.work.tenants.default_tenant().shutdown.clone();
        let mut paused = false;
        // When the pipeline is full: stop taking records; if it stays full
        // for PAUSE_AFTER, pause the partitions (pausing drops librdkafka's
        // prefetched records, so a short stall is cheaper without it). Polling
        // goes on in both states, so the instance never leaves the group.
        let mut full_since: Option<tokio::time::Instant> = None;
        loop {
            let full = in_flight.load(Ordering::SeqCst) >= self.max_in_flight;
            match (full, full_since) {
                (true, None) => full_since = Some(tokio::time::Instant::now()),
                (false, _) => {
                    full_since = None;
                    if paused {
                        self.set_paused(false);
                        paused = false;
                    }
                }
                _ => {}
            }
            let pause_at = full_since.map(|t| t + PAUSE_AFTER);
            tokio::select! {
                _ = shutdown.wait_for(|v| *v) => break,
                _ = drained.notified(), if full => {}
                _ = sleep_until(pause_at), if full && !paused => {
                    self.set_paused(true);
                    paused = true;
                }
                msg = self.consumer.recv(), if !full || paused => {
                    let msg = match msg {
                        Ok(msg) => msg.detach(),
                        Err(e) => {
                            tracing::warn!(error = %e, "kafka: consume error");
                            m::kafka_consume_error();
                            continue;
                        }
                    };
                    let (done_tx, done) = oneshot::channel();
                    let generation = self.work.generation.load(Ordering::SeqCst);
                    let inflight = Inflight { generation, topic: msg.topic().to_string(), partition: msg.partition(), offset: msg.offset(), done };
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    let work = self.work.clone();
                    tokio::spawn(async move {
                        let out = work.process(msg, generation).await;
                        let _ = done_tx.send(out);
                    });
                    if fifo_tx.send(inflight).is_err() {
                        break;
                    }
                }
            }
        }
        drop(fifo_tx);
        if tokio::time::timeout(drain, acker).await.is_err() {
            tracing::warn!(
                "kafka: records still in flight at the drain deadline; they will be redelivered"
            );
        }
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => tracing::info!("kafka: offsets committed"),
            Err(e) => tracing::debug!(error = %e, "kafka: final commit"),
        }
    }
}

/// Stores each record's offset once it and every record before it on the
/// consumer are done; a stuck record freezes its partition's offset.
async fn ack_in_order(
    consumer: Arc<StreamConsumer<Ctx>>,
    generation: Arc<AtomicU64>,
    mut fifo: mpsc::UnboundedReceiver<Inflight>,
    in_flight: Arc<AtomicUsize>,
    drained: Arc<Notify>,
    low_water: usize,
) {
    let mut stuck: HashMap<(String, i32), i64> = HashMap::new();
    let mut pending: VecDeque<Inflight> = VecDeque::new();
    loop {
        let next = match pending.pop_front() {
            Some(p) => p,
            None => match fifo.recv().await {
                Some(p) => p,
                None => break,
            },
        };
        let outcome = next.done.await.unwrap_or(Outcome::Stuck);
        let key = (next.topic, next.partition);
        // Read under an assignment since replaced: its partition's next owner
        // (here or elsewhere) reads it again from the committed offset.
        let current = generation.load(Ordering::SeqCst) == next.generation;
        if !current {
            stuck.remove(&key);
        }
        match outcome {
            Outcome::Done if current && !stuck.contains_key(&key) => {
                if let Err(e) = consumer.store_offset(&key.0, key.1, next.offset) {
                    // The partition was revoked: its new owner redelivers from the last commit.
                    tracing::debug!(error = %e, "kafka: offset not stored");
                }
            }
            Outcome::Done | Outcome::Abandoned => {}
            Outcome::Stuck if !current => {}
            Outcome::Stuck => {
                tracing::error!(
                    partition = key.1,
                    offset = next.offset,
                    "kafka: record neither processed nor dead-lettered; partition offset frozen"
                );
                stuck.insert(key, next.offset);
            }
        }
        let left = in_flight.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        if left <= low_water {
            drained.notify_one();
        }
    }
}

/// Why a record was not processed.
enum Failure {
    /// The record's fault: dead-letter it with this reason.
    Record(&'static str, String),
    /// The store failed: not the record's fault; tried again (see [`Work::process`]).
    Store(String),
    /// The daemon stopped first: its offset stays for redelivery.
    ShuttingDown,
    /// The tenant's partition went to another node first.
    Abandoned,
}

/// Not admitted: the store's or the daemon's state, not the record's fault.
fn store_failure(e: AdmitError) -> Failure {
    match e {
        AdmitError::Closed => Failure::ShuttingDown,
        AdmitError::NotOwner => Failure::Abandoned,
        e => Failure::Store(e.to_string()),
    }
}

/// Logs that a record found the store unavailable, at most once a second
/// (every record in flight meets it); the records not logged are counted
/// in the next line.
fn store_failure_logged(error: &str) {
    static LIMIT: LogLimit = LogLimit::new();
    let Some(suppressed) = LIMIT.admit(Utc::now().timestamp()) else {
        return;
    };
    tracing::error!(
        error,
        suppressed,
        "kafka: store unavailable; records held and tried again"
    );
}

fn undecodable(what: &str, e: prost::DecodeError) -> Failure {
    Failure::Record("UNDECODABLE", format!("not a hotline.v1.{what}: {e}"))
}

impl Work {
    /// Handles one record; dead-letters what cannot be processed. While the
    /// store cannot commit (a full disk, an I/O error) the record is tried
    /// again with backoff, its offset held, until the store recovers or the
    /// daemon stops: the records then go on by themselves, as gRPC clients'
    /// retries do, and the partition's later offsets are not frozen.
    async fn process(&self, msg: OwnedMessage, generation: u64) -> Outcome {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        let mut tries = 0u32;
        let result = loop {
            if self.generation.load(Ordering::SeqCst) != generation {
                break Err(Failure::Abandoned);
            }
            match self.handle(&msg, generation).await {
                Err(Failure::Store(error)) => {
                    tries += 1;
                    store_failure_logged(&error);
                    if !self.pause(&mut backoff, Duration::from_secs(5)).await {
                        break Err(Failure::ShuttingDown);
                    }
                }
                other => break other,
            }
        };
        if tries > 0 && result.is_ok() {
            tracing::info!(tries, "kafka: record stored after the store recovered");
        }
        let outcome = match result {
            Ok(()) => Outcome::Done,
            Err(Failure::Store(_)) | Err(Failure::ShuttingDown) => {
                tracing::debug!("kafka: shutting down; record left for redelivery");
                Outcome::Stuck
            }
            Err(Failure::Abandoned) => {
                tracing::debug!("kafka: partition moved; record left to its new owner");
                Outcome::Abandoned
            }
            Err(Failure::Record(reason, error)) => self.dead_letter(&msg, reason, &error).await,
        };
        m::answer_latency("kafka", started.elapsed());
        outcome
    }

    /// Waits `backoff` before a retry, then doubles it up to `max`; `false`
    /// at once when the daemon stops (the record is left for redelivery).
    async fn pause(&self, backoff: &mut Duration, max: Duration) -> bool {
        let mut shutdown = self.tenants.default_tenant().shutdown.clone();
        let slept = tokio::select! {
            _ = tokio::time::sleep(*backoff) => true,
            _ = shutdown.wait_for(|v| *v) => false,
        };
        *backoff = (*backoff * 2).min(max);
        slept
    }

    /// One try at a record: by its topic, or (a by-tenant record) by its
    /// header; re-keyed by tenant when this is a cluster's intake.
    async fn handle(&self, msg: &OwnedMessage, generation: u64) -> Result<(), Failure> {
        let topic = msg.topic();
        let source = if topic == self.contacts {
            Some(Source::Contact)
        } else if topic == self.call_events {
            Some(Source::CallEvent)
        } else if topic == self.order_events {
            Some(Source::OrderEvent)
        } else if matches!(&self.role, Role::Decide(c) if c.by_tenant == topic) {
            Source::of(msg)
        } else {
            None
        };
        let Some(source) = source else {
            return Err(Failure::Record(
                "UNKNOWN_TOPIC",
                format!("no handler for topic {topic}"),
            ));
        };
        if let Role::Repartition(c) = &self.role {
            return c
                .repartition(msg, source)
                .await
                .map_err(|(reason, error)| Failure::Record(reason, error));
        }
        match source {
            Source::Contact => self.contact(msg, generation).await,
            Source::CallEvent => self.event(msg, true, generation).await,
            Source::OrderEvent => self.event(msg, false, generation).await,
        }
    }

    /// The tenant's ownership epoch once this node decides for it: at once
    /// on one node; a cluster's record waits while its tenant is restored,
    /// and is abandoned if its partition moves meanwhile.
    async fn owned(&self, admit: &crate::admit::Shared, generation: u64) -> Result<u64, Failure> {
        let mut shutdown = admit.shutdown.clone();
        loop {
            if let Some(epoch) = admit.owner.owned_epoch() {
                return Ok(epoch);
            }
            if self.generation.load(Ordering::SeqCst) != generation {
                return Err(Failure::Abandoned);
            }
            tokio::select! {
                r = admit.owner.owned(&mut shutdown) => {
                    if r.is_none() {
                        return Err(Failure::ShuttingDown);
                    }
                }
                // The generation moves without the tenant being owned again
                // when its partition went elsewhere.
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    async fn contact(&self, msg: &OwnedMessage, generation: u64) -> Result<(), Failure> {
        let contact = pb::Contact::decode(msg.payload().unwrap_or_default())
            .map_err(|e| undecodable("Contact", e))?;
        let refused = |r: crate::admit::pipeline::Refusal| {
            m::reject(r.code);
            Failure::Record(r.code, format!("{}: {}", r.field, r.message))
        };
        let admit = self
            .tenants
            .at(self.tenants.of_contact(&contact).map_err(refused)?);
        let epoch = self.owned(admit, generation).await?;
        let decided = admit
            .pipeline
            .decide_one(&contact, Utc::now())
            .map_err(refused)?;
        // Waiting for room in the committer's queue is backpressure: the
        // record stays in flight. A repeat of a stored contact id needs
        // nothing more: its decision went to the outbox when first stored.
        let (queued, _) = admit.queue(decided, epoch).await.map_err(store_failure)?;
        queued.settle().await.map_err(store_failure)?;
        on_kafka(admit, epoch).await
    }

    async fn event(&self, msg: &OwnedMessage, call: bool, generation: u64) -> Result<(), Failure> {
        let bytes = msg.payload().unwrap_or_default();
        let ev = if call {
            Event::Call(pb::CallEvent::decode(bytes).map_err(|e| undecodable("CallEvent", e))?)
        } else {
            Event::Order(pb::OrderEvent::decode(bytes).map_err(|e| undecodable("OrderEvent", e))?)
        };
        let row = ev
            .row()
            .map_err(|f| Failure::Record("INVALID_EVENT", format!("bad or missing {f}")))?;
        let t = match &ev {
            Event::Order(o) => self.tenants.of_case(&o.case_id),
            Event::Call(c) => self
                .tenants
                .of_call(c)
                .map_err(|r| Failure::Record(r.code, r.message))?,
        };
        let admit = self.tenants.at(t);
        let epoch = self.owned(admit, generation).await?;
        // An order event its case's state refuses is dead-lettered, not stored.
        if let Err(r) = admit.check_event(&ev, &row).await {
            return Err(Failure::Record(
                "REJECTED",
                format!("{} {}: {}", r.status(), r.refusal.code(), r.refusal),
            ));
        }
        let rx = admit.queue_event(row, epoch).await.map_err(store_failure)?;
        admit
            .settle_event(rx.await, &ev)
            .await
            .map_err(store_failure)?;
        on_kafka(admit, epoch).await
    }

    /// Dead-letters a record, retrying with backoff until it is delivered or
    /// the daemon stops.
    async fn dead_letter(&self, msg: &OwnedMessage, reason: &str, error: &str) -> Outcome {
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.publisher.dead_letter(msg, reason, error).await {
                Ok(()) => return Outcome::Done,
                Err(e) => {
                    tracing::error!(error = %e, "kafka: dead letter not delivered; retrying");
                    if !self.pause(&mut backoff, Duration::from_secs(30)).await {
                        return Outcome::Stuck;
                    }
                }
            }
        }
    }
}

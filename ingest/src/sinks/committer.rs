//! The committer: one thread that owns the store's writing connection and
//! commits queued work in groups (many contacts per transaction, one fsync),
//! then answers each job. The queue in front of it is bounded: that bound is
//! the daemon's backpressure.
use crate::sinks::ownership::Owner;
use crate::sinks::store::{DecisionRow, EventRow, Inserted, Store, StoreError};
use crate::telemetry::metrics as m;
use hotline_proto::v1 as pb;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// What the committer answers for a decision: whether it is new, and for
/// each of its alerts whether it was stored now (not before).
pub type DecisionReply = Result<(Inserted, Vec<bool>), Arc<StoreError>>;
/// What the committer answers for an event: `true` when new.
pub type EventReply = Result<bool, Arc<StoreError>>;

/// One unit of work.
pub enum Job {
    /// A decision made in the tenant's ownership `epoch` (see
    /// `sinks::ownership`): not stored if that epoch has ended. Its
    /// `alerts` (a possible emergency's, dedup's escalation and hotspot) are
    /// stored in the same transaction when the decision is new: durable and
    /// on the outbox together, so no crash or takeover keeps one without
    /// the other.
    Decision {
        row: DecisionRow,
        alerts: Vec<EventRow>,
        reply: oneshot::Sender<DecisionReply>,
        enqueued: Instant,
        epoch: u64,
    },
    Event {
        row: EventRow,
        reply: oneshot::Sender<EventReply>,
        epoch: u64,
    },
    /// The outbox rows up to `upto` are on Kafka: forget them; the
    /// changelog's partition is on Kafka up to (not including) `checkpoint`'s offset.
    OutboxDone {
        upto: i64,
        checkpoint: Option<(i32, i64)>,
    },
    /// Changelog records of another owner, applied in one transaction with
    /// the partition's new checkpoint (`sinks::changelog`).
    Restore {
        records: Vec<pb::ChangelogRecord>,
        partition: i32,
        next_offset: i64,
        reply: oneshot::Sender<Result<(), Arc<StoreError>>>,
    },
    /// Rows not on the changelog rolled back (`sinks::changelog`).
    Rollback {
        reply: oneshot::Sender<Result<usize, Arc<StoreError>>>,
    },
}

/// Sends the job `make` builds and waits for its answer; `Err`: why not.
async fn ask<T>(
    committer: &mpsc::Sender<Job>,
    make: impl FnOnce(oneshot::Sender<Result<T, Arc<StoreError>>>) -> Job,
) -> Result<T, String> {
    let (reply, rx) = oneshot::channel();
    committer
        .send(make(reply))
        .await
        .map_err(|_| "committer stopped".to_string())?;
    rx.await
        .map_err(|_| "committer stopped".to_string())?
        .map_err(|e| e.to_string())
}

/// Rolls back the rows the store holds and the changelog does not
/// (`sinks::changelog`); how many.
pub async fn rollback(committer: &mpsc::Sender<Job>) -> Result<usize, String> {
    ask(committer, |reply| Job::Rollback { reply }).await
}

/// Applies another owner's changelog records, with the partition's new
/// checkpoint, in one transaction.
pub async fn restore(
    committer: &mpsc::Sender<Job>,
    records: Vec<pb::ChangelogRecord>,
    partition: i32,
    next_offset: i64,
) -> Result<(), String> {
    ask(committer, |reply| Job::Restore {
        records,
        partition,
        next_offset,
        reply,
    })
    .await
}

/// Batching limits.
#[derive(Debug, Clone)]
pub struct CommitterConfig {
    pub batch_max: usize,
    pub batch_wait: Duration,
    pub retention: Duration,
    /// The tenant's city code: the `tenant` label of the queue gauge.
    pub tenant: Arc<str>,
}

/// A flag of every tenant's committer (alive, writable): true while all
/// of them are.
#[derive(Clone, Default)]
pub struct Flags(Arc<[Arc<AtomicBool>]>);

impl Flags {
    pub fn new(flags: Vec<Arc<AtomicBool>>) -> Flags {
        Flags(flags.into())
    }

    /// Whether every flag is set.
    pub fn all(&self) -> bool {
        self.0.iter().all(|f| f.load(Ordering::SeqCst))
    }
}

/// Handle to the running committer thread.
pub struct Committer {
    thread: Option<std::thread::JoinHandle<()>>,
    alive: Arc<AtomicBool>,
    writable: Arc<AtomicBool>,
}

impl Committer {
    /// Starts the thread; it runs until every sender of `rx` is dropped and
    /// the queue is empty, committing the last batch before it exits.
    pub fn start(
        store: Store,
        rx: mpsc::Receiver<Job>,
        cfg: CommitterConfig,
        owner: Arc<Owner>,
    ) -> std::io::Result<Committer> {
        let alive = Arc::new(AtomicBool::new(true));
        let writable = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        let w = writable.clone();
        let thread = std::thread::Builder::new()
            .name("committer".into())
            .spawn(move || {
                run(store, rx, cfg, &w, &owner);
                flag.store(false, Ordering::SeqCst);
            })?;
        Ok(Committer {
            thread: Some(thread),
            alive,
            writable,
        })
    }

    /// False while the store cannot commit (a full disk, an I/O error):
    /// readiness. Set again by the next commit that succeeds, or by the
    /// probe the idle committer writes every `PROBE_EVERY` meanwhile.
    pub fn writable(&self) -> Arc<AtomicBool> {
        self.writable.clone()
    }

    /// False once the thread has stopped (liveness).
    pub fn alive(&self) -> Arc<AtomicBool> {
        self.alive.clone()
    }

    /// Waits for the thread to finish its last batch.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn drain(rx: &mut mpsc::Receiver<Job>, batch: &mut Vec<Job>, max: usize) {
    while batch.len() < max {
        match rx.try_recv() {
            Ok(j) => batch.push(j),
            Err(_) => break,
        }
    }
}

/// Jobs found queued at once that mean the daemon is under load: then a
/// batch of fewer than a quarter of `batch_max` waits for more while more
/// keep arriving, up to `batch_wait` (fewer, larger transactions: one fsync
/// and one write of each touched index page for many contacts). Fewer are
/// committed at once, without waiting; so is a backlog of a quarter of
/// `batch_max` or more (waiting would only idle the workers, whose contacts
/// are already queued).
pub const BUSY: usize = 16;

/// How often a waiting batch looks whether more arrived.
const STEP: Duration = Duration::from_micros(500);

/// Waits while jobs keep arriving — until the batch and the queue hold a
/// quarter of `batch_max` or `batch_wait` passed — then takes them. A step
/// that brings nothing ends the wait: the senders are waiting for this
/// commit (callers blocked on their answers, streams at their window, or a
/// full queue).
fn gather(rx: &mut mpsc::Receiver<Job>, batch: &mut Vec<Job>, cfg: &CommitterConfig) {
    let deadline = Instant::now() + cfg.batch_wait;
    let enough = (cfg.batch_max / 4).max(1);
    let mut queued = rx.len();
    while batch.len() + queued < enough {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(STEP));
        let now = rx.len();
        if now <= queued {
            break;
        }
        queued = now;
    }
    drain(rx, batch, cfg.batch_max);
}

/// How often a committer whose last commit failed writes a probe while no
/// work arrives, to find out the store is writable again.
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// The next job: waiting as long as it takes while the store is writable,
/// probing it every `PROBE_EVERY` while it is not. `None`: every sender is gone.
fn next_job(store: &mut Store, rx: &mut mpsc::Receiver<Job>, writable: &AtomicBool) -> Option<Job> {
    loop {
        if writable.load(Ordering::SeqCst) {
            return rx.blocking_recv();
        }
        match rx.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        std::thread::sleep(PROBE_EVERY);
        if store.probe().is_ok() {
            tracing::info!("store writable again");
            writable.store(true, Ordering::SeqCst);
        }
    }
}

fn run(
    mut store: Store,
    mut rx: mpsc::Receiver<Job>,
    cfg: CommitterConfig,
    writable: &AtomicBool,
    owner: &Owner,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(cfg.batch_max);
    let mut last_purge: Option<Instant> = None;
    let depth = m::queue_depth(&cfg.tenant);
    while let Some(first) = next_job(&mut store, &mut rx, writable) {
        batch.push(first);
        drain(&mut rx, &mut batch, cfg.batch_max);
        if batch.len() >= BUSY && !cfg.batch_wait.is_zero() {
            gather(&mut rx, &mut batch, &cfg);
        }
        let ok = commit(&mut store, &mut batch, owner);
        if writable.swap(ok, Ordering::SeqCst) != ok {
            if ok {
                tracing::info!("store writable again");
            } else {
                tracing::error!("store not writable: not ready until a commit succeeds");
            }
        }
        depth.set(rx.len() as f64);
        if last_purge.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            purge(&mut store, cfg.retention);
            last_purge = Some(Instant::now());
        }
    }
    tracing::info!("committer: queue closed, last batch committed");
}

fn purge(store: &mut Store, retention: Duration) {
    let cutoff = chrono::Utc::now()
        - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(730));
    match store.purge_before(cutoff.timestamp_millis()) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            rows = n,
            "retention: purged records older than the retention period"
        ),
        Err(e) => tracing::error!(error = %e, "retention purge failed"),
    }
}

/// Commits the batch and answers every job; false when the commit failed.
fn commit(store: &mut Store, batch: &mut Vec<Job>, owner: &Owner) -> bool {
    let started = Instant::now();
    let n = batch.len();
    let result = store.transaction(|tx| {
        let mut outcomes = Vec::with_capacity(batch.len());
        for job in batch.iter() {
            match job {
                Job::Decision { epoch, .. } | Job::Event { epoch, .. }
                    if !owner.current(*epoch) =>
                {
                    outcomes.push(Outcome::NotOwner)
                }
                Job::Decision { row, alerts, .. } => {
                    let ins = tx.insert_decision(row)?;
                    let mut raised = Vec::with_capacity(alerts.len());
                    if ins == Inserted::New {
                        for a in alerts {
                            raised.push(tx.insert_event(a)?);
                        }
                    }
                    outcomes.push(Outcome::Decision(ins, raised))
                }
                Job::Event { row, .. } => outcomes.push(Outcome::Event(tx.insert_event(row)?)),
                Job::OutboxDone { upto, checkpoint } => {
                    tx.outbox_done(*upto)?;
                    if let Some((p, next)) = checkpoint {
                        tx.set_checkpoint(*p, *next)?;
                    }
                    outcomes.push(Outcome::Done);
                }
                Job::Restore {
                    records,
                    partition,
                    next_offset,
                    ..
                } => {
                    for r in records {
                        tx.apply_changelog(r)?;
                    }
                    tx.set_checkpoint(*partition, *next_offset)?;
                    outcomes.push(Outcome::Done);
                }
                Job::Rollback { .. } => {
                    outcomes.push(Outcome::RolledBack(tx.rollback_unpublished()?))
                }
            }
        }
        Ok(outcomes)
    });
    m::commit(n, started.elapsed());
    match result {
        Ok(outcomes) => {
            for (job, outcome) in batch.drain(..).zip(outcomes) {
                match (job, outcome) {
                    (
                        Job::Decision {
                            reply, enqueued, ..
                        },
                        Outcome::Decision(ins, raised),
                    ) => {
                        m::durable_latency(enqueued.elapsed());
                        let _ = reply.send(Ok((ins, raised)));
                    }
                    (Job::Event { reply, .. }, Outcome::Event(new)) => {
                        let _ = reply.send(Ok(new));
                    }
                    (Job::Decision { reply, .. }, Outcome::NotOwner) => {
                        let _ = reply.send(Err(Arc::new(StoreError::NotOwner)));
                    }
                    (Job::Event { reply, .. }, Outcome::NotOwner) => {
                        let _ = reply.send(Err(Arc::new(StoreError::NotOwner)));
                    }
                    (Job::Restore { reply, .. }, _) => {
                        let _ = reply.send(Ok(()));
                    }
                    (Job::Rollback { reply }, Outcome::RolledBack(n)) => {
                        let _ = reply.send(Ok(n));
                    }
                    // Outcomes are pushed in job order, one per job.
                    _ => {}
                }
            }
            true
        }
        Err(e) => {
            tracing::error!(error = %e, jobs = n, "commit failed; every job of the batch gets the error");
            m::commit_failed();
            let e = Arc::new(e);
            for job in batch.drain(..) {
                match job {
                    Job::Decision { reply, .. } => {
                        let _ = reply.send(Err(e.clone()));
                    }
                    Job::Event { reply, .. } => {
                        let _ = reply.send(Err(e.clone()));
                    }
                    Job::Restore { reply, .. } => {
                        let _ = reply.send(Err(e.clone()));
                    }
                    Job::Rollback { reply } => {
                        let _ = reply.send(Err(e.clone()));
                    }
                    // The rows stay and are published again (identical bytes).
                    Job::OutboxDone { .. } => {}
                }
            }
            false
        }
    }
}

enum Outcome {
    Decision(Inserted, Vec<bool>),
    Event(bool),
    Done,
    NotOwner,
    RolledBack(usize),
}

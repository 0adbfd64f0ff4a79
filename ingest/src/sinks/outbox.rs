//! The outbox publisher (ARCHITECTURE.md, "Delivery guarantees"): every
//! new decision and alert is written to the store's `outbox` table in the
//! transaction that stores it; this task sends the rows to Kafka in store
//! order and forgets them (through the committer) once Kafka has them. A
//! broker that is down or slow therefore never holds up intake: answers
//! wait for the store only, and the backlog is published when the broker
//! is back, also after a restart. A row sent but not yet forgotten when
//! the daemon stops is sent again: duplicates are byte-identical.
use crate::sinks::committer::Job;
use crate::sinks::kafka::{PublishError, Publisher};
use crate::sinks::ownership::{Fence, Owner};
use crate::sinks::store::{OutboxRow, Reader, StoreError};
use crate::telemetry::metrics as m;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;

/// Rows sent together (librdkafka batches them; they are awaited in order).
const BATCH: usize = 512;
/// Retry delays after a failed send: from `FIRST_RETRY`, doubling to `LAST_RETRY`.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);
/// How often the backlog metrics are refreshed, and the outbox looked at
/// when nothing woke the task.
const TICK: Duration = Duration::from_secs(1);

/// What the publisher needs.
pub struct Outbox {
    pub data_dir: PathBuf,
    pub publisher: Publisher,
    /// For forgetting published rows; the committer stops once this is dropped.
    pub committer: mpsc::Sender<Job>,
    /// Notified by the store after a commit that wrote outbox rows.
    pub wake: Arc<Notify>,
    /// The last outbox id Kafka has, for those who wait on it (the Kafka
    /// consumer stores an input offset only once its outputs are on Kafka).
    pub published: watch::Sender<i64>,
    /// The tenant's city code: the `tenant` label of the backlog gauges.
    pub tenant: Arc<str>,
    /// Published only while this node decides for the tenant; on losing
    /// it, what was not published is rolled back (`sinks::changelog`).
    pub owner: Arc<Owner>,
    /// `[kafka.cluster]`: checked before each batch (`sinks::ownership`).
    pub fence: Option<Arc<Fence>>,
    /// `[kafka.cluster]`: the changelog topic and the tenant's partition.
    pub changelog: Option<(String, i32)>,
}

/// What a batch put on Kafka: the prefix of its rows up to the first that
/// failed.
#[derive(Default)]
struct Sent {
    /// The id of the prefix's last row.
    upto: Option<i64>,
    /// How many rows the prefix has.
    rows: usize,
    /// The first failure.
    error: Option<PublishError>,
    /// The changelog partition's next offset after the prefix.
    checkpoint: Option<(i32, i64)>,
}

/// Aborts a task when dropped (the metrics task ends with the publisher).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Refreshes `hotline_outbox_unpublished` and `_oldest_age_seconds` every
/// [`TICK`]: the rows after the last one Kafka has.
async fn backlog_metrics(reader: Arc<Mutex<Reader>>, published: Arc<AtomicI64>, tenant: Arc<str>) {
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        let after = published.load(Ordering::Relaxed);
        if let Ok((rows, oldest)) = read(&reader, move |r| r.outbox_backlog(after)).await {
            let now = chrono::Utc::now().timestamp_millis();
            let age = oldest.map_or(0, |t| now.saturating_sub(t).max(0));
            m::outbox_backlog(&tenant, rows, Duration::from_millis(age as u64));
        }
    }
}

/// Reads on a blocking thread (SQLite is synchronous).
async fn read<T: Send + 'static>(
    reader: &Arc<Mutex<Reader>>,
    f: impl FnOnce(&Reader) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    let r = reader.clone();
    tokio::task::spawn_blocking(move || match r.lock() {
        Ok(g) => f(&g).map_err(|e| e.to_string()),
        Err(_) => Err("outbox reader poisoned".to_string()),
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Awaits `step`, timed as the outbox cycle's `round`
/// (`hotline_outbox_round_seconds`).
async fn timed<T>(round: &'static str, step: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = step.await;
    m::outbox_round(round, started.elapsed());
    out
}

impl Outbox {
    /// Sends one row where it goes: a changelog record to the tenant's
    /// partition (returning its offset), a decision or an alert to its topic.
    async fn send(&self, r: &OutboxRow) -> Result<Option<i64>, PublishError> {
        match (&*r.topic, &self.changelog) {
            ("changelog", Some((topic, p))) => self
                .publisher
                .to_partition(topic, *p, &r.key, &r.body)
                .await
                .map(Some),
            // A changelog row without a cluster (the config changed): not published.
            ("changelog", None) => Ok(None),
            _ => self
                .publisher
                .outbox(&r.topic, &r.key, &r.body)
                .await
                .map(|()| None),
        }
    }

    /// Sends a batch in two rounds: its decisions and alerts, then the
    /// changelog records of the rows before the first that failed. A
    /// record on the changelog is what a new owner takes as done (it does
    /// not decide that contact again), so it must never be there before
    /// the outputs stored with it are on Kafka (sent together, the
    /// changelog's could land first and the node die before the rest).
    /// Each round is sent together and awaited in order; what Kafka has
    /// after the first failure is forgotten and sent again.
    async fn send_batch(&self, rows: &[OutboxRow]) -> Sent {
        let is_changelog = |r: &OutboxRow| &*r.topic == "changelog";
        let mut results: Vec<Option<Result<Option<i64>, PublishError>>> =
            rows.iter().map(|_| None).collect();
        let outputs: Vec<_> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| !is_changelog(r))
            .map(|(i, r)| async move { (i, self.send(r).await) })
            .collect();
        if !outputs.is_empty() {
            for (i, res) in timed("outputs", futures_util::future::join_all(outputs)).await {
                results[i] = Some(res);
            }
        }
        let failed = results
            .iter()
            .position(|r| matches!(r, Some(Err(_))))
            .unwrap_or(rows.len());
        // Not fenced again: a node paused between the rounds sends, once
        // resumed, records of decisions its successor makes again the same
        // (its offsets were never stored), which apply as no change.
        let records: Vec<usize> = (0..failed).filter(|&i| is_changelog(&rows[i])).collect();
        let sends = records
            .iter()
            .map(|&i| async move { (i, self.send(&rows[i]).await) });
        if !records.is_empty() {
            for (i, res) in timed("changelog", futures_util::future::join_all(sends)).await {
                results[i] = Some(res);
            }
        }
        let mut sent = Sent::default();
        for (row, res) in rows.iter().zip(results) {
            match res {
                Some(Ok(offset)) if sent.error.is_none() => {
                    sent.upto = Some(row.id);
                    sent.rows += 1;
                    if let (Some(o), Some((_, p))) = (offset, &self.changelog) {
                        sent.checkpoint = Some((*p, o + 1));
                    }
                }
                Some(Err(e)) if sent.error.is_none() => sent.error = Some(e),
                // Not sent: a changelog record after a failed output.
                None => break,
                _ => {}
            }
        }
        sent
    }

    /// Rolls back what this store holds and the changelog does not (the
    /// tenant went to another node, which decides its unpublished records).
    async fn rollback(&self) {
        match crate::sinks::committer::rollback(&self.committer).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(tenant = %self.tenant, rows = n, "outbox: the tenant moved; rows not on the changelog rolled back")
            }
            Err(e) => {
                tracing::error!(tenant = %self.tenant, error = %e, "outbox: rollback failed; retried at the next assignment")
            }
        }
    }

    /// Publishes until `shutdown`, then for at most `drain` more while rows
    /// remain (what is left is published after the next start).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, drain: Duration) {
        let reader = match Reader::open(&self.data_dir) {
            Ok(r) => Arc::new(Mutex::new(r)),
            Err(e) => {
                tracing::error!(error = %e, "outbox: cannot read the store; nothing is published to Kafka");
                return;
            }
        };
        // Rows up to `cursor` are on Kafka (their deletion may be queued).
        let mut cursor = 0i64;
        let published_upto = Arc::new(AtomicI64::new(0));
        // The backlog metrics every second, also while a send waits on a
        // broker that does not answer (up to the delivery timeout).
        let metrics = tokio::spawn(backlog_metrics(
            reader.clone(),
            published_upto.clone(),
            self.tenant.clone(),
        ));
        let _stop_metrics = AbortOnDrop(metrics);
        let mut retry = FIRST_RETRY;
        let mut stop_at: Option<Instant> = None;
        let mut failures = 0u64;
        // Whether rows may wait that an ended ownership left (rolled back
        // once, when it ends).
        let mut owned_before = self.owner.is_owned();
        loop {
            if stop_at.is_none() && *shutdown.borrow() {
                stop_at = Some(Instant::now() + drain);
            }
            if !self.owner.is_owned() {
                if owned_before {
                    owned_before = false;
                    self.rollback().await;
                }
                if stop_at.is_some() {
                    return;
                }
                tokio::select! {
                    _ = self.owner.owned(&mut shutdown) => {}
                    _ = tokio::time::sleep(TICK) => {}
                }
                continue;
            }
            owned_before = true;
            let after = cursor;
            let started = Instant::now();
            let rows: Vec<OutboxRow> = match read(&reader, move |r| r.outbox(after, BATCH)).await {
                Ok(rows) if rows.is_empty() => rows,
                Ok(rows) => {
                    m::outbox_round("read", started.elapsed());
                    rows
                }
                Err(e) => {
                    tracing::error!(error = %e, "outbox: reading the store failed; retrying");
                    tokio::time::sleep(LAST_RETRY).await;
                    continue;
                }
            };
            if rows.is_empty() {
                if stop_at.is_some() {
                    m::outbox_backlog(&self.tenant, 0, Duration::ZERO);
                    tracing::info!("outbox: everything published");
                    return;
                }
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(TICK) => {}
                    _ = shutdown.changed(), if stop_at.is_none() => {}
                }
                continue;
            }
            // Fenced only when there is something to publish: at once
            // within the membership check's lease, else a commit round
            // trip to the group coordinator.
            if let Some(f) = &self.fence {
                if !timed("fence", f.passes()).await {
                    tokio::time::sleep(FIRST_RETRY).await;
                    continue;
                }
            }
            let Sent {
                upto,
                rows: sent,
                error,
                checkpoint,
            } = self.send_batch(&rows).await;
            if let Some(id) = upto {
                cursor = id;
                published_upto.store(id, Ordering::Relaxed);
                self.published.send_replace(id);
                m::outbox_published(sent);
                // Lost if the committer is gone (shutting down): the rows
                // are then sent again after the next start.
                let _ = self
                    .committer
                    .send(Job::OutboxDone {
                        upto: id,
                        checkpoint,
                    })
                    .await;
            }
            match error {
                None => {
                    retry = FIRST_RETRY;
                    if failures > 0 {
                        tracing::info!(failures, "outbox: Kafka takes records again");
                        failures = 0;
                    }
                }
                Some(e) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(20) {
                        tracing::warn!(error = %e, failures, "outbox: Kafka did not take the records; retrying (intake goes on)");
                    }
                    if stop_at.is_some_and(|t| Instant::now() >= t) {
                        tracing::warn!("outbox: drain deadline passed with rows unpublished; they are published after the next start");
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(retry) => {}
                        _ = shutdown.changed(), if stop_at.is_none() => {}
                    }
                    retry = (retry * 2).min(LAST_RETRY);
                }
            }
            if stop_at.is_some_and(|t| Instant::now() >= t) {
                tracing::warn!("outbox: drain deadline passed with rows unpublished; they are published after the next start");
                return;
            }
        }
    }
}

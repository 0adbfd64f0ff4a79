//! The one way a contact or an event enters, whichever source it came by
//! (gRPC or Kafka): decide → queue for the committer → once durable, count
//! it and open its case (contacts), or apply it to the trackers (events).
//! Publishing is not part of it: the store's outbox does that
//! (`sinks::outbox`), so a broker fault never holds up intake.
pub mod events;
pub mod pipeline;
pub mod restore;
pub mod tenants;

use crate::admit::pipeline::Pipeline;
use crate::sinks::committer::{DecisionReply, EventReply, Job};
use crate::sinks::store::{EventRow, Inserted, Reader};
use crate::state::orders::{self, Orders, Track};
use crate::state::sla::Sla;
use crate::telemetry::metrics as m;
use hotline_proto::v1 as pb;
use prost::Message as _;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// What every source hands one tenant's records to (see [`tenants`]).
#[derive(Clone)]
pub struct Shared {
    /// The tenant's city code (its rules'; shared into labels and tasks).
    pub tenant: Arc<str>,
    /// Whether this node decides for the tenant now (always, on one node).
    pub owner: Arc<crate::sinks::ownership::Owner>,
    /// `[kafka.cluster]`: a gRPC answer waits until the decision is on the
    /// changelog (the node's disk is a cache; README.md, "More than one node").
    pub replicated: bool,
    pub pipeline: Pipeline,
    pub committer: mpsc::Sender<Job>,
    pub sla: Arc<Sla>,
    pub orders: Arc<Orders>,
    pub shutdown: watch::Receiver<bool>,
    /// With Kafka: the last outbox id committed and the last one published
    /// (see [`Shared::published`]).
    pub outbox: Option<(Arc<std::sync::atomic::AtomicI64>, watch::Receiver<i64>)>,
    /// The store's directory: a refused order event is looked up there (a
    /// replay of a stored one is a duplicate, not a refusal).
    pub data_dir: std::path::PathBuf,
}

/// Why a contact or event was not admitted (not the record's fault).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdmitError {
    #[error("store unavailable: {0}")]
    Store(String),
    #[error("hotlined is shutting down")]
    Closed,
    #[error("stored decision unreadable: {0}")]
    Unreadable(String),
    /// `[kafka.cluster]`: the tenant's partition moved before the work was
    /// stored; its new owner decides it.
    #[error("the tenant is decided on another node now")]
    NotOwner,
}

/// The admit error of a store error.
fn store_error(e: &crate::sinks::store::StoreError) -> AdmitError {
    match e {
        crate::sinks::store::StoreError::NotOwner => AdmitError::NotOwner,
        e => AdmitError::Store(e.to_string()),
    }
}

/// A decided contact's place in the committer's queue.
pub struct Queued {
    reply: oneshot::Receiver<DecisionReply>,
    /// The tenant's tracker, which opens the case once it is durable.
    orders: Arc<Orders>,
    /// What is counted and opened once it is durable.
    pub channel: &'static str,
    pub route: &'static str,
    pub outcome: m::Outcome,
    pub track: Option<Track>,
    /// Its alerts, stored with it (never for a contact that was not
    /// stored, nor again for a resubmitted contact id): counted and logged
    /// once durable.
    alerts: Vec<pb::Alert>,
}

/// A contact once durable.
pub enum Settled {
    /// Stored now: counted, its case opened.
    New,
    /// The contact id was decided before: the stored decision, which wins.
    Existing(Box<pb::Decision>),
}

impl Queued {
    /// Waits until the contact is durable; then counts it and opens its
    /// case (a new one), or returns the stored decision (a repeat of a
    /// contact id).
    pub async fn settle(self) -> Result<Settled, AdmitError> {
        let ins = match self.reply.await {
            Ok(Ok(ins)) => ins,
            Ok(Err(e)) => return Err(store_error(&e)),
            Err(_) => return Err(AdmitError::Store("committer stopped".into())),
        };
        match ins {
            (Inserted::New, raised) => {
                m::contact(self.channel, self.route, self.outcome);
                if let Some(t) = &self.track {
                    self.orders.open_track(t);
                }
                for (a, new) in self.alerts.iter().zip(raised) {
                    if new {
                        orders::announce(a);
                    }
                }
                Ok(Settled::New)
            }
            (Inserted::Existing(body), _) => {
                m::duplicate();
                pb::Decision::decode(&body[..])
                    .map(|d| Settled::Existing(Box::new(d)))
                    .map_err(|e| AdmitError::Unreadable(e.to_string()))
            }
        }
    }
}

impl Shared {
    /// The committer job of a decided contact, what settles it, and the
    /// decision (the source answers with it or drops it).
    fn job(&self, decided: pipeline::Decided, epoch: u64) -> (Job, Queued, pb::Decision) {
        let (reply, rx) = oneshot::channel();
        let (alerts, rows): (Vec<pb::Alert>, Vec<EventRow>) = decided
            .alerts
            .into_iter()
            .map(|mut a| {
                self.orders.address(&mut a);
                (a.alert, a.row)
            })
            .unzip();
        let queued = Queued {
            reply: rx,
            orders: self.orders.clone(),
            channel: decided.channel,
            route: decided.route,
            outcome: decided.outcome,
            track: orders::track_of(&decided.decision),
            alerts,
        };
        let job = Job::Decision {
            row: decided.row,
            alerts: rows,
            reply,
            enqueued: std::time::Instant::now(),
            epoch,
        };
        (job, queued, decided.decision)
    }

    /// Queues a decided contact, waiting for room (backpressure).
    /// `epoch`: the tenant's ownership epoch when the contact was decided
    /// (`Owner::owned_epoch`); the committer refuses it once that ended.
    pub async fn queue(
        &self,
        decided: pipeline::Decided,
        epoch: u64,
    ) -> Result<(Queued, pb::Decision), AdmitError> {
        let (job, queued, decision) = self.job(decided, epoch);
        self.committer
            .send(job)
            .await
            .map_err(|_| AdmitError::Closed)?;
        Ok((queued, decision))
    }

    /// Queues a decided contact if there is room now; `Ok(None)`: the
    /// queue is full (the caller answers RESOURCE_EXHAUSTED).
    pub fn try_queue(
        &self,
        decided: pipeline::Decided,
        epoch: u64,
    ) -> Result<Option<(Queued, pb::Decision)>, AdmitError> {
        let (job, queued, decision) = self.job(decided, epoch);
        match self.committer.try_send(job) {
            Ok(()) => Ok(Some((queued, decision))),
            Err(mpsc::error::TrySendError::Full(_)) => {
                m::overload();
                Ok(None)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(AdmitError::Closed),
        }
    }

    /// Waits until everything committed so far is on Kafka (the outbox's
    /// published id reaches the committed one): what a Kafka record waits
    /// for before its offset is stored, so that a node lost for good leaves
    /// nothing consumed and unpublished. `false`: shutting down first.
    /// `epoch`: the tenant's ownership epoch the work was done in; if it
    /// ends first (`[kafka.cluster]`: the tenant moved, and what was not
    /// published is rolled back), `NotOwner`; shutting down, `Closed`.
    pub async fn published(&self, epoch: u64) -> Result<(), AdmitError> {
        let Some((mark, published)) = &self.outbox else {
            return Ok(());
        };
        let want = mark.load(std::sync::atomic::Ordering::SeqCst);
        let mut published = published.clone();
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            r = published.wait_for(|p| *p >= want) => r.map(|_| ()).map_err(|_| AdmitError::Closed),
            _ = shutdown.wait_for(|v| *v) => Err(AdmitError::Closed),
            _ = self.owner.moved_from(epoch) => Err(AdmitError::NotOwner),
        }
    }

    /// Whether an order event is allowed by its case's state, asked before
    /// it is stored: a refused event is counted, raises the alert its
    /// refusal carries (a forbidden return), and is not stored. Call events
    /// are always allowed.
    /// A replay of an event already stored (a client retrying a batch) is
    /// let through: the store answers it as a duplicate and it is not
    /// applied again.
    pub async fn check_event(&self, ev: &Event, row: &EventRow) -> Result<(), orders::Rejected> {
        let Event::Order(o) = ev else {
            return Ok(());
        };
        match self.orders.check(o) {
            Ok(()) => Ok(()),
            Err(_) if self.stored(row).await => Ok(()),
            Err(mut r) => {
                m::event("order", "rejected");
                if let Some(a) = r.alert.take() {
                    orders::raise(a, &self.committer, &self.tenant, self.owner.epoch()).await;
                }
                Err(r)
            }
        }
    }

    /// Whether an event with this row's key is in the store already.
    async fn stored(&self, row: &EventRow) -> bool {
        let dir = self.data_dir.clone();
        let (stream, key, ty, at) = (row.stream, row.key.clone(), row.event_type, row.at_ms);
        tokio::task::spawn_blocking(move || {
            Reader::open(&dir).and_then(|r| r.event_stored(stream, &key, ty, at))
        })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(false)
    }

    /// Queues an event row for the committer, waiting for room.
    pub async fn queue_event(
        &self,
        row: EventRow,
        epoch: u64,
    ) -> Result<oneshot::Receiver<EventReply>, AdmitError> {
        let (reply, rx) = oneshot::channel();
        self.committer
            .send(Job::Event { row, reply, epoch })
            .await
            .map_err(|_| AdmitError::Closed)?;
        Ok(rx)
    }

    /// Once an event's commit answered: counts it and, when it is new,
    /// applies it to the service-target or work-order trackers and raises
    /// the alert that gives.
    pub async fn settle_event(
        &self,
        reply: Result<EventReply, oneshot::error::RecvError>,
        ev: &Event,
    ) -> Result<EventSettled, AdmitError> {
        let new = match reply {
            Ok(Ok(new)) => new,
            Ok(Err(e)) => return Err(store_error(&e)),
            Err(_) => return Err(AdmitError::Store("committer stopped".into())),
        };
        m::event(ev.stream(), if new { "new" } else { "duplicate" });
        let mut alert = None;
        if new {
            let raised = match ev {
                Event::Call(c) => {
                    self.sla.call_event(c);
                    None
                }
                Event::Order(o) => self.orders.event(o),
            };
            if let Some(a) = raised {
                alert = Some(a.alert.kind);
                orders::raise(a, &self.committer, &self.tenant, self.owner.epoch()).await;
            }
        }
        Ok(EventSettled { new, alert })
    }
}

/// An event once durable.
#[derive(Debug, Clone, Copy)]
pub struct EventSettled {
    /// Stored now (not a replay of a stored event).
    pub new: bool,
    /// The kind of the alert it raised at once, if any.
    pub alert: Option<i32>,
}

/// A call or order event, as either source reads it.
pub enum Event {
    Call(pb::CallEvent),
    Order(pb::OrderEvent),
}

impl Event {
    /// The metric label of its stream.
    pub fn stream(&self) -> &'static str {
        match self {
            Event::Call(_) => "call",
            Event::Order(_) => "order",
        }
    }

    /// The row that stores it, or the field at fault (counted as rejected).
    pub fn row(&self) -> Result<EventRow, &'static str> {
        let row = match self {
            Event::Call(c) => events::call_event_row(c),
            Event::Order(o) => events::order_event_row(o),
        };
        if row.is_err() {
            m::event(self.stream(), "rejected");
        }
        row
    }
}

//! gRPC `hotline.v1.Intake`: the telephony gateway's and the ticket
//! system's way in. Each contact is decided by the [`Pipeline`], queued for
//! the committer (bounded: full means RESOURCE_EXHAUSTED for unary calls and
//! flow control for streams) and answered only once durable.
use crate::admit::events::{call_event_row, order_event_row};
use crate::admit::pipeline::{Decided, Pipeline, Refusal};
use crate::admit::Shared;
use crate::auth::{require, Role};
use crate::sinks::committer::Job;
use crate::sinks::kafka::Publisher;
use crate::sinks::store::{EventRow, Inserted, Reader};
use crate::state::orders::{self, Orders};
use crate::state::sla::Sla;
use crate::telemetry::metrics as m;
use chrono::Utc;
use futures_util::FutureExt as _;
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_server::Intake;
use prost::Message;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// Most contacts of one stream decided together (see `Pipeline::decide_many`).
const READY_CHUNK: usize = 64;

/// The service state shared by every call.
#[derive(Clone)]
pub struct IntakeService {
    pipeline: Pipeline,
    /// With Kafka configured: answers wait for the decision's delivery too.
    publisher: Option<Publisher>,
    sla: Arc<Sla>,
    orders: Arc<Orders>,
    tx: mpsc::Sender<Job>,
    draining: Arc<AtomicBool>,
    shutdown: watch::Receiver<bool>,
    data_dir: PathBuf,
    window: usize,
}

impl IntakeService {
    pub fn new(
        shared: &Shared,
        draining: Arc<AtomicBool>,
        data_dir: PathBuf,
        window: usize,
    ) -> Self {
        IntakeService {
            pipeline: shared.pipeline.clone(),
            publisher: shared.publisher.clone(),
            sla: shared.sla.clone(),
            orders: shared.orders.clone(),
            tx: shared.committer.clone(),
            draining,
            shutdown: shared.shutdown.clone(),
            data_dir,
            window: window.max(1),
        }
    }

    fn check_open(&self) -> Result<(), Status> {
        if self.draining.load(Ordering::SeqCst) {
            return Err(Status::unavailable(
                "hotlined is shutting down; retry on another instance",
            ));
        }
        Ok(())
    }

    fn decide(&self, c: &pb::Contact) -> Result<Decided, Refusal> {
        self.pipeline
            .decide_one(c, Utc::now())
            .inspect_err(|r| m::reject(r.code))
    }

    /// Queues a decided stream contact for the committer: what the stream's
    /// writer waits on to acknowledge it in order.
    async fn queue_decided(&self, mut decided: Decided, started: Instant) -> Pending {
        let (reply, rx) = oneshot::channel();
        // The decision is not needed past the ack: its ids move.
        let track = orders::track_of(&decided.decision);
        let ack = Acked {
            contact_id: std::mem::take(&mut decided.decision.contact_id),
            case_id: std::mem::take(&mut decided.decision.case_id),
            route: decided.decision.route,
            channel: decided.channel,
            route_label: decided.route,
            outcome: decided.outcome,
            body: self.publisher.as_ref().map(|_| decided.row.body.clone()),
            track,
        };
        let job = Job::Decision {
            row: decided.row,
            reply,
            enqueued: Instant::now(),
        };
        if self.tx.send(job).await.is_err() {
            return Pending::Fatal(Status::unavailable("hotlined is shutting down"));
        }
        let waiting = Pending::Waiting {
            ack,
            reply: rx,
            started,
        };
        match self.publisher.clone() {
            // Kafka deliveries overlap; the writer still acknowledges in order.
            Some(p) => {
                let orders = self.orders.clone();
                Pending::Publishing(tokio::spawn(async move {
                    resolve(waiting, Some(&p), &orders).await
                }))
            }
            None => waiting,
        }
    }

    /// [`decide`](Self::decide) for contacts that arrived together.
    fn decide_many(&self, cs: &[pb::Contact]) -> Vec<Result<Decided, Refusal>> {
        let out = self.pipeline.decide_many(cs, Utc::now());
        for r in out.iter().filter_map(|r| r.as_ref().err()) {
            m::reject(r.code);
        }
        out
    }
}

/// The decision to answer with, and its encoding when it was stored before.
fn stored(
    ins: Inserted,
    decision: pb::Decision,
    channel: &'static str,
    route: &'static str,
    outcome: m::Outcome,
) -> Result<(pb::Decision, Option<Vec<u8>>), Status> {
    match ins {
        Inserted::New => {
            m::contact(channel, route, outcome);
            Ok((decision, None))
        }
        Inserted::Existing(body) => {
            m::duplicate();
            let d = pb::Decision::decode(&body[..])
                .map_err(|e| Status::internal(format!("stored decision unreadable: {e}")))?;
            Ok((d, Some(body)))
        }
    }
}

/// With Kafka configured, a decision counts as delivered once Kafka has it.
async fn publish(
    publisher: Option<&Publisher>,
    case_id: &str,
    body: Option<&[u8]>,
) -> Result<(), Status> {
    match (publisher, body) {
        (Some(p), Some(b)) => p.decision(case_id, b).await.map_err(|e| {
            Status::unavailable(format!(
                "decision stored but not delivered to Kafka, retry: {e}"
            ))
        }),
        _ => Ok(()),
    }
}

fn store_status(e: impl std::fmt::Display) -> Status {
    Status::unavailable(format!("store unavailable: {e}"))
}

/// What a stream's ack needs of a decision once it is durable.
struct Acked {
    contact_id: String,
    case_id: String,
    route: i32,
    channel: &'static str,
    route_label: &'static str,
    outcome: m::Outcome,
    /// The encoded decision, kept only when it must be published.
    body: Option<Vec<u8>>,
    /// The decision, kept only when it opens a tracked work order.
    track: Option<orders::Track>,
}

/// One contact of a stream between reading and acknowledging.
enum Pending {
    Ready(pb::Ack),
    Waiting {
        ack: Acked,
        reply: oneshot::Receiver<crate::sinks::committer::DecisionReply>,
        started: Instant,
    },
    /// Committing and publishing to Kafka in its own task.
    Publishing(tokio::task::JoinHandle<Result<pb::Ack, Status>>),
    Fatal(Status),
}

fn error_ack(contact_id: String, error: pb::Error) -> pb::Ack {
    pb::Ack {
        contact_id,
        error: Some(error),
        ..Default::default()
    }
}

fn store_error_ack(contact_id: String, message: String) -> pb::Ack {
    let error = pb::Error {
        reason: "STORE_UNAVAILABLE".into(),
        field: String::new(),
        message,
    };
    error_ack(contact_id, error)
}

async fn resolve(
    p: Pending,
    publisher: Option<&Publisher>,
    orders: &Orders,
) -> Result<pb::Ack, Status> {
    let (ack, reply, started) = match p {
        Pending::Ready(a) => return Ok(a),
        Pending::Fatal(s) => return Err(s),
        Pending::Publishing(h) => {
            return h
                .await
                .unwrap_or_else(|e| Err(Status::internal(e.to_string())))
        }
        Pending::Waiting {
            ack,
            reply,
            started,
        } => (ack, reply, started),
    };
    let ins = match reply.await {
        Ok(Ok(ins)) => ins,
        Ok(Err(e)) => return Ok(store_error_ack(ack.contact_id, e.to_string())),
        Err(_) => return Ok(store_error_ack(ack.contact_id, "committer stopped".into())),
    };
    let Acked {
        contact_id,
        case_id,
        route,
        channel,
        route_label,
        outcome,
        body,
        track,
    } = ack;
    let (ack, body) = match ins {
        Inserted::New => {
            m::contact(channel, route_label, outcome);
            if let Some(t) = &track {
                orders.open_track(t);
            }
            (
                pb::Ack {
                    contact_id,
                    case_id,
                    route,
                    error: None,
                    duplicate: false,
                },
                body,
            )
        }
        Inserted::Existing(stored) => {
            m::duplicate();
            match pb::Decision::decode(&stored[..]) {
                Ok(d) => (
                    pb::Ack {
                        contact_id,
                        case_id: d.case_id,
                        route: d.route,
                        error: None,
                        duplicate: true,
                    },
                    Some(stored),
                ),
                Err(e) => {
                    return Ok(store_error_ack(
                        contact_id,
                        format!("stored decision unreadable: {e}"),
                    ))
                }
            }
        }
    };
    if let Err(s) = publish(publisher, &ack.case_id, body.as_deref()).await {
        return Ok(store_error_ack(ack.contact_id, s.message().to_string()));
    }
    m::answer_latency("submit_stream", started.elapsed());
    Ok(ack)
}

#[tonic::async_trait]
impl Intake for IntakeService {
    async fn submit(&self, req: Request<pb::Contact>) -> Result<Response<pb::Decision>, Status> {
        let started = Instant::now();
        require(&req, Role::Gateway)?;
        self.check_open()?;
        let Decided {
            decision,
            row,
            channel,
            route,
            outcome,
        } = self.decide(req.get_ref()).map_err(|r| r.status())?;
        let body = self.publisher.as_ref().map(|_| row.body.clone());
        let (reply, rx) = oneshot::channel();
        let job = Job::Decision {
            row,
            reply,
            enqueued: Instant::now(),
        };
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                m::overload();
                return Err(Status::resource_exhausted(
                    "intake queue is full; retry with backoff",
                ));
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                return Err(Status::unavailable("hotlined is shutting down"))
            }
        }
        let ins = rx
            .await
            .map_err(|_| store_status("committer stopped"))?
            .map_err(store_status)?;
        let (decision, existing) = stored(ins, decision, channel, route, outcome)?;
        if existing.is_none() {
            self.orders.open(&decision);
        }
        publish(
            self.publisher.as_ref(),
            &decision.case_id,
            existing.as_deref().or(body.as_deref()),
        )
        .await?;
        m::answer_latency("submit", started.elapsed());
        Ok(Response::new(decision))
    }

    type SubmitStreamStream = ReceiverStream<Result<pb::Ack, Status>>;

    async fn submit_stream(
        &self,
        req: Request<Streaming<pb::Contact>>,
    ) -> Result<Response<Self::SubmitStreamStream>, Status> {
        require(&req, Role::Gateway)?;
        self.check_open()?;
        let mut inbound = req.into_inner();
        let (out_tx, out_rx) = mpsc::channel(self.window);
        let (pend_tx, mut pend_rx) = mpsc::channel::<Pending>(self.window);
        let svc = self.clone();
        // Reader: decide and queue each contact in order; waiting on the
        // bounded queues here is what slows the client (HTTP/2 flow control).
        tokio::spawn(async move {
            let mut shutdown = svc.shutdown.clone();
            let mut chunk = Vec::with_capacity(READY_CHUNK);
            'read: loop {
                let first = tokio::select! {
                    m = inbound.message() => m,
                    _ = shutdown.changed() => {
                        let _ = pend_tx.send(Pending::Fatal(Status::unavailable("hotlined is shutting down; resubmit unacknowledged contacts"))).await;
                        break;
                    }
                };
                // The contacts that arrived together are decided together
                // (one lock of the dedup index); the end of the stream or
                // an error is handled after them.
                let mut end = None;
                match first {
                    Ok(Some(c)) => chunk.push(c),
                    Ok(None) => break,
                    Err(s) => {
                        let _ = pend_tx.send(Pending::Fatal(s)).await;
                        break;
                    }
                }
                while chunk.len() < READY_CHUNK {
                    match inbound.message().now_or_never() {
                        None => break,
                        Some(Ok(Some(c))) => chunk.push(c),
                        Some(other) => {
                            end = Some(other);
                            break;
                        }
                    }
                }
                let started = Instant::now();
                let results = svc.decide_many(&chunk);
                for (contact, result) in chunk.drain(..).zip(results) {
                    let pending = match result {
                        Err(r) => Pending::Ready(error_ack(contact.contact_id, r.to_error())),
                        Ok(decided) => svc.queue_decided(decided, started).await,
                    };
                    if pend_tx.send(pending).await.is_err() {
                        break 'read;
                    }
                }
                match end {
                    None => {}
                    Some(Ok(_)) => break,
                    Some(Err(s)) => {
                        let _ = pend_tx.send(Pending::Fatal(s)).await;
                        break;
                    }
                }
            }
        });
        // Writer: acknowledge in order as each contact becomes durable.
        let orders = self.orders.clone();
        tokio::spawn(async move {
            while let Some(p) = pend_rx.recv().await {
                let ack = resolve(p, None, &orders).await;
                let fatal = ack.is_err();
                if out_tx.send(ack).await.is_err() || fatal {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(out_rx)))
    }

    async fn report_call_events(
        &self,
        req: Request<Streaming<pb::CallEvent>>,
    ) -> Result<Response<pb::CallEventsSummary>, Status> {
        require(&req, Role::Gateway)?;
        self.check_open()?;
        let counts = self
            .store_events(req.into_inner(), "call", call_event_row, |ev| {
                self.sla.call_event(ev);
                None
            })
            .await?;
        Ok(Response::new(pb::CallEventsSummary {
            accepted: counts.new,
            duplicates: counts.duplicates,
            late: 0,
            rejected: counts.rejected,
        }))
    }

    async fn report_order_events(
        &self,
        req: Request<Streaming<pb::OrderEvent>>,
    ) -> Result<Response<pb::OrderEventsSummary>, Status> {
        require(&req, Role::TicketSystem)?;
        self.check_open()?;
        let (mut granted, mut refused) = (0, 0);
        let counts = self
            .store_events(req.into_inner(), "order", order_event_row, |ev| {
                let alert = self.orders.event(ev);
                match &alert {
                    Some(a) if a.alert.kind == pb::AlertKind::ExtensionRefused as i32 => {
                        refused += 1
                    }
                    None if ev.r#type == pb::OrderEventType::ExtensionRequested as i32 => {
                        granted += 1
                    }
                    _ => {}
                }
                alert
            })
            .await?;
        Ok(Response::new(pb::OrderEventsSummary {
            // A replayed event is accepted (it is stored once).
            accepted: counts.new + counts.duplicates,
            rejected: counts.rejected,
            extensions_granted: granted,
            extensions_refused: refused,
        }))
    }

    async fn get_decision(
        &self,
        req: Request<pb::GetDecisionRequest>,
    ) -> Result<Response<pb::Decision>, Status> {
        require(&req, Role::TicketSystem)?;
        let (contact_id, case_id) = match req.into_inner().key {
            Some(pb::get_decision_request::Key::ContactId(c)) if !c.is_empty() => (Some(c), None),
            Some(pb::get_decision_request::Key::CaseId(c)) if !c.is_empty() => (None, Some(c)),
            _ => return Err(Status::invalid_argument("give contact_id or case_id")),
        };
        let dir = self.data_dir.clone();
        let body = tokio::task::spawn_blocking(move || {
            Reader::open(&dir)?.decision(contact_id.as_deref(), case_id.as_deref())
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(store_status)?;
        let body = body.ok_or_else(|| Status::not_found("no decision for that key"))?;
        let d = pb::Decision::decode(&body[..])
            .map_err(|e| Status::internal(format!("stored decision unreadable: {e}")))?;
        Ok(Response::new(d))
    }
}

impl IntakeService {
    /// Stores each event of a client stream, pipelined up to the stream
    /// window, and hands every newly stored one, in order, to `on_new` as
    /// soon as its commit is done — also while the client sends nothing
    /// more; an alert it returns is raised.
    async fn store_events<E: prost::Message + Default + 'static>(
        &self,
        mut inbound: Streaming<E>,
        stream: &'static str,
        row_of: fn(&E) -> Result<EventRow, &'static str>,
        mut on_new: impl FnMut(&E) -> Option<orders::AlertOut>,
    ) -> Result<EventCounts, Status> {
        let mut counts = EventCounts::default();
        let mut waiting = VecDeque::new();
        let mut end = false;
        loop {
            if end && waiting.is_empty() {
                return Ok(counts);
            }
            tokio::select! {
                // The oldest event's commit: handled first, in order.
                biased;
                reply = async {
                    match waiting.front_mut() {
                        Some((rx, _)) => rx.await,
                        None => std::future::pending().await,
                    }
                }, if !waiting.is_empty() => {
                    let Some((_, ev)) = waiting.pop_front() else { continue };
                    let new = match reply {
                        Ok(Ok(new)) => new,
                        Ok(Err(e)) => return Err(store_status(e)),
                        Err(_) => return Err(store_status("committer stopped")),
                    };
                    m::event(stream, if new { "new" } else { "duplicate" });
                    if !new {
                        counts.duplicates += 1;
                        continue;
                    }
                    counts.new += 1;
                    if let Some(a) = on_new(&ev) {
                        orders::raise(a, &self.tx, self.publisher.as_ref()).await;
                    }
                }
                next = inbound.message(), if !end && waiting.len() < self.window => {
                    match next? {
                        None => end = true,
                        Some(ev) => match row_of(&ev) {
                            Err(_) => {
                                m::event(stream, "rejected");
                                counts.rejected += 1;
                            }
                            Ok(row) => waiting.push_back((self.queue_event(row).await?, ev)),
                        },
                    }
                }
                else => return Ok(counts),
            }
        }
    }

    async fn queue_event(
        &self,
        row: EventRow,
    ) -> Result<oneshot::Receiver<crate::sinks::committer::EventReply>, Status> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Event { row, reply })
            .await
            .map_err(|_| Status::unavailable("hotlined is shutting down"))?;
        Ok(rx)
    }
}

/// What became of the events of one client stream.
#[derive(Debug, Default)]
struct EventCounts {
    new: u64,
    duplicates: u64,
    rejected: u64,
}

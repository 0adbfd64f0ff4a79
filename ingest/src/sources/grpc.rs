//! gRPC `hotline.v1.Intake`: the telephony gateway's and the ticket
//! system's way in. Each contact goes through `admit` (decided, queued for
//! the committer — bounded: full means RESOURCE_EXHAUSTED for unary calls
//! and flow control for streams) and is answered once durable; Kafka is
//! the outbox's business, never waited for here.
use crate::admit::pipeline::{Decided, Refusal};
use crate::admit::tenants::Tenants;
use crate::admit::{AdmitError, Event, Queued, Settled};
use crate::auth::{require, Role};
use crate::sinks::committer::EventReply;
use crate::sinks::store::Reader;
use crate::telemetry::metrics as m;
use chrono::Utc;
use futures_util::FutureExt as _;
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_server::Intake;
use prost::Message;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// The reason code of a contact whose tenant this node does not decide for
/// now (`[kafka.cluster]`: its partition is another node's, or restoring).
pub const ELSEWHERE: &str = "TENANT_ELSEWHERE";

/// The tenant's ownership epoch, if this node decides for it now.
fn owned_epoch(tenants: &Tenants, t: usize) -> Result<u64, Refusal> {
    tenants.at(t).owner.owned_epoch().ok_or_else(|| Refusal {
        code: ELSEWHERE,
        field: "tenant",
        message: format!(
            "tenant {} is decided on another node now; retry (README.md, \"More than one node\")",
            tenants.at(t).tenant
        ),
    })
}

/// Most contacts of one stream decided together (see `Pipeline::decide_many`).
const READY_CHUNK: usize = 64;

/// The service state shared by every call.
#[derive(Clone)]
pub struct IntakeService {
    tenants: Tenants,
    /// `[kafka.cluster]`: contacts of tenants another node decides for.
    forward: Option<Arc<crate::sources::forward::Forwarder>>,
    draining: Arc<AtomicBool>,
    window: usize,
}

/// The gRPC status of a contact or event not admitted.
fn admit_status(e: AdmitError) -> Status {
    match e {
        AdmitError::Store(m) => Status::unavailable(format!("store unavailable: {m}")),
        AdmitError::Closed => Status::unavailable("hotlined is shutting down"),
        AdmitError::Unreadable(m) => Status::internal(format!("stored decision unreadable: {m}")),
        AdmitError::NotOwner => Status::unavailable(
            "the tenant is decided on another node now; retry (README.md, \"More than one node\")",
        ),
    }
}

/// What a call forwarded to a tenant's owner carries on: the caller's
/// authorization, and whether the call came from another node already (a
/// forwarded call is never forwarded again).
fn forwarding(
    md: &tonic::metadata::MetadataMap,
) -> (
    Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
    bool,
) {
    (
        md.get("authorization").cloned(),
        md.contains_key(crate::sources::forward::FORWARDED),
    )
}

impl IntakeService {
    pub fn new(
        tenants: &Tenants,
        draining: Arc<AtomicBool>,
        window: usize,
        forward: Option<Arc<crate::sources::forward::Forwarder>>,
    ) -> Self {
        IntakeService {
            tenants: tenants.clone(),
            forward,
            draining,
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

    /// Decides a contact by its tenant's rules; returns the tenant and its
    /// ownership epoch too. A tenant another node decides for is refused
    /// with [`ELSEWHERE`] (not counted as a reject: not the contact's fault).
    fn decide(&self, c: &pb::Contact) -> Result<(usize, u64, Decided), Refusal> {
        let t = self
            .tenants
            .of_contact(c)
            .inspect_err(|r| m::reject(r.code))?;
        let epoch = owned_epoch(&self.tenants, t)?;
        let d = self
            .tenants
            .at(t)
            .pipeline
            .decide_one(c, Utc::now())
            .inspect_err(|r| m::reject(r.code))?;
        Ok((t, epoch, d))
    }

    /// The decision of a contact whose tenant another node decides for
    /// (`sources::forward`); `auth` and `forwarded` from [`forwarding`].
    async fn elsewhere(
        &self,
        c: &pb::Contact,
        auth: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
        forwarded: bool,
    ) -> Result<pb::Decision, Status> {
        let Some(f) = &self.forward else {
            return Err(Status::unavailable("the tenant is decided on another node"));
        };
        let t = self.tenants.of_contact(c).map_err(|r| r.status())?;
        f.decide(&self.tenants, t, c, auth, forwarded).await
    }

    /// [`decide`](Self::decide) for contacts that arrived together: decided
    /// together (see `Pipeline::decide_many`) when they are all one
    /// tenant's, as is usual; one by one otherwise.
    fn decide_many(&self, cs: &[pb::Contact]) -> Vec<Result<(usize, u64, Decided), Refusal>> {
        let now = Utc::now();
        let first = cs.first().map(|c| self.tenants.of_contact(c));
        let one = match first {
            Some(Ok(t))
                if cs
                    .iter()
                    .skip(1)
                    .all(|c| self.tenants.of_contact(c).ok() == Some(t)) =>
            {
                Some(t)
            }
            _ => None,
        };
        let out: Vec<Result<(usize, u64, Decided), Refusal>> = match one {
            Some(t) => match owned_epoch(&self.tenants, t) {
                Ok(epoch) => self
                    .tenants
                    .at(t)
                    .pipeline
                    .decide_many(cs, now)
                    .into_iter()
                    .map(|d| d.map(|d| (t, epoch, d)))
                    .collect(),
                Err(r) => cs.iter().map(|_| Err(r.clone())).collect(),
            },
            None => cs
                .iter()
                .map(|c| {
                    let t = self.tenants.of_contact(c)?;
                    let epoch = owned_epoch(&self.tenants, t)?;
                    Ok((t, epoch, self.tenants.at(t).pipeline.decide_one(c, now)?))
                })
                .collect(),
        };
        for r in out.iter().filter_map(|r| r.as_ref().err()) {
            if r.code != ELSEWHERE {
                m::reject(r.code);
            }
        }
        out
    }
}

fn error_ack(contact_id: String, error: pb::Error) -> pb::Ack {
    pb::Ack {
        contact_id,
        error: Some(error),
        ..Default::default()
    }
}

/// One contact of a stream between reading and acknowledging. Kept
/// unboxed: a stream holds a window of these in a bounded channel, and a
/// box would cost an allocation per contact.
#[allow(clippy::large_enum_variant)]
enum Pending {
    Ready(pb::Ack),
    Waiting {
        /// The ack of a new decision (its ids and route).
        ack: pb::Ack,
        queued: Queued,
        started: Instant,
        /// The tenant and the ownership epoch it was decided in.
        tenant: (usize, u64),
    },
    Fatal(Status),
}

/// The ack of a stream contact once it is durable; a store failure is the
/// contact's ack (`STORE_UNAVAILABLE`, resubmit), not the stream's end.
async fn resolve(tenants: &Tenants, p: Pending) -> Result<pb::Ack, Status> {
    let (ack, queued, started, (t, epoch)) = match p {
        Pending::Ready(a) => return Ok(a),
        Pending::Fatal(s) => return Err(s),
        Pending::Waiting {
            ack,
            queued,
            started,
            tenant,
        } => (ack, queued, started, tenant),
    };
    let admit = tenants.at(t);
    let settled = match queued.settle().await {
        // `[kafka.cluster]`: acknowledged once on the changelog.
        Ok(s) if admit.replicated => admit.published(epoch).await.map(|()| s),
        other => other,
    };
    let ack = match settled {
        Ok(Settled::New) => ack,
        Ok(Settled::Existing(d)) => pb::Ack {
            case_id: d.case_id,
            route: d.route,
            duplicate: true,
            ..ack
        },
        Err(e) => {
            let reason = match e {
                AdmitError::Unreadable(_) => "STORED_DECISION_UNREADABLE",
                AdmitError::NotOwner => ELSEWHERE,
                _ => "STORE_UNAVAILABLE",
            };
            let error = pb::Error {
                reason: reason.into(),
                field: String::new(),
                message: e.to_string(),
            };
            return Ok(error_ack(ack.contact_id, error));
        }
    };
    m::answer_latency("submit_stream", started.elapsed());
    Ok(ack)
}

#[tonic::async_trait]
impl Intake for IntakeService {
    async fn submit(&self, req: Request<pb::Contact>) -> Result<Response<pb::Decision>, Status> {
        let started = Instant::now();
        require(&req, Role::Gateway)?;
        self.check_open()?;
        let (t, epoch, decided) = match self.decide(req.get_ref()) {
            Ok(x) => x,
            Err(r) if r.code == ELSEWHERE && self.forward.is_some() => {
                let (auth, forwarded) = forwarding(req.metadata());
                let d = self.elsewhere(req.get_ref(), auth, forwarded).await?;
                m::answer_latency("submit", started.elapsed());
                return Ok(Response::new(d));
            }
            Err(r) if r.code == ELSEWHERE => return Err(Status::unavailable(r.message)),
            Err(r) => return Err(r.status()),
        };
        let (queued, decision) = self
            .tenants
            .at(t)
            .try_queue(decided, epoch)
            .map_err(admit_status)?
            .ok_or_else(|| {
                Status::resource_exhausted("intake queue is full; retry with backoff")
            })?;
        let decision = match queued.settle().await.map_err(admit_status)? {
            Settled::New => decision,
            Settled::Existing(stored) => *stored,
        };
        let admit = self.tenants.at(t);
        if admit.replicated {
            admit.published(epoch).await.map_err(admit_status)?;
        }
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
        let (auth, forwarded) = forwarding(req.metadata());
        let mut inbound = req.into_inner();
        let (out_tx, out_rx) = mpsc::channel(self.window);
        let (pend_tx, mut pend_rx) = mpsc::channel::<Pending>(self.window);
        let svc = self.clone();
        // Reader: decide and queue each contact in order; waiting on the
        // bounded queues here is what slows the client (HTTP/2 flow control).
        tokio::spawn(async move {
            let mut shutdown = svc.tenants.default_tenant().shutdown.clone();
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
                        // Another node's tenant: its owner's decision, in order
                        // (one contact at a time: the slower path).
                        Err(r) if r.code == ELSEWHERE && svc.forward.is_some() => {
                            match svc.elsewhere(&contact, auth.clone(), forwarded).await {
                                Ok(d) => Pending::Ready(pb::Ack {
                                    contact_id: d.contact_id,
                                    case_id: d.case_id,
                                    route: d.route,
                                    error: None,
                                    duplicate: false,
                                }),
                                Err(s) => Pending::Ready(error_ack(
                                    contact.contact_id,
                                    pb::Error {
                                        reason: ELSEWHERE.into(),
                                        field: "tenant".into(),
                                        message: s.message().to_string(),
                                    },
                                )),
                            }
                        }
                        Err(r) => Pending::Ready(error_ack(contact.contact_id, r.to_error())),
                        Ok((t, epoch, decided)) => {
                            match svc.tenants.at(t).queue(decided, epoch).await {
                                // The decision is not needed past the ack: its ids move.
                                Ok((queued, d)) => Pending::Waiting {
                                    ack: pb::Ack {
                                        contact_id: d.contact_id,
                                        case_id: d.case_id,
                                        route: d.route,
                                        error: None,
                                        duplicate: false,
                                    },
                                    queued,
                                    started,
                                    tenant: (t, epoch),
                                },
                                Err(e) => Pending::Fatal(admit_status(e)),
                            }
                        }
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
        let tenants = self.tenants.clone();
        tokio::spawn(async move {
            while let Some(p) = pend_rx.recv().await {
                let ack = resolve(&tenants, p).await;
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
            .store_events(req.into_inner(), Event::Call, |_, _| {})
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
        let (mut granted, mut refused, mut pending) = (0, 0, 0);
        let counts = self
            .store_events(req.into_inner(), Event::Order, |ev, alert| {
                let Event::Order(o) = ev else { return };
                let requested = o.r#type == pb::OrderEventType::ExtensionRequested as i32;
                match alert {
                    Some(k) if k == pb::AlertKind::ExtensionRefused as i32 => refused += 1,
                    None if requested => pending += 1,
                    _ if o.r#type == pb::OrderEventType::ExtensionApproved as i32 => granted += 1,
                    _ => {}
                }
            })
            .await?;
        Ok(Response::new(pb::OrderEventsSummary {
            // A replayed event is accepted (it is stored once).
            accepted: counts.new + counts.duplicates,
            rejected: counts.rejected,
            extensions_granted: granted,
            extensions_refused: refused,
            rejections: counts.rejections,
            extensions_pending: pending,
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
        // By case id: its tenant's store; by contact id: each tenant's in turn.
        let dirs: Vec<std::path::PathBuf> = match &case_id {
            Some(c) => vec![self.tenants.at(self.tenants.of_case(c)).data_dir.clone()],
            None => self
                .tenants
                .all()
                .iter()
                .map(|t| t.data_dir.clone())
                .collect(),
        };
        let body = tokio::task::spawn_blocking(move || {
            for dir in dirs {
                let found =
                    Reader::open(&dir)?.decision(contact_id.as_deref(), case_id.as_deref())?;
                if found.is_some() {
                    return Ok(found);
                }
            }
            Ok::<_, crate::sinks::store::StoreError>(None)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(|e| admit_status(AdmitError::Store(e.to_string())))?;
        let body = body.ok_or_else(|| Status::not_found("no decision for that key"))?;
        let d = pb::Decision::decode(&body[..])
            .map_err(|e| Status::internal(format!("stored decision unreadable: {e}")))?;
        Ok(Response::new(d))
    }
}

impl IntakeService {
    /// Stores each event of a client stream, pipelined up to the stream
    /// window, and admits every newly stored one, in order, as soon as its
    /// commit is done — also while the client sends nothing more;
    /// `on_new` sees each new event and the kind of the alert it raised.
    async fn store_events<E: prost::Message + Default + 'static>(
        &self,
        mut inbound: Streaming<E>,
        wrap: fn(E) -> Event,
        mut on_new: impl FnMut(&Event, Option<i32>),
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
                        Some((rx, _, _)) => rx.await,
                        None => std::future::pending().await,
                    }
                }, if !waiting.is_empty() => {
                    let Some((_, ev, t)) = waiting.pop_front() else { continue };
                    self.settle(reply, &ev, t, &mut counts, &mut on_new).await?;
                }
                next = inbound.message(), if !end && waiting.len() < self.window => {
                    match next? {
                        None => end = true,
                        Some(ev) => {
                            let ev = wrap(ev);
                            let index = counts.seen;
                            counts.seen += 1;
                            let row = match ev.row() {
                                Err(field) => {
                                    counts.reject(index, &ev, "INVALID_ARGUMENT", "INVALID_EVENT", format!("bad or missing {field}"));
                                    continue;
                                }
                                Ok(row) => row,
                            };
                            let t = match &ev {
                                Event::Order(o) => self.tenants.of_case(&o.case_id),
                                Event::Call(c) => match self.tenants.of_call(c) {
                                    Ok(t) => t,
                                    Err(r) => {
                                        counts.reject(index, &ev, "INVALID_ARGUMENT", r.code, r.message);
                                        continue;
                                    }
                                },
                            };
                            // An order event is checked against its case's state with
                            // this stream's earlier events of the same case applied.
                            while waiting.iter().any(|(_, w, _)| same_case(w, &ev)) {
                                let Some((rx, w, wt)) = waiting.pop_front() else { break };
                                self.settle(rx.await, &w, wt, &mut counts, &mut on_new).await?;
                            }
                            let admit = self.tenants.at(t);
                            let epoch = match owned_epoch(&self.tenants, t) {
                                Ok(e) => e,
                                Err(r) => {
                                    counts.reject(index, &ev, "UNAVAILABLE", r.code, r.message);
                                    continue;
                                }
                            };
                            if let Err(r) = admit.check_event(&ev, &row).await {
                                counts.reject(index, &ev, r.status(), r.refusal.code(), r.refusal.to_string());
                                continue;
                            }
                            let rx = admit.queue_event(row, epoch).await.map_err(admit_status)?;
                            waiting.push_back((rx, ev, t));
                        }
                    }
                }
            }
        }
    }
}

impl IntakeService {
    /// Admits one event once its commit answered, and counts it.
    async fn settle(
        &self,
        reply: Result<EventReply, tokio::sync::oneshot::error::RecvError>,
        ev: &Event,
        tenant: usize,
        counts: &mut EventCounts,
        on_new: &mut impl FnMut(&Event, Option<i32>),
    ) -> Result<(), Status> {
        let settled = self
            .tenants
            .at(tenant)
            .settle_event(reply, ev)
            .await
            .map_err(admit_status)?;
        if settled.new {
            counts.new += 1;
            on_new(ev, settled.alert);
        } else {
            counts.duplicates += 1;
        }
        Ok(())
    }
}

/// Two order events of the same case.
fn same_case(a: &Event, b: &Event) -> bool {
    matches!((a, b), (Event::Order(x), Event::Order(y)) if x.case_id == y.case_id)
}

/// What became of the events of one client stream.
#[derive(Debug, Default)]
struct EventCounts {
    new: u64,
    duplicates: u64,
    rejected: u64,
    /// Events read from the stream so far.
    seen: u64,
    /// The first [`MAX_REJECTIONS`] rejected events, why each.
    rejections: Vec<pb::EventRejection>,
}

/// Most rejections listed in one summary (all are counted).
const MAX_REJECTIONS: usize = 100;

impl EventCounts {
    fn reject(&mut self, index: u64, ev: &Event, status: &str, code: &str, detail: String) {
        self.rejected += 1;
        if self.rejections.len() < MAX_REJECTIONS {
            self.rejections.push(pb::EventRejection {
                index,
                case_id: match ev {
                    Event::Order(o) => o.case_id.clone(),
                    Event::Call(_) => String::new(),
                },
                status: status.into(),
                code: code.into(),
                detail,
            });
        }
    }
}

//! The gRPC baselines: a tonic server on the same `hotline.v1` proto that
//! answers every call at once without deciding or storing anything (the
//! network's limit), and a durable one that appends each contact's raw
//! bytes through the daemon's own committer (the same group commit, WAL and
//! fsync) before answering, without deciding it (the storage limit).
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_server::{Intake, IntakeServer};
use std::net::SocketAddr;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

#[derive(Default)]
pub struct Noop;

/// The answer both baselines give: a work order under the contact's id.
fn decision(c: pb::Contact) -> pb::Decision {
    pb::Decision {
        case_id: c.contact_id.clone(),
        contact_id: c.contact_id,
        route: pb::RouteKind::WorkOrder as i32,
        ..Default::default()
    }
}

/// The stream acknowledgement both baselines give.
fn ack(c: pb::Contact) -> pb::Ack {
    pb::Ack {
        case_id: c.contact_id.clone(),
        contact_id: c.contact_id,
        route: pb::RouteKind::WorkOrder as i32,
        ..Default::default()
    }
}

#[tonic::async_trait]
impl Intake for Noop {
    async fn submit(&self, req: Request<pb::Contact>) -> Result<Response<pb::Decision>, Status> {
        Ok(Response::new(decision(req.into_inner())))
    }

    type SubmitStreamStream = ReceiverStream<Result<pb::Ack, Status>>;

    async fn submit_stream(
        &self,
        req: Request<Streaming<pb::Contact>>,
    ) -> Result<Response<Self::SubmitStreamStream>, Status> {
        let mut inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(async move {
            while let Ok(Some(c)) = inbound.message().await {
                if tx.send(Ok(ack(c))).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn report_call_events(
        &self,
        _: Request<Streaming<pb::CallEvent>>,
    ) -> Result<Response<pb::CallEventsSummary>, Status> {
        Ok(Response::new(pb::CallEventsSummary::default()))
    }

    async fn report_order_events(
        &self,
        _: Request<Streaming<pb::OrderEvent>>,
    ) -> Result<Response<pb::OrderEventsSummary>, Status> {
        Ok(Response::new(pb::OrderEventsSummary::default()))
    }

    async fn get_decision(
        &self,
        _: Request<pb::GetDecisionRequest>,
    ) -> Result<Response<pb::Decision>, Status> {
        Ok(Response::new(pb::Decision::default()))
    }
}

/// Serves `svc` on a free loopback port (Nagle off, as the daemon);
/// returns its address.
async fn serve_on_loopback<S: Intake>(svc: S) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(
        tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(IntakeServer::new(svc).max_decoding_message_size(64 * 1024))
            .serve_with_incoming(TcpListenerStream::new(listener).map(|s| {
                let s = s?;
                s.set_nodelay(true)?;
                Ok::<_, std::io::Error>(s)
            })),
    );
    Ok(addr)
}

/// Starts the no-op server on a free loopback port; returns its address.
pub async fn start() -> std::io::Result<SocketAddr> {
    serve_on_loopback(Noop).await
}

/// The durable no-op: the committer of `hotline-ingest` over a store in a
/// directory of its own; each contact's bytes are a decision row's body.
#[derive(Clone)]
pub struct Durable {
    tx: mpsc::Sender<hotline_ingest::sinks::committer::Job>,
}

impl Durable {
    async fn append(&self, c: &pb::Contact) -> Result<(), Status> {
        use prost::Message as _;
        let now = chrono::Utc::now().timestamp_millis();
        let row = hotline_ingest::sinks::store::DecisionRow {
            contact_id: c.contact_id.clone(),
            case_id: c.contact_id.clone(),
            route: "WORK_ORDER",
            received_at_ms: now,
            decided_at_ms: now,
            body: c.encode_to_vec(),
            matter: None,
            label: None,
        };
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(hotline_ingest::sinks::committer::Job::Decision {
                row,
                alerts: Vec::new(),
                reply,
                enqueued: std::time::Instant::now(),
                epoch: 0,
            })
            .await
            .map_err(|_| Status::unavailable("committer stopped"))?;
        match rx.await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Status::unavailable("store")),
        }
    }
}

#[tonic::async_trait]
impl Intake for Durable {
    async fn submit(&self, req: Request<pb::Contact>) -> Result<Response<pb::Decision>, Status> {
        let c = req.into_inner();
        self.append(&c).await?;
        Ok(Response::new(decision(c)))
    }

    type SubmitStreamStream = ReceiverStream<Result<pb::Ack, Status>>;

    async fn submit_stream(
        &self,
        req: Request<Streaming<pb::Contact>>,
    ) -> Result<Response<Self::SubmitStreamStream>, Status> {
        let mut inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(2048);
        // Appends pipelined like the daemon's window, acknowledged in order.
        let (pend_tx, mut pend_rx) =
            mpsc::channel::<tokio::task::JoinHandle<Option<pb::Ack>>>(2048);
        let me = self.clone();
        tokio::spawn(async move {
            while let Ok(Some(c)) = inbound.message().await {
                let me = me.clone();
                let h = tokio::spawn(async move { me.append(&c).await.ok().map(|()| ack(c)) });
                if pend_tx.send(h).await.is_err() {
                    break;
                }
            }
        });
        tokio::spawn(async move {
            while let Some(h) = pend_rx.recv().await {
                let Ok(Some(ack)) = h.await else { break };
                if tx.send(Ok(ack)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn report_call_events(
        &self,
        req: Request<Streaming<pb::CallEvent>>,
    ) -> Result<Response<pb::CallEventsSummary>, Status> {
        Noop.report_call_events(req).await
    }

    async fn report_order_events(
        &self,
        req: Request<Streaming<pb::OrderEvent>>,
    ) -> Result<Response<pb::OrderEventsSummary>, Status> {
        Noop.report_order_events(req).await
    }

    async fn get_decision(
        &self,
        req: Request<pb::GetDecisionRequest>,
    ) -> Result<Response<pb::Decision>, Status> {
        Noop.get_decision(req).await
    }
}

/// Starts the durable no-op on a free loopback port over a store in `dir`
/// (the daemon's defaults: `synchronous=FULL`, batches of 16 384, 20 ms
/// wait under load, a queue of 32 768); returns its address.
pub async fn start_durable(dir: &std::path::Path) -> anyhow::Result<SocketAddr> {
    use hotline_ingest::sinks::committer::{Committer, CommitterConfig};
    use hotline_ingest::sinks::store::{Store, Sync};
    let store = Store::open(dir, Sync::Full)?;
    let (tx, rx) = mpsc::channel(32_768);
    let committer = Committer::start(
        store,
        rx,
        CommitterConfig {
            batch_max: 16_384,
            batch_wait: std::time::Duration::from_millis(20),
            retention: std::time::Duration::from_secs(730 * 86_400),
            tenant: "510800".into(),
        },
        hotline_ingest::sinks::ownership::Owner::always(),
    )?;
    // Runs as long as the process: the bench ends with it.
    std::mem::forget(committer);
    Ok(serve_on_loopback(Durable { tx }).await?)
}

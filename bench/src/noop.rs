//! The gRPC baseline: a tonic server on the same `hotline.v1` proto that
//! answers every call at once without deciding or storing anything. The
//! ceiling a real server on this machine can reach.
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_server::{Intake, IntakeServer};
use std::net::SocketAddr;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

#[derive(Default)]
pub struct Noop;

#[tonic::async_trait]
impl Intake for Noop {
    async fn submit(&self, req: Request<pb::Contact>) -> Result<Response<pb::Decision>, Status> {
        let c = req.into_inner();
        Ok(Response::new(pb::Decision {
            case_id: c.contact_id.clone(),
            contact_id: c.contact_id,
            route: pb::RouteKind::WorkOrder as i32,
            ..Default::default()
        }))
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
                let ack = pb::Ack {
                    case_id: c.contact_id.clone(),
                    contact_id: c.contact_id,
                    route: pb::RouteKind::WorkOrder as i32,
                    ..Default::default()
                };
                if tx.send(Ok(ack)).await.is_err() {
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

/// Starts the no-op server on a free loopback port; returns its address.
pub async fn start() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(
        tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(IntakeServer::new(Noop).max_decoding_message_size(64 * 1024))
            .serve_with_incoming(TcpListenerStream::new(listener).map(|s| {
                let s = s?;
                s.set_nodelay(true)?;
                Ok::<_, std::io::Error>(s)
            })),
    );
    Ok(addr)
}

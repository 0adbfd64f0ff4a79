//! What every input (gRPC, Kafka) hands its records to: the decision
//! transform, the committer queue, the Kafka publisher (if any), the SLA
//! trackers, the work-order tracker and the shutdown signal.
use crate::committer::Job;
use crate::kafka::Publisher;
use crate::pipeline::Pipeline;
use crate::sla::Sla;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

#[derive(Clone)]
pub struct Shared {
    pub pipeline: Pipeline,
    pub committer: mpsc::Sender<Job>,
    pub publisher: Option<Publisher>,
    pub sla: Arc<Sla>,
    pub orders: Arc<crate::orders::Orders>,
    pub shutdown: watch::Receiver<bool>,
}

//! What every input (gRPC, Kafka) hands its records to: the decision
//! transform, the committer queue, the Kafka publisher (if any), the SLA
//! trackers, the work-order tracker and the shutdown signal.
pub mod events;
pub mod pipeline;
pub mod restore;

use crate::admit::pipeline::Pipeline;
use crate::sinks::committer::Job;
use crate::sinks::kafka::Publisher;
use crate::state::sla::Sla;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

#[derive(Clone)]
pub struct Shared {
    pub pipeline: Pipeline,
    pub committer: mpsc::Sender<Job>,
    pub publisher: Option<Publisher>,
    pub sla: Arc<Sla>,
    pub orders: Arc<crate::state::orders::Orders>,
    pub shutdown: watch::Receiver<bool>,
}

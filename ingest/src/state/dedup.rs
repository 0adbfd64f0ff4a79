//! The dedup index between contacts (README.md, "Repeats and clusters"):
//! the rules, the index behind one lock, and the work-order tracker its
//! alerts go to.
use hotline_router::dedup::{Dedup, DedupRules};
use std::sync::{Arc, Mutex};

/// The dedup stage's state: the rules (shared, immutable), the index (one
/// lock, held only to match and index the records of one call) and where
/// its alerts go.
#[derive(Clone)]
pub struct DedupStage {
    pub rules: Arc<DedupRules>,
    pub index: Arc<Mutex<Dedup>>,
    pub orders: Arc<crate::state::orders::Orders>,
}

impl DedupStage {
    /// Sets the size and eviction metrics.
    pub fn report(&self) {
        if let Ok(idx) = self.index.lock() {
            crate::telemetry::metrics::dedup_stats(&idx.stats());
        }
    }
}

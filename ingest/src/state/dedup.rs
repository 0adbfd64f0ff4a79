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

/// A cluster as the wall screen lists it.
#[derive(Debug, Clone)]
pub struct ClusterView {
    pub lead_case: String,
    pub unit: String,
    pub district: String,
    pub size: u32,
    pub hot: bool,
}

impl DedupStage {
    /// The largest live clusters, at most `n`.
    pub fn top_clusters(&self, n: usize) -> Vec<ClusterView> {
        let Ok(idx) = self.index.lock() else {
            return Vec::new();
        };
        idx.largest_clusters(n)
            .into_iter()
            .map(|c| ClusterView {
                lead_case: c.lead_case,
                unit: c.lead_unit.map(|u| u.to_string()).unwrap_or_default(),
                district: c.district.map(|d| d.to_string()).unwrap_or_default(),
                size: c.size,
                hot: c.hot,
            })
            .collect()
    }

    /// Forgets everything indexed, before a rebuild from the store.
    pub fn reset(&self, router: &hotline_router::Router) {
        if let Ok(mut idx) = self.index.lock() {
            *idx = Dedup::new(self.rules.clone(), router);
        }
    }

    /// Sets the size and eviction metrics.
    pub fn report(&self) {
        if let Ok(idx) = self.index.lock() {
            crate::telemetry::metrics::dedup_stats(self.orders.tenant(), &idx.stats());
        }
    }
}

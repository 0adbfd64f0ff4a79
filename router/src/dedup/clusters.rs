//! Clusters (Art. 12(3)) and hotspots (Art. 21): contacts of different
//! callers on the same matter in the same district within the cluster window
//! are one cluster, led by its first case and that case's unit; `hotspot_size`
//! contacts of one cluster within `hotspot_window` make a hotspot, raised once.
//! Clusters are kept per (district, category) bucket, each with up to
//! [`REPS`] representative sketches; a bucket holds at most `max_per_bucket`
//! live clusters (the one idle longest is evicted, counted).
use super::callers::CaseRef;
use super::text::{Features, PLACES};
use std::collections::HashMap;
use std::sync::Arc;

/// Representative sketches kept per cluster: the lead's and the next
/// differently phrased members'.
pub const REPS: usize = 4;

#[derive(Debug, Clone)]
pub struct Cluster {
    pub lead_case: CaseRef,
    pub lead_unit: Option<Arc<str>>,
    /// Features and category of the representatives.
    pub reps: Vec<(Features, u32)>,
    /// Every place its members named (at most [`PLACES`]).
    pub places: [u32; PLACES],
    pub size: u32,
    /// Distinct callers (caller slots; at most 64 remembered).
    pub callers: Vec<u32>,
    pub last_at: i64,
    /// Times of the latest contacts, at most `hotspot_size`.
    pub recent: Vec<i64>,
    pub hot: bool,
}

/// Every live cluster, by (district, category).
#[derive(Debug, Default)]
pub struct Clusters {
    buckets: HashMap<(u32, u32), Vec<Cluster>>,
    pub max_per_bucket: usize,
    pub evicted: u64,
    live: usize,
}

impl Cluster {
    /// Adds the places of a member.
    pub fn add_places(&mut self, p: &[u32; PLACES]) {
        for x in p.iter().filter(|x| **x != 0) {
            if self.places.contains(x) {
                continue;
            }
            if let Some(slot) = self.places.iter_mut().find(|s| **s == 0) {
                *slot = *x;
            }
        }
    }
}

impl Clusters {
    pub fn new(max_per_bucket: usize) -> Clusters {
        Clusters {
            max_per_bucket,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The live clusters of a bucket, dropping those idle since `cutoff`.
    pub fn bucket(&mut self, key: (u32, u32), cutoff: i64) -> &mut Vec<Cluster> {
        let b = self.buckets.entry(key).or_default();
        let before = b.len();
        b.retain(|c| c.last_at > cutoff);
        self.live -= before - b.len();
        b
    }

    /// Adds a new cluster to a bucket, evicting the one idle longest when full.
    pub fn insert(&mut self, key: (u32, u32), c: Cluster) {
        let max = self.max_per_bucket.max(1);
        let b = self.buckets.entry(key).or_default();
        if b.len() >= max {
            if let Some((i, _)) = b.iter().enumerate().min_by_key(|(_, c)| c.last_at) {
                b.swap_remove(i);
                self.evicted += 1;
                self.live -= 1;
            }
        }
        b.push(c);
        self.live += 1;
    }

    /// Drops every cluster idle since `cutoff` and the empty buckets.
    pub fn expire(&mut self, cutoff: i64) {
        let mut dropped = 0;
        self.buckets.retain(|_, b| {
            let before = b.len();
            b.retain(|c| c.last_at > cutoff);
            dropped += before - b.len();
            !b.is_empty()
        });
        self.live -= dropped;
    }
}

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
    pub reps: Reps,
    pub size: u32,
    /// Distinct callers (caller slots; at most 64 remembered).
    pub callers: Vec<u32>,
    /// Times of the latest contacts, at most `hotspot_size`.
    pub recent: Vec<i64>,
    pub hot: bool,
}

/// Up to [`REPS`] representatives, inline: a candidate cluster costs one
/// cache miss, not a second one behind a `Vec`'s pointer.
#[derive(Debug, Clone, Copy)]
pub struct Reps {
    items: [(Features, u32); REPS],
    n: u8,
}

impl Reps {
    pub fn one(f: Features, category: u32) -> Reps {
        let mut items = [(Features::default(), 0); REPS];
        items[0] = (f, category);
        Reps { items, n: 1 }
    }

    pub fn iter(&self) -> impl Iterator<Item = &(Features, u32)> {
        self.items[..usize::from(self.n)].iter()
    }

    pub fn len(&self) -> usize {
        usize::from(self.n)
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Adds one unless full.
    pub fn push(&mut self, x: (Features, u32)) {
        if let Some(slot) = self.items.get_mut(usize::from(self.n)) {
            *slot = x;
            self.n += 1;
        }
    }
}

/// What a scan for candidates reads of a cluster, kept apart from the rest
/// so a bucket of hundreds of clusters is scanned in a few cache lines each.
#[derive(Debug, Clone, Copy)]
pub struct Head {
    pub last_at: i64,
    /// Every matter its members named.
    pub matters: u64,
    /// Every place its members named (at most [`PLACES`]).
    pub places: [u32; PLACES],
    /// The lead's category.
    pub category: u32,
}

impl Head {
    /// Adds what a member named.
    pub fn add(&mut self, at: i64, f: &Features) {
        self.last_at = self.last_at.max(at);
        self.matters |= f.matters;
        for x in f.places.iter().filter(|x| **x != 0) {
            if self.places.contains(x) {
                continue;
            }
            if let Some(slot) = self.places.iter_mut().find(|s| **s == 0) {
                *slot = *x;
            }
        }
    }
}

/// The clusters of one district.
#[derive(Debug, Default)]
pub struct Bucket {
    pub heads: Vec<Head>,
    pub items: Vec<Cluster>,
}

impl Bucket {
    fn retain_live(&mut self, cutoff: i64) -> usize {
        let before = self.heads.len();
        let mut i = 0;
        while i < self.heads.len() {
            if self.heads[i].last_at > cutoff {
                i += 1;
            } else {
                self.heads.swap_remove(i);
                self.items.swap_remove(i);
            }
        }
        before - self.heads.len()
    }
}

/// Every live cluster, by district.
#[derive(Debug, Default)]
pub struct Clusters {
    buckets: HashMap<(u32, u32), Bucket>,
    pub max_per_bucket: usize,
    pub evicted: u64,
    live: usize,
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

    /// The clusters of a bucket (callers skip those idle past the window;
    /// they are dropped by [`expire`](Self::expire) and [`insert`](Self::insert)).
    pub fn bucket(&mut self, key: (u32, u32)) -> &mut Bucket {
        self.buckets.entry(key).or_default()
    }

    /// Adds a new cluster to a bucket; when the bucket is full, drops those
    /// idle since `cutoff`, then if still full the one idle longest (counted).
    pub fn insert(&mut self, key: (u32, u32), cutoff: i64, head: Head, c: Cluster) {
        let max = self.max_per_bucket.max(1);
        let b = self.buckets.entry(key).or_default();
        if b.heads.len() >= max {
            self.live -= b.retain_live(cutoff);
        }
        if b.heads.len() >= max {
            if let Some((i, _)) = b.heads.iter().enumerate().min_by_key(|(_, h)| h.last_at) {
                b.heads.swap_remove(i);
                b.items.swap_remove(i);
                self.evicted += 1;
                self.live -= 1;
            }
        }
        b.heads.push(head);
        b.items.push(c);
        self.live += 1;
    }

    /// Drops every cluster idle since `cutoff` and the empty buckets.
    pub fn expire(&mut self, cutoff: i64) {
        let mut dropped = 0;
        self.buckets.retain(|_, b| {
            dropped += b.retain_live(cutoff);
            !b.heads.is_empty()
        });
        self.live -= dropped;
    }
}

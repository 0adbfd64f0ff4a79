//! Clusters (Art. 12(3)) and hotspots (Art. 21): contacts of different
//! callers on the same matter in the same district within the cluster window
//! are one cluster, led by its first case and that case's unit; `hotspot_size`
//! contacts of one cluster within `hotspot_window` make a hotspot, raised once.
//! Clusters are kept per (district, category) bucket, each with up to
//! [`REPS`] representative sketches; a bucket holds at most `max_per_bucket`
//! live clusters (the one idle longest is evicted, counted).
use super::callers::CaseRef;
use super::text::{Features, Problem, PLACES};
use std::collections::HashMap;
use std::sync::Arc;

/// Representative sketches kept per cluster: the lead's and the next
/// differently phrased members'.
pub const REPS: usize = 4;

/// A member this similar to a representative is phrased like it: it adds
/// nothing to what the cluster matches, and does not become one.
pub const REP_DISTINCT: f64 = 0.8;

#[derive(Debug, Clone)]
pub struct Cluster {
    pub lead_case: CaseRef,
    pub lead_unit: Option<Arc<str>>,
    /// Features, problem and category of the representatives.
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
    items: [Rep; REPS],
    n: u8,
}

/// One representative: its features, problem and category.
pub type Rep = (Features, Problem, u32);

impl Reps {
    pub fn one(rep: Rep) -> Reps {
        let mut items = [(Features::default(), Problem::default(), 0); REPS];
        items[0] = rep;
        Reps { items, n: 1 }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Rep> {
        self.items[..usize::from(self.n)].iter()
    }

    pub(super) fn len(&self) -> usize {
        usize::from(self.n)
    }

    /// A new member becomes a representative while there is room, when it
    /// is phrased differently from every one (similarity below
    /// [`REP_DISTINCT`]): the cluster then also matches later contacts
    /// phrased like it. Returns whether it did.
    pub fn admit(&mut self, x: Rep) -> bool {
        let n = self.len();
        if self
            .iter()
            .any(|(f, _, _)| f.sketch.similarity(&x.0.sketch) >= REP_DISTINCT)
        {
            return false;
        }
        self.push(x);
        self.len() > n
    }

    /// Adds one unless full.
    pub fn push(&mut self, x: Rep) {
        if let Some(slot) = self.items.get_mut(usize::from(self.n)) {
            *slot = x;
            self.n += 1;
        }
    }
}

/// What a scan reads of a cluster once its matters let it be a candidate,
/// kept apart from the rest so a bucket of hundreds of clusters is scanned
/// in a few cache lines each.
#[derive(Debug, Clone, Copy)]
pub struct Head {
    pub last_at: i64,
    /// Every place its members named (at most [`PLACES`]).
    pub places: [u32; PLACES],
    /// The lead's category.
    pub category: u32,
    /// The [`super::names::signature`] of the lead's proper names: a
    /// contact of another category may be a candidate when it shares one
    /// (the names themselves are read from the lead only then).
    pub name_bits: u64,
}

impl Head {
    /// Adds the places a member named.
    fn add(&mut self, at: i64, f: &Features) {
        self.last_at = self.last_at.max(at);
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

/// The clusters of one district, as parallel columns (same index in each).
#[derive(Debug, Default)]
pub struct Bucket {
    /// Every matter each cluster's members named: the first test of a scan
    /// reads 8 bytes per cluster, eight clusters at a time.
    matters: Vec<u64>,
    heads: Vec<Head>,
    items: Vec<Cluster>,
}

impl Bucket {
    fn len(&self) -> usize {
        self.heads.len()
    }

    fn push(&mut self, at: i64, f: &Features, category: u32, c: Cluster) {
        self.matters.push(f.matters);
        let name_bits = c
            .reps
            .iter()
            .next()
            .map_or(0, |r| super::names::signature(&r.1.names));
        self.heads.push(Head {
            last_at: at,
            places: f.places,
            category,
            name_bits,
        });
        self.items.push(c);
    }

    fn swap_remove(&mut self, i: usize) {
        self.matters.swap_remove(i);
        self.heads.swap_remove(i);
        self.items.swap_remove(i);
    }

    fn retain_live(&mut self, cutoff: i64) -> usize {
        let before = self.len();
        let mut i = 0;
        while i < self.len() {
            if self.heads[i].last_at > cutoff {
                i += 1;
            } else {
                self.swap_remove(i);
            }
        }
        before - self.len()
    }

    /// Calls `f(index, matters, head, cluster)` for every cluster that names
    /// one of the matters in `matters` or names none — every cluster when
    /// `matters` is empty: the only ones a text can share a matter with or
    /// be matched with on place and category (see `same_matter`).
    pub fn each_candidate(&self, matters: u64, mut f: impl FnMut(usize, u64, &Head, &Cluster)) {
        let all = matters == 0;
        for (n, chunk) in self.matters.chunks(8).enumerate() {
            // Branch-free over the chunk: the compiler vectorizes it.
            let mut mask = 0u32;
            for (j, m) in chunk.iter().enumerate() {
                let hit = all | (m & matters != 0) | (*m == 0);
                mask |= u32::from(hit) << j;
            }
            while mask != 0 {
                let i = n * 8 + mask.trailing_zeros() as usize;
                mask &= mask - 1;
                if let (Some(m), Some(h), Some(c)) =
                    (self.matters.get(i), self.heads.get(i), self.items.get(i))
                {
                    f(i, *m, h, c);
                }
            }
        }
    }

    /// A contact joins cluster `i`: its time, matters and places are added
    /// to the cluster's; returns the cluster (None if `i` is out of range).
    pub fn join(&mut self, i: usize, at: i64, f: &Features) -> Option<&mut Cluster> {
        let (m, h, c) = (
            self.matters.get_mut(i)?,
            self.heads.get_mut(i)?,
            self.items.get_mut(i)?,
        );
        *m |= f.matters;
        h.add(at, f);
        Some(c)
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

    /// Live clusters (the index's statistics).
    pub(super) fn len(&self) -> usize {
        self.live
    }

    /// The clusters of a bucket (callers skip those idle past the window;
    /// they are dropped by [`expire`](Self::expire) and [`insert`](Self::insert)).
    pub fn bucket(&mut self, key: (u32, u32)) -> &mut Bucket {
        self.buckets.entry(key).or_default()
    }

    /// Adds a new cluster, led by a contact at `at` with features `f`, to a
    /// bucket; when the bucket is full, drops those idle since `cutoff`,
    /// then if still full the one idle longest (counted).
    pub fn insert(
        &mut self,
        key: (u32, u32),
        cutoff: i64,
        (at, f, category): (i64, &Features, u32),
        c: Cluster,
    ) {
        let max = self.max_per_bucket.max(1);
        let b = self.buckets.entry(key).or_default();
        if b.len() >= max {
            self.live -= b.retain_live(cutoff);
        }
        if b.len() >= max {
            if let Some((i, _)) = b.heads.iter().enumerate().min_by_key(|(_, h)| h.last_at) {
                b.swap_remove(i);
                self.evicted += 1;
                self.live -= 1;
            }
        }
        b.push(at, f, category, c);
        self.live += 1;
    }

    /// The clusters of at least two contacts whose latest contact is at or
    /// after `cutoff`, largest first, at most `n`.
    /// Each with its bucket's district (the record's district hash).
    pub fn largest(&self, cutoff: i64, n: usize) -> Vec<(u32, &Cluster)> {
        let mut all: Vec<(u32, &Cluster)> = self
            .buckets
            .iter()
            .flat_map(|(k, b)| b.heads.iter().zip(&b.items).map(move |x| (k.0, x)))
            .filter(|(_, (h, c))| h.last_at >= cutoff && c.size >= 2)
            .map(|(d, (_, c))| (d, c))
            .collect();
        all.sort_by(|a, b| b.1.size.cmp(&a.1.size).then(b.1.hot.cmp(&a.1.hot)));
        all.truncate(n);
        all
    }

    /// Drops every cluster idle since `cutoff` and the empty buckets.
    pub fn expire(&mut self, cutoff: i64) {
        let mut dropped = 0;
        self.buckets.retain(|_, b| {
            dropped += b.retain_live(cutoff);
            b.len() > 0
        });
        self.live -= dropped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::callers::CaseRef;
    use proptest::prelude::*;

    fn cluster() -> Cluster {
        Cluster {
            lead_case: CaseRef::default(),
            lead_unit: None,
            reps: Reps::one(Default::default()),
            size: 1,
            callers: vec![],
            recent: vec![],
            hot: false,
        }
    }

    fn features(matters: u64) -> Features {
        Features {
            matters,
            ..Default::default()
        }
    }

    proptest! {
        /// The chunked scan visits, in index order, exactly the clusters a
        /// plain filter over every cluster's matters keeps; joining a
        /// cluster adds the member's matters to its column.
        #[test]
        fn candidates_are_the_plain_filter(
            ms in proptest::collection::vec(prop_oneof![Just(0u64), 1u64..16, any::<u64>()], 0..40),
            query in prop_oneof![Just(0u64), 1u64..16, any::<u64>()],
            join in any::<(usize, u64)>(),
        ) {
            let mut b = Bucket::default();
            for m in &ms {
                b.push(0, &features(*m), 0, cluster());
            }
            let mut seen = vec![];
            b.each_candidate(query, |i, m, _, _| seen.push((i, m)));
            let want: Vec<(usize, u64)> = ms
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, m)| query == 0 || m & query != 0 || *m == 0)
                .collect();
            prop_assert_eq!(seen, want);

            if !ms.is_empty() {
                let i = join.0 % ms.len();
                prop_assert!(b.join(i, 1, &features(join.1)).is_some());
                let mut after = None;
                b.each_candidate(0, |j, m, h, _| {
                    if j == i {
                        after = Some((m, h.last_at));
                    }
                });
                prop_assert_eq!(after, Some((ms[i] | join.1, 1)));
            }
            prop_assert!(b.join(ms.len(), 1, &features(1)).is_none());
        }
    }

    /// Expiry drops idle clusters and the buckets they leave empty, so a
    /// district quiet for the window holds no memory (found by
    /// cargo-mutants: `> 0` → `>= 0` kept every empty bucket).
    #[test]
    fn expiry_drops_idle_clusters_and_empty_buckets() {
        let mut c = Clusters::new(8);
        c.insert((1, 0), 0, (100, &features(1), 0), cluster());
        c.insert((2, 0), 0, (300, &features(1), 0), cluster());
        assert_eq!((c.len(), c.buckets.len()), (2, 2));
        c.expire(200);
        assert_eq!((c.len(), c.buckets.len()), (1, 1));
        assert!(c.buckets.contains_key(&(2, 0)));
        c.expire(300);
        assert_eq!((c.len(), c.buckets.len()), (0, 0));
    }
}

//! Dedup throughput with a large index, and bytes per indexed contact.
//!
//! Indexes `indexed` synthetic contacts (the traffic model: repeat callers,
//! clusters, many phrasings), measuring resident-memory growth, then times
//! `measured` more on one core: building the record (normalize, lexicon,
//! MinHash) and matching it against the index, separately and together.
//! Baseline in the same run: inserting the same contact ids into a
//! `HashMap<u64, u64>` — the cheapest index there is.
use crate::report::rss_bytes;
use crate::traffic::{Traffic, TrafficConfig};
use hotline_ingest::wire::contact_from;
use hotline_router::dedup::{self, Dedup, DedupConfig, DedupRules, MatterRecord};
use hotline_router::Router;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct DedupReport {
    pub indexed: usize,
    pub callers_indexed: usize,
    pub clusters_live: usize,
    pub rss_bytes: u64,
    pub bytes_per_contact: f64,
    pub measured: usize,
    pub record_per_sec: f64,
    pub apply_per_sec: f64,
    pub dedup_per_sec: f64,
    pub baseline_per_sec: f64,
    pub ratio: f64,
    pub repeats: u64,
    pub clustered: u64,
}

fn contacts(seed: u64, callers: u64) -> impl Iterator<Item = hotline_router::Contact> {
    Traffic::new(TrafficConfig {
        seed,
        callers,
        ..Default::default()
    })
    .filter_map(|c| contact_from(&c).ok())
}

/// Runs the benchmark; `types: false` leaves the problem-type model out
/// (what it costs, measured in the same build).
pub fn run(
    indexed: usize,
    measured: usize,
    callers: u64,
    types: bool,
) -> anyhow::Result<DedupReport> {
    let router = Router::embedded().map_err(|e| anyhow::anyhow!("rules: {} error(s)", e.len()))?;
    let mut rules =
        DedupRules::embedded(DedupConfig::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    if !types {
        rules.lexicon = rules.lexicon.with_types(None);
    }
    let rules = Arc::new(rules);
    let mut all = contacts(7, callers);
    // Records of the measured contacts, built before the index (not counted in its memory).
    let mut later: Vec<(hotline_router::Contact, hotline_router::Decision)> = Vec::new();
    let mut idx = Dedup::new(rules.clone(), &router);
    let before = rss_bytes();
    let mut n = 0;
    for c in all.by_ref() {
        let now = c.received_at.unwrap_or_default();
        let Ok(d) = hotline_router::decide(&router, &c, now) else {
            continue;
        };
        if let Some(r) = dedup::record(&router, &rules, &c, &d) {
            idx.apply(&r);
            n += 1;
            if n >= indexed {
                break;
            }
        }
    }
    let rss = rss_bytes().saturating_sub(before);
    let stats = idx.stats();
    for c in all.by_ref() {
        let now = c.received_at.unwrap_or_default();
        if let Ok(d) = hotline_router::decide(&router, &c, now) {
            if dedup::eligible(d.route) {
                later.push((c, d));
                if later.len() >= measured {
                    break;
                }
            }
        }
    }
    // Record building alone.
    let s = Instant::now();
    let recs: Vec<MatterRecord> = later
        .iter()
        .filter_map(|(c, d)| dedup::record(&router, &rules, c, d))
        .collect();
    let record_secs = s.elapsed().as_secs_f64();
    // Matching and indexing alone.
    let (mut repeats, mut clustered) = (0u64, 0u64);
    let s = Instant::now();
    for r in &recs {
        let o = idx.apply(r);
        repeats += u64::from(o.repeat_of.is_some());
        clustered += u64::from(o.cluster_id.is_some());
    }
    let apply_secs = s.elapsed().as_secs_f64();
    // Baseline: the same ids into the cheapest index.
    let mut base: HashMap<u64, u64> = HashMap::with_capacity(indexed + measured);
    for (i, r) in recs.iter().enumerate() {
        base.insert(r.contact.wrapping_add(i as u64), r.idents[0]);
    }
    let s = Instant::now();
    for r in &recs {
        std::hint::black_box(base.insert(r.contact, r.idents[0]));
    }
    let base_secs = s.elapsed().as_secs_f64().max(1e-9);
    let m = recs.len().max(1) as f64;
    let dedup_per_sec = m / (record_secs + apply_secs).max(1e-9);
    let baseline_per_sec = m / base_secs;
    Ok(DedupReport {
        indexed: n,
        callers_indexed: stats.callers,
        clusters_live: stats.clusters,
        rss_bytes: rss,
        bytes_per_contact: rss as f64 / n.max(1) as f64,
        measured: recs.len(),
        record_per_sec: m / record_secs.max(1e-9),
        apply_per_sec: m / apply_secs.max(1e-9),
        dedup_per_sec,
        baseline_per_sec,
        ratio: dedup_per_sec / baseline_per_sec,
        repeats,
        clustered,
    })
}

impl crate::report::Printed for DedupReport {
    fn summary(&self) -> String {
        format!(
            "indexed {} contacts ({} callers, {} live clusters): resident +{:.1} MiB = {:.0} B per contact\n\
             {} more on one core: record {:.0}/s, match+index {:.0}/s, together {:.0}/s\n\
             baseline HashMap<u64,u64> insert: {:.0}/s; ratio {:.3}\n\
             found {} repeats and {} clustered contacts among them",
            self.indexed,
            self.callers_indexed,
            self.clusters_live,
            self.rss_bytes as f64 / 1048576.0,
            self.bytes_per_contact,
            self.measured,
            self.record_per_sec,
            self.apply_per_sec,
            self.dedup_per_sec,
            self.baseline_per_sec,
            self.ratio,
            self.repeats,
            self.clustered,
        )
    }
}

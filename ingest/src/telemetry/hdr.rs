//! HdrHistograms behind the StatsSnapshot: values in microseconds, three
//! significant digits, encoded in the HdrHistogram V2 compressed (DEFLATE)
//! format so any HdrHistogram library can decode and merge them across nodes.
//!
//! Pipeline latency is recorded on the hot path into one histogram per
//! thread (each behind its own, uncontended lock) and merged when a snapshot
//! is taken; every snapshot covers the interval since the previous one.
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use hotline_proto::v1 as pb;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An empty histogram (auto-resizing, 3 significant digits).
pub fn fresh() -> Histogram<u64> {
    // 3 significant figures is in 0..=5, the constructor's only failure.
    Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant figures are valid"))
}

/// Longest value recorded as itself: one year in microseconds; longer is clamped.
const MAX_US: u64 = 366 * 86_400 * 1_000_000;

/// Records microseconds (the histogram grows to fit; at least 1, at most a year).
fn record_us(h: &mut Histogram<u64>, us: u64) {
    if h.record(us.clamp(1, MAX_US)).is_err() {
        h.saturating_record(us);
    }
}

/// Records a duration, in microseconds.
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    record_us(h, u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
}

/// Records milliseconds, as microseconds.
pub fn record_ms(h: &mut Histogram<u64>, ms: i64) {
    record_us(h, u64::try_from(ms).unwrap_or(0).saturating_mul(1000));
}

type Shard = Arc<Mutex<Histogram<u64>>>;

static SHARDS: Mutex<Vec<Shard>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: Shard = {
        let s: Shard = Arc::new(Mutex::new(fresh()));
        if let Ok(mut all) = SHARDS.lock() {
            all.push(s.clone());
        }
        s
    };
}

/// Records one contact's pipeline latency (received → answered or delivered).
pub fn pipeline(d: Duration) {
    LOCAL.with(|s| {
        if let Ok(mut h) = s.lock() {
            record(&mut h, d);
        }
    });
}

/// The pipeline latency recorded since the last call, merged over threads.
pub fn take_pipeline() -> Histogram<u64> {
    let mut out = fresh();
    if let Ok(all) = SHARDS.lock() {
        for s in all.iter() {
            if let Ok(mut h) = s.lock() {
                let _ = out.add(&*h);
                h.reset();
            }
        }
    }
    out
}

/// The wire form: count, quantiles in seconds and the V2 DEFLATE bytes.
pub fn snapshot(name: &str, h: &Histogram<u64>) -> pb::HistogramSnapshot {
    let q = |x: f64| h.value_at_quantile(x) as f64 / 1e6;
    let mut hdr_v2 = Vec::new();
    if V2DeflateSerializer::new()
        .serialize(h, &mut hdr_v2)
        .is_err()
    {
        hdr_v2.clear();
    }
    pb::HistogramSnapshot {
        name: name.to_string(),
        count: h.len(),
        p50_seconds: q(0.5),
        p90_seconds: q(0.9),
        p99_seconds: q(0.99),
        p999_seconds: q(0.999),
        hdr_v2,
    }
}

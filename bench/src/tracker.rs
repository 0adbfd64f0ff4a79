//! The work-order deadline tracker at scale (issue: 1 000 000 open cases):
//! memory per open case (resident set growth, the allocator included) and
//! the cost of the one-second tick, against the baseline a tracker without a
//! timer index would pay — a scan of every case's next deadline per tick
//! (over a flat array of instants: the cheapest scan there is).
use crate::report::rss_bytes;
use chrono::{Duration, TimeZone, Utc};
use hotline_router::tracker::{Tracker, TrackerConfig};
use hotline_router::{Calendar, Deadlines, Kind};
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct TrackerReport {
    pub cases: usize,
    pub open_seconds: f64,
    pub rss_bytes: u64,
    pub bytes_per_case: f64,
    /// A tick with nothing due (almost every tick), mean over many.
    pub idle_tick_ns: f64,
    /// A full-scan tick over the same cases (baseline), mean.
    pub scan_tick_ns: f64,
    /// Ticks sweeping one simulated minute each: alerts fired and mean cost.
    pub busy_ticks: u64,
    pub busy_alerts: u64,
    pub busy_tick_ns: f64,
    /// The wallboard's summary of every open case (one scan), mean.
    pub summary_ns: f64,
}

/// Opens `cases` work orders received over the last 3 days, with the
/// deadlines the router gives them, then measures ticks.
pub fn run(cases: usize) -> anyhow::Result<TrackerReport> {
    let cal = Calendar::embedded()
        .map_err(|e| anyhow::anyhow!("embedded calendar: {} error(s)", e.len()))?;
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 23, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let kinds = [Kind::Complaint, Kind::Help, Kind::Report, Kind::Suggestion];
    let before = rss_bytes();
    let started = Instant::now();
    let mut t = Tracker::new(TrackerConfig {
        max_cases: cases.max(1),
        ..Default::default()
    });
    let span_ms = 3 * 86_400_000i64;
    let mut scan: Vec<i64> = Vec::with_capacity(cases);
    for i in 0..cases {
        let received = t0 + Duration::milliseconds((i as i64 * 7919) % span_ms);
        let kind = kinds[i % kinds.len()];
        let d = Deadlines {
            dispatch_by: Some(received + Duration::minutes(10)),
            complete_by: Some(hotline_router::deadlines::add_working_days(&cal, received, 3).0),
            ..Default::default()
        };
        scan.push(d.complete_by.map(|x| x.timestamp_millis()).unwrap_or(0));
        t.open(
            &format!("GY20261123{i:016x}"),
            kind,
            &d,
            "0123456789abcdef0123456789abcdef",
        );
    }
    let open_seconds = started.elapsed().as_secs_f64();
    let rss = rss_bytes().saturating_sub(before);
    // Everything due at open time has fired: from here most ticks find nothing.
    let now = t0 + Duration::milliseconds(span_ms);
    let _ = t.tick(now);
    let n = 100_000;
    let s = Instant::now();
    for k in 0..n {
        std::hint::black_box(t.tick(now + Duration::milliseconds(k % 1000)));
    }
    let idle_tick_ns = s.elapsed().as_nanos() as f64 / n as f64;
    let n_scan = 20;
    let s = Instant::now();
    let mut due = 0usize;
    for k in 0..n_scan {
        let cut = now.timestamp_millis() + k;
        due += scan.iter().filter(|d| **d <= cut).count();
    }
    std::hint::black_box(due);
    let scan_tick_ns = s.elapsed().as_nanos() as f64 / n_scan as f64;
    // Busy: sweep 2 simulated days a minute at a time; DUE_SOON and OVERDUE fire.
    let mut busy_alerts = 0u64;
    let busy_ticks = 2 * 24 * 60u64;
    let s = Instant::now();
    for m in 0..busy_ticks {
        busy_alerts += t.tick(now + Duration::minutes(m as i64 + 1)).len() as u64;
    }
    let busy_tick_ns = s.elapsed().as_nanos() as f64 / busy_ticks as f64;
    let n_summary = 10;
    let s = Instant::now();
    for _ in 0..n_summary {
        std::hint::black_box(t.summary(now, 8));
    }
    let summary_ns = s.elapsed().as_nanos() as f64 / n_summary as f64;
    Ok(TrackerReport {
        cases,
        open_seconds,
        rss_bytes: rss,
        bytes_per_case: rss as f64 / cases.max(1) as f64,
        idle_tick_ns,
        scan_tick_ns,
        busy_ticks,
        busy_alerts,
        busy_tick_ns,
        summary_ns,
    })
}

impl crate::report::Printed for TrackerReport {
    fn summary(&self) -> String {
        format!(
            "tracker: {} open cases in {:.2} s; resident +{:.1} MiB = {:.0} B/case\n\
             idle tick (nothing due): {:.0} ns; full-scan baseline: {:.0} ns (ratio {:.0}x faster)\n\
             busy ticks (1 simulated minute each): {} alerts over {} ticks, {:.0} ns/tick\n\
             wallboard summary (a scan of every case): {:.1} ms",
            self.cases,
            self.open_seconds,
            self.rss_bytes as f64 / 1048576.0,
            self.bytes_per_case,
            self.idle_tick_ns,
            self.scan_tick_ns,
            self.scan_tick_ns / self.idle_tick_ns.max(1e-9),
            self.busy_alerts,
            self.busy_ticks,
            self.busy_tick_ns,
            self.summary_ns / 1e6,
        )
    }
}

//! The wall screen's figures (README.md, "Wallboard"): once a second one JSON
//! document, built from the same sources as `/metrics` — the call windows,
//! the work-order tracker, the dedup index and the recorder's own counters
//! and gauges — so the screen and Prometheus never disagree. The admin
//! listener serves it to the page as server-sent events; the page carries
//! no logic beyond drawing it.
use crate::state::dedup::DedupStage;
use crate::state::orders::Orders;
use crate::state::sla::Sla;
use crate::telemetry::exposition::Exposition;
use hotline_router::deadlines::SHANGHAI;
use hotline_router::tracker::Summary;
use hotline_router::Calendar;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// Sparkline points kept per queue: one a minute, the last three hours.
const SPARK_POINTS: usize = 180;

/// What the board reads.
pub struct BoardSources {
    pub sla: Arc<Sla>,
    pub orders: Arc<Orders>,
    pub dedup: Option<DedupStage>,
    pub metrics: PrometheusHandle,
    pub calendar: Calendar,
    /// `/ready`'s flags: serving, and the store can commit.
    pub ready: Arc<AtomicBool>,
    pub writable: crate::sinks::committer::Flags,
}

/// The state the board keeps between seconds: sparklines and the rate.
#[derive(Default)]
struct History {
    /// Per queue: (minute, 1 h answer rate).
    spark: BTreeMap<String, VecDeque<(i64, f64)>>,
    /// (second, contacts decided so far), the last minute.
    contacts: VecDeque<(i64, f64)>,
    /// The pipeline-latency buckets a minute ago (le, cumulative count).
    latency: VecDeque<(i64, Vec<(f64, f64)>)>,
    /// The open cases' summary and when to take it again. A summary scans
    /// every case under the tracker's lock, which each new work order needs
    /// too (`hotline-bench tracker`: 9 ms at 50 000 open cases, 360 ms at a
    /// million): it is taken again only once twenty times its own duration
    /// has passed, so the scan holds the lock at most 5 % of the time.
    cases: Option<(std::time::Instant, (Summary, u64, u64))>,
}

impl BoardSources {
    /// The board as of `now`.
    fn build(&self, now: chrono::DateTime<chrono::Utc>, h: &mut History) -> Value {
        let x = Exposition::parse(&self.metrics.render());
        let secs = now.timestamp();
        let queues: Vec<Value> = self
            .sla
            .queue_windows(now)
            .into_iter()
            .map(|q| {
                let hour = q.windows.iter().find(|w| w.window == "1h");
                let spark = h.spark.entry(q.queue.clone()).or_default();
                if let Some(w) = hour {
                    let minute = secs / 60;
                    if spark.back().map(|(m, _)| *m) != Some(minute) {
                        spark.push_back((minute, w.answer_rate));
                        while spark.len() > SPARK_POINTS {
                            spark.pop_front();
                        }
                    }
                }
                let below = hour.is_some_and(|w| w.answer_rate < self.sla.answer_rate_target());
                json!({
                    "queue": q.queue,
                    "below_target": below,
                    "windows": q.windows.iter().map(|w| json!({
                        "window": w.window,
                        "offered": w.offered,
                        "answered": w.answered,
                        "abandoned": w.abandoned,
                        "answer_rate": w.answer_rate,
                        "service_level": w.service_level,
                    })).collect::<Vec<_>>(),
                    "spark": spark.iter().map(|(_, r)| *r).collect::<Vec<_>>(),
                })
            })
            .collect();
        let messages: Vec<Value> = self
            .sla
            .accept_today(now)
            .into_iter()
            .map(|(channel, count, p50, p95)| {
                json!({"channel": channel, "count": count, "p50_seconds": p50, "p95_seconds": p95})
            })
            .collect();
        let contacts = x.sum("hotline_contacts_total", &[]);
        h.contacts.push_back((secs, contacts));
        while h.contacts.front().is_some_and(|(t, _)| secs - t > 60) {
            h.contacts.pop_front();
        }
        let rate = match (h.contacts.front(), h.contacts.back()) {
            (Some((t0, c0)), Some((t1, c1))) if t1 > t0 => (c1 - c0) / (t1 - t0) as f64,
            _ => 0.0,
        };
        let buckets = x.buckets("hotline_answer_latency_seconds");
        h.latency.push_back((secs, buckets.clone()));
        while h.latency.front().is_some_and(|(t, _)| secs - t > 60) {
            h.latency.pop_front();
        }
        let p99 = h
            .latency
            .front()
            .and_then(|(_, old)| quantile(&buckets, old, 0.99));
        let alerts = |kind: &str| x.sum("hotline_alerts_total", &[("kind", kind)]);
        let clusters: Vec<Value> = self
            .dedup
            .as_ref()
            .map(|d| d.top_clusters(10))
            .unwrap_or_default()
            .into_iter()
            .map(|c| {
                json!({
                    "district": c.district,
                    "unit": c.unit,
                    "lead_case": c.lead_case,
                    "size": c.size,
                    "hotspot": c.hot,
                })
            })
            .collect();
        let local = now.with_timezone(&SHANGHAI);
        let due = h
            .cases
            .as_ref()
            .is_none_or(|(next, _)| std::time::Instant::now() >= *next);
        if due {
            let started = std::time::Instant::now();
            let s = self.orders.summary(now);
            h.cases = Some((started + started.elapsed() * 20, s));
        }
        let (s, completed, on_time) = h.cases.as_ref().map(|(_, x)| x.clone()).unwrap_or_default();
        let orders = json!({
            "open": s.open,
            "stages": {
                "dispatch": s.dispatch,
                "sign": s.sign,
                "handling": s.handling,
                "extension_review": s.extension_review,
            },
            "due_soon": s.due_soon,
            "overdue": s.overdue,
            "awaiting_relay": s.awaiting_relay,
            "by_unit": s.by_unit.iter().map(|(unit, district, soon, over)| json!({
                "unit": unit,
                "name": self.orders.unit_name(unit).unwrap_or(unit),
                "district": district,
                "due_soon": soon,
                "overdue": over,
            })).collect::<Vec<_>>(),
            "completed_today": completed,
            "completed_today_on_time": on_time,
        });
        json!({
            "at": local.format("%Y-%m-%d %H:%M:%S").to_string(),
            "ready": self.ready.load(Ordering::SeqCst) && self.writable.all(),
            // Deadlines in days past the known holiday calendar are provisional.
            "calendar_provisional": !self.calendar.knows(local.date_naive()),
            "queues": queues,
            "messages": messages,
            "accept_late": alerts("ACCEPT_LATE"),
            "orders": orders,
            "emergencies": x.sum("hotline_emergencies_total", &[]),
            "possible_emergencies": x.sum("hotline_possible_emergencies_total", &[]),
            "relay_overdue": x.sum("hotline_relays_overdue_total", &[]),
            "escalations": alerts("ESCALATION"),
            "hotspots": alerts("HOTSPOT"),
            "clusters": clusters,
            "pipeline": {
                "contacts": contacts,
                "rate_per_second": rate,
                "p99_seconds": p99,
                "dlq": x.sum("hotline_dlq_records_total", &[]),
                "outbox_unpublished": x.sum("hotline_outbox_unpublished", &[]),
                "outbox_oldest_age_seconds": x.sum("hotline_outbox_oldest_age_seconds", &[]),
            },
        })
    }
}

/// The `q` quantile of what a cumulative histogram counted since `old`
/// (both as (upper bound, cumulative count)), by linear interpolation in
/// the bucket (as PromQL's `histogram_quantile`); none when nothing was counted.
fn quantile(now: &[(f64, f64)], old: &[(f64, f64)], q: f64) -> Option<f64> {
    let delta: Vec<(f64, f64)> = now
        .iter()
        .map(|(le, c)| {
            let before = old
                .iter()
                .find(|(l, _)| l == le)
                .map(|(_, c)| *c)
                .unwrap_or(0.0);
            (*le, c - before)
        })
        .collect();
    let total = delta.last().map(|(_, c)| *c).filter(|c| *c > 0.0)?;
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, c) in &delta {
        if c >= rank {
            if le.is_infinite() {
                return Some(prev.0);
            }
            let within = if c > prev.1 {
                (rank - prev.1) / (c - prev.1)
            } else {
                1.0
            };
            return Some(prev.0 + (le - prev.0) * within);
        }
        prev = (le, c);
    }
    None
}

/// Rebuilds the board every second until `shutdown`; the admin listener
/// reads the latest from `tx`'s receivers.
pub async fn run(
    src: BoardSources,
    tx: watch::Sender<Option<Arc<str>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut h = History::default();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|v| *v) => break,
        }
        let board = src.build(chrono::Utc::now(), &mut h);
        tx.send_replace(Some(Arc::from(board.to_string())));
        crate::telemetry::metrics::tick("wallboard");
    }
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_interpolate_within_the_bucket_of_what_was_counted_since() {
        let old = [(0.001, 10.0), (0.01, 10.0), (f64::INFINITY, 10.0)];
        let now = [(0.001, 10.0), (0.01, 110.0), (f64::INFINITY, 110.0)];
        // 100 new observations, all in (1 ms, 10 ms]: the median is midway.
        let p50 = quantile(&now, &old, 0.5).unwrap_or_default();
        assert!((p50 - 0.0055).abs() < 1e-9, "{p50}");
        assert_eq!(quantile(&old, &old, 0.5), None, "nothing new");
    }
}

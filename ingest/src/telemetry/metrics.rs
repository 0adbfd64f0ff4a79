//! Recording the metrics of the catalogue (`telemetry::catalogue`, which
//! names each with its help text): the recorder, histogram buckets whose
//! edges include the SLA thresholds (3 s, 180 s, 600 s, 1800 s), the series
//! that exist from the start at 0, and one function per event.
use metrics::{counter, gauge, histogram, Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

/// The cache key of a metric: its static name and (at most two) label
/// values, each by address and length — two different strings never share
/// both, even where the linker overlaps literals.
type Key = [(usize, usize); 3];

thread_local! {
    /// Per-contact handles, by the addresses of their static name and
    /// labels: the recorder's lookup (a key built and hashed, a shared map
    /// read) once per thread and label set instead of once per contact.
    static COUNTERS: RefCell<HashMap<Key, Counter>> = RefCell::new(HashMap::new());
    static HISTOGRAMS: RefCell<HashMap<Key, Histogram>> = RefCell::new(HashMap::new());
}

/// The cache key of a metric; None for more than two labels (not cached).
fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Option<Key> {
    let id = |s: &str| (s.as_ptr() as usize, s.len());
    match labels {
        [] => Some([id(name), (0, 0), (0, 0)]),
        [(_, a)] => Some([id(name), id(a), (0, 0)]),
        [(_, a), (_, b)] => Some([id(name), id(a), id(b)]),
        _ => None,
    }
}

fn labels(labels: &[(&'static str, &'static str)]) -> Vec<metrics::Label> {
    labels
        .iter()
        .map(|(k, v)| metrics::Label::new(*k, *v))
        .collect()
}

/// `counter!(name, labels)`, its handle cached per thread (up to two labels).
fn cached_counter(name: &'static str, l: &[(&'static str, &'static str)]) -> Counter {
    let Some(k) = key(name, l) else {
        return counter!(name, labels(l));
    };
    COUNTERS.with_borrow_mut(|m| {
        m.entry(k)
            .or_insert_with(|| counter!(name, labels(l)))
            .clone()
    })
}

/// `histogram!(name, labels)`, its handle cached per thread (up to two labels).
fn cached_histogram(name: &'static str, l: &[(&'static str, &'static str)]) -> Histogram {
    let Some(k) = key(name, l) else {
        return histogram!(name, labels(l));
    };
    HISTOGRAMS.with_borrow_mut(|m| {
        m.entry(k)
            .or_insert_with(|| histogram!(name, labels(l)))
            .clone()
    })
}

/// Histogram bucket edges, seconds.
pub const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0,
    10.0, 30.0, 60.0, 180.0, 600.0, 1800.0, 3600.0, 14400.0, 86400.0, 259200.0,
];

/// The label values of `hotline_dlq_records_total{reason}`: why a Kafka
/// record went to the dead-letter topic (README.md, "Kafka").
pub const DLQ_REASONS: [&str; 4] = ["UNDECODABLE", "INVALID_EVENT", "UNKNOWN_TOPIC", "REJECTED"];

/// Installs the Prometheus recorder for this process, once: a second
/// daemon run in the same process (tests) shares it.
pub fn install() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    static HANDLE: std::sync::Mutex<Option<PrometheusHandle>> = std::sync::Mutex::new(None);
    let mut slot = HANDLE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(h) = &*slot {
        return Ok(h.clone());
    }
    let handle = install_once()?;
    *slot = Some(handle.clone());
    Ok(handle)
}

fn install_once() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets(BUCKETS)?
        .install_recorder()?;
    crate::telemetry::catalogue::describe();
    for reason in hotline_router::Reject::CODES
        .iter()
        .chain(["INVALID_TIMESTAMP"].iter())
    {
        counter!("hotline_rejects_total", "reason" => *reason).increment(0);
    }
    for reason in ["missing", "invalid", "forbidden", "backoff"] {
        counter!("hotline_auth_failures_total", "reason" => reason).increment(0);
    }
    counter!("hotline_overload_rejections_total").increment(0);
    counter!("hotline_duplicates_total").increment(0);
    counter!("hotline_commit_failures_total").increment(0);
    counter!("hotline_provisional_deadlines_total").increment(0);
    // Series that dashboards and alert rules query exist from the start, at 0.
    for kind in [
        "ANSWER_RATE_LOW",
        "ANSWER_RATE_RECOVERED",
        "ACCEPT_LATE",
        "DUE_SOON",
        "OVERDUE",
        "ESCALATION",
        "HOTSPOT",
        "EXTENSION_REFUSED",
        "POSSIBLE_EMERGENCY",
        "EMERGENCY_RELAY",
    ] {
        counter!("hotline_alerts_total", "kind" => kind).increment(0);
    }
    counter!("hotline_relays_overdue_total").increment(0);
    for channel in hotline_router::Channel::ALL {
        counter!("hotline_classifier_reviews_total", "channel" => channel.as_str()).increment(0);
    }
    for line in SAFETY_LINES {
        for channel in hotline_router::Channel::ALL {
            let channel = channel.as_str();
            counter!("hotline_emergencies_total", "line" => line, "channel" => channel)
                .increment(0);
            counter!("hotline_possible_emergencies_total", "line" => line, "channel" => channel)
                .increment(0);
        }
    }
    for reason in DLQ_REASONS {
        counter!("hotline_dlq_records_total", "reason" => reason).increment(0);
    }
    for action in ["pause", "resume"] {
        counter!("hotline_kafka_flow_total", "action" => action).increment(0);
    }
    for outcome in ["granted", "refused"] {
        counter!("hotline_extensions_total", "outcome" => outcome).increment(0);
    }
    counter!("hotline_outbox_published_total").increment(0);
    counter!("hotline_cluster_paused_total").increment(0);
    counter!("hotline_kafka_producer_renewals_total").increment(0);
    for reason in ["idle", "displaced", "over_limit"] {
        counter!("hotline_connections_closed_total", "reason" => reason).increment(0);
    }
    for task in TICK_TASKS {
        counter!("hotline_ticks_total", "task" => task).increment(0);
    }
    for what in [
        "repeat",
        "reopen",
        "cluster",
        "hotspot",
        "escalation",
        "raised_special",
        "new_matter",
    ] {
        counter!("hotline_dedup_total", "outcome" => what).increment(0);
    }
    Ok(handle)
}

/// What is counted of a stored decision beyond its channel and route.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    pub safety: SafetyLabel,
    /// The classifier was not sure: a dispatcher reviews the work order.
    pub review: bool,
}

impl Outcome {
    pub fn of(d: &hotline_router::Decision) -> Outcome {
        Outcome {
            safety: safety_label(d),
            review: d.review.is_some(),
        }
    }
}

/// A contact decided and stored, its life-safety outcome and review.
pub fn contact(channel: &'static str, route: &'static str, outcome: Outcome) {
    if outcome.review {
        cached_counter("hotline_classifier_reviews_total", &[("channel", channel)]).increment(1);
    }
    let safety = outcome.safety;
    cached_counter(
        "hotline_contacts_total",
        &[("channel", channel), ("route", route)],
    )
    .increment(1);
    match safety {
        Some(("emergency", line)) => cached_counter(
            "hotline_emergencies_total",
            &[("line", line), ("channel", channel)],
        )
        .increment(1),
        Some((_, line)) => cached_counter(
            "hotline_possible_emergencies_total",
            &[("line", line), ("channel", channel)],
        )
        .increment(1),
        None => {}
    }
}

/// A (possible) emergency as counted: its level and first line, from small
/// fixed sets; `None` when the contact names no danger.
pub type SafetyLabel = Option<(&'static str, &'static str)>;

/// Emergency line labels; a line the rules data adds is counted as "other".
pub const SAFETY_LINES: [&str; 5] = ["110", "119", "120", "122", "other"];

/// The safety label of a decision.
pub fn safety_label(d: &hotline_router::Decision) -> SafetyLabel {
    use hotline_router::SafetyLevel;
    let level = match d.safety {
        SafetyLevel::None => return None,
        SafetyLevel::Possible => "possible",
        SafetyLevel::Emergency => "emergency",
    };
    let code = d.safety_lines.first().map(|l| &**l);
    let line = SAFETY_LINES
        .iter()
        .copied()
        .find(|l| Some(*l) == code)
        .unwrap_or("other");
    Some((level, line))
}

/// An OVERDUE relay: an emergency sent as text, or a possible emergency,
/// not relayed (or dismissed) within 3 minutes.
pub fn relay_overdue() {
    counter!("hotline_relays_overdue_total").increment(1);
}

/// A contact refused, by reject code.
pub fn reject(reason: &'static str) {
    counter!("hotline_rejects_total", "reason" => reason).increment(1);
}

/// A contact whose id had been decided before.
pub fn duplicate() {
    counter!("hotline_duplicates_total").increment(1);
}

/// A unary call refused because the queue was full.
pub fn overload() {
    counter!("hotline_overload_rejections_total").increment(1);
}

/// An authentication or authorization failure: missing, invalid, forbidden.
pub fn auth_failure(reason: &'static str) {
    counter!("hotline_auth_failures_total", "reason" => reason).increment(1);
}

/// A call or order event: stream is call|order, outcome new|duplicate|rejected.
pub fn event(stream: &'static str, outcome: &'static str) {
    counter!("hotline_events_total", "stream" => stream, "outcome" => outcome).increment(1);
}

/// One group commit of `jobs` jobs.
pub fn commit(jobs: usize, took: Duration) {
    counter!("hotline_commits_total").increment(1);
    counter!("hotline_committed_jobs_total").increment(jobs as u64);
    histogram!("hotline_commit_duration_seconds").record(took.as_secs_f64());
}

/// A failed group commit.
pub fn commit_failed() {
    counter!("hotline_commit_failures_total").increment(1);
}

/// The gauge of the jobs waiting for a tenant's committer.
pub fn queue_depth(tenant: &str) -> metrics::Gauge {
    gauge!("hotline_queue_jobs", "tenant" => tenant.to_string())
}

/// Time from a decision entering the queue to being durable.
pub fn durable_latency(d: Duration) {
    cached_histogram("hotline_durable_latency_seconds", &[]).record(d.as_secs_f64());
}

/// Time from receiving a contact to answering it (or, from Kafka, to its
/// record done: decision durable); method is submit|submit_stream|kafka. Also recorded
/// in the HdrHistogram of the StatsSnapshot.
pub fn answer_latency(method: &'static str, d: Duration) {
    crate::telemetry::hdr::pipeline(d);
    cached_histogram("hotline_answer_latency_seconds", &[("method", method)])
        .record(d.as_secs_f64());
}

/// A record produced to Kafka: topic is decisions|alerts|stats|dlq|other, outcome ok|error.
pub fn produced(topic: &'static str, outcome: &'static str) {
    counter!("hotline_kafka_produced_total", "topic" => topic, "outcome" => outcome).increment(1);
}

/// A record sent to the dead-letter topic, by reason.
pub fn dead_letter(reason: &'static str) {
    counter!("hotline_dlq_records_total", "reason" => reason).increment(1);
}

/// When the holiday calendar's last known day ends (Unix seconds; 0: the
/// current year is not known).
pub fn calendar_end(unix_secs: i64) {
    gauge!("hotline_calendar_end_timestamp_seconds").set(unix_secs as f64);
}

/// The outbox's backlog: rows not yet on Kafka, and the age of the oldest.
pub fn outbox_backlog(tenant: &str, rows: u64, oldest_age: Duration) {
    let t = || ("tenant", tenant.to_string());
    gauge!("hotline_outbox_unpublished", &[t()]).set(rows as f64);
    gauge!("hotline_outbox_oldest_age_seconds", &[t()]).set(oldest_age.as_secs_f64());
}

/// Outbox rows Kafka acknowledged.
pub fn outbox_published(n: usize) {
    counter!("hotline_outbox_published_total").increment(n as u64);
}

/// One step of the outbox's cycle (`read`, `fence`, `outputs`,
/// `changelog`) took `took`.
pub fn outbox_round(round: &'static str, took: Duration) {
    cached_histogram("hotline_outbox_round_seconds", &[("round", round)])
        .record(took.as_secs_f64());
}

/// A connection closed by its listener's limits: `idle`, `displaced` or
/// `over_limit`.
pub fn connection_closed(reason: &'static str) {
    counter!("hotline_connections_closed_total", "reason" => reason).increment(1);
}

/// The per-second tasks, as `hotline_ticks_total` labels them.
pub const TICK_TASKS: [&str; 2] = ["deadlines", "service_targets"];

/// A round of a per-second task is done: its alerts are stored and counted.
pub fn tick(task: &'static str) {
    counter!("hotline_ticks_total", "task" => task).increment(1);
}

/// The Kafka producer was replaced after a fatal error.
pub fn kafka_producer_renewed() {
    counter!("hotline_kafka_producer_renewals_total").increment(1);
}

/// A consumer group rebalance seen by this instance.
pub fn kafka_rebalance() {
    counter!("hotline_kafka_rebalances_total").increment(1);
}

/// Partitions currently assigned to this instance.
/// `consumer`: `input` (the input topics) or `by_tenant` (a cluster's).
pub fn kafka_assigned(consumer: &'static str, n: usize) {
    gauge!("hotline_kafka_assigned_partitions", "consumer" => consumer).set(n as f64);
}

/// The consumer paused (backpressure) or resumed its partitions.
pub fn kafka_pause(paused: bool) {
    counter!("hotline_kafka_flow_total", "action" => if paused { "pause" } else { "resume" })
        .increment(1);
}

/// A consume error reported by librdkafka.
pub fn kafka_consume_error() {
    counter!("hotline_kafka_consume_errors_total").increment(1);
}

/// A decision whose deadline relies on a year outside the holiday calendar.
pub fn provisional() {
    counter!("hotline_provisional_deadlines_total").increment(1);
}

/// What dedup found for one contact (not counted for a replayed contact id).
pub fn dedup_outcome(o: &hotline_router::dedup::DedupOutcome) {
    let mut any = false;
    for (hit, what) in [
        (o.repeat_of.is_some() && !o.reopen, "repeat"),
        (o.reopen, "reopen"),
        (o.cluster_id.is_some(), "cluster"),
        (o.hotspot, "hotspot"),
        (o.escalate, "escalation"),
        (o.raise_special, "raised_special"),
    ] {
        if hit {
            cached_counter("hotline_dedup_total", &[("outcome", what)]).increment(1);
            any = true;
        }
    }
    if !any {
        cached_counter("hotline_dedup_total", &[("outcome", "new_matter")]).increment(1);
    }
}

/// The nodes of the cluster that announced themselves lately, and the
/// partitions of the by-tenant topic they decide for.
pub fn cluster_members(nodes: usize, partitions: usize) {
    gauge!("hotline_cluster_members").set(nodes as f64);
    gauge!("hotline_cluster_partitions_decided").set(partitions as f64);
}

/// A gRPC contact of a tenant another node decides for: answered by the
/// owner (`owner`) or decided here without dedup and handed on (`handed_off`).
pub fn forwarded(how: &'static str) {
    counter!("hotline_forwarded_total", "how" => how).increment(1);
}

/// The node found it had been paused past its group session and gave up
/// its tenants (`sinks::ownership::Fence::watch`).
pub fn paused_past_session() {
    counter!("hotline_cluster_paused_total").increment(1);
}

/// How long a tenant's restore took (changelog applied, state rebuilt).
pub fn restore(secs: f64) {
    histogram!("hotline_tenant_restore_seconds").record(secs);
}

/// Sizes of the dedup index and what it evicted so far.
pub fn dedup_stats(tenant: &str, s: &hotline_router::dedup::DedupStats) {
    let t = || ("tenant", tenant.to_string());
    gauge!("hotline_dedup_callers", &[t()]).set(s.callers as f64);
    gauge!("hotline_dedup_clusters", &[t()]).set(s.clusters as f64);
    gauge!("hotline_dedup_closed_cases", &[t()]).set(s.closed_cases as f64);
    for (what, n) in [
        ("caller", s.evicted_callers),
        ("contact", s.evicted_contacts),
        ("cluster", s.evicted_clusters),
    ] {
        counter!("hotline_dedup_evictions_total", "what" => what).absolute(n);
    }
}

#[cfg(test)]
mod tests {
    use super::key;

    /// A label value that starts where another starts (a literal the
    /// linker overlaps with a longer one) is still another metric; more
    /// than two labels are not cached at all.
    #[test]
    fn cache_keys_tell_overlapping_literals_apart() {
        const ROUTE: &str = "WORK_ORDER";
        let prefix: &'static str = &ROUTE[..4];
        assert_eq!(ROUTE.as_ptr(), prefix.as_ptr());
        let long = key("hotline_contacts_total", &[("route", ROUTE)]);
        let short = key("hotline_contacts_total", &[("route", prefix)]);
        assert!(long.is_some() && short.is_some());
        assert_ne!(long, short);
        assert_eq!(long, key("hotline_contacts_total", &[("route", ROUTE)]));
        assert_eq!(key("m", &[("a", "1"), ("b", "2"), ("c", "3")]), None);
    }
}

//! Every metric the daemon exports, in one table: name, type, help text
//! (the `# HELP` line of `/metrics`) and label names. Names follow
//! `hotline_<what>_<unit>`: `_total` counters, `_seconds` histograms and
//! ages, `_ratio` for fractions. Label values come from small fixed sets
//! (README.md, "Admin HTTP") — never a caller, a number or an id.
//! `tests/metrics.rs` checks that `/metrics` has a `# HELP` for every
//! family, that every name the source emits is here, and that README.md
//! lists each.
use metrics::{describe_counter, describe_gauge, describe_histogram};

/// A metric's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Counter,
    Gauge,
    Histogram,
}

/// One metric of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Type,
    pub help: &'static str,
    pub labels: &'static [&'static str],
}

const fn m(
    name: &'static str,
    kind: Type,
    labels: &'static [&'static str],
    help: &'static str,
) -> Metric {
    Metric {
        name,
        kind,
        help,
        labels,
    }
}

use Type::{Counter as C, Gauge as G, Histogram as H};

/// The catalogue.
pub const CATALOGUE: &[Metric] = &[
    // Intake.
    m("hotline_contacts_total", C, &["channel", "route"], "Contacts decided and stored, by channel and route."),
    m("hotline_rejects_total", C, &["reason"], "Contacts refused as invalid, by reject code."),
    m("hotline_duplicates_total", C, &[], "Contacts whose contact_id was decided before (the stored decision was returned)."),
    m("hotline_ticks_total", C, &["task"], "Rounds of the per-second tasks done: deadlines (work-order and dedup alerts), service_targets (answer rate, acceptance) and wallboard (the wall screen's board); a round's alerts are stored and counted before it counts."),
    m("hotline_connections_closed_total", C, &["reason"], "Connections closed by the listeners' limits: idle (sent nothing for server.idle_timeout_secs), displaced (made no request and a new connection at the cap took its place) or over_limit."),
    m("hotline_overload_rejections_total", C, &[], "Unary Submit calls refused with RESOURCE_EXHAUSTED because the intake queue was full."),
    m("hotline_auth_failures_total", C, &["reason"], "gRPC calls refused by access control (missing, invalid, forbidden, backoff)."),
    m("hotline_events_total", C, &["stream", "outcome"], "Call and order events: new, duplicate (a replay) or rejected."),
    m("hotline_provisional_deadlines_total", C, &[], "Deadlines computed past the holiday calendar (provisional)."),
    // Life safety and classification.
    m("hotline_emergencies_total", C, &["line", "channel"], "Contacts transferred to an emergency line (Art. 10(3), 15)."),
    m("hotline_possible_emergencies_total", C, &["line", "channel"], "Contacts with danger words the rules could not place: an agent must look now."),
    m("hotline_relays_overdue_total", C, &[], "Emergencies by text not relayed to their line within 3 minutes."),
    m("hotline_classifier_reviews_total", C, &["channel"], "Work orders sent to a dispatcher's review: classifier not confident enough."),
    // Store.
    m("hotline_commits_total", C, &[], "Group commits of the store."),
    m("hotline_committed_jobs_total", C, &[], "Jobs (contacts, events, outbox acknowledgements) in the store's commits."),
    m("hotline_commit_failures_total", C, &[], "Store commits that failed (every job of the batch got the error)."),
    m("hotline_commit_duration_seconds", H, &[], "Time of one group commit, fsync included."),
    m("hotline_queue_jobs", G, &["tenant"], "Jobs waiting in the committer's queue."),
    m("hotline_durable_latency_seconds", H, &[], "From a contact queued for the committer to its decision durable."),
    m("hotline_answer_latency_seconds", H, &["method"], "From a contact received to its answer (submit, submit_stream) or its Kafka record done (kafka)."),
    // Outbox and Kafka.
    m("hotline_calendar_end_timestamp_seconds", G, &[], "End of the holiday calendar's last known day (Unix time; 0: this year unknown): past it, deadlines are provisional."),
    m("hotline_outbox_unpublished", G, &["tenant"], "Decisions and alerts stored but not yet on Kafka."),
    m("hotline_outbox_oldest_age_seconds", G, &["tenant"], "Age of the oldest decision or alert not yet on Kafka."),
    m("hotline_outbox_published_total", C, &[], "Outbox rows Kafka acknowledged."),
    m("hotline_outbox_round_seconds", H, &["round"], "Time of one step of the outbox's publishing cycle: reading the store (read), the group membership check ([kafka.cluster]: fence; near zero within its lease), producing the decisions and alerts (outputs), then the changelog records (changelog)."),
    m("hotline_kafka_produced_total", C, &["topic", "outcome"], "Records produced to Kafka, by output topic and outcome (ok, error)."),
    m("hotline_kafka_producer_renewals_total", C, &[], "Kafka producers rebuilt after a fatal error (a fenced idempotent producer)."),
    m("hotline_dlq_records_total", C, &["reason"], "Kafka records sent to the dead-letter topic, by reason."),
    m("hotline_kafka_assigned_partitions", G, &["consumer"], "Partitions assigned to this instance: of the input topics (consumer=\"input\") or, with [kafka.cluster], of the by-tenant topic (consumer=\"by_tenant\": the tenants it decides for)."),
    m("hotline_kafka_rebalances_total", C, &[], "Consumer group rebalances seen."),
    m("hotline_kafka_flow_total", C, &["action"], "Input partitions paused or resumed for backpressure."),
    m("hotline_kafka_consume_errors_total", C, &[], "Errors reading from Kafka."),
    // Calls and messages (Art. 11, 13(1), 26(1)).
    m("hotline_answer_rate_ratio", G, &["queue", "window", "tenant"], "Answered over offered calls (Art. 26(1): at least 95 %)."),
    m("hotline_service_level_ratio", G, &["queue", "window", "tenant"], "Calls answered within 3 s over calls answered (Art. 11)."),
    m("hotline_service_level_with_abandons_ratio", G, &["queue", "window", "tenant"], "Calls answered within 3 s over calls offered."),
    m("hotline_window_calls", G, &["queue", "window", "outcome", "tenant"], "Calls in the window: offered, answered, abandoned, short_abandoned."),
    m("hotline_call_events_total", C, &["queue", "outcome"], "Call events: counted, replayed, late or too old for the windows."),
    m("hotline_tracked_calls", G, &["queue", "tenant"], "Calls offered and not yet answered or abandoned."),
    m("hotline_answer_wait_seconds", H, &["queue"], "Wait before an answer."),
    m("hotline_accept_latency_seconds", H, &["channel"], "Text messages: from received to accepted by an agent (3 minutes, Art. 13(1))."),
    m("hotline_message_events_total", C, &["outcome"], "Message acceptance events: counted or replayed."),
    m("hotline_pending_messages", G, &["tenant"], "Text messages received and not yet accepted."),
    // Work orders and dedup.
    m("hotline_alerts_total", C, &["kind"], "Alerts raised (stored once), by kind."),
    m("hotline_open_cases", G, &["tenant"], "Work orders tracked for their deadlines."),
    m("hotline_extensions_total", C, &["outcome"], "Extension requests: pending (meets Art. 13(3), awaits review), granted (approved by the center), refused (breaks Art. 13(3))."),
    m("hotline_order_events_refused_total", C, &["code"], "Order events refused by the case's state and not stored (UNKNOWN_CASE, LATE_RETURN, ASSIGNED_BY_LEADERSHIP, ...)."),
    m("hotline_unit_cases_total", C, &["unit", "measure"], "Per-unit scorecard (Art. 25, 26, 30): received, signed on or out of time, returned, completed on or out of time, overdue, extensions, satisfaction, re-handled; unit is a target code from the rules, else other."),
    m("hotline_dedup_total", C, &["outcome"], "Dedup outcomes: repeat, reopen, cluster, hotspot, escalation, raised_special, new_matter."),
    m("hotline_cluster_members", G, &[], "Nodes of the cluster that announced themselves in the last 10 s on the membership topic, this one included ([kafka.cluster])."),
    m("hotline_cluster_partitions_decided", G, &[], "Partitions of the by-tenant topic that a node announced in the last 10 s it has restored and decides for ([kafka.cluster]); under kafka.cluster.partitions, some tenants have no owner (a failover)."),
    m("hotline_forwarded_total", C, &["how"], "gRPC contacts of a tenant another node decides for ([kafka.cluster]): answered by the owner (how=\"owner\") or, with no owner to reach, decided here without dedup and handed to the tenant's partition (how=\"handed_off\")."),
    m("hotline_cluster_paused_total", C, &[], "Times this node found it had been paused past its group session ([kafka.cluster]) and gave up its tenants before publishing anything more."),
    m("hotline_tenant_restore_seconds", H, &[], "Time a node took to restore a tenant assigned to it ([kafka.cluster]): changelog applied to its store, state rebuilt."),
    m("hotline_dedup_callers", G, &["tenant"], "Callers in the dedup index."),
    m("hotline_dedup_clusters", G, &["tenant"], "Clusters of several callers in the dedup index."),
    m("hotline_dedup_closed_cases", G, &["tenant"], "Closed cases the dedup index remembers for reopening."),
    m("hotline_dedup_evictions_total", C, &["what"], "Entries evicted from the dedup index at its size limits."),
];

/// Gives every metric of the catalogue its help text (call once, after the
/// recorder is installed).
pub fn describe() {
    for x in CATALOGUE {
        match x.kind {
            Type::Counter => describe_counter!(x.name, x.help),
            Type::Gauge => describe_gauge!(x.name, x.help),
            Type::Histogram => describe_histogram!(x.name, x.help),
        }
    }
}

/// The catalogue entry of `name`.
pub fn find(name: &str) -> Option<&'static Metric> {
    CATALOGUE.iter().find(|x| x.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_follow_the_convention() {
        let mut seen = std::collections::HashSet::new();
        for x in CATALOGUE {
            assert!(seen.insert(x.name), "{} twice", x.name);
            assert!(x.name.starts_with("hotline_"), "{}", x.name);
            match x.kind {
                Type::Counter => assert!(x.name.ends_with("_total"), "{}", x.name),
                Type::Histogram => assert!(x.name.ends_with("_seconds"), "{}", x.name),
                Type::Gauge => assert!(!x.name.ends_with("_total"), "{}", x.name),
            }
            assert!(x.help.ends_with('.') && x.help.len() > 20, "{}", x.name);
        }
    }
}

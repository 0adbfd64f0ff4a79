//! The `[kafka]` config section and the librdkafka client configs built from it.
use crate::config::ConfigError;
use rdkafka::ClientConfig;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[kafka.topics]`: topic names, with the defaults README.md ("Kafka") lists.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TopicsConfig {
    pub contacts: String,
    pub call_events: String,
    pub order_events: String,
    pub decisions: String,
    pub alerts: String,
    pub stats: String,
    pub dlq: String,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            contacts: "hotline.contacts.v1".into(),
            call_events: "hotline.call-events.v1".into(),
            order_events: "hotline.order-events.v1".into(),
            decisions: "hotline.decisions.v1".into(),
            alerts: "hotline.alerts.v1".into(),
            stats: "hotline.stats.v1".into(),
            dlq: "hotline.dlq.v1".into(),
        }
    }
}

/// `[kafka.cluster]`: several nodes share the tenants (README.md, "More
/// than one node"). Input records are re-keyed by tenant into the by-tenant
/// topic, whose partitions are the units of state: the node the consumer
/// group assigns a partition decides for its tenants, after restoring their
/// state from the changelog topic.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ClusterConfig {
    /// Partitions of the internal topics (by-tenant, changelog); fixed once
    /// they are created.
    pub partitions: i32,
    /// Replicas of the internal topics the daemon creates; -1: the broker's
    /// default.
    pub replication_factor: i32,
    /// The by-tenant topic (delete policy).
    pub by_tenant: String,
    /// The changelog topic (delete policy, kept `store.retention_days`).
    pub changelog: String,
    /// The membership topic (compacted): where each node says which
    /// partitions it decides for and where to reach it over gRPC.
    pub membership: String,
    /// The gRPC address other nodes reach this one at, unique per node;
    /// `{host}` stands for `$HOSTNAME` (`{host}.hotlined-nodes:50051` on the
    /// StatefulSet). Empty: `server.grpc_addr`, with the host name for an
    /// unspecified address.
    pub advertise: String,
    /// Tenant (city code) → partition of the internal topics: the fixed
    /// table every node shares. A new tenant takes a partition of its own
    /// or shares one; an existing tenant's never changes (its state is there).
    pub tenant_partitions: BTreeMap<String, i32>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            partitions: 8,
            replication_factor: -1,
            by_tenant: "hotline.internal.by-tenant.v1".into(),
            changelog: "hotline.internal.changelog.v1".into(),
            membership: "hotline.internal.members.v1".into(),
            advertise: String::new(),
            tenant_partitions: BTreeMap::new(),
        }
    }
}

/// Whether `v` is a valid Kafka topic name.
fn topic_name_ok(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 249
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `[kafka]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port,host:port`.
    pub brokers: String,
    /// Consumer group shared by every hotlined instance.
    pub group_id: String,
    /// Static group membership (`group.instance.id`): a stable id per host or
    /// pod. A restarted instance takes its partitions back at once instead of
    /// waiting for the group to notice the old session is gone. Empty: dynamic.
    pub instance_id: String,
    /// librdkafka properties passed through to both clients, e.g.
    /// `"security.protocol" = "SASL_SSL"`, `"sasl.mechanism" = "SCRAM-SHA-512"`.
    pub client: BTreeMap<String, String>,
    /// librdkafka properties read from environment variables (secrets):
    /// `"sasl.password" = "HOTLINE_KAFKA_PASSWORD"`.
    pub client_env: BTreeMap<String, String>,
    pub topics: TopicsConfig,
    /// Records consumed but not yet finished; above this the assigned
    /// partitions are paused until half of them are done.
    pub max_in_flight: usize,
    /// How long a produced record may take to be acknowledged (acks=all,
    /// retries included) before it counts as failed, milliseconds.
    pub produce_timeout_ms: u64,
    /// Consume the input topics (false: produce only, gRPC input only).
    pub consume: bool,
    /// Several nodes sharing the tenants; absent: this node decides for
    /// every tenant it serves.
    pub cluster: Option<ClusterConfig>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            group_id: "hotlined".into(),
            instance_id: String::new(),
            client: BTreeMap::new(),
            client_env: BTreeMap::new(),
            topics: TopicsConfig::default(),
            max_in_flight: 10_000,
            produce_timeout_ms: 30_000,
            consume: true,
            cluster: None,
        }
    }
}

impl ClusterConfig {
    /// The gRPC address other nodes reach this one at: `advertise` with
    /// `{host}` replaced, else the listener's `grpc_addr` (the host name
    /// for an unspecified address). The host name is `$HOSTNAME`, else
    /// `localhost`.
    pub fn advertised(&self, grpc_addr: std::net::SocketAddr) -> String {
        let host = || std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        if !self.advertise.is_empty() {
            self.advertise.replace("{host}", &host())
        } else if grpc_addr.ip().is_unspecified() {
            format!("{}:{}", host(), grpc_addr.port())
        } else {
            grpc_addr.to_string()
        }
    }
}

/// The group session timeout unless `client` sets `session.timeout.ms`.
const DEFAULT_SESSION_MS: u64 = 10_000;

/// librdkafka's `heartbeat.interval.ms` unless `client` sets it.
const DEFAULT_HEARTBEAT_MS: u64 = 3_000;

/// Properties the daemon sets itself; configuring them would break the
/// delivery guarantees.
const RESERVED: &[&str] = &[
    "enable.auto.offset.store",
    "enable.idempotence",
    "acks",
    "group.id",
    "bootstrap.servers",
];

impl KafkaConfig {
    /// Every problem at once.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        let err = |p: &str, m: String| ConfigError {
            path: format!("kafka.{p}"),
            msg: m,
        };
        if self.brokers.trim().is_empty() {
            e.push(err("brokers", "must not be empty".into()));
        }
        if self.group_id.trim().is_empty() {
            e.push(err("group_id", "must not be empty".into()));
        }
        for k in self.client.keys().chain(self.client_env.keys()) {
            if RESERVED.contains(&k.as_str()) {
                e.push(err(
                    "client",
                    format!("{k:?} is set by hotlined and cannot be overridden"),
                ));
            }
        }
        let t = &self.topics;
        let internal = self.cluster.iter().flat_map(|c| {
            [
                ("cluster.by_tenant", &c.by_tenant),
                ("cluster.changelog", &c.changelog),
                ("cluster.membership", &c.membership),
            ]
        });
        for (path, v) in [
            ("topics.contacts", &t.contacts),
            ("topics.call_events", &t.call_events),
            ("topics.order_events", &t.order_events),
            ("topics.decisions", &t.decisions),
            ("topics.alerts", &t.alerts),
            ("topics.stats", &t.stats),
            ("topics.dlq", &t.dlq),
        ]
        .into_iter()
        .chain(internal)
        {
            if !topic_name_ok(v) {
                e.push(err(path, format!("{v:?} is not a valid topic name")));
            }
        }
        if let Some(c) = &self.cluster {
            if !(1..=1024).contains(&c.partitions) {
                e.push(err(
                    "cluster.partitions",
                    "must be between 1 and 1024".into(),
                ));
            }
            if c.replication_factor == 0 || c.replication_factor < -1 {
                e.push(err(
                    "cluster.replication_factor",
                    "must be -1 (the broker's default) or at least 1".into(),
                ));
            }
            if c.by_tenant == c.changelog
                || c.membership == c.by_tenant
                || c.membership == c.changelog
            {
                e.push(err(
                    "cluster",
                    "by_tenant, changelog and membership must be three topics".into(),
                ));
            }
            for (code, p) in &c.tenant_partitions {
                if !(0..c.partitions).contains(p) {
                    e.push(err(
                        &format!("cluster.tenant_partitions.{code}"),
                        format!("partition {p} is not one of 0..{}", c.partitions),
                    ));
                }
            }
        }
        if self.max_in_flight == 0 || self.max_in_flight > 1_000_000 {
            e.push(err("max_in_flight", "must be between 1 and 1000000".into()));
        }
        if !(1000..=600_000).contains(&self.produce_timeout_ms) {
            e.push(err(
                "produce_timeout_ms",
                "must be between 1000 and 600000".into(),
            ));
        }
        e
    }

    fn base(&self) -> Result<ClientConfig, ConfigError> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.client {
            c.set(k, v);
        }
        for (k, var) in &self.client_env {
            let v = std::env::var(var).map_err(|_| ConfigError {
                path: format!("kafka.client_env.{k}"),
                msg: format!("${var} is not set"),
            })?;
            c.set(k, v);
        }
        Ok(c)
    }

    /// The producer: idempotent, acks=all, bounded delivery time;
    /// `linger.ms` and `compression.type` (lz4) unless `client` or
    /// `client_env` sets them. `linger.ms` is 5 (batching) on one node,
    /// where no answer waits for Kafka, and 0 with `[kafka.cluster]`, where
    /// a Submit is answered once its changelog records are on Kafka: each
    /// of those produce rounds would otherwise wait 5 ms (BENCHMARKS.md,
    /// "More than one node": p50 34 -> 12 ms, the Kafka intake's rate
    /// unchanged).
    pub fn producer_config(&self) -> Result<ClientConfig, ConfigError> {
        let mut c = self.base()?;
        c.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", self.produce_timeout_ms.to_string());
        let linger = if self.cluster.is_some() { "0" } else { "5" };
        for (k, v) in [("linger.ms", linger), ("compression.type", "lz4")] {
            if !self.client.contains_key(k) && !self.client_env.contains_key(k) {
                c.set(k, v);
            }
        }
        Ok(c)
    }

    /// The consumers' group session timeout: `client`'s
    /// `session.timeout.ms`, else the daemon's default.
    pub fn session_timeout(&self) -> std::time::Duration {
        let ms = self
            .client
            .get("session.timeout.ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_SESSION_MS);
        std::time::Duration::from_millis(ms)
    }

    /// How long a passing membership check lets a cluster node's outboxes
    /// publish without another (README.md, "More than one node"): a third
    /// of the session, and at most half of what the session leaves after
    /// one heartbeat interval (`heartbeat.interval.ms`, librdkafka's 3 s
    /// unless set). The check shows the coordinator held the node a member
    /// when it answered; it expires a member only after a whole session
    /// without hearing from it, and heartbeats keep coming from
    /// librdkafka's own thread, so a lease this far inside the session ends
    /// before a silent node can have been expired — assuming the heartbeats
    /// got through until shortly before the check. A rebalance that moves
    /// the node's partitions revokes them here first (the rebalance
    /// callback), and a pause past the session ends the lease (the
    /// watchdog).
    pub fn fence_lease(&self) -> std::time::Duration {
        // The consumer's own settings, `client_env`'s included.
        let consumer = self.consumer_config().ok();
        let ms = |key: &str, default: u64| {
            std::time::Duration::from_millis(
                consumer
                    .as_ref()
                    .and_then(|c| c.get(key))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(default),
            )
        };
        let session = ms("session.timeout.ms", DEFAULT_SESSION_MS);
        let heartbeat = ms("heartbeat.interval.ms", DEFAULT_HEARTBEAT_MS);
        (session / 3).min(session.saturating_sub(heartbeat) / 2)
    }

    /// The consumer: at-least-once with offsets stored by the application.
    pub fn consumer_config(&self) -> Result<ClientConfig, ConfigError> {
        let mut c = self.base()?;
        c.set("group.id", &self.group_id)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false");
        if !self.instance_id.is_empty() {
            c.set("group.instance.id", &self.instance_id);
        }
        if !self.client.contains_key("session.timeout.ms") {
            c.set("session.timeout.ms", DEFAULT_SESSION_MS.to_string());
        }
        Ok(c)
    }
}

//! The daemon's configuration: one TOML file, every section optional, unknown
//! keys rejected, and every error in the file reported at once
//! (`hotlined check-config`). Config shapes live here; runtime shapes are
//! built from them by the modules that use them.
pub mod kafka;
pub mod rules;

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// SHA-256 of the empty string: what `echo -n "$UNSET" | sha256sum`
/// gives. A token configured as this would let an empty one in.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Art. 14: records are kept at least two years.
pub const MIN_RETENTION_DAYS: u32 = 730;

/// One problem in a config file, with the dotted path of the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {msg}")]
pub struct ConfigError {
    pub path: String,
    pub msg: String,
}

fn cerr(path: impl Into<String>, msg: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        msg: msg.into(),
    }
}

/// The whole file.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub rules: RulesConfig,
    pub privacy: PrivacyConfig,
    pub auth: AuthConfig,
    pub tls: Option<TlsConfig>,
    pub pipeline: PipelineConfig,
    pub sla: SlaSection,
    pub stats: StatsConfig,
    pub dedup: DedupSection,
    /// Kafka in and out; absent means the embedded mode (gRPC in, SQLite out).
    pub kafka: Option<crate::config::kafka::KafkaConfig>,
    /// `[[tenant]]`: the cities served beside the default one (`[rules]`).
    pub tenants: Vec<TenantConfig>,
}

/// `[[tenant]]`: a city served beside the default tenant (README.md,
/// "Tenants"). Its code and case-id prefix are those its `units.toml`
/// names; the calendar, the classifier model and the review threshold are
/// `[rules]`'s (one country's holidays, one language).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The city's rules directory, as `rules.dir`: files present replace
    /// the embedded ones (a city's own `units.toml` at least).
    pub dir: PathBuf,
}

/// `[server]`: listeners.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// gRPC listener.
    pub grpc_addr: String,
    /// Admin HTTP listener: `/metrics`, `/ready`, `/live`.
    pub admin_addr: String,
    /// Largest accepted gRPC message, bytes.
    pub max_message_bytes: usize,
    /// Most gRPC connections at once; one more is closed as it is accepted.
    pub max_connections: usize,
    /// Most admin HTTP connections at once.
    pub admin_max_connections: usize,
    /// `/metrics` answers only peers on this machine (a Prometheus agent
    /// beside the daemon); `/ready` and `/live` answer everyone.
    pub metrics_loopback_only: bool,
    /// A connection (gRPC or admin) that sends nothing for this long is
    /// closed, seconds; healthy HTTP/2 clients answer the keepalive pings
    /// sent every third of it.
    pub idle_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            grpc_addr: "127.0.0.1:50051".into(),
            admin_addr: "127.0.0.1:9464".into(),
            max_message_bytes: 64 * 1024,
            max_connections: 1024,
            admin_max_connections: 64,
            metrics_loopback_only: false,
            idle_timeout_secs: 30,
        }
    }
}

/// `[store]`: the embedded SQLite store.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    /// Decisions and alerts are kept this many days (Art. 14: at least 730).
    pub retention_days: u32,
    /// `full` (default) syncs every commit to disk and survives power loss;
    /// `normal` survives a crash of the process only.
    pub synchronous: crate::sinks::store::Sync,
    /// Page size of a new database file, in KiB (4, 8, 16, 32 or 64; an
    /// existing file keeps its own). 32 favours streams (fewer, larger WAL
    /// frames for batches of thousands); 8 favours unary calls, whose small
    /// commits then write a quarter of the bytes (BENCHMARKS.md, "Unary
    /// latency with Kafka on").
    pub page_size_kib: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            data_dir: PathBuf::from("./data"),
            retention_days: MIN_RETENTION_DAYS,
            synchronous: crate::sinks::store::Sync::Full,
            page_size_kib: crate::sinks::store::DEFAULT_PAGE_KIB,
        }
    }
}

/// `[rules]`: where rules data, the classifier model and extra calendar
/// years come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RulesConfig {
    /// A directory with any of kinds.toml, categories.toml, scope.toml,
    /// units.toml, kb.toml; files present replace the embedded ones.
    pub dir: Option<PathBuf>,
    /// A directory of `<year>.toml` holiday files; they add to (or replace)
    /// the embedded 2023–2026 years.
    pub calendar_dir: Option<PathBuf>,
    /// A classifier model file (`hotlined train`); unset: the shipped one.
    pub model: Option<PathBuf>,
    /// A work order the classifier is less sure of than this (kind or
    /// category probability) is marked for a dispatcher's review.
    pub review_threshold: f32,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            dir: None,
            calendar_dir: None,
            model: None,
            review_threshold: hotline_router::router::DEFAULT_REVIEW_THRESHOLD,
        }
    }
}

/// `[privacy]` (Art. 22).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PrivacyConfig {
    /// Environment variable holding the secret that keys caller pseudonyms
    /// (the same on every node of a deployment).
    pub caller_secret_env: String,
    /// Without that variable: a file holding the key. `serve` creates
    /// `<data_dir>/caller.key` (32 random bytes, mode 0600) when this is
    /// empty and uses it from then on; offline commands without a key
    /// leave `caller_ref` empty in what they print.
    pub caller_key_file: Option<PathBuf>,
    /// Opt out of refusing bearer tokens over plaintext gRPC on a
    /// non-loopback address (a TLS-terminating proxy in front).
    pub allow_plaintext_tokens: bool,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            caller_secret_env: "HOTLINE_CALLER_SECRET".into(),
            caller_key_file: None,
            allow_plaintext_tokens: false,
        }
    }
}

/// The roles a bearer token can have.
pub const ROLES: &[&str] = &["gateway", "ticket-system", "dashboard"];

/// `[auth]`: bearer tokens per role, stored hashed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    pub tokens: Vec<TokenConfig>,
}

/// `[[auth.tokens]]`: one token. Give `sha256` (hex of the token's SHA-256)
/// or `token_env` (an environment variable holding the token itself).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TokenConfig {
    pub role: String,
    /// A label for logs; never the token.
    pub name: String,
    pub sha256: String,
    pub token_env: String,
}

/// `[tls]`: serve gRPC over TLS (rustls) with this certificate and key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `[pipeline]`: queueing, batching and shutdown.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PipelineConfig {
    /// Contacts waiting for the committer; when full, unary calls get
    /// RESOURCE_EXHAUSTED and streams wait.
    pub queue_capacity: usize,
    /// Most contacts committed in one transaction.
    pub batch_max: usize,
    /// Under load (at least [`BUSY`](crate::sinks::committer::BUSY) contacts queued
    /// at once, fewer than a quarter of `batch_max`), the longest a batch
    /// waits for more while more keep arriving, milliseconds. A contact
    /// reaching an idle committer, or a larger backlog, commits at once.
    pub batch_wait_ms: u64,
    /// On SIGTERM, in-flight work gets this long to drain, seconds.
    pub drain_timeout_secs: u64,
    /// Contacts of one SubmitStream in flight at once (read but not yet acknowledged).
    pub stream_window: usize,
    /// Oldest `received_at` accepted from the city's own channels, days;
    /// older is RECEIVED_TOO_OLD (a replay from a broken gateway, a wrong
    /// clock, a contact from year 1).
    pub max_age_days: i64,
    /// The same for orders from the provincial or national platform, which
    /// may reach the city later.
    pub max_age_platform_days: i64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            queue_capacity: 32768,
            batch_max: 16384,
            batch_wait_ms: 20,
            drain_timeout_secs: 20,
            stream_window: 2048,
            max_age_days: 3,
            max_age_platform_days: 30,
        }
    }
}

/// `[sla]`: the service targets watched live (Art. 11, 13, 26).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SlaSection {
    /// Answer-rate target of every queue over 1 h (Art. 26(1): 0.95).
    pub answer_rate_target: f64,
    /// Offered calls in the hour before a low answer rate alarms.
    pub min_offered_calls: u64,
    /// A caller who hangs up within this many seconds is a short abandon.
    pub short_abandon_secs: i64,
    /// Allowed lateness of call events behind the newest, seconds.
    pub lateness_secs: i64,
    /// Messages (SMS, WeChat, web, app) must be accepted within this, seconds (Art. 13(1): 180).
    pub accept_target_secs: i64,
    /// DUE_SOON this many minutes before completion is due (the extension window).
    pub due_soon_minutes: i64,
    /// Most open work orders tracked at once.
    pub max_open_cases: usize,
    /// Supervision (督办, Art. 27): ESCALATION when completion is overdue by
    /// this many hours (0: never).
    pub escalate_overdue_hours: i64,
    /// A completed case may be re-opened by its return visit (Art. 14) for
    /// this many days (at most 35: the tracker is restored from 40 days of decisions).
    pub revisit_days: i64,
}

impl Default for SlaSection {
    fn default() -> Self {
        SlaSection {
            answer_rate_target: 0.95,
            min_offered_calls: 20,
            short_abandon_secs: 0,
            lateness_secs: 60,
            accept_target_secs: 180,
            due_soon_minutes: 120,
            max_open_cases: 2_000_000,
            escalate_overdue_hours: 24,
            revisit_days: 30,
        }
    }
}

/// `[dedup]`: repeats, clusters and hotspots (Art. 12(3), 14(3), 21, 27(1)).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DedupSection {
    /// Off: decisions carry no dedup links.
    pub enabled: bool,
    pub repeat_window_days: i64,
    /// A contact on a work order still open is a repeat up to this many
    /// days after it (past `repeat_window_days`), for escalation.
    pub unresolved_window_days: i64,
    pub escalate_at: u32,
    pub cluster_window_hours: i64,
    pub hotspot_size: u32,
    pub hotspot_window_minutes: i64,
    /// Categories whose hotspots are raised to special-matter priority.
    pub special_on_hotspot: Vec<String>,
    pub repeat_similarity: f64,
    pub cluster_similarity: f64,
    pub text_similarity: f64,
    /// Different callers on a matter the lexicon does not know, at the
    /// same compound, street, village or shop: at least this share of their
    /// problems' telling characters in common, and this much probability
    /// shared by their category distributions.
    pub placed_overlap: f64,
    pub placed_agreement: f64,
    /// The same without a fine place known on both sides.
    pub unplaced_overlap: f64,
    pub unplaced_agreement: f64,
    /// Problem types (`dedup::types`): at one fine place, two texts whose
    /// types agree this much are one problem; below `other_types`, two
    /// problems.
    pub placed_types: f64,
    pub other_types: f64,
    /// A problem-type model replacing the embedded one
    /// (`router/data/model/problems.bin`, `hotline-bench train-problems`).
    pub types_file: Option<PathBuf>,
    pub max_callers: usize,
    pub max_contacts_per_caller: usize,
    pub max_clusters_per_district: usize,
    /// A matters lexicon replacing the embedded one (`router/data/matters.toml`).
    pub matters_file: Option<PathBuf>,
}

impl Default for DedupSection {
    fn default() -> Self {
        let d = hotline_router::dedup::DedupConfig::default();
        DedupSection {
            enabled: true,
            repeat_window_days: d.repeat_window.num_days(),
            unresolved_window_days: d.unresolved_window.num_days(),
            escalate_at: d.escalate_at,
            cluster_window_hours: d.cluster_window.num_hours(),
            hotspot_size: d.hotspot_size,
            hotspot_window_minutes: d.hotspot_window.num_minutes(),
            special_on_hotspot: d.special_on_hotspot,
            repeat_similarity: d.repeat_similarity,
            cluster_similarity: d.cluster_similarity,
            text_similarity: d.text_similarity,
            placed_overlap: d.placed_overlap,
            placed_agreement: d.placed_agreement,
            unplaced_overlap: d.unplaced_overlap,
            unplaced_agreement: d.unplaced_agreement,
            placed_types: d.placed_types,
            other_types: d.other_types,
            types_file: None,
            max_callers: d.max_callers,
            max_contacts_per_caller: d.max_contacts_per_caller,
            max_clusters_per_district: d.max_clusters_per_bucket,
            matters_file: None,
        }
    }
}

impl DedupSection {
    /// The problem-type model `types_file` names (`None`: the embedded
    /// one), read and checked; the error names the file.
    pub fn types_model(&self) -> Result<Option<hotline_router::dedup::types::TypeModel>, String> {
        let Some(f) = &self.types_file else {
            return Ok(None);
        };
        let b = std::fs::read(f).map_err(|x| format!("{}: {x}", f.display()))?;
        hotline_router::dedup::types::TypeModel::from_bytes(&b)
            .map(Some)
            .map_err(|x| format!("{}: {x}", f.display()))
    }

    /// The router's settings.
    pub fn to_config(&self) -> hotline_router::dedup::DedupConfig {
        hotline_router::dedup::DedupConfig {
            repeat_window: chrono::TimeDelta::days(self.repeat_window_days),
            unresolved_window: chrono::TimeDelta::days(self.unresolved_window_days),
            escalate_at: self.escalate_at,
            cluster_window: chrono::TimeDelta::hours(self.cluster_window_hours),
            hotspot_size: self.hotspot_size,
            hotspot_window: chrono::TimeDelta::minutes(self.hotspot_window_minutes),
            special_on_hotspot: self.special_on_hotspot.clone(),
            repeat_similarity: self.repeat_similarity,
            cluster_similarity: self.cluster_similarity,
            text_similarity: self.text_similarity,
            placed_overlap: self.placed_overlap,
            placed_agreement: self.placed_agreement,
            unplaced_overlap: self.unplaced_overlap,
            unplaced_agreement: self.unplaced_agreement,
            placed_types: self.placed_types,
            other_types: self.other_types,
            max_callers: self.max_callers,
            max_contacts_per_caller: self.max_contacts_per_caller,
            max_clusters_per_bucket: self.max_clusters_per_district,
        }
    }
}

/// `[stats]`: the periodic StatsSnapshot (Kafka stats topic and gRPC Stats/Watch).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct StatsConfig {
    /// Seconds between snapshots.
    pub interval_secs: u64,
    /// This instance's name in snapshots; empty means `$HOSTNAME`, else `hotlined`.
    pub node: String,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            interval_secs: 10,
            node: String::new(),
        }
    }
}

impl StatsConfig {
    /// The node name to report.
    pub fn node_name(&self) -> String {
        if !self.node.is_empty() {
            return self.node.clone();
        }
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "hotlined".into())
    }
}

fn section<T: serde::de::DeserializeOwned>(
    name: &str,
    value: toml::Value,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    let mut unknown = Vec::new();
    let out = serde_ignored::deserialize(value, |p| unknown.push(p.to_string()));
    for u in unknown {
        errors.push(cerr(format!("{name}.{u}"), "unknown key"));
    }
    match out {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(cerr(name, e.to_string()));
            None
        }
    }
}

impl Config {
    /// Parses and validates a config text; returns every error found.
    pub fn parse(text: &str) -> Result<Config, Vec<ConfigError>> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| vec![cerr("(file)", e.to_string())])?;
        let mut errors = Vec::new();
        let mut cfg = Config::default();
        for (key, value) in table {
            match key.as_str() {
                "server" => cfg.server = section(&key, value, &mut errors).unwrap_or_default(),
                "store" => cfg.store = section(&key, value, &mut errors).unwrap_or_default(),
                "rules" => cfg.rules = section(&key, value, &mut errors).unwrap_or_default(),
                "privacy" => cfg.privacy = section(&key, value, &mut errors).unwrap_or_default(),
                "auth" => cfg.auth = section(&key, value, &mut errors).unwrap_or_default(),
                "tls" => cfg.tls = section(&key, value, &mut errors),
                "pipeline" => cfg.pipeline = section(&key, value, &mut errors).unwrap_or_default(),
                "kafka" => cfg.kafka = section(&key, value, &mut errors),
                "sla" => cfg.sla = section(&key, value, &mut errors).unwrap_or_default(),
                "stats" => cfg.stats = section(&key, value, &mut errors).unwrap_or_default(),
                "dedup" => cfg.dedup = section(&key, value, &mut errors).unwrap_or_default(),
                "tenant" => match value {
                    toml::Value::Array(items) => {
                        for (i, v) in items.into_iter().enumerate() {
                            let name = format!("tenant[{i}]");
                            cfg.tenants.extend(section(&name, v, &mut errors));
                        }
                    }
                    _ => errors.push(cerr(key, "must be an array of tables: [[tenant]]")),
                },
                _ => errors.push(cerr(key, "unknown section")),
            }
        }
        errors.extend(cfg.validate());
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(errors)
        }
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![cerr(path.display().to_string(), e.to_string())])?;
        Config::parse(&text)
    }

    /// Semantic checks; every error at once.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        for (path, addr) in [
            ("server.grpc_addr", &self.server.grpc_addr),
            ("server.admin_addr", &self.server.admin_addr),
        ] {
            if addr.parse::<SocketAddr>().is_err() {
                e.push(cerr(path, format!("{addr:?} is not an IP:port address")));
            }
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.server.max_message_bytes) {
            e.push(cerr(
                "server.max_message_bytes",
                "must be between 1024 and 16777216",
            ));
        }
        for (path, v, lo, hi) in [
            (
                "server.max_connections",
                self.server.max_connections as u64,
                1,
                100_000,
            ),
            (
                "server.admin_max_connections",
                self.server.admin_max_connections as u64,
                1,
                10_000,
            ),
            (
                "server.idle_timeout_secs",
                self.server.idle_timeout_secs,
                1,
                3600,
            ),
        ] {
            if !(lo..=hi).contains(&v) {
                e.push(cerr(path, format!("must be between {lo} and {hi}")));
            }
        }
        if !(0.0..=1.0).contains(&self.rules.review_threshold) {
            e.push(cerr("rules.review_threshold", "must be between 0 and 1"));
        }
        if self.store.data_dir.as_os_str().is_empty() {
            e.push(cerr("store.data_dir", "must not be empty"));
        }
        if !crate::sinks::store::PAGE_KIBS.contains(&self.store.page_size_kib) {
            e.push(cerr(
                "store.page_size_kib",
                format!(
                    "{} is not one of {:?}",
                    self.store.page_size_kib,
                    crate::sinks::store::PAGE_KIBS
                ),
            ));
        }
        if self.store.retention_days < MIN_RETENTION_DAYS {
            e.push(cerr(
                "store.retention_days",
                format!(
                    "{} days is less than the 2 years (730 days) Art. 14 requires",
                    self.store.retention_days
                ),
            ));
        }
        for (i, t) in self.auth.tokens.iter().enumerate() {
            let p = format!("auth.tokens[{i}]");
            if !ROLES.contains(&t.role.as_str()) {
                e.push(cerr(
                    format!("{p}.role"),
                    format!("{:?} is not one of {}", t.role, ROLES.join(", ")),
                ));
            }
            match (t.sha256.is_empty(), t.token_env.is_empty()) {
                (true, true) => e.push(cerr(&p, "needs sha256 or token_env")),
                (false, false) => e.push(cerr(&p, "give sha256 or token_env, not both")),
                (false, true)
                    if t.sha256.len() != 64 || !t.sha256.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    e.push(cerr(
                        format!("{p}.sha256"),
                        "must be 64 hex digits (sha256sum of the token)",
                    ))
                }
                (false, true) if t.sha256.eq_ignore_ascii_case(EMPTY_SHA256) => e.push(cerr(
                    format!("{p}.sha256"),
                    "is the SHA-256 of the empty string (was the token variable unset?)",
                )),
                _ => {}
            }
        }
        let grpc_public = self
            .server
            .grpc_addr
            .parse::<SocketAddr>()
            .is_ok_and(|a| !a.ip().is_loopback());
        if grpc_public
            && !self.auth.tokens.is_empty()
            && self.tls.is_none()
            && !self.privacy.allow_plaintext_tokens
        {
            e.push(cerr(
                "tls",
                "bearer tokens would cross the network in clear: configure [tls], or set privacy.allow_plaintext_tokens behind a TLS-terminating proxy",
            ));
        }
        if let Some(tls) = &self.tls {
            {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(m) = std::fs::metadata(&tls.key) {
                    if m.permissions().mode() & 0o077 != 0 {
                        e.push(cerr(
                            "tls.key",
                            format!(
                                "{} is readable by other users (mode {:o}): chmod 600 it",
                                tls.key.display(),
                                m.permissions().mode() & 0o777
                            ),
                        ));
                    }
                }
            }
            for (path, f) in [("tls.cert", &tls.cert), ("tls.key", &tls.key)] {
                if f.as_os_str().is_empty() {
                    e.push(cerr(path, "must be set when [tls] is present"));
                } else if !f.is_file() {
                    e.push(cerr(
                        path,
                        format!("{} is not a readable file", f.display()),
                    ));
                }
            }
        }
        let p = &self.pipeline;
        if p.queue_capacity == 0 || p.queue_capacity > 1_000_000 {
            e.push(cerr(
                "pipeline.queue_capacity",
                "must be between 1 and 1000000",
            ));
        }
        if p.batch_max == 0 || p.batch_max > 100_000 {
            e.push(cerr("pipeline.batch_max", "must be between 1 and 100000"));
        }
        if p.batch_wait_ms > 1000 {
            e.push(cerr("pipeline.batch_wait_ms", "must be at most 1000"));
        }
        if p.stream_window == 0 || p.stream_window > 65536 {
            e.push(cerr(
                "pipeline.stream_window",
                "must be between 1 and 65536",
            ));
        }
        // Below the retention (Art. 14: at least 2 years): a contact old
        // enough to be purged can never be decided again as a new case.
        let below = i64::from(self.store.retention_days) - 1;
        for (path, v) in [
            ("pipeline.max_age_days", p.max_age_days),
            ("pipeline.max_age_platform_days", p.max_age_platform_days),
        ] {
            if !(1..=below).contains(&v) {
                e.push(cerr(
                    path,
                    format!("must be between 1 and {below} (under store.retention_days)"),
                ));
            }
        }
        if p.drain_timeout_secs == 0 || p.drain_timeout_secs > 600 {
            e.push(cerr(
                "pipeline.drain_timeout_secs",
                "must be between 1 and 600",
            ));
        }
        let s = &self.sla;
        if !(0.5..=1.0).contains(&s.answer_rate_target) {
            e.push(cerr(
                "sla.answer_rate_target",
                "must be between 0.5 and 1.0",
            ));
        }
        for (path, v, lo, hi) in [
            ("sla.short_abandon_secs", s.short_abandon_secs, 0, 60),
            ("sla.lateness_secs", s.lateness_secs, 0, 3600),
            ("sla.accept_target_secs", s.accept_target_secs, 1, 86_400),
            ("sla.due_soon_minutes", s.due_soon_minutes, 1, 1440),
            (
                "sla.escalate_overdue_hours",
                s.escalate_overdue_hours,
                0,
                720,
            ),
            ("sla.revisit_days", s.revisit_days, 1, 35),
        ] {
            if !(lo..=hi).contains(&v) {
                e.push(cerr(path, format!("must be between {lo} and {hi}")));
            }
        }
        if !(1000..=50_000_000).contains(&s.max_open_cases) {
            e.push(cerr(
                "sla.max_open_cases",
                "must be between 1000 and 50000000",
            ));
        }
        let d = &self.dedup;
        for (path, v, lo, hi) in [
            ("dedup.repeat_window_days", d.repeat_window_days, 1, 365),
            (
                "dedup.unresolved_window_days",
                d.unresolved_window_days,
                d.repeat_window_days,
                365,
            ),
            ("dedup.cluster_window_hours", d.cluster_window_hours, 1, 720),
            (
                "dedup.hotspot_window_minutes",
                d.hotspot_window_minutes,
                1,
                1440,
            ),
            ("dedup.escalate_at", i64::from(d.escalate_at), 1, 100),
            ("dedup.hotspot_size", i64::from(d.hotspot_size), 2, 10_000),
            (
                "dedup.max_contacts_per_caller",
                d.max_contacts_per_caller as i64,
                1,
                1000,
            ),
            (
                "dedup.max_clusters_per_district",
                d.max_clusters_per_district as i64,
                1,
                100_000,
            ),
            ("dedup.max_callers", d.max_callers as i64, 1000, 100_000_000),
        ] {
            if !(lo..=hi).contains(&v) {
                e.push(cerr(path, format!("must be between {lo} and {hi}")));
            }
        }
        for (path, v) in [
            ("dedup.repeat_similarity", d.repeat_similarity),
            ("dedup.cluster_similarity", d.cluster_similarity),
            ("dedup.text_similarity", d.text_similarity),
            ("dedup.placed_overlap", d.placed_overlap),
            ("dedup.placed_agreement", d.placed_agreement),
            ("dedup.unplaced_overlap", d.unplaced_overlap),
            ("dedup.unplaced_agreement", d.unplaced_agreement),
            ("dedup.placed_types", d.placed_types),
            ("dedup.other_types", d.other_types),
        ] {
            if !(0.0..=1.0).contains(&v) {
                e.push(cerr(path, "must be between 0 and 1"));
            }
        }
        if let Some(f) = &d.matters_file {
            match std::fs::read_to_string(f) {
                Ok(t) => {
                    if let Err(x) = hotline_router::dedup::text::Lexicon::parse(&t) {
                        e.push(cerr("dedup.matters_file", x.to_string()));
                    }
                }
                Err(x) => e.push(cerr("dedup.matters_file", format!("{}: {x}", f.display()))),
            }
        }
        if let Err(x) = d.types_model() {
            e.push(cerr("dedup.types_file", x));
        }
        if let Some(k) = &self.kafka {
            e.extend(k.validate());
        }
        if !(1..=3600).contains(&self.stats.interval_secs) {
            e.push(cerr("stats.interval_secs", "must be between 1 and 3600"));
        }
        for (path, dir) in [
            ("rules.dir", &self.rules.dir),
            ("rules.calendar_dir", &self.rules.calendar_dir),
        ] {
            if let Some(d) = dir {
                if !d.is_dir() {
                    e.push(cerr(path, format!("{} is not a directory", d.display())));
                }
            }
        }
        e
    }
}

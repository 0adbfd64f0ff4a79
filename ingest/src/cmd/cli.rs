//! Command-line interface of `hotlined`.
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "hotlined",
    version,
    about = "12345 government service hotline core: intake, routing, deadlines, SLA"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: gRPC intake, admin HTTP, embedded store. With no
    /// config: gRPC 127.0.0.1:50051, admin 127.0.0.1:9464, data in ./data.
    Serve(ServeArgs),
    /// Print stored decisions as JSON lines (protobuf JSON mapping).
    Decisions {
        /// The daemon's data directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        /// Only decisions of contacts received at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only this route: direct_answer, work_order, subcenter_transfer,
        /// emergency_transfer, utility_linkage or not_accepted.
        #[arg(long)]
        route: Option<String>,
    },
    /// Print the contacts agents classified (a kind or category hint) as
    /// labeled examples in the classifier corpus format, for `train`.
    ExportLabels {
        /// The daemon's data directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        /// Only contacts received at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Directory with the rules the daemon ran (its units and categories
        /// name the category of a case re-dispatched to another unit).
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// The per-unit assessment table (Art. 25, 26, 30) for a period, from
    /// the store: per unit and district, cases received, signed on time or
    /// late, returned, completed on time or late, overdue, extensions,
    /// return-visit verdicts, re-handled; then a TOTAL row.
    Report {
        /// The daemon's data directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        /// First day (YYYY-MM-DD, Beijing time) or an RFC 3339 instant.
        #[arg(long)]
        from: String,
        /// Last day, included (YYYY-MM-DD), or an RFC 3339 instant.
        #[arg(long)]
        to: String,
        /// csv or json.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Directory with the rules the daemon ran (its calendar).
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Decide contacts offline: JSON lines (protobuf JSON mapping) on stdin,
    /// one decision or error line per input line on stdout.
    Replay(ReplayArgs),
    /// Train the classifier of kind and category on labeled contacts (JSON
    /// lines: text, channel, district, kind, category) and write the model.
    Train {
        /// Corpus files or directories (a directory's *.jsonl except
        /// heldout*.jsonl); repeatable: the shipped corpus plus an export.
        #[arg(long, required = true)]
        corpus: Vec<PathBuf>,
        /// Where to write the model (rules.model names it in the config).
        #[arg(long)]
        out: PathBuf,
        /// Directory with rules files replacing the embedded ones (their
        /// keyword rules are the model's cue features).
        #[arg(long)]
        rules: Option<PathBuf>,
        #[arg(long, default_value_t = 24)]
        epochs: usize,
        /// Initial step of stochastic gradient descent (it decays per epoch).
        #[arg(long, default_value_t = 2.0)]
        learning_rate: f32,
        /// The model has 2^N rows (feature buckets); 13 keeps it in a core's cache.
        #[arg(long, default_value_t = 13)]
        dims_log2: u32,
    },
    /// Score the classifier on labeled contacts: accuracy per kind and per
    /// category, the most confused pairs, and accuracy against coverage over
    /// the confidence threshold.
    Eval {
        /// Corpus files or directories (name held-out files explicitly).
        #[arg(long, required = true)]
        corpus: Vec<PathBuf>,
        /// A model file; default: the shipped one.
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Working days and deadlines.
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Check a config file (default: the embedded default) and report every error at once.
    CheckConfig {
        /// The config file.
        file: Option<PathBuf>,
    },
    /// Exit 0 when the daemon at --admin-addr answers 200 on /ready (a
    /// container health check or preStop hook without curl in the image).
    Ready {
        #[arg(long, default_value = "127.0.0.1:9464")]
        admin_addr: String,
        /// Wait this long first (a preStop hook: let load balancers catch up).
        #[arg(long, default_value_t = 0)]
        wait_secs: u64,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Config file (TOML); see deploy/config/hotlined.embedded.toml.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Overrides server.grpc_addr.
    #[arg(long)]
    pub grpc_addr: Option<String>,
    /// Overrides server.admin_addr.
    #[arg(long)]
    pub admin_addr: Option<String>,
    /// Overrides store.data_dir.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Overrides kafka.brokers (and turns Kafka on with the default topics
    /// when the config has no [kafka] section).
    #[arg(long)]
    pub kafka_brokers: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Directory with rules files replacing the embedded ones.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Directory with extra `<year>.toml` holiday files.
    #[arg(long)]
    pub calendar_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Is DATE (YYYY-MM-DD) a working day? Prints {"date","workday","provisional"}.
    IsWorkday {
        date: String,
        #[arg(long)]
        calendar_dir: Option<PathBuf>,
    },
    /// Every deadline of a contact received at --received, as RFC 3339 in +08:00.
    Due {
        /// When the contact was received (RFC 3339).
        #[arg(long)]
        received: String,
        /// consultation, help, opinion, suggestion, complaint, report or epidemic.
        #[arg(long)]
        kind: String,
        /// provincial or national (orders from the platform are due 3 h early).
        #[arg(long)]
        origin: Option<String>,
        /// A special matter (Art. 13(4)): adds notify_by, first_feedback_by, progress_by.
        #[arg(long, conflicts_with = "special_emergency")]
        special: bool,
        /// A special emergency (Art. 13(4)).
        #[arg(long)]
        special_emergency: bool,
        #[arg(long)]
        calendar_dir: Option<PathBuf>,
    },
}

//! `hotline-bench`: traffic generation and load modes.
use clap::{Parser, Subcommand};
use hotline_bench::report::Printed;
use hotline_bench::traffic::{Traffic, TrafficConfig};
use std::io::{BufWriter, Write};

/// The same allocator as hotlined, so the load generator costs the shared cores little.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "hotline-bench",
    about = "Synthetic 12345 hotline traffic and load generator"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// How to load a daemon over gRPC.
#[derive(clap::Args)]
struct GrpcArgs {
    /// The daemon's gRPC address.
    #[arg(long, default_value = "127.0.0.1:50051")]
    target: String,
    /// Contacts to send (ignored with --duration).
    #[arg(long, default_value_t = 200_000)]
    count: usize,
    /// Send for this many seconds instead of a count.
    #[arg(long)]
    duration: Option<f64>,
    /// Target contacts per second (0: as fast as the server takes them).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Concurrent unary callers or streams.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    #[arg(long, default_value_t = 12345)]
    seed: u64,
    /// Print the report as JSON instead of the summary.
    #[arg(long)]
    json: bool,
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn grpc(mode: hotline_bench::grpc::Mode, a: GrpcArgs) -> anyhow::Result<()> {
    let load = hotline_bench::grpc::Load {
        mode,
        count: a.count,
        duration: a.duration.map(std::time::Duration::from_secs_f64),
        rate: a.rate,
        concurrency: a.concurrency,
        seed: a.seed,
    };
    runtime()?
        .block_on(hotline_bench::grpc::compare(&a.target, &load))?
        .print(a.json)
}

#[derive(Subcommand)]
enum Cmd {
    /// Preload contacts on a fresh topic, time hotlined's drain until every
    /// decision is delivered, then a raw rdkafka pass-through of the same
    /// records on the same broker; prints both and the ratio.
    Kafka {
        #[arg(long, default_value = "127.0.0.1:9092")]
        brokers: String,
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long, default_value_t = 4)]
        partitions: i32,
        /// The hotlined binary (default: next to this one).
        #[arg(long)]
        hotlined: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 12345)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
    /// Load a running hotlined over gRPC, then a no-op tonic server on the
    /// same proto (the baseline) in the same run; prints both and the ratio.
    Grpc {
        #[arg(long, value_enum, default_value = "stream")]
        mode: hotline_bench::grpc::Mode,
        #[command(flatten)]
        load: GrpcArgs,
    },
    /// `grpc --mode unary`: one Submit per contact, answered when durable.
    GrpcUnary {
        #[command(flatten)]
        load: GrpcArgs,
    },
    /// `grpc --mode stream`: SubmitStream, one durable Ack per contact.
    GrpcStream {
        #[command(flatten)]
        load: GrpcArgs,
    },
    /// Replay 10 minutes of a hotline day, compressed into about 30 seconds,
    /// against a running daemon, and print what it did.
    Demo {
        #[command(flatten)]
        args: hotline_bench::demo::DemoArgs,
        #[arg(long)]
        json: bool,
    },
    /// The work-order deadline tracker with N open cases: memory per case
    /// and tick cost, against a full scan of every case per tick.
    Tracker {
        #[arg(long, default_value_t = 1_000_000)]
        cases: usize,
        #[arg(long)]
        json: bool,
    },
    /// Trains dedup's problem-type model on labeled paraphrases
    /// (router/data/problems/corpus.jsonl and corpus2.jsonl) and writes the
    /// model file.
    TrainProblems {
        /// Corpus files, read one after the other (repeat the flag).
        #[arg(
            long,
            default_values = ["router/data/problems/corpus.jsonl", "router/data/problems/corpus2.jsonl"]
        )]
        corpus: Vec<std::path::PathBuf>,
        #[arg(long, default_value = "router/data/model/problems.bin")]
        out: std::path::PathBuf,
        #[arg(long, default_value_t = 30)]
        epochs: usize,
        #[arg(long, default_value_t = 1.0)]
        learning_rate: f32,
        /// The model has 2^dims_log2 rows.
        #[arg(long, default_value_t = 14)]
        dims_log2: u32,
        /// Paraphrases by other writers (same format) to score the model
        /// on: accuracy, and how often two texts of one type agree and two
        /// of different types meet (the thresholds dedup uses).
        #[arg(long)]
        eval: Vec<std::path::PathBuf>,
    },
    /// Precision, recall and F1 of repeat and cluster detection on a
    /// labeled JSON-lines file (see bench/data/dedup/README.md).
    DedupEval {
        file: std::path::PathBuf,
        #[arg(long)]
        json: bool,
        /// A problem-type model instead of the embedded
        /// `router/data/model/problems.bin` (an empty file: none).
        #[arg(long)]
        types: Option<std::path::PathBuf>,
    },
    /// Dedup throughput on one core with a large index, and bytes per
    /// indexed contact, against a HashMap insert baseline.
    Dedup {
        #[arg(long, default_value_t = 1_000_000)]
        indexed: usize,
        #[arg(long, default_value_t = 200_000)]
        measured: usize,
        #[arg(long, default_value_t = 500_000)]
        callers: u64,
        /// Without the problem-type model (to measure what it costs).
        #[arg(long)]
        no_types: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print N synthetic contacts as JSON lines (protobuf JSON mapping).
    Gen {
        #[arg(long, default_value_t = 1000)]
        count: u64,
        #[arg(long, default_value_t = 12345)]
        seed: u64,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Kafka {
            brokers,
            count,
            partitions,
            hotlined,
            seed,
            json,
        } => {
            let hotlined = match hotlined {
                Some(h) => h,
                None => std::env::current_exe()?.with_file_name("hotlined"),
            };
            let load = hotline_bench::kafka::KafkaLoad {
                brokers,
                count,
                partitions,
                hotlined,
                seed,
            };
            runtime()?
                .block_on(hotline_bench::kafka::compare(&load))?
                .print(json)?;
        }
        Cmd::Grpc { mode, load } => grpc(mode, load)?,
        Cmd::GrpcUnary { load } => grpc(hotline_bench::grpc::Mode::Unary, load)?,
        Cmd::GrpcStream { load } => grpc(hotline_bench::grpc::Mode::Stream, load)?,
        Cmd::Demo { args, json } => {
            runtime()?
                .block_on(hotline_bench::demo::run(args))?
                .print(json)?;
        }
        Cmd::Tracker { cases, json } => {
            hotline_bench::tracker::run(cases)?.print(json)?;
        }
        Cmd::TrainProblems {
            corpus,
            out,
            epochs,
            learning_rate,
            dims_log2,
            eval,
        } => {
            let read = |f: &std::path::PathBuf| {
                std::fs::read_to_string(f)
                    .map(|t| (f.display().to_string(), t))
                    .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))
            };
            let corpus = corpus
                .iter()
                .map(read)
                .collect::<anyhow::Result<Vec<_>>>()?;
            let eval = eval.iter().map(read).collect::<anyhow::Result<Vec<_>>>()?;
            let cfg = hotline_router::dedup::types::TypesTrain {
                epochs,
                learning_rate,
                dims_log2,
                ..Default::default()
            };
            let bytes = hotline_bench::train_problems::run(&corpus, &cfg, &eval)?;
            std::fs::write(&out, bytes).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
        }
        Cmd::DedupEval { file, json, types } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let types = match types {
                None => None,
                Some(f) => {
                    let b =
                        std::fs::read(&f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
                    if b.is_empty() {
                        Some(None)
                    } else {
                        Some(Some(hotline_router::dedup::types::TypeModel::from_bytes(
                            &b,
                        )?))
                    }
                }
            };
            hotline_bench::dedup_eval::evaluate(&text, Default::default(), types)?.print(json)?;
        }
        Cmd::Dedup {
            indexed,
            measured,
            callers,
            no_types,
            json,
        } => {
            hotline_bench::dedup_bench::run(indexed, measured, callers, !no_types)?.print(json)?;
        }
        Cmd::Gen { count, seed } => {
            let mut out = BufWriter::new(std::io::stdout().lock());
            for c in Traffic::new(TrafficConfig {
                seed,
                ..Default::default()
            })
            .take(count as usize)
            {
                serde_json::to_writer(&mut out, &c)?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
    }
    Ok(())
}

//! `hotline-bench`: traffic generation and load modes.
use clap::{Parser, Subcommand};
use hotline_bench::traffic::{Traffic, TrafficConfig};
use std::io::{BufWriter, Write};

#[derive(Parser)]
#[command(
    name = "hotline-bench",
    about = "Synthetic 12345 hotline traffic and load generator"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
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

//! `decide` over the traffic model's contacts, round after round: the
//! program to count instructions of under `valgrind --tool=callgrind`,
//! which gives the same count run after run where the VM's clock does not
//! (BENCHMARKS.md, "Router: `decide`"). It also prints the time per call,
//! for quick alternating runs of two builds; criterion's bench is the
//! measure reported.
//!
//! `cargo build --release -p hotline-bench --example decide_count`, then
//! `valgrind --tool=callgrind target/release/examples/decide_count ROUNDS [model|keywords]`:
//! the difference of two round counts is the cost of `decide` alone (the
//! contacts are made once, before the rounds).
use hotline_bench::traffic::{Traffic, TrafficConfig};
use hotline_ingest::wire::contact_from;
use hotline_router::rules::EMBEDDED;
use hotline_router::{decide, Calendar, Contact, Router, RouterOptions, RuleSources};

/// The daemon's allocator, as in the criterion bench.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Contacts per round.
const N: usize = 2_000;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args
        .next()
        .map_or(Ok(1), |a| a.parse())
        .map_err(|e| format!("ROUNDS: {e}"))?;
    let router = match args.next().as_deref() {
        None | Some("model") => Router::embedded().map_err(|e| format!("{e:?}"))?,
        Some("keywords") => {
            let src = RuleSources {
                model: &[],
                ..EMBEDDED
            };
            let cal = Calendar::embedded().map_err(|e| format!("{e:?}"))?;
            Router::build(src, cal, RouterOptions::default()).map_err(|e| format!("{e:?}"))?
        }
        Some(other) => return Err(format!("unknown router {other:?}: model or keywords")),
    };
    let cs: Vec<Contact> = Traffic::new(TrafficConfig::default())
        .take(N)
        .filter_map(|c| contact_from(&c).ok())
        .collect();
    let now = cs.last().and_then(|c| c.received_at).unwrap_or_default();
    let mut sum = 0usize;
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        for c in &cs {
            if let Ok(d) = decide(&router, c, now) {
                sum += d.rule_ids.len() + d.targets.len();
            }
        }
    }
    let elapsed = t.elapsed();
    // A digest of every decision in full, so two builds that should decide
    // alike can be compared (after the timed rounds: not timed).
    let mut h = std::hash::DefaultHasher::new();
    for c in &cs {
        std::hash::Hash::hash(&format!("{:?}", decide(&router, c, now)), &mut h);
    }
    let digest = std::hash::Hasher::finish(&h);
    let per = elapsed.as_nanos() as f64 / (rounds * cs.len()).max(1) as f64;
    println!(
        "{} contacts × {rounds}, checksum {sum}, decisions {digest:016x}, {per:.0} ns per decide, {:.0} k/s",
        cs.len(),
        1e6 / per
    );
    Ok(())
}

//! `decide` over a realistic mix of contacts, side by side with its baseline
//! in the same run: NFKC normalization plus the one-pass keyword scan alone
//! (the floor any keyword router pays). Also prints per-call p50/p99 from an
//! HDR histogram. Run: `cargo bench -p hotline-bench --bench decide`.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use hdrhistogram::Histogram;
use hotline_bench::traffic::{Traffic, TrafficConfig};
use hotline_ingest::wire::contact_from;
use hotline_router::normalize::normalize_text;
use hotline_router::rules::EMBEDDED;
use hotline_router::{decide, Calendar, Contact, Router, RouterOptions, RuleSources};
use std::time::Instant;

/// The daemon's allocator (`ingest/src/main.rs`): `decide` is measured as
/// hotlined runs it, not with the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const N: usize = 10_000;

fn contacts() -> Vec<Contact> {
    Traffic::new(TrafficConfig::default())
        .take(N)
        .filter_map(|c| contact_from(&c).ok())
        .collect()
}

fn bench(c: &mut Criterion) {
    let router = match Router::embedded() {
        Ok(r) => r,
        Err(e) => panic!("rules: {e:?}"),
    };
    // The same rules without the classifier (keyword rules only).
    let keywords_only = Calendar::embedded()
        .map_err(|e| format!("{e:?}"))
        .and_then(|cal| {
            let src = RuleSources {
                model: &[],
                ..EMBEDDED
            };
            Router::build(src, cal, RouterOptions::default()).map_err(|e| format!("{e:?}"))
        })
        .unwrap_or_else(|e| panic!("rules: {e}"));
    let cs = contacts();
    let now = cs.last().and_then(|c| c.received_at).unwrap_or_default();

    let mut g = c.benchmark_group("router");
    g.throughput(Throughput::Elements(cs.len() as u64));
    g.bench_function("decide", |b| {
        b.iter(|| {
            for c in &cs {
                let _ = black_box(decide(&router, c, now));
            }
        })
    });
    g.bench_function("decide_without_model", |b| {
        b.iter(|| {
            for c in &cs {
                let _ = black_box(decide(&keywords_only, c, now));
            }
        })
    });
    g.bench_function("baseline_normalize_scan", |b| {
        b.iter(|| {
            for c in &cs {
                black_box(router_scan(&router, &c.content));
            }
        })
    });
    g.finish();

    // Per-call latency distribution.
    let mut h =
        Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..20 {
        for c in &cs {
            let t = Instant::now();
            let _ = black_box(decide(&router, c, now));
            let _ = h.record(t.elapsed().as_nanos() as u64);
        }
    }
    println!(
        "decide per call: n={} p50={}ns p90={}ns p99={}ns p99.9={}ns max={}ns",
        h.len(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    );
}

fn router_scan(router: &Router, text: &str) -> usize {
    let t = normalize_text(text);
    router.scan_count(&t)
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Overload: clients flood far faster than the committer. Unary calls get
//! RESOURCE_EXHAUSTED, streams are slowed, resident memory stays bounded, and
//! the daemon serves normally once the flood stops.
mod support;
use hotline_proto::v1 as pb;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use support::*;
use tonic::Code;

/// What the flood may add to the daemon's idle resident memory, from the
/// README's bounds ("Backpressure") for this test's settings: the queue (64
/// contacts of about 1.5 KiB), each stream's window (8 streams of 256
/// decided contacts, at most 8 KiB each with these 2 KiB texts), the store's
/// page cache (64 MiB), the dedup index (52 800 contacts, at most 0.5 KiB
/// each), and 32 MiB for the allocator and 72 connections' HTTP/2 buffers.
/// Without the stream window the streams alone would hold 8 × 5 000
/// contacts (about 300 MiB).
const GROWTH_BOUND_KIB: u64 = 64 * 3 / 2 + 8 * 256 * 8 + 64 * 1024 + 52_800 / 2 + 32 * 1024;

#[test]
fn flood_is_pushed_back_and_memory_stays_bounded() {
    let dir = temp_dir("overload");
    // A tiny queue and a committer that, under load, waits 20 ms per batch
    // (a full queue is far below a quarter of batch_max): far slower than
    // the clients.
    let d = Daemon::start_in(&dir, Some("[pipeline]\nqueue_capacity = 64\nbatch_max = 4096\nbatch_wait_ms = 20\nstream_window = 256\n"));
    let rt = rt();
    let idle = rss_kib(d.child.id());
    let exhausted = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    rt.block_on(async {
        let mut tasks = Vec::new();
        // 64 unary clients, 200 calls each, no waiting between calls.
        for t in 0..64 {
            let mut c = d.client().await;
            let (ex, okc) = (exhausted.clone(), ok.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..200 {
                    match c
                        .submit(contact(
                            &format!("u-{t}-{i}"),
                            "旁边工地夜间施工，吵得睡不着",
                        ))
                        .await
                    {
                        Ok(_) => okc.fetch_add(1, Ordering::Relaxed),
                        Err(s) if s.code() == Code::ResourceExhausted => {
                            ex.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(s) => panic!("unexpected {s:?}"),
                    };
                }
            }));
        }
        // 8 streams of 5 000 contacts with 2 KiB texts.
        for t in 0..8 {
            let mut c = d.client().await;
            tasks.push(tokio::spawn(async move {
                let cs: Vec<pb::Contact> = (0..5000)
                    .map(|i| {
                        contact(
                            &format!("s-{t}-{i}"),
                            &"路灯坏了好几天，晚上很黑。".repeat(60),
                        )
                    })
                    .collect();
                let mut s = c
                    .submit_stream(tokio_stream::iter(cs))
                    .await
                    .expect("stream")
                    .into_inner();
                let mut n = 0;
                while let Some(a) = s.message().await.expect("ack") {
                    assert!(a.error.is_none(), "{a:?}");
                    n += 1;
                }
                assert_eq!(n, 5000);
            }));
        }
        let pid_rss = {
            let peak = peak.clone();
            let pid = d.child.id();
            tokio::spawn(async move {
                loop {
                    peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            })
        };
        for t in tasks {
            t.await.expect("client task");
        }
        pid_rss.abort();
    });
    let peak = peak.load(Ordering::Relaxed);
    eprintln!(
        "overload: {} ok, {} RESOURCE_EXHAUSTED, RSS {idle} KiB idle, peak {} KiB",
        ok.load(Ordering::Relaxed),
        exhausted.load(Ordering::Relaxed),
        peak
    );
    assert!(
        exhausted.load(Ordering::Relaxed) > 0,
        "the flood must be pushed back"
    );
    assert!(idle > 0 && peak > idle, "RSS not read: {idle} then {peak}");
    assert!(
        peak - idle < GROWTH_BOUND_KIB,
        "RSS grew by {} KiB (from {idle}), over the {GROWTH_BOUND_KIB} KiB bound",
        peak - idle
    );
    // Recovered: a normal call succeeds.
    rt.block_on(async {
        let mut c = d.client().await;
        c.submit(contact("after-flood", "我要投诉小区物业"))
            .await
            .expect("serving after the flood");
    });
    let (_, metrics) = http_get(d.admin, "/metrics").expect("metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("hotline_overload_rejections_total ") && !l.ends_with(" 0")),
        "overload counted"
    );
}

/// Resident memory of a process, KiB (0 when unreadable).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

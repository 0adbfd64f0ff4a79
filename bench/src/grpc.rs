//! `hotline-bench grpc`: drive a running hotlined with unary or streaming
//! submits and record the end-to-end latency (send → durable answer) in an
//! HDR histogram; then the same load against the no-op baseline server.
use crate::report::{Measured, Report};
use crate::traffic::{Traffic, TrafficConfig};
use hdrhistogram::Histogram;
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_client::IntakeClient;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How to load the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Unary,
    Stream,
}

/// Load parameters.
#[derive(Debug, Clone)]
pub struct Load {
    pub mode: Mode,
    pub count: usize,
    /// Concurrent unary callers, or concurrent streams.
    pub concurrency: usize,
    pub seed: u64,
}

fn contacts(load: &Load, run: &str) -> Vec<pb::Contact> {
    Traffic::new(TrafficConfig {
        seed: load.seed,
        ..Default::default()
    })
    .take(load.count)
    .enumerate()
    .map(|(i, mut c)| {
        c.contact_id = format!("{run}-{i}");
        // Received "now" so the daemon never refuses them as future-dated.
        let now = chrono::Utc::now();
        c.received_at = Some(hotline_proto::Timestamp {
            seconds: now.timestamp() - 1,
            nanos: 0,
        });
        c
    })
    .collect()
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// Runs the load against `url`; returns the measurement.
pub async fn run(url: &str, load: &Load, label: &str) -> anyhow::Result<Measured> {
    let run_id = format!("bench-{}-{}", label, chrono::Utc::now().timestamp_micros());
    let all = contacts(load, &run_id);
    let per = all.len().div_ceil(load.concurrency.max(1));
    let chunks: Vec<Vec<pb::Contact>> = all
        .chunks(per.max(1))
        .map(<[pb::Contact]>::to_vec)
        .collect();
    let h = Arc::new(Mutex::new(hist()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let mut client = IntakeClient::new(channel.clone());
        let (h, errors) = (h.clone(), errors.clone());
        let mode = load.mode;
        tasks.push(tokio::spawn(async move {
            let mut local = hist();
            match mode {
                Mode::Unary => {
                    for c in chunk {
                        let t = Instant::now();
                        match client.submit(c).await {
                            Ok(_) => {
                                let _ = local.record(t.elapsed().as_micros() as u64);
                            }
                            Err(_) => {
                                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                    }
                }
                Mode::Stream => {
                    let (sent_tx, mut sent_rx) = mpsc::unbounded_channel::<Instant>();
                    let outbound = tokio_stream::iter(chunk).map_stamped(sent_tx);
                    match client.submit_stream(outbound).await {
                        Ok(resp) => {
                            let mut acks = resp.into_inner();
                            while let Ok(Some(a)) = acks.message().await {
                                let t = sent_rx.recv().await.unwrap_or_else(Instant::now);
                                if a.error.is_some() {
                                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                } else {
                                    let _ = local.record(t.elapsed().as_micros() as u64);
                                }
                            }
                        }
                        Err(_) => {
                            errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
            }
            if let Ok(mut h) = h.lock() {
                let _ = h.add(&local);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed();
    let h = h
        .lock()
        .map_err(|_| anyhow::anyhow!("histogram lock poisoned"))?
        .clone();
    Ok(Measured::from_hist(
        label,
        load.count as u64,
        errors.load(std::sync::atomic::Ordering::Relaxed),
        elapsed,
        &h,
    ))
}

/// Stamps each item with the instant it is handed to the transport.
trait MapStamped: Sized {
    fn map_stamped(
        self,
        tx: mpsc::UnboundedSender<Instant>,
    ) -> impl tokio_stream::Stream<Item = pb::Contact> + Send + 'static;
}

impl<S: tokio_stream::Stream<Item = pb::Contact> + Send + 'static> MapStamped for S {
    fn map_stamped(
        self,
        tx: mpsc::UnboundedSender<Instant>,
    ) -> impl tokio_stream::Stream<Item = pb::Contact> + Send + 'static {
        use tokio_stream::StreamExt;
        self.map(move |c| {
            let _ = tx.send(Instant::now());
            c
        })
    }
}

/// The daemon, then the no-op baseline, same load, same process.
pub async fn compare(target: &str, load: &Load) -> anyhow::Result<Report> {
    let daemon = run(&format!("http://{target}"), load, "hotlined").await?;
    let addr = crate::noop::start().await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let baseline = run(&format!("http://{addr}"), load, "noop-tonic").await?;
    Ok(Report::new(
        format!("grpc-{:?}", load.mode).to_lowercase(),
        daemon,
        baseline,
    ))
}

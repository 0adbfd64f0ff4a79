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
    /// How many contacts (ignored when `duration` is set).
    pub count: usize,
    /// Send for this long instead of a count.
    pub duration: Option<Duration>,
    /// Target contacts per second over all callers; 0 = as fast as the server takes them.
    pub rate: f64,
    /// Concurrent unary callers, or concurrent streams.
    pub concurrency: usize,
    pub seed: u64,
}

/// The contacts one caller or stream sends: drawn lazily from the traffic
/// model, received "now", paced to its share of the rate, until its share of
/// the count or the deadline.
struct Feed {
    traffic: Traffic,
    prefix: String,
    n: usize,
    left: Option<usize>,
    deadline: Option<Instant>,
    gap: Option<Duration>,
    next_at: Instant,
}

impl Feed {
    fn new(load: &Load, run: &str, task: usize, started: Instant) -> Feed {
        let tasks = load.concurrency.max(1);
        let share = |n: usize| n / tasks + usize::from(task < n % tasks);
        Feed {
            traffic: Traffic::new(TrafficConfig {
                seed: load.seed.wrapping_add(task as u64),
                // Recent: the daemon refuses contacts older than a few days.
                start: chrono::Utc::now() - chrono::Duration::hours(1),
                ..Default::default()
            }),
            prefix: format!("{run}-{task}"),
            n: 0,
            left: load.duration.is_none().then(|| share(load.count)),
            deadline: load.duration.map(|d| started + d),
            gap: (load.rate > 0.0).then(|| Duration::from_secs_f64(tasks as f64 / load.rate)),
            next_at: started,
        }
    }

    /// The next contact and when to send it; `None` when done.
    fn next(&mut self) -> Option<(pb::Contact, Instant)> {
        if let Some(l) = &mut self.left {
            if *l == 0 {
                return None;
            }
            *l -= 1;
        }
        let at = self.next_at;
        if let Some(g) = self.gap {
            self.next_at += g;
        }
        if self.deadline.is_some_and(|d| at.max(Instant::now()) >= d) {
            return None;
        }
        let mut c = self.traffic.next_contact();
        self.n += 1;
        c.contact_id = format!("{}-{}", self.prefix, self.n);
        // Received "now" so the daemon never refuses them as future-dated.
        let now = chrono::Utc::now();
        c.received_at = Some(hotline_proto::Timestamp {
            seconds: now.timestamp() - 1,
            nanos: 0,
        });
        Some((c, at))
    }
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// Runs the load against `url`; returns the measurement.
pub async fn run(url: &str, load: &Load, label: &str) -> anyhow::Result<Measured> {
    let run_id = format!("bench-{}-{}", label, chrono::Utc::now().timestamp_micros());
    let h = Arc::new(Mutex::new(hist()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..load.concurrency.max(1) {
        let mut feed = Feed::new(load, &run_id, task, started);
        let mut client = IntakeClient::new(channel.clone());
        let (h, errors, sent) = (h.clone(), errors.clone(), sent.clone());
        let mode = load.mode;
        tasks.push(tokio::spawn(async move {
            let mut local = hist();
            match mode {
                Mode::Unary => {
                    while let Some((c, at)) = feed.next() {
                        tokio::time::sleep_until(at.into()).await;
                        let t = Instant::now();
                        sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
                    let counter = sent.clone();
                    let outbound = async_stream_of(feed, counter).map_stamped(sent_tx);
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
        sent.load(std::sync::atomic::Ordering::Relaxed),
        errors.load(std::sync::atomic::Ordering::Relaxed),
        elapsed,
        &h,
    ))
}

/// The feed as a stream, each contact released at its instant.
fn async_stream_of(
    feed: Feed,
    sent: Arc<std::sync::atomic::AtomicU64>,
) -> impl tokio_stream::Stream<Item = pb::Contact> + Send + 'static {
    futures_util::stream::unfold(feed, move |mut feed| {
        let sent = sent.clone();
        async move {
            let (c, at) = feed.next()?;
            if at > Instant::now() {
                tokio::time::sleep_until(at.into()).await;
            }
            sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Some((c, feed))
        }
    })
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

/// The daemon, then the no-op baseline (the network's limit), then the
/// durable no-op (the storage limit: the daemon's committer appending the
/// raw contacts, no decision), same load, same process.
pub async fn compare(target: &str, load: &Load) -> anyhow::Result<Report> {
    let daemon = run(&format!("http://{target}"), load, "hotlined").await?;
    let addr = crate::noop::start().await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let baseline = run(&format!("http://{addr}"), load, "noop-tonic").await?;
    let dir = std::env::temp_dir().join(format!("hotline-durable-noop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let addr = crate::noop::start_durable(&dir).await?;
    let durable = run(&format!("http://{addr}"), load, "noop-durable").await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Report::new(
        format!("grpc-{:?}", load.mode).to_lowercase(),
        daemon,
        baseline,
    )
    .with_durable(durable?))
}

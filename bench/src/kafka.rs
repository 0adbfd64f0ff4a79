//! `hotline-bench kafka`: preload N contacts on a fresh contacts topic, start
//! hotlined on it, and time the drain until every decision is delivered;
//! then, on the same broker and the same records, a raw rdkafka
//! consume → produce pass-through with the same delivery guarantees
//! (idempotent acks=all producer, offsets stored after delivery) — the
//! ceiling of any Kafka pipeline on this machine.
use crate::report::{Measured, Report};
use crate::traffic::{Traffic, TrafficConfig};
use hdrhistogram::Histogram;
use prost::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Parameters.
#[derive(Debug, Clone)]
pub struct KafkaLoad {
    pub brokers: String,
    pub count: usize,
    pub partitions: i32,
    pub hotlined: PathBuf,
    pub seed: u64,
}

fn client(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    c
}

async fn create(brokers: &str, topics: &[(String, i32)]) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = client(brokers).create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(n, p)| NewTopic::new(n, *p, TopicReplication::Fixed(1)))
        .collect();
    for r in admin
        .create_topics(
            &new,
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await?
    {
        r.map_err(|(t, e)| anyhow::anyhow!("creating {t}: {e}"))?;
    }
    Ok(())
}

fn producer(brokers: &str) -> anyhow::Result<FutureProducer> {
    Ok(client(brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        .create()?)
}

/// Counts distinct contacts on `topic` until `n`: the contact id of each
/// decision (several decisions share a case key when repeats join a case),
/// or the record key for anything that is not a decision.
///
/// Also the end-to-end latency of each decision, in microseconds: its record
/// timestamp (when hotlined produced it) minus the contact's `received_at`,
/// which the preload sets to the instant the contact was produced.
async fn drain(
    brokers: &str,
    topic: &str,
    n: usize,
    timeout: Duration,
) -> anyhow::Result<(usize, Instant, Histogram<u64>)> {
    let c: StreamConsumer = client(brokers)
        .set(
            "group.id",
            format!("bench-reader-{}", chrono::Utc::now().timestamp_micros()),
        )
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    c.subscribe(&[topic])?;
    let mut seen = HashSet::with_capacity(n);
    let mut lat = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!());
    let deadline = Instant::now() + timeout;
    while seen.len() < n && Instant::now() < deadline {
        if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(500), c.recv()).await {
            let d = m
                .payload()
                .and_then(|p| <hotline_proto::v1::Decision as prost::Message>::decode(p).ok());
            if let (Some(r), Some(produced)) = (
                d.as_ref().and_then(|d| d.received_at.as_ref()),
                m.timestamp().to_millis(),
            ) {
                let us = (produced * 1000) - (r.seconds * 1_000_000 + i64::from(r.nanos) / 1000);
                if us > 0 {
                    let _ = lat.record(us as u64);
                }
            }
            let id = d
                .map(|d| d.contact_id.into_bytes())
                .filter(|id| !id.is_empty());
            seen.insert(id.unwrap_or_else(|| m.key().map(<[u8]>::to_vec).unwrap_or_default()));
        }
    }
    Ok((seen.len(), Instant::now(), lat))
}

fn measured(
    label: &str,
    count: usize,
    got: usize,
    elapsed: Duration,
    h: &Histogram<u64>,
) -> Measured {
    Measured::from_hist(
        label,
        count as u64,
        (count - got.min(count)) as u64,
        elapsed,
        h,
    )
}

/// Decisions the daemon has delivered to Kafka, from its `/metrics`.
fn delivered(admin: &str) -> Option<usize> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(admin).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.lines()
        .find_map(|l| {
            l.strip_prefix("hotline_kafka_produced_total{topic=\"decisions\",outcome=\"ok\"} ")
        })
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as usize)
}

/// The raw pass-through: consume, produce the same bytes, store the offset after delivery.
async fn passthrough(
    brokers: &str,
    input: &str,
    output: &str,
    n: usize,
) -> anyhow::Result<(Duration, Histogram<u64>)> {
    let mut lat = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!());
    let c: StreamConsumer = client(brokers)
        .set(
            "group.id",
            format!("bench-pass-{}", chrono::Utc::now().timestamp_micros()),
        )
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .create()?;
    c.subscribe(&[input])?;
    let p = producer(brokers)?;
    let started = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    let mut done = 0usize;
    while done < n {
        let m = c.recv().await?;
        let (topic, partition, offset) = (m.topic().to_string(), m.partition(), m.offset());
        let produced_ms = m.timestamp().to_millis().unwrap_or(0);
        let key = m.key().map(<[u8]>::to_vec).unwrap_or_default();
        let payload = m.payload().map(<[u8]>::to_vec).unwrap_or_default();
        let p2 = p.clone();
        let out = output.to_string();
        pending.push_back((
            topic,
            partition,
            offset,
            produced_ms,
            tokio::spawn(async move {
                p2.send(
                    FutureRecord::to(&out).key(&key).payload(&payload),
                    Duration::from_secs(30),
                )
                .await
                .is_ok()
            }),
        ));
        while pending.len() > 10_000 || (pending.len() + done >= n && !pending.is_empty()) {
            let Some((t, part, off, produced_ms, h)) = pending.pop_front() else {
                break;
            };
            if h.await.unwrap_or(false) {
                let _ = c.store_offset(&t, part, off);
                let us = (chrono::Utc::now().timestamp_millis() - produced_ms) * 1000;
                if us > 0 {
                    let _ = lat.record(us as u64);
                }
            }
            done += 1;
        }
    }
    Ok((started.elapsed(), lat))
}

/// Runs both sides and reports.
pub async fn compare(load: &KafkaLoad) -> anyhow::Result<Report> {
    let prefix = format!("bench{}", chrono::Utc::now().timestamp_micros());
    let t = |s: &str| format!("{prefix}.{s}");
    let p = load.partitions;
    create(
        &load.brokers,
        &[
            (t("contacts"), p),
            (t("decisions"), p),
            (t("passthrough"), p),
            (t("call-events"), 1),
            (t("order-events"), 1),
            (t("alerts"), 1),
            (t("stats"), 1),
            (t("dlq"), 1),
        ],
    )
    .await?;
    // Preload, one record per batch: tansu 0.6.0 serves no fetch that starts
    // inside a batch, which a consumer resuming after a pause would need.
    let prod: FutureProducer = client(&load.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "1")
        .create()?;
    let mut futs = Vec::new();
    for (i, mut c) in Traffic::new(TrafficConfig {
        seed: load.seed,
        // Recent: the daemon refuses contacts older than a few days.
        start: chrono::Utc::now() - chrono::Duration::hours(1),
        ..Default::default()
    })
    .take(load.count)
    .enumerate()
    {
        c.contact_id = format!("{prefix}-{i}");
        // Received when produced: the decision echoes it, which gives the
        // end-to-end latency (see `drain`).
        let now = chrono::Utc::now();
        c.received_at = Some(hotline_proto::Timestamp {
            seconds: now.timestamp(),
            nanos: now.timestamp_subsec_nanos() as i32,
        });
        let key = c
            .caller
            .as_ref()
            .map(|k| format!("{}{}{}", k.phone, k.wechat_openid, k.account_id))
            .unwrap_or_default();
        let prod = prod.clone();
        let topic = t("contacts");
        futs.push(tokio::spawn(async move {
            prod.send(
                FutureRecord::to(&topic)
                    .key(&key)
                    .payload(&c.encode_to_vec()),
                Duration::from_secs(60),
            )
            .await
            .is_ok()
        }));
        if futs.len() >= 5000 {
            for f in futs.drain(..) {
                f.await?;
            }
        }
    }
    for f in futs {
        f.await?;
    }

    // hotlined, started on the preloaded topic.
    let dir = std::env::temp_dir().join(format!("{prefix}-hotlined"));
    std::fs::create_dir_all(&dir)?;
    let config = format!(
        "[kafka]\nbrokers = \"{b}\"\ngroup_id = \"{prefix}-hotlined\"\n[kafka.topics]\ncontacts = \"{}\"\ncall_events = \"{}\"\norder_events = \"{}\"\ndecisions = \"{}\"\nalerts = \"{}\"\nstats = \"{}\"\ndlq = \"{}\"\n",
        t("contacts"), t("call-events"), t("order-events"), t("decisions"), t("alerts"), t("stats"), t("dlq"),
        b = load.brokers
    );
    std::fs::write(dir.join("hotlined.toml"), config)?;
    let port = |l: std::net::TcpListener| l.local_addr().map(|a| a.port());
    let (g, a) = (
        port(std::net::TcpListener::bind("127.0.0.1:0")?)?,
        port(std::net::TcpListener::bind("127.0.0.1:0")?)?,
    );
    let started = Instant::now();
    let mut child = Command::new(&load.hotlined)
        .args([
            "serve",
            "--grpc-addr",
            &format!("127.0.0.1:{g}"),
            "--admin-addr",
            &format!("127.0.0.1:{a}"),
            "--config",
        ])
        .arg(dir.join("hotlined.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // Timed like the pass-through: until the daemon has delivered every
    // decision (its own delivery counter), not until a reader has read them.
    let admin = format!("127.0.0.1:{a}");
    let deadline = Instant::now() + Duration::from_secs(600);
    while delivered(&admin).unwrap_or(0) < load.count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let daemon_time = started.elapsed();
    // Then check, untimed, that every contact's decision is on the topic.
    let (got, _, latency) = drain(
        &load.brokers,
        &t("decisions"),
        load.count,
        Duration::from_secs(120),
    )
    .await?;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);

    let pass_time =
        passthrough(&load.brokers, &t("contacts"), &t("passthrough"), load.count).await?;
    Ok(Report::new(
        "kafka".into(),
        measured("hotlined", load.count, got, daemon_time, &latency),
        measured(
            "passthrough",
            load.count,
            load.count,
            pass_time.0,
            &pass_time.1,
        ),
    ))
}

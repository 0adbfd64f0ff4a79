//! A real Kafka-protocol broker for tests: the one `.ci/test` starts (tansu),
//! named by `HOTLINE_KAFKA_BROKERS`. Per-test topics, a producer and a reader.
#![allow(dead_code)]
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// A broker of this test process's own (see [`OwnBroker`]), used instead
/// of the shared one by every helper here once set.
static OWN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The broker; a Kafka test without one fails loudly rather than skipping.
pub fn brokers() -> String {
    if let Some(b) = OWN.get() {
        return b.clone();
    }
    match std::env::var("HOTLINE_KAFKA_BROKERS") {
        Ok(b) if !b.is_empty() => b,
        _ => panic!("HOTLINE_KAFKA_BROKERS is not set: run the README's test command (bash .ci/test), which starts a tansu broker"),
    }
}

/// Topic names of one test.
#[derive(Clone)]
pub struct Topics {
    pub prefix: String,
}

impl Topics {
    pub fn contacts(&self) -> String {
        format!("{}.contacts", self.prefix)
    }
    pub fn call_events(&self) -> String {
        format!("{}.call-events", self.prefix)
    }
    pub fn order_events(&self) -> String {
        format!("{}.order-events", self.prefix)
    }
    pub fn decisions(&self) -> String {
        format!("{}.decisions", self.prefix)
    }
    pub fn dlq(&self) -> String {
        format!("{}.dlq", self.prefix)
    }
    pub fn all(&self) -> Vec<String> {
        vec![
            self.contacts(),
            self.call_events(),
            self.order_events(),
            self.decisions(),
            self.dlq(),
            format!("{}.alerts", self.prefix),
            format!("{}.stats", self.prefix),
        ]
    }

    /// The `[kafka]` config section for a daemon of group `group`.
    pub fn config(&self, group: &str, extra: &str) -> String {
        // Group ids are per test run too: a broker outlives runs, and old members with them.
        let group = format!("{}-{group}", self.prefix);
        format!(
            "[kafka]\nbrokers = \"{}\"\ngroup_id = \"{group}\"\n{extra}\n[kafka.topics]\ncontacts = \"{}\"\ncall_events = \"{}\"\norder_events = \"{}\"\ndecisions = \"{}\"\nalerts = \"{p}.alerts\"\nstats = \"{p}.stats\"\ndlq = \"{}\"\n",
            brokers(),
            self.contacts(),
            self.call_events(),
            self.order_events(),
            self.decisions(),
            self.dlq(),
            p = self.prefix
        )
    }
}

/// Creates one topic with `partitions` (a test that starts without it).
pub async fn create_topic(name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("admin client");
    let res = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create topic");
    for r in res {
        r.unwrap_or_else(|(topic, e)| panic!("creating {topic}: {e}"));
    }
}

/// Creates this test's topics: the contacts topic with `partitions`, the rest with 1.
pub async fn create_topics(name: &str, partitions: i32) -> Topics {
    let prefix = format!("t{}-{}-{}", std::process::id(), name, super::free_port());
    let t = Topics { prefix };
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("admin client");
    let names = t.all();
    let new: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| {
            NewTopic::new(
                n,
                if n.ends_with(".contacts") || n.ends_with(".decisions") {
                    partitions
                } else {
                    1
                },
                TopicReplication::Fixed(1),
            )
        })
        .collect();
    let res = admin
        .create_topics(
            &new,
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create topics");
    for r in res {
        r.unwrap_or_else(|(topic, e)| panic!("creating {topic}: {e}"));
    }
    t
}

/// The test producer. One record per batch: tansu 0.6.0 answers a fetch
/// that starts inside a record batch with nothing (Apache Kafka returns the
/// whole batch), so a consumer resuming mid-batch — after a pause, a restart
/// or a takeover — would stall on a multi-record batch.
pub fn producer() -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "1")
        .create()
        .expect("producer")
}

/// Produces `(key, value)` records to `topic` and waits for every delivery.
pub async fn produce_all(p: &FutureProducer, topic: &str, records: Vec<(Vec<u8>, Vec<u8>)>) {
    let mut futs = Vec::with_capacity(records.len());
    for (k, v) in &records {
        futs.push(p.send(
            FutureRecord::to(topic).key(k).payload(v),
            Duration::from_secs(30),
        ));
        if futs.len() >= 2000 {
            for f in futs.drain(..) {
                f.await.map_err(|(e, _)| e).expect("delivered");
            }
        }
    }
    for f in futs {
        f.await.map_err(|(e, _)| e).expect("delivered");
    }
}

/// Reads `topic` from the beginning of every partition, handing each record
/// to `done` (which says when enough was read), until then or `timeout`;
/// returns what was read.
pub fn read_until(
    topic: &str,
    timeout: Duration,
    mut done: impl FnMut(&OwnedMessage) -> bool,
) -> Vec<OwnedMessage> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set(
            "group.id",
            format!("reader-{}-{}", std::process::id(), super::free_port()),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("reader");
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut tpl = TopicPartitionList::new();
    for t in md.topics() {
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                .expect("tpl");
        }
    }
    c.assign(&tpl).expect("assign");
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            let m = m.detach();
            let enough = done(&m);
            out.push(m);
            if enough {
                break;
            }
        }
    }
    out
}

/// A `read_until` condition: at least `n` records.
pub fn count(n: usize) -> impl FnMut(&OwnedMessage) -> bool {
    let mut seen = 0;
    move |_| {
        seen += 1;
        seen >= n
    }
}

/// A `read_until` condition: decisions of at least `n` distinct contacts.
pub fn distinct_decisions(n: usize) -> impl FnMut(&OwnedMessage) -> bool {
    use prost::Message as _;
    let mut ids = std::collections::HashSet::new();
    move |m| {
        if let Some(d) = m
            .payload()
            .and_then(|b| hotline_proto::v1::Decision::decode(b).ok())
        {
            ids.insert(d.contact_id);
        }
        ids.len() >= n
    }
}

/// A header of a record as text.
pub fn header(m: &OwnedMessage, key: &str) -> Option<String> {
    let h = m.headers()?;
    h.iter()
        .find(|x| x.key == key)
        .and_then(|x| x.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// A tansu broker of this test's own (in memory), for fault injection that
/// would disturb the shared one: stopped with SIGSTOP, resumed with SIGCONT.
/// `.ci/test` names the binary in `HOTLINE_TANSU`; without it the one
/// `cargo install` puts in `~/.cargo/bin`. No binary: the test fails.
pub struct OwnBroker {
    child: std::process::Child,
    pub addr: String,
}

impl OwnBroker {
    /// Starts it on a free port and makes every helper here use it.
    pub fn start() -> OwnBroker {
        let bin = std::env::var("HOTLINE_TANSU").unwrap_or_else(|_| {
            format!(
                "{}/.cargo/bin/tansu",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        assert!(
            std::path::Path::new(&bin).is_file(),
            "no tansu binary at {bin}: run the README's test command (bash .ci/test), which installs it"
        );
        let port = super::free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = std::process::Command::new(&bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start tansu");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            OWN.set(addr.clone()).is_ok(),
            "one own broker per test process"
        );
        OwnBroker { child, addr }
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig} tansu");
    }

    /// SIGSTOP: the broker holds every connection and answers nothing.
    pub fn stop(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT.
    pub fn resume(&self) {
        self.signal("-CONT");
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

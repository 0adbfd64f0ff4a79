//! A real `hotlined serve` child process on free loopback ports with its own
//! data directory, and helpers to talk to it.
#![allow(dead_code)]
pub mod kafka;
use hotline_proto::v1 as pb;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_hotlined");

/// A loopback port that is free now, below the kernel's ephemeral range
/// (32768–60999 by default), so an outgoing connection of another test
/// cannot take it before the daemon binds it; never the same port twice
/// in one test process.
pub fn free_port() -> u16 {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().wrapping_mul(2_654_435_761);
    let mut x = seed | 1;
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let port = 20_000 + (x % 12_000) as u16;
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free port in 20000-31999");
}

pub fn temp_dir(name: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!(
        "hotline-test-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    TempDir(d)
}

/// A test's directory (data directory, config, log), removed when the test
/// is done with it — kept when the test failed, for its log and store.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub struct Daemon {
    pub child: Child,
    pub grpc: SocketAddr,
    pub admin: SocketAddr,
    pub dir: PathBuf,
    pub config: Option<PathBuf>,
}

/// HTTP GET on the admin listener: (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

impl Daemon {
    /// Starts a daemon in `dir` with an optional extra config text.
    pub fn start_in(dir: &Path, config: Option<&str>) -> Daemon {
        Daemon::start_with(dir, config, None)
    }

    /// Starts a daemon logging at `level` into `dir/hotlined.log`.
    pub fn start_logged(dir: &Path, level: &str) -> Daemon {
        Daemon::start_with(dir, None, Some(level))
    }

    fn start_with(dir: &Path, config: Option<&str>, log: Option<&str>) -> Daemon {
        // A port taken between the check and the daemon's bind (another
        // process) makes the daemon exit "binding …": start again on others.
        let mut last = String::new();
        for _ in 0..5 {
            match Daemon::try_start(dir, config, log) {
                Ok(d) => return d,
                Err(log) if log.contains("binding") => last = log,
                Err(log) => panic!("hotlined exited before it was ready:\n{log}"),
            }
        }
        panic!("hotlined could not bind free ports in 5 tries; the last:\n{last}");
    }

    /// Spawns and waits until ready; the daemon's log if it exited first.
    fn try_start(dir: &Path, config: Option<&str>, log: Option<&str>) -> Result<Daemon, String> {
        let grpc: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("--grpc-addr")
            .arg(grpc.to_string())
            .arg("--admin-addr")
            .arg(admin.to_string())
            .arg("--data-dir")
            .arg(dir.join("data"));
        let config_path = config.map(|text| {
            let p = dir.join("hotlined.toml");
            std::fs::write(&p, text).expect("config");
            p
        });
        if let Some(p) = &config_path {
            cmd.arg("--config").arg(p);
        }
        let log_path = dir.join("hotlined.log");
        match log {
            Some(level) => {
                let f = std::fs::File::create(&log_path).expect("log file");
                cmd.env("HOTLINE_LOG", level)
                    .stdout(Stdio::null())
                    .stderr(f);
            }
            // Warnings and errors kept for a failing test to show (more
            // with HOTLINE_TEST_LOG, e.g. `info`).
            None => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log_path)
                    .expect("log file");
                let level = std::env::var("HOTLINE_TEST_LOG").unwrap_or_else(|_| "warn".into());
                cmd.env("HOTLINE_LOG", level)
                    .stdout(Stdio::null())
                    .stderr(f);
            }
        }
        // What this start writes (the log is appended to across starts).
        let since = std::fs::metadata(&log_path).map_or(0, |m| m.len() as usize);
        let log_since = || {
            let text = std::fs::read(&log_path).unwrap_or_default();
            String::from_utf8_lossy(text.get(since..).unwrap_or_default()).into_owned()
        };
        let child = cmd.spawn().expect("spawn hotlined");
        let mut d = Daemon {
            child,
            grpc,
            admin,
            dir: dir.to_path_buf(),
            config: config_path,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if matches!(http_get(d.admin, "/ready"), Some((200, _))) {
                return Ok(d);
            }
            if let Ok(Some(status)) = d.child.try_wait() {
                return Err(format!("{status}\n{}", log_since()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "hotlined did not become ready in 60 s; its log:\n{}",
            log_since()
        );
    }

    /// Submits one contact; the decision (panics on an error status).
    pub async fn submit(&self, c: pb::Contact) -> pb::Decision {
        self.client()
            .await
            .submit(c)
            .await
            .expect("submit")
            .into_inner()
    }

    /// Reports order events in one stream; the summary (panics on an error status).
    pub async fn order_events(&self, evs: Vec<pb::OrderEvent>) -> pb::OrderEventsSummary {
        self.client()
            .await
            .report_order_events(tokio_stream::iter(evs))
            .await
            .expect("events")
            .into_inner()
    }

    /// The value of the first `/metrics` sample line containing every part
    /// (the name, then label pairs in any order); None when there is none.
    pub fn metric_with(&self, parts: &[&str]) -> Option<f64> {
        let (_, m) = http_get(self.admin, "/metrics")?;
        m.lines()
            .filter(|l| !l.starts_with('#'))
            .find(|l| parts.iter().all(|p| l.contains(p)))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// [`metric_with`](Self::metric_with) once it equals `want`, or after
    /// 10 s whatever it is.
    pub fn wait_metric_with(&self, parts: &[&str], want: f64) -> Option<f64> {
        wait_until(Some(want), || self.metric_with(parts))
    }

    /// The value of the metric line `name` (its name and labels, as
    /// printed, then a space); 0 when absent.
    pub fn metric(&self, name: &str) -> f64 {
        self.metric_with(&[name]).unwrap_or(0.0)
    }

    /// Waits until the per-second task `task` ("deadlines",
    /// "service_targets") has done `n` more rounds than now: what it was
    /// going to raise is then raised and counted. Panics after 10 s.
    pub fn wait_ticks(&self, task: &str, n: f64) {
        let parts = ["hotline_ticks_total{", &format!("task=\"{task}\"")];
        let start = self.metric_with(&parts).unwrap_or(0.0);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.metric_with(&parts).unwrap_or(0.0) < start + n {
            assert!(Instant::now() < deadline, "{task}: no {n} rounds in 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`metric`](Self::metric) once it equals `want`, or after 10 s whatever it is.
    pub fn wait_metric(&self, name: &str, want: f64) -> f64 {
        wait_until(want, || self.metric(name))
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    pub async fn client(&self) -> pb::intake_client::IntakeClient<tonic::transport::Channel> {
        pb::intake_client::IntakeClient::connect(self.url())
            .await
            .expect("connect")
    }

    /// SIGTERM, then wait for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("hotlined did not stop after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (kill -9).
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Resident memory of the daemon, KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A two-worker runtime for the gRPC and Kafka clients of a test.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// `hotlined decisions --data-dir DIR ARGS...` as parsed JSON lines.
pub fn decisions_cmd(data_dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(BIN)
        .arg("decisions")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("decisions");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// The stored decisions of a data directory, via `hotlined decisions`.
pub fn stored_decisions(data_dir: &Path) -> Vec<serde_json::Value> {
    decisions_cmd(data_dir, &[])
}

/// `read()` once it equals `want`, or after 10 s whatever it is.
fn wait_until<T: PartialEq>(want: T, read: impl Fn() -> T) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = read();
        if got == want || Instant::now() >= deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The (kind, deadline, case id) of every alert stored in `data`.
pub fn stored_alerts(data: &std::path::Path) -> Vec<(i32, String, String)> {
    let mut out = Vec::new();
    if let Ok(r) = hotline_ingest::sinks::store::Reader::open(data) {
        let _ = r.events("alert", 0, |body| {
            if let Ok(a) = <pb::Alert as prost::Message>::decode(&body[..]) {
                out.push((a.kind, a.deadline, a.case_id));
            }
            Ok(())
        });
    }
    out
}

pub fn ts(secs: i64) -> Option<hotline_proto::Timestamp> {
    Some(hotline_proto::Timestamp {
        seconds: secs,
        nanos: 0,
    })
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A valid phone complaint.
pub fn contact(id: &str, text: &str) -> pb::Contact {
    pb::Contact {
        contact_id: id.into(),
        channel: pb::Channel::Phone as i32,
        received_at: ts(now_secs() - 5),
        caller: Some(pb::Caller {
            phone: "13800138000".into(),
            ..Default::default()
        }),
        content: text.into(),
        location: Some(pb::Location {
            district_code: "510802".into(),
            address: "利州区某街道".into(),
        }),
        ..Default::default()
    }
}

/// A phone contact of `tenant` (empty: none named) in `district`, from
/// `phone`, received `ago` seconds ago.
pub fn city_contact(
    id: &str,
    tenant: &str,
    district: &str,
    phone: &str,
    text: &str,
    ago: i64,
) -> pb::Contact {
    let mut c = contact(id, text);
    c.tenant = tenant.into();
    c.received_at = ts(now_secs() - ago);
    c.caller = Some(pb::Caller {
        phone: phone.into(),
        ..Default::default()
    });
    c.location = Some(pb::Location {
        district_code: district.into(),
        address: String::new(),
    });
    c
}

/// `n` valid contacts with ids `<prefix>-<i>`, a mix of matters and 5 000 callers.
pub fn mixed_contacts(prefix: &str, n: usize) -> Vec<pb::Contact> {
    let texts = [
        "我要投诉小区物业，电梯坏了",
        "请问公积金怎么提取",
        "路灯坏了好几天",
        "家里停水了",
        "举报黑作坊无证经营",
        "楼下着火了",
    ];
    (0..n)
        .map(|i| {
            let mut c = contact(&format!("{prefix}-{i:06}"), texts[i % texts.len()]);
            c.caller = Some(pb::Caller {
                phone: format!("1390000{:04}", i % 5000),
                ..Default::default()
            });
            c
        })
        .collect()
}

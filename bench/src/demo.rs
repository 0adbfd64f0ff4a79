//! `hotline-bench demo`: replays `minutes` of a hotline day, compressed into
//! `seconds`, against a running daemon, and prints what happened: routes by
//! kind, sub-center and emergency transfers, repeats and clusters found, SLA
//! figures per queue and the alerts raised.
//!
//! The day: the traffic model's contacts at one a second (a large city's
//! peak), each phone contact with its call events (a wait drawn per queue, some
//! abandons; the main pool short of agents for two minutes), each message with
//! its acceptance (a few after the 3-minute limit), and the work orders
//! dispatched and signed by the ticket system — most in time, some not.
//! Event times run from `minutes` ago to now, so the daemon's windows and
//! deadlines see a real stretch of a day.
use crate::traffic::{Traffic, TrafficConfig};
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_client::IntakeClient;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// The daemon's gRPC address: host:port, http://host:port, or
    /// https://host:port (with --ca-cert).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub target: String,
    /// The daemon's admin address (for /metrics and the wallboard): host:port or http://host:port.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub admin: String,
    /// The certificate (PEM) that signs the daemon's TLS certificate, for an https:// target.
    #[arg(long)]
    pub ca_cert: Option<std::path::PathBuf>,
    /// Print the wallboard's address to watch while the day is replayed.
    #[arg(long)]
    pub open: bool,
    /// Minutes of a hotline day to replay.
    #[arg(long, default_value_t = 10)]
    pub minutes: u64,
    /// Seconds to replay them in.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Bearer token (a gateway and ticket-system token when the daemon has tokens).
    #[arg(long)]
    pub token: Option<String>,
}

/// One queue's figures at the end, from the daemon's gauges (1 h window).
#[derive(Debug, Clone, Serialize, Default)]
pub struct QueueFigures {
    pub queue: String,
    pub offered: f64,
    pub answered: f64,
    pub abandoned: f64,
    pub answer_rate: f64,
    pub service_level_3s: f64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct DemoReport {
    pub replayed_minutes: u64,
    pub took_seconds: f64,
    pub contacts: u64,
    pub refused: u64,
    pub routes: BTreeMap<String, u64>,
    /// Sub-center and emergency lines transferred to, by line.
    pub transfers: BTreeMap<String, u64>,
    pub special_matters: u64,
    pub repeats: u64,
    pub reopened: u64,
    pub clustered_contacts: u64,
    pub clusters: u64,
    pub call_events: u64,
    pub order_events: u64,
    pub queues: Vec<QueueFigures>,
    /// Alerts raised during the demo, by kind.
    pub alerts: BTreeMap<String, f64>,
}

impl crate::report::Printed for DemoReport {
    fn summary(&self) -> String {
        let mut s = format!(
            "replayed {} minutes of a hotline day in {:.1} s: {} contacts ({} refused), {} call/message events, {} work-order events\n\nroutes:\n",
            self.replayed_minutes,
            self.took_seconds,
            self.contacts,
            self.refused,
            self.call_events,
            self.order_events
        );
        for (k, v) in &self.routes {
            s += &format!("  {k:20} {v}\n");
        }
        s += "transfers:\n";
        for (k, v) in &self.transfers {
            s += &format!("  {k:20} {v}\n");
        }
        s += &format!(
            "dedup: {} repeats ({} reopened), {} contacts in {} clusters of several callers, {} special matters\n",
            self.repeats, self.reopened, self.clustered_contacts, self.clusters, self.special_matters
        );
        s += "service targets per queue (1 h window):\n";
        for q in &self.queues {
            s += &format!(
                "  {:10} offered {:5}  answered {:5}  abandoned {:4}  answer rate {:5.1} %  within 3 s {:5.1} %{}\n",
                q.queue,
                q.offered,
                q.answered,
                q.abandoned,
                q.answer_rate * 100.0,
                q.service_level_3s * 100.0,
                if q.answer_rate < 0.95 && q.offered >= 20.0 {
                    "  < 95 % target"
                } else {
                    ""
                }
            );
        }
        s += "alerts raised:\n";
        for (k, v) in &self.alerts {
            if *v > 0.0 {
                s += &format!("  {k:22} {v}\n");
            }
        }
        s
    }
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> hotline_proto::Timestamp {
    hotline_proto::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// `name{labels} value` lines of a Prometheus text page.
fn samples(page: &str) -> Vec<(String, f64)> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

async fn metrics(admin: &str) -> anyhow::Result<Vec<(String, f64)>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(admin).await?;
    s.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: {admin}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok(samples(body))
}

fn label<'a>(key: &'a str, name: &str) -> Option<&'a str> {
    let i = key.find(&format!("{name}=\""))? + name.len() + 2;
    let rest = &key[i..];
    Some(&rest[..rest.find('"')?])
}

fn alerts(m: &[(String, f64)]) -> BTreeMap<String, f64> {
    m.iter()
        .filter(|(k, _)| k.starts_with("hotline_alerts_total{"))
        .filter_map(|(k, v)| Some((label(k, "kind")?.to_string(), *v)))
        .collect()
}

fn with_token<T>(msg: T, token: &Option<String>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Some(t) = token {
        if let Ok(v) = format!("Bearer {t}").parse() {
            r.metadata_mut().insert("authorization", v);
        }
    }
    r
}

#[derive(Default)]
struct Tally {
    report: DemoReport,
    clusters: std::collections::HashSet<String>,
}

/// Counts one answered Submit; returns the decision and its dedup links.
fn count(
    t: &mut Tally,
    r: Result<tonic::Response<pb::Decision>, tonic::Status>,
) -> Option<(pb::Decision, pb::DedupLinks)> {
    t.report.contacts += 1;
    let d = match r {
        Ok(d) => d.into_inner(),
        Err(_) => {
            t.report.refused += 1;
            return None;
        }
    };
    let route = pb::RouteKind::try_from(d.route)
        .map(|r| r.as_str_name().to_string())
        .unwrap_or_default();
    *t.report.routes.entry(route).or_default() += 1;
    if d.route == pb::RouteKind::SubcenterTransfer as i32
        || d.route == pb::RouteKind::EmergencyTransfer as i32
    {
        for x in &d.targets {
            *t.report
                .transfers
                .entry(format!("{} {}", x.code, x.name))
                .or_default() += 1;
        }
    }
    if d.priority >= pb::Priority::Special as i32 {
        t.report.special_matters += 1;
    }
    let links = d.dedup.clone().unwrap_or_default();
    if !links.repeat_of.is_empty() {
        t.report.repeats += 1;
        t.report.reopened += u64::from(links.reopen);
    }
    if !links.cluster_id.is_empty() {
        t.report.clustered_contacts += 1;
        t.clusters.insert(links.cluster_id.clone());
    }
    Some((d, links))
}

/// An address given as `host:port`, `http://host:port` or
/// `https://host:port` (a trailing `/` ignored): (host:port, TLS).
pub fn address(s: &str) -> anyhow::Result<(String, bool)> {
    let s = s.trim().trim_end_matches('/');
    let (rest, tls) = if let Some(r) = s.strip_prefix("https://") {
        (r, true)
    } else {
        (s.strip_prefix("http://").unwrap_or(s), false)
    };
    if rest.is_empty() || rest.contains('/') || !rest.contains(':') {
        anyhow::bail!("{s:?} is not host:port, http://host:port or https://host:port");
    }
    Ok((rest.to_string(), tls))
}

pub async fn run(mut a: DemoArgs) -> anyhow::Result<DemoReport> {
    let (target, tls) = address(&a.target)?;
    let (admin, admin_tls) = address(&a.admin)?;
    if admin_tls {
        anyhow::bail!("the admin listener speaks plain HTTP: give --admin host:port");
    }
    a.admin = admin;
    let mut endpoint = tonic::transport::Endpoint::from_shared(format!(
        "{}://{target}",
        if tls { "https" } else { "http" }
    ))?;
    if tls {
        let Some(ca) = &a.ca_cert else {
            anyhow::bail!(
                "an https:// target needs --ca-cert (the certificate that signs the daemon's)"
            );
        };
        let pem =
            std::fs::read(ca).map_err(|e| anyhow::anyhow!("reading {}: {e}", ca.display()))?;
        let host = target.rsplit_once(':').map(|(h, _)| h).unwrap_or(&target);
        endpoint = endpoint.tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(pem))
                .domain_name(host),
        )?;
    }
    let channel = endpoint.connect().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach hotlined at {}: {e} (start it with the README's first command)",
            a.target
        )
    })?;
    if a.open {
        eprintln!(
            "demo: watch the wallboard at http://{}/wallboard (add ?token=<dashboard token> when the daemon has tokens)",
            a.admin
        );
    }
    let before = alerts(
        &metrics(&a.admin)
            .await
            .map_err(|e| anyhow::anyhow!("cannot read http://{}/metrics: {e}", a.admin))?,
    );
    let span_ms = (a.minutes * 60_000) as i64;
    let speed = span_ms as f64 / (a.seconds.max(1) * 1000) as f64;
    let real_start = chrono::Utc::now();
    let day_start = real_start - chrono::Duration::milliseconds(span_ms);
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let traffic = Traffic::new(TrafficConfig {
        seed: a.seed,
        start: day_start,
        mean_gap_ms: 1000,
        callers: 20_000,
        repeat_percent: 5,
        burst_per_mille: 15,
    });

    // Call and message events go on one client stream, order events on another.
    let (call_tx, call_rx) = mpsc::channel::<pb::CallEvent>(1024);
    let (order_tx, order_rx) = mpsc::channel::<pb::OrderEvent>(1024);
    let mut calls_client = IntakeClient::new(channel.clone());
    let mut orders_client = IntakeClient::new(channel.clone());
    let token = a.token.clone();
    let calls = tokio::spawn(async move {
        calls_client
            .report_call_events(with_token(ReceiverStream::new(call_rx), &token))
            .await
    });
    let token = a.token.clone();
    let orders = tokio::spawn(async move {
        orders_client
            .report_order_events(with_token(ReceiverStream::new(order_rx), &token))
            .await
    });

    let tally = Arc::new(Mutex::new(Tally::default()));
    let sem = Arc::new(tokio::sync::Semaphore::new(32));
    let started = Instant::now();
    let mut pending: Vec<(i64, pb::CallEvent)> = Vec::new();
    let mut tasks = Vec::new();
    for c in traffic {
        let at = c
            .received_at
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32))
            .unwrap_or(real_start);
        let v = (at - day_start).num_milliseconds();
        if v >= span_ms {
            break;
        }
        // Release the call events due by now, then wait for this contact's turn.
        pending.sort_by_key(|(t, _)| *t);
        let due = (v as f64 / speed) as u64;
        tokio::time::sleep_until((started + Duration::from_millis(due)).into()).await;
        let cut = pending.partition_point(|(t, _)| *t <= v);
        for (_, e) in pending.drain(..cut) {
            let _ = call_tx.send(e).await;
            if let Ok(mut t) = tally.lock() {
                t.report.call_events += 1;
            }
        }
        events_of(&c, at, (v, span_ms), day_start, &mut rng, &mut pending);
        let permit = sem.clone().acquire_owned().await?;
        let mut client = IntakeClient::new(channel.clone());
        let (tally, order_tx, token) = (tally.clone(), order_tx.clone(), a.token.clone());
        let dispatch_after = rng.gen_range(60..360);
        let dispatched = rng.gen_range(0..100) < 85;
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let r = client.submit(with_token(c, &token)).await;
            let Some((d, links)) = tally.lock().ok().and_then(|mut t| count(&mut t, r)) else {
                return;
            };
            // The ticket system dispatches most new work orders in time.
            if d.route == pb::RouteKind::WorkOrder as i32
                && links.repeat_of.is_empty()
                && dispatched
            {
                let now = chrono::Utc::now();
                let at = (at + chrono::Duration::seconds(dispatch_after)).min(now);
                for (typ, after) in [
                    (pb::OrderEventType::Dispatched, 0),
                    (pb::OrderEventType::Signed, 1),
                ] {
                    let ev = pb::OrderEvent {
                        case_id: d.case_id.clone(),
                        r#type: typ as i32,
                        at: Some(ts((at + chrono::Duration::seconds(after)).min(now))),
                        unit: d.lead_unit.clone(),
                        ..Default::default()
                    };
                    if order_tx.send(ev).await.is_ok() {
                        if let Ok(mut t) = tally.lock() {
                            t.report.order_events += 1;
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    // What is still to come after "now" (calls in progress, messages not yet
    // accepted) is not sent.
    pending.sort_by_key(|(t, _)| *t);
    let cut = pending.partition_point(|(t, _)| *t <= span_ms);
    for (_, e) in pending.drain(..cut) {
        let _ = call_tx.send(e).await;
        if let Ok(mut t) = tally.lock() {
            t.report.call_events += 1;
        }
    }
    drop(call_tx);
    drop(order_tx);
    let _ = calls.await;
    let _ = orders.await;
    // Gauges refresh and deadline ticks run every second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = metrics(&a.admin).await?;
    let mut report = tally
        .lock()
        .map(|t| {
            let mut r = t.report.clone();
            r.clusters = t.clusters.len() as u64;
            r
        })
        .map_err(|_| anyhow::anyhow!("tally lock poisoned"))?;
    report.replayed_minutes = a.minutes;
    report.took_seconds = started.elapsed().as_secs_f64();
    report.alerts = alerts(&after)
        .into_iter()
        .map(|(k, v)| {
            let b = before.get(&k).copied().unwrap_or(0.0);
            (k, v - b)
        })
        .collect();
    let mut queues: BTreeMap<String, QueueFigures> = BTreeMap::new();
    for (k, v) in &after {
        if label(k, "window") != Some("1h") {
            continue;
        }
        let Some(q) = label(k, "queue") else { continue };
        let f = queues.entry(q.to_string()).or_insert_with(|| QueueFigures {
            queue: q.to_string(),
            ..Default::default()
        });
        if k.starts_with("hotline_answer_rate_ratio{") {
            f.answer_rate = *v;
        } else if k.starts_with("hotline_service_level_ratio{") {
            f.service_level_3s = *v;
        } else if k.starts_with("hotline_window_calls{") {
            match label(k, "outcome") {
                Some("offered") => f.offered = *v,
                Some("answered") => f.answered = *v,
                Some("abandoned") => f.abandoned = *v,
                _ => {}
            }
        }
    }
    report.queues = queues.into_values().filter(|q| q.offered > 0.0).collect();
    Ok(report)
}

/// The call or message events of one contact, at virtual times (`v` the
/// contact's, `span` the replay's end), each with the virtual time to send
/// it at.
fn events_of(
    c: &pb::Contact,
    at: chrono::DateTime<chrono::Utc>,
    (v, span): (i64, i64),
    day_start: chrono::DateTime<chrono::Utc>,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<(i64, pb::CallEvent)>,
) {
    let ev = |id: &str, t: pb::CallEventType, ms: i64, queue: &str, ch: i32| {
        (
            ms,
            pb::CallEvent {
                call_id: id.to_string(),
                r#type: t as i32,
                at: Some(ts(day_start + chrono::Duration::milliseconds(ms))),
                queue: queue.to_string(),
                channel: ch,
                ..Default::default()
            },
        )
    };
    let id = format!("{}-call", c.contact_id);
    let _ = at;
    if c.channel == pb::Channel::Phone as i32 {
        let r = rng.gen_range(0..100);
        let queue = match r {
            0..=2 => "12366",
            3..=4 => "966110",
            _ => "12345",
        };
        // The main pool is two agents short between minutes 4 and 6 of the replay.
        let short = queue == "12345" && (240_000..360_000).contains(&v);
        let abandon_pct = if short {
            30
        } else if queue == "12345" {
            2
        } else {
            6
        };
        let mean_wait_ms = if short { 9_000.0 } else { 1_800.0 };
        out.push(ev(&id, pb::CallEventType::Offered, v, queue, c.channel));
        let wait = (-(1.0 - rng.gen::<f64>()).ln() * mean_wait_ms) as i64;
        if rng.gen_range(0..100) < abandon_pct {
            out.push(ev(
                &id,
                pb::CallEventType::Abandoned,
                v + wait.max(1500),
                queue,
                c.channel,
            ));
        } else {
            out.push(ev(
                &id,
                pb::CallEventType::Answered,
                v + wait,
                queue,
                c.channel,
            ));
            out.push(ev(
                &id,
                pb::CallEventType::Ended,
                v + wait + rng.gen_range(60_000..300_000),
                queue,
                c.channel,
            ));
        }
    } else {
        // SMS, WeChat, web, app: accepted by an agent, a few after 3 minutes.
        out.push(ev(&id, pb::CallEventType::Offered, v, "12345", c.channel));
        let late = rng.gen_range(0..100) < 15;
        let after = if late {
            rng.gen_range(190_000..400_000)
        } else {
            rng.gen_range(10_000..150_000)
        };
        // The replay runs faster than the wall clock the daemon's 3-minute
        // timer reads: sent at its own virtual time, an acceptance would
        // reach the daemon after the timer of its message expired, and
        // nearly every message would look late. An acceptance within the
        // replay goes with its message instead (its time stamp unchanged);
        // one after the replay's end is not sent.
        let (t, accepted) = ev(
            &id,
            pb::CallEventType::MessageAccepted,
            v + after,
            "12345",
            c.channel,
        );
        out.push((if t <= span { v } else { t }, accepted));
    }
}

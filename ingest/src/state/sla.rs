//! Live call and message service targets (Art. 11, 13(1), 26(1)): per-queue
//! call windows fed by every newly stored call event (gRPC or Kafka),
//! Prometheus gauges refreshed every second, one ANSWER_RATE_LOW /
//! ANSWER_RATE_RECOVERED per crossing of the 1 h answer-rate target, the
//! answer wait per queue and the message acceptance latency per channel (as
//! Prometheus histograms and HdrHistograms), and ACCEPT_LATE for a message
//! not accepted within 3 minutes. The arithmetic is the pure
//! `hotline_router::{calls, accept}`; this module owns the state and the clock.
use crate::config::SlaSection;
use crate::sinks::store::{Reader, StoreError};
use crate::state::orders::AlertOut;
use crate::state::today::Today;
use crate::telemetry::hdr;
use crate::wire;
use hdrhistogram::Histogram;
use hotline_proto::v1 as pb;
use hotline_router::accept::{AcceptConfig, AcceptOutcome, Acceptance};
use hotline_router::calls::{
    AnswerRateAlarm, Applied, CallEventKind, CallsConfig, QueueCalls, RateCrossing, Window,
};
use hotline_router::Channel;
use metrics::{counter, gauge, histogram};
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Most distinct queues tracked; further queue names are labelled `other`.
const MAX_QUEUES: usize = 64;

/// Targets and tolerances.
#[derive(Debug, Clone, Copy)]
pub struct SlaConfig {
    pub calls: CallsConfig,
    /// Answer-rate target (Art. 26(1): 95 %).
    pub answer_rate_target: f64,
    /// Offered calls in the hour needed before a low rate alarms.
    pub min_offered: u64,
    pub accept: AcceptConfig,
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig::from(&SlaSection::default())
    }
}

impl From<&SlaSection> for SlaConfig {
    fn from(s: &SlaSection) -> Self {
        SlaConfig {
            calls: CallsConfig {
                short_abandon: chrono::TimeDelta::seconds(s.short_abandon_secs),
                lateness: chrono::TimeDelta::seconds(s.lateness_secs),
                ..Default::default()
            },
            answer_rate_target: s.answer_rate_target,
            min_offered: s.min_offered_calls,
            accept: AcceptConfig {
                target: chrono::TimeDelta::seconds(s.accept_target_secs),
                ..Default::default()
            },
        }
    }
}

struct QueueState {
    calls: QueueCalls,
    alarm: AnswerRateAlarm,
    /// Answer waits since the last snapshot.
    wait: Histogram<u64>,
}

struct Messages {
    acceptance: Acceptance,
    /// Acceptance latencies since the last snapshot, per channel.
    latency: BTreeMap<Channel, Histogram<u64>>,
    /// Acceptance latencies of the day (Beijing time), per channel: the wallboard's.
    today: Today<BTreeMap<Channel, Histogram<u64>>>,
    /// ACCEPT_LATE alerts raised by an acceptance, raised at the next tick.
    late: Vec<AlertOut>,
}

/// The shared tracker state.
pub struct Sla {
    cfg: SlaConfig,
    /// The tenant's city code: the `tenant` label of its gauges.
    tenant: String,
    queues: Mutex<HashMap<String, QueueState>>,
    messages: Mutex<Messages>,
}

/// The label of a queue: the 12345 pool, the sub-centers, a unit's expert
/// seats (`expert:<unit key>`), else `other` — a small fixed set.
pub fn queue_label(q: &str) -> String {
    let ok_expert = q.strip_prefix("expert:").is_some_and(|u| {
        !u.is_empty()
            && u.len() <= 32
            && u.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    });
    if matches!(q, "12345" | "12366" | "966110") || ok_expert {
        q.to_string()
    } else {
        "other".to_string()
    }
}

/// A queue's counters over every window as of `now` (a window without
/// calls reads as meeting its targets).
fn windows(q: &QueueState, now: chrono::DateTime<chrono::Utc>) -> Vec<pb::WindowStats> {
    Window::ALL
        .iter()
        .map(|w| {
            let c = q.calls.window(*w, now);
            pb::WindowStats {
                window: w.as_str().to_string(),
                offered: c.offered,
                answered: c.answered,
                abandoned: c.abandoned,
                short_abandoned: c.short_abandoned,
                answered_within_3s: c.answered_within_3s,
                abandoned_within_3s: c.abandoned_within_3s,
                answer_rate: c.answer_rate().unwrap_or(1.0),
                service_level: c.service_level().unwrap_or(1.0),
                service_level_with_abandons: c.service_level_with_abandons().unwrap_or(1.0),
            }
        })
        .collect()
}

fn kind(t: pb::CallEventType) -> Option<CallEventKind> {
    match t {
        pb::CallEventType::Offered => Some(CallEventKind::Offered),
        pb::CallEventType::Answered => Some(CallEventKind::Answered),
        pb::CallEventType::Abandoned => Some(CallEventKind::Abandoned),
        pb::CallEventType::Transferred => Some(CallEventKind::Transferred),
        pb::CallEventType::Ended => Some(CallEventKind::Ended),
        pb::CallEventType::MessageAccepted | pb::CallEventType::CallEventUnspecified => None,
    }
}

/// SMS, WeChat, web and app contacts are accepted, not answered.
fn is_message(c: Option<Channel>) -> bool {
    matches!(
        c,
        Some(Channel::Sms | Channel::Wechat | Channel::Web | Channel::App)
    )
}

fn accept_late(
    id: &str,
    channel: Channel,
    queue: &str,
    due: hotline_router::Instant,
    now: hotline_router::Instant,
) -> AlertOut {
    let a = pb::Alert {
        alert_id: format!("{id}:ACCEPT_LATE"),
        kind: pb::AlertKind::AcceptLate as i32,
        at: Some(wire::timestamp(now)),
        queue: queue.to_string(),
        deadline: "accept".into(),
        due: Some(wire::timestamp(due)),
        message: format!("{} message not accepted within 3 min", channel.as_str()),
        ..Default::default()
    };
    AlertOut::keyed(a, format!("msg:{id}"), 0, due.timestamp_millis())
}

impl Sla {
    pub fn new(cfg: SlaConfig, tenant: &str) -> Arc<Sla> {
        Arc::new(Sla {
            cfg,
            tenant: tenant.to_string(),
            queues: Mutex::new(HashMap::new()),
            messages: Mutex::new(Messages {
                acceptance: Acceptance::new(cfg.accept),
                latency: BTreeMap::new(),
                today: Today::default(),
                late: Vec::new(),
            }),
        })
    }

    /// Forgets every call window and pending message, before a rebuild
    /// from the store (`admit::restore::rebuild`).
    pub fn reset(&self) {
        if let Ok(mut q) = self.queues.lock() {
            q.clear();
        }
        if let Ok(mut m) = self.messages.lock() {
            *m = Messages {
                acceptance: Acceptance::new(self.cfg.accept),
                latency: BTreeMap::new(),
                today: Today::default(),
                late: Vec::new(),
            };
        }
    }

    /// Counts a call or message event that was stored for the first time.
    pub fn call_event(&self, ev: &pb::CallEvent) {
        let (Ok(t), Some(ts)) = (pb::CallEventType::try_from(ev.r#type), ev.at.as_ref()) else {
            return;
        };
        let Ok(at) = wire::instant(ts, "at") else {
            return;
        };
        let channel = wire::channel_from(ev.channel);
        if t == pb::CallEventType::MessageAccepted
            || (t == pb::CallEventType::Offered && is_message(channel))
        {
            self.message_event(ev, t, channel, at);
            return;
        }
        let Some(k) = kind(t) else { return };
        let Ok(mut qs) = self.queues.lock() else {
            return;
        };
        let mut label = queue_label(&ev.queue);
        if !qs.contains_key(&label) && qs.len() >= MAX_QUEUES {
            label = "other".into();
        }
        let cfg = self.cfg;
        let q = qs.entry(label.clone()).or_insert_with(|| QueueState {
            calls: QueueCalls::new(cfg.calls),
            alarm: AnswerRateAlarm::new(cfg.answer_rate_target, cfg.min_offered),
            wait: hdr::fresh(),
        });
        let (applied, wait) = q.calls.apply_measured(&ev.call_id, k, at);
        if let Some(ms) = wait {
            hdr::record_ms(&mut q.wait, ms);
            histogram!("hotline_answer_wait_seconds", "queue" => label.clone())
                .record(ms as f64 / 1000.0);
        }
        let outcome = match applied {
            Applied::Counted | Applied::Pending => "counted",
            Applied::Replayed => "replayed",
            Applied::LateCounted => "late",
            Applied::TooOld => "too_old",
        };
        counter!("hotline_call_events_total", "queue" => label, "outcome" => outcome).increment(1);
    }

    fn message_event(
        &self,
        ev: &pb::CallEvent,
        t: pb::CallEventType,
        channel: Option<Channel>,
        at: hotline_router::Instant,
    ) {
        let Ok(mut m) = self.messages.lock() else {
            return;
        };
        let ch = channel
            .filter(|c| is_message(Some(*c)))
            .unwrap_or(Channel::Sms);
        let out = if t == pb::CallEventType::MessageAccepted {
            m.acceptance.accepted(&ev.call_id, ch, at)
        } else {
            m.acceptance.arrived(&ev.call_id, ch, at)
        };
        let outcome = match out {
            AcceptOutcome::Waiting => "counted",
            AcceptOutcome::Replayed => "replayed",
            AcceptOutcome::Accepted {
                channel,
                latency_ms,
                late,
            } => {
                let h = m.latency.entry(channel).or_insert_with(hdr::fresh);
                hdr::record_ms(h, latency_ms);
                if let Some(day) = m.today.at(at) {
                    hdr::record_ms(day.entry(channel).or_insert_with(hdr::fresh), latency_ms);
                }
                histogram!("hotline_accept_latency_seconds", "channel" => channel.as_str())
                    .record(latency_ms as f64 / 1000.0);
                if late {
                    let due = at
                        - chrono::Duration::milliseconds(
                            latency_ms - self.cfg.accept.target.num_milliseconds(),
                        );
                    let a = accept_late(&ev.call_id, channel, &queue_label(&ev.queue), due, at);
                    m.late.push(a);
                }
                "counted"
            }
        };
        counter!("hotline_message_events_total", "outcome" => outcome).increment(1);
    }

    /// Refreshes the gauges as of `now`; returns the alerts to raise.
    pub fn refresh(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<AlertOut> {
        let mut out = Vec::new();
        if let Ok(mut qs) = self.queues.lock() {
            for (label, q) in qs.iter_mut() {
                q.calls.expire(now);
                for w in Window::ALL {
                    let c = q.calls.window(w, now);
                    let l = [
                        ("queue", label.clone()),
                        ("window", w.as_str().to_string()),
                        ("tenant", self.tenant.clone()),
                    ];
                    for (outcome, n) in [
                        ("offered", c.offered),
                        ("answered", c.answered),
                        ("abandoned", c.abandoned),
                        ("short_abandoned", c.short_abandoned),
                    ] {
                        let labels = [
                            l[0].clone(),
                            l[1].clone(),
                            l[2].clone(),
                            ("outcome", outcome.to_string()),
                        ];
                        gauge!("hotline_window_calls", &labels).set(n as f64);
                    }
                    // No eligible call: report 1 (nothing missed) rather than a gap.
                    gauge!("hotline_answer_rate_ratio", &l).set(c.answer_rate().unwrap_or(1.0));
                    gauge!("hotline_service_level_ratio", &l).set(c.service_level().unwrap_or(1.0));
                    gauge!("hotline_service_level_with_abandons_ratio", &l)
                        .set(c.service_level_with_abandons().unwrap_or(1.0));
                    if w == Window::Hour1 {
                        if let Some(x) = q.alarm.check(&c) {
                            out.push(rate_alert(label, x, now));
                        }
                    }
                }
                gauge!("hotline_tracked_calls", "queue" => label.clone(), "tenant" => self.tenant.clone())
                    .set(q.calls.tracked() as f64);
            }
        }
        if let Ok(mut m) = self.messages.lock() {
            out.append(&mut m.late);
            for l in m.acceptance.due(now) {
                out.push(accept_late(&l.message_id, l.channel, "", l.due, now));
            }
            gauge!("hotline_pending_messages", "tenant" => self.tenant.clone())
                .set(m.acceptance.len() as f64);
        }
        out
    }

    /// Per-queue window counters and answer-wait histograms (since the last
    /// call), for a StatsSnapshot; `only` filters by queue when not empty.
    pub fn queue_stats(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<pb::QueueStats> {
        let Ok(mut qs) = self.queues.lock() else {
            return Vec::new();
        };
        let mut out: Vec<pb::QueueStats> = qs
            .iter_mut()
            .map(|(label, q)| {
                let windows = windows(q, now);
                let snap = hdr::snapshot("answer_wait", &q.wait);
                q.wait.reset();
                pb::QueueStats {
                    queue: label.clone(),
                    windows,
                    histograms: vec![snap],
                }
            })
            .collect();
        out.sort_by(|a, b| a.queue.cmp(&b.queue));
        out
    }

    /// The answer-rate target (Art. 26(1)).
    pub fn answer_rate_target(&self) -> f64 {
        self.cfg.answer_rate_target
    }

    /// Per-queue window counters as of `now`, without touching the
    /// snapshots' histograms (the wallboard's view).
    pub fn queue_windows(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<pb::QueueStats> {
        let Ok(qs) = self.queues.lock() else {
            return Vec::new();
        };
        let mut out: Vec<pb::QueueStats> = qs
            .iter()
            .map(|(label, q)| pb::QueueStats {
                queue: label.clone(),
                windows: windows(q, now),
                histograms: Vec::new(),
            })
            .collect();
        out.sort_by(|a, b| a.queue.cmp(&b.queue));
        out
    }

    /// Today's (Beijing time, as of `now`) accepted messages per channel:
    /// (channel, count, p50 s, p95 s).
    pub fn accept_today(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<(&'static str, u64, f64, f64)> {
        let Ok(m) = self.messages.lock() else {
            return Vec::new();
        };
        let q = |h: &Histogram<u64>, x: f64| h.value_at_quantile(x) as f64 / 1e6;
        m.today
            .of(now)
            .into_iter()
            .flatten()
            .map(|(ch, h)| (ch.as_str(), h.len(), q(h, 0.5), q(h, 0.95)))
            .collect()
    }

    /// Acceptance-latency histograms per channel since the last call.
    pub fn accept_histograms(&self) -> Vec<pb::HistogramSnapshot> {
        let Ok(mut m) = self.messages.lock() else {
            return Vec::new();
        };
        m.latency
            .iter_mut()
            .map(|(ch, h)| {
                let s = hdr::snapshot(&format!("accept_latency:{}", ch.as_str()), h);
                h.reset();
                s
            })
            .collect()
    }

    /// Rebuilds the windows from the call events stored since `since_ms`
    /// (24 h and the allowed lateness are enough) and the answer-rate alarm
    /// state from the last stored crossing per queue. Returns events replayed.
    pub fn restore(&self, reader: &Reader, since_ms: i64) -> Result<u64, StoreError> {
        let n = reader.events("call", since_ms, |body| {
            if let Ok(ev) = pb::CallEvent::decode(&body[..]) {
                self.call_event(&ev);
            }
            Ok(())
        })?;
        let mut last: HashMap<String, bool> = HashMap::new();
        reader.events("alert", since_ms, |body| {
            if let Ok(a) = pb::Alert::decode(&body[..]) {
                match pb::AlertKind::try_from(a.kind) {
                    Ok(pb::AlertKind::AnswerRateLow) => {
                        last.insert(a.queue, true);
                    }
                    Ok(pb::AlertKind::AnswerRateRecovered) => {
                        last.insert(a.queue, false);
                    }
                    _ => {}
                }
            }
            Ok(())
        })?;
        if let Ok(mut qs) = self.queues.lock() {
            for (queue, low) in last {
                if let Some(q) = qs.get_mut(&queue) {
                    q.alarm.restore(low);
                }
            }
        }
        // ACCEPT_LATE alerts found while replaying go out with the next tick:
        // their key (message, due) is the one stored before the restart, so
        // only those that never reached the store are raised.
        Ok(n)
    }
}

fn rate_alert(queue: &str, x: RateCrossing, now: hotline_router::Instant) -> AlertOut {
    let (kind, rate, msg) = match x {
        RateCrossing::Low { rate } => (
            pb::AlertKind::AnswerRateLow,
            rate,
            "1 h answer rate under the target",
        ),
        RateCrossing::Recovered { rate } => (
            pb::AlertKind::AnswerRateRecovered,
            rate,
            "1 h answer rate back at target",
        ),
    };
    crate::state::orders::queue_alert(kind, queue, rate, now, msg)
}

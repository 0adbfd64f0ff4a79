//! Live call service targets (Art. 11, 13(1), 26(1)): per-queue call windows
//! fed by every newly stored call event (gRPC or Kafka), Prometheus gauges
//! refreshed every second, and one ANSWER_RATE_LOW / ANSWER_RATE_RECOVERED
//! per crossing of the 1 h answer-rate target. The arithmetic is the pure
//! `hotline_router::calls`; this module owns the state and the clock.
use crate::convert;
use hotline_proto::v1 as pb;
use hotline_router::calls::{
    AnswerRateAlarm, CallEventKind, CallsConfig, QueueCalls, RateCrossing, Window,
};
use metrics::{counter, gauge};
use std::collections::HashMap;
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
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            calls: CallsConfig::default(),
            answer_rate_target: 0.95,
            min_offered: 20,
        }
    }
}

struct QueueState {
    calls: QueueCalls,
    alarm: AnswerRateAlarm,
}

/// The shared tracker state.
pub struct Sla {
    cfg: SlaConfig,
    queues: Mutex<HashMap<String, QueueState>>,
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

fn kind(t: i32) -> Option<CallEventKind> {
    match pb::CallEventType::try_from(t).ok()? {
        pb::CallEventType::Offered => Some(CallEventKind::Offered),
        pb::CallEventType::Answered => Some(CallEventKind::Answered),
        pb::CallEventType::Abandoned => Some(CallEventKind::Abandoned),
        pb::CallEventType::Transferred => Some(CallEventKind::Transferred),
        pb::CallEventType::Ended => Some(CallEventKind::Ended),
        pb::CallEventType::MessageAccepted | pb::CallEventType::CallEventUnspecified => None,
    }
}

impl Sla {
    pub fn new(cfg: SlaConfig) -> Arc<Sla> {
        Arc::new(Sla {
            cfg,
            queues: Mutex::new(HashMap::new()),
        })
    }

    /// Counts a call event that was stored for the first time.
    pub fn call_event(&self, ev: &pb::CallEvent) {
        let (Some(k), Some(ts)) = (kind(ev.r#type), ev.at.as_ref()) else {
            return;
        };
        let Ok(at) = convert::instant(ts, "at") else {
            return;
        };
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
        });
        let outcome = match q.calls.apply(&ev.call_id, k, at) {
            hotline_router::calls::Applied::Counted | hotline_router::calls::Applied::Pending => {
                "counted"
            }
            hotline_router::calls::Applied::Replayed => "replayed",
            hotline_router::calls::Applied::LateCounted => "late",
            hotline_router::calls::Applied::TooOld => "too_old",
        };
        counter!("hotline_call_events_total", "queue" => label, "outcome" => outcome).increment(1);
    }

    /// Refreshes the gauges as of `now`; returns the answer-rate crossings.
    pub fn refresh(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<(String, RateCrossing)> {
        let mut out = Vec::new();
        let Ok(mut qs) = self.queues.lock() else {
            return out;
        };
        for (label, q) in qs.iter_mut() {
            q.calls.expire(now);
            for w in Window::ALL {
                let c = q.calls.window(w, now);
                let l = [("queue", label.clone()), ("window", w.as_str().to_string())];
                for (outcome, n) in [
                    ("offered", c.offered),
                    ("answered", c.answered),
                    ("abandoned", c.abandoned),
                    ("short_abandoned", c.short_abandoned),
                ] {
                    let labels = [l[0].clone(), l[1].clone(), ("outcome", outcome.to_string())];
                    gauge!("hotline_window_calls", &labels).set(n as f64);
                }
                // No eligible call: report 1 (nothing missed) rather than a gap.
                gauge!("hotline_answer_rate_ratio", &l).set(c.answer_rate().unwrap_or(1.0));
                gauge!("hotline_service_level_ratio", &l).set(c.service_level().unwrap_or(1.0));
                gauge!("hotline_service_level_with_abandons_ratio", &l)
                    .set(c.service_level_with_abandons().unwrap_or(1.0));
                if w == Window::Hour1 {
                    if let Some(x) = q.alarm.check(&c) {
                        out.push((label.clone(), x));
                    }
                }
            }
            gauge!("hotline_tracked_calls", "queue" => label.clone()).set(q.calls.tracked() as f64);
        }
        out
    }

    /// Refreshes every second until `shutdown`; each crossing becomes an
    /// alert, stored and published like every other (`orders::raise`).
    pub async fn run(
        self: Arc<Self>,
        committer: tokio::sync::mpsc::Sender<crate::committer::Job>,
        publisher: Option<crate::kafka::Publisher>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.wait_for(|v| *v) => break,
            }
            let now = chrono::Utc::now();
            for (queue, x) in self.refresh(now) {
                let (kind, rate, msg) = match x {
                    RateCrossing::Low { rate } => (
                        pb::AlertKind::AnswerRateLow,
                        rate,
                        "1 h answer rate under the 95 % target",
                    ),
                    RateCrossing::Recovered { rate } => (
                        pb::AlertKind::AnswerRateRecovered,
                        rate,
                        "1 h answer rate back at target",
                    ),
                };
                let a = crate::orders::queue_alert(kind, &queue, rate, now, msg);
                crate::orders::raise(a, &committer, publisher.as_ref()).await;
            }
        }
    }
}

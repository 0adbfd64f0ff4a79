//! Message acceptance (Art. 13(1)): an SMS, WeChat, web or app contact must
//! be accepted by an agent within 3 minutes of arriving. The gateway reports
//! the arrival as `OFFERED` on a message channel and the acceptance as
//! `MESSAGE_ACCEPTED`, both under the message's id. This module pairs them in
//! either order, yields the acceptance latency once per message, and raises
//! `ACCEPT_LATE` once per message: at the first tick past the 3-minute limit
//! when still unaccepted, or on an acceptance that arrives already late.
//!
//! Memory is bounded: at most `max_pending` messages, the oldest arrival
//! evicted first (counted), and anything untouched for 24 h forgotten.
//! Pure: time comes from the events and the caller's `now`.
use crate::model::{Channel, Instant};
use std::collections::{BTreeSet, HashMap};

/// The 3-minute acceptance target for messages (Art. 13(1)).
pub const ACCEPT_TARGET_MS: i64 = 180_000;
const FORGET_MS: i64 = 24 * 3_600_000;

/// Settings.
#[derive(Debug, Clone, Copy)]
pub struct AcceptConfig {
    /// The acceptance limit (Art. 13(1): 3 minutes).
    pub target: chrono::TimeDelta,
    pub max_pending: usize,
}

impl Default for AcceptConfig {
    fn default() -> Self {
        AcceptConfig {
            target: chrono::TimeDelta::milliseconds(ACCEPT_TARGET_MS),
            max_pending: 200_000,
        }
    }
}

/// What one event produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// Nothing to report yet (arrival recorded, or acceptance waiting for its arrival).
    Waiting,
    /// The message's acceptance latency, reported once; `late` when past the
    /// target and no ACCEPT_LATE was raised for it before.
    Accepted {
        channel: Channel,
        latency_ms: i64,
        late: bool,
    },
    /// The same event was seen before.
    Replayed,
}

/// A message past its limit without acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateMessage {
    pub message_id: String,
    pub channel: Channel,
    pub arrived: Instant,
    pub due: Instant,
}

#[derive(Debug, Clone)]
struct Pending {
    channel: Channel,
    arrived_ms: Option<i64>,
    accepted_ms: Option<i64>,
    late_fired: bool,
    done: bool,
    /// The key under which this message sits in `order`.
    order_ms: i64,
}

/// Messages waiting for acceptance, with a timer index by due instant.
#[derive(Debug, Clone, Default)]
pub struct Acceptance {
    cfg: AcceptConfig,
    pending: HashMap<String, Pending>,
    /// (due or last-touched ms, id): the timer of unaccepted messages and
    /// the expiry order of the others.
    order: BTreeSet<(i64, String)>,
    pub evicted: u64,
}

fn at(ms: i64) -> Instant {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Acceptance {
    pub fn new(cfg: AcceptConfig) -> Acceptance {
        Acceptance {
            cfg,
            ..Default::default()
        }
    }

    /// Messages held now.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn reindex(&mut self, id: &str, key: i64) {
        if let Some(p) = self.pending.get_mut(id) {
            if p.order_ms != key {
                self.order.remove(&(p.order_ms, id.to_string()));
                p.order_ms = key;
                self.order.insert((key, id.to_string()));
            }
        }
    }

    fn entry(&mut self, id: &str, channel: Channel, ms: i64) -> &mut Pending {
        if !self.pending.contains_key(id) && self.pending.len() >= self.cfg.max_pending {
            if let Some((_, old)) = self.order.pop_first() {
                self.pending.remove(&old);
                self.evicted += 1;
            }
        }
        let order = &mut self.order;
        self.pending.entry(id.to_string()).or_insert_with(|| {
            let key = ms + FORGET_MS;
            order.insert((key, id.to_string()));
            Pending {
                channel,
                arrived_ms: None,
                accepted_ms: None,
                late_fired: false,
                done: false,
                order_ms: key,
            }
        })
    }

    /// A message `id` arrived on `channel` at `t` (`OFFERED` on a message channel).
    pub fn arrived(&mut self, id: &str, channel: Channel, t: Instant) -> AcceptOutcome {
        let ms = t.timestamp_millis();
        let p = self.entry(id, channel, ms);
        if p.arrived_ms.is_some() {
            return AcceptOutcome::Replayed;
        }
        p.arrived_ms = Some(ms);
        p.channel = channel;
        self.settle(id, ms)
    }

    /// Message `id` was accepted by an agent at `t` (`MESSAGE_ACCEPTED`).
    pub fn accepted(&mut self, id: &str, channel: Channel, t: Instant) -> AcceptOutcome {
        let ms = t.timestamp_millis();
        let p = self.entry(id, channel, ms);
        if p.accepted_ms.is_some() {
            return AcceptOutcome::Replayed;
        }
        p.accepted_ms = Some(ms);
        self.settle(id, ms)
    }

    /// Pairs arrival and acceptance; puts the message under its timer while
    /// it waits, else under the instant it is forgotten.
    fn settle(&mut self, id: &str, ms: i64) -> AcceptOutcome {
        let target = self.cfg.target.num_milliseconds();
        let Some(p) = self.pending.get_mut(id) else {
            return AcceptOutcome::Waiting;
        };
        let (out, key) = match (p.arrived_ms, p.accepted_ms) {
            (Some(a), Some(b)) => {
                p.done = true;
                let latency_ms = (b - a).max(0);
                let late = latency_ms > target && !p.late_fired;
                p.late_fired |= late;
                let out = AcceptOutcome::Accepted {
                    channel: p.channel,
                    latency_ms,
                    late,
                };
                (out, ms.max(a).max(b) + FORGET_MS)
            }
            (Some(a), None) if !p.late_fired => (AcceptOutcome::Waiting, a + target),
            _ => (AcceptOutcome::Waiting, ms + FORGET_MS),
        };
        self.reindex(id, key);
        out
    }

    /// Messages whose limit passed before `now` without acceptance, each
    /// once; forgets messages untouched for 24 h.
    pub fn due(&mut self, now: Instant) -> Vec<LateMessage> {
        let now_ms = now.timestamp_millis();
        let target = self.cfg.target.num_milliseconds();
        let mut out = Vec::new();
        while let Some((t, id)) = self.order.first().cloned() {
            if t >= now_ms {
                break;
            }
            self.order.pop_first();
            let Some(p) = self.pending.get_mut(&id) else {
                continue;
            };
            match p.arrived_ms {
                Some(a) if !p.done && !p.late_fired => {
                    p.late_fired = true;
                    out.push(LateMessage {
                        message_id: id.clone(),
                        channel: p.channel,
                        arrived: at(a),
                        due: at(a + target),
                    });
                    // Kept for its latency when the acceptance comes, then forgotten.
                    p.order_ms = t + FORGET_MS;
                    self.order.insert((p.order_ms, id));
                }
                _ => {
                    self.pending.remove(&id);
                }
            }
        }
        out
    }
}

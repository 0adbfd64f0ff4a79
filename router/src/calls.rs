//! Call service targets per queue (Art. 11, 13(1), 26(1)): offered, answered,
//! abandoned and short-abandoned calls over sliding 15 min / 1 h / 24 h
//! windows and the calendar day (Asia/Shanghai), by event time.
//!
//! - answer rate = answered ÷ (offered − short abandons);
//! - service level = answered within 3 s ÷ answered;
//! - service level with abandons = (answered ≤ 3 s + abandoned ≤ 3 s) ÷ (answered + abandoned).
//!
//! A call counts in the minute it was offered. A replayed event (same call id
//! and type) counts once. Events older than the watermark minus the allowed
//! lateness are counted as late; they still count if their minute is within
//! the 24 h kept, and are otherwise reported as too old, never silently dropped.
//! Pure: time comes from the events.
use crate::deadlines::LOCAL_OFFSET_SECS;
use crate::model::Instant;
use std::collections::{BTreeSet, HashMap};

/// Minutes kept: 24 h plus the allowed lateness margin.
const RING_MINUTES: usize = 24 * 60 + 60;
/// The 3-second answer target (Art. 13(1)).
pub const ANSWER_TARGET_MS: i64 = 3_000;

/// What happened to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallEventKind {
    Offered,
    Answered,
    Abandoned,
    Transferred,
    Ended,
}

/// Counters of one minute or one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub short_abandoned: u64,
    pub answered_within_3s: u64,
    pub abandoned_within_3s: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.offered += o.offered;
        self.answered += o.answered;
        self.abandoned += o.abandoned;
        self.short_abandoned += o.short_abandoned;
        self.answered_within_3s += o.answered_within_3s;
        self.abandoned_within_3s += o.abandoned_within_3s;
    }

    /// answered ÷ (offered − short abandons); `None` with no eligible call.
    pub fn answer_rate(&self) -> Option<f64> {
        let d = self.offered.saturating_sub(self.short_abandoned);
        (d > 0).then(|| self.answered as f64 / d as f64)
    }

    /// answered within 3 s ÷ answered.
    pub fn service_level(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.answered_within_3s as f64 / self.answered as f64)
    }

    /// (answered ≤ 3 s + abandoned ≤ 3 s) ÷ (answered + abandoned).
    pub fn service_level_with_abandons(&self) -> Option<f64> {
        let d = self.answered + self.abandoned;
        (d > 0).then(|| (self.answered_within_3s + self.abandoned_within_3s) as f64 / d as f64)
    }
}

/// The windows reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Min15,
    Hour1,
    Hour24,
    /// Since local (Asia/Shanghai) midnight.
    Day,
}

impl Window {
    pub const ALL: [Window; 4] = [Window::Min15, Window::Hour1, Window::Hour24, Window::Day];
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Min15 => "15m",
            Window::Hour1 => "1h",
            Window::Hour24 => "24h",
            Window::Day => "day",
        }
    }
}

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Counted,
    /// Same call id and type seen before.
    Replayed,
    /// Older than the allowed lateness but still within the 24 h kept: counted.
    LateCounted,
    /// Older than the 24 h kept: only counted as late.
    TooOld,
    /// The call's state was evicted or never offered here; kept for when OFFERED arrives.
    Pending,
}

#[derive(Debug, Clone, Default)]
struct CallState {
    offered_ms: Option<i64>,
    answered_ms: Option<i64>,
    abandoned_ms: Option<i64>,
    seen: u8,
    counted_outcome: bool,
    counted_offer: bool,
    last_ms: i64,
}

fn bit(k: CallEventKind) -> u8 {
    match k {
        CallEventKind::Offered => 1,
        CallEventKind::Answered => 2,
        CallEventKind::Abandoned => 4,
        CallEventKind::Transferred => 8,
        CallEventKind::Ended => 16,
    }
}

/// Settings of a queue's tracker.
#[derive(Debug, Clone, Copy)]
pub struct CallsConfig {
    /// A caller who hangs up within this is a short abandon (default 0: none).
    pub short_abandon: chrono::TimeDelta,
    /// Allowed lateness behind the newest event (default 60 s).
    pub lateness: chrono::TimeDelta,
    /// Most calls tracked at once; the least recently touched is evicted past it.
    pub max_calls: usize,
}

impl Default for CallsConfig {
    fn default() -> Self {
        CallsConfig {
            short_abandon: chrono::TimeDelta::zero(),
            lateness: chrono::TimeDelta::seconds(60),
            max_calls: 200_000,
        }
    }
}

/// One queue's calls and minute counters.
#[derive(Debug, Clone)]
pub struct QueueCalls {
    cfg: CallsConfig,
    /// Minute counters, indexed by (minute since epoch) mod ring size.
    ring: Vec<(i64, Counts)>,
    calls: HashMap<String, CallState>,
    /// (last touched ms, call id) of every tracked call: eviction and expiry
    /// take the oldest in O(log n).
    order: BTreeSet<(i64, String)>,
    /// Newest event time seen, ms.
    watermark_ms: i64,
    pub late: u64,
    pub too_old: u64,
    pub evicted: u64,
}

fn minute(ms: i64) -> i64 {
    ms.div_euclid(60_000)
}

impl QueueCalls {
    pub fn new(cfg: CallsConfig) -> QueueCalls {
        QueueCalls {
            cfg,
            ring: vec![(i64::MIN, Counts::default()); RING_MINUTES],
            calls: HashMap::new(),
            order: BTreeSet::new(),
            watermark_ms: i64::MIN,
            late: 0,
            too_old: 0,
            evicted: 0,
        }
    }

    fn bucket(&mut self, ms: i64) -> Option<&mut Counts> {
        let m = minute(ms);
        if self.watermark_ms != i64::MIN && m <= minute(self.watermark_ms) - RING_MINUTES as i64 {
            return None;
        }
        let slot = &mut self.ring[m.rem_euclid(RING_MINUTES as i64) as usize];
        if slot.0 != m {
            *slot = (m, Counts::default());
        }
        Some(&mut slot.1)
    }

    /// Applies one event of call `call_id` at `at`.
    pub fn apply(&mut self, call_id: &str, kind: CallEventKind, at: Instant) -> Applied {
        self.apply_measured(call_id, kind, at).0
    }

    /// [`apply`](Self::apply), also giving the answer wait (answered −
    /// offered, ms) when this event completes an answered call for the first time.
    pub fn apply_measured(
        &mut self,
        call_id: &str,
        kind: CallEventKind,
        at: Instant,
    ) -> (Applied, Option<i64>) {
        let ms = at.timestamp_millis();
        let late = self.watermark_ms != i64::MIN
            && ms < self.watermark_ms - self.cfg.lateness.num_milliseconds();
        if late {
            self.late += 1;
        }
        self.watermark_ms = self.watermark_ms.max(ms);
        if self.calls.len() >= self.cfg.max_calls && !self.calls.contains_key(call_id) {
            self.evict_oldest();
        }
        let st = self
            .calls
            .entry(call_id.to_string())
            .or_insert_with(|| CallState {
                last_ms: i64::MIN,
                ..Default::default()
            });
        if st.seen & bit(kind) != 0 {
            return (Applied::Replayed, None);
        }
        st.seen |= bit(kind);
        match kind {
            CallEventKind::Offered => st.offered_ms = Some(ms),
            CallEventKind::Answered => st.answered_ms = Some(ms),
            CallEventKind::Abandoned => st.abandoned_ms = Some(ms),
            CallEventKind::Transferred | CallEventKind::Ended => {}
        }
        let before = st.last_ms;
        st.last_ms = st.last_ms.max(ms);
        let st = st.clone();
        if st.last_ms != before {
            self.order.remove(&(before, call_id.to_string()));
            self.order.insert((st.last_ms, call_id.to_string()));
        }
        let Some(offered) = st.offered_ms else {
            return (Applied::Pending, None);
        };
        let short = self.cfg.short_abandon.num_milliseconds();
        let mut delta = Counts::default();
        let mut mark_offer = false;
        let mut mark_outcome = false;
        let mut wait = None;
        if !st.counted_offer {
            delta.offered = 1;
            mark_offer = true;
        }
        if !st.counted_outcome {
            if let Some(a) = st.answered_ms {
                delta.answered = 1;
                delta.answered_within_3s = u64::from(a - offered <= ANSWER_TARGET_MS);
                wait = Some((a - offered).max(0));
                mark_outcome = true;
            } else if let Some(a) = st.abandoned_ms {
                delta.abandoned = 1;
                delta.abandoned_within_3s = u64::from(a - offered <= ANSWER_TARGET_MS);
                delta.short_abandoned = u64::from(a - offered <= short && short > 0);
                mark_outcome = true;
            }
        }
        if delta == Counts::default() {
            return (Applied::Counted, None);
        }
        match self.bucket(offered) {
            Some(b) => b.add(&delta),
            None => {
                self.too_old += 1;
                return (Applied::TooOld, None);
            }
        }
        if let Some(st) = self.calls.get_mut(call_id) {
            st.counted_offer |= mark_offer;
            st.counted_outcome |= mark_outcome;
        }
        let applied = if late {
            Applied::LateCounted
        } else {
            Applied::Counted
        };
        (applied, wait)
    }

    fn evict_oldest(&mut self) {
        if let Some((_, k)) = self.order.pop_first() {
            self.calls.remove(&k);
            self.evicted += 1;
        }
    }

    /// Forgets calls untouched for 24 h before `now`.
    pub fn expire(&mut self, now: Instant) {
        let cutoff = now.timestamp_millis() - 24 * 3_600_000;
        while self.order.first().is_some_and(|(t, _)| *t < cutoff) {
            self.evict_oldest();
        }
    }

    /// Calls tracked now.
    pub fn tracked(&self) -> usize {
        self.calls.len()
    }

    /// The counts of a window ending at `now` (inclusive of `now`'s minute).
    pub fn window(&self, w: Window, now: Instant) -> Counts {
        let end = minute(now.timestamp_millis());
        let start = match w {
            Window::Min15 => end - 14,
            Window::Hour1 => end - 59,
            Window::Hour24 => end - (24 * 60 - 1),
            Window::Day => {
                let local_min = end + i64::from(LOCAL_OFFSET_SECS) / 60;
                end - local_min.rem_euclid(24 * 60)
            }
        };
        let mut c = Counts::default();
        for (m, counts) in &self.ring {
            if *m >= start && *m <= end {
                c.add(counts);
            }
        }
        c
    }
}

/// A crossing of the answer-rate target (Art. 26(1)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateCrossing {
    /// The rate fell under the target with enough calls offered.
    Low { rate: f64 },
    /// Back at or above the target.
    Recovered { rate: f64 },
}

/// One alert per crossing, not one per event: remembers whether the queue
/// is currently under its target.
#[derive(Debug, Clone, Copy)]
pub struct AnswerRateAlarm {
    /// Target answer rate (0.95).
    pub target: f64,
    /// Fewer offered calls than this in the window raise nothing.
    pub min_offered: u64,
    low: bool,
}

impl AnswerRateAlarm {
    pub fn new(target: f64, min_offered: u64) -> AnswerRateAlarm {
        AnswerRateAlarm {
            target,
            min_offered,
            low: false,
        }
    }

    /// Whether the queue is under target now.
    pub fn is_low(&self) -> bool {
        self.low
    }

    /// Restores the state last reported (after a restart), so the same
    /// crossing is not reported twice.
    pub fn restore(&mut self, low: bool) {
        self.low = low;
    }

    /// Looks at a window's counts; returns a crossing when the state changes.
    pub fn check(&mut self, c: &Counts) -> Option<RateCrossing> {
        let rate = c.answer_rate()?;
        if !self.low && c.offered >= self.min_offered && rate < self.target {
            self.low = true;
            return Some(RateCrossing::Low { rate });
        }
        if self.low && rate >= self.target {
            self.low = false;
            return Some(RateCrossing::Recovered { rate });
        }
        None
    }
}

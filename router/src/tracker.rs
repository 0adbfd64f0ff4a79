//! Work-order deadline tracking (Art. 13): every open case with its
//! deadlines, the lifecycle events that satisfy or move them, and the alerts
//! due at a given time. `DUE_SOON` fires once, `lead` (default 2 h) before
//! completion — when the extension window closes; `OVERDUE` fires once per
//! missed limit (dispatch, sign, completion, special-matter notify, first
//! feedback, progress), and at once for a return later than 30 min after
//! signing. Extensions follow Art. 13(3) via [`crate::deadlines::extend`].
//! An emergency sent as text and a possible emergency carry a 3-minute
//! relay clock, closed by `RELAYED` (or `DISMISSED`); a case left with
//! nothing to watch then closes.
//!
//! Scale: one ordered timer entry per open case (its next instant to look
//! at), so a tick costs O(log n) per alert, never a scan; the case table is
//! bounded by `max_cases` and reports what it evicts. Pure: time is a parameter.
use crate::calendar::Calendar;
use crate::deadlines::{extend, ExtensionRefused, ExtensionRequest, RETURN_LIMIT, SIGN_LIMIT};
use crate::model::{Deadlines, Instant, Kind};
use chrono::{DateTime, Duration};
use std::collections::{BTreeSet, HashMap};

/// The limits tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Limit {
    Dispatch,
    Sign,
    Return,
    Complete,
    Notify,
    FirstFeedback,
    Progress,
    Relay,
}

impl Limit {
    const TIMED: [Limit; 7] = [
        Limit::Dispatch,
        Limit::Sign,
        Limit::Complete,
        Limit::Notify,
        Limit::FirstFeedback,
        Limit::Progress,
        Limit::Relay,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Dispatch => "dispatch",
            Limit::Sign => "sign",
            Limit::Return => "return",
            Limit::Complete => "complete",
            Limit::Notify => "notify",
            Limit::FirstFeedback => "first_feedback",
            Limit::Progress => "progress",
            Limit::Relay => "relay",
        }
    }
    fn idx(self) -> usize {
        self as usize
    }
}

/// An alert the tracker raises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    DueSoon {
        case_id: String,
        due: Instant,
    },
    Overdue {
        case_id: String,
        limit: Limit,
        due: Instant,
    },
}

/// A lifecycle event of a work order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    Dispatched,
    Signed,
    Returned,
    ExtensionRequested {
        days: u32,
    },
    Feedback,
    Completed,
    Reopened,
    /// The center passed the emergency to its line.
    Relayed,
    /// An agent judged a possible emergency not to be one.
    Dismissed,
}

/// Outcome of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    UnknownCase,
    ExtensionGranted {
        complete_by: Instant,
    },
    ExtensionRefused(ExtensionRefused),
    /// A return later than 30 min after signing (counts as overdue).
    LateReturn(Fired),
}

/// Due instants (ms) per [`Limit`], `i64::MIN` for none: half the size of
/// `[Option<i64>; 8]`, which matters at a million open cases.
#[derive(Debug, Clone, Copy)]
struct Dues([i64; 8]);

impl Dues {
    const NONE: i64 = i64::MIN;
    fn get(&self, l: Limit) -> Option<i64> {
        Some(self.0[l.idx()]).filter(|v| *v != Self::NONE)
    }
    fn set(&mut self, l: Limit, v: Option<i64>) {
        self.0[l.idx()] = v.unwrap_or(Self::NONE);
    }
    fn any(&self) -> bool {
        self.0.iter().any(|v| *v != Self::NONE)
    }
}

#[derive(Debug, Clone)]
struct Case {
    id: Box<str>,
    /// The caller's pseudonym (`caller_ref`), carried onto the case's alerts.
    caller_ref: Box<str>,
    kind: Kind,
    /// Due instant per [`Limit`]; none once satisfied or not applicable.
    due: Dues,
    due_soon_fired: bool,
    /// Bit per [`Limit`] whose OVERDUE has fired.
    overdue_fired: u8,
    extended: bool,
    /// The instant under which this case sits in the timer index.
    armed: Option<i64>,
}

impl Case {
    /// DUE_SOON marks the close of the extension window (Art. 13(3)), which
    /// only complaints and reports have; once per window.
    fn wants_due_soon(&self) -> bool {
        !self.due_soon_fired && matches!(self.kind, Kind::Complaint | Kind::Report)
    }
}

/// Tracker settings.
#[derive(Debug, Clone, Copy)]
pub struct TrackerConfig {
    /// DUE_SOON this long before completion.
    pub due_soon_lead: Duration,
    pub max_cases: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            due_soon_lead: Duration::hours(2),
            max_cases: 2_000_000,
        }
    }
}

/// Every open case.
#[derive(Debug, Default)]
pub struct Tracker {
    cfg: Option<TrackerConfig>,
    /// Cases by the hash of their id (the id itself is kept in the case).
    /// Boxed: the table holds 16 bytes a slot, and it is never more than half full.
    cases: HashMap<u64, Box<Case>>,
    /// (next instant to look at, case key): one entry per case.
    timers: BTreeSet<(i64, u64)>,
    pub evicted: u64,
}

fn key(case_id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(case_id.as_bytes())
}

fn ms(t: Instant) -> i64 {
    t.timestamp_millis()
}

fn at(ms: i64) -> Instant {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Tracker {
        Tracker {
            cfg: Some(cfg),
            ..Default::default()
        }
    }

    fn cfg(&self) -> TrackerConfig {
        self.cfg.unwrap_or_default()
    }

    /// Open cases.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// The next instant this case needs looking at.
    fn next_instant(&self, c: &Case) -> Option<i64> {
        let lead = self.cfg().due_soon_lead.num_milliseconds();
        let mut next = Limit::TIMED
            .iter()
            .filter(|l| c.overdue_fired & (1 << l.idx()) == 0)
            .filter_map(|l| c.due.get(*l))
            .min();
        if c.wants_due_soon() {
            if let Some(d) = c.due.get(Limit::Complete) {
                next = Some(next.map_or(d - lead, |n| n.min(d - lead)));
            }
        }
        next
    }

    fn rearm(&mut self, k: u64) {
        let Some(c) = self.cases.get(&k) else {
            return;
        };
        let next = self.next_instant(c);
        let old = c.armed;
        if old == next {
            return;
        }
        if let Some(o) = old {
            self.timers.remove(&(o, k));
        }
        if let Some(n) = next {
            self.timers.insert((n, k));
        }
        if let Some(c) = self.cases.get_mut(&k) {
            c.armed = next;
        }
    }

    /// Starts tracking a decided work order with its deadlines and the
    /// caller's pseudonym (never the number itself). A case already tracked
    /// (a repeat that joins it with a relay clock of its own) keeps its
    /// deadlines and takes the ones this decision sets.
    pub fn open(&mut self, case_id: &str, kind: Kind, d: &Deadlines, caller_ref: &str) {
        let k = key(case_id);
        let mut due = Dues([Dues::NONE; 8]);
        due.set(Limit::Dispatch, d.dispatch_by.map(ms));
        due.set(Limit::Complete, d.complete_by.map(ms));
        due.set(Limit::Notify, d.notify_by.map(ms));
        due.set(Limit::FirstFeedback, d.first_feedback_by.map(ms));
        due.set(Limit::Progress, d.progress_by.map(ms));
        due.set(Limit::Relay, d.relay_by.map(ms));
        if let Some(c) = self.cases.get_mut(&k) {
            for l in Limit::TIMED {
                if let Some(t) = due.get(l) {
                    // A relay clock already running keeps its earlier due:
                    // a second contact does not push the first one's back.
                    let t = match (l, c.due.get(l)) {
                        (Limit::Relay, Some(old)) => old.min(t),
                        _ => t,
                    };
                    c.due.set(l, Some(t));
                    c.overdue_fired &= !(1 << l.idx());
                }
            }
            self.rearm(k);
            return;
        }
        if self.cases.len() >= self.cfg().max_cases {
            // Evict the case whose next instant is latest: the least urgent.
            if let Some((t, victim)) = self.timers.iter().next_back().copied() {
                self.timers.remove(&(t, victim));
                self.cases.remove(&victim);
                self.evicted += 1;
            }
        }
        let c = Case {
            id: case_id.into(),
            caller_ref: caller_ref.into(),
            kind,
            due,
            due_soon_fired: false,
            overdue_fired: 0,
            extended: false,
            armed: None,
        };
        self.cases.insert(k, Box::new(c));
        self.rearm(k);
    }

    /// Applies a lifecycle event at `t`.
    pub fn event(
        &mut self,
        cal: &Calendar,
        case_id: &str,
        ev: OrderEvent,
        t: Instant,
    ) -> EventOutcome {
        let k = key(case_id);
        let Some(c) = self.cases.get_mut(&k) else {
            return EventOutcome::UnknownCase;
        };
        let mut out = EventOutcome::Applied;
        match ev {
            OrderEvent::Dispatched => {
                c.due.set(Limit::Dispatch, None);
                c.due.set(Limit::Sign, Some(ms(t + SIGN_LIMIT)));
            }
            OrderEvent::Signed => {
                c.due.set(Limit::Sign, None);
                c.due.set(Limit::Return, Some(ms(t + RETURN_LIMIT)));
            }
            OrderEvent::Returned => {
                if let Some(r) = c.due.get(Limit::Return) {
                    if ms(t) > r {
                        out = EventOutcome::LateReturn(Fired::Overdue {
                            case_id: case_id.to_string(),
                            limit: Limit::Return,
                            due: at(r),
                        });
                    }
                }
                // Back to the 12345 center: this unit's limits end here.
                self.close(k);
                return out;
            }
            OrderEvent::ExtensionRequested { days } => {
                let Some(due) = c.due.get(Limit::Complete) else {
                    return EventOutcome::ExtensionRefused(ExtensionRefused::KindNotExtendable(
                        c.kind,
                    ));
                };
                let req = ExtensionRequest {
                    kind: c.kind,
                    complete_by: at(due),
                    requested_at: t,
                    days,
                    already_extended: c.extended,
                };
                match extend(cal, &req) {
                    Ok((new_due, _)) => {
                        c.due.set(Limit::Complete, Some(ms(new_due)));
                        c.extended = true;
                        c.due_soon_fired = false;
                        c.overdue_fired &= !(1 << Limit::Complete.idx());
                        out = EventOutcome::ExtensionGranted {
                            complete_by: new_due,
                        };
                    }
                    Err(e) => out = EventOutcome::ExtensionRefused(e),
                }
            }
            OrderEvent::Feedback => {
                c.due.set(Limit::Notify, None);
                c.due.set(Limit::FirstFeedback, None);
                c.due.set(Limit::Progress, None);
            }
            OrderEvent::Completed => {
                self.close(k);
                return out;
            }
            OrderEvent::Reopened => {}
            OrderEvent::Relayed | OrderEvent::Dismissed => {
                c.due.set(Limit::Relay, None);
                // An emergency transfer has nothing else to watch.
                if !c.due.any() {
                    self.close(k);
                    return out;
                }
            }
        }
        self.rearm(k);
        out
    }

    fn close(&mut self, k: u64) {
        if let Some(c) = self.cases.remove(&k) {
            if let Some(a) = c.armed {
                self.timers.remove(&(a, k));
            }
        }
    }

    /// The caller pseudonym of a tracked case.
    pub fn caller_ref(&self, case_id: &str) -> Option<&str> {
        self.cases.get(&key(case_id)).map(|c| &*c.caller_ref)
    }

    /// Every alert due at or before `now`, each fired once.
    pub fn tick(&mut self, now: Instant) -> Vec<Fired> {
        let now_ms = ms(now);
        let lead = self.cfg().due_soon_lead.num_milliseconds();
        let mut fired = Vec::new();
        while let Some((t, k)) = self.timers.first().copied() {
            if t > now_ms {
                break;
            }
            self.timers.remove(&(t, k));
            let Some(c) = self.cases.get_mut(&k) else {
                continue;
            };
            let id = c.id.to_string();
            c.armed = None;
            if c.wants_due_soon() {
                if let Some(d) = c.due.get(Limit::Complete) {
                    if d - lead <= now_ms && d > now_ms {
                        c.due_soon_fired = true;
                        fired.push(Fired::DueSoon {
                            case_id: id.clone(),
                            due: at(d),
                        });
                    } else if d <= now_ms {
                        // Overdue already: no point warning that it is due soon.
                        c.due_soon_fired = true;
                    }
                }
            }
            for l in Limit::TIMED {
                if let Some(d) = c.due.get(l) {
                    if d <= now_ms && c.overdue_fired & (1 << l.idx()) == 0 {
                        c.overdue_fired |= 1 << l.idx();
                        fired.push(Fired::Overdue {
                            case_id: id.clone(),
                            limit: l,
                            due: at(d),
                        });
                    }
                }
            }
            self.rearm(k);
        }
        fired
    }
}
